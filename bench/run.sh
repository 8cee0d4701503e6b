#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/run.sh - teleworker's benchmarks against the REAL teleworkerd on a REAL systemd. Run on demand, as root;
# never in CI, never part of the test suite (speed targets live here only).
#
#   sudo bench/run.sh [--write] [--build DIR] [NAME...]
#
#   NAME (default: all, in this order):
#     latency    job start latency: telerun run vs systemd-run --scope, raw D-Bus Start+Wait, raw StartTransientUnit
#     rate       1000 jobs with 50 in flight; leaks afterwards (scopes, fds, processes, RSS, spool files)
#     spawn      spawn cost vs daemon size: Start+Wait with the daemon inflated to 1 GiB RSS; fork vs posix_spawn
#     output     4 GB job with and without capture; telerun logs of a finished and a live 4 GB job;
#                4 GB + 100 followers (daemon peak RSS)
#     followers  1000 concurrent followers of one job, each checks byte count and adler32
#     tls        mTLS handshakes/s vs openssl s_server, follower throughput over TLS (needs the gateway)
#     drop       output past the cap: the daemon's CPU per GiB dropped vs the job's own (a daemon with a 1 MiB cap)
#     tty        keystroke round trip of `telerun run -it -- cat` on a pty of its own (bench/tty-latency.py),
#                locally and through the gateway
#   --write      also replace the generated block of docs/benchmarks.md with the results (benchmarks not run
#                this time keep their latest results, from BUILD/bench-history.tsv, with their date)
#   --write-only re-render that block from BUILD/bench-history.tsv; runs nothing
#   --build DIR  optimized build to use (default build-bench; created with meson -Dbuildtype=release)
#
# What it does: builds BUILD (release) and the helpers under bench/ (with cc, into BUILD/bench-bin), boots the
# namespace testbed (tests/testbed.sh; TB_DIR=BUILD/bench-testbed, TB_BIND=the project tree), runs itself inside
# (--inside), where it installs the bus policy and starts BUILD's teleworkerd as teleworkerd.service the way
# tests/integration/run-inside.sh does (state directory BUILD/bench-state, on the real disk), runs the
# benchmarks, stops everything; then prints the table (BUILD/bench-results/results.tsv). The testbed is powered
# off and the state directory (spool files) removed on any exit, failure and Ctrl-C included. Every loop is
# bounded in count and time; everything is loopback.
#
# Environment: BENCH_RUNS (latency rounds, default 200), BENCH_JOBS (rate, 1000), BENCH_INFLIGHT (50),
# BENCH_FOLLOWERS (1000), BENCH_OUTPUT_SIZE (head -c size, default 4G), BENCH_REPS (output repetitions, 3),
# BENCH_DROP_SIZE (drop: bytes the job writes past its cap, default 8G),
# TB_DIR, TB_BIND.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
PROJECT=${SELF%/*/*}
ALL_BENCHES="latency rate spawn output followers tls drop tty"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { echo "${EPOCHREALTIME/,/.}"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }   # calc FORMAT EXPRESSION

# A result row: SECTION<TAB>MEASUREMENT<TAB>MEDIAN<TAB>P99<TAB>RATIO<TAB>AIM<TAB>NOTE
row() {
        local IFS=$'\t'
        printf '%s\t%s\n' "$*" "${BENCH_DATE:-?}" >> "$RESULTS/results.tsv"
        printf '  %-10s %-62s %-14s %-12s %-10s %s\n' "$1" "$2" "$3" "$4" "$5" "$6" >&2
}
meta() { printf '%s\t%s\n' "$1" "$2" >> "$RESULTS/meta.tsv"; }

# =============================================================================================== inside

UNIT=teleworkerd.service
GW_UNIT=bench-gateway.service
BUS_NAME=org.teleworker.worker1
GW_PORT=18443
SSL_PORT=18444

daemon_pid() { systemctl show -P MainPID "$UNIT"; }

# proc_kib PID KEY: VmRSS, VmHWM... in KiB
proc_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

start_daemon() {        # start_daemon [extra systemd-run arguments...]
        systemctl stop "$UNIT" 2> /dev/null || true
        systemctl reset-failed "$UNIT" 2> /dev/null || true
        mkdir -p "$STATE"
        systemd-run --quiet --no-block --unit="$UNIT" --description="teleworkerd from $BUILD (bench)" \
                -p Type=notify -p NotifyAccess=main -p TimeoutStartSec=120 -p TimeoutStopSec=30 \
                -p FileDescriptorStoreMax=4096 -p LimitNOFILE=65536 -p StartLimitIntervalSec=0 \
                --setenv=STATE_DIRECTORY="$STATE" --setenv=TELEWORKER_EXEC_PATH="$BUILD/src/exec/teleworker-exec" \
                "$@" -- "$BUILD/src/daemon/teleworkerd" --config "$CONFIG"
        local deadline=$((SECONDS + 60)) state owned
        while :; do
                state=$(systemctl show -P ActiveState "$UNIT")
                owned=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                        NameHasOwner s "$BUS_NAME" 2> /dev/null) || owned=
                [ "$state" = active ] && [ "$owned" = "b true" ] && break
                if [ "$state" = failed ] || [ $SECONDS -ge $deadline ]; then
                        journalctl --no-pager -u "$UNIT" | tail -n 30 >&2 || true
                        die "$UNIT did not come up (state $state)"
                fi
                sleep 0.1
        done
}

stop_all() {
        systemctl stop "$GW_UNIT" 2> /dev/null || true
        systemctl stop "$UNIT" 2> /dev/null || true
        local left
        left=$(systemctl list-units --plain --no-legend --all 'teleworker-*.scope' 'bench-*.scope' | awk '{ print $1 }')
        # shellcheck disable=SC2086 # one unit per word
        [ -z "$left" ] || systemctl stop $left 2> /dev/null || true
}

inside_cleanup() {
        local rc=$?
        stop_all
        journalctl --no-pager -o short-monotonic -u "$UNIT" > "$RESULTS/teleworkerd.journal" 2>&1 || true
        rm -rf "$STATE" "$BUILD/bench-pki-gw"
        exit $rc
}

# Setup inside the testbed: bus policy, config, daemon. Then one process per benchmark (a failing benchmark
# records FAILED and the others still run).
inside() {
        BUILD=$1 RESULTS=$2
        shift 2
        while [[ ${1:-} == BENCH_*=* ]]; do export "${1?}"; shift; done    # from the host (testbed.sh run drops them)
        [ -n "${TB_INSIDE:-}" ] || die "--inside: not inside a testbed"
        [ -d /run/systemd/system ] || die "systemd is not the service manager here"
        export BUILD RESULTS STATE=$BUILD/bench-state CONFIG=$BUILD/bench-config.json BIN=$BUILD/bench-bin
        export TELERUN=$BUILD/cli/telerun
        trap inside_cleanup EXIT
        trap 'exit 130' INT TERM

        if ! cmp -s "$PROJECT/dbus/org.teleworker.worker1.conf" /etc/dbus-1/system.d/org.teleworker.worker1.conf; then
                install -m 0644 "$PROJECT/dbus/org.teleworker.worker1.conf" /etc/dbus-1/system.d/
                busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
        fi
        # Generous limits, everyone on the network (no per-job network namespace), 8G of output kept per job,
        # a job table of 1000 (the rate benchmark then runs at a steady state: ended jobs are evicted).
        cat > "$CONFIG" <<-EOF
	{
	        "admin_group": "teleworker-admin",
	        "gateway_user": "teleworker-gw",
	        "stop_grace_sec": 2,
	        "start_timeout_sec": 60,
	        "output_max_bytes": "8G",
	        "max_jobs": 1000,
	        "default_limits": { "CPUQuotaPerSecUSec": "200%", "MemoryMax": "4G", "TasksMax": 4096,
	                            "IOReadBandwidthMax": "1G", "IOWriteBandwidthMax": "1G" },
	        "max_limits": { "CPUQuotaPerSecUSec": "200%", "MemoryMax": "8G", "TasksMax": 8192,
	                        "IOReadBandwidthMax": "10G", "IOWriteBandwidthMax": "10G" },
	        "principals": { "*": { "network": true } }
	}
	EOF
        rm -rf "$STATE"
        start_daemon
        log "teleworkerd up (pid $(daemon_pid)), state $STATE on $(df --output=source "$STATE" | tail -n1)"

        meta "cgroups (testbed)" "$(if [ -d /sys/fs/cgroup/unified ]; then echo "hybrid: v1 controllers ($(cd /sys/fs/cgroup && for c in *; do case $c in unified | systemd) ;; *) printf '%s ' "$c" ;; esac; done | sed 's/ $//')), name=systemd, empty cgroup2 at /sys/fs/cgroup/unified"; else stat -fc %T /sys/fs/cgroup/; fi)"
        meta "systemd (testbed PID 1)" "$(systemctl --version | head -n1)"
        meta "load average at start" "$(cut -d' ' -f1-3 /proc/loadavg)"

        local b rc
        for b in "$@"; do
                log "== $b"
                rc=0
                timeout -k 10 1800 "$SELF" --bench "$b" || rc=$?
                if [ $rc -ne 0 ]; then
                        row "$b" "benchmark FAILED (exit $rc; see the output of bench/run.sh)" "-" "-" "-" "-"
                        # a broken daemon must not spoil the next benchmark
                        [ "$(systemctl show -P ActiveState "$UNIT")" = active ] || start_daemon
                fi
        done
        meta "load average at end" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------------------------------------- latency

ms() { calc '%.2f ms' "$1 / 1000"; }

bench_latency() {
        local runs=${BENCH_RUNS:-200} out modes="telerun systemd-run bus bus-noiso scope scope-limits"
        out=$("$BIN/bench-client" latency --runs "$runs" --max-seconds 1200 --telerun "$TELERUN" \
                --io-device "$STATE" --samples "$RESULTS/latency-samples.tsv" $modes)
        echo "$out" > "$RESULTS/latency.tsv"
        local anchor_med anchor_p99
        anchor_med=$(awk '$1 == "systemd-run" { print $3 }' <<< "$out")
        anchor_p99=$(awk '$1 == "systemd-run" { print $5 }' <<< "$out")
        while IFS=$'\t' read -r mode n med _ p99 _; do
                local what ratio aim=""
                case "$mode" in
                telerun) what="telerun run -- /bin/true (CLI, D-Bus)"; aim="≤ 1.2×" ;;
                systemd-run) what="systemd-run --scope --quiet /bin/true (anchor)" ;;
                bus) what="D-Bus Start + Wait, one connection (no CLI)" ;;
                bus-noiso) what="D-Bus Start + Wait, PrivatePID=no PrivateTmp=no" ;;
                scope) what="raw StartTransientUnit scope + JobRemoved + exec (C, systemd only)" ;;
                scope-limits) what="raw StartTransientUnit with teleworkerd's properties (C)" ;;
                esac
                ratio=$(calc '%.2f× (p99 %.2f×)' "$med / $anchor_med, $p99 / $anchor_p99")
                [ "$mode" = systemd-run ] && ratio="1 (anchor)"
                row latency "$what" "$(ms "$med")" "$(ms "$p99")" "$ratio" "$aim" "n=$n"
        done <<< "$out"

        # over TLS, through the gateway: only when telerun has its remote mode
        if "$TELERUN" --addr 127.0.0.1:1 list 2>&1 | grep -q 'remote mode not available'; then
                row latency "telerun --addr … run -- /bin/true (TLS, gateway)" "not measured yet" "-" "-" "" \
                        "telerun remote mode pending (cli/client-remote.c is a placeholder)"
        elif gw_start; then
                out=$(TELERUN_ADDR=127.0.0.1:$GW_PORT TELERUN_CERT=$PKI/bench.crt TELERUN_KEY=$PKI/bench.key \
                        TELERUN_CACERT=$PKI/ca.crt "$BIN/bench-client" latency --runs "$runs" --max-seconds 900 \
                        --telerun "$TELERUN" telerun systemd-run)
                med=$(awk '$1 == "telerun" { print $3 }' <<< "$out")
                p99=$(awk '$1 == "telerun" { print $5 }' <<< "$out")
                anchor_med=$(awk '$1 == "systemd-run" { print $3 }' <<< "$out")
                row latency "telerun --addr … run -- /bin/true (TLS, gateway)" "$(ms "$med")" "$(ms "$p99")" \
                        "$(calc '%.2f×' "$med / $anchor_med")" "" \
                        "a second series, systemd-run interleaved again: $(ms "$anchor_med") there; one TLS connection per command (keep-alive)"
        else
                row latency "telerun --addr … run -- /bin/true (TLS, gateway)" "not measured yet" "-" "-" "" \
                        "gateway pending (does not start or answer)"
        fi
}

# ---------------------------------------------------------------------------------------------- rate

snapshot() {    # snapshot LABEL: daemon fds, RSS, HWM, processes, scopes, job records and spool files
        local pid
        pid=$(daemon_pid)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(ls "/proc/$pid/fd" | wc -l)" "$(proc_kib "$pid" VmRSS)" \
                "$(proc_kib "$pid" VmHWM)" "$(ls -d /proc/[0-9]* | wc -l)" \
                "$(systemctl list-units --plain --no-legend --all 'teleworker-*.scope' | wc -l)" \
                "$(find "$STATE/jobs" -name '*.json' 2> /dev/null | wc -l)" \
                "$(find "$STATE/output" -type f 2> /dev/null | wc -l)" >> "$RESULTS/rate-snapshots.tsv"
        { echo "== $1"; find "/proc/$pid/fd" -mindepth 1 -printf '%l\n' | sed 's/[0-9a-f-]\{36\}/ID/; s/\[[0-9]*\]/[N]/' |
                sort | uniq -c | sort -rn; } >> "$RESULTS/rate-fds.txt"
}

xargs_rate() {  # xargs_rate N P CMD...: N runs of CMD, P in parallel; prints jobs/s
        local n=$1 p=$2 t0 t1
        shift 2
        t0=$(now)
        seq "$n" | timeout 900 xargs -P "$p" -n 1 sh -c '"$@" > /dev/null || echo "FAILED $?" >&2' sh "$@" \
                2> "$RESULTS/xargs.err"
        t1=$(now)
        [ ! -s "$RESULTS/xargs.err" ] || { head -n 5 "$RESULTS/xargs.err" >&2; return 1; }
        calc '%.1f' "$n / ($t1 - $t0)"
}

bench_rate() {
        local jobs=${BENCH_JOBS:-1000} k=${BENCH_INFLIGHT:-50} out r1 r2 anchor cli
        printf 'label\tfds\tVmRSS_kB\tVmHWM_kB\tprocesses\tscopes\tjob_records\tspool_files\n' > "$RESULTS/rate-snapshots.tsv"
        sleep 2         # let scopes of the previous benchmark be collected
        snapshot before
        out=$("$BIN/bench-client" rate --jobs "$jobs" --inflight "$k" --max-seconds 900)
        echo "$out" > "$RESULTS/rate-1.txt"
        r1=$(sed -n 's/^jobs_per_s=//p' <<< "$out")
        sleep 2
        snapshot "after $jobs"
        out=$("$BIN/bench-client" rate --jobs "$jobs" --inflight "$k" --max-seconds 900)
        echo "$out" > "$RESULTS/rate-2.txt"
        r2=$(sed -n 's/^jobs_per_s=//p' <<< "$out")
        sleep 2
        snapshot "after $((2 * jobs))"
        # anchors: systemd's own rate with 50 parallel systemd-run --scope, and the CLI the same way
        anchor=$(xargs_rate "$jobs" "$k" systemd-run --scope --quiet /bin/true)
        cli=$(xargs_rate "$jobs" "$k" "$TELERUN" run -- /bin/true)
        sleep 2
        snapshot "after telerun ×$jobs"

        row rate "$jobs × /bin/true, $k in flight, async D-Bus client (round 1)" "$r1 jobs/s" "" \
                "$(calc '%.2f×' "$r1 / $anchor")" "" "round 2: $r2 jobs/s ($(calc '%.2f×' "$r2 / $anchor"))"
        row rate "$jobs × telerun run -- /bin/true, $k parallel (xargs -P $k)" "$cli jobs/s" "" \
                "$(calc '%.2f×' "$cli / $anchor")" "" ""
        row rate "$jobs × systemd-run --scope /bin/true, $k parallel (anchor)" "$anchor jobs/s" "" "1 (anchor)" "" ""
        # flatness: the job table is full (max_jobs 1000) after round 1; round 2 must not grow anything
        local a b c
        a=$(sed -n 3p "$RESULTS/rate-snapshots.tsv"); b=$(sed -n 4p "$RESULTS/rate-snapshots.tsv")
        c=$(sed -n 5p "$RESULTS/rate-snapshots.tsv")
        local f
        for f in "2 daemon fds" "3 daemon VmRSS (kB)" "4 daemon VmHWM (kB)" "5 processes in the testbed" \
                 "6 teleworker-*.scope units loaded" "7 job records" "8 spool files"; do
                local col=${f%% *} name=${f#* } v0 v1 v2 v3
                v0=$(sed -n 2p "$RESULTS/rate-snapshots.tsv" | cut -f"$col")
                v1=$(cut -f"$col" <<< "$a"); v2=$(cut -f"$col" <<< "$b"); v3=$(cut -f"$col" <<< "$c")
                row rate "leaks: $name — before / after $jobs / after $((2 * jobs)) / after telerun ×$jobs" \
                        "$v0 / $v1 / $v2 / $v3" "" "$(calc '%.2f×' "($v3 + 0.0001) / ($v1 + 0.0001)")" \
                        "flat" "ratio: last / after round 1"
        done
}

# ---------------------------------------------------------------------------------------------- spawn

bench_spawn() {
        local out
        # standalone: fork vs posix_spawn from a process of 0 and 1 GiB RSS
        "$BIN/spawn-cost" -m 0 -n 50 > "$RESULTS/spawn-cost.tsv"
        "$BIN/spawn-cost" -m 1024 -n 30 >> "$RESULTS/spawn-cost.tsv"
        local ps0
        ps0=$(awk '$1 == "posix_spawn" && $2 == 0 { print $4 }' "$RESULTS/spawn-cost.tsv")
        while IFS=$'\t' read -r method mib _ cmed cp99 tmed _; do
                local what="$method() from a ${mib} MiB process (call returns)"
                row spawn "$what" "$(calc '%.3f ms' "$cmed / 1000")" "$(calc '%.3f ms' "$cp99 / 1000")" \
                        "$(calc '%.1f×' "$cmed / $ps0")" "" "vs posix_spawn at 0 MiB; to child reaped: $(calc '%.2f ms' "$tmed / 1000")"
        done < "$RESULTS/spawn-cost.tsv"

        # the real daemon, normal and with 1 GiB of touched memory (LD_PRELOAD bench/inflate.c), in alternating
        # blocks of 50 (normal, inflated, normal, inflated), each with systemd-run interleaved as its anchor
        local blk rss=0 nb=() ns=() ib=() is=()
        for blk in normal inflated normal inflated; do
                if [ "$blk" = inflated ]; then
                        start_daemon --setenv=LD_PRELOAD="$BIN/inflate.so" --setenv=BENCH_INFLATE_MIB=1024
                        rss=$(proc_kib "$(daemon_pid)" VmRSS)
                        [ "$rss" -gt $((1000 * 1024)) ] || die "inflate.so did not inflate the daemon (VmRSS $rss kB)"
                else
                        start_daemon
                fi
                out=$("$BIN/bench-client" latency --runs 50 --max-seconds 600 bus systemd-run)
                read -r b sr <<< "$(awk '$1 == "bus" { b = $3 } $1 == "systemd-run" { s = $3 } END { print b, s }' <<< "$out")"
                if [ "$blk" = inflated ]; then ib+=("$b"); is+=("$sr"); else nb+=("$b"); ns+=("$sr"); fi
        done
        start_daemon
        local rn ri
        rn=$(calc '%.3f' "(${nb[0]} / ${ns[0]} + ${nb[1]} / ${ns[1]}) / 2")
        ri=$(calc '%.3f' "(${ib[0]} / ${is[0]} + ${ib[1]} / ${is[1]}) / 2")
        row spawn "D-Bus Start + Wait, daemon at its normal size (VmRSS ~5 MiB)" \
                "$(ms "$(calc '%.0f' "(${nb[0]} + ${nb[1]}) / 2")")" "" "$(calc '%.2f×' "$rn")" "" \
                "vs systemd-run in the same blocks; 2 blocks of 50: $(ms "${nb[0]}") / $(ms "${nb[1]}")"
        row spawn "D-Bus Start + Wait, daemon inflated to VmRSS $((rss / 1024)) MiB" \
                "$(ms "$(calc '%.0f' "(${ib[0]} + ${ib[1]}) / 2")")" "" "$(calc '%.2f×' "$ri")" "same as normal" \
                "vs systemd-run in the same blocks; 2 blocks of 50: $(ms "${ib[0]}") / $(ms "${ib[1]}"); inflated ÷ normal = $(calc '%.2f' "$ri / $rn")"
}

# ---------------------------------------------------------------------------------------------- output

# job_ns ID: the BENCH_NS line the job printed last (nanoseconds of its own writing loop)
job_ns() { "$TELERUN" logs --tail 1 "$1" | sed -n 's/^BENCH_NS \([0-9]*\)$/\1/p'; }
spool_of() { echo "$STATE/output/$1.out"; }
free_spool() { truncate -s 0 "$(spool_of "$1")"; }     # the job is not read again: give the disk back
gbps() { calc '%.2f GB/s' "($1) / ($2) / 1e9"; }            # gbps BYTES SECONDS

start_job() { "$TELERUN" start -- "$@"; }
wait_job() { timeout 900 "$TELERUN" wait "$1" > /dev/null; }

bench_output() {
        local size=${BENCH_OUTPUT_SIZE:-4G} reps=${BENCH_REPS:-3} bytes id i ns
        bytes=$(numfmt --from=iec "$size")
        local avail
        avail=$(df --output=avail -B1 "$BUILD" | tail -n1)
        [ "$avail" -gt $((3 * bytes)) ] || die "not enough room for the spool: $avail bytes free on $BUILD"
        meta "state directory disk" "$(df -h --output=source,size,avail "$BUILD" | tail -n1 | tr -s ' ')"
        local timed="s=\$(date +%s%N); CMD; e=\$(date +%s%N); echo; echo BENCH_NS \$((e - s))"
        local cap=() nocap=() pipe=() keep=""
        for ((i = 0; i < reps; i++)); do
                # without capture: the same writer to /dev/null inside the job
                id=$(start_job sh -c "${timed/CMD/head -c $size /dev/zero > /dev/null}"); wait_job "$id"
                nocap+=("$(job_ns "$id")")
                # a pipe inside the job to cat: what any pipe costs, for reference
                id=$(start_job sh -c "${timed/CMD/head -c $size /dev/zero | cat > /dev/null}"); wait_job "$id"
                pipe+=("$(job_ns "$id")")
                # captured: into the job's output pipe, spliced by teleworkerd into the spool
                id=$(start_job sh -c "${timed/CMD/head -c $size /dev/zero}"); wait_job "$id"
                cap+=("$(job_ns "$id")")
                [ -z "$keep" ] || free_spool "$keep"
                keep=$id
        done
        median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
        local mc mn mp
        mc=$(median "${cap[@]}"); mn=$(median "${nocap[@]}"); mp=$(median "${pipe[@]}")
        row output "job writes $size (head -c $size /dev/zero), captured" "$(calc '%.2f s' "$mc / 1e9")" "" \
                "$(calc '%.2f×' "$mc / $mn")" "≤ 1.2×" \
                "$(gbps "$bytes" "$mc / 1e9"); median of $reps, timed inside the job; runs: $(printf '%s ' "${cap[@]}" | awk '{ for (i = 1; i <= NF; i++) printf "%.2f ", $i / 1e9 }')s"
        row output "same, > /dev/null inside the job (anchor)" "$(calc '%.2f s' "$mn / 1e9")" "" "1 (anchor)" "" \
                "$(gbps "$bytes" "$mn / 1e9")"
        row output "same, | cat > /dev/null inside the job (pipe floor)" "$(calc '%.2f s' "$mp / 1e9")" "" \
                "$(calc '%.2f×' "$mp / $mn")" "" "$(gbps "$bytes" "$mp / 1e9"); captured vs this: $(calc '%.2f×' "$mc / $mp")"

        # the same captured job with the spool on tmpfs (a second daemon instance): disk writeback vs CPU
        local tmpfs=/run/bench-tmpfs tcap=()
        mkdir -p "$tmpfs"
        mount -t tmpfs -o size=$((bytes / 1048576 + 512))M,mode=0700 bench-spool "$tmpfs"
        STATE=$tmpfs/state start_daemon
        for ((i = 0; i < 2; i++)); do
                id=$(start_job sh -c "${timed/CMD/head -c $size /dev/zero}"); wait_job "$id"
                tcap+=("$(job_ns "$id")")
                truncate -s 0 "$tmpfs/state/output/$id.out"
        done
        systemctl stop "$UNIT"
        umount "$tmpfs"
        start_daemon
        local mt
        mt=$(median "${tcap[@]}")
        row output "same, captured, spool on tmpfs instead of the disk (diagnostic)" "$(calc '%.2f s' "$mt / 1e9")" "" \
                "$(calc '%.2f×' "$mt / $mn")" "" "$(gbps "$bytes" "$mt / 1e9"); 2 runs: $(printf '%s ' "${tcap[@]}" | awk '{ for (i = 1; i <= NF; i++) printf "%.2f ", $i / 1e9 }')s; IO limits do not apply on tmpfs"

        # telerun logs of a finished job (the last captured one, in the page cache)
        local t0 t1 fin=() live=() jobt=()
        for ((i = 0; i < reps; i++)); do
                t0=$(now); timeout 300 "$TELERUN" logs "$keep" > /dev/null; t1=$(now)
                fin+=("$(calc '%.6f' "$t1 - $t0")")
        done
        free_spool "$keep"
        # ... and of a live one: started, then followed at once from byte 0
        local lag=() ended
        for ((i = 0; i < 2; i++)); do
                id=$(start_job sh -c "${timed/CMD/head -c $size /dev/zero}")
                t0=$(now); timeout 900 "$TELERUN" logs -f "$id" > /dev/null; t1=$(now)
                wait_job "$id"
                live+=("$(calc '%.6f' "$t1 - $t0")"); jobt+=("$(job_ns "$id")")
                ended=$("$TELERUN" status --json "$id" | sed -n 's/.*"ended_at":"\([^"]*\)".*/\1/p')
                lag+=("$(calc '%.3f' "$t1 - $(date -d "$ended" +%s.%N)")")
                free_spool "$id"
        done
        local mf ml
        mf=$(median "${fin[@]}"); ml=$(median "${live[@]}")
        row output "telerun logs ID > /dev/null, finished $size job" "$(gbps "$bytes" "$mf")" "" "" "≥ 1 GB/s" \
                "$(calc '%.2f s' "$mf"), median of $reps"
        row output "telerun logs -f ID > /dev/null, live $size job (from its start)" "$(gbps "$bytes" "$ml")" "" \
                "$(calc '%.2f×' "$ml / (($(median "${jobt[@]}")) / 1e9)")" "≥ 1 GB/s" \
                "2 runs: $(calc '%.2f' "${live[0]}") s, $(calc '%.2f' "${live[1]}") s; the job's own writing: $(calc '%.2f' "${jobt[0]} / 1e9") s, $(calc '%.2f' "${jobt[1]} / 1e9") s (ratio: follower / job, medians); follower done $(calc '%.3f' "${lag[0]}") s, $(calc '%.3f' "${lag[1]}") s after the job's end"

        # 4 GB + 100 followers (splice to /dev/null: byte counts only): the daemon's peak RSS
        local pid out hwm0
        pid=$(daemon_pid)
        echo 5 > "/proc/$pid/clear_refs"        # resets VmHWM to the current RSS
        hwm0=$(proc_kib "$pid" VmHWM)
        out=$("$BIN/bench-client" followers --n 100 --splice --daemon-pid "$pid" --max-seconds 1200 -- \
                sh -c "${timed/CMD/head -c $size /dev/zero}")
        echo "$out" > "$RESULTS/output-followers100.txt"
        id=$(sed -n 's/^job=//p' <<< "$out")
        ns=$(job_ns "$id")
        free_spool "$id"
        local total hwm ok b
        total=$(sed -n 's/^total_s=//p' <<< "$out"); hwm=$(sed -n 's/^hwm_kib=//p' <<< "$out")
        ok=$(sed -n 's/^ok=//p' <<< "$out"); b=$(sed -n 's/^bytes=//p' <<< "$out")
        [ "$ok" = 1 ] || die "100 followers: byte counts differ"
        row output "daemon peak RSS (VmHWM), $size job + 100 followers" "$((hwm / 1024)) MiB" "" \
                "$(calc '%.2f×' "$hwm / $hwm0")" "a few tens of MB" \
                "VmHWM reset before: $((hwm0 / 1024)) MiB (ratio vs that); max sampled VmRSS $(( $(sed -n 's/^max_rss_kib=//p' <<< "$out") / 1024)) MiB"
        row output "$size job + 100 followers: last follower done" "$(calc '%.2f s' "$total")" "" \
                "$(calc '%.2f×' "$total / ($ns / 1e9)")" "" \
                "each follower $(gbps "$b" "$total"), all $(gbps "$((b * 100))" "$total"); job's own writing $(calc '%.2f s' "$ns / 1e9"); ratio vs that"
}

