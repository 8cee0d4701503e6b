#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/valgrind-unit.sh BUILD_DIR [MESON_TEST_ARGS...] - the unit suite under valgrind's memcheck:
#
#       meson test -C BUILD_DIR --setup valgrind --suite unit
#
# with the setup of tests/meson.build (full leak check; a definite or indirect leak or any memcheck error
# fails the test; 10x timeouts). BUILD_DIR must be a build without sanitizers (build-ci will do); it is set
# up if missing and compiled. meson names the log of a setup testlog-valgrind.json; it is copied to
# BUILD_DIR/meson-logs/testlog.json, which is where tests/run-all.sh counts results.
set -uo pipefail

PROJECT=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [MESON_TEST_ARGS...]" >&2; exit 2; }
build=$1
shift
logs=$build/meson-logs

command -v valgrind > /dev/null || { echo "valgrind-unit: valgrind is not installed" >&2; exit 1; }
if [ ! -f "$build/meson-private/coredata.dat" ]; then
        meson setup "$build" "$PROJECT" || exit 1
fi
sanitize=$(meson introspect --buildoptions "$build" | python3 -c '
import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"))')
if [ "$sanitize" != none ]; then
        echo "valgrind-unit: $build is built with -Db_sanitize=$sanitize; valgrind needs a build without" >&2
        exit 1
fi
meson compile -C "$build" || exit 1

t0=$SECONDS
rm -f "$logs/testlog-valgrind.json" "$logs/testlog.json"
rc=0
# Suite not-c: the tests that are scripts (bash, node); under valgrind they would check those interpreters.
meson test -C "$build" --setup valgrind --suite unit --no-suite not-c --no-rebuild --print-errorlogs \
        --num-processes "${MESON_TESTTHREADS:-$(nproc)}" "$@" || rc=$?
[ ! -f "$logs/testlog-valgrind.json" ] || cp "$logs/testlog-valgrind.json" "$logs/testlog.json"
echo "valgrind-unit: $((SECONDS - t0))s under valgrind, exit status $rc"
exit $rc
