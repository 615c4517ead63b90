#!/usr/bin/env bash
# Runs every shared fixture (upstream reference outputs on tiny random models) through the
# `lorweb component` command line and checks component-io.md's tolerances. Skips (77) with a message
# when ../shared/fixtures is absent.
#   conformance.sh LORWEB ST_COMPARE SOURCE_ROOT
set -u
lorweb=$1 cmp=$2 root=$3
F=${LORWEB_FIXTURES:-$root/../shared/fixtures}
[ -d "$F" ] || { echo "SKIP: no fixtures at $F"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0 ran=0
check() { # got name want name limit [abs]
    ran=$((ran + 1))
    "$cmp" "$@" || { echo "FAIL: $2"; failed=$((failed + 1)); }
}
run() { # name args...
    local name=$1
    shift
    if ! "$lorweb" component "$@" 2>"$T/$name.err"; then
        echo "FAIL: lorweb component $* :"; cat "$T/$name.err"; failed=$((failed + 1)); return 1
    fi
}
for pair in "28 4096" "28 1024" "20 672" "4 24"; do
    set -- $pair
    run sched schedule --steps "$1" --image-seq-len "$2" --output "$T/sched_$1_$2.st" &&
        check "$T/sched_$1_$2.st" sigmas "$F/sched.safetensors" "sched_$1_$2" 1e-6 abs
done
run flux flux --weights "$F/flux_weights.safetensors" --input "$F/flux_in.safetensors" --output "$T/flux.st" &&
    check "$T/flux.st" out "$F/flux_out.safetensors" out 3e-3
run flux_lorweb flux --weights "$F/flux_weights.safetensors" --lorweb "$F/lorweb_weights.safetensors" \
    --lorweb-config "$F/lorweb_config.yaml" --input "$F/flux_in.safetensors" --input "$F/lorweb_in.safetensors" \
    --output "$T/flux_lorweb.st" && check "$T/flux_lorweb.st" out "$F/flux_lorweb_out.safetensors" out 3e-3
run coeffs lorweb-coeffs --lorweb "$F/lorweb_weights.safetensors" --lorweb-config "$F/lorweb_config.yaml" \
    --input "$F/lorweb_in.safetensors" --output "$T/coeffs.st" &&
    for name in $(grep -ao 'transformer\.[a-z_.0-9]*\.coeffs' "$F/lorweb_coeffs.safetensors" | sort -u); do
        check "$T/coeffs.st" "$name" "$F/lorweb_coeffs.safetensors" "$name" 1e-3
    done
run sample_base sample --weights "$F/flux_weights.safetensors" --input "$F/sample_in.safetensors" \
    --output "$T/sample_base.st" && check "$T/sample_base.st" latent "$F/sample_out.safetensors" latent_base 3e-3
run sample sample --weights "$F/flux_weights.safetensors" --lorweb "$F/lorweb_weights.safetensors" \
    --lorweb-config "$F/lorweb_config.yaml" --input "$F/sample_in.safetensors" --output "$T/sample.st" &&
    check "$T/sample.st" latent "$F/sample_out.safetensors" latent 3e-3
run ae_enc ae-encode --weights "$F/ae_weights.safetensors" --input "$F/ae_in.safetensors" --output "$T/ae_enc.st" &&
    check "$T/ae_enc.st" encoded "$F/ae_out.safetensors" encoded 5e-3
run ae_dec ae-decode --weights "$F/ae_weights.safetensors" --input "$F/ae_in.safetensors" --output "$T/ae_dec.st" &&
    check "$T/ae_dec.st" decoded "$F/ae_out.safetensors" decoded 5e-3
run clipv clip-vision --weights "$F/clip_vision_weights.safetensors" --input "$F/clip_vision_in.safetensors" \
    --output "$T/clipv.st" && check "$T/clipv.st" image_embeds "$F/clip_vision_out.safetensors" image_embeds 3e-3 &&
    check "$T/clipv.st" last_hidden_state "$F/clip_vision_out.safetensors" last_hidden_state 3e-3
run clipt clip-text --weights "$F/clip_text_weights.safetensors" --input "$F/clip_text_in.safetensors" \
    --output "$T/clipt.st" && check "$T/clipt.st" pooled "$F/clip_text_out.safetensors" pooled 3e-3 &&
    check "$T/clipt.st" last_hidden_state "$F/clip_text_out.safetensors" last_hidden_state 3e-3
run t5 t5 --weights "$F/t5_weights.safetensors" --input "$F/t5_in.safetensors" --output "$T/t5.st" &&
    check "$T/t5.st" last_hidden_state "$F/t5_out.safetensors" last_hidden_state 3e-3
# Bad input: a clear one-line error and a non-zero status, never a crash.
if "$lorweb" component flux --weights "$F/t5_weights.safetensors" --input "$F/flux_in.safetensors" \
    --output "$T/bad.st" 2>"$T/bad.err"; then
    echo "FAIL: a T5 file accepted as a FLUX transformer"; failed=$((failed + 1))
elif ! grep -q "t5_weights.safetensors" "$T/bad.err"; then
    echo "FAIL: the error does not name the file:"; cat "$T/bad.err"; failed=$((failed + 1))
fi
ran=$((ran + 1))
echo "conformance: $ran checks, $failed failed"
[ "$failed" -eq 0 ]