# ---------------------------------------------------------------------------------------------- followers

bench_followers() {
        local n=${BENCH_FOLLOWERS:-1000} out1 outn
        local cmd=(sh -c 'sleep 1; seq 1 1500000')
        out1=$("$BIN/bench-client" followers --n 1 --expect-local --max-seconds 300 -- "${cmd[@]}")
        outn=$("$BIN/bench-client" followers --n "$n" --expect-local --daemon-pid "$(daemon_pid)" \
                --max-seconds 900 -- "${cmd[@]}")
        echo "$outn" > "$RESULTS/followers.txt"
        g() { sed -n "s/^$1=//p" <<< "$2"; }
        [ "$(g ok "$outn")" = 1 ] || die "followers: byte count or checksum mismatch"
        [ "$(g ok "$out1")" = 1 ] || die "follower: byte count or checksum mismatch"
        local b t1 tn
        b=$(g bytes "$outn"); t1=$(g total_s "$out1"); tn=$(g total_s "$outn")
        row followers "$n followers of one job (seq, $b bytes), Start to last EOF" "$(calc '%.2f s' "$tn")" "" \
                "$(calc '%.2f×' "$tn / $t1")" "" \
                "all $n byte-exact (count + adler32 = local run); open all: $(g open_s "$outn") s; after the job ended: $(g after_end_s "$outn") s; $(gbps "$((b * n))" "$tn") delivered; daemon VmRSS max $(( $(g max_rss_kib "$outn") / 1024)) MiB"
        row followers "1 follower of the same job (anchor)" "$(calc '%.2f s' "$t1")" "" "1 (anchor)" "" \
                "the job sleeps 1 s before writing"
}

