#!/usr/bin/env bash
# The GTK 3 dialog inside GIMP under Xvfb (gimp-platform.md §3): a RUN-INTERACTIVE call opens it; a
# screenshot is taken and loosely checked (size, not blank); Return presses the focused OK and a b′
# layer appears; a second call answered with Escape (Cancel) adds nothing. Skips (77) without
# gimp-console, Xvfb, xdotool or the fixtures.
#   dialog.sh PLUGIN_BUILD_DIR MAKE_TINY_MODEL SOURCE_ROOT
set -u
plugin_dir=$1 make_model=$2 root=$3
for tool in gimp-console-2.10 xvfb-run xdotool import identify; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
F=${LORWEB_FIXTURES:-$root/../shared/fixtures}
[ -d "$F" ] || { echo "SKIP: no fixtures at $F"; exit 77; }
if [ -z "${LORWEB_IN_XVFB:-}" ]; then
    LORWEB_IN_XVFB=1 exec xvfb-run -a -s '-screen 0 1024x768x24' "$0" "$@"
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$make_model" "$F" "$T/model" || exit 1
export GIMP2_DIRECTORY=$T/gimp XDG_CACHE_HOME=$T/cache XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
mkdir -p "$T/plug-ins/lorweb-gimp"
ln -s "$(realpath "$plugin_dir/lorweb-gimp")" "$T/plug-ins/lorweb-gimp/lorweb-gimp"
printf '(plug-in-path "${gimp_plug_in_dir}/plug-ins:%s")\n' "$T/plug-ins" >"$T/gimprc"
script="(let* ((img (car (gimp-image-new 48 40 RGB)))
               (b (car (gimp-layer-new img 48 40 RGB-IMAGE \"b\" 100 LAYER-MODE-NORMAL)))
               (ap (car (gimp-layer-new img 48 40 RGB-IMAGE \"a'\" 100 LAYER-MODE-NORMAL)))
               (a (car (gimp-layer-new img 48 40 RGB-IMAGE \"a\" 100 LAYER-MODE-NORMAL))))
          (gimp-image-insert-layer img b 0 -1) (gimp-image-insert-layer img ap 0 -1) (gimp-image-insert-layer img a 0 -1)
          (gimp-drawable-fill a FILL-WHITE) (gimp-drawable-fill b FILL-FOREGROUND)
          (catch #f (plug-in-lorweb RUN-INTERACTIVE img b a ap \"\" 2 2.5 1.0 7 0.0 32 \"$T/model\"))
          (gimp-message (string-append \"LORWEB after-ok layers=\" (number->string (car (gimp-image-get-layers img)))))
          (catch #f (plug-in-lorweb RUN-INTERACTIVE img b a ap \"\" 2 2.5 1.0 7 0.0 32 \"$T/model\"))
          (gimp-message (string-append \"LORWEB after-cancel layers=\" (number->string (car (gimp-image-get-layers img))))))"
timeout 240 gimp-console-2.10 -i -d -f --gimprc="$T/gimprc" -b "$script" -b '(gimp-quit 0)' </dev/null >"$T/log" 2>&1 &
gimp_pid=$!
failed=0
answer() { # KEY: wait for the dialog, screenshot it once, press KEY
    local wid
    wid=$(timeout 90 xdotool search --sync --onlyvisible --name '^Visual Analogy' 2>/dev/null | head -1)
    if [ -z "$wid" ]; then echo "FAIL: the dialog did not appear"; failed=$((failed + 1)); return; fi
    [ -e "$T/dialog.png" ] || import -window "$wid" "$T/dialog.png"
    xdotool windowfocus "$wid"; sleep 0.3; xdotool key "$1"
    sleep 1
}
answer Return
answer Escape
wait "$gimp_pid"
grep -q "dialog shown (gtk 3" "$T/log" || { echo "FAIL: no GTK 3 dialog logged"; failed=$((failed + 1)); }
grep -q "LORWEB after-ok layers=4" "$T/log" || { echo "FAIL: OK did not add one layer"; failed=$((failed + 1)); }
grep -q "LORWEB after-cancel layers=4" "$T/log" || { echo "FAIL: Cancel changed the layers"; failed=$((failed + 1)); }
if [ -s "$T/dialog.png" ]; then
    read -r w h <<<"$(identify -format '%w %h' "$T/dialog.png")"
    colours=$(identify -format '%k' "$T/dialog.png")
    echo "dialog screenshot: ${w}x${h}, $colours colours"
    [ "$w" -ge 250 ] && [ "$h" -ge 250 ] && [ "$colours" -ge 8 ] || { echo "FAIL: implausible dialog screenshot"; failed=$((failed + 1)); }
    [ -n "${LORWEB_SCREENSHOT:-}" ] && cp "$T/dialog.png" "$LORWEB_SCREENSHOT"
else
    echo "FAIL: no screenshot"; failed=$((failed + 1))
fi
[ "$failed" -eq 0 ] || cat "$T/log"
echo "gimp dialog: $failed failed"
[ "$failed" -eq 0 ]
