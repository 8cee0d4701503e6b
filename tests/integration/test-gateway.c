/* SPDX-License-Identifier: MIT */
/* test-gateway - teleworker-gateway against the real teleworkerd, systemd and system bus: the gateway runs
 * as the teleworker-gw account (a transient Type=notify service), clients speak
 * HTTPS with certificates from certs/teleworker-certs.sh. Byte-exact remote output, live following, the
 * authorization matrix across principals (and with local D-Bus users: one name space), error mapping,
 * persistent connections (a job's whole life and a 48 MiB stream on one connection) and telerun's remote
 * mode (one connection per command). Runs inside the testbed as root, with teleworkerd running (run-inside.sh). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>

#include "tb-client.h"
#include "tb-gateway.h"
#include "test-client.h"

#define GW_UNIT "teleworker-gateway-test.service"
#define GW_PORT 18443
#define CRL_UNIT "teleworker-gateway-crl.service"
#define CRL_PORT 18444
#define BAD_UNIT "teleworker-gateway-badcrl.service"

static sd_bus *root_bus;
static char *build_dir;
static TbGateway gateway;

/* ---- the gateway service -------------------------------------------------------------------------------- */

static void run_cmd(char **argv, int *ret_status, char **ret_out) {
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;
        int status = 0;

        g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, ret_out, &err, &status, &error);
        g_assert_no_error(error);
        if (err && *err)
                g_test_message("%s: %s", argv[0], err);
        *ret_status = status;
}

/* ---- HTTP helpers -------------------------------------------------------------------------------------- */

static void connect_as(const char *principal, TestClient *c) {
        g_autofree char *crt = g_strdup_printf("%s.crt", principal), *key = g_strdup_printf("%s.key", principal);
        g_autofree char *crt_path = test_cert_path(crt), *key_path = test_cert_path(key);

        g_assert_cmpint(test_client_connect(c, GW_PORT, crt_path, key_path, 0), ==, 1);
}

/* One request on a connection of its own; the response's JSON (or NULL) and status. */
static unsigned request(const char *principal, const char *method, const char *target, const char *body,
                        json_object **ret_json, GString **ret_body) {
        g_autofree char *req = NULL;
        TestClient c;
        TestResponse r;
        unsigned status;

        req = g_strdup_printf("%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s", method, target,
                              body ? strlen(body) : 0, body ?: "");
        connect_as(principal, &c);
        g_assert_cmpint(test_client_write(&c, req, strlen(req)), ==, 0);
        g_assert_cmpint(test_client_read_response(&c, &r, 120000), ==, 0);
        test_client_close(&c);
        status = r.status;
        if (ret_json) {
                *ret_json = json_tokener_parse(r.body->str);
                g_assert_nonnull(*ret_json);
        }
        if (ret_body) {
                g_assert_true(r.complete);
                *ret_body = g_string_new_len(r.body->str, (gssize) r.body->len);
        }
        test_response_done(&r);
        return status;
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key) {
        json_object *v;

        g_assert_true(json_object_object_get_ex(o, key, &v));
        return json_object_get_int64(v);
}

static char *start_job(const char *principal, const char *body) {
        json_object *o = NULL;
        char *id;

        g_assert_cmpuint(request(principal, "POST", "/v1/jobs", body, &o, NULL), ==, 201);
        id = g_strdup(jstr(o, "id"));
        g_assert_nonnull(id);
        json_object_put(o);
        return id;
}

/* Whether GET /v1/jobs lists id, following "next" page by page (docs/http.md). */
static bool list_has(const char *principal, const char *id) {
        g_autofree char *target = g_strdup("/v1/jobs");
        bool found = false;

        while (target && !found) {
                json_object *o = NULL, *jobs;
                const char *next;

                g_assert_cmpuint(request(principal, "GET", target, NULL, &o, NULL), ==, 200);
                g_assert_true(json_object_object_get_ex(o, "jobs", &jobs));
                for (size_t i = 0; i < json_object_array_length(jobs); i++)
                        if (g_strcmp0(jstr(json_object_array_get_idx(jobs, i), "id"), id) == 0)
                                found = true;
                next = jstr(o, "next");
                g_free(target);
                target = next ? g_strdup_printf("/v1/jobs?cursor=%s", next) : NULL;
                json_object_put(o);
        }
        return found;
}

static void expect_error(const char *principal, const char *method, const char *target, const char *body,
                         unsigned status, const char *code) {
        json_object *o = NULL;

        g_test_message("%s %s %s -> expect %u %s", principal, method, target, status, code);
        g_assert_cmpuint(request(principal, method, target, body, &o, NULL), ==, status);
        g_assert_cmpstr(jstr(o, "error"), ==, code);
        json_object_put(o);
}

