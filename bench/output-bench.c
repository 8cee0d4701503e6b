/* SPDX-License-Identifier: MIT */
/* output-bench.c - output store throughput and memory: one writer, N followers, real processes.
 *
 * Not a test. A child writes --size bytes into the job pipe as fast as it can; N follower children each read
 * their own reader fd (opened from offset 0 with follow) with read(2) and count bytes. This process is the
 * "daemon": it only runs the store on an sd-event loop. Reports capture throughput (until the stream is
 * complete), follower throughput (until the last follower has its EOF) and this process's peak RSS.
 *
 *   output-bench [--size BYTES] [--followers N] [--dir DIR] [--cap BYTES] [--write-size BYTES]
 *
 * With a small --cap and --followers 0 it measures what dropping output costs the daemon: the CPU time of this
 * process (user + system) per GiB dropped, next to the writer's own CPU time (bench/run.sh drop).
 *
 * The spool goes to DIR (default $TMPDIR or /var/tmp) and is removed at the end. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "shared/macro.h"
#include "engine/output.h"

#define BUF_SIZE (1024 * 1024)

static uint64_t arg_size = UINT64_C(4) << 30;
static unsigned arg_followers = 100;
static uint64_t arg_cap = 0;
static const char *arg_dir = NULL;
static size_t arg_write_size = BUF_SIZE;

static uint64_t bench_now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static double bench_cpu_sec(int who) {
        struct rusage ru;

        if (getrusage(who, &ru) < 0)
                return -1;
        return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static long bench_hwm_kib(void) {
        char line[256];
        long kib = -1;
        FILE *f;

        f = fopen("/proc/self/status", "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* In a child: keep fd as fd 0 (or 1 if out), close everything else above stderr. */
static void bench_child_keep(int fd, int target) {
        if (dup2(fd, target) < 0 || close_range(3, ~0U, 0) < 0)
                _exit(2);
}

static pid_t bench_spawn_writer(int *ret_input) {
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                static char buf[BUF_SIZE];
                uint64_t left = arg_size;

                bench_child_keep(p[1], STDOUT_FILENO);
                for (size_t i = 0; i < sizeof(buf); i++)
                        buf[i] = (char) ('a' + i % 26);
                while (left > 0) {
                        ssize_t k = write(STDOUT_FILENO, buf, (size_t) MIN(left, (uint64_t) arg_write_size));
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                _exit(1);
                        }
                        left -= (uint64_t) k;
                }
                _exit(0);
        }
        close(p[1]);
        *ret_input = p[0];
        return pid;
}

/* A follower: reads its fd to EOF; exit status 0 if it got exactly `expect` bytes. */
static pid_t bench_spawn_follower(int fd, uint64_t expect) {
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                static char buf[BUF_SIZE];
                uint64_t got = 0;

                bench_child_keep(fd, STDIN_FILENO);
                for (;;) {
                        ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                _exit(1);
                        }
                        if (k == 0)
                                break;
                        got += (uint64_t) k;
                }
                _exit(got == expect ? 0 : 3);
        }
        return pid;
}