# ---------------------------------------------------------------------------------------------- tty

# A letter typed into `telerun run -it -- cat` until it is back on the terminal: telerun, the job's relay and
# pty echo, the job's stdout through the daemon's spool, telerun's reader (bench/tty-latency.py).
bench_tty() {
        local rounds=${BENCH_TTY_ROUNDS:-200} out n med p99
        out=$(timeout 300 /usr/bin/python3 "$PROJECT/bench/tty-latency.py" "$TELERUN" "$rounds") ||
                die "tty: the local session failed"
        read -r n med p99 <<< "$out"
        row tty "keystroke round trip, telerun run -it -- cat (local, D-Bus)" "$(ms "$med")" "$(ms "$p99")" "" "" \
                "n=$n; the echo of the job's pty, through the job's stdout capture"
        if gw_start; then
                out=$(TELERUN_ADDR=127.0.0.1:$GW_PORT TELERUN_CERT=$PKI/bench.crt TELERUN_KEY=$PKI/bench.key \
                        TELERUN_CACERT=$PKI/ca.crt timeout 300 /usr/bin/python3 "$PROJECT/bench/tty-latency.py" \
                        "$TELERUN" "$rounds") || die "tty: the remote session failed"
                read -r n med p99 <<< "$out"
                row tty "keystroke round trip, telerun --addr … run -it -- cat (TLS, gateway)" "$(ms "$med")" \
                        "$(ms "$p99")" "" "" "n=$n; keys as a streamed POST …/input, the echo as the followed output"
        fi
}

