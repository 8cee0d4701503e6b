/* SPDX-License-Identifier: MIT */
/* test-jobs - teleworkerd on a real systemd and a real system bus: scopes, limits, ends, stop, output,
 * authorization, bad input. Runs inside the testbed (tests/testbed.sh) as root, with teleworkerd running. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb-client.h"
#include "tb-gen.h"

static sd_bus *root_bus;

static const char *gen(void) {
        return tb_gen_path();
}

static void test_echo(void) {
        const char *argv[] = { "/bin/echo", "hello", "world", NULL };
        g_autoptr(GByteArray) out = NULL;
        TbJob j;

        g_assert_cmpint(tb_run(root_bus, argv, &j, &out), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpstr(j.reason, ==, "exited");
        g_assert_cmpint(j.exit_code, ==, 0);
        g_assert_cmpint(j.exit_signal, ==, 0);
        g_assert_cmpstr(j.executable, ==, "/bin/echo");
        g_assert_cmpuint(j.output_size, ==, 12);
        g_assert_cmpmem(out->data, out->len, "hello world\n", 12);
        g_assert_cmpuint(j.ended_at, >=, j.started_at);
        tb_job_clear(&j);
}

static void test_path_lookup(void) {
        const char *argv[] = { "echo", "found", NULL };
        g_autoptr(GByteArray) out = NULL;
        TbJob j;

        g_assert_cmpint(tb_run(root_bus, argv, &j, &out), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_true(g_str_has_suffix(j.executable, "/echo"));
        g_assert_cmpmem(out->data, out->len, "found\n", 6);
        tb_job_clear(&j);
}

static void test_exit_code(void) {
        const char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 7", NULL };
        g_autoptr(GByteArray) out = NULL;
        TbJob j;

        g_assert_cmpint(tb_run(root_bus, argv, &j, &out), ==, 0);
        g_assert_cmpstr(j.state, ==, "failed");
        g_assert_cmpstr(j.reason, ==, "exited");
        g_assert_cmpint(j.exit_code, ==, 7);
        /* stdout and stderr share one pipe: the order the job wrote them in */
        g_assert_cmpmem(out->data, out->len, "out\nerr\n", 8);
        tb_job_clear(&j);
}

static void test_signal(void) {
        const char *argv[] = { "/bin/sh", "-c", "kill -SEGV $$", NULL };
        TbJob j;

        g_assert_cmpint(tb_run(root_bus, argv, &j, NULL), ==, 0);
        g_assert_cmpstr(j.state, ==, "failed");
        g_assert_cmpstr(j.reason, ==, "signal");
        g_assert_cmpint(j.exit_code, ==, -1);
        g_assert_cmpint(j.exit_signal, ==, SIGSEGV);
        tb_job_clear(&j);
}

