#!/usr/bin/env bash
# The README's picture: for a few test triplets, a | a′ | b | b′ by the engine (LoRWeB nano, the
# single LoRA, the frozen base) | the true T(b), one row each, from tools/train/eval_engine.sh's output.
#   tools/train/eval_picture.sh [EVAL_OUT] [PICTURE]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build/eval} pic=${2:-tools/train/eval_engine.png} set=tests/data/evalset
rows=()
for t in hue__0 invert+hflip__0 rot90__0 posterise__0 tint+rot180__0 sepia__0 vflip__0 invert+rot90__0; do
    [ -d "$set/$t" ] || continue
    row=$out/row_$t.png
    convert "$set/$t/a.png" "$set/$t/a_prime.png" "$set/$t/b.png" "$out/2/$t.png" "$out/3/$t.png" "$out/4/$t.png" \
        "$set/$t/b_prime.png" -bordercolor white -border 1 +append "$row"
    rows+=("$row")
done
convert "${rows[@]}" -append "$pic"
echo "picture (a, a′, b, LoRWeB nano, single LoRA, frozen base, truth per row): $pic"
