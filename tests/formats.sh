#!/usr/bin/env bash
# The FLUX fixture transformer rewritten in the other layouts users have (ComfyUI prefix, diffusers
# folder with split q/k/v and an index, GGUF) must give the same `lorweb component flux` output as the
# BFL original, within component-io.md's tolerance (a Q8_0 GGUF within its quantisation error); the
# T5 fixture as GGUF with llama.cpp's names (F32 and Q8_0) must give the fixture's `t5` output.
# Skips (77) without the shared fixtures.
#   formats.sh LORWEB ST_CONVERT ST_COMPARE SOURCE_ROOT
set -u
lorweb=$1 convert=$2 cmp=$3 root=$4
F=${LORWEB_FIXTURES:-$root/../shared/fixtures}
[ -d "$F" ] || { echo "SKIP: no fixtures at $F"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0
for fmt in comfy:flux.comfy.safetensors diffusers:transformer gguf:flux-bf16.gguf gguf-q8:flux-q8_0.gguf; do
    kind=${fmt%%:*} out=$T/${fmt#*:}
    if ! "$convert" "$kind" "$F/flux_weights.safetensors" "$out"; then
        echo "FAIL: converting to $kind"; failed=$((failed + 1)); continue
    fi
    for lw in plain lorweb; do
        extra=() want=flux_out
        [ $lw = lorweb ] && extra=(--lorweb "$F/lorweb_weights.safetensors" --lorweb-config "$F/lorweb_config.yaml"
            --input "$F/lorweb_in.safetensors") want=flux_lorweb_out
        if "$lorweb" component flux --weights "$out" "${extra[@]}" --input "$F/flux_in.safetensors" \
            --output "$T/$kind-$lw.st" 2>"$T/err"; then
            # Q8_0 weights: the quantisation error of an 8-bit random model, not the engine's
            limit=3e-3
            [ "$kind" = gguf-q8 ] && limit=2e-2
            echo -n "$kind ($lw): "
            "$cmp" "$T/$kind-$lw.st" out "$F/$want.safetensors" out $limit || { echo "FAIL: $kind $lw"; failed=$((failed + 1)); }
        else
            echo "FAIL: $kind ($lw):"; cat "$T/err"; failed=$((failed + 1))
        fi
    done
done
for kind in gguf-t5 gguf-t5-q8; do
    out=$T/t5-$kind.gguf
    if ! "$convert" "$kind" "$F/t5_weights.safetensors" "$out"; then
        echo "FAIL: converting T5 to $kind"; failed=$((failed + 1)); continue
    fi
    if "$lorweb" component t5 --weights "$out" --input "$F/t5_in.safetensors" --output "$T/$kind.st" 2>"$T/err"; then
        limit=3e-3
        [ "$kind" = gguf-t5-q8 ] && limit=2e-2
        echo -n "$kind: "
        "$cmp" "$T/$kind.st" last_hidden_state "$F/t5_out.safetensors" last_hidden_state $limit ||
            { echo "FAIL: $kind"; failed=$((failed + 1)); }
    else
        echo "FAIL: $kind:"; cat "$T/err"; failed=$((failed + 1))
    fi
done
echo "$failed failed"
[ $failed -eq 0 ]
