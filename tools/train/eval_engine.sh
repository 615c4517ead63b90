#!/usr/bin/env bash
# The embedded model's evaluation through the C engine (`lorweb eval`) on the held-out test set:
# per family, mean PSNR / SSIM of b′ against the true T(b) for the LoRWeB nano, the single-LoRA nano
# (same parameter count), the frozen base (strength 0) and the two trivial baselines (copy b;
# b + a′ − a). Prints a Markdown table (the README's) and writes the engine's b′ images under OUT
# for the picture grid (tools/train/eval_picture.sh).
#   tools/train/eval_engine.sh [MODEL_DIR] [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-models/default} out=${2:-build/eval}
lorweb=build/cli/lorweb set=tests/data/evalset
[ -x "$lorweb" ] || { echo "eval_engine: build first (ninja -C build)" >&2; exit 1; }
variants=("copy-b:--baseline copy" "b + (a′ − a):--baseline difference" "LoRWeB nano:"
          "single LoRA nano:--lorweb $model/single_lora" "frozen base:--strength 0")
mkdir -p "$out"
for i in "${!variants[@]}"; do
    v=${variants[$i]} name=${v%%:*} args=${v#*:}
    # a variant already evaluated into OUT (its name file is written last) is kept: reruns resume
    [ "$(cat "$out/$i.name" 2>/dev/null)" = "$name" ] && continue
    mkdir -p "$out/$i"
    # shellcheck disable=SC2086
    "$lorweb" eval "$set" --model "$model" $args --save "$out/$i" >"$out/$i.txt" 2>"$out/$i.err" ||
        { echo "eval_engine: $name failed:" >&2; cat "$out/$i.err" "$out/$i.txt" >&2; exit 1; }
    echo "$name" >"$out/$i.name"
done
# family split from the test set's README; rows "triplet clip-dir preserve PSNR SSIM" per variant
awk -v n=${#variants[@]} -v out="$out" '
    FNR == 1 { file++ }
    file == 1 && /^\| [a-z]/ { split($0, c, "|"); f = c[2]; gsub(/ /, "", f); s = c[3]; gsub(/^ +| +$/, "", s)
                               if (f != "family") { order[++nf] = f; split_of[f] = (s ~ /out/ ? "held out" : "held in") } next }
    file > 1 && $1 ~ /__/ && NF == 5 { v = file - 2; f = $1; sub(/__.*/, "", f)
                                       ps[v, f] += $4; ss[v, f] += $5; cnt[v, f]++
                                       g = split_of[f]; gps[v, g] += $4; gss[v, g] += $5; gcnt[v, g]++ }
    END {
        printf "| family | split |"; for (v = 0; v < n; v++) { getline name < (out "/" v ".name"); printf " %s |", name }
        printf "\n|---|---|"; for (v = 0; v < n; v++) printf "---|"; printf "\n"
        for (i = 1; i <= nf; i++) { f = order[i]; printf "| %s | %s |", f, split_of[f]
            for (v = 0; v < n; v++) printf " %.2f / %.3f |", ps[v, f] / cnt[v, f], ss[v, f] / cnt[v, f]; printf "\n" }
        split("held in,held out", gs, ",")
        for (k = 1; k <= 2; k++) { g = gs[k]; printf "| **mean, %s** | |", g
            for (v = 0; v < n; v++) printf " **%.2f / %.3f** |", gps[v, g] / gcnt[v, g], gss[v, g] / gcnt[v, g]; printf "\n" }
    }' "$set/README.md" $(for i in "${!variants[@]}"; do echo "$out/$i.txt"; done)
