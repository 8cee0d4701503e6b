/* SPDX-License-Identifier: MIT */
/* bench-client.c - load generator and stopwatch for bench/run.sh. Not a test; runs inside a testbed against
 * the real teleworkerd on the real system bus (as root).
 *
 *   bench-client latency [--runs N] [--max-seconds S] [--telerun PATH] [--io-device PATH] [--samples FILE] MODE...
 *       Runs each MODE once per round, rounds interleaved (the order rotates every round), after 5 warm-up
 *       rounds. Prints one TSV line per mode: mode n median_us p90_us p99_us min_us max_us.
 *       MODEs: telerun       posix_spawn `telerun run -- /bin/true`, until it exits (0 expected)
 *              systemd-run   posix_spawn `systemd-run --scope --quiet /bin/true`
 *              bus           Start([/bin/true]) + Wait on one open connection (job defaults: PID + mount ns)
 *              bus-noiso     the same with PrivatePID=false, PrivateTmp=false
 *              scope         systemd only: fork a child that blocks on a pipe, StartTransientUnit of a scope with
 *                            PIDs=[child] (like systemd-run --scope), wait for JobRemoved, release the child,
 *                            which execs /bin/true; until it is reaped
 *              scope-limits  the same with the properties teleworkerd sets (accounting, CPU/memory/tasks/IO
 *                            limits, CollectMode, OOMPolicy, TimeoutStopUSec)
 *
 *   bench-client rate [--jobs N] [--inflight K] [--max-seconds S]
 *       N jobs of /bin/true, K in flight (async Start, then Wait, then the next Start). Prints
 *       jobs total_s jobs_per_s failed.
 *
 *   bench-client followers [--n N] [--splice] [--daemon-pid PID] [--expect-local] [--max-seconds S] -- ARGV...
 *       Starts ARGV as a job, opens N followers (OpenOutput(id, 0, follow=true); at most 64 calls pending) and
 *       drains them all from one epoll loop: with read(2) and an adler32 per follower, or with --splice into
 *       /dev/null (no copy, byte count only). Every follower must end with the same byte count (and checksum);
 *       with --expect-local also equal to ARGV run locally. Samples the daemon's VmRSS every 50 ms.
 *       Prints key=value lines: bytes, open_s (all N open), total_s (Start to the last EOF), after_end_s
 *       (the job's end to the last EOF), ok, max_rss_kib, hwm_kib (daemon VmHWM at the end).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <systemd/sd-bus.h>

#define DEST "org.teleworker.worker1"
#define PATH "/org/teleworker/worker1"
#define IFACE "org.teleworker.worker1.Manager"

extern char **environ;

static const char *arg_telerun = "telerun";
static const char *arg_io_device = "/";
static unsigned arg_runs = 200;
static double arg_max_seconds = 600;
static const char *arg_samples;
static unsigned arg_jobs = 1000, arg_inflight = 50, arg_n = 1000;
static bool arg_splice, arg_expect_local;
static pid_t arg_daemon_pid;
static uint64_t t_deadline;

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

#define die(...) do { fprintf(stderr, "bench-client: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static bool past_deadline(void) {
        return now_us() > t_deadline;
}

static sd_bus *bus_open(void) {
        sd_bus *bus;
        int r = sd_bus_open_system(&bus);
        if (r < 0)
                die("system bus: %s", strerror(-r));
        return bus;
}

/* ---------------------------------------------------------------------------------------------- latency */

static int run_process(char *const argv[]) {
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int status, r;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                die("spawn %s: %s", argv[0], strerror(r));
        if (waitpid(pid, &status, 0) < 0)
                die("waitpid: %m");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int append_start(sd_bus_message *m, const char *const *argv, bool noiso) {
        int r = sd_bus_message_append_strv(m, (char **) argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "as", 0);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "");
        if (r < 0)
                return r;
        if (noiso)
                return sd_bus_message_append(m, "a{sv}", 2, "PrivatePID", "b", 0, "PrivateTmp", "b", 0);
        return sd_bus_message_append(m, "a{sv}", 0);
}

