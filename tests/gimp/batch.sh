#!/usr/bin/env bash
# The plug-in inside real GIMP 2.10 (gimp-console, batch mode, a private profile): a Script-Fu call on
# a three-layer image adds exactly one layer "b′" of b's size; bad calls (steps −1, a layer of another
# image) fail with a message and leave the image unchanged. gimp-console always exits 0, so the log is
# checked. Skips (77) without gimp-console or the shared fixtures (the tiny model comes from there).
#   batch.sh PLUGIN_BUILD_DIR MAKE_TINY_MODEL SOURCE_ROOT
set -u
plugin_dir=$1 make_model=$2 root=$3
command -v gimp-console-2.10 >/dev/null || { echo "SKIP: gimp-console-2.10 not installed"; exit 77; }
F=${LORWEB_FIXTURES:-$root/../shared/fixtures}
[ -d "$F" ] || { echo "SKIP: no fixtures at $F for the tiny model"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$make_model" "$F" "$T/model" || exit 1
export GIMP2_DIRECTORY=$T/gimp XDG_CACHE_HOME=$T/cache XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
mkdir -p "$T/plug-ins/lorweb-gimp"
ln -s "$(realpath "$plugin_dir/lorweb-gimp")" "$T/plug-ins/lorweb-gimp/lorweb-gimp"
printf '(plug-in-path "${gimp_plug_in_dir}/plug-ins:%s")\n' "$T/plug-ins" >"$T/gimprc"
unset DISPLAY
call() { # IMAGE-EXPR B A A-PRIME STEPS MODEL-DIR
    echo "(plug-in-lorweb RUN-NONINTERACTIVE $1 $2 $3 $4 \"\" $5 2.5 1.0 7 0.0 32 \"$6\")"
}
script="(begin
  (define (make-image)
    (let* ((img (car (gimp-image-new 48 40 RGB)))
           (b (car (gimp-layer-new img 44 36 RGB-IMAGE \"b\" 100 LAYER-MODE-NORMAL)))
           (ap (car (gimp-layer-new img 48 40 RGB-IMAGE \"a-prime\" 100 LAYER-MODE-NORMAL)))
           (a (car (gimp-layer-new img 48 40 RGB-IMAGE \"a\" 100 LAYER-MODE-NORMAL))))
      (gimp-image-insert-layer img b 0 -1)
      (gimp-image-insert-layer img ap 0 -1)
      (gimp-image-insert-layer img a 0 -1)
      (gimp-context-set-foreground (list 200 40 40)) (gimp-drawable-fill a FILL-FOREGROUND)
      (gimp-context-set-foreground (list 40 40 200)) (gimp-drawable-fill ap FILL-FOREGROUND)
      (gimp-context-set-foreground (list 90 160 90)) (gimp-drawable-fill b FILL-FOREGROUND)
      (list img a ap b)))
  (define (layer-count img) (car (gimp-image-get-layers img)))
  (define (report what value) (gimp-message (string-append \"LORWEB \" what \"=\" value)))
  (define t (make-image))
  (define other (make-image))
  (define img (car t)) (define a (cadr t)) (define ap (caddr t)) (define b (cadddr t))
  (report \"bad-steps\" (if (catch #f $(call img b a ap -1 "$T/model")) \"accepted\" \"refused\"))
  (report \"bad-image\" (if (catch #f $(call img b '(cadr other)' ap 2 "$T/model")) \"accepted\" \"refused\"))
  (report \"bad-model\" (if (catch #f $(call img b a ap 2 "$T/none")) \"accepted\" \"refused\"))
  (report \"after-bad-layers\" (number->string (layer-count img)))
  (report \"undo-before\" (if (car (gimp-image-undo-is-enabled img)) \"enabled\" \"disabled\"))
  (let ((out (car $(call img b a ap 2 "$T/model"))))
    (report \"layers\" (number->string (layer-count img)))
    (report \"size\" (string-append (number->string (car (gimp-drawable-width out))) \"x\"
                                      (number->string (car (gimp-drawable-height out)))))
    (report \"name\" (car (gimp-item-get-name out)))
    (file-png-save-defaults RUN-NONINTERACTIVE img out \"$T/out.png\" \"$T/out.png\")
    (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 0 0 10 36)
    (let* ((sel (car $(call img b a ap 2 "$T/model")))
           (inside (cadr (gimp-drawable-get-pixel sel 5 5)))
           (outside (cadr (gimp-drawable-get-pixel sel 30 20)))
           (orig (cadr (gimp-drawable-get-pixel b 30 20))))
      (report \"selection-outside-kept\"
              (if (and (= (aref outside 0) (aref orig 0)) (= (aref outside 1) (aref orig 1))
                       (= (aref outside 2) (aref orig 2))) \"yes\" \"no\"))))
  (gimp-image-delete img) (gimp-image-delete (car other)))"
timeout 300 gimp-console-2.10 -i -d -f --gimprc="$T/gimprc" -b "$script" -b '(gimp-quit 0)' </dev/null >"$T/log" 2>&1
failed=0
expect() { grep -q -- "$1" "$T/log" || { echo "FAIL: log lacks '$1'"; failed=$((failed + 1)); }; }
expect "LORWEB bad-steps=refused"
expect "LORWEB bad-image=refused"
expect "LORWEB bad-model=refused"
expect "LORWEB after-bad-layers=3"
expect "LORWEB layers=4"
expect "LORWEB size=44x36"
expect "LORWEB name=b′"
expect "steps -1"
expect "is not a layer of this image"
expect "$T/none"
expect "LORWEB selection-outside-kept=yes"
expect "batch command executed successfully"
[ -s "$T/out.png" ] || { echo "FAIL: no b′ PNG written"; failed=$((failed + 1)); }
if [ "$failed" -ne 0 ]; then cat "$T/log"; fi
echo "gimp batch: $failed failed"
[ "$failed" -eq 0 ]
