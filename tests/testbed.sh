#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/testbed.sh - a real systemd manager and a real system bus for teleworker's integration tests.
#
# teleworkerd needs systemd as PID 1 (transient scopes, unit properties) and a system bus. Tests must
# not use the host's: CI hosts often do not run systemd at all, and a test must never create units in
# the host's manager. So this script brings up a throw-away one, in one of two ways:
#
#   namespace testbed (~1 s boot; cgroup layout = the host's, hybrid v1 on the CI machine):
#     testbed.sh up                          boot it (state in $TB_DIR)
#     testbed.sh run [--uid N|--user NAME] CMD...
#                                            CMD as a transient service inside (--pipe --wait); cwd,
#                                            exit status and selected environment variables carried over
#     testbed.sh enter [CMD...]              nsenter into it (a debugging shell; not in its cgroup tree)
#     testbed.sh down                        power it off and remove what up created; idempotent,
#                                            also cleans up after a crashed or killed run
#   Debian's systemd runs as PID 1 of new pid/mount/cgroup/uts/ipc/net namespaces. Its root is an
#   overlay (lower: host /, upper: tmpfs), so nothing it writes reaches the host's disk except the
#   TB_BIND directories, bound read-write at the same path. Its cgroups are new child cgroups of ours
#   (on a systemd host: of a delegated scope), its system bus is a dbus-daemon it starts itself.
#
#   VM testbed (cgroup v2 with all controllers, the layout Debian 12 users have; ~1 min per run):
#     testbed.sh vm-prepare                  install qemu + static busybox if missing, extract a kernel
#                                            from Debian's linux-image .deb (not installed); cache in
#                                            $TB_VM_DIR
#     testbed.sh vm-run 'SHELL COMMAND'      boot, run the command (cwd = $PWD), stream its output,
#                                            power off; exit status = the command's
#   qemu (TCG) boots Debian's kernel; the root is the host / over 9p read-only with a tmpfs overlay,
#   TB_BIND directories are shared read-write at the same path, /dev/vda is a scratch disk with an
#   ext4 file system mounted at /srv/tb-scratch.
#
# Inside both: testbed.target (basic.target + the system bus + the test accounts), the accounts
# tbuser1 (4001), tbuser2 (4002), tbadmin (4003, group teleworker-admin), the system accounts
# teleworker-gw and teleworker-job, and in every service's environment TB_INSIDE=namespace|vm,
# TB_DEVICE=<block device behind the shared project tree, or /dev/vda in the VM> and, in the VM,
# TB_SCRATCH=/srv/tb-scratch (a directory on TB_DEVICE). See docs/testing.md.
#
# Environment:
#   TB_DIR            namespace testbed state (default tests/testbed/run)
#   TB_VM_DIR         VM cache and state (default tests/testbed/vm)
#   TB_BIND           space-separated host directories shared read-write (default: the project root).
#                     Never /, /tmp, /var/tmp, /run, /var, /etc, /usr, /home... : the testbed's
#                     systemd-tmpfiles empties /tmp at boot, and through a bind that is the host's.
#   TB_DBUS_POLICY    space-separated bus policy files copied into /etc/dbus-1/system.d inside
#   TB_BOOT_TIMEOUT   seconds for the namespace testbed to boot (default 60)
#   TB_DOWN_TIMEOUT   seconds for a clean poweroff before SIGKILL (default 15)
#   TB_KEEP_FAILED=1  leave a testbed that failed to boot in place, to look at it (then: down)
#   TB_PID1_ARGS      extra arguments for the testbed's systemd (--log-target=console --log-level=debug)
#   TB_VM_TIMEOUT     seconds a whole vm-run may take (default 900)
#   TB_VM_MEM         VM memory in MiB (default 2048)
#   TB_VM_ACCEL       qemu accelerator (default tcg,thread=multi; kvm where KVM runs a stock kernel)
set -euo pipefail
shopt -s nullglob