static int bus_start_wait(sd_bus *bus, bool noiso) {
        static const char *const argv[] = { "/bin/true", NULL };
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        const char *id, *key;
        char *idcopy;
        int r, ok = 0;

        r = sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Start");
        if (r >= 0)
                r = append_start(m, argv, noiso);
        if (r < 0)
                die("Start message: %s", strerror(-r));
        r = sd_bus_call(bus, m, 60 * 1000000ULL, &err, &reply);
        sd_bus_message_unref(m);
        if (r < 0)
                die("Start: %s", err.message ? err.message : strerror(-r));
        if (sd_bus_message_read(reply, "so", &id, NULL) < 0)
                die("Start reply");
        idcopy = strdup(id);
        sd_bus_message_unref(reply);
        reply = NULL;
        r = sd_bus_call_method(bus, DEST, PATH, IFACE, "Wait", &err, &reply, "s", idcopy);
        free(idcopy);
        if (r < 0)
                die("Wait: %s", err.message ? err.message : strerror(-r));
        /* State must be "success" */
        if (sd_bus_message_enter_container(reply, 'a', "{sv}") < 0)
                die("Wait reply");
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                if (sd_bus_message_read(reply, "s", &key) < 0)
                        die("Wait reply");
                if (strcmp(key, "State") == 0) {
                        const char *s;
                        if (sd_bus_message_read(reply, "v", "s", &s) < 0)
                                die("Wait reply");
                        ok = strcmp(s, "success") == 0;
                } else
                        sd_bus_message_skip(reply, "v");
                sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        return ok ? 0 : 1;
}

/* JobRemoved of our scope. */
static char *scope_job_path;
static const char *scope_result;
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (scope_job_path && strcmp(path, scope_job_path) == 0)
                scope_result = strdup(result);
        return 0;
}

