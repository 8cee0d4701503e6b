/* SPDX-License-Identifier: MIT */
/* test-cli - telerun against the real teleworkerd, run as different users inside the testbed: output and
 * exit codes of run/start/status/logs/wait/stop/list, JSON output, and authorization as a user sees it. */
#include <errno.h>
#include <grp.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tb-client.h"

/* telerun ARGS... as uid; NULL-terminated. */
static TbResult telerun_as(uid_t uid, const char *first, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        TbResult r = {};
        GError *error = NULL;
        int wait_status;
        va_list ap;

        g_ptr_array_add(argv, (char *) TELERUN_PATH);
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(argv, (char *) a);
        va_end(ap);
        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync("/", (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, tb_drop_to, GUINT_TO_POINTER(uid),
                                   &r.out, &r.err, &wait_status, &error));
        g_assert_true(WIFEXITED(wait_status));
        r.status = WEXITSTATUS(wait_status);
        g_test_message("telerun %s ... (uid %u) -> %d\nstdout: %s\nstderr: %s", first, (unsigned) uid, r.status,
                       r.out, r.err);
        return r;
}

static char *start_as(uid_t uid, const char *cmd) {
        TbResult r = telerun_as(uid, "start", "--", "/bin/sh", "-c", cmd, NULL);
        char *id;

        g_assert_cmpint(r.status, ==, 0);
        id = g_strstrip(g_strdup(r.out));
        g_assert_cmpuint(strlen(id), ==, 36);
        tb_result_clear(&r);
        return id;
}

static void test_run_exit_code(void) {
        TbResult r = telerun_as(TB_UID_USER1, "run", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL);

        g_assert_cmpint(r.status, ==, 3);
        /* the job's stdout to ours, its stderr to ours (issue 15) */
        g_assert_cmpstr(r.out, ==, "out\n");
        g_assert_cmpstr(r.err, ==, "err\n");
        tb_result_clear(&r);

        r = telerun_as(TB_UID_USER1, "run", "--", "/bin/sh", "-c", "kill -KILL $$", NULL);
        g_assert_cmpint(r.status, ==, 128 + SIGKILL);
        tb_result_clear(&r);
}

static void test_status_json(void) {
        g_autofree char *id = start_as(TB_UID_USER1, "echo hello");
        TbResult w = telerun_as(TB_UID_USER1, "wait", id, NULL), s;
        json_object *o, *v;

        g_assert_cmpint(w.status, ==, 0);
        tb_result_clear(&w);
        s = telerun_as(TB_UID_USER1, "status", "--json", id, NULL);
        g_assert_cmpint(s.status, ==, 0);
        o = json_tokener_parse(s.out);
        g_assert_nonnull(o);
        g_assert_true(json_object_object_get_ex(o, "id", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, id);
        g_assert_true(json_object_object_get_ex(o, "state", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "success");
        g_assert_true(json_object_object_get_ex(o, "owner", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "tbuser1");
        g_assert_true(json_object_object_get_ex(o, "exit_code", &v));
        g_assert_cmpint(json_object_get_int(v), ==, 0);
        json_object_put(o);
        tb_result_clear(&s);

        s = telerun_as(TB_UID_USER1, "status", id, NULL);
        g_assert_cmpint(s.status, ==, 0);
        g_assert_nonnull(strstr(s.out, "success"));
        /* never systemd's "unset" as a number */
        g_assert_null(strstr(s.out, "18446744073709551615"));
        tb_result_clear(&s);

        s = telerun_as(TB_UID_USER1, "logs", id, NULL);
        g_assert_cmpint(s.status, ==, 0);
        g_assert_cmpstr(s.out, ==, "hello\n");
        tb_result_clear(&s);
}

static void test_logs_follow_live(void) {
        g_autofree char *id = start_as(TB_UID_USER1, "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done");
        TbResult r = telerun_as(TB_UID_USER1, "logs", "-f", id, NULL);

        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "line 1\nline 2\nline 3\nline 4\nline 5\n");
        tb_result_clear(&r);
}

static void test_other_user(void) {
        g_autofree char *id = start_as(TB_UID_USER1, "sleep 60");
        TbResult r;

        r = telerun_as(TB_UID_USER2, "status", id, NULL);
        g_assert_cmpint(r.status, ==, 4);
        g_assert_true(g_str_has_prefix(r.err, "telerun: "));
        g_assert_nonnull(strstr(r.err, "denied"));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER2, "stop", id, NULL);
        g_assert_cmpint(r.status, ==, 4);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER2, "logs", id, NULL);
        g_assert_cmpint(r.status, ==, 4);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER2, "list", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_null(strstr(r.out, id));
        tb_result_clear(&r);

        /* still running: the refused stop did nothing */
        r = telerun_as(TB_UID_USER1, "status", "--json", id, NULL);
        g_assert_nonnull(strstr(r.out, "\"running\""));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_ADMIN, "list", NULL);
        g_assert_nonnull(strstr(r.out, id));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "stop", id, NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "wait", id, NULL);
        g_assert_cmpint(r.status, ==, 128 + SIGTERM);
        tb_result_clear(&r);
}

