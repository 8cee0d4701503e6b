/* SPDX-License-Identifier: MIT */
/* test-metrics - the daemon's Prometheus metrics against the real teleworkerd, systemd and gateway: scraped
 * through GET /v1/metrics as an administrator and parsed by Prometheus' own parser (parse-metrics.py, Debian's
 * python3-prometheus-client); the counters move by exactly what a started job, a command that is not found
 * an OOM-killed job and a timed-out one add; non-administrators get 403 over HTTP and AccessDenied over D-Bus. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <json-c/json.h>

#include "tb-client.h"
#include "tb-gateway.h"
#include "test-client.h"

#define GW_UNIT "teleworker-gateway-metrics.service"
#define GW_PORT 18447

static sd_bus *root_bus;
static TbGateway gateway;

/* GET /v1/metrics as principal: the status, and the body of a 200 (with its Content-Type checked). */
static unsigned scrape_http(const char *principal, GString **ret_body) {
        static const char req[] = "GET /v1/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
        g_autofree char *crt = g_strdup_printf("%s.crt", principal), *key = g_strdup_printf("%s.key", principal);
        g_autofree char *crt_path = test_cert_path(crt), *key_path = test_cert_path(key);
        char type[128];
        TestClient c;
        TestResponse r;
        unsigned status;

        g_assert_cmpint(test_client_connect(&c, GW_PORT, crt_path, key_path, 0), ==, 1);
        g_assert_cmpint(test_client_write(&c, req, strlen(req)), ==, 0);
        g_assert_cmpint(test_client_read_response(&c, &r, 60000), ==, 0);
        test_client_close(&c);
        status = r.status;
        g_assert_true(r.complete);
        g_assert_nonnull(test_response_header(&r, "content-type", type, sizeof(type)));
        if (status == 200)
                g_assert_cmpstr(type, ==, "text/plain; version=0.0.4; charset=utf-8");
        else
                g_assert_cmpstr(type, ==, "application/json");
        if (ret_body)
                *ret_body = g_string_new_len(r.body->str, (gssize) r.body->len);
        test_response_done(&r);
        return status;
}

/* The text through Prometheus' parser: {"types": {...}, "samples": {"name{k=v}": value}}. */
static json_object *parse(const GString *text) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(GBytes) in = g_bytes_new(text->str, text->len), out = NULL, err = NULL;
        json_object *o;

        p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                             G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, "/usr/bin/python3", PARSE_METRICS_PATH, NULL);
        g_assert_no_error(error);
        g_assert_true(g_subprocess_communicate(p, in, NULL, &out, &err, &error));
        g_assert_no_error(error);
        if (!g_subprocess_get_successful(p))
                g_error("the Prometheus parser refused the text: %.*s\n%s", (int) g_bytes_get_size(err),
                        (const char *) g_bytes_get_data(err, NULL), text->str);
        o = json_tokener_parse(g_bytes_get_data(out, NULL));
        g_assert_nonnull(o);
        return o;
}

static json_object *scrape(void) {
        g_autoptr(GString) body = NULL;

        g_assert_cmpuint(scrape_http("admin1", &body), ==, 200);
        return parse(body);
}

/* A sample's value; -1 when the sample is absent. */
static double sample(json_object *m, const char *key) {
        json_object *samples, *v;

        g_assert_true(json_object_object_get_ex(m, "samples", &samples));
        if (!json_object_object_get_ex(samples, key, &v))
                return -1;
        return json_object_get_double(v);
}

static const char *family_type(json_object *m, const char *family) {
        json_object *types, *v;

        g_assert_true(json_object_object_get_ex(m, "types", &types));
        return json_object_object_get_ex(types, family, &v) ? json_object_get_string(v) : NULL;
}

static double delta(json_object *before, json_object *after, const char *key) {
        double a = sample(before, key), b = sample(after, key);

        g_assert_cmpfloat(a, >=, 0);
        g_assert_cmpfloat(b, >=, 0);
        return b - a;
}

/* For per-principal series: absent until the principal has a job. */
static double delta0(json_object *before, json_object *after, const char *key) {
        return MAX(sample(after, key), 0.0) - MAX(sample(before, key), 0.0);
}