static int raw_scope(sd_bus *bus, bool limits, unsigned n) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char unit[128];
        const char *path;
        int p[2], status, r;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe: %m");
        pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                char c;
                close(p[1]);
                if (read(p[0], &c, 1) != 1)
                        _exit(99);
                int fd = open("/dev/null", O_RDWR);
                dup2(fd, 0);
                dup2(fd, 1);
                execl("/bin/true", "/bin/true", (char *) NULL);
                _exit(127);
        }
        close(p[0]);
        snprintf(unit, sizeof(unit), "bench-%d-%u.scope", (int) getpid(), n);
        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)", "Description", "s", "bench raw scope", "PIDs", "au", 1,
                                          (uint32_t) pid);
        if (r >= 0 && limits)
                r = sd_bus_message_append(
                        m, "(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)", "CollectMode", "s",
                        "inactive-or-failed", "TimeoutStopUSec", "t", (uint64_t) 2000000, "OOMPolicy", "s",
                        "continue", "CPUAccounting", "b", 1, "MemoryAccounting", "b", 1, "IOAccounting", "b", 1,
                        "TasksAccounting", "b", 1, "CPUQuotaPerSecUSec", "t", (uint64_t) 2000000, "MemoryMax", "t",
                        (uint64_t) 4 << 30, "MemorySwapMax", "t", (uint64_t) 0, "TasksMax", "t", (uint64_t) 4096,
                        "IOReadBandwidthMax", "a(st)", 1, arg_io_device, (uint64_t) 1 << 30, "IOWriteBandwidthMax",
                        "a(st)", 1, arg_io_device, (uint64_t) 1 << 30, "Slice", "s", "bench.slice");
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                die("StartTransientUnit message: %s", strerror(-r));
        free(scope_job_path);
        scope_job_path = NULL;
        free((char *) scope_result);
        scope_result = NULL;
        r = sd_bus_call(bus, m, 60 * 1000000ULL, &err, &reply);
        sd_bus_message_unref(m);
        if (r < 0)
                die("StartTransientUnit: %s", err.message);
        if (sd_bus_message_read(reply, "o", &path) < 0)
                die("StartTransientUnit reply");
        scope_job_path = strdup(path);
        sd_bus_message_unref(reply);
        /* The signal may already be queued: sd_bus_call dispatches nothing, so process now. */
        while (!scope_result) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        die("process: %s", strerror(-r));
                if (r == 0 && sd_bus_wait(bus, 30 * 1000000ULL) <= 0)
                        die("no JobRemoved for %s", unit);
        }
        if (strcmp(scope_result, "done") != 0)
                die("scope %s: %s", unit, scope_result);
        if (write(p[1], "x", 1) != 1)
                die("release: %m");
        close(p[1]);
        if (waitpid(pid, &status, 0) < 0)
                die("waitpid: %m");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p) {
        /* nearest rank */
        size_t k = (size_t) (p / 100.0 * (double) n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return v[k - 1];
}

static int do_latency(int argc, char **argv) {
        unsigned nmodes = (unsigned) argc;
        uint64_t **samples;
        unsigned *count;
        sd_bus *bus = bus_open();
        sd_bus_slot *slot = NULL;
        FILE *sf = NULL;
        bool need_match = false;

        if (nmodes == 0)
                die("latency: no modes");
        samples = calloc(nmodes, sizeof(*samples));
        count = calloc(nmodes, sizeof(*count));
        for (unsigned i = 0; i < nmodes; i++) {
                samples[i] = calloc(arg_runs, sizeof(uint64_t));
                if (strncmp(argv[i], "scope", 5) == 0)
                        need_match = true;
        }
        if (need_match) {
                int r = sd_bus_match_signal(bus, &slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                            "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, NULL);
                if (r >= 0)
                        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                               "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, "");
                if (r < 0)
                        die("subscribe: %s", strerror(-r));
        }
        if (arg_samples && !(sf = fopen(arg_samples, "we")))
                die("%s: %m", arg_samples);

        char *telerun_argv[] = { (char *) arg_telerun, "run", "--", "/bin/true", NULL };
        char *sdrun_argv[] = { "systemd-run", "--scope", "--quiet", "/bin/true", NULL };
        unsigned serial = 0;
        for (unsigned round = 0; round < arg_runs + 5 && !past_deadline(); round++) {
                for (unsigned k = 0; k < nmodes; k++) {
                        unsigned i = (k + round) % nmodes;
                        const char *mode = argv[i];
                        uint64_t t0 = now_us();
                        int rc;

                        if (strcmp(mode, "telerun") == 0)
                                rc = run_process(telerun_argv);
                        else if (strcmp(mode, "systemd-run") == 0)
                                rc = run_process(sdrun_argv);
                        else if (strcmp(mode, "bus") == 0)
                                rc = bus_start_wait(bus, false);
                        else if (strcmp(mode, "bus-noiso") == 0)
                                rc = bus_start_wait(bus, true);
                        else if (strcmp(mode, "scope") == 0)
                                rc = raw_scope(bus, false, serial++);
                        else if (strcmp(mode, "scope-limits") == 0)
                                rc = raw_scope(bus, true, serial++);
                        else
                                die("unknown mode %s", mode);
                        uint64_t dt = now_us() - t0;
                        if (rc != 0)
                                die("%s failed (status %d)", mode, rc);
                        if (round < 5)
                                continue;
                        samples[i][count[i]++] = dt;
                        if (sf)
                                fprintf(sf, "%s\t%" PRIu64 "\n", mode, dt);
                }
        }
        if (sf)
                fclose(sf);
        for (unsigned i = 0; i < nmodes; i++) {
                size_t n = count[i];
                if (n == 0)
                        die("%s: no samples (deadline)", argv[i]);
                qsort(samples[i], n, sizeof(uint64_t), cmp_u64);
                printf("%s\t%zu\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", argv[i], n,
                       pct(samples[i], n, 50), pct(samples[i], n, 90), pct(samples[i], n, 99), samples[i][0],
                       samples[i][n - 1]);
        }
        sd_bus_slot_unref(slot);
        sd_bus_flush_close_unref(bus);
        return 0;
}

/* ---------------------------------------------------------------------------------------------- rate */

static unsigned rate_started, rate_done, rate_failed, rate_inflight;

static int rate_start_one(sd_bus *bus);

static int on_wait_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        sd_bus *bus = userdata;
        if (sd_bus_message_is_method_error(m, NULL)) {
                rate_failed++;
                fprintf(stderr, "bench-client: Wait: %s\n", sd_bus_message_get_error(m)->message);
        }
        rate_done++;
        rate_inflight--;
        if (rate_started < arg_jobs && !past_deadline())
                rate_start_one(bus);
        return 0;
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        sd_bus *bus = userdata;
        const char *id;
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "so", &id, NULL) < 0) {
                rate_failed++;
                fprintf(stderr, "bench-client: Start: %s\n",
                        sd_bus_message_get_error(m) ? sd_bus_message_get_error(m)->message : "bad reply");
                rate_done++;
                rate_inflight--;
                if (rate_started < arg_jobs && !past_deadline())
                        rate_start_one(bus);
                return 0;
        }
        if (sd_bus_call_method_async(bus, NULL, DEST, PATH, IFACE, "Wait", on_wait_reply, bus, "s", id) < 0)
                die("Wait call");
        return 0;
}