static void test_errors(void) {
        TbResult r;

        r = telerun_as(TB_UID_USER1, "status", "00000000-0000-4000-8000-000000000000", NULL);
        g_assert_cmpint(r.status, ==, 3);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "status", "_not-an-id", NULL);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);
        /* run's own failures are 125-127 (docker run's), never a code the job could exit with */
        r = telerun_as(TB_UID_USER1, "run", "--", "./does/not/exist", NULL);
        g_assert_cmpint(r.status, ==, 127);
        g_assert_nonnull(strstr(r.err, "does/not/exist"));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "run", "--memory", "64G", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 125);
        g_assert_nonnull(strstr(r.err, "MemoryMax"));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "frobnicate", NULL);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);
}

/* run ties the job to telerun: SIGTERM stops it and telerun exits with the job's status, which the Wait
 * telerun sent ahead (before copying the output) reports once the stop is through. */
static void test_run_interrupted(void) {
        const char *argv[] = { TELERUN_PATH, "run", "--", "/bin/sh", "-c", "echo ready; exec sleep 1000", NULL };
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GString) err = g_string_new(NULL);
        GError *error = NULL;
        int out_fd, err_fd, status;
        char buf[256];
        ssize_t n;
        GPid pid;

        g_assert_true(g_spawn_async_with_pipes("/", (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, tb_drop_to,
                                               GUINT_TO_POINTER(TB_UID_USER1), &pid, NULL, &out_fd, &err_fd,
                                               &error));
        while (!strstr(out->str, "ready\n") && (n = read(out_fd, buf, sizeof(buf))) > 0)
                g_string_append_len(out, buf, n);
        g_assert_cmpstr(out->str, ==, "ready\n");
        g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
        while ((n = read(out_fd, buf, sizeof(buf))) > 0)
                g_string_append_len(out, buf, n);
        while ((n = read(err_fd, buf, sizeof(buf))) > 0)
                g_string_append_len(err, buf, n);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_test_message("telerun run, SIGTERM -> %d\nstdout: %s\nstderr: %s", status, out->str, err->str);
        g_assert_true(WIFEXITED(status));
        /* SIGTERM, or SIGKILL when a loaded machine let the grace period (2 s in the tests' policy) pass */
        g_assert_true(WEXITSTATUS(status) == 128 + SIGTERM || WEXITSTATUS(status) == 128 + SIGKILL);
        g_assert_cmpstr(out->str, ==, "ready\n");
        g_assert_true(g_str_has_prefix(err->str, "telerun: stopping job "));
        close(out_fd);
        close(err_fd);
        g_spawn_close_pid(pid);
}

/* start -f: the id on stderr, the output on stdout, the job's status as telerun's. */
static void test_start_follow(void) {
        TbResult r = telerun_as(TB_UID_USER1, "start", "-f", "--", "/bin/sh", "-c", "echo one; sleep 0.2; echo two; exit 4",
                              NULL);

        g_assert_cmpint(r.status, ==, 4);
        g_assert_cmpstr(r.out, ==, "one\ntwo\n");
        g_assert_true(g_str_has_prefix(r.err, "telerun: job "));
        tb_result_clear(&r);
}

/* ---- the policy, rewritten for a test and put back (reloaded with SIGHUP) ---- */

static const char *test_unit(void) {
        const char *u = g_getenv("TELEWORKER_TEST_UNIT");
        return u ? u : "teleworkerd.service";
}

static void policy_write(const char *text) {
        const char *path = g_getenv("TELEWORKER_TEST_CONFIG");
        const char *argv[] = { "systemctl", "kill", "--signal=SIGHUP", test_unit(), NULL };
        int status;

        g_assert_nonnull(path);
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                                   NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        g_usleep(500000); /* the reload is asynchronous */
}

/* The test policy with key removed (if not NULL) and the JSON object members of add (if not NULL) added. */
static char *policy_edit(const char *orig, const char *remove, const char *add) {
        json_object *o = json_tokener_parse(orig), *extra;
        char *text;

        g_assert_nonnull(o);
        if (remove)
                json_object_object_del(o, remove);
        if (add) {
                extra = json_tokener_parse(add);
                g_assert_nonnull(extra);
                json_object_object_foreach(extra, k, v)
                        json_object_object_add(o, k, json_object_get(v));
                json_object_put(extra);
        }
        text = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
        json_object_put(o);
        return text;
}

