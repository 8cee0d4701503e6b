#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/integration/run-inside.sh BUILD_DIR [MESON_TEST_ARGS...] - the integration suite against the
# teleworkerd of BUILD_DIR. Runs INSIDE a testbed, as root (tests/testbed.sh run / vm-run): it
# installs the bus policy and starts the daemon as teleworkerd.service in the manager it runs under.
#
#   1. install dbus/org.teleworker.worker1.conf into /etc/dbus-1/system.d if it is missing or
#      differs, and ask the bus to reload its configuration
#   2. start BUILD_DIR/src/daemon/teleworkerd --config tests/integration/teleworker.json as the
#      transient teleworkerd.service (Type=notify), with a fresh state directory on a real block
#      device (IO limits need one): $TB_SCRATCH/teleworker-state in the VM, BUILD_DIR/tb-state in
#      the namespace testbed (the shared project tree is on the host's disk)
#   3. wait until it owns org.teleworker.worker1, then
#      meson test -C BUILD_DIR --suite integration --print-errorlogs --no-rebuild [MESON_TEST_ARGS]
#   4. stop the daemon; save its journal to BUILD_DIR/meson-logs/teleworkerd.journal and print it
#      when anything failed
# Exit status: meson test's; 1 if the tests passed but the daemon did not start, died, or did not
# stop cleanly (a crash, a sanitizer report, a leak at exit).
#
# The tests get in their environment: TELEWORKER_INTEGRATION=1 (the daemon must answer: no skipping),
# TELEWORKER_TEST_UNIT (teleworkerd.service),
# TELEWORKER_TEST_STATE_DIR, TELEWORKER_TEST_CONFIG, TELEWORKER_TEST_BUILD_DIR,
# TELEWORKER_TEST_SOURCE_DIR, and from the testbed TB_INSIDE, TB_DEVICE (the block device behind the
# state directory) and, in the VM, TB_SCRATCH.
#
# Environment: TELEWORKER_TEST_STATE_DIR (override the state directory), TELEWORKER_TEST_START_TIMEOUT
# (seconds, default 60), any other TELEWORKER_*, ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS and
# G_DEBUG are passed to the daemon too.
set -euo pipefail
{       # parsed whole before it runs: an edit of this file during a run must not feed bash new text

UNIT=teleworkerd.service
BUS_NAME=org.teleworker.worker1
POLICY=org.teleworker.worker1.conf

log() { echo "run-inside: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -ge 1 ] || die "usage: $0 BUILD_DIR [MESON_TEST_ARGS...]"
BUILD=$(readlink -f "$1")
shift
[ -f "$BUILD/meson-info/meson-info.json" ] || die "$BUILD is not a meson build directory"
# This script changes the bus configuration and starts a root daemon in the manager it runs under:
# that must be a testbed's, never a host's.
[ -n "${TB_INSIDE:-}" ] || die "not inside a testbed: use tests/testbed.sh run ... or vm-run '...'"
[ "$(id -u)" = 0 ] || die "needs root"
[ -d /run/systemd/system ] || die "systemd is not the service manager here"

SRC=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
        "$BUILD/meson-info/meson-info.json")
DAEMON=$BUILD/src/daemon/teleworkerd
EXEC_HELPER=$BUILD/src/exec/teleworker-exec
CONFIG_SOURCE=$SRC/tests/integration/teleworker.json
# a copy the daemon reads: the reload test rewrites it (and puts it back)
CONFIG=$BUILD/tb-config/teleworker.json
STATE=${TELEWORKER_TEST_STATE_DIR:-${TB_SCRATCH:+$TB_SCRATCH/teleworker-state}}
STATE=${STATE:-$BUILD/tb-state}
JOURNAL=$BUILD/meson-logs/teleworkerd.journal
[ -x "$DAEMON" ] || die "$DAEMON is not built"
[ -x "$EXEC_HELPER" ] || die "$EXEC_HELPER is not built"
[ -f "$CONFIG_SOURCE" ] || die "no $CONFIG_SOURCE"
mkdir -p "$(dirname "$CONFIG")"
cp "$CONFIG_SOURCE" "$CONFIG"
case "$STATE" in /?*) ;; *) die "bad state directory '$STATE'" ;; esac

# 1. the bus policy: only root may own the name, anyone may call
if ! cmp -s "$SRC/dbus/$POLICY" "/etc/dbus-1/system.d/$POLICY"; then
        [ -f "$SRC/dbus/$POLICY" ] || die "no $SRC/dbus/$POLICY"
        install -m 0644 "$SRC/dbus/$POLICY" /etc/dbus-1/system.d/
        busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
        log "installed the bus policy $POLICY"
fi

