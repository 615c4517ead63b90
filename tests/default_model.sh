#!/usr/bin/env bash
# The embedded default model (models/default/) through the engine, against what the training
# recipe's PyTorch code computed from the same exported files (tests/data/default_parity.safetensors,
# written by tools/train/evaluate.py) for the same saved noise: LoRWeB mixing weights, the sampled
# latent with and without the basis, the decoded grid (b′ is its bottom-right quadrant), then one whole
# `lorweb run` on the sample images. Skips (77) when the model is absent.
#   default_model.sh LORWEB ST_COMPARE SOURCE_ROOT
set -u
lorweb=$1 cmp=$2 root=$3
M=${LORWEB_DEFAULT_MODEL:-$root/models/default}
P=${LORWEB_DEFAULT_PARITY:-$root/tests/data/default_parity.safetensors}
[ -f "$M/flux.safetensors" ] && [ -f "$P" ] || { echo "SKIP: no embedded model at $M"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
lw=(--lorweb "$M/lorweb.safetensors" --lorweb-config "$M/config.yaml")

"$lorweb" component lorweb-coeffs "${lw[@]}" --input "$P" --output "$T/coeffs.st" 2>"$T/err" || { cat "$T/err"; fail coeffs; }
modules=$(grep -ao 'transformer\.[a-z_.0-9]*\.coeffs' "$P" | sort -u)
[ -n "$modules" ] || fail "no coefficient tensors in $P"
for name in $modules; do "$cmp" "$T/coeffs.st" "$name" "$P" "$name" 1e-4 >/dev/null || fail "$name"; done
echo "mixing weights: $(echo "$modules" | wc -l) modules within 1e-4"

"$lorweb" component sample --weights "$M/flux.safetensors" --input "$P" --output "$T/base.st" 2>"$T/err" &&
    "$cmp" "$T/base.st" latent "$P" latent_base 3e-3 || { cat "$T/err"; fail "latent without LoRWeB"; }
"$lorweb" component sample --weights "$M/flux.safetensors" "${lw[@]}" --decode "$M/ae.safetensors" --input "$P" \
    --output "$T/lorweb.st" 2>"$T/err" &&
    "$cmp" "$T/lorweb.st" latent "$P" latent 3e-3 || { cat "$T/err"; fail "latent with LoRWeB"; }
# b′ parity (issue 9): the decoded grid, whose bottom-right quadrant is b′, within 2e-2 relative L2
"$cmp" "$T/lorweb.st" decoded "$P" decoded 2e-2 || fail "decoded grid with LoRWeB"
# The basis must matter: the two PyTorch latents differ by more than the tolerance.
"$cmp" "$T/lorweb.st" latent "$P" latent_base 3e-3 >/dev/null 2>&1 && fail "LoRWeB latent equals the base latent"

"$lorweb" run --model "$M" --a "$root/data/sample/a.png" --a-prime "$root/data/sample/a_prime.png" \
    --b "$root/data/sample/b.png" --out "$T/b_prime.png" >"$T/run.log" 2>&1 || { cat "$T/run.log"; fail "lorweb run"; }
[ -s "$T/b_prime.png" ] || fail "lorweb run wrote no image"
echo "$failed failed"
[ $failed -eq 0 ]
