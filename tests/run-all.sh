#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/run-all.sh - every test of the project, as CI runs them. As root on Debian 12:
#
#       sudo tests/run-all.sh
#
#   packages        apt-get install what the build and the testbeds need
#   build-ci        meson setup + compile (the project sets werror)
#   build-release   the same with -Dbuildtype=release (-O3 warns of what -O2 does not; bench/run.sh uses it)
#   unit            meson test --suite unit
#   unit-valgrind   the same unit suite under valgrind memcheck (tests/valgrind-unit.sh build-ci)
#   build-asan      the same with -Db_sanitize=address,undefined
#   unit-asan       its unit suite, ASAN_OPTIONS detect_leaks=1 where LeakSanitizer works
#   fuzz            every libFuzzer target for a bounded time (tests/fuzz/run-bounded.sh build-fuzz
#                   $TB_FUZZ_SECONDS, default 30 s each), from a copy of the committed corpus
#   ns-integration  namespace testbed (host cgroup layout; hybrid v1 on the CI machine):
#                   up, tests/integration/run-inside.sh build-ci, down
#   ns-integration-asan   the same for build-asan
#   vm-integration  VM testbed (cgroup v2): vm-prepare, vm-run run-inside.sh build-ci
#   package         tests/package/run.sh: dpkg-buildpackage (PKG_NOCHECK=1: the unit stage ran the
#                   suite already), lintian, apt install/upgrade/remove/purge in a namespace testbed
#
# A stage that cannot even run (build error, testbed that does not boot) counts as 1 failed; the
# stages that do not depend on it still run. The last line of the output is the total over every
# meson test run:  N passed, N failed, N skipped   (from each run's meson-logs/testlog.json, kept in
# build-logs/; for the package stage its "package: N passed, N failed, N not yet testable" line, the
# last number counted as skipped). Exit status 0 only if nothing failed.
#
# Environment: TB_NO_APT=1 skips apt when every package is already installed; TB_SKIP_VM=1 skips the
# VM stage (local quick runs only: CI runs it); TB_SKIP_ASAN=1 skips the sanitizer stages;
# TB_SKIP_PACKAGE=1 skips the package stage; CC, and the testbeds' TB_* variables (tests/testbed.sh).
# shellcheck disable=SC2317 # (whole file) the stage functions run through "$@" and traps
set -uo pipefail

PROJECT=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
cd "$PROJECT" || exit 1

