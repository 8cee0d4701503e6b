/* SPDX-License-Identifier: MIT */
/* inflate.c - LD_PRELOAD library for bench/run.sh: inflates the resident set of the process it is loaded into
 * by BENCH_INFLATE_MIB MiB of touched anonymous memory (4 KiB pages), to show that teleworkerd's job start
 * cost does not grow with its size. Acts only in a process named teleworkerd, and removes LD_PRELOAD and
 * BENCH_INFLATE_MIB from the environment so nothing the daemon spawns inherits it. Not a test. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

__attribute__((constructor)) static void bench_inflate(void) {
        const char *v = getenv("BENCH_INFLATE_MIB");
        size_t len;
        char *p;

        if (!v || strcmp(program_invocation_short_name, "teleworkerd") != 0)
                return;
        len = strtoul(v, NULL, 10) << 20;
        unsetenv("LD_PRELOAD");
        unsetenv("BENCH_INFLATE_MIB");
        if (len == 0)
                return;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return;
        (void) madvise(p, len, MADV_NOHUGEPAGE);
        for (size_t i = 0; i < len; i += 4096)
                p[i] = 1;
}