# (builtins where possible: the script starts three times per boot, and forks are slow on a busy host)
SELF=${BASH_SOURCE[0]}
[[ $SELF == /* && $SELF != *..* && $SELF != */./* && ! -L $SELF ]] || SELF=$(readlink -f "$SELF")
PROJECT=${SELF%/*/*}
TB_DIR=${TB_DIR:-$PROJECT/tests/testbed/run}
[[ $TB_DIR == /* && $TB_DIR != *..* && $TB_DIR != */./* ]] || TB_DIR=$(readlink -m "$TB_DIR")
TB_VM_DIR=$(readlink -m "${TB_VM_DIR:-$PROJECT/tests/testbed/vm}")
TB_BIND=${TB_BIND:-$PROJECT}
TB_DBUS_POLICY=${TB_DBUS_POLICY:-}
TB_BOOT_TIMEOUT=${TB_BOOT_TIMEOUT:-60}
TB_DOWN_TIMEOUT=${TB_DOWN_TIMEOUT:-15}

# Host variables a command inside gets (run, vm-run); plus TB_* and TELEWORKER_*.
PASS_ENV="PATH LANG LC_ALL TERM CI NO_COLOR MESON_TESTTHREADS G_DEBUG G_MESSAGES_DEBUG G_SLICE
ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS"

# Units neither testbed needs; masked in the overlay /etc. The namespace testbed shares the host
# kernel with full capabilities, so nothing that loads modules or seeds the kernel's RNG may run.
MASK_UNITS="getty.target console-getty.service serial-getty@ttyS0.service getty@tty1.service
timers.target systemd-timesyncd.service systemd-pstore.service systemd-journald-audit.socket
systemd-modules-load.service modprobe@.service kmod-static-nodes.service systemd-random-seed.service
systemd-remount-fs.service systemd-firstboot.service ldconfig.service systemd-update-done.service
systemd-journal-catalog-update.service systemd-hwdb-update.service systemd-update-utmp.service
apt-daily.service apt-daily-upgrade.service e2scrub_reap.service e2scrub_all.service cron.service
ssh.service ssh.socket postgresql.service dev-hugepages.mount sys-fs-fuse-connections.mount
sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount"

tb_log() { printf 'testbed: %s\n' "$*" >&2; }
tb_die() { tb_log "error: $*"; exit 1; }
tb_now() { echo "${EPOCHREALTIME/,/.}"; }
tb_since() { awk -v a="$1" -v b="$(tb_now)" 'BEGIN { printf "%.1f", b - a }'; }

# ------------------------------------------------------------------------------------------------
# Process identity. State files hold "PID STARTTIME": a PID is only ever signalled while its start
# time still matches, so a stale file from a crashed run can never hit a recycled PID.

tb_starttime() {        # field 22 of /proc/PID/stat; comm (field 2) may contain spaces and ')'
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        # shellcheck disable=SC2086 # split into fields on purpose
        set -- $stat
        echo "${20}"
}

tb_pid_record() { printf '%s %s\n' "$1" "$(tb_starttime "$1")" > "$2"; }

tb_pid_alive() {        # tb_pid_alive FILE: print the PID if that very process still runs
        local pid start
        [ -s "$1" ] || return 1
        read -r pid start < "$1" || return 1
        [ -n "$pid" ] && [ "$(tb_starttime "$pid" 2>/dev/null)" = "$start" ] && tb_running "$pid" || return 1
        echo "$pid"
}

tb_running() {          # alive and not a zombie waiting for its parent
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ]
}

# Every wait has a wall-clock deadline: under emulation (the VM) a loop iteration costs far more than
# its sleep, so counting iterations would stretch a 60 s timeout into many minutes.
tb_wait_gone() {        # tb_wait_gone PID SECONDS
        local end=$((SECONDS + $2))
        while tb_running "$1"; do
                [ $SECONDS -lt $end ] || return 1
                sleep 0.1
        done
}

# ------------------------------------------------------------------------------------------------
# Checks shared by both testbeds.

tb_check_binds() {       # and make TB_BIND canonical: absolute, no symlinks
        local b r canon=()
        [ -n "$TB_BIND" ] || return 0
        for b in $TB_BIND; do
                [ -d "$b" ] || tb_die "TB_BIND '$b' is not a directory"
                r=$(readlink -f "$b")
                case "$r" in
                / | /tmp | /var/tmp | /run | /run/* | /var | /etc | /etc/* | /usr | /usr/* | /home | /root | \
                /boot | /srv | /proc | /proc/* | /sys | /sys/* | /dev | /dev/*)
                        tb_die "TB_BIND '$b' ($r) is not allowed: the testbed's own boot would write to" \
                               "or empty it (systemd-tmpfiles cleans /tmp). Bind a subdirectory instead," \
                               "e.g. /tmp/mytests or the project tree." ;;
                esac
                canon+=("$r")
        done
        TB_BIND=${canon[*]}
}

tb_host_is_systemd() { [ -d /run/systemd/system ]; }   # sd_booted()

# The whole-disk node behind the file system holding $1 (systemd throttles whole disks), if any.
tb_devname() {          # tb_devname UEVENT_FILE: its DEVNAME=, with builtins only
        local k v
        while IFS='=' read -r k v; do
                if [ "$k" = DEVNAME ]; then echo "$v"; return 0; fi
        done < "$1"
}

tb_disk_of() {
        local mm sys name
        mm=$(findmnt -nvo MAJ:MIN --target "$1" 2>/dev/null | head -n1 | tr -d ' ') || return 0
        [ -n "$mm" ] && [ -e "/sys/dev/block/$mm" ] || return 0
        sys=$(readlink -f "/sys/dev/block/$mm")
        [ -e "$sys/partition" ] && sys=$(dirname "$sys")
        name=$(tb_devname "$sys/uevent")
        if [ -n "$name" ] && [ -b "/dev/$name" ]; then echo "/dev/$name"; fi
}

# Environment variables of the caller that a command inside gets, as NAME=VALUE lines.
tb_pass_env() {
        local v
        for v in $(compgen -e); do
                case " ${PASS_ENV//$'\n'/ } " in *" $v "*) ;; *)
                        case "$v" in TB_* | TELEWORKER_*) ;; *) continue ;; esac ;;
                esac
                case "$v" in TB_DEVICE | TB_INSIDE | TB_SCRATCH) continue ;; esac     # the testbed's own
                printf '%s=%s\n' "$v" "${!v}"
        done
}

# ------------------------------------------------------------------------------------------------
# What both testbeds add to their /etc, written below ROOT: the overlay root of the namespace
# testbed, or a staging directory the VM's initramfs copies in. Never the host's /etc.
# MODE is "namespace" or "vm"; EXTRA_ENV goes into every service's environment.

tb_write() {            # tb_write FILE < TEXT, with builtins only: forks cost ~10 ms on a busy host
        local line
        while IFS= read -r line; do printf '%s\n' "$line"; done > "$1"
}

tb_render_etc() {
        local root=$1 mode=$2 extra_env=$3 etc=$1/etc f g
        local sd=$etc/systemd/system
        mkdir -p "$sd/testbed.target.wants" "$etc/systemd/system.conf.d" "$etc/systemd/journald.conf.d" \
                 "$etc/dbus-1/system.d" "$etc/sysusers.d" "$etc/tmpfiles.d"

        tb_write "$sd/testbed.target" <<'EOF'
[Unit]
Description=teleworker testbed (basic system, system bus, test accounts)
Requires=basic.target dbus.socket
Wants=dbus.service
After=basic.target dbus.service
AllowIsolate=yes
EOF
        # Test accounts: systemd-sysusers and systemd-tmpfiles create them at every boot (~10 ms;
        # useradd costs ~90 ms a call), in the testbed's /etc and /home.
        tb_write "$etc/sysusers.d/teleworker-testbed.conf" <<'EOF'
# teleworker testbed: the accounts the integration tests expect
g teleworker-admin -
u tbuser1        4001  "teleworker test user 1"  /home/tbuser1  /bin/bash
u tbuser2        4002  "teleworker test user 2"  /home/tbuser2  /bin/bash
u tbadmin        4003  "teleworker test admin"   /home/tbadmin  /bin/bash
m tbadmin        teleworker-admin
u teleworker-gw  -     "teleworker gateway"      /nonexistent   /usr/sbin/nologin
u teleworker-job -     "teleworker remote jobs"  /nonexistent   /usr/sbin/nologin
EOF
        tb_write "$etc/tmpfiles.d/teleworker-testbed.conf" <<'EOF'
d /home/tbuser1 0700 tbuser1 tbuser1 -
d /home/tbuser2 0700 tbuser2 tbuser2 -
d /home/tbadmin 0700 tbadmin tbadmin -
EOF
        # a hung unit must not eat the CI budget
        tb_write "$etc/systemd/system.conf.d/testbed.conf" <<EOF
[Manager]
DefaultEnvironment=TB_INSIDE=$mode $extra_env
DefaultTimeoutStartSec=30s
DefaultTimeoutStopSec=10s
EOF
        tb_write "$etc/systemd/journald.conf.d/testbed.conf" <<'EOF'
[Journal]
Storage=volatile
ForwardToConsole=no
ForwardToWall=no
EOF
        : > "$etc/fstab"         # the host's fstab describes the host, not us
        echo "teleworker-testbed-$mode" > "$etc/hostname"
        # shellcheck disable=SC2086 # one unit per word
        systemctl --root="$root" --quiet mask $MASK_UNITS ||
                tb_log "warning: could not mask every unit of: $MASK_UNITS"
        for f in $TB_DBUS_POLICY; do
                [ -f "$f" ] || tb_die "TB_DBUS_POLICY: no such file '$f'"
                cp "$f" "$etc/dbus-1/system.d/"
        done
        if [ "$mode" = namespace ]; then
                # a namespace testbed inside the VM testbed inherits the VM's /etc: drop the VM's
                # command unit (it would fail here and power this testbed off)
                rm -f "$sd/testbed-run.service" "$sd/testbed.target.wants/testbed-run.service"
                return 0
        fi

        # no generator is needed (empty fstab, no getty, no SysV scripts), and under TCG they cost
        # seconds; natively they are cheap, so the namespace testbed keeps them
        mkdir -p "$etc/systemd/system-generators"
        for g in /lib/systemd/system-generators/*; do
                ln -sfn /dev/null "$etc/systemd/system-generators/${g##*/}"
        done
        ln -sfn ../testbed-run.service "$sd/testbed.target.wants/testbed-run.service"
        tb_write "$sd/testbed-run.service" <<'EOF'
[Unit]
Description=teleworker testbed: the command of vm-run
After=testbed.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
TimeoutStartSec=infinity
ExecStart=/bin/bash /tbvm/wrapper.sh
EOF
}

# ================================================================================================
# Namespace testbed

# "MOUNTPOINT PATH" for every cgroup hierarchy the testbed gets: the v1 controllers systemd 252 can
# drive (cpu, cpuacct, memory, blkio, pids), name=systemd and cgroup2; PATH = our cgroup in it.
tb_cg_hierarchies() {
        local ctrls path c mp
        if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
                printf '/sys/fs/cgroup %s\n' "$(sed -n 's/^0:://p' /proc/self/cgroup)"
                return 0
        fi
        while IFS=: read -r _ ctrls path; do
                case "$ctrls" in
                "") mp=/sys/fs/cgroup/unified ;;
                name=systemd) mp=/sys/fs/cgroup/systemd ;;
                *)      mp=
                        for c in ${ctrls//,/ }; do
                                case "$c" in cpu | cpuacct | memory | blkio | pids) mp=/sys/fs/cgroup/$ctrls ;; esac
                        done
                        [ -n "$mp" ] || continue ;;
                esac
                [ -d "$mp" ] && printf '%s %s\n' "$mp" "$path"
        done < /proc/self/cgroup
}