static void test_runs_in_scope(void) {
        const char *argv[] = { "/bin/cat", "/proc/self/cgroup", NULL };
        g_autoptr(GByteArray) out = NULL;
        g_autofree char *text = NULL, *expect = NULL;
        TbJob j;

        g_assert_cmpint(tb_run(root_bus, argv, &j, &out), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        text = g_strndup((const char *) out->data, out->len);
        g_test_message("job's /proc/self/cgroup:\n%s", text);
        expect = g_strdup_printf("/teleworker.slice/teleworker-root.slice/%s\n", j.unit);
        /* every hierarchy line (v2's "0::", or v1's name=systemd) names the job's own scope, in its owner's
         * slice below teleworker.slice */
        g_assert_nonnull(strstr(text, expect));
        tb_job_clear(&j);
}

static void test_limits_applied(void) {
        const char *argv[] = { "/bin/sleep", "60", NULL };
        const char *limits[] = { "CPUQuotaPerSecUSec", "500000", "MemoryMax", "104857600", "TasksMax", "64",
                                 "IOReadBandwidthMax", "5242880", "IOWriteBandwidthMax", "2097152", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL, *cg = NULL, *mem = NULL, *cpu = NULL, *pids = NULL, *io = NULL, *iow = NULL;
        TbJob j;

        g_assert_cmpint(tb_start(root_bus, argv, limits, &id, &e), ==, 0);
        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "running");
        g_assert_cmpuint(j.memory_max, ==, 104857600);
        g_assert_cmpuint(j.cpu_quota, ==, 500000);
        g_assert_cmpuint(j.tasks_max, ==, 64);
        g_assert_true(j.have_memory_current);

        cg = tb_unit_cgroup(j.unit);
        g_assert_cmpstr(cg, !=, "");
        mem = tb_cgroup_attr(cg, "memory", "memory.max");
        if (!mem)
                mem = tb_cgroup_attr(cg, "memory", "memory.limit_in_bytes");
        g_assert_nonnull(mem);
        g_assert_cmpuint(g_ascii_strtoull(mem, NULL, 10), ==, 104857600);

        cpu = tb_cgroup_attr(cg, "cpu", "cpu.max");
        if (cpu)
                g_assert_true(g_str_has_prefix(cpu, "50000 100000"));
        else {
                cpu = tb_cgroup_attr(cg, "cpu", "cpu.cfs_quota_us");
                g_assert_nonnull(cpu);
                g_assert_cmpint(atoi(cpu), ==, 50000);
        }

        pids = tb_cgroup_attr(cg, "pids", "pids.max");
        g_assert_nonnull(pids);
        g_assert_cmpint(atoi(pids), ==, 64);

        io = tb_cgroup_attr(cg, "io", "io.max");
        if (io) {
                g_assert_nonnull(strstr(io, "rbps=5242880"));
                g_assert_nonnull(strstr(io, "wbps=2097152"));
        } else {
                io = tb_cgroup_attr(cg, "blkio", "blkio.throttle.read_bps_device");
                iow = tb_cgroup_attr(cg, "blkio", "blkio.throttle.write_bps_device");
                g_assert_nonnull(io);
                g_assert_nonnull(iow);
                g_assert_nonnull(strstr(io, " 5242880"));
                g_assert_nonnull(strstr(iow, " 2097152"));
        }

        g_assert_cmpint(tb_stop(root_bus, id, &e), ==, 0);
        tb_job_clear(&j);
        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "killed");
        g_assert_cmpstr(j.reason, ==, "stopped");
        /* SIGTERM, unless a loaded machine kept sleep from running within the 2 s grace (seen once at a
         * load average of 18); the SIGTERM-then-SIGKILL order is /jobs/stop-term-first's subject */
        g_assert_true(j.exit_signal == SIGTERM || j.exit_signal == SIGKILL);
        tb_job_clear(&j);
}

/* Stop asks first: a job that handles SIGTERM gets it and may clean up before it ends. */
static void test_stop_term_first(void) {
        const char *argv[] = { "/bin/sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo ready; "
                                                "while :; do sleep 0.1; done", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        TbJob j;

        g_assert_cmpint(tb_start(root_bus, argv, NULL, &id, &e), ==, 0);
        for (int i = 0; i < 500; i++) {        /* the trap is set once "ready" is out */
                g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
                uint64_t size = j.output_size;
                tb_job_clear(&j);
                if (size >= 6)
                        break;
                g_usleep(20000);
        }
        g_assert_cmpint(tb_stop(root_bus, id, &e), ==, 0);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "killed");
        g_assert_cmpstr(j.reason, ==, "stopped");
        g_assert_cmpint(j.exit_code, ==, 3);       /* its own exit after the trap, not SIGKILL */
        tb_job_clear(&j);
        {
                int fd = -1;
                g_assert_cmpint(tb_open_output(root_bus, id, 0, false, &fd, &e), ==, 0);
                g_autoptr(GByteArray) out = tb_read_all(fd);
                close(fd);
                /* (the shell may also report its sleep, killed by the same SIGTERM, as "Terminated") */
                g_byte_array_append(out, (const guint8 *) "", 1);
                g_assert_true(g_str_has_prefix((const char *) out->data, "ready\n"));
                /* stderr is a pipe of its own now: the shell's "Terminated" may be merged after the trap's line */
                g_assert_nonnull(strstr((const char *) out->data, "got TERM\n"));
        }
}

