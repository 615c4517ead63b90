#!/usr/bin/env bash
# Runs every test of lorweb on this machine and ends with one plain line "N passed, N failed".
#
# Two configurations: the normal build (every suite) and an AddressSanitizer + UndefinedBehaviour-
# Sanitizer build (the engine suites; GIMP itself is not sanitised). Tests that need Vulkan use the
# best device present (lavapipe on a machine without GPU) and skip (77) where there is none.
#
#   tools/test.sh            both configurations and a fuzz smoke run
#   tools/test.sh --quick    the normal configuration only
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

tools/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

export XDG_CACHE_HOME="$root/build-cache"
export LSAN_OPTIONS="suppressions=$root/tools/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
unset DISPLAY

passed=0
failed=0
skipped=0

run_config() { # NAME SUITE-ARGS -- MESON-OPTIONS
    local name=$1 dir="build-$1"
    shift
    local suites=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do suites+=("$1"); shift; done
    shift
    echo "=== configuration $name"
    if [ -d "$dir" ]; then
        meson configure "$dir" "$@" >/dev/null || meson setup --wipe "$dir" "$@" || return 1
    else
        meson setup "$dir" "$@" || return 1
    fi
    ninja -C "$dir" || { failed=$((failed + 1)); echo "build of $name failed"; return 1; }
    meson test -C "$dir" --print-errorlogs --num-processes 2 "${suites[@]}" </dev/null
    local log="$dir/meson-logs/testlog.json"
    local ok fail skip
    ok=$(grep -c '"result": "OK"' "$log")
    skip=$(grep -c '"result": "SKIP"' "$log")
    fail=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log")
    echo "=== $name: $ok passed, $fail failed, $skip skipped"
    passed=$((passed + ok))
    failed=$((failed + fail))
    skipped=$((skipped + skip))
}

run_config release -- -Dbuildtype=debugoptimized
if [ "${1:-}" != "--quick" ]; then
    run_config sanitize --suite cpu --suite gpu -- -Dbuildtype=debug \
        -Db_sanitize=address,undefined -Db_lundef=false -Dplugin=disabled
fi

if [ "${1:-}" != "--quick" ]; then
    echo "=== fuzz smoke (libFuzzer, 5 s per parser)"
    fuzz_out=$(tools/fuzz.sh 5)
    echo "$fuzz_out"
    passed=$((passed + $(grep -c 'no crash' <<<"$fuzz_out")))
    failed=$((failed + $(grep -c 'FAILED' <<<"$fuzz_out")))
fi

echo "($skipped skipped: tests that need what this machine lacks, each says what)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