static void test_counters_move(void) {
        const char *ok[] = { "/bin/echo", "metrics", NULL };
        const char *missing[] = { "no-such-command-metrics", NULL };
        const char *hog[] = { tb_gen_path(), "hog", "400", NULL };
        const char *limits[] = { "MemoryMax", "67108864", NULL };
        const char *sleeper[] = { "/bin/sleep", "60", NULL };
        const char *runtime[] = { "RuntimeMaxUSec", "300000", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        json_object *before, *after;
        TbJob j;

        before = scrape();
        g_assert_cmpstr(family_type(before, "teleworker_jobs_started"), ==, "counter");
        g_assert_cmpstr(family_type(before, "teleworker_start_latency_seconds"), ==, "histogram");
        g_assert_cmpstr(family_type(before, "teleworker_jobs"), ==, "gauge");

        /* started, succeeded */
        g_assert_cmpint(tb_run(root_bus, ok, &j, NULL), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        /* refused after the fact: never ran */
        g_assert_cmpint(tb_start(root_bus, missing, NULL, NULL, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.ExecutableNotFound");
        sd_bus_error_free(&e);
        /* started, OOM-killed */
        g_assert_cmpint(tb_start(root_bus, hog, limits, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.reason, ==, "oom-kill");
        tb_job_clear(&j);
        g_free(g_steal_pointer(&id));
        /* started, stopped at its run-time limit */
        g_assert_cmpint(tb_start(root_bus, sleeper, runtime, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.reason, ==, "timeout");
        tb_job_clear(&j);

        after = scrape();
        g_assert_cmpfloat(delta(before, after, "teleworker_jobs_started_total"), ==, 3);
        g_assert_cmpfloat(delta(before, after, "teleworker_jobs_start_failures_total"), ==, 1);
        g_assert_cmpfloat(delta(before, after, "teleworker_jobs_failed_total"), ==, 2); /* not found, OOM */
        g_assert_cmpfloat(delta(before, after, "teleworker_jobs_oom_killed_total"), ==, 1);
        g_assert_cmpfloat(delta(before, after, "teleworker_jobs_timed_out_total"), ==, 1);
        g_assert_cmpfloat(delta(before, after, "teleworker_jobs_stopped_total"), ==, 0);
        g_assert_cmpfloat(delta(before, after, "teleworker_start_latency_seconds_count"), ==, 3);
        g_assert_cmpfloat(delta(before, after, "teleworker_start_latency_seconds_bucket{le=+Inf}"), ==, 3);
        g_assert_cmpfloat(delta(before, after, "teleworker_start_latency_seconds_sum"), >, 0);
        /* The kept jobs by owner: root's echo and hog are there; the refused one is not kept. */
        g_assert_cmpfloat(delta0(before, after, "teleworker_jobs{principal=root,state=success}"), ==, 1);
        g_assert_cmpfloat(delta0(before, after, "teleworker_jobs{principal=root,state=failed}"), ==, 1);
        g_assert_cmpfloat(delta0(before, after, "teleworker_jobs{principal=root,state=killed}"), ==, 1);
        g_assert_cmpfloat(sample(after, "teleworker_output_kept_bytes"), >=, 8); /* "metrics\n" at least */
        g_assert_cmpfloat(sample(after, "teleworker_open_fds"), >, 3);
        g_assert_cmpfloat(sample(after, "teleworker_open_fds"), <, sample(after, "teleworker_max_fds"));
        json_object_put(before);
        json_object_put(after);
}

/* A reader held open shows in teleworker_output_readers. */
static void test_readers(void) {
        const char *argv[] = { "/bin/sleep", "60", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        json_object *before, *after;
        int fd = -1;

        g_assert_cmpint(tb_start(root_bus, argv, NULL, &id, &e), ==, 0);
        before = scrape();
        g_assert_cmpint(tb_open_output(root_bus, id, 0, true, &fd, &e), ==, 0);
        after = scrape();
        g_assert_cmpfloat(delta(before, after, "teleworker_output_readers"), ==, 1);
        g_assert_cmpfloat(sample(after, "teleworker_jobs{principal=root,state=running}"), >=, 1);
        close(fd);
        g_assert_cmpint(tb_stop(root_bus, id, &e), ==, 0);
        json_object_put(before);
        json_object_put(after);
}

static void test_denied(void) {
        sd_bus_message *reply = NULL;
        g_autoptr(GString) body = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *user = tb_bus_as(4001), *admin = tb_bus_as(4003);
        const char *text = NULL;
        json_object *o, *m;

        /* HTTP: a user's certificate is refused, an administrator's served (test_counters_move). */
        g_assert_cmpuint(scrape_http("alice", &body), ==, 403);
        o = json_tokener_parse(body->str);
        g_assert_nonnull(o);
        g_assert_cmpstr(json_object_get_string(json_object_object_get(o, "error")), ==, "access-denied");
        json_object_put(o);

        /* D-Bus: tbuser1 gets AccessDenied, tbadmin (group teleworker-admin) the text. */
        g_assert_cmpint(sd_bus_call_method(user, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Manager", "GetMetrics", &e, &reply, ""), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        reply = sd_bus_message_unref(reply);
        g_assert_cmpint(sd_bus_call_method(admin, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Manager", "GetMetrics", &e, &reply, ""), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "s", &text), >, 0);
        g_string_assign(body, text);
        m = parse(body);
        sd_bus_message_unref(reply);
        g_assert_cmpfloat(sample(m, "teleworker_jobs_started_total"), >=, 0);
        json_object_put(m);
        sd_bus_flush_close_unref(user);
        sd_bus_flush_close_unref(admin);
}

int main(int argc, char **argv) {
        const char *build_dir;
        int r;

        g_test_init(&argc, &argv, NULL);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;
        build_dir = getenv("TELEWORKER_TEST_BUILD_DIR");
        g_assert_nonnull(build_dir);
        (void) test_certs_dir();
        tb_gateway_start(&gateway, build_dir, GW_UNIT, GW_PORT, NULL, NULL);

        g_test_add_func("/metrics/counters-move", test_counters_move);
        g_test_add_func("/metrics/readers", test_readers);
        g_test_add_func("/metrics/denied", test_denied);
        r = g_test_run();

        tb_gateway_stop(&gateway);
        test_certs_cleanup();
        sd_bus_flush_close_unref(root_bus);
        return r;
}
