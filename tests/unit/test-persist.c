/* SPDX-License-Identifier: MIT */
/* test-persist - loading job records at start (src/engine/manager-load.c over persist.c): one job per id
 * whatever the records say, and a load that runs out of memory fails without touching systemd's fd store. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/manager-internal.h"

#define ID_A "11111111-2222-4333-8444-555555555555"
#define ID_B "66666666-7777-4888-8999-aaaaaaaaaaaa"

typedef struct Fixture {
        char *dir;
        sd_event *event;
        sd_bus *bus;
        Config config;
        Manager *manager;
} Fixture;

/* A bus over a socketpair nobody answers: the manager only queues its calls to systemd. */
static sd_bus *socketpair_bus(void) {
        sd_bus *bus = NULL;
        int p[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), ==, 0);
        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, p[0], p[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(bus), >=, 0);
        return bus;
}

static void write_record(const char *dir, const char *file, const char *id, uint64_t submitted_at) {
        g_autofree char *path = g_strdup_printf("%s/jobs/%s", dir, file);
        g_autofree char *text = g_strdup_printf(
                "{\"id\":\"%s\",\"unit\":\"teleworker-%s.scope\",\"owner\":\"alice\",\"user\":\"alice\","
                "\"uid\":1000,\"gid\":1000,\"argv\":[\"/bin/true\"],\"executable\":\"/bin/true\",\"cwd\":\"/\","
                "\"limits\":{\"CPUQuotaPerSecUSec\":1,\"MemoryMax\":1,\"IOReadBandwidthMax\":1,"
                "\"IOWriteBandwidthMax\":1,\"TasksMax\":1},\"state\":\"success\",\"reason\":\"exited\","
                "\"exit_code\":0,\"exit_signal\":0,\"submitted_at\":%" G_GUINT64_FORMAT ",\"started_at\":1,"
                "\"ended_at\":%" G_GINT64_FORMAT ",\"reaper_pid\":0,\"main_pid\":0,\"go_sent\":true,\"causes\":0,"
                "\"oom_kills_at_start\":0,\"usage\":{\"memory_current\":0,\"memory_peak\":0,\"cpu_usage_nsec\":0,"
                "\"io_read_bytes\":0,\"io_write_bytes\":0}}",
                id, id, submitted_at, g_get_real_time()); /* ended now: not yet due for retention */

        g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void fixture_setup(Fixture *f, gconstpointer data) {
        f->dir = g_dir_make_tmp("test-persist-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        g_autofree char *jobs = g_strdup_printf("%s/jobs", f->dir);
        g_assert_cmpint(g_mkdir(jobs, 0700), ==, 0);
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        f->bus = socketpair_bus();
        g_assert_cmpint(config_init_defaults(&f->config), >=, 0);
        g_setenv("TELEWORKER_EXEC_PATH", "/bin/true", true);
        g_unsetenv("NOTIFY_SOCKET");
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

        manager_free(f->manager);
        config_done(&f->config);
        sd_bus_close_unref(f->bus); /* never authenticated: nothing to flush */
        sd_event_unref(f->event);
        g_assert_cmpint(system(cmd), ==, 0);
        g_free(f->dir);
}

/* Two records with one id (a copy made by hand): one job, the first file's; the copy stays on disk. */
static void test_duplicate_records(Fixture *f, gconstpointer data) {
        Job *j;

        write_record(f->dir, ID_A ".json", ID_A, 300);
        write_record(f->dir, "copy-of-a.json", ID_A, 100);
        write_record(f->dir, ID_B ".json", ID_B, 200);
        g_assert_cmpint(manager_new(f->event, f->bus, &f->config, f->dir, &f->manager), ==, 0);
        g_assert_cmpuint(manager_n_jobs(f->manager), ==, 2);
        /* oldest first; seq follows the order */
        j = manager_next_job(f->manager, NULL);
        g_assert_cmpstr(job_id(j), ==, ID_B);
        g_assert_cmpstr(job_id(manager_next_job(f->manager, j)), ==, ID_A);
        g_assert_cmpuint(job_seq(j), <, job_seq(manager_next_job(f->manager, j)));
        g_assert_null(manager_next_job(f->manager, manager_next_job(f->manager, j)));
}

/* A record whose job is already in the table is not loaded a second time. */
static void test_duplicate_of_linked(Fixture *f, gconstpointer data) {
        Job **jobs = NULL;
        size_t n = 99;

        write_record(f->dir, ID_A ".json", ID_A, 100);
        g_assert_cmpint(manager_new(f->event, f->bus, &f->config, f->dir, &f->manager), ==, 0);
        g_assert_cmpuint(manager_n_jobs(f->manager), ==, 1);
        write_record(f->dir, ID_B ".json", ID_B, 200);
        g_assert_cmpint(manager_read_records(f->manager, &jobs, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1);
        g_assert_cmpstr(jobs[0]->id, ==, ID_B);
        job_free(jobs[0]);
        free(jobs);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Out of memory while loading: the load fails, and the fd store is left as it was: $LISTEN_FDS is still
 * there (sd_listen_fds_with_names() would have taken it) and the stored fd is still open, not removed. The
 * allocation that fails is real: a child process with its address space capped just above what it uses,
 * reading a record (every read takes a 4 MiB buffer). */
static void test_out_of_memory_keeps_fdstore(Fixture *f, gconstpointer data) {
#ifdef UNDER_ASAN
        g_test_skip("RLIMIT_AS cannot be used under AddressSanitizer");
        return;
#else
        int status;
        pid_t pid;

        g_assert_cmpint(manager_new(f->event, f->bus, &f->config, f->dir, &f->manager), ==, 0);
        write_record(f->dir, ID_A ".json", ID_A, 100);

        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                char pidbuf[16];
                unsigned long pages = 0;
                FILE *statm = fopen("/proc/self/statm", "re");
                struct rlimit rl;
                int fd, r;

                fd = open("/dev/null", O_RDONLY); /* the "stored" fd: 3 onwards, like systemd's */
                if (fd < 0 || dup2(fd, 3) < 0)
                        _exit(10);
                snprintf(pidbuf, sizeof(pidbuf), "%d", (int) getpid());
                setenv("LISTEN_PID", pidbuf, 1);
                setenv("LISTEN_FDS", "1", 1);
                setenv("LISTEN_FDNAMES", "out-" "1111111122224333844455555555555", 1);
                /* Earlier 4 MiB buffers may sit free in the heap (glibc raises its mmap threshold after
                 * one): give them back, so that the next one must be mapped anew. */
                (void) malloc_trim(0);
                if (!statm || fscanf(statm, "%lu", &pages) != 1)
                        _exit(11);
                fclose(statm);
                rl.rlim_cur = rl.rlim_max = pages * (rlim_t) sysconf(_SC_PAGESIZE) + 1024 * 1024;
                if (setrlimit(RLIMIT_AS, &rl) < 0)
                        _exit(12);
                r = manager_load_jobs(f->manager);
                if (r != -ENOMEM)
                        _exit(r < 0 ? 40 + (-r % 40) : 20);
                if (!getenv("LISTEN_FDS") || fcntl(3, F_GETFD) < 0)
                        _exit(21);
                _exit(0);
        }
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
#endif
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/persist/duplicate-records", Fixture, NULL, fixture_setup, test_duplicate_records,
                   fixture_teardown);
        g_test_add("/persist/duplicate-of-linked", Fixture, NULL, fixture_setup, test_duplicate_of_linked,
                   fixture_teardown);
        g_test_add("/persist/out-of-memory-keeps-fdstore", Fixture, NULL, fixture_setup,
                   test_out_of_memory_keeps_fdstore, fixture_teardown);
        return g_test_run();
}
