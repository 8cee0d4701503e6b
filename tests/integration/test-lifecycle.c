/* SPDX-License-Identifier: MIT */
/* test-lifecycle - names for jobs and their lifecycle against the real teleworkerd, locally and through
 * teleworker-gateway: unique id prefixes (and an ambiguous one, with jobs whose ids share a prefix made by
 * writing their records and restarting the daemon), another user's job not resolvable, rm (record and spool
 * file gone, a running job refused without -f), kill -s USR1 reaching a job that traps it, wait of several
 * jobs and --any, the exit codes 125/126/127 of run, start -f and wait, and list's filters (running by
 * default, -a, --state, --since, -n, --owner for administrators) in the daemon. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tb-client.h"
#include "tb-gateway.h"

#define GW_UNIT "teleworker-gateway-lifecycle.service"
#define GW_PORT 18455
/* Two jobs of tbuser1 whose ids share "abcd0000", and one of tbuser2 under "abce": written as records. */
#define AMBIG_1 "abcd0000-0000-4000-8000-000000000001"
#define AMBIG_2 "abcd0000-0000-4000-8000-000000000002"
#define OTHERS "abce0000-0000-4000-8000-000000000003"

static sd_bus *root_bus;
static const char *state_dir, *build_dir;
static TbGateway gateway;

static TbResult spawn_as(uid_t uid, GPtrArray *argv) {
        TbResult r = {};
        GError *error = NULL;
        int wait_status;

        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync("/", (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, tb_drop_to,
                                   GUINT_TO_POINTER(uid), &r.out, &r.err, &wait_status, &error));
        g_assert_true(WIFEXITED(wait_status));
        r.status = WEXITSTATUS(wait_status);
        g_test_message("%s %s ... (uid %u) -> %d\nstdout: %s\nstderr: %s", (char *) argv->pdata[0],
                       (char *) argv->pdata[1], (unsigned) uid, r.status, r.out, r.err);
        return r;
}

/* telerun ARGS... as uid (remote: through the gateway with the tbuser1 certificate); NULL-terminated. */
static TbResult telerun_v(uid_t uid, bool remote, const char *first, va_list ap) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(NULL);
        g_autofree char *telerun = g_build_filename(build_dir, "cli", "telerun", NULL);
        g_autofree char *addr = g_strdup_printf("127.0.0.1:%d", GW_PORT), *crt = test_cert_path("tbuser1.crt"),
                        *key = test_cert_path("tbuser1.key"), *ca = test_cert_path("ca.crt");

        g_ptr_array_add(argv, telerun);
        if (remote) {
                const char *opts[] = { "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca };
                for (size_t i = 0; i < G_N_ELEMENTS(opts); i++)
                        g_ptr_array_add(argv, (char *) opts[i]);
        }
        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(argv, (char *) a);
        return spawn_as(uid, argv);
}

static TbResult telerun_as(uid_t uid, const char *first, ...) {
        va_list ap;
        TbResult r;

        va_start(ap, first);
        r = telerun_v(uid, false, first, ap);
        va_end(ap);
        return r;
}

static TbResult telerun_remote(const char *first, ...) {
        va_list ap;
        TbResult r;

        va_start(ap, first);
        r = telerun_v(0, true, first, ap);
        va_end(ap);
        return r;
}

/* curl through the gateway as tbuser1 with a request body (NULL: none): the status, the body in *ret_body. */
static unsigned curl_body(const char *method, const char *target, const char *data, char **ret_body) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autofree char *url = g_strdup_printf("https://localhost:%d%s", GW_PORT, target);
        g_autofree char *crt = test_cert_path("tbuser1.crt"), *key = test_cert_path("tbuser1.key"),
                        *ca = test_cert_path("ca.crt");
        const char *args[] = { "curl", "-sS", "-X", method, "--cert", crt, "--key", key, "--cacert", ca,
                               "-w", "\n%{http_code}", url };
        TbResult r;
        char *nl;
        unsigned status;

        for (size_t i = 0; i < G_N_ELEMENTS(args); i++)
                g_ptr_array_add(argv, (char *) args[i]);
        if (data) {
                g_ptr_array_add(argv, (char *) "-H");
                g_ptr_array_add(argv, (char *) "Content-Type: application/json");
                g_ptr_array_add(argv, (char *) "--data-binary");
                g_ptr_array_add(argv, (char *) data);
        }
        r = spawn_as(0, argv);
        g_assert_cmpint(r.status, ==, 0);
        nl = strrchr(r.out, '\n');
        g_assert_nonnull(nl);
        status = (unsigned) atoi(nl + 1);
        *nl = 0;
        *ret_body = g_strdup(r.out);
        tb_result_clear(&r);
        return status;
}