/* ---- tests --------------------------------------------------------------------------------------------- */

static void test_runs_unprivileged(void) {
        g_autofree char *path = NULL, *status_text = NULL;
        pid_t pid = tb_unit_main_pid(GW_UNIT);

        g_assert_cmpint(pid, >, 0);
        path = g_strdup_printf("/proc/%d/status", (int) pid);
        g_assert_true(g_file_get_contents(path, &status_text, NULL, NULL));
        /* Uid: real effective saved fs -- never 0 */
        g_assert_null(strstr(status_text, "\nUid:\t0"));
        g_assert_nonnull(strstr(status_text, "\nUid:\t"));
}

static void test_output_byte_exact(void) {
        /* Binary bytes (NUL, CR, 0xff), stderr interleaved with stdout, and some volume. The pause: stdout and
         * stderr are two pipes, whose merged order is the writer's for writes apart in time (docs/design.md). */
        const char *body = "{\"argv\": [\"/bin/sh\", \"-c\", \"printf 'a\\\\000b\\\\r\\\\n\\\\377'; sleep 0.2; echo err >&2; "
                           "seq 1 60000; printf end\"]}";
        g_autofree char *id = NULL, *target = NULL;
        g_autoptr(GByteArray) local = NULL;
        GString *remote = NULL;
        json_object *o = NULL;
        int fd;

        id = start_job("alice", body);
        target = g_strdup_printf("/v1/jobs/%s?wait=true", id);
        g_assert_cmpuint(request("alice", "GET", target, NULL, &o, NULL), ==, 200);
        g_assert_cmpstr(jstr(o, "state"), ==, "success");
        g_assert_cmpint(jint(o, "exit_code"), ==, 0);
        g_assert_cmpstr(jstr(o, "owner"), ==, "alice");
        g_assert_cmpstr(jstr(o, "user"), ==, "tw-alice"); /* its own dynamic user (issue #12) */

        g_free(target);
        target = g_strdup_printf("/v1/jobs/%s/output", id);
        g_assert_cmpuint(request("alice", "GET", target, NULL, NULL, &remote), ==, 200);
        g_assert_cmpint((int64_t) remote->len, ==, jint(o, "output_size"));
        json_object_put(o);

        /* The same bytes as the local D-Bus reader gets. */
        g_assert_cmpint(tb_open_output(root_bus, id, 0, false, &fd, NULL), ==, 0);
        local = tb_read_all(fd);
        close(fd);
        g_assert_cmpmem(remote->str, remote->len, local->data, local->len);
        g_assert_cmpuint(remote->len, >, 300000);
        g_assert_cmpmem(remote->str, 6, "a\0b\r\n\377", 6);
        g_assert_cmpmem(remote->str + remote->len - 9, 9, "60000\nend", 9);

        /* From an offset. */
        g_free(target);
        target = g_strdup_printf("/v1/jobs/%s/output?offset=100000", id);
        g_string_free(remote, TRUE);
        g_assert_cmpuint(request("alice", "GET", target, NULL, NULL, &remote), ==, 200);
        g_assert_cmpmem(remote->str, remote->len, local->data + 100000, local->len - 100000);
        g_string_free(remote, TRUE);
}

/* Sends req on c and reads one response. */
static void exchange(TestClient *c, const char *req, TestResponse *r) {
        g_assert_cmpint(test_client_write(c, req, strlen(req)), ==, 0);
        g_assert_cmpint(test_client_read_response(c, r, 120000), ==, 0);
        g_assert_true(r->complete);
}

/* One connection for a job's whole life: start, wait, a large output (binary, 48 MiB: many full-size
 * chunks and TLS records) byte-exact against the local D-Bus reader, a request pipelined behind the stream,
 * and Connection: close honoured after a stream. */
