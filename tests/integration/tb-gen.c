/* SPDX-License-Identifier: MIT */
/* tb-gen - deterministic job payloads for the integration tests.
 *
 *   tb-gen bytes N            the 256 byte values, N times
 *   tb-gen blob SEED SIZE     SIZE pseudo-random bytes from SEED (xorshift64*)
 *   tb-gen hog MIB            allocates and touches MIB MiB, then sleeps (an OOM victim)
 *   tb-gen orphans FILE N     forks N double-forked sleepers that ignore SIGTERM, writes their PIDs to FILE,
 *                             then ignores SIGTERM and sleeps itself
 *   tb-gen seq N DELAY_MS     lines "1".."N", one every DELAY_MS */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tb-gen.h"

static void write_all(const void *buf, size_t n) {
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = write(STDOUT_FILENO, p, n);
                if (k <= 0)
                        exit(3);
                p += k;
                n -= (size_t) k;
        }
}

int main(int argc, char **argv) {
        if (argc >= 3 && strcmp(argv[1], "bytes") == 0) {
                uint8_t b[256];
                for (int i = 0; i < 256; i++)
                        b[i] = (uint8_t) i;
                for (long n = atol(argv[2]); n > 0; n--)
                        write_all(b, sizeof(b));
                return 0;
        }
        if (argc >= 4 && strcmp(argv[1], "blob") == 0) {
                uint64_t state = tb_gen_seed(strtoull(argv[2], NULL, 10));
                uint64_t left = strtoull(argv[3], NULL, 10);
                uint8_t buf[65536];

                while (left > 0) {
                        size_t n = left < sizeof(buf) ? (size_t) left : sizeof(buf);
                        tb_gen_fill(&state, buf, n);
                        write_all(buf, n);
                        left -= n;
                }
                return 0;
        }
        if (argc >= 3 && strcmp(argv[1], "hog") == 0) {
                long mib = atol(argv[2]);
                for (long i = 0; i < mib; i++) {
                        char *p = malloc(1 << 20);
                        if (!p)
                                return 4;
                        memset(p, 0x5a, 1 << 20);
                }
                printf("survived %ld MiB\n", mib);
                fflush(stdout);
                pause();
                return 0;
        }
        if (argc >= 4 && strcmp(argv[1], "orphans") == 0) {
                FILE *f = fopen(argv[2], "we");
                int n = atoi(argv[3]);

                if (!f)
                        return 5;
                signal(SIGTERM, SIG_IGN);
                for (int i = 0; i < n; i++) {
                        int p[2];
                        pid_t grandchild = 0;

                        if (pipe(p) < 0)
                                return 6;
                        if (fork() == 0) {
                                pid_t g = fork();
                                if (g == 0) {
                                        close(p[0]);
                                        close(p[1]);
                                        setsid();
                                        for (;;)
                                                pause();
                                }
                                (void) !write(p[1], &g, sizeof(g));
                                _exit(0);
                        }
                        close(p[1]);
                        if (read(p[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
                                return 7;
                        close(p[0]);
                        fprintf(f, "%d\n", (int) grandchild);
                }
                fprintf(f, "%d\n", (int) getpid());
                fclose(f);
                printf("ready\n");
                fflush(stdout);
                for (;;)
                        pause();
        }
        if (argc >= 4 && strcmp(argv[1], "seq") == 0) {
                long n = atol(argv[2]), ms = atol(argv[3]);
                for (long i = 1; i <= n; i++) {
                        printf("%ld\n", i);
                        fflush(stdout);
                        if (ms > 0)
                                nanosleep(&(struct timespec) { ms / 1000, (ms % 1000) * 1000000 }, NULL);
                }
                return 0;
        }
        fprintf(stderr, "usage: tb-gen bytes N | blob SEED SIZE | hog MIB | orphans FILE N | seq N DELAY_MS\n");
        return 2;
}
