#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/package/run.sh - the Debian packages, end to end. As root on the host (Debian 12):
#
#       sudo tests/package/run.sh
#
#   1. copies the working tree (tracked and untracked, not ignored files) to $PKG_OUT/src and builds
#      the binary packages there with dpkg-buildpackage -us -uc -b (the unit suite runs in the build);
#      missing Build-Depends are installed with apt-get first
#   2. lintian, if installed (errors fail the test)
#   3. boots a namespace testbed (tests/testbed.sh; TB_DIR=tests/testbed/pkg, TB_BIND=$PKG_OUT) and runs
#      tests/package/inside.sh there: apt install, D-Bus activation, certificates, jobs over mTLS with
#      curl and telerun, restart, upgrade, remove with a running job, purge, fresh accounts
#   4. tests/testbed.sh down (also on failure or Ctrl-C)
#
# Prints PASS/FAIL lines (TODO: a feature that is not there yet, never counted as passed) and, last,
#       package: N passed, N failed, N not yet testable
# Exit status 0 only if nothing failed.
#
# Environment: PKG_OUT    build and .deb directory (default build-pkg in the project; emptied first)
#              PKG_REUSE=1  skip the build and use the .debs already in $PKG_OUT
#              PKG_NOCHECK=1  build with DEB_BUILD_OPTIONS=nocheck (no unit suite; quicker)
#              TB_DIR     testbed state (default tests/testbed/pkg)
set -uo pipefail

PROJECT=$(dirname "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")")
TESTBED=$PROJECT/tests/testbed.sh
OUT=$(readlink -m "${PKG_OUT:-$PROJECT/build-pkg}")
export TB_DIR=${TB_DIR:-$PROJECT/tests/testbed/pkg}
export TB_BIND=$OUT
T0=$SECONDS
PASS=0 FAIL=0 TODO=0

say() { printf '\n==== %s\n' "$*"; }
pass() { PASS=$((PASS + 1)); echo "PASS: $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
finish() {
        echo
        echo "package: $PASS passed, $FAIL failed, $TODO not yet testable ($((SECONDS - T0)) s)"
        [ "$FAIL" = 0 ]
        exit
}

[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (dpkg-buildpackage's Build-Depends, the testbed)" >&2; exit 2; }
case "$OUT" in
/ | /tmp | /var/tmp | /work | "$PROJECT") echo "run.sh: PKG_OUT=$OUT: use a directory of its own" >&2; exit 2 ;;
esac

# ------------------------------------------------------------------------------------------------
if [ "${PKG_REUSE:-0}" != 1 ]; then
        say "build"
        t=$SECONDS
        rm -rf "$OUT"
        mkdir -p "$OUT/src/teleworker"
        # The working tree as it is (others' work in progress included), without build trees and testbeds.
        (cd "$PROJECT" && git ls-files -z --cached --others --exclude-standard | grep -zv '^tests/testbed/' |
                tar --null -T - --ignore-failed-read -cf - 2> /dev/null) | tar -xf - -C "$OUT/src/teleworker"
        cd "$OUT/src/teleworker" || exit 1
        if ! missing=$(dpkg-checkbuilddeps 2>&1); then
                missing=$(sed -n 's/.*Unmet build dependencies: //p' <<< "$missing" | sed 's/([^)]*)//g; s/<[^>]*>//g')
                echo "installing Build-Depends: $missing"
                # shellcheck disable=SC2086 # one package per word
                apt-get install -y -q --no-install-recommends $missing > "$OUT/apt.log" 2>&1 ||
                        { apt-get update -q > /dev/null 2>&1 &&
                          apt-get install -y -q --no-install-recommends $missing >> "$OUT/apt.log" 2>&1; } ||
                        { fail "install Build-Depends ($missing); see $OUT/apt.log"; finish; }
        fi
        for tool in curl openssl; do
                command -v "$tool" > /dev/null || apt-get install -y -q --no-install-recommends "$tool" > /dev/null 2>&1
        done
        env=()
        [ "${PKG_NOCHECK:-0}" = 1 ] && env+=(DEB_BUILD_OPTIONS=nocheck)
        if env "${env[@]}" dpkg-buildpackage -us -uc -b > "$OUT/build.log" 2>&1; then
                pass "dpkg-buildpackage -us -uc -b ($((SECONDS - t)) s; log: $OUT/build.log)"
        else
                fail "dpkg-buildpackage -us -uc -b; the end of $OUT/build.log:"
                tail -n 40 "$OUT/build.log" | sed 's/^/    | /'
                finish
        fi
        tests=$(grep -E '^(Ok|Fail|Skipped|Timeout): ' "$OUT/build.log" | tr -s ' ' | paste -sd ' ')
        [ -n "$tests" ] && echo "INFO: unit suite in the build: $tests"
        cd "$OUT" || exit 1
        rm -rf "$OUT/src/teleworker"     # the .debs, .changes and .buildinfo stay in $OUT/src
fi
DEBDIR=$OUT/src
for p in teleworker teleworker-gateway telerun cockpit-teleworker; do
        [ -f "$(echo "$DEBDIR/${p}"_*.deb)" ] || { fail "no $p .deb in $DEBDIR"; finish; }
done
# The Cockpit page: its files where Cockpit looks (the browser test, tests/browser/, uses the page itself).
# The listing is read whole first: grep -q in the pipe exits at its match and dpkg-deb's tar dies of SIGPIPE.
listing=$(dpkg-deb -c "$DEBDIR"/cockpit-teleworker_*.deb)
if grep -q ' \./usr/share/cockpit/teleworker/manifest\.json$' <<< "$listing"; then
        pass "cockpit-teleworker: /usr/share/cockpit/teleworker/manifest.json"
else
        fail "cockpit-teleworker: no /usr/share/cockpit/teleworker/manifest.json in the package"
fi

if command -v lintian > /dev/null; then
        if out=$(lintian --fail-on error "$DEBDIR"/teleworker_*.changes 2>&1); then
                pass "lintian: no errors${out:+ ($(grep -c '^[WI]:' <<< "$out") warnings/info)}"
        else
                fail "lintian"
        fi
        [ -n "$out" ] && sed 's/^/    | /' <<< "$out"
else
        echo "INFO: lintian not installed, skipped"
fi

# ------------------------------------------------------------------------------------------------
say "testbed"
cp "$PROJECT/tests/package/inside.sh" "$OUT/inside.sh"
trap '"$TESTBED" down > /dev/null 2>&1' EXIT
trap 'exit 130' INT TERM
if ! "$TESTBED" up; then
        fail "tests/testbed.sh up"
        finish
fi
pass "testbed up"
cd "$OUT" || exit 1
out=$(timeout 600 "$TESTBED" run bash "$OUT/inside.sh" "$DEBDIR" 2>&1)
rc=$?
echo "$out"
p=$(grep -c '^PASS: ' <<< "$out") f=$(grep -c '^FAIL: ' <<< "$out") t=$(grep -c '^TODO: ' <<< "$out")
PASS=$((PASS + p)) FAIL=$((FAIL + f)) TODO=$((TODO + t))
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then fail "inside.sh exited with $rc"; fi
if "$TESTBED" down; then pass "testbed down"; else fail "tests/testbed.sh down"; fi
trap - EXIT
finish