# ---------------------------------------------------------------------------------------------- drop

# CPU seconds (user + system) of a process so far, from /proc/PID/stat (fields 14 and 15, in clock ticks).
proc_cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"; }

# A job writes BENCH_DROP_SIZE with head -c (8 KiB writes, a firehose) into a daemon that keeps 1 MiB of it.
# Dropping must cost the daemon far less than the job spends writing: the daemon's CPU is charged to no job.
bench_drop() {
        local size=${BENCH_DROP_SIZE:-8G} bytes id pid c0 c1 t0 t1 job_ns daemon_s wall
        local config=$BUILD/bench-config-drop.json
        bytes=$(numfmt --from=iec "$size")
        sed 's/"output_max_bytes": "8G"/"output_max_bytes": "1M"/' "$CONFIG" > "$config"
        CONFIG=$config start_daemon
        pid=$(daemon_pid)
        for i in 1 2 3; do
                c0=$(proc_cpu_s "$pid"); t0=$(now)
                id=$(start_job head -c "$size" /dev/zero); wait_job "$id"
                t1=$(now); c1=$(proc_cpu_s "$pid")
                job_ns=$("$TELERUN" status --json "$id" | sed -n 's/.*"cpu_usage_nsec":\([0-9]*\).*/\1/p')
                daemon_s=$(calc '%.3f' "$c1 - $c0"); wall=$(calc '%.2f' "$t1 - $t0")
                row drop "daemon CPU per GiB dropped (job writes $size, cap 1M), run $i" \
                        "$(calc '%.3f s' "$daemon_s / ($bytes / 1073741824)")" "" \
                        "$(calc '%.2f×' "$daemon_s / (${job_ns:-0} / 1e9 + 1e-9)")" "≤ 5 % of a core while it drops" \
                        "daemon $daemon_s s CPU in $wall s ($(calc '%.0f%%' "100 * $daemon_s / $wall") of a core); the job's own CPU $(calc '%.2f s' "${job_ns:-0} / 1e9") (ratio: daemon / job)"
        done
        systemctl stop "$UNIT"
        start_daemon
}

