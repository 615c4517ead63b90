#!/usr/bin/env bash
# The main job, end to end on a fresh Debian 12 machine: install what is missing, build, then run an
# analogy (a : a′ :: b : b′) on the committed sample images with the embedded default model, through
# GIMP 2.10 in batch mode with a private profile, and write b′ to a PNG.
#
#   tools/demo.sh [OUT.png]      (default: build/demo/b_prime.png)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-$root/build/demo/b_prime.png}

tools/install-deps.sh
[ -d build ] || meson setup build
ninja -C build

echo "== device"
build/cli/lorweb device

if [ -f models/default/flux.safetensors ]; then
    mkdir -p "$(dirname "$out")"
    tools/gimp-run.sh data/sample/a.png data/sample/a_prime.png data/sample/b.png "$out"
    grid=${out%.png}_grid.png
    # a | a′ over b | b′, for a look at the analogy in one picture
    convert \( data/sample/a.png data/sample/a_prime.png +append \) \
            \( data/sample/b.png "$out" -resize 128x128\! +append \) -append "$grid"
    echo "b′ written to $out; the grid a | a′ / b | b′ to $grid"
else
    echo "demo: no embedded default model in models/default/ (see tools/train/README.md): ran the build"
    echo "      and the device check only. With any model folder:"
    echo "      tools/gimp-run.sh data/sample/a.png data/sample/a_prime.png data/sample/b.png OUT.png MODEL_DIR"
    exit 1
fi
