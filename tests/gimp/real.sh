#!/usr/bin/env bash
# The real plug-in (the engine's pipeline) inside GIMP 2.10 batch mode with the tiny fixture model:
# two Script-Fu runs in one GIMP session each add a layer "b′" of b's size; the second run finds the
# models resident in the engine process (no reload) and the log gives both runs' engine start-up
# times; a missing model fails with a message naming the folder and leaves the image unchanged; a
# selection keeps b outside it. A second GIMP session without any Vulkan driver gets the plug-in's
# message saying so, the image unchanged. gimp-console always exits 0, so the log is checked.
# Skips (77) without gimp-console or the shared fixtures (the tiny model comes from there).
#   real.sh PLUGIN MAKE_TINY_MODEL SOURCE_ROOT
set -u
plugin=$1 make_model=$2 root=$3
command -v gimp-console-2.10 >/dev/null || { echo "SKIP: gimp-console-2.10 not installed"; exit 77; }
F=${LORWEB_FIXTURES:-$root/../shared/fixtures}
[ -d "$F" ] || { echo "SKIP: no fixtures at $F for the tiny model"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$make_model" "$F" "$T/model" || exit 1
export GIMP2_DIRECTORY=$T/gimp XDG_CACHE_HOME=$T/cache XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
export XDG_RUNTIME_DIR=$T/run LANGUAGE=C
mkdir -p "$T/plug-ins/lorweb-gimp" "$T/run" && chmod 700 "$T/run"
ln -s "$(realpath "$plugin")" "$T/plug-ins/lorweb-gimp/lorweb-gimp"
printf '(plug-in-path "${gimp_plug_in_dir}/plug-ins:%s")\n' "$T/plug-ins" >"$T/gimprc"
unset DISPLAY
call() { # IMAGE B A A-PRIME MODEL-DIR
    echo "(plug-in-lorweb RUN-NONINTERACTIVE $1 $2 $3 $4 \"\" 2 2.5 1.0 7 0.0 32 \"$5\")"
}
script="(begin
  (define (report what value) (gimp-message (string-append \"LORWEB \" what \"=\" value)))
  (define img (car (gimp-image-new 48 40 RGB)))
  (define (add name w h col)
    (let ((l (car (gimp-layer-new img w h RGB-IMAGE name 100 LAYER-MODE-NORMAL))))
      (gimp-image-insert-layer img l 0 -1)
      (gimp-context-set-foreground col) (gimp-drawable-fill l FILL-FOREGROUND) l))
  (define b (add \"b\" 44 36 '(90 160 90)))
  (define ap (add \"a-prime\" 48 40 '(40 40 200)))
  (define a (add \"a\" 48 40 '(200 40 40)))
  (define (layer-count) (number->string (car (gimp-image-get-layers img))))
  (report \"bad-model\" (if (catch #f $(call img b a ap "$T/none")) \"accepted\" \"refused\"))
  (report \"after-bad-model\" (layer-count))
  (let ((out (car $(call img b a ap "$T/model"))))
    (report \"first\" (string-append (layer-count) \" \" (car (gimp-item-get-name out)) \" \"
                                    (number->string (car (gimp-drawable-width out))) \"x\"
                                    (number->string (car (gimp-drawable-height out))))))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 0 0 10 36)
  (let* ((sel (car $(call img b a ap "$T/model")))
         (outside (cadr (gimp-drawable-get-pixel sel 30 20)))
         (orig (cadr (gimp-drawable-get-pixel b 30 20))))
    (report \"second\" (layer-count))
    (report \"selection-outside-kept\"
            (if (and (= (aref outside 0) (aref orig 0)) (= (aref outside 1) (aref orig 1))
                     (= (aref outside 2) (aref orig 2))) \"yes\" \"no\")))
  (gimp-image-delete img))"
start=$(date +%s.%N)
timeout 500 gimp-console-2.10 -i -d -f --gimprc="$T/gimprc" -b "$script" -b '(gimp-quit 0)' </dev/null >"$T/log" 2>&1
echo "gimp session: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
failed=0
expect() { grep -q -- "$1" "$T/log" || { echo "FAIL: log lacks '$1'"; failed=$((failed + 1)); }; }
expect "LORWEB bad-model=refused"
expect "LORWEB after-bad-model=3"
expect "Model files are missing.*$T/none"
expect "LORWEB first=4 b′ 44x36"
expect "LORWEB second=5"
expect "LORWEB selection-outside-kept=yes"
expect "resident engine, models loaded now"
expect "resident engine, models already loaded"
expect "batch command executed successfully"
# No Vulkan driver (the loader finds no ICD), in a fresh runtime folder so no resident engine is reused.
mkdir -p "$T/run2" && chmod 700 "$T/run2"
script="(let* ((img (car (gimp-image-new 48 40 RGB)))
               (add (lambda (name) (let ((l (car (gimp-layer-new img 48 40 RGB-IMAGE name 100 LAYER-MODE-NORMAL))))
                                     (gimp-image-insert-layer img l 0 -1) l)))
               (b (add \"b\")) (ap (add \"a-prime\")) (a (add \"a\")))
          (gimp-message (string-append \"LORWEB no-driver=\" (if (catch #f $(call img b a ap "$T/model")) \"accepted\" \"refused\")))
          (gimp-message (string-append \"LORWEB no-driver-layers=\" (number->string (car (gimp-image-get-layers img))))))"
XDG_RUNTIME_DIR=$T/run2 VK_ICD_FILENAMES=$T/no-driver.json timeout 200 gimp-console-2.10 -i -d -f \
    --gimprc="$T/gimprc" -b "$script" -b '(gimp-quit 0)' </dev/null >>"$T/log" 2>&1
expect "LORWEB no-driver=refused"
expect "LORWEB no-driver-layers=3"
expect "No Vulkan driver was found. Install the Vulkan driver for your graphics card"
grep "lorweb: b′\|No Vulkan driver" "$T/log" | sed 's/^/  /'
[ "$failed" -eq 0 ] || cat "$T/log"
echo "gimp real: $failed failed"
[ "$failed" -eq 0 ]
