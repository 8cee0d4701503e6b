#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/fuzz/run-one.sh FUZZER SEED_CORPUS WORK_DIR [DICT] - one time-bounded libFuzzer run. The meson test of
# each target in a -Dfuzzing=true build (suite fuzz-bounded); tests/fuzz/run-bounded.sh runs them all.
#
# The run starts from a copy of the committed corpus in WORK_DIR/corpus (new inputs land there, never in the
# source tree); a crash, leak, timeout or out-of-memory input is saved in WORK_DIR/artifacts/. The last line
# of the output, also kept in WORK_DIR/summary, is machine-readable:
#
#   fuzz-result target=NAME status=ok|crash|leak|timeout|oom|error seconds=S runs=N exec_per_sec=N cov=N ft=N
#               corpus=N peak_rss_mb=N [artifact=PATH]
#
# Environment: FUZZ_SECONDS (30) per target, FUZZ_TIMEOUT (10) seconds per input, FUZZ_RSS_MB (2048),
# FUZZ_MAX_LEN (4096) bytes per input, FUZZ_DETECT_LEAKS (1), FUZZ_ARGS (more libFuzzer flags).
set -uo pipefail

fuzzer=$1 seeds=$2 work=$3 dict=${4:-}
name=$(basename "$fuzzer")
seconds=${FUZZ_SECONDS:-30}
leaks=${FUZZ_DETECT_LEAKS:-1}

# run: the fuzzer, from a fresh copy of the seeds; sets rc and elapsed
run() {
        local args t0=$SECONDS

        rm -rf "$work"
        mkdir -p "$work/corpus" "$work/artifacts" || return 1
        cp -- "$seeds"/* "$work/corpus/" || return 1
        args=(-max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}"
              -max_len="${FUZZ_MAX_LEN:-4096}" -detect_leaks="$leaks" -print_final_stats=1
              -artifact_prefix="$work/artifacts/")
        [ -z "$dict" ] || args+=(-dict="$dict")
        # shellcheck disable=SC2206 # FUZZ_ARGS is a list of flags
        args+=(${FUZZ_ARGS:-})

        # UBSan reports and goes on by default: make a report a crash libFuzzer saves. Caller's options win.
        export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
        export ASAN_OPTIONS="detect_leaks=$leaks${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
        # A hard limit over libFuzzer's own, for a run that hangs outside an input (loading, exit).
        timeout -k 10 $((seconds * 2 + 120)) "$fuzzer" "${args[@]}" "$work/corpus" > "$work/log" 2>&1
        rc=$?
        elapsed=$((SECONDS - t0))
}

# The final stats ("stat::average_exec_per_sec: 13679") and the last status line ("#424065 DONE cov: 716
# ft: 3410 corp: 398/41Kb ...") of the log.
final_stat() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$work/log" | tail -n 1; }
status_field() {
        grep -E '^#[0-9]+[[:space:]]' "$work/log" | tail -n 1 | sed -n "s/.* $1: \([0-9]*\).*/\1/p"
}

main() {
        local artifact status summary

        rc=1 elapsed=0
        run || { echo "fuzz-result target=$name status=error" | tee "$work/summary"; return 1; }
        artifact=$(find "$work/artifacts" -maxdepth 1 -type f \
                        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | head -n 1)
        if [ -n "$artifact" ]; then
                status=$(basename "$artifact")
                status=${status%%-*}
        elif [ $rc = 0 ]; then
                status=ok
        else
                status=error
        fi

        summary="fuzz-result target=$name status=$status seconds=$elapsed"
        summary+=" runs=$(final_stat number_of_executed_units) exec_per_sec=$(final_stat average_exec_per_sec)"
        summary+=" cov=$(status_field cov) ft=$(status_field ft) corpus=$(find "$work/corpus" -type f | wc -l)"
        summary+=" peak_rss_mb=$(final_stat peak_rss_mb)"
        [ -z "$artifact" ] || summary+=" artifact=$artifact"

        if [ "$status" != ok ]; then
                # the sanitizer's or libFuzzer's report is at the end of the log
                echo "---- $name: last lines of $work/log (exit status $rc)"
                tail -n 80 "$work/log"
                echo "----"
        fi
        if [ -n "$artifact" ]; then
                echo "$name: the input is saved in $artifact"
                echo "reproduce:  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $fuzzer $artifact"
                echo "minimize:   $fuzzer -minimize_crash=1 -runs=100000 -exact_artifact_path=$work/minimized" \
                     "$artifact"
                echo "regression: cp $work/minimized $seeds/<what-it-is>  (replayed by the unit test $name)"
        fi
        echo "$summary" | tee "$work/summary"
        [ "$status" = ok ]
}

main; exit      # one line: an edit of this file during a run must not feed bash new text
