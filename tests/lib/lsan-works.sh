# SPDX-License-Identifier: MIT
# tests/lib/lsan-works.sh - sourced by tests/run-all.sh and tests/fuzz/run-bounded.sh.
#
# lsan_works CC: whether LeakSanitizer can run here. It needs ptrace-like access to the process, which
# some containers forbid; where it cannot, the callers run with detect_leaks=0 instead of failing.
lsan_works() {
        local d out
        d=$(mktemp -d) || return 1
        printf '#include <stdlib.h>\nint main(void) { return malloc(7) == NULL; }\n' > "$d/p.c"
        "$1" -fsanitize=address -o "$d/p" "$d/p.c" 2> /dev/null || { rm -rf "$d"; return 1; }
        out=$(ASAN_OPTIONS=detect_leaks=1 "$d/p" 2>&1)
        rm -rf "$d"
        [[ $out != *"LeakSanitizer has encountered a fatal error"* && $out != *"does not work under ptrace"* ]]
}
