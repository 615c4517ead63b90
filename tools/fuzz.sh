#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz and runs each for SECONDS
# (default 10) on a seed corpus made from the shared fixtures and small files written here.
# Prints one line per target; exits non-zero if any target found a crash.
#   tools/fuzz.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
if ! grep -qs "clang++" build-fuzz/meson-info/intro-targets.json; then
    rm -rf build-fuzz
    CC=clang CXX=clang++ meson setup build-fuzz -Dfuzzers=true -Dplugin=disabled -Db_lundef=false \
        >/dev/null || { echo "fuzz build: FAILED (meson setup)"; exit 1; }
fi
targets="safetensors:safetensors lorweb_config:yaml image:image tokenizer_clip:tok_clip tokenizer_t5:tok_t5
    gguf:gguf models_conf:conf"
ninja -C build-fuzz $(for t in $targets; do printf 'tests/fuzz/fuzz_%s ' "${t%%:*}"; done) \
    >build-fuzz-ninja.log 2>&1 || { echo "fuzz build: FAILED"; tail -20 build-fuzz-ninja.log; exit 1; }
corpus=build-fuzz/corpus
for t in $targets; do mkdir -p "$corpus/${t##*:}"; done
fixtures=../shared/fixtures
if [ -d "$fixtures" ]; then
    for f in flux_in lorweb_in sched t5_in clip_text_in; do cp -f "$fixtures/$f.safetensors" "$corpus/safetensors/" 2>/dev/null; done
    cp -f "$fixtures/lorweb_config.yaml" "$corpus/yaml/"
fi
printf 'config:\n  process:\n    - network:\n        linear: 4\n        network_kwargs:\n          lora_heads: 2\n          lora_softmax: false\n' >"$corpus/yaml/small.yaml"
printf '[models]\nflux = ~/m/flux1-kontext-dev.safetensors\n[search]\ncomfyui = /c/models\n' >"$corpus/conf/models.conf"
printf 'transformer.single_transformer_blocks.37.proj_mlp.lora_A' >"$corpus/conf/key"
[ -f data/sample/a.png ] && cp -f data/sample/*.png "$corpus/image/"
printf '\x89PNG\r\n\x1a\n' >"$corpus/image/magic.png"
printf '\xff\xd8\xff\xe0' >"$corpus/image/magic.jpg"
[ -f data/sample/b.png ] && command -v convert >/dev/null && convert data/sample/b.png -quality 80 "$corpus/image/b.jpg"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1
failed=0
for t in $targets; do
    name=${t%%:*} dir=${t##*:}
    log=build-fuzz/fuzz_$name.log
    # targets whose seeds are made by our own writers (tokenizers, GGUF) write them there
    if LORWEB_FUZZ_SEEDS="$corpus/$dir" build-fuzz/tests/fuzz/fuzz_$name -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix=build-fuzz/crash- "$corpus/$dir" >"$log" 2>&1; then
        echo "fuzz_$name: $(grep -o 'Done [0-9]* runs' "$log" | tail -1) in ${seconds}s, no crash"
    else
        echo "fuzz_$name: FAILED, see $log"; tail -20 "$log"; failed=$((failed + 1))
    fi
done
exit $failed
