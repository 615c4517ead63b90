#!/usr/bin/env bash
# The command-line tool end to end on the fixtures' tiny model and the committed sample images:
# run, coeffs, eval, tokenize, and clear errors on bad input (broken images, a missing model, no
# Vulkan driver). Skips (77) without ../shared/fixtures.
#   cli.sh LORWEB MAKE_TINY_MODEL SOURCE_ROOT
set -u
lorweb=$1 make_model=$2 root=$3
F=${LORWEB_FIXTURES:-$root/../shared/fixtures}
[ -d "$F" ] || { echo "SKIP: no fixtures at $F"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$make_model" "$F" "$T/model" || exit 1
S=$root/data/sample
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

"$lorweb" run --a "$S/a.png" --a-prime "$S/a_prime.png" --b "$S/b.png" --out "$T/out.png" --model "$T/model" \
    --steps 2 --size 64 --seed 3 >"$T/run.log" 2>&1 || { cat "$T/run.log"; fail "lorweb run"; }
[ -s "$T/out.png" ] || fail "run wrote no PNG"
grep -q "b′ written to" "$T/run.log" || fail "run does not say where b′ is"
grep -q "mixing weights" "$T/run.log" || fail "run prints no mixing-weight summary"
"$lorweb" run --a "$S/a.png" --a-prime "$S/a_prime.png" --b "$S/b.png" --out "$T/low.png" --model "$T/model" \
    --steps 2 --size 64 --seed 3 --low-memory >"$T/low.log" 2>&1 || { cat "$T/low.log"; fail "lorweb run --low-memory"; }
cmp -s "$T/out.png" "$T/low.png" || fail "--low-memory changed b′"
grep -q "low memory: CLIP and the autoencoder are loaded per stage" "$T/low.log" || fail "--low-memory not reported"

"$lorweb" coeffs --a "$S/a.png" --a-prime "$S/a_prime.png" --b "$S/b.png" --model "$T/model" >"$T/coeffs.log" 2>&1 ||
    { cat "$T/coeffs.log"; fail "lorweb coeffs"; }
sum=$(awk 'NR > 1 { s += $2 } END { printf "%.3f", s }' "$T/coeffs.log")
[ "$(grep -c '^ *[0-9]' "$T/coeffs.log")" -eq 4 ] || fail "coeffs lists 4 basis elements"
[ "$sum" = "1.000" ] || fail "mean softmax weights sum to $sum, not 1"

mkdir -p "$T/eval/one" "$T/eval/two"
cp "$S/a.png" "$S/a_prime.png" "$S/b.png" "$T/eval/one/"
cp "$S/b.png" "$T/eval/one/b_prime.png"
cp "$S/b.png" "$T/eval/two/a.png"; cp "$S/a_prime.png" "$T/eval/two/a_prime.png"; cp "$S/a.png" "$T/eval/two/b.png"
"$lorweb" eval "$T/eval" --model "$T/model" --steps 2 --size 64 >"$T/eval.log" 2>&1 || { cat "$T/eval.log"; fail "lorweb eval"; }
grep -q "2 triplets, 0 failed" "$T/eval.log" || fail "eval counts 2 triplets"
grep -qE '^one +-?[0-9.]+ +-?[0-9.]+ +[0-9.]+ +-?[0-9.]+' "$T/eval.log" || fail "eval reports PSNR and SSIM with ground truth"
grep -qE '^mean ' "$T/eval.log" || fail "eval prints the mean"

ids=$("$lorweb" tokenize clip --vocab "$F/tokenizer_data/clip" "A PHOTO of  a Cat!")
[ "$ids" = "49406 320 1125 539 320 2368 256 49407" ] || fail "tokenize clip: $ids"

if command -v convert >/dev/null; then
    convert "$S/b.png" -quality 85 "$T/b.jpg"
    "$lorweb" run --a "$S/a.png" --a-prime "$S/a_prime.png" --b "$T/b.jpg" --out "$T/jpeg.png" --model "$T/model" \
        --steps 1 --size 64 >/dev/null 2>&1 && [ -s "$T/jpeg.png" ] || fail "a JPEG b was not read"
    head -c 300 "$T/b.jpg" >"$T/cut.jpg"
    "$lorweb" run --a "$S/a.png" --a-prime "$S/a_prime.png" --b "$T/cut.jpg" --out "$T/cut.png" --model "$T/model" \
        2>"$T/cut.log" && fail "a cut JPEG was accepted"
    grep -q "cut.jpg" "$T/cut.log" || fail "the error does not name the cut JPEG"
fi
printf 'not a png' >"$T/bad.png"
if "$lorweb" run --a "$T/bad.png" --a-prime "$S/a_prime.png" --b "$S/b.png" --out "$T/x.png" --model "$T/model" 2>"$T/bad.log"; then
    fail "a broken PNG was accepted"
fi
grep -q "bad.png" "$T/bad.log" || fail "the error does not name the broken file: $(cat "$T/bad.log")"
[ ! -e "$T/x.png" ] || fail "a failed run wrote an output"
if "$lorweb" run --a "$S/a.png" --a-prime "$S/a_prime.png" --b "$S/b.png" --out "$T/x.png" --model "$T/nothing" 2>"$T/nomodel.log"; then
    fail "a missing model was accepted"
fi
grep -q "$T/nothing" "$T/nomodel.log" || fail "the error does not name the missing model folder"
# No Vulkan driver at all (the loader finds no ICD): a clear message, no output, no crash.
VK_ICD_FILENAMES=$T/no-driver.json "$lorweb" run --a "$S/a.png" --a-prime "$S/a_prime.png" --b "$S/b.png" \
    --out "$T/nodriver.png" --model "$T/model" 2>"$T/nodriver.log"
rc=$?
[ "$rc" -eq 1 ] || fail "without a Vulkan driver, lorweb run exits $rc, not 1"
grep -q "no Vulkan driver.*is a Vulkan driver installed" "$T/nodriver.log" ||
    fail "without a Vulkan driver, no clear message: $(cat "$T/nodriver.log")"
[ ! -e "$T/nodriver.png" ] || fail "a run without a Vulkan driver wrote an output"
echo "cli: $failed failed"
[ "$failed" -eq 0 ]