static int rate_start_one(sd_bus *bus) {
        static const char *const argv[] = { "/bin/true", NULL };
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Start");
        if (r >= 0)
                r = append_start(m, argv, false);
        if (r >= 0)
                r = sd_bus_call_async(bus, NULL, m, on_start_reply, bus, 120 * 1000000ULL);
        sd_bus_message_unref(m);
        if (r < 0)
                die("Start call: %s", strerror(-r));
        rate_started++;
        rate_inflight++;
        return 0;
}

static int do_rate(void) {
        sd_bus *bus = bus_open();
        uint64_t t0 = now_us();

        for (unsigned i = 0; i < arg_inflight && i < arg_jobs; i++)
                rate_start_one(bus);
        while (rate_inflight > 0) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        die("process: %s", strerror(-r));
                if (r > 0)
                        continue;
                if (now_us() > t_deadline + 120 * 1000000ULL)
                        die("rate: %u jobs still in flight long after the deadline", rate_inflight);
                sd_bus_wait(bus, 1000000);
        }
        double s = (double) (now_us() - t0) / 1e6;
        printf("jobs=%u\ntotal_s=%.3f\njobs_per_s=%.1f\nfailed=%u\n", rate_done, s, rate_done / s, rate_failed);
        sd_bus_flush_close_unref(bus);
        return rate_failed > 0;
}

/* ---------------------------------------------------------------------------------------------- followers */

typedef struct Follower {
        int fd;
        uint64_t bytes;
        uLong adler;
        bool eof;
} Follower;

static Follower *fl;
static unsigned fl_opened, fl_pending, fl_next, fl_errors;
static const char *fl_id;

static int open_next(sd_bus *bus);

static int on_open_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        sd_bus *bus = sd_bus_message_get_bus(m);
        Follower *f = userdata;
        int fd;

        fl_pending--;
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "h", &fd) < 0) {
                fprintf(stderr, "bench-client: OpenOutput: %s\n",
                        sd_bus_message_get_error(m) ? sd_bus_message_get_error(m)->message : "bad reply");
                fl_errors++;
                f->eof = true;
        } else {
                f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (f->fd < 0)
                        die("dup: %m");
                fl_opened++;
        }
        while (fl_next < arg_n && fl_pending < 64)
                open_next(bus);
        return 0;
}

static int open_next(sd_bus *bus) {
        Follower *f = &fl[fl_next++];
        fl_pending++;
        if (sd_bus_call_method_async(bus, NULL, DEST, PATH, IFACE, "OpenOutput", on_open_reply, f, "stb", fl_id,
                                     (uint64_t) 0, 1) < 0)
                die("OpenOutput call");
        return 0;
}

