/* SPDX-License-Identifier: MIT */
/* test-restart - nothing lost when teleworkerd is killed or restarted while jobs run (real systemd, real
 * fd store). Runs inside the testbed with the daemon as $TELEWORKER_TEST_UNIT (Restart=on-failure,
 * FileDescriptorStoreMax=). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb-client.h"
#include "tb-gateway.h"
#include "test-client.h"

#define GW_UNIT "teleworker-gateway-restart.service"
#define GW_PORT 18446

static const char *unit(void) {
        const char *u = g_getenv("TELEWORKER_TEST_UNIT");
        return u ? u : "teleworkerd.service";
}

static void systemctl(const char *const *args) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        int status;

        g_ptr_array_add(argv, (char *) "systemctl");
        for (const char *const *a = args; *a; a++)
                g_ptr_array_add(argv, (char *) *a);
        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync(NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                                   &status, NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
}

/* A new connection once the daemon answers again (the old one may have seen it go). */
static sd_bus *wait_for_daemon(void) {
        for (int i = 0; i < 600; i++) {
                sd_bus *bus = tb_bus_as(0);
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                if (sd_bus_call_method(bus, "org.teleworker.worker1", "/org/teleworker/worker1",
                                       "org.teleworker.worker1.Manager", "List", &e, &reply, "") >= 0) {
                        sd_bus_message_unref(reply);
                        return bus;
                }
                sd_bus_error_free(&e);
                sd_bus_unref(bus);
                g_usleep(50000);
        }
        g_error("teleworkerd did not come back");
}

static void kill_daemon(void) {
        const char *kill[] = { "kill", "--signal=SIGKILL", unit(), NULL };
        systemctl(kill);
}

static void restart_daemon(void) {
        const char *restart[] = { "restart", unit(), NULL };
        systemctl(restart);
}

static uint64_t output_size(sd_bus *bus, const char *id) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j;
        uint64_t n;

        g_assert_cmpint(tb_get(bus, id, &j, &e), ==, 0);
        n = j.output_size;
        tb_job_clear(&j);
        return n;
}

static void wait_output(sd_bus **bus, const char *id, uint64_t min) {
        for (int i = 0; i < 1000 && output_size(*bus, id) < min; i++)
                g_usleep(10000);
}

static GString *expected_seq(unsigned n) {
        GString *s = g_string_new(NULL);
        for (unsigned i = 1; i <= n; i++)
                g_string_append_printf(s, "%u\n", i);
        return s;
}

/* The job's whole output is "1\n".."n\n": every byte, no gap, no duplicate. */
static void assert_output_is_seq(sd_bus *bus, const char *id, unsigned n) {
        g_autoptr(GString) expect = expected_seq(n);
        g_autoptr(GByteArray) out = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int fd;

        g_assert_cmpint(tb_open_output(bus, id, 0, true, &fd, &e), ==, 0);
        out = tb_read_all(fd);
        close(fd);
        g_assert_cmpuint(out->len, ==, expect->len);
        g_assert_true(memcmp(out->data, expect->str, expect->len) == 0);
}