static char *policy_original(void) {
        const char *path = g_getenv("TELEWORKER_TEST_CONFIG");
        char *orig = NULL;

        if (!path || !g_file_get_contents(path, &orig, NULL, NULL))
                return NULL;
        return orig;
}

/* Item 12: one size convention (powers of 1024). The built-in maximum IO bandwidth is 100M, so asking for
 * 100M is within it (it was 100000000 bytes and refused), and status shows the limit as given. */
static void test_units_builtin_max(void) {
        g_autofree char *orig = policy_original(), *policy = NULL;
        TbResult r;
        json_object *o, *limits, *v;

        if (!orig) {
                g_test_skip("TELEWORKER_TEST_CONFIG not set");
                return;
        }
        policy = policy_edit(orig, "max_limits", NULL);
        policy_write(policy);

        r = telerun_as(TB_UID_USER1, "run", "--io-write", "100M", "--io-read", "100M", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.err, ==, "");
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "run", "--io-write", "101M", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 125);
        g_assert_nonnull(strstr(r.err, "IOWriteBandwidthMax=105906176 is above the maximum 104857600"));
        tb_result_clear(&r);

        {
                g_autofree char *id = NULL;
                r = telerun_as(TB_UID_USER1, "start", "--io-write", "100M", "--", "/bin/true", NULL);
                g_assert_cmpint(r.status, ==, 0);
                id = g_strstrip(g_strdup(r.out));
                tb_result_clear(&r);
                r = telerun_as(TB_UID_USER1, "wait", id, NULL);
                tb_result_clear(&r);
                r = telerun_as(TB_UID_USER1, "status", "--json", id, NULL);
                o = json_tokener_parse(r.out);
                g_assert_nonnull(o);
                g_assert_true(json_object_object_get_ex(o, "limits", &limits));
                g_assert_true(json_object_object_get_ex(limits, "io_write_bandwidth_max", &v));
                g_assert_cmpuint(json_object_get_uint64(v), ==, 104857600);
                /* the built-in default read limit: 10M = 10485760 */
                g_assert_true(json_object_object_get_ex(limits, "io_read_bandwidth_max", &v));
                json_object_put(o);
                tb_result_clear(&r);
                r = telerun_as(TB_UID_USER1, "status", id, NULL);
                g_assert_nonnull(strstr(r.out, "100M/s"));
                tb_result_clear(&r);
        }
        policy_write(orig);
}

/* Item 12: `--memory infinity` lifts the limit for an administrator when the policy says so
 * (admin_max_limits), and is refused otherwise: for users, and for administrators without it. */
static void test_memory_infinity(void) {
        g_autofree char *orig = policy_original(), *policy = NULL;
        json_object *o, *limits, *v;
        TbResult r;

        if (!orig) {
                g_test_skip("TELEWORKER_TEST_CONFIG not set");
                return;
        }
        r = telerun_as(TB_UID_ADMIN, "run", "--memory", "infinity", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 125);
        g_assert_nonnull(strstr(r.err, "MemoryMax=infinity"));
        tb_result_clear(&r);

        policy = policy_edit(orig, NULL, "{\"admin_max_limits\": {\"MemoryMax\": \"infinity\"}}");
        policy_write(policy);
        r = telerun_as(TB_UID_ADMIN, "start", "--memory", "infinity", "--", "/bin/sh", "-c", "echo unbounded", NULL);
        g_assert_cmpint(r.status, ==, 0);
        {
                g_autofree char *id = g_strstrip(g_strdup(r.out));
                TbResult w;

                w = telerun_as(TB_UID_ADMIN, "wait", "--json", id, NULL);
                g_assert_cmpint(w.status, ==, 0);
                o = json_tokener_parse(w.out);
                g_assert_nonnull(o);
                g_assert_true(json_object_object_get_ex(o, "limits", &limits));
                g_assert_true(json_object_object_get_ex(limits, "memory_max", &v));
                g_assert_true(json_object_is_type(v, json_type_null)); /* no limit */
                json_object_put(o);
                tb_result_clear(&w);
                w = telerun_as(TB_UID_ADMIN, "logs", id, NULL);
                g_assert_cmpstr(w.out, ==, "unbounded\n");
                tb_result_clear(&w);
        }
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "run", "--memory", "infinity", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 125);
        g_assert_nonnull(strstr(r.err, "MemoryMax=infinity (no limit) is above the maximum"));
        tb_result_clear(&r);
        /* what stays capped for administrators too */
        r = telerun_as(TB_UID_ADMIN, "run", "--tasks", "infinity", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 125);
        tb_result_clear(&r);
        policy_write(orig);
}