static void test_default_limits(void) {
        const char *argv[] = { "/bin/true", NULL };
        TbJob j;

        g_assert_cmpint(tb_run(root_bus, argv, &j, NULL), ==, 0);
        /* tests/integration/teleworker.json: 100 %, 512M, 10M/s, 512 tasks */
        g_assert_cmpuint(j.cpu_quota, ==, 1000000);
        g_assert_cmpuint(j.memory_max, ==, 512ULL << 20);
        g_assert_cmpuint(j.io_read_max, ==, 10ULL << 20);
        g_assert_cmpuint(j.io_write_max, ==, 10ULL << 20);
        g_assert_cmpuint(j.tasks_max, ==, 512);
        tb_job_clear(&j);
}

static void test_oom_kill(void) {
        const char *argv[] = { gen(), "hog", "400", NULL };
        const char *limits[] = { "MemoryMax", "67108864", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        TbJob j;

        g_assert_cmpint(tb_start(root_bus, argv, limits, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "failed");
        g_assert_cmpstr(j.reason, ==, "oom-kill");
        g_assert_cmpint(j.exit_signal, ==, SIGKILL);
        tb_job_clear(&j);

        /* the daemon is unaffected */
        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "failed");
        tb_job_clear(&j);
}

static GArray *read_pids(const char *path) {
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;
        GArray *pids = g_array_new(false, false, sizeof(pid_t));

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++)
                if (**l) {
                        pid_t p = (pid_t) atoi(*l);
                        g_array_append_val(pids, p);
                }
        return pids;
}

static void test_stop_kills_everything(void) {
        g_autofree char *dir = g_dir_make_tmp("tb-stop-XXXXXX", NULL);
        g_autofree char *pidfile = g_build_filename(dir, "pids", NULL);
        const char *argv[] = { gen(), "orphans", pidfile, "3", NULL };
        /* host PIDs and the host's /tmp: the test reads both */
        const char *opts[] = { "PrivatePID", "0", "PrivateTmp", "0", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        g_autoptr(GArray) pids = NULL;
        gint64 t0;
        TbJob j;

        g_assert_cmpint(chmod(dir, 0777), ==, 0);
        g_assert_cmpint(tb_start(root_bus, argv, opts, &id, &e), ==, 0);
        for (int i = 0; i < 500; i++) {
                TbJob k;
                g_assert_cmpint(tb_get(root_bus, id, &k, &e), ==, 0);
                bool ready = k.output_size >= 6;
                tb_job_clear(&k);
                if (ready)
                        break;
                g_usleep(10000);
        }
        pids = read_pids(pidfile);
        g_assert_cmpuint(pids->len, ==, 4); /* 3 double-forked sleepers and the job itself */
        for (guint i = 0; i < pids->len; i++)
                g_assert_cmpint(kill(g_array_index(pids, pid_t, i), 0), ==, 0);

        t0 = g_get_monotonic_time();
        g_assert_cmpint(tb_stop(root_bus, id, &e), ==, 0);
        /* every process ignored SIGTERM: they die by SIGKILL after the 2 s grace period */
        g_assert_cmpint(g_get_monotonic_time() - t0, >=, 1900000);
        for (guint i = 0; i < pids->len; i++)
                g_assert_cmpint(kill(g_array_index(pids, pid_t, i), 0) < 0 && errno == ESRCH, ==, 1);

        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "killed");
        g_assert_cmpstr(j.reason, ==, "stopped");
        g_assert_cmpint(j.exit_signal, ==, SIGKILL);
        g_autofree char *cg = tb_unit_cgroup(j.unit);
        g_assert_cmpstr(cg, ==, "");

        /* stopping an ended job is not an error */
        g_assert_cmpint(tb_stop(root_bus, id, &e), ==, 0);
        tb_job_clear(&j);
        unlink(pidfile);
        rmdir(dir);
}