static void test_kill_twice_and_restart(void) {
        const char *argv[] = { tb_gen_path(), "seq", "4000", "1", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = tb_bus_as(0);
        g_autofree char *id = NULL;
        TbJob j;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        wait_output(&bus, id, 1000);
        kill_daemon();
        sd_bus_unref(bus);
        bus = wait_for_daemon();
        wait_output(&bus, id, output_size(bus, id) + 2000);
        kill_daemon();
        sd_bus_unref(bus);
        bus = wait_for_daemon();
        restart_daemon();
        sd_bus_unref(bus);
        bus = wait_for_daemon();

        g_assert_cmpint(tb_wait(bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpint(j.exit_code, ==, 0);
        tb_job_clear(&j);
        assert_output_is_seq(bus, id, 4000);
        sd_bus_unref(bus);
}

static void test_exit_while_down(void) {
        const char *argv[] = { "/bin/sh", "-c", "echo before; sleep 1; echo after; exit 5", NULL };
        g_autoptr(GByteArray) out = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = tb_bus_as(0);
        g_autofree char *id = NULL;
        const char *stop[] = { "stop", unit(), NULL }, *start[] = { "start", unit(), NULL };
        TbJob j;
        int fd;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        wait_output(&bus, id, 7);
        /* a clean stop (a queued restart job keeps the fd store; a plain stop must too while jobs run) */
        kill_daemon();
        sd_bus_unref(bus);
        g_usleep(1500000); /* the job ends while the daemon is down */
        (void) stop;
        (void) start;
        bus = wait_for_daemon();
        g_assert_cmpint(tb_wait(bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "failed");
        g_assert_cmpstr(j.reason, ==, "exited");
        g_assert_cmpint(j.exit_code, ==, 5);
        tb_job_clear(&j);
        g_assert_cmpint(tb_open_output(bus, id, 0, true, &fd, &e), ==, 0);
        out = tb_read_all(fd);
        close(fd);
        g_assert_cmpmem(out->data, out->len, "before\nafter\n", 13);
        sd_bus_unref(bus);
}

/* The daemon as run-inside.sh starts it: a stopped transient unit is unloaded, so `start` needs it anew. */
static void start_daemon_unit(void) {
        const char *build = g_getenv("TELEWORKER_TEST_BUILD_DIR"), *config = g_getenv("TELEWORKER_TEST_CONFIG");
        const char *state = g_getenv("TELEWORKER_TEST_STATE_DIR");
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_auto(GStrv) env = g_get_environ();
        int status;

        g_assert_nonnull(build);
        g_assert_nonnull(config);
        g_assert_nonnull(state);
        g_ptr_array_add(argv, g_strdup("systemd-run"));
        g_ptr_array_add(argv, g_strdup("--quiet"));
        g_ptr_array_add(argv, g_strdup_printf("--unit=%s", unit()));
        g_ptr_array_add(argv, g_strdup("-pType=notify"));
        g_ptr_array_add(argv, g_strdup("-pNotifyAccess=main"));
        g_ptr_array_add(argv, g_strdup("-pFileDescriptorStoreMax=4096"));
        g_ptr_array_add(argv, g_strdup("-pLimitNOFILE=65536"));
        g_ptr_array_add(argv, g_strdup("-pRestart=on-failure"));
        g_ptr_array_add(argv, g_strdup("-pRestartSec=200ms"));
        g_ptr_array_add(argv, g_strdup("-pTimeoutStartSec=120"));
        g_ptr_array_add(argv, g_strdup("-pTimeoutStopSec=90"));
        g_ptr_array_add(argv, g_strdup("-pStartLimitIntervalSec=0"));
        g_ptr_array_add(argv, g_strdup_printf("--setenv=STATE_DIRECTORY=%s", state));
        g_ptr_array_add(argv, g_strdup_printf("--setenv=TELEWORKER_EXEC_PATH=%s/src/exec/teleworker-exec", build));
        for (char **e = env; *e; e++)
                if ((g_str_has_prefix(*e, "TELEWORKER_") && !g_str_has_prefix(*e, "TELEWORKER_TEST_") &&
                     !g_str_has_prefix(*e, "TELEWORKER_EXEC_PATH=") && !g_str_has_prefix(*e, "TELEWORKER_INTEGRATION=")) ||
                    g_str_has_prefix(*e, "ASAN_OPTIONS=") || g_str_has_prefix(*e, "UBSAN_OPTIONS=") ||
                    g_str_has_prefix(*e, "LSAN_OPTIONS=") || g_str_has_prefix(*e, "G_DEBUG="))
                        g_ptr_array_add(argv, g_strdup_printf("--setenv=%s", *e));
        g_ptr_array_add(argv, g_strdup("--"));
        g_ptr_array_add(argv, g_strdup_printf("%s/src/daemon/teleworkerd", build));
        g_ptr_array_add(argv, g_strdup("--config"));
        g_ptr_array_add(argv, g_strdup(config));
        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync(NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                                   &status, NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
}

/* `systemctl stop`, then start: systemd 252 drops the fd store on a stop, so the daemon's fds of a running
 * job are gone; the job's reaper keeps copies and hands them to the next daemon (issue #13, item 7). The
 * job writes while the daemon is down and ends while it is down: its output is whole, its exit code real. */
static void test_stop_and_start(void) {
        const char *argv[] = { "/bin/sh", "-c", "\"$0\" seq 2500 1; exit 7", tb_gen_path(), NULL };
        const char *stop[] = { "stop", unit(), NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = tb_bus_as(0);
        g_autofree char *id = NULL;
        TbJob j;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        wait_output(&bus, id, 1000);
        systemctl(stop);
        sd_bus_unref(bus);
        g_usleep(4 * G_USEC_PER_SEC); /* the job writes on and ends while no daemon runs */
        start_daemon_unit();
        bus = wait_for_daemon();
        g_assert_cmpint(tb_wait(bus, id, &j, &e), ==, 0);
        g_test_message("after stop + start: %s/%s exit %d signal %d", j.state, j.reason, j.exit_code, j.exit_signal);
        g_assert_cmpstr(j.state, ==, "failed");
        g_assert_cmpstr(j.reason, ==, "exited");
        g_assert_cmpint(j.exit_code, ==, 7);
        tb_job_clear(&j);
        assert_output_is_seq(bus, id, 2500);
        {       /* the reaper handed over and left no socket behind */
                g_autofree char *sock = g_strdup_printf("/run/teleworker/reapers/%s.sock", id);
                g_assert_cmpint(access(sock, F_OK), <, 0);
        }
        /* and the daemon runs jobs as before */
        g_assert_cmpint(tb_run(bus, (const char *[]) { "/bin/true", NULL }, &j, NULL), ==, 0);
        tb_job_clear(&j);
        sd_bus_unref(bus);
}

static int on_wait_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        sd_bus_message **ret = userdata;

        *ret = sd_bus_message_ref(m);
        return 0;
}

/* A Wait pending when the daemon stops ends with an error that says "come back later", never one that reads
 * as a failure of the job or the call (it was StartFailed): NoReply from the bus when the daemon's
 * connection goes first (what the testbed shows), or the daemon's own ShuttingDown. telerun's followers
 * reconnect on both (src/shared/api.c classes them "unreachable"). */
static void test_wait_across_stop(void) {
        const char *argv[] = { "/bin/sleep", "300", NULL };
        const char *stop[] = { "stop", unit(), NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus *bus = tb_bus_as(0);
        g_autofree char *id = NULL;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        g_assert_cmpint(sd_bus_call_method_async(bus, NULL, "org.teleworker.worker1", "/org/teleworker/worker1",
                                                 "org.teleworker.worker1.Manager", "Wait", on_wait_reply, &reply,
                                                 "s", id), >=, 0);
        g_assert_cmpint(sd_bus_flush(bus), >=, 0);
        g_usleep(G_USEC_PER_SEC / 5); /* the daemon has the call before it is told to stop */
        systemctl(stop);
        for (int i = 0; !reply && i < 300; i++)
                if (sd_bus_process(bus, NULL) == 0)
                        (void) sd_bus_wait(bus, 100 * 1000);
        g_assert_nonnull(reply);
        g_assert_true(sd_bus_message_is_method_error(reply, NULL));
        g_test_message("Wait across stop: %s: %s", sd_bus_message_get_error(reply)->name,
                       sd_bus_message_get_error(reply)->message);
        g_assert_true(sd_bus_message_is_method_error(reply, "org.teleworker.worker1.Error.ShuttingDown") ||
                      sd_bus_message_is_method_error(reply, "org.freedesktop.DBus.Error.NoReply"));
        sd_bus_message_unref(reply);
        sd_bus_unref(bus);

        start_daemon_unit();
        bus = wait_for_daemon();
        g_assert_cmpint(tb_stop(bus, id, &e), ==, 0);
        sd_bus_unref(bus);
}

/* A reaper waiting for a daemon that has no record of its job (the state was wiped while the daemon was
 * stopped) is released at start instead of waiting for ever: its handover socket goes, and it ends with its
 * job. */
static void test_stray_reaper_released(void) {
        const char *argv[] = { "/bin/sleep", "30", NULL };
        const char *stop[] = { "stop", unit(), NULL };
        const char *state = g_getenv("TELEWORKER_TEST_STATE_DIR");
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = tb_bus_as(0);
        g_autofree char *id = NULL, *sock = NULL, *record = NULL, *scope = NULL;
        TbJob j;

        g_assert_nonnull(state);
        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        g_assert_cmpint(tb_get(bus, id, &j, &e), ==, 0);
        scope = g_strdup(j.unit);
        tb_job_clear(&j);
        sock = g_strdup_printf("/run/teleworker/reapers/%s.sock", id);
        record = g_strdup_printf("%s/jobs/%s.json", state, id);
        systemctl(stop);
        sd_bus_unref(bus);
        for (int i = 0; i < 200 && access(sock, F_OK) < 0; i++)
                g_usleep(10000);
        g_assert_cmpint(access(sock, F_OK), ==, 0); /* the reaper waits for the next daemon */
        g_assert_cmpint(unlink(record), ==, 0);
        start_daemon_unit();
        bus = wait_for_daemon();
        g_assert_cmpint(access(sock, F_OK), <, 0);
        g_assert_cmpint(tb_get(bus, id, &j, &e), <, 0);
        sd_bus_error_free(&e);
        /* released: it no longer listens; the scope ends with its job */
        {
                const char *stop_scope[] = { "stop", scope, NULL };
                systemctl(stop_scope);
        }
        {
                g_autofree char *cgroup = tb_unit_cgroup(scope);
                g_assert_cmpstr(cgroup, ==, "");
        }
        sd_bus_unref(bus);
}

static void test_started_just_before_restart(void) {
        const char *argv[] = { "/bin/echo", "quick", NULL };
        g_autoptr(GByteArray) out = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = tb_bus_as(0);
        g_autofree char *id = NULL;
        TbJob j;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        restart_daemon();
        sd_bus_unref(bus);
        bus = wait_for_daemon();
        g_assert_cmpint(tb_wait(bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        {       /* its output made it across */
                int fd = -1;
                g_assert_cmpint(tb_open_output(bus, id, 0, false, &fd, &e), ==, 0);
                out = tb_read_all(fd);
                close(fd);
                g_assert_cmpmem(out->data, out->len, "quick\n", 6);
        }
        g_assert_cmpint(tb_run(bus, (const char *[]) { "/bin/true", NULL }, &j, NULL), ==, 0);
        tb_job_clear(&j);
        sd_bus_unref(bus);
}

static void test_stale_state(void) {
        const char *state = g_getenv("TELEWORKER_TEST_STATE_DIR");
        g_autofree char *corrupt = NULL, *gone = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus;
        TbJob j;

        if (!state) {
                g_test_skip("TELEWORKER_TEST_STATE_DIR not set");
                return;
        }
        /* a record that is not JSON, and a "running" record whose scope and reaper are long gone */
        corrupt = g_build_filename(state, "jobs", "11111111-1111-4111-8111-111111111111.json", NULL);
        g_assert_true(g_file_set_contents(corrupt, "{ not json", -1, NULL));
        gone = g_build_filename(state, "jobs", "22222222-2222-4222-8222-222222222222.json", NULL);
        g_assert_true(g_file_set_contents(
                gone,
                "{\"id\":\"22222222-2222-4222-8222-222222222222\",\"unit\":\"teleworker-22222222-2222-4222-8222-"
                "222222222222.scope\",\"owner\":\"root\",\"user\":\"root\",\"uid\":0,\"gid\":0,\"argv\":[\"/bin/true\"],"
                "\"executable\":\"/bin/true\",\"cwd\":\"/\",\"limits\":{\"CPUQuotaPerSecUSec\":1000000,\"MemoryMax\":"
                "536870912,\"IOReadBandwidthMax\":1,\"IOWriteBandwidthMax\":1,\"TasksMax\":512},\"state\":\"running\","
                "\"reason\":\"\",\"exit_code\":-1,\"exit_signal\":0,\"submitted_at\":1,\"started_at\":1,\"ended_at\":0,"
                "\"reaper_pid\":999999,\"main_pid\":0,\"go_sent\":true,\"causes\":0,\"oom_kills_at_start\":0,"
                "\"usage\":{\"memory_current\":0,\"memory_peak\":0,\"cpu_usage_nsec\":0,\"io_read_bytes\":0,"
                "\"io_write_bytes\":0}}",
                -1, NULL));
        restart_daemon();
        bus = wait_for_daemon();
        g_assert_cmpint(tb_get(bus, "11111111-1111-4111-8111-111111111111", &j, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.NoSuchJob");
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_get(bus, "22222222-2222-4222-8222-222222222222", &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "failed");
        tb_job_clear(&j);
        {
                g_autofree char *moved = g_strconcat(corrupt, ".corrupt", NULL);
                g_assert_true(g_file_test(moved, G_FILE_TEST_EXISTS));
                unlink(moved);
        }
        sd_bus_unref(bus);
}

/* Replaces the daemon's policy file by ORIG with FIELDS added at the top level, and reloads. */
static void reload_with(const char *path, const char *orig, const char *fields) {
        const char *brace = strchr(orig, '{');
        const char *kill[] = { "kill", "--signal=SIGHUP", unit(), NULL };

        g_assert_nonnull(brace);
        g_autofree char *text = g_strdup_printf("{ %s, %s", fields, brace + 1);
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        systemctl(kill);
        g_usleep(300000);      /* the reload is asynchronous; the next Start applies retention */
}

static bool job_files_exist(const char *state, const char *id, bool want) {
        g_autofree char *record = g_strdup_printf("%s/jobs/%s.json", state, id);
        g_autofree char *spool = g_strdup_printf("%s/output/%s.out", state, id);
        return g_file_test(record, G_FILE_TEST_EXISTS) == want && g_file_test(spool, G_FILE_TEST_EXISTS) == want;
}

static bool job_known(sd_bus *bus, const char *id) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j;
        int r = tb_get(bus, id, &j, &e);

        if (r >= 0) {
                tb_job_clear(&j);
                return true;
        }
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.NoSuchJob");
        sd_bus_error_free(&e);
        return false;
}

static char *run_true(sd_bus *bus) {
        const char *argv[] = { "/bin/echo", "kept", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *id = NULL;
        TbJob j;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        return id;
}

/* Ended jobs go with their record and output: by age (retention_sec), and oldest first when the table is
 * full (max_jobs). Running jobs never go. */
static void test_retention(void) {
        const char *state = g_getenv("TELEWORKER_TEST_STATE_DIR"), *path = g_getenv("TELEWORKER_TEST_CONFIG");
        const char *sleeper[] = { "/bin/sleep", "60", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *orig = NULL, *running = NULL;
        char *ids[5] = {};
        sd_bus *bus;

        if (!state || !path || !g_file_get_contents(path, &orig, NULL, NULL)) {
                g_test_skip("TELEWORKER_TEST_STATE_DIR or TELEWORKER_TEST_CONFIG not set");
                return;
        }
        bus = wait_for_daemon();

        /* by age: one second */
        reload_with(path, orig, "\"retention_sec\": 1");
        g_assert_cmpint(tb_start(bus, sleeper, NULL, &running, &e), ==, 0);
        ids[0] = run_true(bus);
        g_assert_true(job_known(bus, ids[0]));
        g_assert_true(job_files_exist(state, ids[0], true));
        g_usleep(1500000);
        ids[1] = run_true(bus);        /* a Start applies the policy */
        g_assert_false(job_known(bus, ids[0]));
        g_assert_true(job_files_exist(state, ids[0], false));
        g_assert_true(job_known(bus, running));         /* older, but not ended */

        /* by count: a table of 4 = the running job + the 3 newest ended ones */
        reload_with(path, orig, "\"max_jobs\": 4");
        for (unsigned i = 2; i < G_N_ELEMENTS(ids); i++)
                ids[i] = run_true(bus);
        g_assert_true(job_known(bus, running));
        g_assert_false(job_known(bus, ids[1]));
        g_assert_true(job_files_exist(state, ids[1], false));
        for (unsigned i = 2; i < G_N_ELEMENTS(ids); i++) {
                g_assert_true(job_known(bus, ids[i]));
                g_assert_true(job_files_exist(state, ids[i], true));
        }

        /* back to the test policy */
        g_assert_true(g_file_set_contents(path, orig, -1, NULL));
        {
                const char *kill[] = { "kill", "--signal=SIGHUP", unit(), NULL };
                systemctl(kill);
        }
        g_assert_cmpint(tb_stop(bus, running, &e), ==, 0);
        for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++)
                free(ids[i]);
        sd_bus_unref(bus);
}

/* ---- telerun across restarts of the daemon (issue 13, item 6) ---- */

typedef struct Cli {
        GPid pid;
        int out_fd, err_fd; /* memfds the child writes to */
} Cli;

static void cli_drop_to(gpointer data) {
        uid_t uid = (uid_t) GPOINTER_TO_UINT(data);

        if (uid != 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
                _exit(126);
}

/* Remote mode: telerun's options for the test gateway (NULL: local, over the bus). */
static char **cli_remote;

/* telerun [remote options] ARGS... in the background (as tbuser1 locally, as root with alice's certificate
 * remotely), its stdout and stderr into memfds. NULL-terminated. */
static Cli cli_spawn(const char *first, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        GError *error = NULL;
        Cli c = {};
        va_list ap;

        g_ptr_array_add(argv, (char *) TELERUN_PATH);
        for (char **o = cli_remote; o && *o; o++)
                g_ptr_array_add(argv, *o);
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(argv, (char *) a);
        va_end(ap);
        g_ptr_array_add(argv, NULL);
        c.out_fd = memfd_create("telerun-out", MFD_CLOEXEC);
        c.err_fd = memfd_create("telerun-err", MFD_CLOEXEC);
        g_assert_cmpint(c.out_fd, >=, 0);
        g_assert_cmpint(c.err_fd, >=, 0);
        g_assert_true(g_spawn_async_with_fds("/", (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD, cli_drop_to,
                                             GUINT_TO_POINTER(cli_remote ? 0 : TB_UID_USER1), &c.pid, -1, c.out_fd,
                                             c.err_fd, &error));
        return c;
}

static GString *fd_contents(int fd) {
        GString *s = g_string_new(NULL);
        char buf[65536];
        ssize_t n;
        off_t at = 0;

        while ((n = pread(fd, buf, sizeof(buf), at)) > 0) {
                g_string_append_len(s, buf, n);
                at += n;
        }
        return s;
}

static off_t fd_size(int fd) {
        return lseek(fd, 0, SEEK_END);
}

/* Waits for c to exit (at most 120 s): its exit code, with its stdout (if ret_out) and stderr. */
static int cli_reap(Cli *c, const char *what, GString **ret_out, GString **ret_err) {
        g_autoptr(GString) out = NULL, err = NULL;
        int status = 0;
        pid_t k = 0;

        for (int i = 0; i < 12000 && (k = waitpid(c->pid, &status, WNOHANG)) == 0; i++)
                g_usleep(10000);
        if (k == 0) {
                kill(c->pid, SIGKILL);
                (void) waitpid(c->pid, &status, 0);
                g_error("telerun %s did not end", what);
        }
        out = fd_contents(c->out_fd);
        err = fd_contents(c->err_fd);
        g_test_message("telerun %s -> %s %d; stdout %zu bytes; stderr: %s", what,
                       WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                       out->len, err->str);
        close(c->out_fd);
        close(c->err_fd);
        g_spawn_close_pid(c->pid);
        g_assert_true(WIFEXITED(status));
        if (ret_out)
                *ret_out = g_steal_pointer(&out);
        if (ret_err)
                *ret_err = g_steal_pointer(&err);
        return WEXITSTATUS(status);
}

/* The same command, run here: what the job's output must be. */
static GString *local_output(const char *const *argv) {
        g_autofree char *out = NULL;
        GString *s;
        int status;
        gsize len;

        g_assert_true(g_spawn_sync("/", (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        len = strlen(out);
        s = g_string_new_len(out, (gssize) len);
        return s;
}

/* c must end 0 with exactly expect on stdout and nothing on stderr. */
static void cli_reap_exact(Cli *c, const char *what, const GString *expect) {
        g_autoptr(GString) out = NULL, err = NULL;

        g_assert_cmpint(cli_reap(c, what, &out, &err), ==, 0);
        g_assert_cmpuint(out->len, ==, expect->len);
        g_assert_true(memcmp(out->str, expect->str, expect->len) == 0);
        g_assert_cmpstr(err->str, ==, "");
}

#define FOLLOW_LINES "3000"
#define FOLLOW_DELAY_MS "2"

/* A job started with `telerun start`, followed by `logs -f` and `wait`, and a `telerun run` of the same
 * command, while the daemon goes away (disrupt) and comes back; every reader must end 0 with every byte. */
static void follow_across(void (*disrupt)(void), unsigned times) {
        const char *cmd[] = { tb_gen_path(), "seq", FOLLOW_LINES, FOLLOW_DELAY_MS, NULL };
        const char *local[] = { tb_gen_path(), "seq", FOLLOW_LINES, "0", NULL };
        g_autoptr(GString) expect = local_output(local);
        g_autoptr(GString) out = NULL, err = NULL, id = NULL;
        sd_bus *bus = tb_bus_as(0);
        Cli start, logs, wait, run;

        start = cli_spawn("start", "--", cmd[0], cmd[1], cmd[2], cmd[3], NULL);
        g_assert_cmpint(cli_reap(&start, "start", &id, NULL), ==, 0);
        g_strstrip(id->str);
        g_assert_cmpuint(strlen(id->str), ==, 36);
        logs = cli_spawn("logs", "-f", id->str, NULL);
        wait = cli_spawn("wait", id->str, NULL);
        run = cli_spawn("run", "--", cmd[0], cmd[1], cmd[2], cmd[3], NULL);

        for (unsigned i = 0; i < times; i++) {
                uint64_t size = output_size(bus, id->str);

                /* every reader is under way and the job still has a while to go */
                wait_output(&bus, id->str, size + 1500);
                /* under emulation a reader may take seconds to print its first byte: wait for both */
                for (unsigned k = 0; k < 500 * tb_slowdown() && (fd_size(run.out_fd) == 0 || fd_size(logs.out_fd) == 0);
                     k++)
                        g_usleep(10000);
                g_assert_cmpint(fd_size(logs.out_fd), >, 0);
                g_assert_cmpint(fd_size(run.out_fd), >, 0);
                g_assert_cmpuint(output_size(bus, id->str), <, expect->len);
                {
                        uint64_t t0 = g_get_monotonic_time(), back;
                        off_t had;

                        disrupt();
                        had = fd_size(logs.out_fd);
                        sd_bus_unref(bus);
                        bus = wait_for_daemon();
                        back = g_get_monotonic_time();
                        /* the follower resumes soon after the daemon is back (its retries back off to 2 s) */
                        for (int k = 0; k < 1000 && fd_size(logs.out_fd) == had; k++)
                                g_usleep(10000);
                        g_assert_cmpint(fd_size(logs.out_fd), >, had);
                        g_test_message("daemon back after %.0f ms, follower resumed after %.0f ms",
                                       (back - t0) / 1000.0, (g_get_monotonic_time() - t0) / 1000.0);
                }
        }

        cli_reap_exact(&logs, "logs -f", expect);
        cli_reap_exact(&run, "run", expect);
        g_assert_cmpint(cli_reap(&wait, "wait", &out, &err), ==, 0);
        g_assert_nonnull(strstr(out->str, "success"));
        g_assert_cmpstr(err->str, ==, "");
        sd_bus_unref(bus);
}

static void test_cli_follow_kill(void) {
        follow_across(kill_daemon, 2);
}

static void test_cli_follow_restart(void) {
        follow_across(restart_daemon, 1);
}

/* systemctl stop, a second without a daemon (the job writes on; its reaper holds the output), then start:
 * the new daemon takes the job back from its reaper and the readers resume (issue #13, items 6 and 7). */
static void stop_and_start_daemon(void) {
        const char *stop[] = { "stop", unit(), NULL };

        systemctl(stop);
        g_usleep(G_USEC_PER_SEC);
        start_daemon_unit();
}

static void test_cli_follow_stop_start(void) {
        follow_across(stop_and_start_daemon, 1);
}

/* The same through teleworker-gateway: its output stream ends when the daemon goes away (and its calls fail
 * with 503 until it is back); telerun --addr asks again from where it was. */
static void test_cli_remote_follow(void) {
        const char *build_dir = g_getenv("TELEWORKER_TEST_BUILD_DIR");
        g_autofree char *addr = g_strdup_printf("127.0.0.1:%d", GW_PORT);
        g_autofree char *crt = NULL, *key = NULL, *ca = NULL;
        TbGateway gw = {};

        if (!build_dir) {
                g_test_skip("TELEWORKER_TEST_BUILD_DIR not set");
                return;
        }
        (void) test_certs_dir();
        crt = test_cert_path("alice.crt");
        key = test_cert_path("alice.key");
        ca = test_cert_path("ca.crt");
        tb_gateway_start(&gw, build_dir, GW_UNIT, GW_PORT, NULL, NULL);
        {
                char *remote[] = { "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, NULL };

                cli_remote = remote;
                follow_across(kill_daemon, 1);
                follow_across(restart_daemon, 1);
                follow_across(stop_and_start_daemon, 1);
                cli_remote = NULL;
        }
        tb_gateway_stop(&gw);
        test_certs_cleanup();
}

/* A daemon that does not come back (its policy file does not parse, so every restart fails): the follower
 * and wait give up after --reconnect-timeout and say so, non-zero. */
static void test_cli_follow_gone(void) {
        const char *path = g_getenv("TELEWORKER_TEST_CONFIG");
        const char *cmd[] = { tb_gen_path(), "seq", "1000", "5", NULL };
        g_autoptr(GString) out = NULL, err = NULL, id = NULL;
        g_autofree char *orig = NULL;
        sd_bus *bus = tb_bus_as(0);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Cli start, logs, wait;
        TbJob j;

        if (!path || !g_file_get_contents(path, &orig, NULL, NULL)) {
                g_test_skip("TELEWORKER_TEST_CONFIG not set");
                sd_bus_unref(bus);
                return;
        }
        start = cli_spawn("start", "--", cmd[0], cmd[1], cmd[2], cmd[3], NULL);
        g_assert_cmpint(cli_reap(&start, "start", &id, NULL), ==, 0);
        g_strstrip(id->str);
        logs = cli_spawn("--reconnect-timeout=2", "logs", "-f", id->str, NULL);
        wait = cli_spawn("--reconnect-timeout=2", "wait", id->str, NULL);
        wait_output(&bus, id->str, 100);
        g_usleep(200000);

        g_assert_true(g_file_set_contents(path, "{ broken", -1, NULL));
        kill_daemon();
        g_assert_cmpint(cli_reap(&logs, "logs -f", &out, &err), ==, 5);
        g_assert_cmpuint(out->len, >, 0);
        g_assert_nonnull(strstr(err->str, "did not come back within 2 s"));
        g_assert_nonnull(strstr(err->str, "incomplete"));
        g_string_free(g_steal_pointer(&out), true);
        g_string_free(g_steal_pointer(&err), true);
        /* wait exits with a job's status, so its own failures are 125 (docs/cli.md), the message says which */
        g_assert_cmpint(cli_reap(&wait, "wait", &out, &err), ==, 125);
        g_assert_nonnull(strstr(err->str, "did not come back within 2 s"));

        g_assert_true(g_file_set_contents(path, orig, -1, NULL));
        sd_bus_unref(bus);
        bus = wait_for_daemon();
        g_assert_cmpint(tb_wait(bus, id->str, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        sd_bus_unref(bus);
}

/* A job's terminal (pty master) and input are in the fd store: after a restart it can still be resized and
 * typed into (telerun attach). */
static int tty_call(sd_bus *bus, const char *method, const char *id, uint16_t rows, int *ret_fd) {
        sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r, fd = -1;

        r = ret_fd ? sd_bus_call_method(bus, "org.teleworker.worker1", "/org/teleworker/worker1",
                                        "org.teleworker.worker1.Manager", method, &e, &reply, "s", id)
                   : sd_bus_call_method(bus, "org.teleworker.worker1", "/org/teleworker/worker1",
                                        "org.teleworker.worker1.Manager", method, &e, &reply, "sqq", id, rows, 100);
        if (r < 0)
                g_test_message("%s: %s: %s", method, e.name, e.message);
        if (r >= 0 && ret_fd) {
                g_assert_cmpint(sd_bus_message_read(reply, "h", &fd), >=, 0);
                *ret_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        }
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return r;
}

static void test_tty_across_restart(void) {
        const char *argv[] = { "/bin/sh", "-c", "read a; echo \"first $a\"; read b; stty size; echo \"got $a $b\"", NULL };
        sd_bus *bus = tb_bus_as(TB_UID_USER1), *root;
        sd_bus_message *m = NULL;
        g_autofree char *id = NULL;
        g_autoptr(GByteArray) out = NULL;
        TbJob j;
        int fd = -1;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.teleworker.worker1", "/org/teleworker/worker1",
                                                       "org.teleworker.worker1.Manager", "Start"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "ass", 0, ""), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "StandardInput", "s", "stream", "Terminal", "(qq)", 24, 80),
                        >=, 0);
        g_assert_cmpint(tb_call_start(bus, m, &id, NULL), >=, 0);
        /* Its terminal is known (and stored) once a resize works. */
        for (int i = 0; i < 100 * (int) tb_slowdown() && tty_call(bus, "Resize", id, 25, NULL) < 0; i++)
                g_usleep(100 * 1000);
        g_assert_cmpint(tty_call(bus, "OpenInput", id, 0, &fd), >=, 0);
        g_assert_cmpint(write(fd, "one\n", 4), ==, 4);
        close(fd);
        wait_output(&bus, id, strlen("one\r\nfirst one\r\n"));   /* it runs on its terminal */
        sd_bus_unref(bus);

        restart_daemon();
        root = wait_for_daemon();
        bus = tb_bus_as(TB_UID_USER1);
        g_assert_cmpint(tty_call(bus, "Resize", id, 30, NULL), >=, 0);
        g_assert_cmpint(tty_call(bus, "OpenInput", id, 0, &fd), >=, 0);
        g_assert_cmpint(write(fd, "two\n", 4), ==, 4);
        close(fd);
        g_assert_cmpint(tb_wait(bus, id, &j, NULL), >=, 0);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        g_assert_cmpint(tb_open_output(bus, id, 0, false, &fd, NULL), >=, 0);
        out = tb_read_all(fd);
        close(fd);
        g_byte_array_append(out, (const guint8 *) "", 1);
        g_test_message("output: %s", (const char *) out->data);
        g_assert_nonnull(strstr((const char *) out->data, "\n30 100\r\ngot one two\r\n"));
        sd_bus_unref(bus);
        sd_bus_unref(root);
}

int main(int argc, char **argv) {
        sd_bus *bus;

        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        bus = tb_bus_as(0);
        if (!tb_daemon_present(bus))
                return 77;
        sd_bus_unref(bus);
        g_test_add_func("/restart/kill-twice-and-restart", test_kill_twice_and_restart);
        g_test_add_func("/restart/exit-while-down", test_exit_while_down);
        g_test_add_func("/restart/started-just-before", test_started_just_before_restart);
        g_test_add_func("/restart/stop-and-start", test_stop_and_start);
        g_test_add_func("/restart/wait-across-stop", test_wait_across_stop);
        g_test_add_func("/restart/stray-reaper-released", test_stray_reaper_released);
        g_test_add_func("/restart/stale-state", test_stale_state);
        g_test_add_func("/restart/retention", test_retention);
        g_test_add_func("/restart/tty-across-restart", test_tty_across_restart);
        g_test_add_func("/restart/cli-follow-kill", test_cli_follow_kill);
        g_test_add_func("/restart/cli-follow-restart", test_cli_follow_restart);
        g_test_add_func("/restart/cli-follow-stop-start", test_cli_follow_stop_start);
        g_test_add_func("/restart/cli-follow-gone", test_cli_follow_gone);
        g_test_add_func("/restart/cli-remote-follow", test_cli_remote_follow);
        return g_test_run();
}