/* Item 8: past the output cap, run and logs say how many bytes were dropped; the status stays the job's. */
static void test_dropped_notice(void) {
        g_autofree char *orig = policy_original(), *policy = NULL, *id = NULL;
        const char *gen = tb_gen_path();
        TbResult r;

        if (!orig) {
                g_test_skip("TELEWORKER_TEST_CONFIG not set");
                return;
        }
        policy = policy_edit(orig, NULL, "{\"output_max_bytes\": \"64K\"}");
        policy_write(policy);

        /* 1024 x 256 bytes = 256 KiB: 64 KiB kept, 196608 dropped */
        r = telerun_as(TB_UID_USER1, "run", "--", "/bin/sh", "-c", "\"$0\" bytes 1024; exit 3", gen, NULL);
        g_assert_cmpint(r.status, ==, 3);
        g_assert_cmpstr(r.err, ==, "telerun: 196608 bytes of output were dropped past the cap\n");
        tb_result_clear(&r);

        r = telerun_as(TB_UID_USER1, "start", "--", gen, "bytes", "1024", NULL);
        g_assert_cmpint(r.status, ==, 0);
        id = g_strstrip(g_strdup(r.out));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "logs", "-f", id, NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.err, ==, "telerun: 196608 bytes of output were dropped past the cap\n");
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "logs", id, NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.err, ==, "telerun: 196608 bytes of output were dropped past the cap\n");
        tb_result_clear(&r);
        policy_write(orig);

        /* nothing dropped, nothing said */
        r = telerun_as(TB_UID_USER1, "run", "--", gen, "bytes", "1024", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.err, ==, "");
        tb_result_clear(&r);
}

/* Item 10: `telerun logs ID | head -1` ends quietly (exit 141 as a pipeline's `cat` killed by SIGPIPE, nothing
 * on stderr), whether SIGPIPE is ignored (a shell started from a service or a script that ignores it: bash
 * cannot undo an inherited SIG_IGN) or not. */
static void epipe_child_setup(gpointer data) {
        signal(SIGPIPE, GPOINTER_TO_INT(data) ? SIG_DFL : SIG_IGN);
        tb_drop_to(GUINT_TO_POINTER(TB_UID_USER1));
}

static void test_logs_epipe(void) {
        g_autofree char *id = start_as(TB_UID_USER1, "seq 1 300000");
        TbResult w = telerun_as(TB_UID_USER1, "wait", id, NULL);

        g_assert_cmpint(w.status, ==, 0);
        tb_result_clear(&w);
        for (int dfl = 0; dfl <= 1; dfl++) {
                const char *argv[] = { "/bin/bash", "-c", "\"$0\" logs \"$1\" | head -1; echo \"status=${PIPESTATUS[0]}\" >&2",
                                       TELERUN_PATH, id, NULL };
                g_autofree char *out = NULL, *err = NULL;
                int status;

                g_assert_true(g_spawn_sync("/", (char **) argv, NULL, G_SPAWN_DEFAULT, epipe_child_setup,
                                           GINT_TO_POINTER(dfl), &out, &err, &status, NULL));
                g_test_message("SIGPIPE %s: stdout %s, stderr %s", dfl ? "default" : "ignored", out, err);
                g_assert_cmpstr(out, ==, "1\n");
                g_assert_cmpstr(err, ==, "status=141\n");
        }
}

int main(int argc, char **argv) {
        sd_bus *bus;

        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        bus = tb_bus_as(0);
        if (!tb_daemon_present(bus))
                return 77;
        sd_bus_unref(bus);

        g_test_add_func("/cli/run-exit-code", test_run_exit_code);
        g_test_add_func("/cli/status-json-logs", test_status_json);
        g_test_add_func("/cli/logs-follow-live", test_logs_follow_live);
        g_test_add_func("/cli/other-user", test_other_user);
        g_test_add_func("/cli/errors", test_errors);
        g_test_add_func("/cli/run-interrupted", test_run_interrupted);
        g_test_add_func("/cli/start-follow", test_start_follow);
        g_test_add_func("/cli/units-builtin-max", test_units_builtin_max);
        g_test_add_func("/cli/memory-infinity", test_memory_infinity);
        g_test_add_func("/cli/dropped-notice", test_dropped_notice);
        g_test_add_func("/cli/logs-epipe", test_logs_epipe);
        return g_test_run();
}