# <our cgroup>/NAME/{payload,supervisor} in each hierarchy, recorded in $TB_DIR/cgroups. PID 1 of
# the testbed lives in payload (its cgroup namespace is rooted there), the host-side processes that
# wait for it in supervisor: on v2 a cgroup with children may not hold processes itself.
tb_cg_create() {
        local mp path d
        : > "$TB_DIR/cgroups"
        while read -r mp path; do
                d=$mp${path%/}/$1
                mkdir "$d" "$d/payload" "$d/supervisor"
                echo "$d" >> "$TB_DIR/cgroups"
        done < <(tb_cg_hierarchies)
}

tb_cg_move() {          # tb_cg_move PID payload|supervisor
        local d
        while read -r d; do echo "$1" > "$d/$2/cgroup.procs"; done < "$TB_DIR/cgroups"
}

# On cgroup v2, hand our controllers down to payload: enable them in the subtree_control of the
# cgroup we started in (on a systemd host our scope with Delegate=yes, which by now holds no process:
# we moved to supervisor), then in our own directory below it.
tb_cg_delegate() {
        local d level c ctrls
        [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || return 0
        d=$(head -n1 "$TB_DIR/cgroups")
        for level in "${d%/*}" "$d"; do
                ctrls=()
                read -ra ctrls < "$level/cgroup.controllers" || true
                for c in "${ctrls[@]}"; do
                        echo "+$c" > "$level/cgroup.subtree_control" 2>/dev/null ||
                                tb_log "warning: cannot enable the $c controller in $level"
                done
        done
        read -ra ctrls < "$d/payload/cgroup.controllers" || true
        tb_log "controllers for the testbed: ${ctrls[*]:-none}"
}

tb_cg_remove() {
        local d end left
        [ -s "$TB_DIR/cgroups" ] || return 0
        while read -r d; do
                end=$((SECONDS + 5))
                while [ -d "$d" ]; do   # a cgroup goes once its last process has been reaped
                        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
                        if ! [ -d "$d" ] || [ $SECONDS -ge $end ]; then break; fi
                        sleep 0.1
                done
                if [ -d "$d" ]; then
                        left=$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')
                        tb_log "warning: could not remove cgroup $d (processes: ${left:-none})"
                fi
        done < "$TB_DIR/cgroups"
}

# Host side: runs in background (in a delegated scope on systemd hosts) for the testbed's lifetime.
tb_launch() {
        local name=$1 u rc=0
        tb_cg_create "$name"
        tb_cg_move $$ supervisor
        tb_cg_delegate
        (
                tb_cg_move "$BASHPID" payload
                exec unshare --mount --pid --fork --cgroup --uts --ipc --net --propagation private \
                        --kill-child -- bash "$SELF" __pid1
        ) &
        u=$!
        tb_pid_record "$u" "$TB_DIR/unshare"
        # once PID 1 exists, its parent leaves payload: the inner systemd must own that cgroup alone
        while ! [ -s "$TB_DIR/pid1.new" ] && [ -e "/proc/$u" ]; do sleep 0.02; done
        tb_cg_move "$u" supervisor 2>/dev/null || true
        wait "$u" || rc=$?
        tb_log "PID 1 of the testbed has exited ($rc)"
}

# PID 1 of the new namespaces, still seeing the host's / and /proc: build the root, exec systemd.
tb_pid1() {
        local R=$TB_DIR/root O=$TB_DIR/ovl mp name c d b hostpid
        read -r hostpid _ < /proc/self/stat     # still the host's /proc: our PID as the host sees it
        tb_pid_record "$hostpid" "$TB_DIR/pid1.new"
        hostname teleworker-testbed-namespace

        mkdir -p "$O" "$R"
        mount -t tmpfs -o mode=0755 tb-upper "$O"
        mkdir "$O/data" "$O/work"
        mount -t overlay -o "lowerdir=/,upperdir=$O/data,workdir=$O/work" tb-root "$R"

        # API file systems the way nspawn sets them up: /proc/sys and /sys read-only, so that
        # sysctl, binfmt, udev... skip themselves; the cgroup hierarchies read-write.
        mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
        for d in sys sysrq-trigger; do
                [ -e "$R/proc/$d" ] || continue
                mount --bind "$R/proc/$d" "$R/proc/$d"
                mount -o remount,bind,ro "$R/proc/$d"
        done
        mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
        if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
                mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
        else
                mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tb-cgroup "$R/sys/fs/cgroup"
                while read -r mp _; do
                        name=${mp#/sys/fs/cgroup/}
                        mkdir "$R/sys/fs/cgroup/$name"
                        case "$name" in
                        unified) mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R$mp" ;;
                        systemd) mount -t cgroup -o nosuid,nodev,noexec,none,name=systemd cgroup "$R$mp" ;;
                        *)      mount -t cgroup -o "nosuid,nodev,noexec,$name" cgroup "$R$mp"
                                if [[ $name == *,* ]]; then     # co-mounted: cpu -> cpu,cpuacct ...
                                        for c in ${name//,/ }; do ln -s "$name" "$R/sys/fs/cgroup/$c"; done
                                fi ;;
                        esac
                done < <(tb_cg_hierarchies)
                mount -o remount,ro "$R/sys/fs/cgroup"
        fi

        # A small /dev, plus the real disks: IO bandwidth limits need a block device to point at.
        mount -t tmpfs -o mode=0755,nosuid tb-dev "$R/dev"
        for d in null zero full random urandom tty; do
                : > "$R/dev/$d"
                mount --bind "/dev/$d" "$R/dev/$d"
        done
        for b in /sys/class/block/*; do
                name=$(tb_devname "$b/uevent")
                case "$name" in "" | loop* | ram* | zram* | nbd* | sr*) continue ;; esac
                [ -b "/dev/$name" ] || continue
                mkdir -p "$(dirname "$R/dev/$name")"
                : > "$R/dev/$name"
                mount --bind "/dev/$name" "$R/dev/$name"
        done
        # systemd as a container's PID 1 writes its own log to /dev/console: make that console.log
        # (a file answers terminal ioctls with ENOTTY, as /dev/null would)
        : > "$R/dev/console"
        mount --bind "$TB_DIR/console.log" "$R/dev/console"
        mkdir "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
        mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$R/dev/pts"
        ln -s pts/ptmx "$R/dev/ptmx"
        mount -t tmpfs -o mode=1777,nosuid,nodev tb-shm "$R/dev/shm"
        ln -s /proc/self/fd "$R/dev/fd"
        ln -s /proc/self/fd/0 "$R/dev/stdin"
        ln -s /proc/self/fd/1 "$R/dev/stdout"
        ln -s /proc/self/fd/2 "$R/dev/stderr"

        mount -t tmpfs -o mode=0755,nosuid,nodev tb-run "$R/run"
        mount -t tmpfs -o mode=1777,nosuid,nodev tb-tmp "$R/tmp"
        for b in $TB_BIND; do
                b=$(readlink -f "$b")
                mkdir -p "$R$b"
                mount --bind "$b" "$R$b"        # not --rbind: our own mounts below it stay out
        done

        # "if" rather than &&: the exit status of a PID 1 script matters to no one, errexit does
        rm -f "$R/.dockerenv"           # else systemd-detect-virt says "docker"
        # a container image's policy-rc.d (exit 101) would keep deb-systemd-invoke of packages
        # installed inside from starting anything (removed in the overlay only)
        rm -f "$R/usr/sbin/policy-rc.d"
        if [ -L "$R/etc/systemd/system/dbus.service" ]; then rm -f "$R/etc/systemd/system/dbus.service"; fi
        tb_render_etc "$R" namespace "${TB_DEVICE:+TB_DEVICE=$TB_DEVICE}"

        cd "$R"
        mkdir -p .tb-oldroot
        pivot_root . .tb-oldroot
        umount -l /.tb-oldroot
        rmdir /.tb-oldroot
        # shared, as systemd-nspawn leaves it: systemd mounts credentials (LoadCredential=) and
        # other per-service mounts in a child namespace that must propagate back
        mount --make-rshared /
        # container=... makes systemd (and systemd-shutdown) behave as a container payload: no clock,
        # hostname, kmsg, module, swap or loop business with the kernel it shares with the host.
        # shellcheck disable=SC2086 # TB_PID1_ARGS: words
        exec env -i container=teleworker-testbed TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                /lib/systemd/systemd --unit=testbed.target --show-status=no ${TB_PID1_ARGS:-}
}

tb_pid1_of() { tb_pid_alive "$TB_DIR/pid1"; }

tb_nsenter() {          # tb_nsenter PID1 [nsenter options] -- CMD...
        local p=$1
        shift
        nsenter --target "$p" --mount --uts --ipc --net --pid --cgroup "$@"
}

tb_up() {
        local t0 name p state ver end comm
        t0=$(tb_now)
        tb_check_binds
        for i in unshare nsenter findmnt flock /lib/systemd/systemd dbus-daemon useradd; do
                command -v "$i" >/dev/null || tb_die "missing $i (apt-get install systemd dbus util-linux passwd)"
        done
        [ "$(id -u)" = 0 ] || tb_die "needs root"
        mkdir -p "$TB_DIR"
        exec 9> "$TB_DIR/lock"
        flock -n 9 || tb_die "another up/down on $TB_DIR is running"
        if p=$(tb_pid1_of); then
                tb_die "the testbed is already up (PID 1 = host pid $p); '$0 down' first"
        fi
        if [ -e "$TB_DIR/cgroups" ] || [ -e "$TB_DIR/launcher" ]; then
                tb_log "state of an earlier run in $TB_DIR: cleaning it up first"
                tb_teardown
        fi
        trap 'tb_up_failed' EXIT
        trap 'exit 130' INT TERM

        TB_DEVICE=$(tb_disk_of "$(readlink -f "${TB_BIND%% *}")")
        [ -n "$TB_DEVICE" ] || tb_log "warning: no block device behind '${TB_BIND%% *}': TB_DEVICE stays empty"
        echo "$TB_DEVICE" > "$TB_DIR/device"
        name=teleworker-testbed-$$
        (
                exec 9>&- < /dev/null > "$TB_DIR/console.log" 2>&1
                export TB_DIR TB_BIND TB_DBUS_POLICY TB_DEVICE TB_PID1_ARGS
                if tb_host_is_systemd; then     # our cgroup belongs to the host's systemd: ask for one
                        exec setsid systemd-run --quiet --scope --collect --unit="$name.scope" \
                                -p Delegate=yes --description="teleworker testbed $TB_DIR" \
                                -- bash "$SELF" __launch "$name"
                fi
                exec setsid bash "$SELF" __launch "$name"
        ) &
        tb_pid_record $! "$TB_DIR/launcher"
        end=$((SECONDS + TB_BOOT_TIMEOUT))
        while ! [ -s "$TB_DIR/pid1.new" ] && [ $SECONDS -lt $end ]; do
                tb_pid_alive "$TB_DIR/launcher" > /dev/null || break
                sleep 0.05
        done
        [ -s "$TB_DIR/pid1.new" ] || tb_die "PID 1 did not start"
        mv "$TB_DIR/pid1.new" "$TB_DIR/pid1"
        p=$(tb_pid1_of) || tb_die "PID 1 died at once"

        # Wait for the manager's private socket, then let systemctl wait for the boot to finish. Until
        # PID 1 has exec'd systemd its root is still the host's, whose /run/systemd/private (on a
        # systemd host) belongs to the host's manager: look only once PID 1 is systemd.
        while :; do
                comm=
                read -r comm < "/proc/$p/comm" 2>/dev/null || true
                [ "$comm" = systemd ] && [ -S "/proc/$p/root/run/systemd/private" ] && break
                tb_pid1_of > /dev/null || tb_die "PID 1 died during boot"
                [ $SECONDS -lt $end ] || break
                sleep 0.05
        done
        state=$(timeout "$((end > SECONDS ? end - SECONDS : 1))" nsenter --target "$p" --mount --pid \
                systemctl is-system-running --wait 2>/dev/null) || true
        case "$state" in
        running) ;;
        degraded)
                tb_log "booted degraded; failed units:"
                timeout -k 2 10 nsenter --target "$p" --mount --pid systemctl --no-pager --failed >&2 || true ;;
        *)      timeout -k 2 10 nsenter --target "$p" --mount --pid systemctl --no-pager list-jobs >&2 || true
                tb_die "boot did not finish in ${TB_BOOT_TIMEOUT}s (state '$state')" ;;
        esac
        timeout -k 2 15 nsenter --target "$p" --mount --pid busctl --system --timeout=10 \
                call org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus GetId > /dev/null || tb_die "the system bus does not answer"
        trap - EXIT INT TERM
        ver=$(tb_nsenter "$p" -- systemctl --version | head -n1)
        tb_log "up in $(tb_since "$t0")s: PID 1 = host pid $p, ${ver%% (*}, $state," \
               "cgroups $(tb_nsenter "$p" -- stat -fc %T /sys/fs/cgroup/), TB_DEVICE=${TB_DEVICE:-none}"
}

# shellcheck disable=SC2317 # called from a trap
tb_up_failed() {
        local rc=$?
        tb_log "up failed; console of the testbed:"
        sed 's/^/  | /' "$TB_DIR/console.log" >&2 2>/dev/null || true
        if [ "${TB_KEEP_FAILED:-0}" = 1 ]; then
                tb_log "TB_KEEP_FAILED=1: left as it is for a look ('$0 enter ...'); '$0 down' removes it"
        else
                tb_teardown
                rm -f "$TB_DIR/lock"
                rmdir "$TB_DIR" 2>/dev/null || true
        fi
        exit "$rc"
}

# Stop everything up started and remove it. Safe to run on any state: nothing, half-built, crashed.
tb_teardown() {
        local p u f comm
        p=$(tb_pid_alive "$TB_DIR/pid1" || tb_pid_alive "$TB_DIR/pid1.new") || p=
        if [ -n "$p" ]; then
                comm=
                read -r comm < "/proc/$p/comm" 2>/dev/null || true
                case "$comm" in
                systemd) kill -s SIGRTMIN+4 "$p" 2>/dev/null || true ;;  # systemd: start poweroff.target
                systemd-shutdow) ;;                                      # already on its way out
                *)      # still the script that builds the root: nothing to shut down cleanly, and as
                        # PID 1 of its namespace it ignores every signal but SIGKILL
                        kill -KILL "$p" 2>/dev/null || true ;;
                esac
                if ! tb_wait_gone "$p" "$TB_DOWN_TIMEOUT"; then
                        tb_log "PID 1 ($p) still there after ${TB_DOWN_TIMEOUT}s: SIGKILL (ends its whole pid namespace)"
                        if [ "$(tb_pid_alive "$TB_DIR/pid1" || tb_pid_alive "$TB_DIR/pid1.new")" = "$p" ]; then
                                kill -KILL "$p" 2>/dev/null || true
                        fi
                        tb_wait_gone "$p" 5 || tb_log "warning: PID 1 ($p) does not go away"
                fi
        fi
        # the host-side waiters exit by themselves once PID 1 is gone
        for f in unshare launcher; do
                u=$(tb_pid_alive "$TB_DIR/$f") || continue
                tb_wait_gone "$u" 5 && continue
                kill -KILL "$u" 2>/dev/null || true
                tb_wait_gone "$u" 2 || tb_log "warning: $f ($u) does not go away"
        done
        tb_cg_remove
        rm -f "$TB_DIR"/{pid1,pid1.new,unshare,launcher,cgroups,device,console.log}
        for f in root ovl; do [ -d "$TB_DIR/$f" ] && rmdir "$TB_DIR/$f" 2>/dev/null; done
        return 0
}

tb_down() {
        [ -d "$TB_DIR" ] || { tb_log "not up"; return 0; }
        exec 9> "$TB_DIR/lock"
        flock -w 30 9 || tb_die "another up/down on $TB_DIR is running"
        trap '' INT             # half a teardown helps no one
        tb_teardown
        rm -f "$TB_DIR/lock"
        rmdir "$TB_DIR" 2>/dev/null || true
        tb_log "down"
}

# CMD as a transient service of the testbed: then it, and every process it forks, lives in the
# testbed's own cgroup tree, where the testbed's systemd can move processes into scopes.
tb_run() {
        local user=root p cwd kv a args=() envs=() props=() dev
        while [ $# -gt 0 ]; do
                case "$1" in
                --uid | --user) [ $# -ge 2 ] || tb_die "$1 needs a value"; user=$2; shift 2 ;;
                --uid=* | --user=*) user=${1#*=}; shift ;;
                --) shift; break ;;
                *) break ;;
                esac
        done
        [ $# -gt 0 ] || tb_die "usage: $0 run [--uid N|--user NAME] CMD..."
        p=$(tb_pid1_of) || tb_die "the testbed is not up ($TB_DIR); run '$0 up'"
        dev=$(cat "$TB_DIR/device" 2>/dev/null) || dev=
        cwd=$PWD
        if ! [ -d "/proc/$p/root$cwd" ]; then
                tb_log "warning: $cwd is not visible inside (not under TB_BIND); running in /"
                cwd=/
        fi
        # systemd-run looks a relative command up itself, not in WorkingDirectory
        if [[ $1 == */* && $1 != /* ]]; then set -- "$PWD/$1" "${@:2}"; fi
        # systemd expands $VAR and ${VAR} in ExecStart=, even for transient units: escape as $$
        for a in "$@"; do args+=("${a//\$/\$\$}"); done
        while IFS= read -r kv; do envs+=(--setenv="$kv"); done < <(tb_pass_env)
        envs+=(--setenv=TB_INSIDE=namespace)
        [ -n "$dev" ] && envs+=(--setenv="TB_DEVICE=$dev")
        props=(-p WorkingDirectory="$cwd")
        props+=(-p User="$user")   # also sets HOME, USER, LOGNAME, SHELL
        tb_nsenter "$p" --wd="$cwd" -- systemd-run --quiet --pipe --wait --collect --service-type=exec \
                "${props[@]}" "${envs[@]}" -- "${args[@]}"
}

tb_enter() {
        local p dev cwd=$PWD
        p=$(tb_pid1_of) || tb_die "the testbed is not up ($TB_DIR); run '$0 up'"
        dev=$(cat "$TB_DIR/device" 2>/dev/null) || dev=
        [ -d "/proc/$p/root$cwd" ] || cwd=/
        [ $# -gt 0 ] || set -- /bin/bash
        tb_nsenter "$p" --wd="$cwd" -- env TB_INSIDE=namespace ${dev:+TB_DEVICE="$dev"} "$@"
}

# ================================================================================================
# VM testbed

# Modules the initramfs loads (with their dependencies, resolved from modules.dep): virtio disk and
# 9p transport, overlayfs for the root, ext4 for the scratch disk.
VM_MODULES="virtio_pci virtio_blk 9pnet_virtio 9p overlay ext4 crc32c_generic"

tb_vm_prepare() {
        local t0 need=() pkg dl deb kv
        t0=$(tb_now)
        [ "$(id -u)" = 0 ] || tb_die "needs root"
        command -v qemu-system-x86_64 > /dev/null || need+=(qemu-system-x86)
        # a static busybox runs the initramfs (the plain "busybox" package is dynamically linked)
        if ! [ -x /bin/busybox ] || ldd /bin/busybox > /dev/null 2>&1; then need+=(busybox-static); fi
        command -v mkfs.ext4 > /dev/null || need+=(e2fsprogs)
        command -v depmod > /dev/null || need+=(kmod)
        if [ ${#need[@]} -gt 0 ]; then
                tb_log "apt-get install ${need[*]}"
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
        fi
        mkdir -p "$TB_VM_DIR"
        if ! [ -s "$TB_VM_DIR/kernel/vmlinuz" ] || ! [ -s "$TB_VM_DIR/kernel/modules.order" ]; then
                pkg=$(tb_vm_kernel_pkg)
                if [ -z "$pkg" ]; then
                        apt-get update -q >&2
                        pkg=$(tb_vm_kernel_pkg)
                fi
                [ -n "$pkg" ] || tb_die "cannot resolve linux-image-amd64 to a kernel package"
                tb_log "fetching $pkg (only to extract the kernel; it is not installed)"
                rm -rf "$TB_VM_DIR/download" "$TB_VM_DIR/kernel"
                dl=$TB_VM_DIR/download
                mkdir -p "$dl/x"
                (cd "$dl" && apt-get download -q "$pkg" 2>&1 | grep -v unsandboxed >&2) || true
                deb=$(echo "$dl"/"$pkg"_*.deb)
                [ -f "$deb" ] || tb_die "apt-get download $pkg failed"
                # the .deb has no modules.dep (depmod writes it at install time): extract the module
                # tree, let depmod compute it, keep only the modules the initramfs needs
                dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dl/x" --wildcards './boot/vmlinuz-*' './lib/modules/*'
                rm -f "$deb"
                kv=$(basename "$(echo "$dl"/x/lib/modules/*)")
                depmod -b "$dl/x" "$kv"
                mkdir -p "$TB_VM_DIR/kernel/mods"
                tb_vm_module_closure "$dl/x/lib/modules/$kv" > "$dl/wanted"
                while read -r m; do
                        case "$m" in
                        *.ko) cp "$dl/x/lib/modules/$kv/$m" "$TB_VM_DIR/kernel/mods/" ;;
                        *.ko.xz) xz -dc "$dl/x/lib/modules/$kv/$m" > "$TB_VM_DIR/kernel/mods/$(basename "$m" .xz)" ;;
                        *) tb_die "unsupported module file $m" ;;
                        esac
                        basename "${m%.xz}"
                done < "$dl/wanted" > "$TB_VM_DIR/kernel/modules.order.new"
                mv "$dl/x/boot/vmlinuz-$kv" "$TB_VM_DIR/kernel/vmlinuz"
                echo "$kv" > "$TB_VM_DIR/kernel/version"
                mv "$TB_VM_DIR/kernel/modules.order.new" "$TB_VM_DIR/kernel/modules.order"
                rm -rf "$dl"
        fi
        tb_log "vm prepared in $(tb_since "$t0")s: kernel $(cat "$TB_VM_DIR/kernel/version")," \
               "$(wc -l < "$TB_VM_DIR/kernel/modules.order") modules"
}

tb_vm_kernel_pkg() {
        apt-cache depends linux-image-amd64 2>/dev/null |
                sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1
}

# Module files (relative to the modules dir) for VM_MODULES and their dependencies, in load order.
tb_vm_module_closure() {
        awk -v want="$VM_MODULES" '
        function modname(p) { sub(/.*\//, "", p); sub(/\.ko(\.xz|\.zst)?$/, "", p); gsub(/-/, "_", p); return p }
        function visit(p,   i, n, d) {
                if (p in done) return
                done[p] = 1
                n = split(deps[p], d, " ")
                for (i = n; i >= 1; i--) visit(d[i])       # modules.dep lists the last-loaded first
                print p
        }
        FILENAME ~ /modules.builtin$/ { builtin[modname($0)] = 1; next }
        { f = $1; sub(/:$/, "", f); path[modname(f)] = f; $1 = ""; deps[f] = $0 }
        END {
                n = split(want, w, " ")
                for (i = 1; i <= n; i++) {
                        if (w[i] in builtin) continue
                        if (!(w[i] in path)) { print "no module " w[i] > "/dev/stderr"; continue }
                        visit(path[w[i]])
                }
        }' "$1/modules.builtin" "$1/modules.dep"
}

# The initramfs: load modules, mount the 9p root read-only under a tmpfs overlay, the shares and
# the scratch disk, add the testbed's /etc files, switch_root to systemd.
tb_vm_initrd() {
        local I=$TB_VM_DIR/initrd.d i=0 b
        rm -rf "$I"
        mkdir -p "$I"/{bin,proc,sys,dev,lower,upper,newroot,mods,stage}
        cp /bin/busybox "$I/bin/busybox"
        cp "$TB_VM_DIR"/kernel/mods/*.ko "$I/mods/"
        cp "$TB_VM_DIR/kernel/modules.order" "$I/mods/order"
        tb_render_etc "$I/stage" vm "TB_DEVICE=/dev/vda TB_SCRATCH=/srv/tb-scratch"
        {
                printf 'BINDS="'
                for b in $TB_BIND; do printf '%s:tb%d ' "$(readlink -f "$b")" "$i"; i=$((i + 1)); done
                printf '"\n'
        } > "$I/tb.conf"
        cat > "$I/init" <<'EOF'
#!/bin/busybox sh
# teleworker testbed VM: initramfs
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "testbed initramfs: $*"; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/mods/$m" || fail "insmod $m"; done < /mods/order
. /tb.conf
o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$o,ro,cache=loose" tb-root /lower || fail "9p root"
mount -t tmpfs -o mode=0755 tb-upper /upper
mkdir /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work tb-root /newroot || fail "overlay"
mount -t tmpfs -o mode=1777,nosuid,nodev tb-tmp /newroot/tmp
mkdir -p /newroot/tbvm /newroot/srv/tb-scratch
mount -t 9p -o "$o" tb-ctl /newroot/tbvm || fail "9p control share"
for b in $BINDS; do
        mkdir -p "/newroot${b%:*}"
        mount -t 9p -o "$o" "${b##*:}" "/newroot${b%:*}" || fail "9p share ${b%:*}"
done
mount -t ext4 /dev/vda /newroot/srv/tb-scratch || fail "scratch disk"
# the host image may carry /.dockerenv: systemd would then think it runs in a container
rm -f /newroot/.dockerenv /newroot/etc/systemd/system/dbus.service
cp -a /stage/etc/. /newroot/etc/
umount /proc /sys /dev
exec switch_root /newroot /lib/systemd/systemd
EOF
        chmod 0755 "$I/init"
        (cd "$I" && find . | /bin/busybox cpio -o -H newc 2> /dev/null | gzip -1) > "$TB_VM_DIR/initrd.img"
        rm -rf "$I"
}

tb_vm_run() {
        local C=$TB_VM_DIR/ctl t0 i=0 b rc qpid virtfs=() kv
        t0=$(tb_now)
        [ $# -gt 0 ] || tb_die "usage: $0 vm-run 'SHELL COMMAND'"
        [ -s "$TB_VM_DIR/kernel/vmlinuz" ] || tb_die "run '$0 vm-prepare' first"
        [ "$(id -u)" = 0 ] || tb_die "needs root"
        tb_check_binds
        tb_vm_initrd
        rm -rf "$C"
        mkdir -p "$C"
        : > "$C/out.log"
        {
                printf 'cd %q 2>/dev/null || { echo "vm: %q is not shared (TB_BIND)" >&2; cd /; }\n' "$PWD" "$PWD"
                while IFS= read -r kv; do printf 'export %q\n' "$kv"; done < <(tb_pass_env)
                printf 'export TB_INSIDE=vm TB_DEVICE=/dev/vda TB_SCRATCH=/srv/tb-scratch\n'
                printf '%s\n' "$*"
        } > "$C/cmd.sh"
        cat > "$C/wrapper.sh" <<'EOF'
rc=0
bash /tbvm/cmd.sh > /tbvm/out.log 2>&1 < /dev/null || rc=$?
echo "$rc" > /tbvm/rc
EOF
        truncate -s 0 "$TB_VM_DIR/disk.img"
        truncate -s 512M "$TB_VM_DIR/disk.img"
        mkfs.ext4 -q -F -L tb-scratch "$TB_VM_DIR/disk.img"
        for b in $TB_BIND; do
                virtfs+=(-virtfs "local,path=$(readlink -f "$b"),mount_tag=tb$i,security_model=none,multidevs=remap")
                i=$((i + 1))
        done
        timeout "${TB_VM_TIMEOUT:-900}" qemu-system-x86_64 -accel "${TB_VM_ACCEL:-tcg,thread=multi}" \
                -cpu max -smp "$(nproc)" -m "${TB_VM_MEM:-2048}" \
                -display none -monitor none -nodefaults -no-reboot -serial "file:$C/console.log" \
                -kernel "$TB_VM_DIR/kernel/vmlinuz" -initrd "$TB_VM_DIR/initrd.img" \
                -append "console=ttyS0 quiet panic=-1 rw systemd.unit=testbed.target systemd.show_status=0 systemd.unified_cgroup_hierarchy=1" \
                -virtfs local,path=/,mount_tag=tb-root,security_model=none,readonly=on,multidevs=remap \
                -virtfs "local,path=$C,mount_tag=tb-ctl,security_model=none,multidevs=remap" \
                "${virtfs[@]}" -drive "file=$TB_VM_DIR/disk.img,format=raw,if=virtio,cache=unsafe" \
                > "$C/qemu.log" 2>&1 &
        qpid=$!
        trap 'kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; exit 130' INT TERM
        tail -n +1 -f --pid="$qpid" "$C/out.log" 2> /dev/null || true
        rc=0
        wait "$qpid" || rc=$?
        trap - INT TERM
        [ "$rc" = 0 ] || tb_log "qemu exited with status $rc$([ "$rc" = 124 ] && echo " (TB_VM_TIMEOUT)")"
        if [ -s "$C/rc" ]; then
                rc=$(cat "$C/rc")
        else
                rc=255
                tb_log "no exit status from the VM; qemu and console tail:"
                tail -n 5 "$C/qemu.log" >&2
                tail -n 40 "$C/console.log" >&2
        fi
        rm -f "$TB_VM_DIR/disk.img"
        tb_log "vm-run finished in $(tb_since "$t0")s (boot, command, poweroff); status $rc"
        return "$rc"
}

# ================================================================================================
tb_main() {
        case "${1:-}" in
        up) tb_up ;;
        down) tb_down ;;
        run) shift; tb_run "$@" ;;
        enter) shift; tb_enter "$@" ;;
        vm-prepare) tb_vm_prepare ;;
        vm-run) shift; tb_vm_run "$@" ;;
        __launch) tb_launch "$2" ;;
        __pid1) tb_pid1 ;;
        *)      sed -n '3,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2
                return 2 ;;
        esac
}

# One line, parsed before it runs: bash reads scripts as it goes, and the launcher lives as long as
# the testbed, so an edit of this file while a testbed is up must not feed it new text. (Edit by
# writing a new file and renaming it over this one.)
tb_main "$@"; exit