static unsigned curl(const char *method, const char *target, char **ret_body) {
        return curl_body(method, target, NULL, ret_body);
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

static void wait_job(uid_t uid, const char *id) {
        TbResult r = telerun_as(uid, "wait", id, NULL);
        tb_result_clear(&r);
}

/* Waits (bounded) until the job's output contains s. */
static void wait_output(uid_t uid, const char *id, const char *s) {
        for (unsigned i = 0; i < 600 * tb_slowdown(); i++) {
                TbResult r = telerun_as(uid, "logs", id, NULL);
                bool found = r.status == 0 && strstr(r.out, s);

                tb_result_clear(&r);
                if (found)
                        return;
                g_usleep(50000);
        }
        g_error("job %s never printed '%s'", id, s);
}

static char *record_path(const char *id) {
        return g_strdup_printf("%s/jobs/%s.json", state_dir, id);
}

static char *spool_path(const char *id) {
        return g_strdup_printf("%s/output/%s.out", state_dir, id);
}

static bool exists(const char *path) {
        struct stat st;
        return stat(path, &st) == 0;
}

static char *job_field(uid_t uid, const char *id, const char *key);

/* ---- prefixes --------------------------------------------------------------------------------------------- */

static void test_prefix(void) {
        g_autofree char *id = start_as(TB_UID_USER1, "echo hi");
        g_autofree char *prefix = g_strndup(id, 8);
        sd_bus *bus2 = tb_bus_as(TB_UID_USER2);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        json_object *o, *v;
        TbJob j;
        TbResult r;

        wait_job(TB_UID_USER1, id);
        r = telerun_as(TB_UID_USER1, "status", "--json", prefix, NULL);
        g_assert_cmpint(r.status, ==, 0);
        o = json_tokener_parse(r.out);
        g_assert_true(json_object_object_get_ex(o, "id", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, id);
        json_object_put(o);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "logs", prefix, NULL);
        g_assert_cmpstr(r.out, ==, "hi\n");
        tb_result_clear(&r);

        /* too short for a prefix and not a name (a digit first): refused before anything is asked */
        r = telerun_as(TB_UID_USER1, "status", "8c1", NULL);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);

        /* another user: the prefix names nothing it may see (not "access denied": no oracle) */
        r = telerun_as(TB_UID_USER2, "status", prefix, NULL);
        g_assert_cmpint(r.status, ==, 3);
        tb_result_clear(&r);
        g_assert_cmpint(tb_get(bus2, prefix, &j, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.NoSuchJob");
        sd_bus_error_free(&e);
        /* the administrator sees it */
        r = telerun_as(TB_UID_ADMIN, "status", prefix, NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        sd_bus_unref(bus2);
}

/* A copy of the record (and output) of ended job src under id, owned by owner/uid. */
static void clone_record(const char *src, const char *id, const char *owner, int uid) {
        g_autofree char *from = record_path(src), *to = record_path(id), *unit = NULL, *data = NULL;
        g_autofree char *spool_from = spool_path(src), *spool_to = spool_path(id);
        json_object *o;

        g_assert_true(g_file_get_contents(from, &data, NULL, NULL));
        o = json_tokener_parse(data);
        g_assert_nonnull(o);
        unit = g_strdup_printf("teleworker-%s.scope", id);
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "unit", json_object_new_string(unit));
        json_object_object_add(o, "owner", json_object_new_string(owner));
        json_object_object_add(o, "user", json_object_new_string(owner));
        json_object_object_add(o, "uid", json_object_new_int(uid));
        json_object_object_add(o, "gid", json_object_new_int(uid));
        g_assert_true(g_file_set_contents(to, json_object_to_json_string(o), -1, NULL));
        json_object_put(o);
        g_free(data);
        data = NULL;
        if (g_file_get_contents(spool_from, &data, NULL, NULL))
                g_assert_true(g_file_set_contents(spool_to, data, -1, NULL));
}

/* ---- names ------------------------------------------------------------------------------------------- */

static char *start_named(uid_t uid, const char *name, const char *cmd, int *ret_status) {
        TbResult r = telerun_as(uid, "start", "--name", name, "--", "/bin/sh", "-c", cmd, NULL);
        char *id = g_strstrip(g_strdup(r.out));

        *ret_status = r.status;
        tb_result_clear(&r);
        return id;
}

static void test_names(void) {
        g_autofree char *id = NULL, *again = NULL, *other = NULL, *name = NULL;
        int status;
        TbResult r;

        id = start_named(TB_UID_USER1, "build-1", "echo named", &status);
        g_assert_cmpint(status, ==, 0);
        wait_job(TB_UID_USER1, "build-1");
        name = job_field(TB_UID_USER1, "build-1", "name");
        g_assert_cmpstr(name, ==, "build-1");
        g_clear_pointer(&name, g_free);
        name = job_field(TB_UID_USER1, "build-1", "id");
        g_assert_cmpstr(name, ==, id);
        r = telerun_as(TB_UID_USER1, "logs", "build-1", NULL);
        g_assert_cmpstr(r.out, ==, "named\n");
        tb_result_clear(&r);

        /* unique among the owner's jobs; another owner may use it; the administrator sees both */
        again = start_named(TB_UID_USER1, "build-1", "true", &status);
        g_assert_cmpint(status, ==, 2);
        other = start_named(TB_UID_USER2, "build-1", "echo other", &status);
        g_assert_cmpint(status, ==, 0);
        r = telerun_as(TB_UID_USER2, "wait", "build-1", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, other));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_ADMIN, "status", "build-1", NULL);
        g_assert_cmpint(r.status, ==, 2);
        g_assert_nonnull(strstr(r.err, id));
        g_assert_nonnull(strstr(r.err, other));
        tb_result_clear(&r);

        /* removed, the name is free again */
        r = telerun_as(TB_UID_USER1, "rm", "build-1", NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        g_free(again);
        again = start_named(TB_UID_USER1, "build-1", "true", &status);
        g_assert_cmpint(status, ==, 0);
        g_assert_cmpstr(again, !=, id);

        /* not a name: shaped like an id prefix, or outside the character set */
        g_free(again);
        again = start_named(TB_UID_USER1, "abcd", "true", &status);
        g_assert_cmpint(status, ==, 2);
        g_free(again);
        again = start_named(TB_UID_USER1, "a/b", "true", &status);
        g_assert_cmpint(status, ==, 2);

        /* a name kept across a restart of the daemon is checked in test_ambiguous */
        g_free(again);
        again = start_named(TB_UID_USER1, "keep-me", "true", &status);
        g_assert_cmpint(status, ==, 0);
        wait_job(TB_UID_USER1, "keep-me");
}

static void restart_daemon(void) {
        const char *unit = g_getenv("TELEWORKER_TEST_UNIT") ?: "teleworkerd.service";
        const char *argv[] = { "systemctl", "restart", unit, NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                                   NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        g_assert_true(tb_daemon_present(root_bus));
}

static void test_ambiguous(void) {
        g_autofree char *src = start_as(TB_UID_USER1, "echo cloned");
        sd_bus *bus1 = tb_bus_as(TB_UID_USER1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j;
        TbResult r;

        wait_job(TB_UID_USER1, src);
        clone_record(src, AMBIG_1, "tbuser1", TB_UID_USER1);
        clone_record(src, AMBIG_2, "tbuser1", TB_UID_USER1);
        clone_record(src, OTHERS, "tbuser2", TB_UID_USER2);
        restart_daemon();

        /* names are in the records */
        r = telerun_as(TB_UID_USER1, "status", "keep-me", NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);

        r = telerun_as(TB_UID_USER1, "status", "abcd", NULL);
        g_assert_cmpint(r.status, ==, 2);
        g_assert_nonnull(strstr(r.err, AMBIG_1));
        g_assert_nonnull(strstr(r.err, AMBIG_2));
        g_assert_null(strstr(r.err, OTHERS));
        tb_result_clear(&r);
        g_assert_cmpint(tb_get(bus1, "abcd0000-0000", &j, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.AmbiguousJob");
        sd_bus_error_free(&e);

        /* longer prefixes are unique; tbuser2's "abce" job neither resolves for tbuser1 nor adds to "abc?" */
        r = telerun_as(TB_UID_USER1, "status", "--json", "abcd0000-0000-4000-8000-000000000002", NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "status", "abce", NULL);
        g_assert_cmpint(r.status, ==, 3);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER2, "status", "abce", NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        /* tbuser2 sees only its own under "abc": unique for it */
        r = telerun_as(TB_UID_USER2, "status", "abcd", NULL);
        g_assert_cmpint(r.status, ==, 3);
        tb_result_clear(&r);
        sd_bus_unref(bus1);
}

/* ---- rm ----------------------------------------------------------------------------------------------- */

static void test_rm(void) {
        g_autofree char *done = start_as(TB_UID_USER1, "echo bye"), *running = start_as(TB_UID_USER1, "sleep 600");
        g_autofree char *rec = record_path(done), *spool = spool_path(done);
        g_autofree char *rec2 = record_path(running), *spool2 = spool_path(running);
        g_autofree char *prefix = g_strndup(done, 13);
        TbResult r;

        wait_job(TB_UID_USER1, done);
        g_assert_true(exists(rec));
        g_assert_true(exists(spool));

        /* another user cannot remove it */
        r = telerun_as(TB_UID_USER2, "rm", done, NULL);
        g_assert_cmpint(r.status, ==, 4);
        tb_result_clear(&r);
        g_assert_true(exists(rec));

        r = telerun_as(TB_UID_USER1, "rm", prefix, NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(g_strstrip(r.out), ==, done);
        tb_result_clear(&r);
        g_assert_false(exists(rec));
        g_assert_false(exists(spool));
        r = telerun_as(TB_UID_USER1, "status", done, NULL);
        g_assert_cmpint(r.status, ==, 3);
        tb_result_clear(&r);

        /* a running job: refused, then -f stops it first */
        r = telerun_as(TB_UID_USER1, "rm", running, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_nonnull(strstr(r.err, "not ended"));
        tb_result_clear(&r);
        g_assert_true(exists(rec2));
        r = telerun_as(TB_UID_USER1, "rm", "-f", running, NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        g_assert_false(exists(rec2));
        g_assert_false(exists(spool2));
        r = telerun_as(TB_UID_USER1, "status", running, NULL);
        g_assert_cmpint(r.status, ==, 3);
        tb_result_clear(&r);
}

/* ---- kill --------------------------------------------------------------------------------------------- */

/* Ends by itself (exit 9) after ~30 s if the signal never comes: a failure, not a hang. */
#define TRAP_USR1 "trap 'echo got USR1; exit 7' USR1; echo ready; i=0; " \
        "while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 9"

static void kill_case(bool private_pid) {
        TbResult r = telerun_as(TB_UID_USER1, "start", private_pid ? "--cwd=/" : "--no-private-pid", "--", "/bin/sh",
                              "-c", TRAP_USR1, NULL);
        g_autofree char *id = g_strstrip(g_strdup(r.out));

        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        wait_output(TB_UID_USER1, id, "ready");
        r = telerun_as(TB_UID_USER1, "kill", "-s", "USR1", id, NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "wait", id, NULL);
        g_assert_cmpint(r.status, ==, 7);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "logs", id, NULL);
        g_assert_cmpstr(r.out, ==, "ready\ngot USR1\n");
        tb_result_clear(&r);

        /* an ended job is not signalled */
        r = telerun_as(TB_UID_USER1, "kill", id, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_nonnull(strstr(r.err, "not running"));
        tb_result_clear(&r);
}

static void test_kill(void) {
        TbResult r;

        kill_case(true);
        kill_case(false);
        r = telerun_as(TB_UID_USER1, "kill", "-s", "STOP", "abcd", NULL);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);
}

/* ---- stop --time --------------------------------------------------------------------------------------- */

/* A job that ignores SIGTERM ends only by the SIGKILL at the end of the grace period: --time 0 sends it at
 * once instead of after the configured grace (2 s in the test policy). */
static void test_stop_time(void) {
        g_autofree char *id = start_as(TB_UID_USER1, "trap '' TERM; echo ready; exec sleep 600");
        g_autofree char *reason = NULL;
        gint64 t0, elapsed;
        TbResult r;

        wait_output(TB_UID_USER1, id, "ready");
        t0 = g_get_monotonic_time();
        r = telerun_as(TB_UID_USER1, "stop", "--time", "0", id, NULL);
        elapsed = g_get_monotonic_time() - t0;
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        reason = job_field(TB_UID_USER1, id, "signal");
        g_assert_cmpstr(reason, ==, "SIGKILL");
        g_test_message("stop --time 0 of a job ignoring SIGTERM took %" G_GINT64_FORMAT " ms", elapsed / 1000);
        /* The grace is 2 s; on an unloaded machine the stop is far below it (not asserted under slowdown). */
        if (tb_slowdown() == 1)
                g_assert_cmpint(elapsed, <, 1500 * 1000);

        r = telerun_as(TB_UID_USER1, "stop", "--time", "x", id, NULL);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);
}

/* ---- wait --------------------------------------------------------------------------------------------- */

static void test_wait_many(void) {
        g_autofree char *a = start_as(TB_UID_USER1, "exit 2"), *b = start_as(TB_UID_USER1, "sleep 0.5; exit 4");
        g_autofree char *slow = NULL, *fast = NULL;
        TbResult r;

        r = telerun_as(TB_UID_USER1, "wait", a, b, NULL);
        g_assert_cmpint(r.status, ==, 4);
        g_assert_nonnull(strstr(r.out, a));
        g_assert_nonnull(strstr(r.out, b));
        tb_result_clear(&r);

        slow = start_as(TB_UID_USER1, "sleep 600");
        fast = start_as(TB_UID_USER1, "sleep 0.3; exit 5");
        r = telerun_as(TB_UID_USER1, "wait", "--any", slow, fast, NULL);
        g_assert_cmpint(r.status, ==, 5);
        g_assert_nonnull(strstr(r.out, fast));
        g_assert_null(strstr(r.out, slow));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "stop", slow, NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
}

/* ---- exit codes --------------------------------------------------------------------------------------- */

static void test_exit_codes(void) {
        TbResult r;

        r = telerun_as(TB_UID_USER1, "run", "--", "/nonexistent/program", NULL);
        g_assert_cmpint(r.status, ==, 127);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "start", "-f", "--", "no-such-program-anywhere", NULL);
        g_assert_cmpint(r.status, ==, 127);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "run", "--", "/etc/passwd", NULL);
        g_assert_cmpint(r.status, ==, 126);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "run", "--", "/etc", NULL);
        g_assert_cmpint(r.status, ==, 126);
        tb_result_clear(&r);
        /* the worker refused the request, telerun's own usage error, a job that cannot be waited for */
        r = telerun_as(TB_UID_USER1, "run", "--memory=1", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 125);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "run", "--bogus", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 125);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "wait", "00000000-0000-4000-8000-000000000000", NULL);
        g_assert_cmpint(r.status, ==, 125);
        tb_result_clear(&r);
        /* the job's own codes pass through, also those in the range */
        r = telerun_as(TB_UID_USER1, "run", "--", "/bin/sh", "-c", "exit 126", NULL);
        g_assert_cmpint(r.status, ==, 126);
        tb_result_clear(&r);
        /* other commands keep theirs */
        r = telerun_as(TB_UID_USER1, "status", "00000000-0000-4000-8000-000000000000", NULL);
        g_assert_cmpint(r.status, ==, 3);
        tb_result_clear(&r);
}

/* ---- list filters ------------------------------------------------------------------------------------- */

static char *job_field(uid_t uid, const char *id, const char *key) {
        TbResult r = telerun_as(uid, "status", "--json", id, NULL);
        json_object *o, *v;
        char *value;

        g_assert_cmpint(r.status, ==, 0);
        o = json_tokener_parse(r.out);
        g_assert_true(json_object_object_get_ex(o, key, &v));
        value = g_strdup(json_object_get_string(v));
        json_object_put(o);
        tb_result_clear(&r);
        return value;
}

static void test_list(void) {
        g_autofree char *running = start_as(TB_UID_USER1, "sleep 600"), *failed = start_as(TB_UID_USER1, "exit 3");
        g_autofree char *other = start_as(TB_UID_USER2, "sleep 600"), *newest = NULL, *since = NULL, *body = NULL;
        TbResult r;

        wait_job(TB_UID_USER1, failed);
        newest = start_as(TB_UID_USER1, "true");
        wait_job(TB_UID_USER1, newest);
        since = job_field(TB_UID_USER1, newest, "submitted_at");

        /* default: jobs that have not ended */
        r = telerun_as(TB_UID_USER1, "list", "-q", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, running));
        g_assert_null(strstr(r.out, failed));
        g_assert_null(strstr(r.out, other));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "list", "-a", "-q", NULL);
        g_assert_nonnull(strstr(r.out, running));
        g_assert_nonnull(strstr(r.out, failed));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "list", "--state", "failed", "-q", NULL);
        g_assert_null(strstr(r.out, running));
        g_assert_nonnull(strstr(r.out, failed));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "list", "-a", "-n", "1", "-q", NULL);
        g_assert_cmpstr(g_strstrip(r.out), ==, newest);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "list", "-a", "--since", since, "-q", NULL);
        g_assert_cmpstr(g_strstrip(r.out), ==, newest);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "list", "--state", "bogus", NULL);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);

        /* --owner: administrators only (a user may name itself) */
        r = telerun_as(TB_UID_USER1, "list", "--owner", "tbuser2", NULL);
        g_assert_cmpint(r.status, ==, 4);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER1, "list", "--owner", "tbuser1", "-q", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, running));
        tb_result_clear(&r);
        r = telerun_as(TB_UID_ADMIN, "list", "--owner", "tbuser2", "-q", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, other));
        g_assert_null(strstr(r.out, running));
        tb_result_clear(&r);

        /* through the gateway: curl and telerun --addr (principal tbuser1) */
        g_assert_cmpuint(curl("GET", "/v1/jobs?state=running", &body), ==, 200);
        g_assert_nonnull(strstr(body, running));
        g_assert_null(strstr(body, failed));
        g_clear_pointer(&body, g_free);
        g_assert_cmpuint(curl("GET", "/v1/jobs?state=failed&last=1", &body), ==, 200);
        g_assert_nonnull(strstr(body, failed));
        g_assert_null(strstr(body, running));
        g_clear_pointer(&body, g_free);
        g_assert_cmpuint(curl("GET", "/v1/jobs?owner=tbuser2", &body), ==, 403);
        g_clear_pointer(&body, g_free);
        g_assert_cmpuint(curl("GET", "/v1/jobs?state=bogus", &body), ==, 400);
        g_clear_pointer(&body, g_free);
        r = telerun_remote("list", "-q", NULL);
        g_assert_nonnull(strstr(r.out, running));
        g_assert_null(strstr(r.out, failed));
        tb_result_clear(&r);
        r = telerun_remote("list", "-a", "-n", "1", "-q", NULL);
        g_assert_cmpstr(g_strstrip(r.out), ==, newest);
        tb_result_clear(&r);

        r = telerun_as(TB_UID_USER1, "stop", running, NULL);
        tb_result_clear(&r);
        r = telerun_as(TB_UID_USER2, "stop", other, NULL);
        tb_result_clear(&r);
}