static void test_keep_alive(void) {
        const char *body = "{\"argv\": [\"/bin/sh\", \"-c\", \"head -c 50331648 /dev/urandom; printf end\"]}";
        g_autofree char *start = NULL, *id = NULL, *req = NULL;
        g_autoptr(GByteArray) local = NULL;
        TestClient c;
        TestResponse r;
        json_object *o;
        char buf[128];
        int fd;

        connect_as("alice", &c);
        start = g_strdup_printf("POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s",
                                strlen(body), body);
        exchange(&c, start, &r);
        g_assert_cmpuint(r.status, ==, 201);
        g_assert_true(r.keep_alive);
        o = json_tokener_parse(r.body->str);
        id = g_strdup(jstr(o, "id"));
        json_object_put(o);
        test_response_done(&r);

        req = g_strdup_printf("GET /v1/jobs/%s?wait=true HTTP/1.1\r\nHost: localhost\r\n\r\n", id);
        exchange(&c, req, &r);
        g_assert_cmpuint(r.status, ==, 200);
        g_assert_nonnull(strstr(r.body->str, "\"state\":\"success\""));
        test_response_done(&r);

        g_assert_cmpint(tb_open_output(root_bus, id, 0, false, &fd, NULL), ==, 0);
        local = tb_read_all(fd);
        close(fd);
        g_assert_cmpuint(local->len, ==, 50331648 + 3);

        /* The stream and, pipelined behind it in the same write, the job. */
        g_free(req);
        req = g_strdup_printf("GET /v1/jobs/%s/output HTTP/1.1\r\nHost: localhost\r\n\r\n"
                              "GET /v1/jobs/%s HTTP/1.1\r\nHost: localhost\r\n\r\n", id, id);
        g_assert_cmpint(test_client_write(&c, req, strlen(req)), ==, 0);
        g_assert_cmpint(test_client_read_response(&c, &r, 120000), ==, 0);
        g_assert_cmpuint(r.status, ==, 200);
        g_assert_true(r.chunked);
        g_assert_true(r.complete);
        g_assert_true(r.keep_alive);
        g_assert_cmpmem(r.body->str, r.body->len, local->data, local->len);
        test_response_done(&r);
        g_assert_cmpint(test_client_read_response(&c, &r, 120000), ==, 0);
        g_assert_cmpuint(r.status, ==, 200);
        g_assert_nonnull(strstr(r.body->str, id));
        test_response_done(&r);

        /* From an offset inside the stream, then Connection: close: the whole rest, the end, then closed. */
        g_free(req);
        req = g_strdup_printf("GET /v1/jobs/%s/output?offset=12345678 HTTP/1.1\r\nHost: localhost\r\n"
                              "Connection: close\r\n\r\n", id);
        exchange(&c, req, &r);
        g_assert_cmpuint(r.status, ==, 200);
        g_assert_false(r.keep_alive);
        g_assert_cmpstr(test_response_header(&r, "connection", buf, sizeof(buf)), ==, "close");
        g_assert_cmpmem(r.body->str, r.body->len, local->data + 12345678, local->len - 12345678);
        test_response_done(&r);
        g_assert_true(test_socket_closed_within(c.fd, 5000));
        test_client_close(&c);
}

static void test_follow_live(void) {
        g_autofree char *id = NULL, *target = NULL;
        GString *remote = NULL;
        gint64 t0;

        id = start_job("alice", "{\"argv\": [\"/bin/sh\", \"-c\", \"echo one; sleep 1; echo two\"]}");
        target = g_strdup_printf("/v1/jobs/%s/output?follow=true", id);
        t0 = g_get_monotonic_time();
        g_assert_cmpuint(request("alice", "GET", target, NULL, NULL, &remote), ==, 200);
        g_assert_cmpstr(remote->str, ==, "one\ntwo\n");
        g_assert_cmpint(g_get_monotonic_time() - t0, >=, 800 * 1000);
        g_string_free(remote, TRUE);
}