# A tree under /tmp or /var/tmp cannot be tested in place: jobs get a private /tmp by default (and remote
# jobs always), which hides the test helpers the integration tests run from the build directory, as
# systemd's PrivateTmp= would. Such a tree is copied to /var/lib/teleworker-ci/tree and tested there.
case "$PROJECT/" in
/tmp/*|/var/tmp/*)
        RELOCATED=/var/lib/teleworker-ci/tree
        echo "run-all: $PROJECT is under a temporary directory, which jobs see privately: testing a copy in $RELOCATED"
        rm -rf "$RELOCATED" && mkdir -p "$RELOCATED" && cp -a "$PROJECT/." "$RELOCATED/" || exit 1
        exec "$RELOCATED/tests/run-all.sh" "$@"
        ;;
esac
TESTBED=$PROJECT/tests/testbed.sh
LOGS=$PROJECT/build-logs
# our own testbed state, apart from a developer's testbed at the default place
export TB_DIR=${TB_DIR:-$PROJECT/tests/testbed/run/ci}

PACKAGES="meson ninja-build pkg-config gcc libc6-dev clang libsystemd-dev libglib2.0-dev libjson-c-dev
libssl-dev libhttp-parser-dev python3 python3-yaml polkitd systemd dbus util-linux passwd openssl curl kmod e2fsprogs
xz-utils busybox-static qemu-system-x86 dpkg-dev debhelper lintian libclang-rt-14-dev valgrind libnss-systemd
python3-prometheus-client cockpit-ws cockpit-bridge cockpit-system chromium nodejs zsh fish tmux
libcurl4-openssl-dev tinyproxy"

PASSED=0 FAILED=0 SKIPPED=0
STAGE_LINES=()
T_START=$SECONDS

say() { printf '\n==== %s\n' "$*"; }

# record NAME STATUS SECONDS NOTE
record() { STAGE_LINES+=("$(printf '%-22s %-8s %5ss  %s' "$1" "$2" "$3" "$4")"); }

# count NAME BUILD_DIR RC: add the results of the meson test run that just wrote BUILD_DIR's
# testlog.json; a non-zero RC with no failed test in it (the run itself broke) counts as 1 failed.
count() {
        local name=$1 log=$2/meson-logs/testlog.json rc=$3 p=0 f=0 s=0
        if [ -s "$log" ]; then
                cp "$log" "$LOGS/$name.testlog.json"
                read -r p f s < <(python3 - "$log" "$name" "$LOGS/failures.txt" <<'EOF'
import json, re, sys
passed = failed = skipped = 0
notes = []
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    test = json.loads(line)
    result = test.get("result")
    if result in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif result == "SKIP":
        skipped += 1
    else:                       # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, INTERRUPT
        failed += 1
        # CI shows the end of a long output: each failed test's failing lines and last lines are
        # printed again there (main), bounded, so that a failure reads without the whole log
        out = (test.get("stdout") or "").splitlines()
        why = [l for l in out if re.search(r"^not ok|Bail out|ERROR|CRITICAL|FAIL", l)][:12]
        notes.append("---- %s: %s %s after %.1f s (status %s)\n" % (
            sys.argv[2], test.get("name"), result, test.get("duration") or 0, test.get("returncode")))
        notes += ["  | " + l[:300] + "\n" for l in why]
        notes.append("  last lines:\n")
        notes += ["  | " + l[:300] + "\n" for l in out[-15:]]
if notes:
    with open(sys.argv[3], "a") as f:
        f.writelines(notes)
print(passed, failed, skipped)
EOF
                ) || { p=0 f=1 s=0; echo "run-all: cannot parse $log" >&2; }
        fi
        if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
                f=1
                echo "run-all: $name: status $rc without a failed test: counted as 1 failed" >&2
        fi
        PASSED=$((PASSED + p)) FAILED=$((FAILED + f)) SKIPPED=$((SKIPPED + s))
        LAST_COUNTS="$p passed, $f failed, $s skipped"
}

# count_line NAME LOG RC: add the counts of the last "NAME: N passed, N failed, N ..." line of LOG
# (the third number counts as skipped); no such line, or RC != 0 with no failure in it: 1 failed
count_line() {
        local name=$1 log=$2 rc=$3 p=0 f=0 s=0 line
        line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "$log" | tail -n 1)
        if [[ $line =~ ^$name:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+))? ]]; then
                p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
        fi
        if { [ -z "$line" ] || [ "$rc" != 0 ]; } && [ "$f" = 0 ]; then
                f=1
                echo "run-all: $name: status $rc without a failed check: counted as 1 failed" >&2
        fi
        [ "$f" = 0 ] || { echo "---- $name:"; grep -E '^FAIL' "$log" | head -n 20; } >> "$LOGS/failures.txt"
        PASSED=$((PASSED + p)) FAILED=$((FAILED + f)) SKIPPED=$((SKIPPED + s))
        LAST_COUNTS="$p passed, $f failed, $s skipped"
}

# stage NAME BUILD_DIR|-|@LOG CMD...: run, time, count (BUILD_DIR: the meson test run to count;
# @LOG: the command's output, kept in LOG, ends with a "NAME: N passed, N failed..." line)
stage() {
        local name=$1 build=$2 t0=$SECONDS rc=0
        shift 2
        say "$name: $*"
        if [[ $build == @* ]]; then
                "$@" 2>&1 | tee "${build#@}"
                rc=${PIPESTATUS[0]}
                count_line "$name" "${build#@}" $rc
                build=@
        else
                [ "$build" = - ] || rm -f "$build/meson-logs/testlog.json"
                "$@" || rc=$?
        fi
        if [ "$build" = @ ]; then
                :
        elif [ "$build" = - ]; then
                LAST_COUNTS=""
                if [ $rc != 0 ]; then
                        FAILED=$((FAILED + 1))
                        LAST_COUNTS="counted as 1 failed"
                fi
        else
                count "$name" "$build" $rc
        fi
        record "$name" "$([ $rc = 0 ] && echo ok || echo "FAIL($rc)")" $((SECONDS - t0)) "$LAST_COUNTS"
        say "$name: $([ $rc = 0 ] && echo ok || echo "failed ($rc)") in $((SECONDS - t0))s"
        return $rc
}

skip_stage() { record "$1" skipped 0 "$2"; say "$1: skipped ($2)"; }

packages() {
        local missing
        # shellcheck disable=SC2086 # one package per word
        missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PACKAGES 2>&1 |
                awk '$1 != "ii" { print $NF }')
        if [ "${TB_NO_APT:-0}" = 1 ] && [ -z "$missing" ]; then
                echo "every package is installed; TB_NO_APT=1: no apt"
                return 0
        fi
        [ -z "$missing" ] || echo "missing: $missing"
        export DEBIAN_FRONTEND=noninteractive
        # wait for another apt or dpkg (unattended upgrades, a concurrent install) instead of failing
        apt-get -o DPkg::Lock::Timeout=600 update -q || return 1
        # shellcheck disable=SC2086 # one package per word
        apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $PACKAGES
}

build() {               # build DIR [MESON_OPTIONS...]
        local dir=$1
        shift
        if [ -f "$dir/meson-private/coredata.dat" ]; then
                meson setup --reconfigure "$dir" "$@" || meson setup --wipe "$dir" "$@" || return 1
        else
                rm -rf "$dir"
                meson setup "$dir" "$@" || return 1
        fi
        meson compile -C "$dir"
}

unit() { meson test -C "$1" --suite unit --print-errorlogs --no-rebuild; }

# puppeteer-core for the Cockpit page's browser test (tests/browser/cockpit-test.sh), from the lock file: the
# testbed has no network, so it is installed here, into BUILD_DIR/browser, before the testbed comes up.
browser_deps() {        # browser_deps BUILD_DIR
        # Debian's nodejs comes without npm (NodeSource's has it built in): only then is the package needed.
        command -v npm > /dev/null ||
                apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends npm || return 1
        mkdir -p "$1/browser" || return 1
        cp tests/browser/package.json tests/browser/package-lock.json "$1/browser/" || return 1
        (cd "$1/browser" && npm ci --no-audit --no-fund)
}

# shellcheck source=tests/lib/lsan-works.sh
. "$PROJECT/tests/lib/lsan-works.sh"

ns_integration() {      # ns_integration BUILD_DIR
        local rc=0
        "$TESTBED" up || return 1
        "$TESTBED" run tests/integration/run-inside.sh "$1" || rc=$?
        "$TESTBED" down || true
        return "$rc"
}

vm_integration() {
        "$TESTBED" vm-prepare || return 1
        # the whole suite under emulation takes 6-10 min on 2 cores; leave room for a slow machine
        TB_VM_TIMEOUT=${TB_VM_TIMEOUT:-2400} "$TESTBED" vm-run 'tests/integration/run-inside.sh build-ci'
}

on_signal() {
        trap '' INT TERM
        echo "run-all: interrupted: taking the testbed down" >&2
        "$TESTBED" down > /dev/null 2>&1 || true
        exit 130
}

main() {
        local ok_ci=0 ok_asan=0
        [ "$(id -u)" = 0 ] || { echo "run-all: run as root (sudo tests/run-all.sh)" >&2; exit 1; }
        trap on_signal INT TERM
        rm -rf "$LOGS"
        mkdir -p "$LOGS"
        # a testbed left over by a killed earlier run
        "$TESTBED" down > /dev/null 2>&1 || true

        stage packages - packages

        if stage build-ci - build build-ci; then
                ok_ci=1
                stage unit build-ci unit build-ci
                stage browser-deps - browser_deps build-ci
                stage unit-valgrind build-ci tests/valgrind-unit.sh build-ci
        fi
        stage build-release - build build-release -Dbuildtype=release

        if [ "${TB_SKIP_ASAN:-0}" = 1 ]; then
                skip_stage build-asan "TB_SKIP_ASAN=1"
        elif stage build-asan - build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
                ok_asan=1
                local leaks=1
                lsan_works "${CC:-cc}" || { leaks=0; echo "run-all: LeakSanitizer does not work here: detect_leaks=0"; }
                export ASAN_OPTIONS="detect_leaks=$leaks:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1"
                export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
                stage unit-asan build-asan unit build-asan
                unset ASAN_OPTIONS UBSAN_OPTIONS
        fi
        # (its own sanitizer options: tests/fuzz/run-one.sh)
        stage fuzz build-fuzz tests/fuzz/run-bounded.sh build-fuzz "${TB_FUZZ_SECONDS:-30}"

        if [ $ok_ci = 1 ]; then
                stage ns-integration build-ci ns_integration build-ci
        else
                skip_stage ns-integration "build-ci failed"
        fi
        if [ $ok_asan = 1 ]; then
                export ASAN_OPTIONS="detect_leaks=${leaks:-1}:halt_on_error=1:detect_stack_use_after_return=1"
                export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
                stage ns-integration-asan build-asan ns_integration build-asan
                unset ASAN_OPTIONS UBSAN_OPTIONS
        fi

        if [ "${TB_SKIP_VM:-0}" = 1 ]; then
                [ "${CI:-}" = true ] && echo "run-all: WARNING: TB_SKIP_VM=1 in CI: the cgroup v2 run is missing"
                skip_stage vm-integration "TB_SKIP_VM=1"
        elif [ $ok_ci = 1 ]; then
                stage vm-integration build-ci vm_integration
        else
                skip_stage vm-integration "build-ci failed"
        fi

        if [ "${TB_SKIP_PACKAGE:-0}" = 1 ]; then
                skip_stage package "TB_SKIP_PACKAGE=1"
        else
                stage package "@$LOGS/package.log" env PKG_NOCHECK=1 PKG_OUT="$PROJECT/build-pkg" \
                        TB_DIR="$PROJECT/tests/testbed/run/pkg" tests/package/run.sh
        fi

        if [ -s "$LOGS/failures.txt" ]; then
                say "failed tests (whole outputs: $LOGS/*.testlog.json)"
                head -n 150 "$LOGS/failures.txt"
        fi
        say "stages"
        printf '%s\n' "${STAGE_LINES[@]}"
        printf '%-22s %-8s %5ss\n' total "" $((SECONDS - T_START))
        echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
        [ "$FAILED" = 0 ]
}

main "$@"; exit         # one line: an edit of this file during a run must not feed bash new text