static int bench_parse(int argc, char *argv[]) {
        static const struct option options[] = {
                { "size",      required_argument, NULL, 's' },
                { "followers", required_argument, NULL, 'n' },
                { "cap",       required_argument, NULL, 'c' },
                { "dir",       required_argument, NULL, 'd' },
                { "write-size", required_argument, NULL, 'w' },
                { "help",      no_argument,       NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "s:n:c:d:w:h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        arg_size = strtoull(optarg, NULL, 0);
                        break;
                case 'n':
                        arg_followers = (unsigned) strtoul(optarg, NULL, 0);
                        break;
                case 'c':
                        arg_cap = strtoull(optarg, NULL, 0);
                        break;
                case 'd':
                        arg_dir = optarg;
                        break;
                case 'w':
                        arg_write_size = (size_t) strtoull(optarg, NULL, 0);
                        if (arg_write_size == 0 || arg_write_size > BUF_SIZE) {
                                fprintf(stderr, "--write-size must be 1..%d\n", BUF_SIZE);
                                return -EINVAL;
                        }
                        break;
                default:
                        fprintf(stderr, "usage: %s [--size BYTES] [--followers N] [--cap BYTES] [--dir DIR] [--write-size BYTES]\n",
                                argv[0]);
                        return c == 'h' ? 0 : -EINVAL;
                }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(freep) pid_t *followers = NULL;
        char spool[4096];
        sd_event *e = NULL;
        OutputStore *s = NULL;
        uint64_t t0, t_complete = 0, t_done, expect;
        double cpu0, cpu, cpu_children;
        unsigned failed = 0;
        struct rlimit rl;
        int r, input = -EBADF;
        pid_t writer;

        r = bench_parse(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        (void) signal(SIGPIPE, SIG_IGN);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (!arg_dir)
                arg_dir = getenv("TMPDIR") ?: "/var/tmp";
        (void) snprintf(spool, sizeof(spool), "%s/output-bench.%i", arg_dir, (int) getpid());
        expect = arg_cap > 0 ? MIN(arg_cap, arg_size) : arg_size;

        r = sd_event_new(&e);
        if (r < 0)
                goto fail;
        writer = bench_spawn_writer(&input);
        if (writer < 0) {
                r = (int) writer;
                goto fail;
        }
        r = output_store_new(e, spool, input, arg_cap, &s);
        if (r < 0)
                goto fail;

        followers = new0(pid_t, arg_followers + 1);
        if (!followers) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned i = 0; i < arg_followers; i++) {
                int fd;

                r = output_store_open_reader(s, 0, true, &fd);
                if (r < 0)
                        goto fail;
                followers[i] = bench_spawn_follower(fd, expect);
                close(fd);
                if (followers[i] < 0) {
                        r = (int) followers[i];
                        goto fail;
                }
        }

        t0 = bench_now();
        cpu0 = bench_cpu_sec(RUSAGE_SELF);
        while (!output_store_complete(s) || output_store_n_readers(s) > 0) {
                r = sd_event_run(e, UINT64_MAX);
                if (r < 0)
                        goto fail;
                if (t_complete == 0 && output_store_complete(s))
                        t_complete = bench_now();
        }
        for (unsigned i = 0; i < arg_followers; i++) {
                int status;

                if (waitpid(followers[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        failed++;
        }
        t_done = bench_now();
        cpu = bench_cpu_sec(RUSAGE_SELF) - cpu0;
        (void) waitpid(writer, NULL, 0);
        /* The followers were reaped above, so with --followers 0 this is the writer alone. */
        cpu_children = bench_cpu_sec(RUSAGE_CHILDREN);

        printf("size %" PRIu64 " MiB, followers %u, cap %" PRIu64 ": kept %" PRIu64 ", dropped %" PRIu64 "\n",
               arg_size >> 20, arg_followers, arg_cap, output_store_size(s), output_store_dropped(s));
        printf("capture:   %.2f s, %.0f MiB/s\n", (double) (t_complete - t0) / 1e6,
               (double) arg_size / (1 << 20) / ((double) (t_complete - t0) / 1e6));
        if (arg_followers > 0)
                printf("followers: %.2f s until the last EOF, %.0f MiB/s each, %.0f MiB/s total%s\n",
                       (double) (t_done - t0) / 1e6,
                       (double) expect / (1 << 20) / ((double) (t_done - t0) / 1e6),
                       (double) expect * arg_followers / (1 << 20) / ((double) (t_done - t0) / 1e6),
                       failed ? " (SOME FOLLOWERS GOT WRONG BYTE COUNTS)" : "");
        printf("daemon CPU: %.3f s (%.3f s per GiB dropped); children's CPU: %.3f s\n", cpu,
               output_store_dropped(s) > 0 ? cpu / ((double) output_store_dropped(s) / (1 << 30)) : 0.0,
               cpu_children);
        printf("daemon peak RSS (VmHWM): %ld KiB\n", bench_hwm_kib());

        output_store_free(s);
        sd_event_unref(e);
        (void) unlink(spool);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;

fail:
        fprintf(stderr, "output-bench: %s\n", strerror(-r));
        output_store_free(s);
        sd_event_unref(e);
        (void) unlink(spool);
        return EXIT_FAILURE;
}
