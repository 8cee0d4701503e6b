#!/bin/bash
# SPDX-License-Identifier: MIT
# cockpit-test.sh - the Cockpit page in a real browser, inside the testbed (run by run-inside.sh through meson,
# suite integration, with the test teleworkerd up): Cockpit's own socket unit serves the page (installed by
# meson into each test user's ~/.local/share/cockpit: the testbed's /home, the host's /usr stays as it is),
# tbuser1 and tbadmin get passwords (chpasswd in the testbed's overlay /etc), and cockpit-test.js drives
# Debian's headless Chromium through puppeteer-core (npm ci into BUILD/browser, tests/run-all.sh). Skipped (77)
# when Chromium, Cockpit or puppeteer-core is missing.
set -euo pipefail

BUILD=${TELEWORKER_TEST_BUILD_DIR:?run me through tests/integration/run-inside.sh}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$BUILD/browser
SHOTS=$OUT/screenshots
TELERUN=$BUILD/cli/telerun

skip() { echo "cockpit-test: skipped: $*"; exit 77; }
[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium)"
[ -x /usr/lib/cockpit/cockpit-ws ] || skip "no cockpit-ws (apt-get install cockpit-ws cockpit-bridge)"
command -v node > /dev/null || skip "no node"
[ -d "$OUT/node_modules/puppeteer-core" ] || skip "no puppeteer-core in $OUT (tests/run-all.sh runs npm ci there)"
[ "${TELEWORKER_INTEGRATION:-}" = 1 ] || skip "not inside the testbed"
# The VM testbed emulates its CPU (TCG) and reads / over 9p: Chromium would take most of the VM's time budget.
# The page only speaks D-Bus, the same on both cgroup layouts; TW_BROWSER_IN_VM=1 runs it there anyway.
[ "${TB_INSIDE:-}" != vm ] || [ "${TW_BROWSER_IN_VM:-0}" = 1 ] || skip "in the VM testbed (TW_BROWSER_IN_VM=1 runs it)"

t0=$SECONDS
mkdir -p "$SHOTS" "$OUT/home"
rm -rf "$OUT/root"
meson install -C "$BUILD" --no-rebuild --quiet --destdir "$OUT/root" > /dev/null
PAGE=$(find "$OUT/root" -type d -path '*/share/cockpit/teleworker' | head -n 1)
[ -f "$PAGE/manifest.json" ] || { echo "cockpit-test: meson did not install the page"; exit 1; }

# Logins: pam_nologin refuses users until systemd-user-sessions ran, which the testbed does not start.
rm -f /run/nologin
PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
for u in tbuser1 tbadmin; do
        echo "$u:$PASSWORD" | chpasswd
        home=$(getent passwd "$u" | cut -d: -f6)
        install -d -o "$u" -g "$u" "$home" "$home/.local" "$home/.local/share" "$home/.local/share/cockpit"
        rm -rf "$home/.local/share/cockpit/teleworker"
        cp -r "$PAGE" "$home/.local/share/cockpit/teleworker"
        chown -R "$u:" "$home/.local/share/cockpit/teleworker"
done
systemctl start cockpit.socket

# tbuser2's job: tbuser1 must not see it, tbadmin must.
other=$(runuser -u tbuser2 -- "$TELERUN" start -- /bin/sleep 300)
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() { "$TELERUN" stop "$other" > /dev/null 2>&1 || true; }
trap cleanup EXIT

# Measuring (docs/cockpit.md): TW_LOAD_JOBS=1000 keeps that many more (ended) jobs of tbadmin's first.
if [ "${TW_LOAD_JOBS:-0}" -gt 0 ]; then
        tl=$SECONDS
        seq "$TW_LOAD_JOBS" | xargs -P 4 -I{} runuser -u tbadmin -- "$TELERUN" start -- /bin/true > /dev/null
        echo "cockpit-test: $TW_LOAD_JOBS jobs started in $((SECONDS - tl)) s"
fi

rc=0
for u in tbuser1 tbadmin; do
        expect=0
        [ "$u" = tbadmin ] && expect=1
        HOME=$OUT/home NODE_PATH=$OUT/node_modules TW_URL=http://127.0.0.1:9090 TW_USER=$u TW_PASSWORD=$PASSWORD \
                TW_TELERUN=$TELERUN TW_OTHER_JOB=$other TW_EXPECT_OTHER=$expect TW_SHOTS=$SHOTS \
                TW_SLOWDOWN=$([ "${TB_INSIDE:-}" = vm ] && echo 10 || echo 1) \
                node "$HERE/cockpit-test.js" || rc=$?
done
echo "cockpit-test: $((SECONDS - t0)) s in all; screenshots in $SHOTS"
exit $rc
