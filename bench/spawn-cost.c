/* SPDX-License-Identifier: MIT */
/* spawn-cost.c - fork() vs posix_spawn() from a process of a given RSS. Not a test.
 *
 *   spawn-cost [--rss MIB] [--runs N]
 *
 * Allocates and touches MIB MiB of anonymous memory (4 KiB pages: MADV_NOHUGEPAGE, the daemon's malloc arena
 * case), then N times each, interleaved: fork() + _exit(0) in the child; fork() + execve(/bin/true);
 * posix_spawn(/bin/true). Times the call in the parent until it returns (spawn cost) and until the child is
 * reaped (total). Prints TSV: method rss_mib n call_median_us call_p99_us total_median_us total_p99_us. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p) {
        size_t k = (size_t) (p / 100.0 * (double) n + 0.999999);
        return v[(k < 1 ? 1 : k > n ? n : k) - 1];
}

int main(int argc, char **argv) {
        unsigned long rss_mib = 1024;
        unsigned runs = 50;
        static const char *const names[] = { "fork+_exit", "fork+exec", "posix_spawn" };
        uint64_t *call[3], *total[3];
        int c;

        while ((c = getopt(argc, argv, "m:n:")) >= 0)
                switch (c) {
                case 'm': rss_mib = strtoul(optarg, NULL, 10); break;
                case 'n': runs = (unsigned) atoi(optarg); break;
                default: fprintf(stderr, "usage: spawn-cost [-m RSS_MIB] [-n RUNS]\n"); return 2;
                }
        if (rss_mib > 0) {
                size_t len = rss_mib << 20;
                char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        perror("mmap");
                        return 1;
                }
                (void) madvise(p, len, MADV_NOHUGEPAGE);
                for (size_t i = 0; i < len; i += 4096)
                        p[i] = 1;
        }
        for (int m = 0; m < 3; m++) {
                call[m] = calloc(runs, sizeof(uint64_t));
                total[m] = calloc(runs, sizeof(uint64_t));
        }
        char *targv[] = { "/bin/true", NULL };
        for (unsigned i = 0; i < runs + 3; i++)
                for (int k = 0; k < 3; k++) {
                        int m = (int) ((k + i) % 3), st;
                        uint64_t t0 = now_ns(), t1;
                        pid_t pid;
                        if (m == 2) {
                                int r = posix_spawn(&pid, "/bin/true", NULL, NULL, targv, environ);
                                if (r) {
                                        fprintf(stderr, "posix_spawn: %s\n", strerror(r));
                                        return 1;
                                }
                        } else {
                                pid = fork();
                                if (pid == 0) {
                                        if (m == 1)
                                                execve("/bin/true", targv, environ);
                                        _exit(0);
                                }
                                if (pid < 0) {
                                        perror("fork");
                                        return 1;
                                }
                        }
                        t1 = now_ns();
                        waitpid(pid, &st, 0);
                        if (i < 3)
                                continue;
                        call[m][i - 3] = t1 - t0;
                        total[m][i - 3] = now_ns() - t0;
                }
        for (int m = 0; m < 3; m++) {
                qsort(call[m], runs, sizeof(uint64_t), cmp);
                qsort(total[m], runs, sizeof(uint64_t), cmp);
                printf("%s\t%lu\t%u\t%.1f\t%.1f\t%.1f\t%.1f\n", names[m], rss_mib, runs,
                       pct(call[m], runs, 50) / 1e3, pct(call[m], runs, 99) / 1e3, pct(total[m], runs, 50) / 1e3,
                       pct(total[m], runs, 99) / 1e3);
        }
        return 0;
}
