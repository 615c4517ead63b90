#!/usr/bin/env bash
# The plug-in's GIMP side in real GIMP 2.10 (gimp-console batch mode, a private profile), on the fake
# pipeline (tests/pipeline_fake.c: b′ = b + s·(a′ − a), exactly checkable). One GIMP session:
#  - bad calls (a missing layer, a layer of another image, steps 0, a 1×1 layer, 16000×16000 layers,
#    a missing model) fail with a clear message and leave the image unchanged;
#  - a, a′ and b the same layer give b′ = b;
#  - an image closed mid-run (by the test actor, tests/gimp/actor.c) stops the run within a step
#    with a clear message, and the next call works;
#  - a Script-Fu call on a three-layer image (different sizes, offsets, b with alpha) adds one layer
#    "b′" above b at b's offsets; its pixels are checked by pngcheck; steps −1 and strength 0.5 too;
#  - a feathered selection limits where b′ is blended in;
#  - grey, indexed and linear-light images give the right values;
#  - no undo group is left open (GIMP would warn "inconsistent state").
# gimp-console always exits 0, so the log is checked. Skips (77) without gimp-console.
#   batch.sh FAKE_PLUGIN PNGCHECK ACTOR
set -u
plugin=$1 pngcheck=$2 actor=$3
command -v gimp-console-2.10 >/dev/null || { echo "SKIP: gimp-console-2.10 not installed"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export GIMP2_DIRECTORY=$T/gimp XDG_CACHE_HOME=$T/cache XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/config
export XDG_RUNTIME_DIR=$T/run LANGUAGE=C LC_ALL=C.UTF-8
export LORWEB_FAKE_STEP_MS=20 # so that the actor can close an image during a 1000-step run
mkdir -p "$T/plug-ins/lorweb-fake" "$T/plug-ins/test-lorweb-actor" "$T/model" "$T/run" && chmod 700 "$T/run"
touch "$T/model/fake-model"
ln -s "$(realpath "$plugin")" "$T/plug-ins/lorweb-fake/lorweb-fake"
ln -s "$(realpath "$actor")" "$T/plug-ins/test-lorweb-actor/test-lorweb-actor"
printf '(plug-in-path "${gimp_plug_in_dir}/plug-ins:%s")\n' "$T/plug-ins" >"$T/gimprc"
"$pngcheck" make "$T" || exit 1
unset DISPLAY
M=$T/model
script="(begin
  (define (report key value) (gimp-message (string-append \"LORWEB \" key \"=\" value)))
  (define (n s) (number->string s))
  (define (try thunk)   ; (ok . value) or (error . message)
    (call-with-current-continuation
      (lambda (k)
        (let ((old *error-hook*))
          (set! *error-hook* (lambda args (set! *error-hook* old)
                                (k (cons 'error (if (and (pair? args) (string? (car args))) (car args) \"?\")))))
          (let ((v (thunk))) (set! *error-hook* old) (cons 'ok v))))))
  (define (lorweb img b a ap steps strength model)
    (car (plug-in-lorweb RUN-NONINTERACTIVE img b a ap \"\" steps 2.5 strength 7 0.0 0 model)))
  (define (refused what thunk img)
    (let* ((before (car (gimp-image-get-layers img))) (r (try thunk)))
      (report (string-append what \"-result\") (if (eq? (car r) 'error) (cdr r) \"accepted\"))
      (report (string-append what \"-layers-unchanged\")
              (if (= before (car (gimp-image-get-layers img))) \"yes\" \"no\"))))
  (define (pixel d x y) (cadr (gimp-drawable-get-pixel d x y)))
  (define (rgb p) (string-append (n (aref p 0)) \",\" (n (aref p 1)) \",\" (n (aref p 2))))
  (define (uniform-image type fills)   ; layers a, a-prime, b (b bottom) filled with colours
    (let* ((img (car (gimp-image-new 32 24 type))) (names '(\"b\" \"a-prime\" \"a\")) (cols (reverse fills)))
      (for-each (lambda (name col)
                  (let ((l (car (gimp-layer-new img 32 24 (if (= type GRAY) GRAY-IMAGE RGB-IMAGE) name 100 LAYER-MODE-NORMAL))))
                    (gimp-image-insert-layer img l 0 -1)
                    (gimp-context-set-foreground col)
                    (gimp-drawable-fill l FILL-FOREGROUND)))
                names cols)
      img))
  (define (layer img name)
    (let loop ((ls (vector->list (cadr (gimp-image-get-layers img)))))
      (if (string=? (car (gimp-item-get-name (car ls))) name) (car ls) (loop (cdr ls)))))

  ; The three-layer image: b 50x40 RGBA at (7,3), a' and a 40x30 at (5,5) and (0,0).
  (define img (car (gimp-image-new 64 48 RGB)))
  (define (load name file x y)
    (let ((l (car (gimp-file-load-layer RUN-NONINTERACTIVE img (string-append \"$T/\" file)))))
      (gimp-image-insert-layer img l 0 -1) (gimp-item-set-name l name) (gimp-layer-set-offsets l x y) l))
  (define b (load \"b\" \"b.png\" 7 3))
  (define ap (load \"a-prime\" \"ap.png\" 5 5))
  (define a (load \"a\" \"a.png\" 0 0))
  (define other (uniform-image RGB '((1 2 3) (4 5 6) (7 8 9))))
  (define tiny (car (gimp-layer-new img 1 1 RGB-IMAGE \"tiny\" 100 LAYER-MODE-NORMAL)))
  (gimp-image-insert-layer img tiny 0 -1)
  (refused \"missing-layer\" (lambda () (lorweb img b -1 ap 2 1.0 \"$M\")) img)
  (refused \"other-image\" (lambda () (lorweb img b a (layer other \"a-prime\") 2 1.0 \"$M\")) img)
  (refused \"steps-0\" (lambda () (lorweb img b a ap 0 1.0 \"$M\")) img)
  (refused \"tiny-layer\" (lambda () (lorweb img tiny a ap 2 1.0 \"$M\")) img)
  (refused \"no-model\" (lambda () (lorweb img b a ap 2 1.0 \"$T/nomodel\")) img)
  (gimp-image-remove-layer img tiny)
  ; 16000×16000: refused before a pixel is read (a fresh layer's tiles are not even allocated).
  (define huge (car (gimp-layer-new img 16000 16000 RGB-IMAGE \"huge\" 100 LAYER-MODE-NORMAL)))
  (gimp-image-insert-layer img huge 0 -1)
  (refused \"huge-b\" (lambda () (lorweb img huge a ap 2 1.0 \"$M\")) img)
  (refused \"huge-a\" (lambda () (lorweb img b huge ap 2 1.0 \"$M\")) img)
  (gimp-image-remove-layer img huge)
  ; a, a′ and b one layer: b′ = b + s·(b − b) = b.
  (define same (lorweb img b b b 2 1.0 \"$M\"))
  (report \"same-layer\" (if (equal? (rgb (pixel same 20 20)) (rgb (pixel b 20 20))) \"b\"
                             (string-append (rgb (pixel same 20 20)) \" not \" (rgb (pixel b 20 20)))))
  (gimp-image-remove-layer img same)
  (define b-pos (car (gimp-image-get-item-position img b)))
  (define out (lorweb img b a ap 3 1.0 \"$M\"))
  (report \"name\" (car (gimp-item-get-name out)))
  (report \"size\" (string-append (n (car (gimp-drawable-width out))) \"x\" (n (car (gimp-drawable-height out)))))
  (report \"offsets\" (string-append (n (car (gimp-drawable-offsets out))) \",\" (n (cadr (gimp-drawable-offsets out)))))
  (report \"above-b\" (if (and (= (car (gimp-image-get-item-position img out)) b-pos)
                              (= (car (gimp-image-get-item-position img b)) (+ b-pos 1))) \"yes\" \"no\"))
  (report \"layers\" (n (car (gimp-image-get-layers img))))
  (file-png-save-defaults RUN-NONINTERACTIVE img out \"$T/out.png\" \"$T/out.png\")
  (define out2 (lorweb img b a ap -1 0.5 \"$M\"))
  (file-png-save-defaults RUN-NONINTERACTIVE img out2 \"$T/out2.png\" \"$T/out2.png\")
  (gimp-image-remove-layer img out2)

  ; A feathered selection: b coordinates (10..40, 8..32); inside = b', outside = b, edge between.
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 17 11 30 24)
  (gimp-selection-feather img 6)
  (define sel (lorweb img b a ap 2 1.0 \"$M\"))
  (gimp-selection-none img)
  (report \"sel-inside\" (if (equal? (rgb (pixel sel 25 20)) (rgb (pixel out 25 20))) \"b′\" (rgb (pixel sel 25 20))))
  (report \"sel-outside\" (if (equal? (rgb (pixel sel 2 2)) (rgb (pixel b 2 2))) \"b\" (rgb (pixel sel 2 2))))
  (let ((e (pixel sel 10 20)) (o (pixel out 10 20)) (q (pixel b 10 20)))
    (report \"sel-edge\" (if (and (not (= (aref e 0) (aref o 0))) (not (= (aref e 0) (aref q 0)))
                                 (<= (min (aref o 0) (aref q 0)) (aref e 0) (max (aref o 0) (aref q 0))))
                            \"between\" (string-append (rgb e) \" b′ \" (rgb o) \" b \" (rgb q)))))
  (gimp-image-delete img)
  (gimp-image-delete other)

  ; Closed mid-run: the actor deletes the image 3 s into a 1000 × 20 ms run, which stops then.
  (let* ((c (uniform-image RGB '((200 40 40) (40 40 200) (90 160 90))))
         (cb (layer c \"b\")) (ca (layer c \"a\")) (cap (layer c \"a-prime\")))
    (test-lorweb-later RUN-NONINTERACTIVE c -1 3000)
    (let ((r (try (lambda () (lorweb c cb ca cap 1000 1.0 \"$M\")))))
      (report \"closed-result\" (if (eq? (car r) 'error) (cdr r) \"accepted\"))
      (report \"closed-image-gone\" (if (= 0 (car (gimp-image-is-valid c))) \"yes\" \"no\"))))

  ; Grey: 60 + (140 - 100) = 100.
  (let* ((g (uniform-image GRAY '((100 100 100) (140 140 140) (60 60 60))))
         (r (lorweb g (layer g \"b\") (layer g \"a\") (layer g \"a-prime\") 2 1.0 \"$M\")))
    (report \"grey\" (string-append (if (= 1 (car (gimp-drawable-is-gray r))) \"gray \" \"not-gray \")
                                   (n (aref (pixel r 5 5) 0))))
    (gimp-image-delete g))
  ; Indexed: b + a' - a = (90,160,90) + (40,40,200) - (200,40,40) = (0,160,250), a palette colour.
  (let* ((i (uniform-image RGB '((200 40 40) (40 40 200) (90 160 90))))
         (extra (car (gimp-layer-new i 32 24 RGB-IMAGE \"palette\" 100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer i extra 0 -1)
    (gimp-context-set-foreground '(0 160 250)) (gimp-drawable-fill extra FILL-FOREGROUND)
    (gimp-image-convert-indexed i CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 FALSE FALSE \"\")
    (let ((r (lorweb i (layer i \"b\") (layer i \"a\") (layer i \"a-prime\") 2 1.0 \"$M\")))
      (report \"indexed-type\" (if (= 1 (car (gimp-drawable-is-indexed r))) \"indexed\" \"other\"))
      (gimp-image-convert-rgb i)
      (report \"indexed\" (rgb (pixel r 5 5))))
    (gimp-image-delete i))
  ; Linear light (32-bit float): the engine still sees perceptual values.
  (let* ((l (uniform-image RGB '((200 40 40) (40 40 200) (90 160 90)))))
    (gimp-image-convert-precision l PRECISION-FLOAT-LINEAR)
    (let ((r (lorweb l (layer l \"b\") (layer l \"a\") (layer l \"a-prime\") 2 0.5 \"$M\")))
      (gimp-image-convert-precision l PRECISION-U8-GAMMA)
      (report \"linear\" (rgb (pixel r 5 5))))
    (gimp-image-delete l)))"
start=$(date +%s.%N)
timeout 240 gimp-console-2.10 -i -d -f --gimprc="$T/gimprc" -b "$script" -b '(gimp-quit 0)' </dev/null >"$T/log" 2>&1
echo "gimp session: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
failed=0
expect() { grep -q -- "$1" "$T/log" || { echo "FAIL: log lacks '$1'"; failed=$((failed + 1)); }; }
expect "LORWEB missing-layer-result=.*there is no layer with ID -1"
expect "LORWEB other-image-result=.*belongs to another image"
expect "LORWEB steps-0-result=.*Steps 0: use 1"
expect "LORWEB tiny-layer-result=.*is 1×1 pixels; each layer needs at least 8×8"
expect "LORWEB no-model-result=.*Model files are missing.*$T/nomodel"
expect "LORWEB huge-b-result=.*Layer b (“huge”) is 16000×16000 pixels (256.0 megapixels); lorweb takes layers of up to 67.1 megapixels"
expect "LORWEB huge-a-result=.*Layer a (“huge”) is 16000×16000 pixels"
expect "LORWEB same-layer=b\$"
expect "LORWEB actor: closed image .* done"
expect "LORWEB closed-result=.*The image was closed or layer b removed while the analogy ran; nothing was added"
expect "LORWEB closed-image-gone=yes"
expect "engine: run job: cancelled"
for what in missing-layer other-image steps-0 tiny-layer huge-b huge-a no-model; do expect "LORWEB $what-layers-unchanged=yes"; done
expect "LORWEB name=b′"
expect "LORWEB size=50x40"
expect "LORWEB offsets=7,3"
expect "LORWEB above-b=yes"
expect "LORWEB layers=4"
expect "LORWEB sel-inside=b′"
expect "LORWEB sel-outside=b"
expect "LORWEB sel-edge=between"
expect "LORWEB grey=gray 100"
expect "LORWEB indexed-type=indexed"
expect "LORWEB indexed=0,160,250"
expect "LORWEB linear=10,160,170"   # (90,160,90) + 0.5·((40,40,200) − (200,40,40)) in perceptual values
expect "batch command executed successfully"
if grep -q "inconsistent state\|undo group" "$T/log"; then echo "FAIL: GIMP reports an open undo group"; failed=$((failed + 1)); fi
for f in out out2; do
    s=1.0; [ $f = out2 ] && s=0.5
    if [ -s "$T/$f.png" ]; then
        "$pngcheck" analogy "$T/a.png" "$T/ap.png" "$T/b.png" "$T/$f.png" $s || failed=$((failed + 1))
    else
        echo "FAIL: no $f.png"; failed=$((failed + 1))
    fi
done
grep "LORWEB actor\|run job: cancelled\|LORWEB closed-result" "$T/log" | sed "s/^/  /"
[ "$failed" -eq 0 ] || cat "$T/log"
echo "gimp batch: $failed failed"
[ "$failed" -eq 0 ]