static long proc_status_kib(pid_t pid, const char *key) {
        char path[64], line[256];
        long v = -1;
        size_t kl = strlen(key);
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        if (!(f = fopen(path, "re")))
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
                        v = strtol(line + kl + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

static void local_reference(char **argv, uint64_t *ret_bytes, uLong *ret_adler) {
        int p[2], status;
        pid_t pid;
        static char buf[1 << 16];
        uint64_t n = 0;
        uLong a = adler32(0, NULL, 0);

        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe: %m");
        pid = fork();
        if (pid == 0) {
                dup2(p[1], 1);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(p[1]);
        for (;;) {
                ssize_t k = read(p[0], buf, sizeof(buf));
                if (k <= 0)
                        break;
                n += (uint64_t) k;
                a = adler32(a, (const Bytef *) buf, (uInt) k);
        }
        close(p[0]);
        waitpid(pid, &status, 0);
        *ret_bytes = n;
        *ret_adler = a;
}

static bool job_ended(sd_bus *bus, const char *id) {
        sd_bus_message *reply = NULL;
        const char *key, *s;
        bool ended = false;

        if (sd_bus_call_method(bus, DEST, PATH, IFACE, "GetJob", NULL, &reply, "s", id) < 0)
                return false;
        sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                sd_bus_message_read(reply, "s", &key);
                if (strcmp(key, "State") == 0) {
                        sd_bus_message_read(reply, "v", "s", &s);
                        ended = strcmp(s, "running") != 0 && strcmp(s, "submitted") != 0;
                } else
                        sd_bus_message_skip(reply, "v");
                sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        return ended;
}

static int do_followers(char **argv) {
        sd_bus *bus = bus_open(), *bus2 = bus_open();
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        uint64_t t0, t_open = 0, t_end = 0, t_last = 0, ref_bytes = 0, last_poll = 0;
        uLong ref_adler = 0;
        long max_rss = 0;
        const char *id;
        int ep, devnull = -1, r;
        unsigned live;
        static char buf[1 << 17];

        if (arg_expect_local)
                local_reference(argv, &ref_bytes, &ref_adler);
        fl = calloc(arg_n, sizeof(Follower));
        for (unsigned i = 0; i < arg_n; i++) {
                fl[i].fd = -1;
                fl[i].adler = adler32(0, NULL, 0);
        }
        if (arg_splice && (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
                die("/dev/null: %m");

        t0 = now_us();
        r = sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Start");
        if (r >= 0)
                r = append_start(m, (const char *const *) argv, false);
        if (r < 0)
                die("Start message");
        if (sd_bus_call(bus, m, 60 * 1000000ULL, &err, &reply) < 0)
                die("Start: %s", err.message);
        sd_bus_message_unref(m);
        if (sd_bus_message_read(reply, "so", &id, NULL) < 0)
                die("Start reply");
        fl_id = strdup(id);
        sd_bus_message_unref(reply);
        printf("job=%s\n", fl_id);
        fflush(stdout);

        while (fl_next < arg_n && fl_pending < 64)
                open_next(bus);
        while (fl_opened + fl_errors < arg_n) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        die("process: %s", strerror(-r));
                if (r == 0)
                        sd_bus_wait(bus, 1000000);
                if (past_deadline())
                        die("followers: opening timed out (%u of %u open)", fl_opened, arg_n);
        }
        t_open = now_us();
        if (fl_errors)
                die("followers: %u OpenOutput calls failed", fl_errors);

        if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
                die("epoll: %m");
        for (unsigned i = 0; i < arg_n; i++) {
                struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fl[i].fd, &ev) < 0)
                        die("epoll_ctl: %m");
        }
        live = arg_n;
        while (live > 0) {
                struct epoll_event evs[256];
                int n = epoll_wait(ep, evs, 256, 50);
                if (n < 0 && errno != EINTR)
                        die("epoll_wait: %m");
                for (int k = 0; k < n; k++) {
                        Follower *f = &fl[evs[k].data.u32];
                        ssize_t got;
                        if (f->eof)
                                continue;
                        if (arg_splice)
                                got = splice(f->fd, NULL, devnull, NULL, 1 << 20, SPLICE_F_NONBLOCK);
                        else {
                                got = read(f->fd, buf, sizeof(buf));
                                if (got > 0)
                                        f->adler = adler32(f->adler, (const Bytef *) buf, (uInt) got);
                        }
                        if (got < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        continue;
                                die("follower read: %m");
                        }
                        if (got == 0) {
                                f->eof = true;
                                epoll_ctl(ep, EPOLL_CTL_DEL, f->fd, NULL);
                                close(f->fd);
                                live--;
                                continue;
                        }
                        f->bytes += (uint64_t) got;
                }
                uint64_t t = now_us();
                if (arg_daemon_pid > 0 && t - last_poll >= 50000) {
                        long v = proc_status_kib(arg_daemon_pid, "VmRSS");
                        if (v > max_rss)
                                max_rss = v;
                        last_poll = t;
                        /* when did the job end (seen from here, at 50 ms resolution, on a second connection) */
                        if (!t_end && job_ended(bus2, fl_id))
                                t_end = now_us();
                }
                if (past_deadline())
                        die("followers: timed out with %u followers still reading", live);
        }
        t_last = now_us();
        if (!t_end)
                t_end = t_last;

        bool ok = true;
        for (unsigned i = 0; i < arg_n; i++) {
                if (fl[i].bytes != fl[0].bytes || (!arg_splice && fl[i].adler != fl[0].adler))
                        ok = false;
        }
        if (arg_expect_local && (fl[0].bytes != ref_bytes || (!arg_splice && fl[0].adler != ref_adler)))
                ok = false;
        printf("followers=%u\nbytes=%" PRIu64 "\nopen_s=%.3f\ntotal_s=%.3f\nafter_end_s=%.3f\nok=%d\n", arg_n,
               fl[0].bytes, (double) (t_open - t0) / 1e6, (double) (t_last - t0) / 1e6,
               (double) (t_last - t_end) / 1e6, ok);
        if (!arg_splice)
                printf("adler32=%08lx\n", (unsigned long) fl[0].adler);
        if (arg_expect_local)
                printf("expected_bytes=%" PRIu64 "\n", ref_bytes);
        if (arg_daemon_pid > 0)
                printf("max_rss_kib=%ld\nhwm_kib=%ld\n", max_rss, proc_status_kib(arg_daemon_pid, "VmHWM"));
        sd_bus_flush_close_unref(bus);
        sd_bus_flush_close_unref(bus2);
        return ok ? 0 : 1;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "runs", required_argument, NULL, 'r' },     { "max-seconds", required_argument, NULL, 'S' },
                { "telerun", required_argument, NULL, 't' },  { "io-device", required_argument, NULL, 'I' },
                { "samples", required_argument, NULL, 's' },  { "jobs", required_argument, NULL, 'j' },
                { "inflight", required_argument, NULL, 'k' }, { "n", required_argument, NULL, 'n' },
                { "splice", no_argument, NULL, 'p' },         { "daemon-pid", required_argument, NULL, 'd' },
                { "expect-local", no_argument, NULL, 'e' },   {}
        };
        struct rlimit rl;
        const char *cmd;
        int c;

        if (argc < 2)
                die("usage: bench-client latency|rate|followers [OPTIONS] ...");
        cmd = argv[1];
        argv++;
        argc--;
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) >= 0)
                switch (c) {
                case 'r': arg_runs = (unsigned) atoi(optarg); break;
                case 'S': arg_max_seconds = atof(optarg); break;
                case 't': arg_telerun = optarg; break;
                case 'I': arg_io_device = optarg; break;
                case 's': arg_samples = optarg; break;
                case 'j': arg_jobs = (unsigned) atoi(optarg); break;
                case 'k': arg_inflight = (unsigned) atoi(optarg); break;
                case 'n': arg_n = (unsigned) atoi(optarg); break;
                case 'p': arg_splice = true; break;
                case 'd': arg_daemon_pid = (pid_t) atoi(optarg); break;
                case 'e': arg_expect_local = true; break;
                default: exit(2);
                }
        signal(SIGPIPE, SIG_IGN);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        t_deadline = now_us() + (uint64_t) (arg_max_seconds * 1e6);
        if (strcmp(cmd, "latency") == 0)
                return do_latency(argc - optind, argv + optind);
        if (strcmp(cmd, "rate") == 0)
                return do_rate();
        if (strcmp(cmd, "followers") == 0) {
                if (optind >= argc)
                        die("followers: no command");
                return do_followers(argv + optind);
        }
        die("unknown command %s", cmd);
}
