#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/demo.sh - build teleworker, start the service on its built-in defaults and run a demo job.
#
# On a host whose PID 1 is systemd (a Debian 12 machine): installs the build (prefix /usr), the units
# and the bus policy, starts teleworkerd.service and runs the demo with telerun.
# Where PID 1 is not systemd (containers, CI sandboxes): boots the project's testbed (Debian's systemd
# as PID 1 of fresh namespaces, with its own system bus; tests/testbed.sh) and does the same inside it,
# without installing anything on the host. Run as root.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
PROJECT=$PWD
BUILD=$PROJECT/build-demo

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Inside the testbed: the bus policy, and the daemon from the build tree as teleworkerd.service.
if [ "${1:-}" = --start-inside ]; then
        install -m 0644 dbus/org.teleworker.worker1.conf /etc/dbus-1/system.d/
        busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
        mkdir -p "$BUILD/demo-state"
        ln -sf "$BUILD/cli/telerun" /usr/local/bin/telerun
        exec systemd-run --quiet --unit=teleworkerd.service -p Type=notify \
                --setenv=STATE_DIRECTORY="$BUILD/demo-state" \
                --setenv=TELEWORKER_EXEC_PATH="$BUILD/src/exec/teleworker-exec" \
                "$BUILD/src/daemon/teleworkerd" --config /etc/teleworker/teleworker.json
fi

[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
say "installing build dependencies (Debian packages)"
need=()
for p in meson ninja-build pkg-config gcc libsystemd-dev libglib2.0-dev libjson-c-dev libssl-dev \
        libhttp-parser-dev libcurl4-openssl-dev systemd dbus util-linux openssl; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

say "building"
[ -d "$BUILD" ] || meson setup "$BUILD" --prefix=/usr --sysconfdir=/etc --localstatedir=/var -Dtests=false
meson compile -C "$BUILD"

demo_job() {    # $1: how to run a command where the service is
        local run=$1
        say "telerun run: a job in its own transient scope, output streamed live"
        # --cwd /: a job starts in the caller's directory by default, and a clone under /tmp is hidden from it
        # (jobs get a private /tmp, as with systemd's PrivateTmp=)
        $run telerun run --cwd / --memory 256M --cpu 50% -- /bin/sh -c \
                'echo "hello from job $$ as $(id -un)"; echo "scope: $(grep -o "teleworker-[^/]*scope" /proc/self/cgroup | head -n1)";
                 for i in 1 2 3; do echo "tick $i"; sleep 0.3; done; echo "to stderr" >&2; exit 3' || echo "(exit status $?, the job's own)"
        say "telerun list / status"
        $run telerun list -a
        $run sh -c 'telerun status "$(telerun list -a --json | python3 -c "import json,sys; print(json.load(sys.stdin)[-1][\"id\"])")"'
        say "busctl by hand"
        $run busctl call org.teleworker.worker1 /org/teleworker/worker1 org.teleworker.worker1.Manager List
}

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ]; then
        say "installing and starting teleworkerd.service"
        meson install -C "$BUILD" --no-rebuild
        systemctl daemon-reload
        busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
        systemctl restart teleworkerd.service
        systemctl --no-pager status teleworkerd.service | head -n 5
        demo_job ""
        say "the service keeps running: try 'telerun run -- uname -a' (docs/cli.md)"
else
        say "PID 1 is $(cat /proc/1/comm), not systemd: running the service inside the project's testbed"
        export TB_DIR=$PROJECT/tests/testbed/demo TB_BIND=$PROJECT
        tests/testbed.sh down >/dev/null 2>&1 || true
        tests/testbed.sh up
        trap 'tests/testbed.sh down' EXIT
        tests/testbed.sh run bash tests/demo.sh --start-inside
        demo_job "tests/testbed.sh run"
        say "done: the testbed is powered off again (run tests/testbed.sh up to keep one)"
fi