static void test_authz_matrix(void) {
        g_autofree char *id = NULL, *path = NULL, *out = NULL, *stop = NULL, *local_id = NULL, *local_path = NULL;
        const char *sleep_argv[] = { "/bin/sleep", "30", NULL };
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        json_object *o = NULL;

        id = start_job("alice", "{\"argv\": [\"/bin/sleep\", \"30\"]}");
        path = g_strdup_printf("/v1/jobs/%s", id);
        out = g_strdup_printf("/v1/jobs/%s/output", id);
        stop = g_strdup_printf("/v1/jobs/%s/stop", id);

        /* The owner. */
        g_assert_cmpuint(request("alice", "GET", path, NULL, &o, NULL), ==, 200);
        g_assert_cmpstr(jstr(o, "state"), ==, "running");
        json_object_put(o);
        g_assert_true(list_has("alice", id));

        /* Another principal: explicit denials, not in its list. */
        expect_error("bob", "GET", path, NULL, 403, "access-denied");
        expect_error("bob", "GET", out, NULL, 403, "access-denied");
        expect_error("bob", "POST", stop, NULL, 403, "access-denied");
        {
                g_autofree char *wait = g_strdup_printf("%s?wait=true", path);

                expect_error("bob", "GET", wait, NULL, 403, "access-denied");
        }
        g_assert_false(list_has("bob", id));

        /* Local and remote principals share one name space: remote tbuser1 is local tbuser1. */
        g_assert_cmpint(tb_start(u1, sleep_argv, NULL, &local_id, NULL), ==, 0);
        local_path = g_strdup_printf("/v1/jobs/%s", local_id);
        g_assert_cmpuint(request("tbuser1", "GET", local_path, NULL, &o, NULL), ==, 200);
        g_assert_cmpstr(jstr(o, "owner"), ==, "tbuser1");
        json_object_put(o);
        g_assert_true(list_has("tbuser1", local_id));
        expect_error("alice", "GET", local_path, NULL, 403, "access-denied");
        g_assert_false(list_has("alice", local_id));
        expect_error("tbuser1", "GET", path, NULL, 403, "access-denied");

        /* The administrator (OU=admin) sees and stops everybody's jobs. */
        g_assert_true(list_has("admin1", id));
        g_assert_true(list_has("admin1", local_id));
        g_assert_cmpuint(request("admin1", "GET", path, NULL, &o, NULL), ==, 200);
        g_assert_cmpstr(jstr(o, "owner"), ==, "alice");
        json_object_put(o);
        g_assert_cmpuint(request("admin1", "POST", stop, NULL, &o, NULL), ==, 200);
        g_assert_cmpstr(jstr(o, "state"), ==, "killed");
        g_assert_cmpstr(jstr(o, "reason"), ==, "stopped");
        json_object_put(o);

        /* The owner stops its own (the local one, remotely). */
        {
                g_autofree char *local_stop = g_strdup_printf("/v1/jobs/%s/stop", local_id);

                g_assert_cmpuint(request("tbuser1", "POST", local_stop, NULL, &o, NULL), ==, 200);
                g_assert_cmpstr(jstr(o, "state"), ==, "killed");
                json_object_put(o);
        }
        sd_bus_flush_close_unref(u1);
}

static void test_errors(void) {
        expect_error("alice", "POST", "/v1/jobs", "{\"argv\": [\"/nonexistent/program\"]}", 400,
                     "executable-not-found");
        expect_error("alice", "POST", "/v1/jobs", "{\"argv\": [\"/bin/true\"], \"limits\": {\"memory\": \"2G\"}}", 400,
                     "limit-exceeded");
        expect_error("alice", "POST", "/v1/jobs", "{\"argv\": []}", 400, "invalid-request");
        /* a key twice: refused, never "the last one wins" (which argv a proxy that checked the first one saw) */
        expect_error("alice", "POST", "/v1/jobs", "{\"argv\": [\"/bin/true\"], \"argv\": [\"/bin/sh\"]}", 400,
                     "invalid-json");
        expect_error("alice", "POST", "/v1/jobs", "{\"argv\": [\"/bin/true\"], \"env\": [\"=x\"]}", 400,
                     "invalid-request");
        expect_error("alice", "GET", "/v1/jobs/00000000-0000-4000-8000-000000000000", NULL, 404, "no-such-job");
        expect_error("alice", "GET", "/v1/jobs/00000000-0000-4000-8000-000000000000/output", NULL, 404,
                     "no-such-job");
        expect_error("alice", "GET", "/v1/jobs/_x", NULL, 400, "invalid-job-id");
}

static void test_limits_applied(void) {
        g_autofree char *id = NULL, *target = NULL;
        json_object *o = NULL, *limits;

        id = start_job("alice", "{\"argv\": [\"/bin/true\"], \"limits\": {\"cpu\": \"50%\", \"memory\": \"128M\","
                                " \"tasks\": 20}}");
        target = g_strdup_printf("/v1/jobs/%s?wait=true", id);
        g_assert_cmpuint(request("alice", "GET", target, NULL, &o, NULL), ==, 200);
        g_assert_true(json_object_object_get_ex(o, "limits", &limits));
        g_assert_cmpint(jint(limits, "cpu_quota_per_sec_usec"), ==, 500000);
        g_assert_cmpint(jint(limits, "memory_max"), ==, 128 << 20);
        g_assert_cmpint(jint(limits, "tasks_max"), ==, 20);
        json_object_put(o);
}

static void test_telerun_remote(void) {
        g_autofree char *telerun = g_build_filename(build_dir, "cli", "telerun", NULL);
        g_autofree char *addr = g_strdup_printf("127.0.0.1:%d", GW_PORT);
        g_autofree char *crt = test_cert_path("alice.crt"), *key = test_cert_path("alice.key"),
                        *ca = test_cert_path("ca.crt"), *out = NULL;
        int status;

        {
                char *a[] = { telerun, "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, "run", "--",
                              "/bin/sh", "-c", "echo remote hello; exit 3", NULL };

                run_cmd(a, &status, &out);
                g_assert_cmpstr(out, ==, "remote hello\n");
                g_assert_true(WIFEXITED(status));
                g_assert_cmpint(WEXITSTATUS(status), ==, 3);
        }
        g_free(out);
        {
                char *a[] = { telerun, "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, "list", "-a",
                              "--json", NULL };
                json_object *o;

                run_cmd(a, &status, &out);
                g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                o = json_tokener_parse(out);
                g_assert_nonnull(o);
                g_assert_true(json_object_is_type(o, json_type_array));
                g_assert_cmpuint(json_object_array_length(o), >, 0);
                json_object_put(o);
        }
}

