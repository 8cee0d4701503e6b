#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/fuzz/run-bounded.sh BUILD_DIR [SECONDS] - every libFuzzer target for a bounded time, as CI runs them.
#
# BUILD_DIR is set up (or reconfigured) as a clang -Dfuzzing=true build with ASan and UBSan, only the fuzz
# targets are compiled, and `meson test --suite fuzz-bounded` runs each for SECONDS (default 30), as many at
# a time as there are CPUs, each from a copy of its committed corpus (tests/fuzz/run-one.sh). Any crash,
# sanitizer report, leak, per-input timeout or out-of-memory fails its target; the input is kept under
# BUILD_DIR/tests/fuzz/fuzz-work/<target>/artifacts/ and the log says how to reproduce it.
#
# Output: one "fuzz-result target=... status=..." line per target, then, as the last line,
#   fuzz: N passed, N failed
# meson's BUILD_DIR/meson-logs/testlog.json has one test per target. Exit status 0 only if nothing failed.
#
# Environment: CC (clang), FUZZ_JOBS (number of CPUs), and run-one.sh's FUZZ_* variables.
set -uo pipefail

PROJECT=$(dirname "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")")

usage() { echo "usage: $0 BUILD_DIR [SECONDS]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
        usage
fi
build=$1
seconds=${2:-30}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
# shellcheck disable=SC2054 # the comma belongs to the option's value
options=(-Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false)

# shellcheck source=tests/lib/lsan-works.sh
. "$PROJECT/tests/lib/lsan-works.sh"

setup() {
        local how=() log=$build/fuzz-setup.log
        [ ! -f "$build/meson-private/coredata.dat" ] || how=(--reconfigure)
        mkdir -p "$build" || return 1
        CC=${CC:-clang} meson setup "${how[@]}" "$build" "$PROJECT" "${options[@]}" > "$log" 2>&1 ||
                { cat "$log"; return 1; }
}

main() {
        local t0=$SECONDS targets rc=0 passed=0 failed=0 line

        setup || { echo "fuzz: 0 passed, 1 failed"; return 1; }
        # The fuzz targets only: the rest of the tree is not what this build is for.
        mapfile -t targets < <(meson test -C "$build" --suite fuzz-bounded --list --no-rebuild 2> /dev/null |
                               sed -n 's/^.* \/ //p')
        if [ ${#targets[@]} = 0 ]; then
                echo "run-bounded: no fuzz-bounded tests in $build" >&2
                echo "fuzz: 0 passed, 1 failed"
                return 1
        fi
        if ! meson compile -C "$build" "${targets[@]}"; then
                echo "fuzz: 0 passed, ${#targets[@]} failed"
                return 1
        fi
        echo "run-bounded: built ${targets[*]} in $((SECONDS - t0))s; ${seconds}s each"

        export FUZZ_SECONDS=$seconds
        if [ -z "${FUZZ_DETECT_LEAKS:-}" ]; then
                FUZZ_DETECT_LEAKS=1
                if ! lsan_works "${CC:-clang}"; then
                        FUZZ_DETECT_LEAKS=0
                        echo "run-bounded: LeakSanitizer does not work here: no leak checks"
                fi
                export FUZZ_DETECT_LEAKS
        fi
        rm -f "$build"/tests/fuzz/fuzz-work/*/summary
        meson test -C "$build" --suite fuzz-bounded --no-rebuild --print-errorlogs \
                --num-processes "${FUZZ_JOBS:-$(nproc)}" || rc=$?

        for t in "${targets[@]}"; do
                line=$(cat "$build/tests/fuzz/fuzz-work/$t/summary" 2> /dev/null) ||
                        line="fuzz-result target=$t status=error"
                echo "$line"
                if [[ $line == *" status=ok "* ]]; then
                        passed=$((passed + 1))
                else
                        failed=$((failed + 1))
                fi
        done
        # meson failing with every target ok (the run itself broke) is a failure too
        [ $rc = 0 ] || [ $failed != 0 ] || failed=1
        echo "run-bounded: $((SECONDS - t0))s in all"
        echo "fuzz: $passed passed, $failed failed"
        [ $failed = 0 ]
}

main "$@"; exit         # one line: an edit of this file during a run must not feed bash new text
