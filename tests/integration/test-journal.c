/* SPDX-License-Identifier: MIT */
/* test-journal - what the journal and systemd learn of jobs from the real teleworkerd: the start and end
 * entries that `journalctl -u teleworker-<id>.scope` shows, with their fields, for an exit-3 job and an
 * OOM-killed one; STATUS= ("N running, M kept") as `systemctl show -p StatusText` sees it change. */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tb-client.h"

#define MSG_STARTED "2c48e7c670f441b4b87e4ea54260004b"
#define MSG_ENDED "d12ef34a5aa949528c17625e39128e79"

static sd_bus *user_bus;

static char *run_capture(const char *const *argv) {
        g_autoptr(GError) error = NULL;
        char *out = NULL;
        int status;

        g_assert_true(g_spawn_sync("/", (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                   NULL, &out, NULL, &status, &error));
        return out;
}

/* The entry of the scope's journal with this MESSAGE_ID, polled for: journald takes the datagram in its
 * own time. NULL after the deadline. */
static json_object *find_entry(const char *unit, const char *message_id) {
        const char *argv[] = { "journalctl", "--no-pager", "-o", "json", "-u", unit, NULL };
        gint64 deadline = g_get_monotonic_time() + (gint64) tb_slowdown() * 20 * G_USEC_PER_SEC;

        do {
                g_autofree char *out = run_capture(argv);
                g_auto(GStrv) lines = g_strsplit(out ?: "", "\n", -1);

                for (char **l = lines; *l; l++) {
                        json_object *o = json_tokener_parse(*l), *v;
                        if (o && json_object_object_get_ex(o, "MESSAGE_ID", &v) &&
                            g_str_equal(json_object_get_string(v), message_id))
                                return o;
                        json_object_put(o);
                }
                g_usleep(100 * 1000);
        } while (g_get_monotonic_time() < deadline);
        return NULL;
}

static const char *field(json_object *o, const char *name) {
        json_object *v;

        if (!json_object_object_get_ex(o, name, &v))
                return NULL;
        return json_object_get_string(v);
}

static void check_common(json_object *o, const char *id, const char *unit) {
        g_assert_cmpstr(field(o, "TELEWORKER_JOB_ID"), ==, id);
        g_assert_cmpstr(field(o, "OBJECT_SYSTEMD_UNIT"), ==, unit);
        g_assert_cmpstr(field(o, "TELEWORKER_OWNER"), ==, "tbuser1");
        g_assert_cmpstr(field(o, "TELEWORKER_ACCOUNT"), ==, "tbuser1");
        g_assert_cmpstr(field(o, "_UID"), ==, "0");
        g_assert_cmpstr(field(o, "SYSLOG_IDENTIFIER"), ==, "teleworkerd");
}

static void test_exit_code(void) {
        const char *argv[] = { "/bin/sh", "-c", "echo hi; exit 3", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL, *unit = NULL;
        json_object *start, *end;
        TbJob j;

        g_assert_cmpint(tb_start(user_bus, argv, NULL, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(user_bus, id, &j, &e), ==, 0);
        g_assert_cmpint(j.exit_code, ==, 3);
        unit = g_strdup(j.unit);
        tb_job_clear(&j);

        start = find_entry(unit, MSG_STARTED);
        g_assert_nonnull(start);
        check_common(start, id, unit);
        g_assert_cmpstr(field(start, "TELEWORKER_COMMAND"), ==, "/bin/sh -c 'echo hi; exit 3'");
        g_assert_cmpstr(field(start, "TELEWORKER_STATE"), ==, "running");
        g_assert_cmpstr(field(start, "PRIORITY"), ==, "6");
        g_assert_nonnull(strstr(field(start, "MESSAGE"), id));

        end = find_entry(unit, MSG_ENDED);
        g_assert_nonnull(end);
        check_common(end, id, unit);
        g_assert_cmpstr(field(end, "TELEWORKER_STATE"), ==, "failed");
        g_assert_cmpstr(field(end, "TELEWORKER_REASON"), ==, "exited");
        g_assert_cmpstr(field(end, "TELEWORKER_EXIT_CODE"), ==, "3");
        g_assert_cmpstr(field(end, "TELEWORKER_EXIT_SIGNAL"), ==, "0");
        g_assert_cmpstr(field(end, "PRIORITY"), ==, "5");
        g_assert_nonnull(strstr(field(end, "MESSAGE"), "exit code 3"));
        /* usage: the CPU counter is there on both cgroup layouts */
        g_assert_nonnull(field(end, "TELEWORKER_CPU_USAGE_NSEC"));
        g_assert_cmpstr(field(end, "TELEWORKER_CPU_USAGE_NSEC"), !=, "");
        g_assert_nonnull(field(end, "TELEWORKER_MEMORY_PEAK"));
        g_assert_nonnull(field(end, "TELEWORKER_IO_READ_BYTES"));
        g_assert_nonnull(field(end, "TELEWORKER_IO_WRITE_BYTES"));
        json_object_put(start);
        json_object_put(end);
}

static void test_oom_kill(void) {
        const char *argv[] = { tb_gen_path(), "hog", "400", NULL };
        const char *limits[] = { "MemoryMax", "67108864", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL, *unit = NULL, *sig = NULL;
        json_object *end;
        TbJob j;

        g_assert_cmpint(tb_start(user_bus, argv, limits, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(user_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.reason, ==, "oom-kill");
        unit = g_strdup(j.unit);
        tb_job_clear(&j);

        end = find_entry(unit, MSG_ENDED);
        g_assert_nonnull(end);
        check_common(end, id, unit);
        g_assert_cmpstr(field(end, "TELEWORKER_STATE"), ==, "failed");
        g_assert_cmpstr(field(end, "TELEWORKER_REASON"), ==, "oom-kill");
        g_assert_cmpstr(field(end, "TELEWORKER_EXIT_CODE"), ==, "-1");
        sig = g_strdup_printf("%d", SIGKILL);
        g_assert_cmpstr(field(end, "TELEWORKER_EXIT_SIGNAL"), ==, sig);
        g_assert_nonnull(strstr(field(end, "MESSAGE"), "oom-kill"));
        json_object_put(end);
}

/* "R running, K kept" of the daemon's unit. */
static void status_counts(unsigned *running, unsigned *kept) {
        const char *unit = g_getenv("TELEWORKER_TEST_UNIT") ?: "teleworkerd.service";
        const char *argv[] = { "systemctl", "show", "-p", "StatusText", "--value", unit, NULL };
        g_autofree char *out = run_capture(argv);

        g_assert_cmpint(sscanf(out, "%u running, %u kept", running, kept), ==, 2);
}

/* The job table's own counts, as an administrator sees it: non-final jobs and final ones. */
static void table_counts(sd_bus *bus, unsigned *running, unsigned *kept) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        GPtrArray *ids = NULL;

        *running = *kept = 0;
        g_assert_cmpint(tb_list(bus, &ids, &e), ==, 0);
        for (guint i = 0; i < ids->len; i++) {
                TbJob j = {};
                if (tb_get(bus, ids->pdata[i], &j, &e) < 0) {
                        sd_bus_error_free(&e); /* removed meanwhile */
                        continue;
                }
                if (g_str_equal(j.state, "submitted") || g_str_equal(j.state, "running"))
                        (*running)++;
                else
                        (*kept)++;
                tb_job_clear(&j);
        }
        g_ptr_array_unref(ids);
}

/* Waits until StatusText says what the table holds (other tests' jobs may come and go meanwhile, so the
 * table is read again each time) and id is in state want. */
static bool wait_status(sd_bus *admin, const char *id, const char *want) {
        gint64 deadline = g_get_monotonic_time() + (gint64) tb_slowdown() * 20 * G_USEC_PER_SEC;
        unsigned running = 0, kept = 0, t_running = 0, t_kept = 0;

        do {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                TbJob j = {};
                bool in_state;

                g_assert_cmpint(tb_get(admin, id, &j, &e), ==, 0);
                in_state = g_str_equal(j.state, want);
                tb_job_clear(&j);
                table_counts(admin, &t_running, &t_kept);
                status_counts(&running, &kept);
                if (in_state && running == t_running && kept == t_kept)
                        return true;
                g_usleep(100 * 1000);
        } while (g_get_monotonic_time() < deadline);
        g_test_message("StatusText: %u running, %u kept; the table: %u running, %u kept", running, kept, t_running,
                       t_kept);
        return false;
}

static void test_status_text(void) {
        const char *argv[] = { "/bin/sleep", "600", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        sd_bus *admin = tb_bus_as(0);

        g_assert_cmpint(tb_start(user_bus, argv, NULL, &id, &e), ==, 0);
        g_assert_true(wait_status(admin, id, "running"));
        g_assert_cmpint(tb_stop(user_bus, id, &e), ==, 0);
        g_assert_true(wait_status(admin, id, "killed"));
        sd_bus_flush_close_unref(admin);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        user_bus = tb_bus_as(TB_UID_USER1);
        if (!tb_daemon_present(user_bus))
                return 77;

        g_test_add_func("/journal/exit-code", test_exit_code);
        g_test_add_func("/journal/oom-kill", test_oom_kill);
        g_test_add_func("/journal/status-text", test_status_text);

        int r = g_test_run();
        sd_bus_unref(user_bus);
        return r;
}