/* The gateway's access log lines for a job's requests ("PEER PRINCIPAL \"METHOD TARGET\" STATUS"), from the
 * journal; the peer (address:port) tells which connection carried them. */
static char *peer_of(const char *journal, const char *needle) {
        const char *p = strstr(journal, needle), *line;

        if (!p)
                return NULL;
        line = p;
        while (line > journal && line[-1] != '\n')
                line--;
        return g_strndup(line, strcspn(line, " "));
}

/* telerun --addr run: start, the output stream and wait on one connection (one TLS handshake). */
static void test_telerun_one_connection(void) {
        g_autofree char *telerun = g_build_filename(build_dir, "cli", "telerun", NULL);
        g_autofree char *addr = g_strdup_printf("127.0.0.1:%d", GW_PORT);
        g_autofree char *crt = test_cert_path("alice.crt"), *key = test_cert_path("alice.key"),
                        *ca = test_cert_path("ca.crt"), *out = NULL, *journal = NULL, *id = NULL;
        g_autofree char *started = NULL, *output = NULL, *wait = NULL, *p1 = NULL, *p2 = NULL, *p3 = NULL;
        const char *marker;
        int status;

        {
                char *a[] = { telerun, "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, "run", "--",
                              "/bin/sh", "-c", "echo keepalive-marker; seq 1 200000 | tail -n 1", NULL };

                run_cmd(a, &status, &out);
                g_assert_cmpstr(out, ==, "keepalive-marker\n200000\n");
                g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        /* The job id: the newest of alice's jobs whose argv has the marker. */
        {
                char *a[] = { telerun, "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, "list", "-a",
                              "--json", NULL };
                json_object *o;

                g_free(out);
                run_cmd(a, &status, &out);
                o = json_tokener_parse(out);
                g_assert_nonnull(o);
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        json_object *job = json_object_array_get_idx(o, i);

                        if (strstr(json_object_to_json_string(job), "keepalive-marker")) {
                                g_free(id);
                                id = g_strdup(jstr(job, "id"));
                        }
                }
                json_object_put(o);
                g_assert_nonnull(id);
        }
        started = g_strdup_printf("alice: started job %s", id);
        /* the output in frames: the job's stdout and stderr apart (issue 15) */
        output = g_strdup_printf("alice \"GET /v1/jobs/%s/output?offset=0&follow=true&framed=true\" 200", id);
        wait = g_strdup_printf("alice \"GET /v1/jobs/%s?wait=true\" 200", id);
        /* journald may take a moment to have the last lines */
        for (unsigned i = 0; i < 50; i++) {
                char *a[] = { "journalctl", "--no-pager", "-o", "cat", "-u", GW_UNIT, NULL };

                g_free(journal);
                run_cmd(a, &status, &journal);
                if (strstr(journal, wait))
                        break;
                g_usleep(100 * 1000);
        }
        p1 = peer_of(journal, started);
        p2 = peer_of(journal, output);
        p3 = peer_of(journal, wait);
        marker = p1 && p2 && p3 ? "" : " (missing lines)";
        g_test_message("peers: start %s, output %s, wait %s%s", p1, p2, p3, marker);
        g_assert_nonnull(p1);
        g_assert_cmpstr(p1, ==, p2);
        g_assert_cmpstr(p2, ==, p3);
}

/* ---- two streams (issue 15) ------------------------------------------------------------------------------ */

/* argv (NULL-terminated), its stdout and stderr apart; its exit code. */
static int run_split(char **argv, char **ret_out, char **ret_err) {
        g_autoptr(GError) error = NULL;
        int status = 0;

        g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, ret_out, ret_err, &status, &error);
        g_assert_no_error(error);
        g_assert_true(WIFEXITED(status));
        g_test_message("%s ... -> %d\nstdout: %s\nstderr: %s", argv[0], WEXITSTATUS(status), *ret_out, *ret_err);
        return WEXITSTATUS(status);
}

/* A job writing "out N" / "err N" lines in turn: through the gateway each stream alone is exact (plain bytes
 * that curl prints as they are), both in frames keep the writer's order, and telerun --addr puts the job's
 * stdout and stderr on its own fd 1 and 2 (run) or the one asked for (logs --stderr). */
