#!/usr/bin/env bash
# The GTK 3 dialog inside GIMP under Xvfb (gimp-platform.md §3), on the fake pipeline whose steps are
# slowed down (LORWEB_FAKE_STEP_MS) so renders overlap:
#  - a RUN-INTERACTIVE call opens the dialog; the first encode fills the basis panel and the first
#    preview renders; a screenshot is taken and loosely checked (size, colours, the preview's b′
#    colour and the chart's bars present);
#  - two strength-slider moves in a row: the first move's render is cancelled as stale, the second's
#    is rendered;
#  - OK (Alt+O) adds b′ made with the moved strength (b + 1.1·(a′ − a)); a second call answered with
#    Escape (Cancel) adds nothing;
#  - a′ removed (by the test actor, tests/gimp/actor.c) while a third dialog is open: OK then fails
#    with a message naming the layer, and nothing is added;
#  - a fourth dialog on a machine without Vulkan (the fake's `fake-no-vulkan`) says so in its
#    status line; Escape adds nothing.
# Skips (77) without gimp-console, Xvfb, xdotool or ImageMagick.
#   dialog.sh FAKE_PLUGIN PNGCHECK PO_BUILD_DIR ACTOR
set -u
plugin=$1 pngcheck=$2 po=$3 actor=$4
for tool in gimp-console-2.10 xvfb-run xdotool import identify; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
if [ -z "${LORWEB_IN_XVFB:-}" ]; then
    LORWEB_IN_XVFB=1 exec xvfb-run -a -s '-screen 0 1280x1024x24' "$0" "$@"
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export GIMP2_DIRECTORY=$T/gimp XDG_CACHE_HOME=$T/cache XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
export XDG_RUNTIME_DIR=$T/run LANGUAGE=C LORWEB_LOCALEDIR=$(realpath "$po") LORWEB_FAKE_STEP_MS=400
mkdir -p "$T/plug-ins/lorweb-fake" "$T/plug-ins/test-lorweb-actor" "$T/model" "$T/run" && chmod 700 "$T/run"
touch "$T/model/fake-model"
mkdir -p "$T/model-novk" && touch "$T/model-novk/fake-model" "$T/model-novk/fake-no-vulkan"
ln -s "$(realpath "$plugin")" "$T/plug-ins/lorweb-fake/lorweb-fake"
ln -s "$(realpath "$actor")" "$T/plug-ins/test-lorweb-actor/test-lorweb-actor"
printf '(plug-in-path "${gimp_plug_in_dir}/plug-ins:%s")\n' "$T/plug-ins" >"$T/gimprc"
# a = (100,100,100), a′ = (120,110,100), b = (50,60,70): b′ = (70,70,70) at strength 1, (72,71,70) at 1.1.
script="(let* ((img (car (gimp-image-new 48 40 RGB)))
               (add (lambda (name col)
                      (let ((l (car (gimp-layer-new img 48 40 RGB-IMAGE name 100 LAYER-MODE-NORMAL))))
                        (gimp-image-insert-layer img l 0 -1)
                        (gimp-context-set-foreground col) (gimp-drawable-fill l FILL-FOREGROUND) l)))
               (b (add \"b\" '(50 60 70))) (ap (add \"a'\" '(120 110 100))) (a (add \"a\" '(100 100 100)))
               (count (lambda () (number->string (car (gimp-image-get-layers img))))))
          (let ((out (catch -1 (car (plug-in-lorweb RUN-INTERACTIVE img b a ap \"\" 4 2.5 1.0 7 0.0 0 \"$T/model\")))))
            (gimp-message (string-append \"LORWEB after-ok layers=\" (count)))
            (if (> out 0)
                (let ((p (cadr (gimp-drawable-get-pixel out 5 5))))
                  (gimp-message (string-append \"LORWEB ok-pixel=\" (number->string (aref p 0)) \",\"
                                               (number->string (aref p 1)) \",\" (number->string (aref p 2))))))
          (catch #f (plug-in-lorweb RUN-INTERACTIVE img b a ap \"\" 4 2.5 1.0 7 0.0 0 \"$T/model\"))
          (gimp-message (string-append \"LORWEB after-cancel layers=\" (count)))
          (test-lorweb-later RUN-NONINTERACTIVE img ap 2000)
          (catch #f (plug-in-lorweb RUN-INTERACTIVE img b a ap \"\" 4 2.5 1.0 7 0.0 0 \"$T/model\"))
          (gimp-message (string-append \"LORWEB after-removed layers=\" (count)))
          (catch #f (plug-in-lorweb RUN-INTERACTIVE img b a (car (gimp-image-get-active-layer img)) \"\" 4 2.5 1.0 7 0.0 0 \"$T/model-novk\"))
          (gimp-message (string-append \"LORWEB after-novk layers=\" (count)))))"
start=$(date +%s.%N)
timeout 240 gimp-console-2.10 -i -d -f --gimprc="$T/gimprc" -b "$script" -b '(gimp-quit 0)' </dev/null >"$T/log" 2>&1 &
gimp_pid=$!
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
wait_log() { # PATTERN SECONDS
    for _ in $(seq $((10 * $2))); do grep -q -- "$1" "$T/log" && return 0; sleep 0.1; done
    return 1
}
window() {
    timeout 90 xdotool search --sync --onlyvisible --name '^Visual Analogy' 2>/dev/null | head -1
}
wid=$(window)
if [ -z "$wid" ]; then
    fail "the dialog did not appear"
else
    wait_log "preview rendered (request 1," 60 || fail "no first preview"
    sleep 0.5
    import -window "$wid" "$T/dialog.png"
    xdotool windowfocus "$wid"; sleep 0.3
    xdotool key alt+r; sleep 0.2   # the strength slider (mnemonic St_rength)
    xdotool key Right              # 1.05: request 2 starts rendering (4 steps × 0.4 s)
    wait_log "preview request 2" 10 || fail "no request after the slider moved"
    sleep 0.3
    xdotool key Right              # 1.10: request 3 supersedes request 2
    wait_log "preview rendered (request 3," 30 || fail "no preview after the second move"
    xdotool key alt+o              # OK
    wait_log "LORWEB after-ok" 60 || fail "OK did not finish"
    # The second dialog is another process, which may get the same X window id: wait for its log line.
    for _ in $(seq 300); do [ "$(grep -c "dialog shown" "$T/log")" -ge 2 ] && break; sleep 0.1; done
    sleep 0.5
    wid=$(window)
    if [ -z "$wid" ]; then
        fail "the dialog did not appear the second time"
    else
        xdotool windowfocus "$wid"; sleep 0.3; xdotool key Escape
    fi
    # The third dialog: a′ is removed while it is open, then OK.
    for _ in $(seq 300); do [ "$(grep -c "dialog shown" "$T/log")" -ge 3 ] && break; sleep 0.1; done
    wait_log "LORWEB actor: removed layer .* done" 30 || fail "the actor did not remove a′"
    sleep 0.5
    wid=$(window)
    if [ -z "$wid" ]; then
        fail "the dialog did not appear the third time"
    else
        xdotool windowfocus "$wid"; sleep 0.3; xdotool key alt+o
    fi
    # The fourth dialog: no Vulkan driver.
    for _ in $(seq 300); do [ "$(grep -c "dialog shown" "$T/log")" -ge 4 ] && break; sleep 0.1; done
    wait_log "lorweb: basis failed.*No Vulkan driver was found" 30 || fail "the dialog does not say there is no Vulkan driver"
    import -window "$(window)" "$T/novk.png" 2>/dev/null
    wid=$(window)
    if [ -z "$wid" ]; then
        fail "the dialog did not appear the fourth time"
    else
        xdotool windowfocus "$wid"; sleep 0.3; xdotool key Escape
    fi
fi
wait "$gimp_pid"
echo "gimp session: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
grep -q "dialog shown (gtk 3" "$T/log" || fail "no GTK 3 dialog logged"
grep -q "basis panel: 32 elements" "$T/log" || fail "the basis panel was not filled"
grep -q "preview cancelled (request 2," "$T/log" || fail "the stale render (request 2) was not cancelled"
grep -q "engine: run job: cancelled" "$T/log" || fail "the engine did not stop the stale render"
grep -q "LORWEB after-ok layers=4" "$T/log" || fail "OK did not add one layer"
grep -q "LORWEB ok-pixel=72,71,70" "$T/log" || fail "b′ does not use the strength set in the dialog (1.1)"
grep -q "LORWEB after-cancel layers=4" "$T/log" || fail "Cancel changed the layers"
grep -q "lorweb: Layer a′: there is no layer with ID" "$T/log" || fail "no clear message for the removed a′"
grep -q "LORWEB after-removed layers=3" "$T/log" || fail "a run with a removed a′ changed the layers"
grep -q "LORWEB after-novk layers=3" "$T/log" || fail "the dialog without Vulkan changed the layers"
if [ -s "$T/dialog.png" ]; then
    read -r w h <<<"$(identify -format '%w %h' "$T/dialog.png")"
    colours=$(identify -format '%k' "$T/dialog.png")
    preview=$("$pngcheck" count "$T/dialog.png" 70 70 70)
    bars=$("$pngcheck" count "$T/dialog.png" 66 133 217)
    echo "dialog screenshot: ${w}x${h}, $colours colours, $preview preview pixels, $bars bar pixels"
    [ "$w" -ge 500 ] && [ "$h" -ge 400 ] && [ "$colours" -ge 16 ] || fail "implausible dialog screenshot"
    [ "$preview" -ge 20000 ] || fail "the preview does not show b′ (70,70,70)"
    [ "$bars" -ge 500 ] || fail "the basis chart shows no bars"
    [ -n "${LORWEB_SCREENSHOT:-}" ] && cp "$T/dialog.png" "$LORWEB_SCREENSHOT"
else
    fail "no screenshot"
fi
grep "lorweb: preview\|lorweb: basis" "$T/log" | sed 's/^/  /'
[ "$failed" -eq 0 ] || cat "$T/log"
echo "gimp dialog: $failed failed"
[ "$failed" -eq 0 ]
