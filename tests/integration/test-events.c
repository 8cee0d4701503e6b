/* SPDX-License-Identifier: MIT */
/* test-events - GET /v1/events and GET /v1/version through the real gateway, with curl as the client: a
 * start/stop sequence seen as server-sent events, another principal's jobs never seen (an administrator sees
 * all), a reconnect with Last-Event-ID that resumes without loss or duplicates (held against a stream that
 * stayed connected), an id the daemon no longer holds answered with "reset", a malformed one with 400.
 * Runs inside the testbed as root, with teleworkerd running (run-inside.sh). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>

#include "tb-client.h"
#include "tb-gateway.h"
#include "test-client.h"

#define GW_UNIT "teleworker-gateway-events.service"
#define GW_PORT 18454

static sd_bus *root_bus;
static char *build_dir;
static TbGateway gateway;

/* ---- curl ---------------------------------------------------------------------------------------------- */

static GPtrArray *curl_argv(const char *principal, const char *target) {
        GPtrArray *a = g_ptr_array_new_with_free_func(g_free);

        g_ptr_array_add(a, g_strdup("curl"));
        g_ptr_array_add(a, g_strdup("-sS"));
        g_ptr_array_add(a, g_strdup("--cert"));
        g_ptr_array_add(a, g_strdup_printf("%s/%s.crt", test_certs_dir(), principal));
        g_ptr_array_add(a, g_strdup("--key"));
        g_ptr_array_add(a, g_strdup_printf("%s/%s.key", test_certs_dir(), principal));
        g_ptr_array_add(a, g_strdup("--cacert"));
        g_ptr_array_add(a, g_strdup_printf("%s/ca.crt", test_certs_dir()));
        g_ptr_array_add(a, g_strdup_printf("https://localhost:%u%s", GW_PORT, target));
        return a;
}