static void test_streams(void) {
        static const char script[] = "i=0; while [ $i -lt 8 ]; do if [ $((i % 2)) = 0 ]; then echo \"out $i\"; "
                                     "else echo \"err $i\" >&2; fi; i=$((i + 1)); sleep 0.1; done";
        static const char want_out[] = "out 0\nout 2\nout 4\nout 6\n", want_err[] = "err 1\nerr 3\nerr 5\nerr 7\n";
        g_autofree char *body = NULL, *id = NULL, *target = NULL, *url = NULL, *out = NULL, *err = NULL;
        g_autofree char *telerun = g_build_filename(build_dir, "cli", "telerun", NULL);
        g_autofree char *addr = g_strdup_printf("127.0.0.1:%d", GW_PORT);
        g_autofree char *crt = test_cert_path("alice.crt"), *key = test_cert_path("alice.key"),
                        *ca = test_cert_path("ca.crt");
        g_autoptr(GString) framed = NULL, merged = g_string_new(NULL), plain = NULL;
        json_object *o = NULL;

        {
                json_object *req = json_object_new_object(), *argv = json_object_new_array();
                json_object_array_add(argv, json_object_new_string("/bin/sh"));
                json_object_array_add(argv, json_object_new_string("-c"));
                json_object_array_add(argv, json_object_new_string(script));
                json_object_object_add(req, "argv", argv);
                body = g_strdup(json_object_to_json_string(req));
                json_object_put(req);
        }
        id = start_job("alice", body);
        target = g_strdup_printf("/v1/jobs/%s?wait=true", id);
        g_assert_cmpuint(request("alice", "GET", target, NULL, &o, NULL), ==, 200);
        json_object_put(o);

        /* one stream: plain bytes */
        g_free(target);
        target = g_strdup_printf("/v1/jobs/%s/output?stream=stderr", id);
        g_assert_cmpuint(request("alice", "GET", target, NULL, NULL, &plain), ==, 200);
        g_assert_cmpstr(plain->str, ==, want_err);

        /* both in frames, in the writer's order */
        g_free(target);
        target = g_strdup_printf("/v1/jobs/%s/output?framed=true", id);
        g_assert_cmpuint(request("alice", "GET", target, NULL, NULL, &framed), ==, 200);
        for (gsize at = 0; at < framed->len;) {
                const guint8 *h = (const guint8 *) framed->str + at;
                guint32 len;

                g_assert_cmpuint(framed->len - at, >=, 8);
                g_assert_true((h[0] == 1 || h[0] == 2) && !h[1] && !h[2] && !h[3]);
                len = (guint32) h[4] << 24 | (guint32) h[5] << 16 | (guint32) h[6] << 8 | h[7];
                g_string_append_len(merged, (const char *) h + 8, len);
                at += 8 + len;
        }
        g_assert_cmpstr(merged->str, ==, "out 0\nerr 1\nout 2\nerr 3\nout 4\nerr 5\nout 6\nerr 7\n");

        /* curl, as a user would */
        url = g_strdup_printf("https://127.0.0.1:%d/v1/jobs/%s/output?stream=stdout", GW_PORT, id);
        {
                char *a[] = { "curl", "-sS", "--fail", "--cert", crt, "--key", key, "--cacert", ca, url, NULL };

                g_assert_cmpint(run_split(a, &out, &err), ==, 0);
                g_assert_cmpstr(out, ==, want_out);
        }
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&err, g_free);

        /* telerun --addr: logs per stream, run split onto fd 1 and 2 */
        {
                char *a[] = { telerun, "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, "logs", "--stderr",
                              id, NULL };

                g_assert_cmpint(run_split(a, &out, &err), ==, 0);
                g_assert_cmpstr(out, ==, "");
                g_assert_cmpstr(err, ==, want_err);
        }
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&err, g_free);
        {       /* the tail of one stream: the worker resolves it, X-Teleworker-Offset says where it starts */
                char *a[] = { telerun, "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, "logs", "--stderr",
                              "-n", "2", "--timestamps", id, NULL };
                g_auto(GStrv) lines = NULL;

                g_assert_cmpint(run_split(a, &out, &err), ==, 0);
                lines = g_strsplit(err, "\n", -1);
                g_assert_cmpuint(g_strv_length(lines), ==, 3);
                g_assert_true(g_str_has_suffix(lines[0], "Z err 5"));
                g_assert_true(g_str_has_suffix(lines[1], "Z err 7"));
                g_assert_cmpstr(lines[2], ==, "");
        }
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&err, g_free);
        {
                char *a[] = { telerun, "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, "run", "--",
                              "/bin/sh", "-c", (char *) script, NULL };

                g_assert_cmpint(run_split(a, &out, &err), ==, 0);
                g_assert_cmpstr(out, ==, want_out);
                g_assert_cmpstr(err, ==, want_err);
        }
}

