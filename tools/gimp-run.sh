#!/usr/bin/env bash
# Runs one analogy through GIMP 2.10 in batch mode: installs the built plug-in into a private GIMP
# profile (nothing in ~/.config is touched), loads a, a′ and b as layers of one image, calls
# plug-in-lorweb, and saves the b′ layer as a PNG.
#   tools/gimp-run.sh A.png A_PRIME.png B.png OUT.png [MODEL_DIR] [STEPS] [SIZE]
# STEPS −1 (the default) and SIZE 0 mean the model's own defaults. The plug-in's log lines (timings,
# resident engine) are printed; the resident engine process ends with GIMP.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { echo "usage: tools/gimp-run.sh A.png A_PRIME.png B.png OUT.png [MODEL_DIR] [STEPS] [SIZE]" >&2; exit 2; }
a=$(realpath "$1") ap=$(realpath "$2") b=$(realpath "$3") out=$(realpath -m "$4")
model=$(realpath -m "${5:-models/default}") steps=${6:--1} size=${7:-0}
plugin=$PWD/build/plugin/lorweb-gimp/lorweb-gimp
[ -x "$plugin" ] || { echo "gimp-run: build the plug-in first (ninja -C build)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export GIMP2_DIRECTORY=$T/gimp XDG_CACHE_HOME=${XDG_CACHE_HOME:-$HOME/.cache} XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
mkdir -p "$T/plug-ins/lorweb-gimp"
ln -s "$plugin" "$T/plug-ins/lorweb-gimp/lorweb-gimp"
printf '(plug-in-path "${gimp_plug_in_dir}/plug-ins:%s")\n' "$T/plug-ins" >"$T/gimprc"
script="(let* ((img (car (file-png-load RUN-NONINTERACTIVE \"$b\" \"$b\")))
               (lb (car (gimp-image-get-active-layer img)))
               (la (car (gimp-file-load-layer RUN-NONINTERACTIVE img \"$a\")))
               (lap (car (gimp-file-load-layer RUN-NONINTERACTIVE img \"$ap\"))))
          (gimp-item-set-name lb \"b\")
          (gimp-image-insert-layer img la 0 -1)
          (gimp-image-insert-layer img lap 0 -1)
          (let ((out (car (plug-in-lorweb RUN-NONINTERACTIVE img lb la lap \"\" $steps 2.5 1.0 0 0.0 $size \"$model\"))))
            (file-png-save RUN-NONINTERACTIVE img out \"$out\" \"$out\" 0 9 0 0 0 0 0)
            (gimp-image-delete img)))"
timeout 900 gimp-console-2.10 -i -d -f --gimprc="$T/gimprc" -b "$script" -b '(gimp-quit 0)' </dev/null >"$T/log" 2>&1 || true
if grep -q "execution error" "$T/log" || [ ! -s "$out" ]; then
    cat "$T/log" >&2
    echo "gimp-run: the analogy failed" >&2
    exit 1
fi
grep "^lorweb" "$T/log" >&2 || true
echo "b′ written to $out"