/* One request; the status, and the body as JSON (NULL if none or not JSON). */
static unsigned curl_json(const char *principal, const char *method, const char *target, const char *body,
                          const char *header, json_object **ret) {
        g_autoptr(GPtrArray) a = curl_argv(principal, target);
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL, *err = NULL;
        char *nl;
        int status;

        g_ptr_array_add(a, g_strdup("-X"));
        g_ptr_array_add(a, g_strdup(method));
        g_ptr_array_add(a, g_strdup("-w"));
        g_ptr_array_add(a, g_strdup("\n%{http_code}"));
        if (body) {
                g_ptr_array_add(a, g_strdup("-d"));
                g_ptr_array_add(a, g_strdup(body));
        }
        if (header) {
                g_ptr_array_add(a, g_strdup("-H"));
                g_ptr_array_add(a, g_strdup(header));
        }
        g_ptr_array_add(a, NULL);
        g_spawn_sync(NULL, (char **) a->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        nl = strrchr(out, '\n');
        g_assert_nonnull(nl);
        *nl = 0;
        if (ret)
                *ret = json_tokener_parse(out);
        return (unsigned) g_ascii_strtoull(nl + 1, NULL, 10);
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static char *start_job(const char *principal, const char *command) {
        g_autofree char *body = g_strdup_printf("{\"argv\": [\"/bin/sh\", \"-c\", \"%s\"]}", command);
        json_object *o = NULL;
        char *id;

        g_assert_cmpuint(curl_json(principal, "POST", "/v1/jobs", body, NULL, &o), ==, 201);
        id = g_strdup(jstr(o, "id"));
        json_object_put(o);
        g_assert_nonnull(id);
        return id;
}

static void stop_job(const char *principal, const char *id) {
        g_autofree char *target = g_strdup_printf("/v1/jobs/%s/stop", id);

        g_assert_cmpuint(curl_json(principal, "POST", target, NULL, NULL, NULL), ==, 200);
}

/* ---- an event stream ---------------------------------------------------------------------------------- */

typedef struct Sse {
        GPid pid;
        int fd;
        GString *buf;
        int64_t deadline;      /* monotonic µs: a test reads what it waits for by then (keep-alives do not count) */
} Sse;

typedef struct SseEvent {
        uint64_t id;
        char event[16];
        json_object *data;     /* NULL for a comment */
} SseEvent;

static void sse_open(Sse *s, const char *principal, const char *last_event_id) {
        g_autoptr(GPtrArray) a = curl_argv(principal, "/v1/events");
        g_autoptr(GError) error = NULL;

        g_ptr_array_add(a, g_strdup("-N"));
        if (last_event_id) {
                g_ptr_array_add(a, g_strdup("-H"));
                g_ptr_array_add(a, g_strdup_printf("Last-Event-ID: %s", last_event_id));
        }
        g_ptr_array_add(a, NULL);
        g_spawn_async_with_pipes(NULL, (char **) a->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                 NULL, NULL, &s->pid, NULL, &s->fd, NULL, &error);
        g_assert_no_error(error);
        s->buf = g_string_new(NULL);
        s->deadline = g_get_monotonic_time() + (int64_t) 120 * G_USEC_PER_SEC * tb_slowdown();
}

static void sse_close(Sse *s) {
        int status;

        (void) kill(s->pid, SIGTERM);
        (void) waitpid(s->pid, &status, 0);
        g_spawn_close_pid(s->pid);
        close(s->fd);
        g_string_free(s->buf, TRUE);
}

/* The next block (event or comment) within the test's patience; false at EOF. */
static bool sse_next_block(Sse *s, SseEvent *ev) {
        char *end;

        *ev = (SseEvent) {};
        while (!(end = strstr(s->buf->str, "\n\n"))) {
                struct pollfd p = { .fd = s->fd, .events = POLLIN };
                char b[4096];
                ssize_t n;

                int64_t left = s->deadline - g_get_monotonic_time();

                g_assert_cmpint(left, >, 0);
                g_assert_cmpint(poll(&p, 1, (int) (left / 1000) + 1), ==, 1);
                n = read(s->fd, b, sizeof(b));
                g_assert_cmpint(n, >=, 0);
                if (n == 0)
                        return false;
                g_string_append_len(s->buf, b, n);
        }
        *end = 0;
        g_auto(GStrv) lines = g_strsplit(s->buf->str, "\n", -1);
        for (char **l = lines; *l; l++) {
                if (g_str_has_prefix(*l, "id: "))
                        ev->id = g_ascii_strtoull(*l + 4, NULL, 10);
                else if (g_str_has_prefix(*l, "event: "))
                        g_strlcpy(ev->event, *l + 7, sizeof(ev->event));
                else if (g_str_has_prefix(*l, "data: ")) {
                        ev->data = json_tokener_parse(*l + 6);
                        g_assert_nonnull(ev->data);
                } else
                        g_assert_true(**l == ':');   /* a comment; nothing else is sent */
        }
        g_string_erase(s->buf, 0, end - s->buf->str + 2);
        return true;
}

/* The next event, skipping comments. */
static void sse_next(Sse *s, SseEvent *ev) {
        do
                g_assert_true(sse_next_block(s, ev));
        while (!ev->data);
        g_assert_cmpuint(ev->id, >, 0);
}

/* The stream is live once the first answer (a comment or a reset) came. */
static void sse_open_live(Sse *s, const char *principal) {
        SseEvent ev;

        sse_open(s, principal, NULL);
        g_assert_true(sse_next_block(s, &ev));
        g_assert_null(ev.data);
}

static void json_put(void *o) {
        json_object_put(o);
}

static bool job_state_ended(const char *state) {
        return g_strcmp0(state, "submitted") != 0 && g_strcmp0(state, "running") != 0;
}

/* Reads events until one says job id ended; returns them all (ids strictly increasing). */
static GPtrArray *sse_until_ended(Sse *s, const char *id) {
        GPtrArray *seen = g_ptr_array_new_with_free_func(json_put);
        uint64_t last = 0;

        for (;;) {
                SseEvent ev;

                sse_next(s, &ev);
                g_assert_cmpstr(ev.event, ==, "state");
                g_assert_cmpuint(ev.id, >, last);
                last = ev.id;
                json_object_object_add(ev.data, "_seq", json_object_new_uint64(ev.id));
                g_ptr_array_add(seen, ev.data);
                if (g_strcmp0(jstr(ev.data, "id"), id) == 0 && job_state_ended(jstr(ev.data, "state")))
                        return seen;
        }
}

static bool seen_job(GPtrArray *seen, const char *id) {
        for (guint i = 0; i < seen->len; i++)
                if (g_strcmp0(jstr(seen->pdata[i], "id"), id) == 0)
                        return true;
        return false;
}

static uint64_t seq_of(json_object *o) {
        json_object *v;

        g_assert_true(json_object_object_get_ex(o, "_seq", &v));
        return json_object_get_uint64(v);
}

/* ---- tests --------------------------------------------------------------------------------------------- */

/* alice starts and stops a job: her stream shows it running, then killed/stopped; bob's stream never shows
 * it (it shows his own job, which ends later); admin1's shows both. */
static void test_sequence_and_isolation(void) {
        g_autofree char *a_id = NULL, *b_id = NULL;
        g_autoptr(GPtrArray) a_seen = NULL, b_seen = NULL, admin_seen = NULL;
        Sse a, b, admin;
        json_object *last;

        sse_open_live(&a, "alice");
        sse_open_live(&b, "bob");
        sse_open_live(&admin, "admin1");

        a_id = start_job("alice", "sleep 1000");
        stop_job("alice", a_id);
        b_id = start_job("bob", "exit 3");

        a_seen = sse_until_ended(&a, a_id);
        g_assert_true(g_strcmp0(jstr(a_seen->pdata[a_seen->len - 2], "state"), "running") == 0);
        last = a_seen->pdata[a_seen->len - 1];
        g_assert_cmpstr(jstr(last, "state"), ==, "killed");
        g_assert_cmpstr(jstr(last, "reason"), ==, "stopped");
        g_assert_cmpstr(jstr(last, "owner"), ==, "alice");

        b_seen = sse_until_ended(&b, b_id);
        g_assert_false(seen_job(b_seen, a_id));
        last = b_seen->pdata[b_seen->len - 1];
        g_assert_cmpstr(jstr(last, "state"), ==, "failed");
        g_assert_cmpint(json_object_get_int(json_object_object_get(last, "exit_code")), ==, 3);

        admin_seen = sse_until_ended(&admin, b_id);
        g_assert_true(seen_job(admin_seen, a_id));

        sse_close(&a);
        sse_close(&b);
        sse_close(&admin);
}

/* A stream cut after job 1 started resumes with Last-Event-ID: exactly the events a stream that stayed
 * connected saw after that id, none twice, none lost (job 1's end and job 2 happened while it was away). */
static void test_resume(void) {
        g_autofree char *id1 = NULL, *id2 = NULL, *resume_at = NULL;
        g_autoptr(GPtrArray) cont_seen = NULL, resumed = NULL;
        Sse cut, cont;
        SseEvent ev;
        guint k = 0;

        sse_open_live(&cont, "alice");
        sse_open_live(&cut, "alice");
        id1 = start_job("alice", "sleep 1000");
        sse_next(&cut, &ev);       /* job 1 submitted: the stream is cut right after it */
        g_assert_cmpstr(jstr(ev.data, "id"), ==, id1);
        json_object_put(ev.data);
        resume_at = g_strdup_printf("%" G_GUINT64_FORMAT, ev.id);
        sse_close(&cut);

        stop_job("alice", id1);
        id2 = start_job("alice", "true");
        cont_seen = sse_until_ended(&cont, id2);

        sse_open(&cut, "alice", resume_at);
        resumed = sse_until_ended(&cut, id2);
        sse_close(&cut);
        sse_close(&cont);

        while (k < cont_seen->len && seq_of(cont_seen->pdata[k]) <= ev.id)
                k++;
        g_assert_cmpuint(resumed->len, ==, cont_seen->len - k);
        for (guint i = 0; i < resumed->len; i++) {
                g_assert_cmpuint(seq_of(resumed->pdata[i]), ==, seq_of(cont_seen->pdata[k + i]));
                g_assert_cmpstr(json_object_to_json_string(resumed->pdata[i]), ==,
                                json_object_to_json_string(cont_seen->pdata[k + i]));
        }
        g_assert_true(seen_job(resumed, id1));
}

/* An id the daemon does not hold: "reset" (with the newest id), then events go on; a malformed one: 400. */
static void test_reset_and_bad_id(void) {
        g_autofree char *id = NULL, *newest = NULL;
        g_autoptr(GPtrArray) seen = NULL;
        json_object *o = NULL;
        Sse s;
        SseEvent ev;

        sse_open(&s, "alice", "1");
        sse_next(&s, &ev);
        g_assert_cmpstr(ev.event, ==, "reset");
        g_assert_cmpuint(json_object_get_uint64(json_object_object_get(ev.data, "last")), ==, ev.id);
        json_object_put(ev.data);
        id = start_job("alice", "true");
        seen = sse_until_ended(&s, id);
        g_assert_cmpuint(seq_of(seen->pdata[0]), >, ev.id);
        sse_close(&s);

        /* From the future (a clock that went back, another machine's id): reset too. */
        newest = g_strdup_printf("%" G_GUINT64_FORMAT, ev.id + (uint64_t) 1000000000000);
        sse_open(&s, "alice", newest);
        sse_next(&s, &ev);
        g_assert_cmpstr(ev.event, ==, "reset");
        json_object_put(ev.data);
        sse_close(&s);

        g_assert_cmpuint(curl_json("alice", "GET", "/v1/events", NULL, "Last-Event-ID: 12x", &o), ==, 400);
        g_assert_cmpstr(jstr(o, "error"), ==, "bad-request");
        json_object_put(o);
        g_assert_cmpuint(curl_json("alice", "POST", "/v1/events", NULL, NULL, NULL), ==, 405);
}

static void test_version(void) {
        json_object *o = NULL, *v;

        g_assert_cmpuint(curl_json("bob", "GET", "/v1/version", NULL, NULL, &o), ==, 200);
        g_assert_nonnull(jstr(o, "version"));
        g_assert_cmpuint(strlen(jstr(o, "version")), >, 0);
        g_assert_true(json_object_object_get_ex(o, "api_version", &v));
        g_assert_cmpint(json_object_get_int(v), ==, 1);
        json_object_put(o);
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
        tb_gateway_start(&gateway, build_dir, GW_UNIT, GW_PORT, NULL, NULL);

        g_test_add_func("/events/sequence-and-isolation", test_sequence_and_isolation);
        g_test_add_func("/events/resume", test_resume);
        g_test_add_func("/events/reset-and-bad-id", test_reset_and_bad_id);
        g_test_add_func("/events/version", test_version);
        r = g_test_run();

        tb_gateway_stop(&gateway);
        test_certs_cleanup();
        sd_bus_flush_close_unref(root_bus);
        g_free(build_dir);
        return r;
}