/* ---- revocation and certificate rules ------------------------------------------------------------------- */

/* GET /v1/jobs with certificate crt and key (names in test_certs_dir()) on a connection of its own: the HTTP
 * status, or 0 when the gateway refused the connection (TLS 1.3: the client's handshake completes before the
 * server has judged its certificate, and the refusal arrives as an alert on the first read). */
static unsigned try_list(const char *crt, const char *key, uint16_t port) {
        SSL_CTX *ctx = test_tls_ctx_files(crt, key);
        unsigned status = 0;
        TestClient c;
        TestResponse h;

        if (test_client_connect_ctx(&c, ctx, NULL, port) == 0) {
                if (test_client_call(&c, "GET", "/v1/jobs", NULL, &h, 30000) == 0)
                        status = h.status;
                test_response_done(&h);
                test_client_close_as(&c, TEST_CLOSE_ABRUPT);
        }
        SSL_CTX_free(ctx);
        g_test_message("%s on port %u: %u", crt, port, status);
        return status;
}

/* Waits (up to 10 s) until the unit's journal since `since` (journalctl --since) has needle. */
static bool journal_wait(const char *unit, const char *since, const char *needle) {
        for (unsigned i = 0; i < 100; i++) {
                char *a[] = { "journalctl", "--no-pager", "-o", "cat", "-u", (char *) unit, "--since", (char *) since,
                              NULL };
                g_autofree char *text = NULL;
                int status;

                run_cmd(a, &status, &text);
                if (text && strstr(text, needle))
                        return true;
                g_usleep(100 * 1000);
        }
        g_test_message("not in the journal of %s: %s", unit, needle);
        return false;
}

static char *journal_now(void) {
        g_autoptr(GDateTime) t = g_date_time_new_now_local();

        g_usleep(1100 * 1000);   /* journalctl --since has a resolution of a second */
        return g_date_time_format(t, "%Y-%m-%d %H:%M:%S");
}

/* Replaces path atomically, mode 0644 (the gateway's account reads it). */
static void write_file_0644(const char *path, const char *text) {
        g_autofree char *tmp = g_strdup_printf("%s.tmp", path);

        g_assert_true(g_file_set_contents(tmp, text, -1, NULL));
        g_assert_cmpint(chmod(tmp, 0644), ==, 0);
        g_assert_cmpint(rename(tmp, path), ==, 0);
}