# 2. the daemon, from the build tree, in a clean state
systemctl stop "$UNIT" 2> /dev/null || true
systemctl reset-failed "$UNIT" 2> /dev/null || true
rm -rf "$STATE"
mkdir -p "$STATE" "$BUILD/meson-logs"
envs=(--setenv=STATE_DIRECTORY="$STATE" --setenv=TELEWORKER_EXEC_PATH="$EXEC_HELPER")
while IFS= read -r v; do
        case "$v" in
        TELEWORKER_EXEC_PATH | TELEWORKER_TEST_*) ;;
        TELEWORKER_* | ASAN_OPTIONS | UBSAN_OPTIONS | LSAN_OPTIONS | G_DEBUG) envs+=(--setenv="$v=${!v}") ;;
        esac
done < <(compgen -e)
# everything the journal gets from here on about the unit, across restarts, is this run's
cursor=$(journalctl -q -n 0 --show-cursor 2> /dev/null | sed -n 's/^-- cursor: //p') || cursor=
systemd-run --quiet --no-block --unit="$UNIT" --description="teleworkerd from $BUILD (tests)" \
        -p Type=notify -p NotifyAccess=main -p TimeoutStartSec=120 -p TimeoutStopSec=90 \
        -p FileDescriptorStoreMax=4096 -p LimitNOFILE=65536 -p Restart=on-failure -p RestartSec=200ms \
        -p StartLimitIntervalSec=0 \
        "${envs[@]}" -- "$DAEMON" --config "$CONFIG"

print_journal() {
        # what the daemon wrote, and what the manager said about it (exit statuses, restarts...)
        journalctl -q --no-pager -o short-monotonic ${cursor:+--after-cursor="$cursor"} -u "$UNIT" \
                > "$JOURNAL" 2>&1 || true
        if [ "${1:-}" = print ]; then
                echo "======== journal of $UNIT ($JOURNAL)" >&2
                cat "$JOURNAL" >&2
                echo "======== end of journal" >&2
        fi
}

log "waiting for $BUS_NAME (state directory $STATE, TB_DEVICE=${TB_DEVICE:-none})"
deadline=$((SECONDS + ${TELEWORKER_TEST_START_TIMEOUT:-60}))
while :; do
        state=$(systemctl show -P ActiveState "$UNIT")
        owned=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                NameHasOwner s "$BUS_NAME" 2> /dev/null) || owned=
        [ "$state" = active ] && [ "$owned" = "b true" ] && break
        # with Restart=on-failure a daemon that dies at start loops in "activating": fail at once
        if [ "$state" = failed ] || [ "$state" = inactive ] || [ $SECONDS -ge $deadline ] ||
           [ "$(systemctl show -P NRestarts "$UNIT")" != 0 ]; then
                log "$UNIT did not come up (state $state, name owned: ${owned:-?})"
                systemctl --no-pager status "$UNIT" >&2 || true
                print_journal print
                exit 1
        fi
        sleep 0.1
done
log "$UNIT is up (pid $(systemctl show -P MainPID "$UNIT"))"

# 3. the suite
export TELEWORKER_INTEGRATION=1 TELEWORKER_TEST_UNIT=$UNIT TELEWORKER_TEST_STATE_DIR=$STATE \
        TELEWORKER_TEST_CONFIG=$CONFIG TELEWORKER_TEST_BUILD_DIR=$BUILD TELEWORKER_TEST_SOURCE_DIR=$SRC
rc=0
meson test -C "$BUILD" --suite integration --print-errorlogs --no-rebuild "$@" || rc=$?

# 4. the daemon must still be there, and must stop cleanly
daemon_ok=1
state=$(systemctl show -P ActiveState "$UNIT")
if [ "$state" != active ]; then
        log "$UNIT is no longer running after the tests (state $state)"
        daemon_ok=0
fi
systemctl stop "$UNIT" || true
result=$(systemctl show -P Result "$UNIT")
if [ "$result" != success ]; then
        log "$UNIT ended with result '$result' (status $(systemctl show -P ExecMainStatus "$UNIT"))"
        daemon_ok=0
fi
leftover=$(systemctl list-units --plain --no-legend --all 'teleworker-*.scope' | awk '{ print $1 }')
if [ -n "$leftover" ]; then
        log "warning: job scopes left after the daemon stopped: $(echo "$leftover" | tr '\n' ' ')"
        # shellcheck disable=SC2086 # one unit per word
        systemctl stop $leftover || true
fi
# A crash during the tests is hidden by Restart=on-failure (the tests themselves SIGKILL it, which
# is fine): look for sanitizer reports and crash signals in what the daemon and systemd logged.
print_journal
crash=$(grep -E 'Sanitizer|runtime error:|code=dumped|status=(4/ILL|6/ABRT|7/BUS|8/FPE|11/SEGV)' "$JOURNAL" |
        head -n 5) || true
if [ -n "$crash" ]; then
        log "the daemon crashed or a sanitizer reported during the tests:"
        echo "$crash" >&2
        daemon_ok=0
fi
if [ $rc -ne 0 ] || [ $daemon_ok = 0 ]; then
        print_journal print
        [ $rc -ne 0 ] || rc=1
fi
log "meson test status $rc, daemon $([ $daemon_ok = 1 ] && echo ok || echo FAILED)"
exit $rc
}
