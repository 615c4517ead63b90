#!/usr/bin/env bash
# The device-free component rows of `lorweb component` (component-io.md) on the shared fixtures, in
# the CPU suite: `schedule` for every sched_<steps>_<tokens> tensor (1e-6 absolute) and
# `lorweb-coeffs` for every module (1e-3 relative L2), plus one-line errors with a non-zero status
# for bad arguments and inputs. Skips (77) when ../shared/fixtures is absent.
#   component_cpu.sh LORWEB ST_COMPARE SOURCE_ROOT
set -u
lorweb=$1 cmp=$2 root=$3
F=${LORWEB_FIXTURES:-$root/../shared/fixtures}
[ -d "$F" ] || { echo "SKIP: no fixtures at $F"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0 ran=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { ran=$((ran + 1)); "$cmp" "$@" || fail "$2"; }

pairs=$(grep -ao 'sched_[0-9]*_[0-9]*' "$F/sched.safetensors" | sort -u)
[ -n "$pairs" ] || fail "no sched_* tensors in $F/sched.safetensors"
for name in $pairs; do
    steps=$(echo "$name" | cut -d_ -f2) tokens=$(echo "$name" | cut -d_ -f3)
    if "$lorweb" component schedule --steps "$steps" --image-seq-len "$tokens" --output "$T/$name.st" 2>"$T/err"; then
        check "$T/$name.st" sigmas "$F/sched.safetensors" "$name" 1e-6 abs
    else
        fail "schedule $steps $tokens: $(cat "$T/err")"
    fi
done

L="--lorweb $F/lorweb_weights.safetensors --lorweb-config $F/lorweb_config.yaml"
if "$lorweb" component lorweb-coeffs $L --input "$F/lorweb_in.safetensors" --output "$T/coeffs.st" 2>"$T/err"; then
    modules=$(grep -ao 'transformer\.[a-z_.0-9]*\.coeffs' "$F/lorweb_coeffs.safetensors" | sort -u)
    [ "$(echo "$modules" | wc -l)" -ge 1 ] || fail "no coeffs in the fixture"
    for name in $modules; do check "$T/coeffs.st" "$name" "$F/lorweb_coeffs.safetensors" "$name" 1e-3; done
else
    fail "lorweb-coeffs: $(cat "$T/err")"
fi

# Bad input: non-zero status and exactly one line on stderr that names the culprit.
bad() { # needle args...
    local needle=$1
    shift
    ran=$((ran + 1))
    if "$lorweb" component "$@" 2>"$T/err"; then
        fail "accepted: $*"
    elif [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -q -- "$needle" "$T/err"; then
        fail "the error for '$*' is not one line naming '$needle':"; cat "$T/err"
    fi
}
bad "steps" schedule --steps 0 --image-seq-len 4096 --output "$T/x.st"
bad "steps" schedule --image-seq-len 4096 --output "$T/x.st"
bad "lorweb-config" lorweb-coeffs --lorweb "$F/lorweb_weights.safetensors" --input "$F/lorweb_in.safetensors" --output "$T/x.st"
bad "query" lorweb-coeffs $L --input "$F/sched.safetensors" --output "$T/x.st"
# A query of 3 values: safetensors = 8-byte little-endian header length, JSON header, data.
h='{"query":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]}}'
{ printf "\\x$(printf %02x ${#h})\\x00\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$h"; head -c 12 /dev/zero; } >"$T/q3.st"
bad "att_lora_to_q" lorweb-coeffs $L --input "$T/q3.st" --output "$T/x.st"
bad "missing.safetensors" lorweb-coeffs $L --input "$T/missing.safetensors" --output "$T/x.st"
bad "no-such-component" no-such-component --output "$T/x.st"
echo "component (cpu): $ran checks, $failed failed"
[ "$failed" -eq 0 ]