# ---------------------------------------------------------------------------------------------- tls

PKI=${BUILD:-}/bench-pki

gw_start() {
        local gw=$BUILD/src/gateway/teleworker-gateway i
        [ -x "$gw" ] || { log "no $gw"; return 1; }
        if [ "$(systemctl show -P ActiveState "$GW_UNIT")" = active ]; then return 0; fi
        "$PROJECT/certs/teleworker-certs.sh" "$PKI" --server-name localhost --user bench --admin > /dev/null 2>&1 ||
                { log "certificates could not be made"; return 1; }
        systemctl reset-failed "$GW_UNIT" 2> /dev/null || true
        # the gateway's own copies (LoadCredential= would need / shared in the testbed, see tests/package)
        rm -rf "$PKI-gw"
        install -d -m 0700 -o teleworker-gw "$PKI-gw"
        install -m 0600 -o teleworker-gw "$PKI/server.crt" "$PKI/server.key" "$PKI/ca.crt" "$PKI-gw/"
        systemd-run --quiet --unit="$GW_UNIT" -p User=teleworker-gw -p Type=notify -p TimeoutStartSec=30 \
                -- "$gw" --listen 127.0.0.1:$GW_PORT --cert "$PKI-gw/server.crt" --key "$PKI-gw/server.key" \
                --ca "$PKI-gw/ca.crt" ||
                { log "the gateway did not start"; journalctl --no-pager -u "$GW_UNIT" | tail -n 20 >&2; return 1; }
        for ((i = 0; i < 50; i++)); do
                if [ "$(curl -s -o /dev/null -w '%{http_code}' --cert "$PKI/bench.crt" --key "$PKI/bench.key" \
                        --cacert "$PKI/ca.crt" "https://127.0.0.1:$GW_PORT/v1/jobs")" = 200 ]; then
                        return 0
                fi
                sleep 0.2
        done
        log "the gateway does not answer GET /v1/jobs with 200"
        journalctl --no-pager -u "$GW_UNIT" | tail -n 20 >&2
        return 1
}

s_time() {      # s_time PORT: new full mTLS handshakes per second (openssl s_time, 10 s)
        local out
        out=$(timeout 60 openssl s_time -connect "127.0.0.1:$1" -new -time 10 -cert "$PKI/bench.crt" \
                -key "$PKI/bench.key" -CAfile "$PKI/ca.crt" 2>&1) || true
        echo "$out" >> "$RESULTS/s_time.txt"
        # "N connections in T real seconds"
        awk '/connections in [0-9]+ real seconds/ { c = $1; t = $4 } END { if (t > 0) printf "%.0f", c / t }' <<< "$out"
}

bench_tls() {
        if ! gw_start; then
                row tls "mTLS handshakes/s, gateway" "not measured yet" "-" "-" "" "gateway pending (does not start or answer)"
                row tls "follower throughput over TLS (loopback)" "not measured yet" "-" "-" "≥ 500 MB/s" "gateway pending"
                return 0
        fi
        local gw anchor spid
        gw=$(s_time $GW_PORT)
        timeout 120 openssl s_server -accept "127.0.0.1:$SSL_PORT" -cert "$PKI/server.crt" -key "$PKI/server.key" \
                -CAfile "$PKI/ca.crt" -Verify 1 -tls1_3 -no_ticket -quiet > /dev/null 2>&1 &
        spid=$!
        sleep 1
        anchor=$(s_time $SSL_PORT)
        kill "$spid" 2> /dev/null || true
        wait "$spid" 2> /dev/null || true
        row tls "mTLS 1.3 full handshakes/s, teleworker-gateway (openssl s_time -new)" "${gw:-?}/s" "" \
                "$(calc '%.2f×' "${gw:-0} / ${anchor:-1}")" "" "ECDSA P-256 certificates; no resumption"
        row tls "same against openssl s_server -Verify 1 -tls1_3 (anchor)" "${anchor:-?}/s" "" "1 (anchor)" "" ""

        # follower throughput: a finished job's output through the gateway, into curl
        local size=${BENCH_TLS_SIZE:-2G} bytes id i out tls=() loc=() t0 t1
        bytes=$(numfmt --from=iec "$size")
        id=$(start_job head -c "$size" /dev/zero); wait_job "$id"
        for ((i = 0; i < 3; i++)); do
                out=$(timeout 600 curl -s -o /dev/null -w '%{size_download} %{time_total}\n' --cert "$PKI/bench.crt" \
                        --key "$PKI/bench.key" --cacert "$PKI/ca.crt" "https://127.0.0.1:$GW_PORT/v1/jobs/$id/output")
                [ "${out%% *}" = "$bytes" ] || die "TLS follower got ${out%% *} bytes, expected $bytes"
                tls+=("${out#* }")
                t0=$(now); "$TELERUN" logs "$id" > /dev/null; t1=$(now)
                loc+=("$(calc '%.6f' "$t1 - $t0")")
        done
        # anchor: the same TLS stack and client, openssl s_server -WWW serving the spool file (page cache)
        local wtimes=() spool
        spool=$(spool_of "$id")
        (cd "${spool%/*}" && exec timeout 600 openssl s_server -accept "127.0.0.1:$SSL_PORT" -cert "$PKI/server.crt" \
                -key "$PKI/server.key" -CAfile "$PKI/ca.crt" -Verify 1 -tls1_3 -no_ticket -quiet -WWW) > /dev/null 2>&1 &
        spid=$!
        sleep 1
        for ((i = 0; i < 3; i++)); do
                out=$(timeout 600 curl -s -o /dev/null -w '%{size_download} %{time_total}\n' --cert "$PKI/bench.crt" \
                        --key "$PKI/bench.key" --cacert "$PKI/ca.crt" "https://127.0.0.1:$SSL_PORT/${spool##*/}") || true
                [ "${out%% *}" = "$bytes" ] && wtimes+=("${out#* }")
        done
        kill "$spid" 2> /dev/null || true
        wait "$spid" 2> /dev/null || true
        free_spool "$id"
        local mt ml aes mw=""
        [ ${#wtimes[@]} -eq 0 ] || mw=$(printf '%s\n' "${wtimes[@]}" | sort -n | sed -n "$(( (${#wtimes[@]} + 1) / 2 ))p")
        mt=$(printf '%s\n' "${tls[@]}" | sort -n | sed -n 2p); ml=$(printf '%s\n' "${loc[@]}" | sort -n | sed -n 2p)
        # one core's AES-256-GCM (TLS_AES_256_GCM_SHA384, what OpenSSL picks first) at 16 KiB records
        aes=$(openssl speed -seconds 3 -bytes 16384 -evp aes-256-gcm 2> /dev/null | awk 'tolower($1) == "aes-256-gcm" { sub(/k$/, "", $2); print $2 * 1000 }')
        row tls "follower over TLS: curl …/v1/jobs/ID/output of a finished $size job" "$(gbps "$bytes" "$mt")" "" \
                "$([ -n "$mw" ] && calc '%.2f×' "$mw / $mt" || echo -)" "≥ 500 MB/s" \
                "median of 3; ratio vs curl from openssl s_server -WWW; vs telerun logs locally: $(calc '%.2f×' "$ml / $mt") ($(gbps "$bytes" "$ml")); one core's AES-256-GCM: $(calc '%.2f GB/s' "${aes:-0} / 1e9")"
        if [ -n "$mw" ]; then
                row tls "same bytes, curl from openssl s_server -WWW -Verify 1 (anchor)" "$(gbps "$bytes" "$mw")" "" "1 (anchor)" "" \
                        "HTTP/1.0, the spool file served from the page cache"
        else
                row tls "same bytes, curl from openssl s_server -WWW -Verify 1 (anchor)" "not measured" "" "" "" "s_server -WWW failed"
        fi
}

# =============================================================================================== host

host_cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        "$PROJECT/tests/testbed.sh" down || true
        rm -rf "$BUILD/bench-state"
        exit $rc
}

build() {
        if [ ! -f "$BUILD/build.ninja" ]; then
                # release = -O3, warnings still errors like every other build
                meson setup "$BUILD" "$PROJECT" -Dbuildtype=release -Dtests=false > /dev/null
        fi
        ninja -C "$BUILD" > /dev/null
        mkdir -p "$BUILD/bench-bin"
        local cc=(cc -O2 -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
        local sd
        read -ra sd <<< "$(pkg-config --cflags --libs libsystemd)"
        "${cc[@]}" "$PROJECT/bench/bench-client.c" -o "$BUILD/bench-bin/bench-client" "${sd[@]}" -lz
        "${cc[@]}" "$PROJECT/bench/spawn-cost.c" -o "$BUILD/bench-bin/spawn-cost"
        "${cc[@]}" -shared -fPIC "$PROJECT/bench/inflate.c" -o "$BUILD/bench-bin/inflate.so"
}

# The generated block of docs/benchmarks.md: machine, date, command, one table per benchmark.
render() {
        local s
        echo "<!-- bench:begin (generated by bench/run.sh --write; edit outside this block) -->"
        echo
        echo "Last run $BENCH_DATE: \`sudo bench/run.sh --write${NAMES_ARG:+ $NAMES_ARG}\` (each table says when it was measured; machine lines: the last run)"
        echo
        echo "| machine | |"
        echo "|---|---|"
        echo "| CPU | $(nproc) × $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) |"
        echo "| memory | $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
        echo "| kernel | $(uname -r) |"
        echo "| host PID 1 | $(tr -d '\0' < /proc/1/comm) (not systemd: the benchmarks run in the namespace testbed) |"
        echo "| build | \`$BUILD\` (meson buildtype=release, -O3) |"
        awk -F'\t' '{ printf "| %s | %s |\n", $1, $2 }' "$RESULTS/meta.tsv"
        for s in $ALL_BENCHES; do
                grep -q "^$s	" "$BUILD/bench-history.tsv" || continue
                echo
                echo "### $s (measured $(awk -F'\t' -v s="$s" '$1 == s { d = $8 } END { print d }' "$BUILD/bench-history.tsv"))"
                echo
                echo "| measurement | median | p99 | ratio | aim | notes |"
                echo "|---|---|---|---|---|---|"
                awk -F'\t' -v s="$s" '$1 == s { for (i = 2; i <= 7; i++) gsub(/\|/, "\\|", $i)
                        printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7 }' \
                        "$BUILD/bench-history.tsv"
        done
        echo
        echo "<!-- bench:end -->"
}

write_doc() {       # replaces the generated block (RESULTS/block.md) in docs/benchmarks.md
        local doc=$PROJECT/docs/benchmarks.md
        if [ -f "$doc" ] && grep -q '^<!-- bench:begin' "$doc" && grep -q '^<!-- bench:end' "$doc"; then
                awk -v f="$RESULTS/block.md" '
                        /^<!-- bench:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
                        /^<!-- bench:end/ { skip = 0; next }
                        !skip { print }' "$doc" > "$doc.new"
                mv "$doc.new" "$doc"
        else
                { echo "# Benchmarks"; echo; cat "$RESULTS/block.md"; } > "$doc"
        fi
        log "updated $doc"
}

host() {
        local write=0 n
        BUILD=$PROJECT/build-bench
        NAMES=""
        while [ $# -gt 0 ]; do
                case "$1" in
                --write) write=1 ;;
                --write-only) write=2 ;;
                --build) BUILD=$(readlink -m "$2"); shift ;;
                --build=*) BUILD=$(readlink -m "${1#*=}") ;;
                -h | --help) sed -n '3,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
                -*) die "unknown option $1" ;;
                *) case " $ALL_BENCHES " in *" $1 "*) NAMES+="$1 " ;; *) die "unknown benchmark '$1' ($ALL_BENCHES)" ;; esac ;;
                esac
                shift
        done
        NAMES_ARG=${NAMES% }
        NAMES=${NAMES:-$ALL_BENCHES}
        [ "$(id -u)" = 0 ] || die "needs root (sudo bench/run.sh)"
        [ -z "${TB_INSIDE:-}" ] || die "run it on the host; it boots its own testbed"
        RESULTS=$BUILD/bench-results
        if [ "$write" = 2 ]; then       # re-render docs/benchmarks.md from BUILD/bench-history.tsv, run nothing
                [ -s "$BUILD/bench-history.tsv" ] || die "no $BUILD/bench-history.tsv: run the benchmarks first"
                BENCH_DATE=$(awk -F'\t' 'NR == 1 { print $8 }' "$RESULTS/results.tsv")
                NAMES_ARG=$(cut -f1 "$RESULTS/results.tsv" | uniq | tr '\n' ' ' | sed 's/ $//')
                [ "$NAMES_ARG" != "${ALL_BENCHES}" ] || NAMES_ARG=""
                render > "$RESULTS/block.md"
                write_doc
                return 0
        fi
        export TB_DIR=${TB_DIR:-$BUILD/bench-testbed} TB_BIND=${TB_BIND:-$PROJECT}

        log "building $BUILD"
        build
        rm -rf "$RESULTS"
        mkdir -p "$RESULTS"
        BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
        export BENCH_DATE
        : > "$RESULTS/results.tsv"
        : > "$RESULTS/meta.tsv"
        trap host_cleanup EXIT
        trap 'exit 130' INT TERM
        "$PROJECT/tests/testbed.sh" down > /dev/null 2>&1 || true     # a crashed earlier run
        "$PROJECT/tests/testbed.sh" up
        # shellcheck disable=SC2086 # benchmark names are words
        local envs=() v
        for v in $(compgen -e); do [[ $v == BENCH_* ]] && envs+=("$v=${!v}"); done
        "$PROJECT/tests/testbed.sh" run "$SELF" --inside "$BUILD" "$RESULTS" "${envs[@]}" $NAMES ||
                log "the run inside failed"
        "$PROJECT/tests/testbed.sh" down
        rm -rf "$BUILD/bench-state"
        trap - EXIT INT TERM

        echo
        printf '%-10s | %-80s | %-16s | %-10s | %-22s | %s\n' bench measurement median p99 ratio aim
        awk -F'\t' '{ printf "%-10s | %-80s | %-16s | %-10s | %-22s | %s\n", $1, $2, $3, $4, $5, $6 }' "$RESULTS/results.tsv"
        n=$(grep -c 'FAILED' "$RESULTS/results.tsv" || true)
        # BUILD/bench-history.tsv: the latest rows of every benchmark, so that re-running some of them keeps the
        # others in the document
        local hist=$BUILD/bench-history.tsv sec
        touch "$hist"
        for sec in $NAMES; do
                grep -q "^$sec	" "$RESULTS/results.tsv" || continue
                awk -F'\t' -v s="$sec" '$1 != s' "$hist" > "$hist.new"; mv "$hist.new" "$hist"
                grep "^$sec	" "$RESULTS/results.tsv" >> "$hist"
        done
        [ "$write" = 0 ] || { render > "$RESULTS/block.md"; write_doc; }
        [ "$n" = 0 ] || die "$n benchmark(s) failed"
}

case "${1:-}" in
--inside) shift; inside "$@" ;;
--bench)
        BUILD=${BUILD:?} RESULTS=${RESULTS:?}
        PKI=$BUILD/bench-pki
        "bench_$2"
        ;;
*) host "$@" ;;
esac