static void test_wait_blocks(void) {
        const char *argv[] = { "/bin/sleep", "1", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        gint64 t0 = g_get_monotonic_time();
        TbJob j;

        g_assert_cmpint(tb_start(root_bus, argv, NULL, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpint(g_get_monotonic_time() - t0, >=, 900000);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
}

/* ---- output ---- */

typedef struct Reader {
        int fd;
        uint64_t offset;
        GByteArray *data;
} Reader;

static gpointer reader_thread(gpointer p) {
        Reader *r = p;
        r->data = tb_read_all(r->fd);
        close(r->fd);
        return NULL;
}

static void check_stream(const char *id, const uint8_t *expect, size_t len, unsigned n_readers) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree Reader *readers = g_new0(Reader, n_readers);
        g_autofree GThread **threads = g_new0(GThread *, n_readers);

        for (unsigned i = 0; i < n_readers; i++) {
                TbJob j;
                /* half from the start, half from wherever the stream is now (mid-stream while it runs) */
                if (i % 2 == 1) {
                        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
                        readers[i].offset = j.output_size / 2;
                        tb_job_clear(&j);
                }
                g_assert_cmpint(tb_open_output(root_bus, id, readers[i].offset, true, &readers[i].fd, &e), ==, 0);
                threads[i] = g_thread_new("reader", reader_thread, &readers[i]);
        }
        for (unsigned i = 0; i < n_readers; i++) {
                g_thread_join(threads[i]);
                g_assert_cmpuint(readers[i].data->len, ==, len - readers[i].offset);
                g_assert_true(memcmp(readers[i].data->data, expect + readers[i].offset, len - readers[i].offset) == 0);
                g_byte_array_unref(readers[i].data);
        }
}

static void test_output_all_bytes(void) {
        const char *argv[] = { gen(), "bytes", "64", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        uint8_t expect[256 * 64];
        TbJob j;

        for (size_t i = 0; i < sizeof(expect); i++)
                expect[i] = (uint8_t) i;
        g_assert_cmpint(tb_start(root_bus, argv, NULL, &id, &e), ==, 0);
        check_stream(id, expect, sizeof(expect), 20);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpuint(j.output_size, ==, sizeof(expect));
        tb_job_clear(&j);
}

static void test_output_blob_concurrent(void) {
        const size_t size = 50 * 1000 * 1000;
        const char *argv[] = { gen(), "blob", "42", "50000000", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        g_autofree uint8_t *expect = g_malloc(size);
        uint64_t state = tb_gen_seed(42);
        TbJob j;

        tb_gen_fill(&state, expect, size);
        g_assert_cmpint(tb_start(root_bus, argv, NULL, &id, &e), ==, 0);
        check_stream(id, expect, size, 20);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpuint(j.output_size, ==, size);
        tb_job_clear(&j);
        /* and once more after the end: replay of a finished job */
        check_stream(id, expect, size, 4);
}

/* A full state directory: a 1 MiB tmpfs over the spool directory while a job writes 8 MB. The job runs to its
 * end undisturbed, what was captured is the exact prefix of what it wrote and stays readable, the rest is
 * counted as dropped with the reason, and the daemon goes on. */
static void test_output_disk_full(void) {
        const size_t size = 8 * 1000 * 1000;
        const char *argv[] = { gen(), "blob", "7", "8000000", NULL };
        const char *state = g_getenv("TELEWORKER_TEST_STATE_DIR");
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *spool_dir = NULL, *id = NULL;
        g_autofree uint8_t *expect = g_malloc(size);
        uint64_t seed = tb_gen_seed(7);
        const char *echo[] = { "/bin/echo", "after", NULL };
        g_autoptr(GByteArray) after = NULL;
        TbJob j;
        int fd = -1;

        if (!state) {
                g_test_skip("TELEWORKER_TEST_STATE_DIR not set");
                return;
        }
        tb_gen_fill(&seed, expect, size);
        spool_dir = g_build_filename(state, "output", NULL);
        g_assert_cmpint(mount("tw-test-full", spool_dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700"), ==, 0);

        g_assert_cmpint(tb_start(root_bus, argv, NULL, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpint(j.exit_code, ==, 0);
        g_assert_cmpuint(j.output_size, >, 0);
        g_assert_cmpuint(j.output_size, <=, 1024 * 1024);
        g_assert_cmpuint(j.output_size + j.output_dropped, ==, size);
        g_assert_cmpstr(j.output_error, ==, g_strerror(ENOSPC));

        g_assert_cmpint(tb_open_output(root_bus, id, 0, true, &fd, &e), ==, 0);
        {
                g_autoptr(GByteArray) out = tb_read_all(fd);
                close(fd);
                g_assert_cmpuint(out->len, ==, j.output_size);
                g_assert_cmpmem(out->data, out->len, expect, out->len);
        }
        tb_job_clear(&j);

        g_assert_cmpint(umount2(spool_dir, MNT_DETACH), ==, 0);
        /* the daemon goes on: the next job is captured whole */
        g_assert_cmpint(tb_run(root_bus, echo, &j, &after), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpstr(j.output_error, ==, "");
        g_assert_cmpmem(after->data, after->len, "after\n", 6);
        tb_job_clear(&j);
}

/* ---- authorization ---- */

static void test_other_user_denied(void) {
        g_autoptr(GPtrArray) ids1 = NULL, ids2 = NULL, ids_admin = NULL;
        const char *argv[] = { "/bin/sh", "-c", "id -u; sleep 30", NULL };
        sd_bus *u1 = tb_bus_as(TB_UID_USER1), *u2 = tb_bus_as(TB_UID_USER2), *admin = tb_bus_as(TB_UID_ADMIN);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        TbJob j;
        int fd;

        g_assert_cmpint(tb_start(u1, argv, NULL, &id, &e), ==, 0);
        g_assert_cmpint(tb_get(u1, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.owner, ==, "tbuser1");
        g_assert_cmpstr(j.user, ==, "tbuser1");
        tb_job_clear(&j);

        /* the job runs as its owner, not as root */
        for (int i = 0; i < 500; i++) {
                g_assert_cmpint(tb_get(u1, id, &j, &e), ==, 0);
                bool have = j.output_size >= 5;
                tb_job_clear(&j);
                if (have)
                        break;
                g_usleep(10000);
        }
        {
                sd_bus_message *reply = NULL;
                const void *data;
                size_t n;
                g_assert_cmpint(sd_bus_call_method(u1, "org.teleworker.worker1", "/org/teleworker/worker1",
                                                   "org.teleworker.worker1.Manager", "ReadOutput", &e, &reply, "stt",
                                                   id, (uint64_t) 0, (uint64_t) 100), >=, 0);
                g_assert_cmpint(sd_bus_message_read_array(reply, 'y', &data, &n), >=, 0);
                g_assert_cmpmem(data, n, "4001\n", 5);
                sd_bus_message_unref(reply);
        }

        /* the other user: explicit denials, never empty answers */
        g_assert_cmpint(tb_get(u2, id, &j, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_stop(u2, id, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_open_output(u2, id, 0, false, &fd, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_wait(u2, id, NULL, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_list(u2, &ids2, &e), ==, 0);
        for (guint i = 0; i < ids2->len; i++)
                g_assert_cmpstr(g_ptr_array_index(ids2, i), !=, id);

        /* the job object enforces the same rule on its properties */
        {
                char *state = NULL;
                g_autofree char *hex = g_strdup(id);
                g_autofree char *path = NULL;
                size_t k = 0;
                for (size_t i = 0; hex[i]; i++)
                        if (hex[i] != '-')
                                hex[k++] = hex[i];
                hex[k] = 0;
                path = g_strdup_printf("/org/teleworker/worker1/job/%s", hex);
                g_assert_cmpint(sd_bus_get_property_string(u2, "org.teleworker.worker1", path,
                                                           "org.teleworker.worker1.Job", "State", &e, &state), <, 0);
                g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
                sd_bus_error_free(&e);
                g_assert_cmpint(sd_bus_get_property_string(u1, "org.teleworker.worker1", path,
                                                           "org.teleworker.worker1.Job", "State", &e, &state), >=, 0);
                g_assert_cmpstr(state, ==, "running");
                free(state);
        }

        /* the owner lists it; an administrator sees and stops it */
        g_assert_cmpint(tb_list(u1, &ids1, &e), ==, 0);
        g_assert_true(g_ptr_array_find_with_equal_func(ids1, id, g_str_equal, NULL));
        g_assert_cmpint(tb_list(admin, &ids_admin, &e), ==, 0);
        g_assert_true(g_ptr_array_find_with_equal_func(ids_admin, id, g_str_equal, NULL));
        g_assert_cmpint(tb_get(admin, id, &j, &e), ==, 0);
        tb_job_clear(&j);
        g_assert_cmpint(tb_stop(admin, id, &e), ==, 0);
        g_assert_cmpint(tb_get(u1, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "killed");
        tb_job_clear(&j);

        sd_bus_unref(u1);
        sd_bus_unref(u2);
        sd_bus_unref(admin);
}

static void test_remote_interface_refused(void) {
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;

        /* only the gateway's account may assert a principal */
        g_assert_cmpint(sd_bus_call_method(u1, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Remote", "ListAs", &e, &reply, "sb", "tbuser2", 1),
                        <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(sd_bus_call_method(root_bus, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Remote", "ListAs", &e, &reply, "sb", "x", 1),
                        <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        sd_bus_unref(u1);
}

/* ---- bad input ---- */

static void expect_start_error(const char *const *argv, const char *const *limits, const char *name) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autoptr(GPtrArray) before = NULL, after = NULL;
        unsigned scopes = tb_count_scopes();

        g_assert_cmpint(tb_list(root_bus, &before, &e), ==, 0);
        g_assert_cmpint(tb_start(root_bus, argv, limits, NULL, &e), <, 0);
        g_test_message("%s: %s", e.name, e.message);
        g_assert_cmpstr(e.name, ==, name);
        g_assert_nonnull(e.message);
        g_assert_cmpuint(strlen(e.message), >, 10);
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_list(root_bus, &after, &e), ==, 0);
        g_assert_cmpuint(after->len, ==, before->len);
        g_assert_cmpuint(tb_count_scopes(), <=, scopes);
}

static void test_bad_input(void) {
        const char *empty[] = { NULL };
        const char *relative[] = { "./no/such/program", NULL };
        const char *missing[] = { "no-such-program-anywhere", NULL };
        const char *dir[] = { "/tmp", NULL };
        const char *ok[] = { "/bin/true", NULL };
        const char *too_much_mem[] = { "MemoryMax", "68719476736", NULL };
        const char *too_many_cpus[] = { "CPUQuotaPerSecUSec", "64000000", NULL };
        const char *zero[] = { "TasksMax", "0", NULL };
        const char *tiny[] = { "MemoryMax", "4096", NULL };
        const char *unknown[] = { "MemoryHigh", "100", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j;

        expect_start_error(empty, NULL, "org.freedesktop.DBus.Error.InvalidArgs");
        expect_start_error(relative, NULL, "org.teleworker.worker1.Error.ExecutableNotFound");
        expect_start_error(missing, NULL, "org.teleworker.worker1.Error.ExecutableNotFound");
        /* found, but not executable (EACCES): telerun run's 126, where ENOENT is its 127 */
        expect_start_error(dir, NULL, "org.teleworker.worker1.Error.NotExecutable");
        expect_start_error(ok, too_much_mem, "org.teleworker.worker1.Error.LimitExceeded");
        expect_start_error(ok, too_many_cpus, "org.teleworker.worker1.Error.LimitExceeded");
        expect_start_error(ok, zero, "org.teleworker.worker1.Error.LimitExceeded");
        expect_start_error(ok, tiny, "org.teleworker.worker1.Error.LimitExceeded");
        expect_start_error(ok, unknown, "org.freedesktop.DBus.Error.InvalidArgs");

        g_assert_cmpint(tb_get(root_bus, "00000000-0000-4000-8000-000000000000", &j, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.NoSuchJob");
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_get(root_bus, "../../etc/passwd", &j, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_stop(root_bus, "_not-a-uuid", &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
}

/* ---- by hand ---- */

static char *busctl(const char *const *args) {
        return tb_busctl_as(0, args);
}

static void test_busctl_by_hand(void) {
        const char *start[] = { "call", "org.teleworker.worker1", "/org/teleworker/worker1",
                                "org.teleworker.worker1.Manager", "Start", "asassa{sv}", "2", "/bin/echo", "by-hand",
                                "0", "", "0", NULL };
        g_autofree char *o = busctl(start), *id = NULL;
        g_auto(GStrv) parts = g_strsplit(o, "\"", -1);

        g_assert_true(g_str_has_prefix(o, "so \""));
        id = g_strdup(parts[1]);
        const char *wait[] = { "--timeout=60", "call", "org.teleworker.worker1", "/org/teleworker/worker1",
                               "org.teleworker.worker1.Manager", "Wait", "s", id, NULL };
        g_autofree char *w = busctl(wait);
        g_assert_nonnull(strstr(w, "\"State\" s \"success\""));
        const char *get[] = { "call", "org.teleworker.worker1", "/org/teleworker/worker1",
                              "org.teleworker.worker1.Manager", "GetJob", "s", id, NULL };
        g_autofree char *g = busctl(get);
        g_assert_nonnull(strstr(g, "\"ExitCode\" i 0"));
        const char *read[] = { "call", "org.teleworker.worker1", "/org/teleworker/worker1",
                               "org.teleworker.worker1.Manager", "ReadOutput", "stt", id, "0", "100", NULL };
        g_autofree char *r = busctl(read);
        /* "by-hand\n" as bytes */
        g_assert_cmpstr(r, ==, "aytb 8 98 121 45 104 97 110 100 10 8 true\n");
        const char *intro[] = { "introspect", "org.teleworker.worker1", "/org/teleworker/worker1", NULL };
        g_autofree char *i = busctl(intro);
        g_assert_nonnull(strstr(i, "org.teleworker.worker1.Manager"));
}

/* StartWithOutput (what `telerun run` uses): the job and its output, followed from the first byte, in one
 * reply; the same refusals as Start, with nothing left running. */
static sd_bus_message *start_with_output_call(sd_bus *bus, const char *const *argv, const char *option) {
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.teleworker.worker1", "/org/teleworker/worker1",
                                                       "org.teleworker.worker1.Manager", "StartWithOutput"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "ass", 0, ""), >=, 0);
        if (option)
                g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, option, "t", (uint64_t) 1), >=, 0);
        else
                g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 0), >=, 0);
        return m;
}

static void test_start_with_output(void) {
        const char *argv[] = { "/bin/sh", "-c", "echo one; sleep 0.3; echo two >&2; exit 3", NULL };
        const char *empty[] = { NULL };
        const char *missing[] = { "/nonexistent/teleworker-test", NULL };
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autoptr(GByteArray) out = NULL;
        g_autoptr(GPtrArray) before = NULL, after = NULL;
        g_autofree char *id = NULL;
        const char *rid, *path;
        int fd, dup;
        TbJob j;

        m = start_with_output_call(u1, argv, NULL);
        g_assert_cmpint(sd_bus_call(u1, m, 60 * 1000 * 1000, &e, &reply), >=, 0);
        sd_bus_message_unref(m);
        g_assert_cmpint(sd_bus_message_read(reply, "soh", &rid, &path, &fd), >=, 0);
        id = g_strdup(rid);
        g_assert_true(g_str_has_prefix(path, "/org/teleworker/worker1/job/"));
        dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        g_assert_cmpint(dup, >=, 0);
        sd_bus_message_unref(reply);
        /* followed: the whole stream, then EOF once the job ended */
        out = tb_read_all(dup);
        close(dup);
        g_assert_cmpmem(out->data, out->len, "one\ntwo\n", 8);
        g_assert_cmpint(tb_wait(u1, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "failed");
        g_assert_cmpint(j.exit_code, ==, 3);
        g_assert_cmpstr(j.owner, ==, "tbuser1");
        tb_job_clear(&j);

        /* refused up front, like Start: nothing started */
        g_assert_cmpint(tb_list(u1, &before, &e), ==, 0);
        m = start_with_output_call(u1, empty, NULL);
        g_assert_cmpint(sd_bus_call(u1, m, 60 * 1000 * 1000, &e, NULL), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        m = start_with_output_call(u1, missing, NULL);
        g_assert_cmpint(sd_bus_call(u1, m, 60 * 1000 * 1000, &e, NULL), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.ExecutableNotFound");
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        m = start_with_output_call(u1, argv, "NoSuchOption");
        g_assert_cmpint(sd_bus_call(u1, m, 60 * 1000 * 1000, &e, NULL), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        m = start_with_output_call(u1, argv, "MemoryMax"); /* 1 byte: below what a job needs */
        g_assert_cmpint(sd_bus_call(u1, m, 60 * 1000 * 1000, &e, NULL), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.LimitExceeded");
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        g_assert_cmpint(tb_list(u1, &after, &e), ==, 0);
        g_assert_cmpuint(after->len, ==, before->len);

        /* a Remote principal cannot reach it: the gateway streams over HTTP */
        g_assert_cmpint(sd_bus_call_method(u1, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Remote", "StartWithOutputAs", &e, NULL, ""), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.UnknownMethod");
        sd_bus_error_free(&e);
        sd_bus_unref(u1);
}

int main(int argc, char **argv) {
        struct rlimit rl = { 4096, 4096 };

        g_test_init(&argc, &argv, NULL);
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        signal(SIGPIPE, SIG_IGN);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;

        g_test_add_func("/jobs/echo", test_echo);
        g_test_add_func("/jobs/path-lookup", test_path_lookup);
        g_test_add_func("/jobs/exit-code", test_exit_code);
        g_test_add_func("/jobs/signal", test_signal);
        g_test_add_func("/jobs/runs-in-scope", test_runs_in_scope);
        g_test_add_func("/jobs/limits-applied", test_limits_applied);
        g_test_add_func("/jobs/default-limits", test_default_limits);
        g_test_add_func("/jobs/oom-kill", test_oom_kill);
        g_test_add_func("/jobs/stop-kills-everything", test_stop_kills_everything);
        g_test_add_func("/jobs/stop-term-first", test_stop_term_first);
        g_test_add_func("/jobs/wait-blocks", test_wait_blocks);
        g_test_add_func("/output/all-bytes-20-readers", test_output_all_bytes);
        g_test_add_func("/output/50MB-20-readers", test_output_blob_concurrent);
        g_test_add_func("/output/disk-full", test_output_disk_full);
        g_test_add_func("/authz/other-user-denied", test_other_user_denied);
        g_test_add_func("/authz/remote-interface-refused", test_remote_interface_refused);
        g_test_add_func("/api/bad-input", test_bad_input);
        g_test_add_func("/api/busctl-by-hand", test_busctl_by_hand);
        g_test_add_func("/api/start-with-output", test_start_with_output);

        int r = g_test_run();
        sd_bus_unref(root_bus);
        return r;
}