/* ---- through the gateway ------------------------------------------------------------------------------ */

static void test_gateway(void) {
        g_autofree char *id = start_as(TB_UID_USER1, TRAP_USR1), *prefix = g_strndup(id, 8), *body = NULL;
        g_autofree char *target = NULL;
        json_object *o, *v;
        TbResult r;

        wait_output(TB_UID_USER1, id, "ready");
        /* curl: DELETE of a running job, kill, then DELETE */
        target = g_strdup_printf("/v1/jobs/%s", prefix);
        g_assert_cmpuint(curl("DELETE", target, &body), ==, 409);
        g_assert_nonnull(strstr(body, "job-running"));
        g_clear_pointer(&target, g_free);
        g_clear_pointer(&body, g_free);
        target = g_strdup_printf("/v1/jobs/%s/kill?signal=USR1", prefix);
        g_assert_cmpuint(curl("POST", target, &body), ==, 200);
        g_clear_pointer(&body, g_free);
        r = telerun_remote("wait", prefix, NULL);
        g_assert_cmpint(r.status, ==, 7);
        tb_result_clear(&r);
        r = telerun_remote("logs", prefix, NULL);
        g_assert_cmpstr(r.out, ==, "ready\ngot USR1\n");
        tb_result_clear(&r);
        g_clear_pointer(&target, g_free);
        target = g_strdup_printf("/v1/jobs/%s/kill?signal=STOP", prefix);
        g_assert_cmpuint(curl("POST", target, &body), ==, 400);
        g_clear_pointer(&body, g_free);
        g_clear_pointer(&target, g_free);
        target = g_strdup_printf("/v1/jobs/%s", prefix);
        g_assert_cmpuint(curl("DELETE", target, &body), ==, 200);
        o = json_tokener_parse(body);
        g_assert_true(json_object_object_get_ex(o, "id", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, id);
        json_object_put(o);
        g_clear_pointer(&body, g_free);
        g_assert_cmpuint(curl("GET", target, &body), ==, 404);
        g_clear_pointer(&body, g_free);

        /* the ambiguous prefix of test_ambiguous, and the other user's job */
        g_assert_cmpuint(curl("GET", "/v1/jobs/abcd", &body), ==, 409);
        g_assert_nonnull(strstr(body, "ambiguous-job"));
        g_assert_nonnull(strstr(body, AMBIG_1));
        g_clear_pointer(&body, g_free);
        g_assert_cmpuint(curl("GET", "/v1/jobs/abce", &body), ==, 404);
        g_clear_pointer(&body, g_free);

        /* names through the gateway */
        g_assert_cmpuint(curl_body("POST", "/v1/jobs", "{\"argv\": [\"/bin/true\"], \"name\": \"web-1\"}", &body),
                         ==, 201);
        g_assert_nonnull(strstr(body, "\"name\":\"web-1\""));
        g_clear_pointer(&body, g_free);
        g_assert_cmpuint(curl("GET", "/v1/jobs/web-1?wait=true", &body), ==, 200);
        g_assert_nonnull(strstr(body, "\"name\":\"web-1\""));
        g_clear_pointer(&body, g_free);
        r = telerun_remote("start", "--name", "web-2", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        r = telerun_remote("wait", "web-2", NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        r = telerun_remote("start", "--name", "web-2", "--", "/bin/true", NULL);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);
        r = telerun_remote("rm", "web-1", "web-2", NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);

        /* telerun --addr: kill, rm -f, exit codes */
        r = telerun_remote("status", "abcd", NULL);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);
        r = telerun_remote("rm", AMBIG_1, "abcd0000-0000-4000-8000-000000000002", NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        r = telerun_remote("status", "abcd", NULL);
        g_assert_cmpint(r.status, ==, 3);
        tb_result_clear(&r);
        r = telerun_remote("run", "--", "/nonexistent/program", NULL);
        g_assert_cmpint(r.status, ==, 127);
        tb_result_clear(&r);
        r = telerun_remote("run", "--", "/etc/passwd", NULL);
        g_assert_cmpint(r.status, ==, 126);
        tb_result_clear(&r);
        r = telerun_remote("start", "--", "/bin/sh", "-c", "sleep 600", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_free(id);
        id = g_strstrip(g_strdup(r.out));
        tb_result_clear(&r);
        r = telerun_remote("kill", "-s", "KILL", id, NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        r = telerun_remote("wait", id, NULL);
        g_assert_cmpint(r.status, ==, 128 + SIGKILL);
        tb_result_clear(&r);
        r = telerun_remote("rm", id, NULL);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
}

int main(int argc, char **argv) {
        int r;

        g_test_init(&argc, &argv, NULL);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;
        state_dir = g_getenv("TELEWORKER_TEST_STATE_DIR");
        build_dir = g_getenv("TELEWORKER_TEST_BUILD_DIR");
        g_assert_nonnull(state_dir);
        g_assert_nonnull(build_dir);
        (void) test_certs_dir();

        g_test_add_func("/lifecycle/prefix", test_prefix);
        g_test_add_func("/lifecycle/names", test_names);
        g_test_add_func("/lifecycle/ambiguous", test_ambiguous);
        g_test_add_func("/lifecycle/rm", test_rm);
        g_test_add_func("/lifecycle/kill", test_kill);
        g_test_add_func("/lifecycle/stop-time", test_stop_time);
        g_test_add_func("/lifecycle/wait-many", test_wait_many);
        g_test_add_func("/lifecycle/exit-codes", test_exit_codes);
        g_test_add_func("/lifecycle/gateway", test_gateway);
        g_test_add_func("/lifecycle/list", test_list);
        tb_gateway_start(&gateway, build_dir, GW_UNIT, GW_PORT, NULL, NULL);
        r = g_test_run();
        tb_gateway_stop(&gateway);
        sd_bus_unref(root_bus);
        return r;
}