static void test_revocation(void) {
        g_autofree char *crl = test_cert_path("crl.pem"), *crl_arg = g_strdup_printf("--crl=%s", crl);
        g_autofree char *bad = test_cert_path("bad-crl.pem"), *bad_arg = g_strdup_printf("--crl=%s", bad);
        g_autofree char *since = NULL;
        const char *args[] = { crl_arg, NULL };
        TbGateway gw;
        pid_t pid;

        /* The tool issues three users and revokes carol: crl.pem. */
        g_assert_cmpint(test_certs_tool(NULL, "--user", "carol", "--user", "dave", "--user", "erin", NULL), ==, 0);
        test_certs_keep_copy("carol");
        test_certs_keep_copy("dave");
        g_assert_cmpint(test_certs_tool(NULL, "--revoke", "carol", NULL), ==, 0);
        g_assert_cmpuint(try_list("carol-kept.crt", "carol-kept.key", GW_PORT), ==, 200);   /* no --crl there */

        since = journal_now();
        tb_gateway_start(&gw, build_dir, CRL_UNIT, CRL_PORT, args, NULL);
        pid = gw.pid;
        g_assert_true(journal_wait(CRL_UNIT, since, "Loaded CRL"));

        /* Refused in the handshake, logged with the reason; the others are served. */
        g_assert_cmpuint(try_list("carol-kept.crt", "carol-kept.key", CRL_PORT), ==, 0);
        g_assert_true(journal_wait(CRL_UNIT, since, "TLS handshake refused: certificate revoked"));
        g_assert_cmpuint(try_list("dave-kept.crt", "dave-kept.key", CRL_PORT), ==, 200);
        g_assert_cmpuint(try_list("erin.crt", "erin.key", CRL_PORT), ==, 200);

        /* --revoke of another: the file changes, the next connection is refused; same process, no signal. */
        g_free(since);
        since = journal_now();
        g_assert_cmpint(test_certs_tool(NULL, "--revoke", "dave", NULL), ==, 0);
        g_assert_cmpuint(try_list("dave-kept.crt", "dave-kept.key", CRL_PORT), ==, 0);
        g_assert_cmpuint(try_list("carol-kept.crt", "carol-kept.key", CRL_PORT), ==, 0);
        g_assert_cmpuint(try_list("erin.crt", "erin.key", CRL_PORT), ==, 200);
        g_assert_true(journal_wait(CRL_UNIT, since, "Reloaded CRL"));
        g_assert_cmpint(tb_unit_main_pid(CRL_UNIT), ==, pid);

        /* A broken file: logged, and the CRL in force stays. */
        write_file_0644(crl, "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n");
        g_assert_cmpuint(try_list("dave-kept.crt", "dave-kept.key", CRL_PORT), ==, 0);
        g_assert_cmpuint(try_list("erin.crt", "erin.key", CRL_PORT), ==, 200);
        g_assert_true(journal_wait(CRL_UNIT, since, "the CRL loaded before stays in force"));

        /* SIGHUP re-reads it (systemctl reload in the packaged unit). */
        g_assert_cmpint(test_certs_tool(NULL, "--gencrl", NULL), ==, 0);
        {
                char *a[] = { "systemctl", "kill", "--kill-whom=main", "--signal=SIGHUP", CRL_UNIT, NULL };
                int status;

                run_cmd(a, &status, NULL);
                g_assert_true(g_spawn_check_wait_status(status, NULL));
        }
        g_assert_true(journal_wait(CRL_UNIT, since, "SIGHUP: re-reading the CRL"));
        g_assert_true(journal_wait(CRL_UNIT, since, "2 revoked certificate(s)"));
        g_assert_cmpuint(try_list("dave-kept.crt", "dave-kept.key", CRL_PORT), ==, 0);
        g_assert_cmpuint(try_list("erin.crt", "erin.key", CRL_PORT), ==, 200);
        g_assert_cmpint(tb_unit_main_pid(CRL_UNIT), ==, pid);
        {
                g_autofree char *restarts = tb_unit_property(CRL_UNIT, "NRestarts");
                g_assert_cmpstr(restarts, ==, "0");
        }
        tb_gateway_stop(&gw);

        /* A CRL that does not load at startup is a startup error, and so is a missing --crl file. */
        write_file_0644(bad, "garbage\n");
        g_assert_false(tb_gateway_try_start(&gw, build_dir, BAD_UNIT, CRL_PORT, (const char *const[]) { bad_arg, NULL },
                                            NULL));
        g_assert_cmpint(unlink(bad), ==, 0);
        g_assert_false(tb_gateway_try_start(&gw, build_dir, BAD_UNIT, CRL_PORT, (const char *const[]) { bad_arg, NULL },
                                            NULL));
}

static void test_ca_leaf_refused(void) {
        g_autofree char *since = journal_now();

        /* The same key with a proper leaf is served: only basicConstraints differs. */
        g_assert_cmpuint(try_list("test/good.crt", "test/client.key", GW_PORT), ==, 200);
        g_assert_cmpuint(try_list("test/caleaf.crt", "test/client.key", GW_PORT), ==, 0);
        g_assert_true(journal_wait(GW_UNIT, since, "basicConstraints CA:TRUE"));
}

int main(int argc, char **argv) {
        int r;

        g_test_init(&argc, &argv, NULL);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;
        build_dir = g_strdup(getenv("TELEWORKER_TEST_BUILD_DIR"));
        g_assert_nonnull(build_dir);

        (void) test_certs_dir();
        tb_gateway_start(&gateway, build_dir, GW_UNIT, GW_PORT, (const char *const[]) { "--verbose", NULL }, NULL);

        g_test_add_func("/gateway/runs-unprivileged", test_runs_unprivileged);
        g_test_add_func("/gateway/output-byte-exact", test_output_byte_exact);
        g_test_add_func("/gateway/follow-live", test_follow_live);
        g_test_add_func("/gateway/authz-matrix", test_authz_matrix);
        g_test_add_func("/gateway/errors", test_errors);
        g_test_add_func("/gateway/limits", test_limits_applied);
        g_test_add_func("/gateway/telerun-remote", test_telerun_remote);
        g_test_add_func("/gateway/keep-alive", test_keep_alive);
        g_test_add_func("/gateway/telerun-one-connection", test_telerun_one_connection);
        g_test_add_func("/gateway/streams", test_streams);
        g_test_add_func("/gateway/revocation", test_revocation);
        g_test_add_func("/gateway/ca-leaf-refused", test_ca_leaf_refused);
        r = g_test_run();

        tb_gateway_stop(&gateway);
        test_certs_cleanup();
        sd_bus_flush_close_unref(root_bus);
        g_free(build_dir);
        return r;
}
