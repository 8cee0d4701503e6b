/* SPDX-License-Identifier: MIT */
/* test-http.c - request parsing and limits, routing, query strings, the job JSON decoder, response framing
 * and the D-Bus error mapping, without any network. */
#include <signal.h>
#include <string.h>

#include <glib.h>

#include "gateway/gateway.h"
#include "transport/http-job.h"
#include "gateway/http.h"

/* Feeds the whole input (in pieces of step bytes) and returns the first non-MORE result. */
static HttpFeedResult feed(HttpParser *p, const char *data, size_t size, size_t step, size_t *ret_used) {
        size_t total = 0;

        while (total < size) {
                size_t used = 0, n = MIN(step, size - total);
                HttpFeedResult f = http_parser_feed_data(p, data + total, n, &used);

                total += used;
                if (f != HTTP_FEED_MORE) {
                        if (ret_used)
                                *ret_used = total;
                        return f;
                }
        }
        if (ret_used)
                *ret_used = total;
        return HTTP_FEED_MORE;
}

/* Last-Event-ID (GET /v1/events): kept per request, cleared by the next, "-" when too long to be ours; split
 * anywhere. */
static void test_parse_last_event_id(void) {
        static const char req[] = "GET /v1/events HTTP/1.1\r\nlast-event-id: 1764767040123457\r\n\r\n"
                                  "GET /v1/events HTTP/1.1\r\nHost: a\r\n\r\n"
                                  "GET /v1/events HTTP/1.1\r\nLast-Event-ID: 123456789012345678901234\r\n\r\n";
        static const char *const want[] = { "1764767040123457", "", "-" };

        for (size_t step = 1; step <= sizeof(req); step++) {
                const char *d = req;
                HttpParser p;

                http_parser_init_request(&p);
                for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                        size_t used;

                        g_assert_cmpint(feed(&p, d, strlen(d), step, &used), ==, HTTP_FEED_REQUEST);
                        g_assert_cmpstr(p.request.last_event_id, ==, want[i]);
                        d += used;
                        http_parser_next(&p);
                }
                http_parser_done(&p);
        }
}

static void test_parse_simple(void) {
        static const char req[] = "GET /v1/jobs?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";
        /* Every split position must give the same result. */
        for (size_t step = 1; step <= sizeof(req); step++) {
                HttpParser p;
                size_t used;

                http_parser_init_request(&p);
                g_assert_cmpint(feed(&p, req, strlen(req), step, &used), ==, HTTP_FEED_REQUEST);
                g_assert_cmpuint(used, ==, strlen(req));
                g_assert_cmpint(p.request.method, ==, HTTP_GET);
                g_assert_cmpstr(p.request.url, ==, "/v1/jobs?x=1");
                g_assert_true(p.request.keep_alive);
                g_assert_cmpuint(p.request.body_size, ==, 0);
                http_parser_done(&p);
        }
}

static void test_parse_pipelined(void) {
        static const char req[] = "POST /v1/jobs HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd"
                                  "GET /v1/jobs HTTP/1.1\r\nConnection: close\r\n\r\n"
                                  "GET /v1/jobs HTTP/1.0\r\n\r\n";
        HttpParser p;
        size_t used, off = 0;

        http_parser_init_request(&p);
        g_assert_cmpint(feed(&p, req, strlen(req), SIZE_MAX, &used), ==, HTTP_FEED_REQUEST);
        g_assert_cmpint(p.request.method, ==, HTTP_POST);
        g_assert_cmpuint(p.request.body_size, ==, 4);
        g_assert_cmpmem(p.request.body, 4, "abcd", 4);
        off += used;
        /* Not calling next() keeps the request. */
        g_assert_cmpint(feed(&p, req + off, strlen(req) - off, SIZE_MAX, &used), ==, HTTP_FEED_REQUEST);
        g_assert_cmpuint(used, ==, 0);

        http_parser_next(&p);
        g_assert_cmpint(feed(&p, req + off, strlen(req) - off, SIZE_MAX, &used), ==, HTTP_FEED_REQUEST);
        g_assert_cmpint(p.request.method, ==, HTTP_GET);
        g_assert_false(p.request.keep_alive);
        off += used;

        http_parser_next(&p);
        g_assert_cmpint(feed(&p, req + off, strlen(req) - off, SIZE_MAX, &used), ==, HTTP_FEED_REQUEST);
        g_assert_false(p.request.keep_alive);   /* HTTP/1.0 without keep-alive */
        off += used;
        g_assert_cmpuint(off, ==, strlen(req));
        http_parser_done(&p);
}

static void test_parse_chunked_body(void) {
        static const char req[] = "POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        HttpParser p;

        http_parser_init_request(&p);
        g_assert_cmpint(feed(&p, req, strlen(req), 3, NULL), ==, HTTP_FEED_REQUEST);
        g_assert_cmpuint(p.request.body_size, ==, 5);
        g_assert_cmpstr(p.request.body, ==, "abcde");
        http_parser_done(&p);
}

/* A job's input is streamed: the parser stops after the headers (HTTP_FEED_HEADERS, no 100 Continue of its
 * own), then hands out each piece of the body (HTTP_FEED_BODY) without collecting it, however large, and ends
 * with HTTP_FEED_REQUEST; the request after it parses as usual. step: bytes fed at a time. */
static void assert_streamed(const char *req, size_t size, size_t step, const char *body, size_t body_size,
                            bool expect_continue) {
        g_autoptr(GString) got = g_string_new(NULL);
        HttpParser p;
        size_t off = 0;
        unsigned headers = 0;
        bool done = false;

        http_parser_init_request(&p);
        p.body_max = 4;   /* never applies to a streamed body */
        while (!done && off < size) {
                size_t used = 0, n = MIN(step, size - off);
                HttpFeedResult f = http_parser_feed_data(&p, req + off, n, &used);

                g_assert_cmpint(f, !=, HTTP_FEED_ERROR);
                g_assert_cmpint(f, !=, HTTP_FEED_CONTINUE);
                if (f == HTTP_FEED_HEADERS) {
                        headers++;
                        g_assert_true(p.request.body_streamed);
                        g_assert_cmpint(p.request.expect_continue, ==, expect_continue);
                        g_assert_cmpuint(got->len, ==, 0);
                } else if (f == HTTP_FEED_BODY) {
                        g_assert_cmpuint(headers, ==, 1);
                        g_string_append_len(got, p.request.body_chunk, (gssize) p.request.body_chunk_size);
                } else if (f == HTTP_FEED_REQUEST)
                        done = true;
                off += used;
        }
        g_assert_true(done);
        g_assert_cmpuint(headers, ==, 1);
        g_assert_cmpuint(p.request.body_size, ==, 0);
        g_assert_cmpmem(got->str, got->len, body, body_size);
        http_parser_next(&p);
        g_assert_cmpint(feed(&p, "GET /v1/jobs HTTP/1.1\r\n\r\n", 26, SIZE_MAX, NULL), ==, HTTP_FEED_REQUEST);
        g_assert_false(p.request.body_streamed);
        http_parser_done(&p);
}

static void test_parse_streamed_body(void) {
        static const char sized[] = "POST /v1/jobs/0b1e6c7a-3c1d-4c55-9d3e-2f4d5e6a7b8c/input HTTP/1.1\r\n"
                                    "Content-Length: 11\r\n\r\nhello\0world";
        static const char chunked[] = "POST /v1/jobs/0b1e6c7a-3c1d-4c55-9d3e-2f4d5e6a7b8c/input HTTP/1.1\r\n"
                                      "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n";
        static const char empty[] = "POST /v1/jobs/0b1e6c7a-3c1d-4c55-9d3e-2f4d5e6a7b8c/input HTTP/1.1\r\n"
                                    "Content-Length: 0\r\n\r\n";

        for (size_t step = 1; step <= 64; step *= 2) {
                assert_streamed(sized, sizeof(sized) - 1, step, "hello\0world", 11, false);
                assert_streamed(chunked, sizeof(chunked) - 1, step, "abcdefgh", 8, true);
                assert_streamed(empty, sizeof(empty) - 1, step, "", 0, false);
        }
}

static void test_parse_expect_continue(void) {
        static const char head[] = "POST /v1/jobs HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        HttpParser p;
        size_t used;

        http_parser_init_request(&p);
        g_assert_cmpint(feed(&p, head, strlen(head), SIZE_MAX, &used), ==, HTTP_FEED_CONTINUE);
        g_assert_cmpint(feed(&p, "{}", 2, SIZE_MAX, &used), ==, HTTP_FEED_REQUEST);
        g_assert_true(p.request.expect_continue);
        http_parser_done(&p);
}

static void expect_error(const char *req, size_t size, unsigned status, const char *code) {
        HttpParser p;

        g_test_message("expect %u for: %.*s", status, (int) MIN(size, 60U), req);
        http_parser_init_request(&p);
        g_assert_cmpint(feed(&p, req, size, 7, NULL), ==, HTTP_FEED_ERROR);
        g_assert_cmpuint(p.error.status, ==, status);
        g_assert_cmpstr(p.error.code, ==, code);
        /* Errors are sticky. */
        g_assert_cmpint(feed(&p, "GET / HTTP/1.1\r\n\r\n", 18, 100, NULL), ==, HTTP_FEED_ERROR);
        http_parser_done(&p);
}

static void test_parse_errors(void) {
        g_autoptr(GString) big = g_string_new("GET /v1/jobs HTTP/1.1\r\n");
        g_autoptr(GString) longurl = g_string_new("GET /");
        g_autoptr(GString) chunked = g_string_new("POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");

#define EXPECT_ERROR(req, status, code) expect_error(req, strlen(req), status, code)
        EXPECT_ERROR("BLAH\r\n\r\n", 400, "bad-request");
        EXPECT_ERROR("GET /v1/jobs HTTP/1.1\r\nHost a\r\n\r\n", 400, "bad-request");
        EXPECT_ERROR("GET /v1/jobs HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
                     "bad-request");
        EXPECT_ERROR("GET /v1/jobs HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                     "bad-request");
        EXPECT_ERROR("GET /v1/jobs HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", 400,
                     "bad-request");
        expect_error("GET /v1/\0jobs HTTP/1.1\r\n\r\n", 26, 400, "bad-request");

        /* Header limit: many small headers. */
        for (unsigned i = 0; i < 2000; i++)
                g_string_append_printf(big, "X-Filler-%u: 0123456789\r\n", i);
        g_string_append(big, "\r\n");
        expect_error(big->str, big->len, 413, "headers-too-large");
        /* A request target above its own limit. */
        for (unsigned i = 0; i < 5000; i++)
                g_string_append_c(longurl, 'a');
        g_string_append(longurl, " HTTP/1.1\r\n\r\n");
        expect_error(longurl->str, longurl->len, 413, "headers-too-large");

        /* Body limit: declared, and chunked. */
        EXPECT_ERROR("POST /v1/jobs HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413, "body-too-large");
        for (unsigned i = 0; i < 20; i++) {
                g_string_append_printf(chunked, "10000\r\n");
                for (unsigned k = 0; k < 0x10000; k++)
                        g_string_append_c(chunked, 'x');
                g_string_append(chunked, "\r\n");
        }
        expect_error(chunked->str, chunked->len, 413, "body-too-large");
}

/* POST …/attach with Connection: upgrade and Upgrade: tcp: a complete request whose head alone is consumed (the
 * keys after it are the stream's), split anywhere; the headers as tokens of their lists; without them a plain
 * request (the bridge answers 400); another route's Upgrade stays refused. */
static void test_parse_upgrade(void) {
        static const struct {
                const char *head;
                bool connection, upgrade_tcp, upgrade;
        } cases[] = {
                { "Connection: Upgrade\r\nUpgrade: tcp\r\n", true, true, true },
                { "connection: keep-alive, UPGRADE\r\nupgrade: TCP\r\n", true, true, true },
                { "Connection: upgrade\r\nUpgrade: h2c, tcp\r\n", true, true, true },
                { "Connection: upgrade\r\nUpgrade: websocket\r\n", true, false, true },
                { "Upgrade: tcp\r\n", false, true, false },
                { "Connection: Upgrade\r\n", true, false, false },
                { "Connection: upgraded\r\nUpgrade: tcp/1\r\n", false, false, false },
                { "", false, false, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *req = g_strdup_printf("POST /v1/jobs/8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10/attach "
                                                       "HTTP/1.1\r\nHost: a\r\n%s\r\nkeys\n", cases[i].head);
                size_t head = strlen(req) - strlen("keys\n");

                for (size_t step = 1; step <= strlen(req); step++) {
                        HttpParser p;
                        size_t used;

                        http_parser_init_request(&p);
                        g_assert_cmpint(feed(&p, req, strlen(req), step, &used), ==, HTTP_FEED_REQUEST);
                        g_assert_cmpuint(used, ==, head);
                        g_assert_cmpint(p.request.connection_upgrade, ==, cases[i].connection);
                        g_assert_cmpint(p.request.upgrade_tcp, ==, cases[i].upgrade_tcp);
                        g_assert_cmpint(p.request.upgrade, ==, cases[i].upgrade);
                        http_parser_done(&p);
                        if (!cases[i].upgrade)
                                break;   /* a plain request: the rest would be parsed as the next one */
                }
        }
        EXPECT_ERROR("POST /v1/jobs/8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10/input HTTP/1.1\r\nConnection: upgrade\r\n"
                     "Upgrade: tcp\r\n\r\n", 400, "bad-request");
}

static void test_parse_body_at_limit(void) {
        g_autoptr(GString) req = g_string_new("");
        HttpParser p;

        g_string_printf(req, "POST /v1/jobs HTTP/1.1\r\nContent-Length: %u\r\n\r\n", HTTP_BODY_MAX);
        for (unsigned i = 0; i < HTTP_BODY_MAX; i++)
                g_string_append_c(req, ' ');
        http_parser_init_request(&p);
        g_assert_cmpint(feed(&p, req->str, req->len, 16384, NULL), ==, HTTP_FEED_REQUEST);
        g_assert_cmpuint(p.request.body_size, ==, HTTP_BODY_MAX);
        http_parser_done(&p);
}

#define ID "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10"

static void test_route_metrics(void) {
        HttpRoute r;
        HttpError e = {};

        g_assert_cmpint(http_route(HTTP_GET, "/v1/metrics", 11, &r, &e), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_METRICS);
        g_assert_cmpstr(http_route_to_string(r.id), ==, "metrics");
        g_assert_cmpint(http_route(HTTP_POST, "/v1/metrics", 11, &r, &e), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 405);
        g_assert_cmpstr(e.allow, ==, "GET");
        g_assert_cmpint(http_route(HTTP_GET, "/v1/metrics/x", 13, &r, &e), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 404);
        g_assert_cmpint(http_route(HTTP_GET, "/v1/metrics?x=1", 15, &r, &e), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
}

static void test_route(void) {
        HttpRoute r;
        HttpError e = {};

#define ROUTE(m, u) http_route(m, u, strlen(u), &r, &e)
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOBS_LIST);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOBS_START);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOB_GET);
        g_assert_cmpstr(r.job_id, ==, ID);
        g_assert_false(r.wait);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "?wait=true"), ==, 0);
        g_assert_true(r.wait);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "?wait=0"), ==, 0);
        g_assert_false(r.wait);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/stop"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOB_STOP);
        /* lifecycle: DELETE, kill with its signal, and a job named by a prefix of its id */
        g_assert_cmpint(ROUTE(HTTP_DELETE, "/v1/jobs/" ID), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOB_DELETE);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/kill"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOB_KILL);
        g_assert_cmpint(r.signal, ==, SIGTERM);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/kill?signal=USR1"), ==, 0);
        g_assert_cmpint(r.signal, ==, SIGUSR1);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/kill?signal=9"), ==, 0);
        g_assert_cmpint(r.signal, ==, SIGKILL);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/kill?signal=STOP"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/kill?signal=TERM&signal=KILL"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/stop?signal=KILL"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        /* stop with a grace of its own */
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/stop"), ==, 0);
        g_assert_cmpuint(r.stop_usec, ==, UINT64_MAX);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/stop?time=3"), ==, 0);
        g_assert_cmpuint(r.stop_usec, ==, 3 * 1000000);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/stop?time=1.5"), ==, -EINVAL);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/stop?time=1&time=2"), ==, -EINVAL);
        /* list filters */
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs"), ==, 0);
        g_assert_false(r.filtered);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs?state=running,failed&since=1700000000&owner=bob&last=5&cursor="),
                        ==, 0);
        g_assert_true(r.filtered);
        g_assert_cmpuint(r.states, ==, (1U << JOB_RUNNING) | (1U << JOB_FAILED));
        g_assert_cmpuint(r.since_usec, ==, UINT64_C(1700000000) * 1000000);
        g_assert_cmpstr(r.owner, ==, "bob");
        g_assert_cmpuint(r.last, ==, 5);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs?state=bogus"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs?state=running&state=failed"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs?last=0"), ==, -EINVAL);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs?owner=a%2Fb"), ==, -EINVAL);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs?since=-1"), ==, -EINVAL);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "?state=running"), ==, -EINVAL);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/8c1f0e9e-4a"), ==, 0);
        g_assert_cmpstr(r.job_id, ==, "8c1f0e9e-4a");
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/8c1"), ==, -EINVAL);
        g_assert_cmpstr(e.code, ==, "invalid-job-id");
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/8c1f0e9e4a"), ==, -EINVAL);
        g_assert_cmpstr(e.code, ==, "invalid-job-id");
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOB_OUTPUT);
        g_assert_cmpuint(r.offset, ==, 0);
        g_assert_false(r.follow);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output?offset=4096&follow=true"), ==, 0);
        g_assert_cmpuint(r.offset, ==, 4096);
        g_assert_true(r.follow);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output?follow=1&&offset=%31%30&"), ==, 0);
        g_assert_cmpuint(r.offset, ==, 10);
        g_assert_true(r.follow);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/input"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOB_INPUT);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/input"), <, 0);
        g_assert_cmpuint(e.status, ==, 405);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/attach"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOB_ATTACH);
        g_assert_cmpuint(r.offset, ==, 0);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/attach?offset=42"), ==, 0);
        g_assert_cmpuint(r.offset, ==, 42);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/attach?follow=true"), <, 0);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/attach"), <, 0);
        g_assert_cmpuint(e.status, ==, 405);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/resize?rows=25&cols=90"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_JOB_RESIZE);
        g_assert_cmpuint(r.rows, ==, 25);
        g_assert_cmpuint(r.cols, ==, 90);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/resize?rows=25"), <, 0);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/resize?rows=0&cols=1"), <, 0);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/resize?rows=1&cols=65536"), <, 0);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID "/resize?rows=1&cols=2&rows=3"), <, 0);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output?rows=1"), <, 0);

        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/events"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_EVENTS);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/version"), ==, 0);
        g_assert_cmpint(r.id, ==, HTTP_ROUTE_VERSION);
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/events"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 405);
        g_assert_cmpstr(e.allow, ==, "GET");
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/events?offset=1"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/versions"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 404);

        /* 404 */
        g_assert_cmpint(ROUTE(HTTP_GET, "/"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 404);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 404);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output/x"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 404);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v2/jobs"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 404);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/../../etc"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 404);

        /* 405 with Allow */
        g_assert_cmpint(ROUTE(HTTP_DELETE, "/v1/jobs"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 405);
        g_assert_cmpstr(e.allow, ==, "GET, POST");
        g_assert_cmpint(ROUTE(HTTP_POST, "/v1/jobs/" ID), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 405);
        g_assert_cmpstr(e.allow, ==, "GET, DELETE");
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/kill"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 405);
        g_assert_cmpstr(e.allow, ==, "POST");
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/stop"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 405);
        g_assert_cmpstr(e.allow, ==, "POST");
        g_assert_cmpint(ROUTE(HTTP_PUT, "/v1/jobs/" ID "/output"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 405);

        /* 400: ids, queries, absolute forms */
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/_not-a-job"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpstr(e.code, ==, "invalid-job-id");
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "0000000000000"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "?follow=true"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs?wait=true"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "?wait=maybe"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "?wait=true&wait=true"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output?offset=-1"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output?offset=99999999999999999999999"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output?offset=%zz"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output?offset=1%00"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "/v1/jobs/" ID "/output?offset"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "http://host/v1/jobs"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
        g_assert_cmpint(ROUTE(HTTP_GET, "*"), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, 400);
#undef ROUTE
}

/* The output route's stream parameters (issue 15): each value checked, repeats refused, times in both forms. */
static void test_route_output_streams(void) {
        HttpRoute r;
        HttpError e = {};

#define ROUTE(u) http_route(HTTP_GET, u, strlen(u), &r, &e)
        g_assert_cmpint(ROUTE("/v1/jobs/" ID "/output"), ==, 0);
        g_assert_cmpuint(r.output.set, ==, 0);
        g_assert_false(http_output_query_extended(&r.output));
        g_assert_cmpint(ROUTE("/v1/jobs/" ID "/output?stream=stderr&follow=true&tail=5&timestamps=true"), ==, 0);
        g_assert_true(http_output_query_extended(&r.output));
        g_assert_cmpstr(r.output.stream, ==, "stderr");
        g_assert_cmpuint(r.output.tail, ==, 5);
        g_assert_true(r.output.timestamps);
        g_assert_false(r.output.framed);
        g_assert_true(r.follow);
        g_assert_cmpuint(r.output.set, ==, OUTPUT_OPT_STREAM | OUTPUT_OPT_TAIL | OUTPUT_OPT_TIMESTAMPS);
        g_assert_cmpint(ROUTE("/v1/jobs/" ID "/output?since=1764766800.25&until=2025-12-03T13:20:01Z&framed=1"),
                        ==, 0);
        g_assert_cmpuint(r.output.since, ==, UINT64_C(1764766800250000));
        g_assert_cmpuint(r.output.until, ==, UINT64_C(1764768001000000));
        g_assert_true(r.output.framed);
        g_assert_cmpint(ROUTE("/v1/jobs/" ID "/output?since=2025-12-03T14%3A20%3A01%2B01%3A00"), ==, 0);
        g_assert_cmpuint(r.output.since, ==, UINT64_C(1764768001000000));

        static const char *const bad[] = {
                "/v1/jobs/" ID "/output?stream=all",
                "/v1/jobs/" ID "/output?stream=stdout&stream=stderr",
                "/v1/jobs/" ID "/output?since=yesterday",
                "/v1/jobs/" ID "/output?since=5m",               /* a duration: by whose clock? */
                "/v1/jobs/" ID "/output?since=2026-02-30T00:00:00Z",
                "/v1/jobs/" ID "/output?since=2026-12-03T13:20:01",
                "/v1/jobs/" ID "/output?until=99999999999999999999",
                "/v1/jobs/" ID "/output?tail=-1",
                "/v1/jobs/" ID "/output?tail=1&tail=2",
                "/v1/jobs/" ID "/output?framed=maybe",
                "/v1/jobs/" ID "/output?timestamps=",
                "/v1/jobs/" ID "?stream=stdout",                 /* only the output route takes them */
                "/v1/jobs/" ID "/output?since=1111111111111111111111111111111111111111111111111111111111111111111",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_test_message("%s", bad[i]);
                g_assert_cmpint(ROUTE(bad[i]), ==, -EINVAL);
                g_assert_cmpuint(e.status, ==, 400);
        }
#undef ROUTE
}

static void test_query(void) {
        const char *p = "a=1&b=x%20y+z&&c=";
        char k[8], v[16];

        g_assert_cmpint(http_query_next(&p, k, sizeof(k), v, sizeof(v)), ==, 1);
        g_assert_cmpstr(k, ==, "a");
        g_assert_cmpstr(v, ==, "1");
        g_assert_cmpint(http_query_next(&p, k, sizeof(k), v, sizeof(v)), ==, 1);
        g_assert_cmpstr(k, ==, "b");
        g_assert_cmpstr(v, ==, "x y z");
        g_assert_cmpint(http_query_next(&p, k, sizeof(k), v, sizeof(v)), ==, 1);
        g_assert_cmpstr(k, ==, "c");
        g_assert_cmpstr(v, ==, "");
        g_assert_cmpint(http_query_next(&p, k, sizeof(k), v, sizeof(v)), ==, 0);

        p = "abcdefghij=1";
        g_assert_cmpint(http_query_next(&p, k, sizeof(k), v, sizeof(v)), ==, -EINVAL);
        p = "a=%4";
        g_assert_cmpint(http_query_next(&p, k, sizeof(k), v, sizeof(v)), ==, -EINVAL);
        p = "a=%";
        g_assert_cmpint(http_query_next(&p, k, sizeof(k), v, sizeof(v)), ==, -EINVAL);
        p = "=1";
        g_assert_cmpint(http_query_next(&p, k, sizeof(k), v, sizeof(v)), ==, -EINVAL);
}

static int parse_job(const char *json, StartRequest *r, HttpError *e) {
        *e = (HttpError) {};
        return http_job_request_parse(json, strlen(json), r, e);
}

static void test_job_json_good(void) {
        StartRequest r = {};
        HttpError e;

        g_assert_cmpint(parse_job("{\"argv\": [\"/bin/echo\", \"hello world\"]}", &r, &e), ==, 0);
        g_assert_cmpstr(r.argv[0], ==, "/bin/echo");
        g_assert_cmpstr(r.argv[1], ==, "hello world");
        g_assert_null(r.argv[2]);
        g_assert_nonnull(r.env);
        g_assert_null(r.env[0]);
        g_assert_cmpstr(r.cwd, ==, "");
        g_assert_false(r.limits.cpu_quota_per_sec_usec || r.limits.memory_max || r.limits.tasks_max);
        g_assert_cmpint(r.isolation.private_pid, ==, -1);
        g_assert_cmpuint(r.runtime_max_usec, ==, 0);
        g_assert_null(r.profile);
        g_assert_cmpint(r.stdin_kind, ==, START_STDIN_NULL);
        g_assert_cmpuint(r.tty_rows, ==, 0);
        start_request_done(&r);

        g_assert_cmpint(parse_job("{\"argv\": [\"sh\"], \"stdin\": \"stream\", \"tty\": {\"rows\": 30, \"cols\": 100}}",
                                  &r, &e), ==, 0);
        g_assert_cmpint(r.stdin_kind, ==, START_STDIN_STREAM);
        g_assert_cmpuint(r.tty_rows, ==, 30);
        g_assert_cmpuint(r.tty_cols, ==, 100);
        start_request_done(&r);

        g_assert_cmpint(parse_job("{\"argv\": [\"env\"], \"env\": {\"A\": \"1\", \"B\": \"x=y\"}, \"cwd\": \"/tmp\","
                                  " \"limits\": {\"cpu\": \"150%\", \"memory\": \"256M\", \"io_read\": 1048576,"
                                  " \"io_write\": \"10M\", \"tasks\": 64}}\n", &r, &e), ==, 0);
        g_assert_cmpstr(r.env[0], ==, "A=1");
        g_assert_cmpstr(r.env[1], ==, "B=x=y");
        g_assert_null(r.env[2]);
        g_assert_cmpstr(r.cwd, ==, "/tmp");
        g_assert_cmpuint(r.limits.cpu_quota_per_sec_usec, ==, 1500000);
        g_assert_cmpuint(r.limits.memory_max, ==, 256U << 20);
        g_assert_cmpuint(r.limits.io_read_bandwidth_max, ==, 1048576);
        g_assert_cmpuint(r.limits.io_write_bandwidth_max, ==, 10U << 20);
        g_assert_cmpuint(r.limits.tasks_max, ==, 64);
        start_request_done(&r);

        g_assert_cmpint(parse_job("{\"argv\": [\"x\"], \"env\": [\"A=1\", \"B=\"], \"limits\": {\"cpu\": 250000,"
                                  " \"tasks\": \"10\"}}", &r, &e), ==, 0);
        g_assert_cmpstr(r.env[0], ==, "A=1");
        g_assert_cmpstr(r.env[1], ==, "B=");
        g_assert_cmpuint(r.limits.cpu_quota_per_sec_usec, ==, 250000);
        g_assert_cmpuint(r.limits.tasks_max, ==, 10);
        start_request_done(&r);

        /* Profile, run-time limit and isolation: absent isolation keys stay -1 (the daemon's default). */
        g_assert_cmpint(parse_job("{\"argv\": [\"x\"], \"profile\": \"small\", \"timeout_sec\": 1.5,"
                                  " \"isolation\": {\"private_network\": false, \"protect_system\": true}}", &r, &e), ==, 0);
        g_assert_cmpstr(r.profile, ==, "small");
        g_assert_cmpuint(r.runtime_max_usec, ==, 1500000);
        g_assert_cmpint(r.isolation.private_network, ==, 0);
        g_assert_cmpint(r.isolation.protect_system, ==, 1);
        g_assert_cmpint(r.isolation.private_pid, ==, -1);
        g_assert_cmpint(r.isolation.private_tmp, ==, -1);
        start_request_done(&r);

        /* Unicode passes as UTF-8. */
        g_assert_cmpint(parse_job("{\"argv\": [\"echo\", \"\\u00e9t\\u00e9\"]}", &r, &e), ==, 0);
        g_assert_cmpstr(r.argv[1], ==, "\xc3\xa9t\xc3\xa9");
        start_request_done(&r);
}

static void expect_job_error(const char *json, size_t size, unsigned status, const char *code) {
        StartRequest r = {};
        HttpError e = {};

        g_test_message("expect %u for: %.*s", status, (int) MIN(size, 80U), json);
        g_assert_cmpint(http_job_request_parse(json, size, &r, &e), ==, -EINVAL);
        g_assert_cmpuint(e.status, ==, status);
        g_assert_cmpstr(e.code, ==, code);
        g_assert_null(r.argv);
        g_assert_null(r.env);
}

#define BAD(json) expect_job_error(json, strlen(json), 400, "invalid-request")
#define BADJSON(json) expect_job_error(json, strlen(json), 400, "invalid-json")

static void test_job_json_bad(void) {
        BAD("{\"argv\": [\"x\"], \"stdin\": \"fd\"}");       /* an fd means nothing over HTTP */
        BAD("{\"argv\": [\"x\"], \"stdin\": \"tty\"}");
        BAD("{\"argv\": [\"x\"], \"stdin\": true}");
        BAD("{\"argv\": [\"x\"], \"tty\": true}");
        BAD("{\"argv\": [\"x\"], \"tty\": {\"rows\": 0, \"cols\": 80}}");
        BAD("{\"argv\": [\"x\"], \"tty\": {\"rows\": 24}}");
        BAD("{\"argv\": [\"x\"], \"tty\": {\"rows\": 24, \"cols\": 4097}}");
        BAD("{\"argv\": [\"x\"], \"tty\": {\"rows\": 24, \"cols\": 80, \"x\": 1}}");
        BAD("{\"argv\": [\"x\"], \"profile\": \"\"}");
        BAD("{\"argv\": [\"x\"], \"profile\": 3}");
        BAD("{\"argv\": [\"x\"], \"timeout_sec\": 0}");
        BAD("{\"argv\": [\"x\"], \"timeout_sec\": \"10\"}");
        BAD("{\"argv\": [\"x\"], \"timeout_sec\": 1e12}");
        BAD("{\"argv\": [\"x\"], \"isolation\": []}");
        BAD("{\"argv\": [\"x\"], \"isolation\": {\"private_pid\": 1}}");
        BAD("{\"argv\": [\"x\"], \"isolation\": {\"private_users\": true}}");
        BADJSON("");
        BADJSON("   ");
        BADJSON("{");
        BADJSON("{\"argv\": [\"x\"]} {}");
        BADJSON("{\"argv\": [\"x\"]}x");
        BADJSON("{'argv': ['x']}");
        BADJSON("{\"argv\": [\"x\",]}");
        BADJSON("{\"argv\": [\"/bin/true\"], \"cwd\": \"/\", \"cwd\": \"/root\"}"); /* a key twice */
        BADJSON("{\"argv\": [\"x\"], \"limits\": {\"memory_max\": 1, \"memory_max\": 2}}");
        BADJSON("{\"argv\": [\"x\"], \"a\\u0072gv\": [\"y\"]}");   /* argv spelt with an escape */
        BADJSON("{\"argv\": [\"\xff\"]}");                  /* invalid UTF-8 */
        BADJSON("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
        expect_job_error("{\"argv\": [\"x\"]}\0", 16, 400, "invalid-json");

        BAD("[]");
        BAD("\"x\"");
        BAD("{}");
        BAD("{\"argv\": []}");
        BAD("{\"argv\": [\"\"]}");
        BAD("{\"argv\": \"/bin/true\"}");
        BAD("{\"argv\": [1]}");
        BAD("{\"argv\": [null]}");
        BAD("{\"argv\": [\"a\\u0000b\"]}");               /* embedded NUL */
        BAD("{\"argv\": [\"x\"], \"unknown\": 1}");
        BAD("{\"argv\": [\"x\"], \"cwd\": 1}");
        BAD("{\"argv\": [\"x\"], \"cwd\": null}");
        BAD("{\"argv\": [\"x\"], \"env\": \"A=1\"}");
        BAD("{\"argv\": [\"x\"], \"env\": [\"A\"]}");
        BAD("{\"argv\": [\"x\"], \"env\": [\"=1\"]}");
        BAD("{\"argv\": [\"x\"], \"env\": [1]}");
        BAD("{\"argv\": [\"x\"], \"env\": {\"\": \"1\"}}");
        BAD("{\"argv\": [\"x\"], \"env\": {\"A=B\": \"1\"}}");
        BAD("{\"argv\": [\"x\"], \"env\": {\"A\": 1}}");
        BAD("{\"argv\": [\"x\"], \"limits\": []}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"cpus\": 1}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"cpu\": \"lots\"}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"cpu\": 1.5}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"cpu\": \"0%\"}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"memory\": -1}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"memory\": 0}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"memory\": \"12Q\"}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"memory\": true}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"memory\": \"99999999999T\"}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"tasks\": \"-3\"}}");
        BAD("{\"argv\": [\"x\"], \"limits\": {\"io_write\": null}}");
}

static void test_responses(void) {
        HttpBuffer b = {};
        HttpError e = {};
        g_autofree char *s = NULL;

        http_error_set(&e, 405, "method-not-allowed", "Use \"GET\" / POST.");
        e.allow = "GET, POST";
        g_assert_cmpint(http_buffer_add_error_response(&b, &e, true), ==, 0);
        s = g_strndup(http_buffer_head(&b), http_buffer_size(&b));
        g_assert_true(g_str_has_prefix(s, "HTTP/1.1 405 Method Not Allowed\r\n"));
        g_assert_nonnull(strstr(s, "\r\nAllow: GET, POST\r\n"));
        g_assert_nonnull(strstr(s, "\r\nConnection: keep-alive\r\n"));
        g_assert_nonnull(strstr(s, "\r\nContent-Type: application/json\r\n"));
        g_assert_true(g_str_has_suffix(s, "\r\n\r\n{\"error\":\"method-not-allowed\",\"message\":\"Use \\\"GET\\\" / "
                                          "POST.\"}\n"));
        g_assert_nonnull(strstr(s, "Content-Length: 63\r\n"));
        http_buffer_consume(&b, http_buffer_size(&b));
        g_assert_cmpuint(http_buffer_size(&b), ==, 0);

        g_assert_cmpint(http_buffer_add_chunk(&b, "hello", 5), ==, 0);
        g_assert_cmpint(http_buffer_add_chunk(&b, NULL, 0), ==, 0);
        g_assert_cmpmem(http_buffer_head(&b), http_buffer_size(&b), "5\r\nhello\r\n0\r\n\r\n", 15);
        http_buffer_consume(&b, 3);
        g_assert_cmpmem(http_buffer_head(&b), http_buffer_size(&b), "hello\r\n0\r\n\r\n", 12);
        http_buffer_done(&b);
        g_assert_cmpstr(http_status_text(429), ==, "Too Many Requests");
        g_assert_cmpstr(http_status_text(999), ==, "Unknown");
}

/* Collects a chunked body with libhttp-parser, as a client would. */
typedef struct ChunkedBody {
        GString *body;
        bool complete;
} ChunkedBody;

static int on_chunked_body(http_parser *hp, const char *at, size_t n) {
        g_string_append_len(((ChunkedBody *) hp->data)->body, at, (gssize) n);
        return 0;
}

static int on_chunked_complete(http_parser *hp) {
        ((ChunkedBody *) hp->data)->complete = true;
        return 0;
}

/* Chunks read in place: fixed-width size lines (leading zeros), any size up to max, a dropped reservation,
 * and a client's parser sees exactly the bytes. */
static void test_chunks_in_place(void) {
        static const http_parser_settings settings = {
                .on_body = on_chunked_body,
                .on_message_complete = on_chunked_complete,
        };
        static const size_t sizes[] = { 1, 15, 16, 4096, 65535, 65536, 262143, 262144 };
        ChunkedBody cb = { .body = g_string_new("") };
        g_autoptr(GString) expect = g_string_new("");
        HttpBuffer b = {};
        http_parser hp;
        char *p;
        size_t used;

        g_assert_cmpint(http_buffer_add_response_head(&b, 200, "application/octet-stream", -1, true, NULL), ==, 0);

        /* 262144 = 0x40000: five digits for every chunk. */
        g_assert_cmpint(http_buffer_begin_chunk(&b, 262144, &p), ==, 0);
        memcpy(p, "x", 1);
        http_buffer_commit_chunk(&b, 1);
        g_string_append_c(expect, 'x');
        g_assert_nonnull(g_strstr_len(http_buffer_head(&b), (gssize) http_buffer_size(&b), "\r\n\r\n00001\r\nx\r\n"));

        /* A reservation that read nothing leaves no trace. */
        g_assert_cmpint(http_buffer_begin_chunk(&b, 262144, &p), ==, 0);
        http_buffer_commit_chunk(&b, 0);

        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
                g_assert_cmpint(http_buffer_begin_chunk(&b, 262144, &p), ==, 0);
                for (size_t k = 0; k < sizes[i]; k++)
                        p[k] = (char) ('a' + (i * 7 + k) % 26);
                g_string_append_len(expect, p, (gssize) sizes[i]);
                http_buffer_commit_chunk(&b, sizes[i]);
                /* Consumed from the front meanwhile, as the connection does. */
                if (i % 2 == 0)
                        http_buffer_consume(&b, 100);
        }
        /* A small maximum: one digit. */
        g_assert_cmpint(http_buffer_begin_chunk(&b, 15, &p), ==, 0);
        memcpy(p, "0123456789abcde", 15);
        http_buffer_commit_chunk(&b, 15);
        g_string_append(expect, "0123456789abcde");
        g_assert_cmpint(http_buffer_add_chunk(&b, NULL, 0), ==, 0);
        g_assert_cmpmem(http_buffer_head(&b) + http_buffer_size(&b) - 25, 25, "f\r\n0123456789abcde\r\n0\r\n\r\n", 25);

        /* Parse what is left after the consumed bytes: rebuild from a fresh buffer instead. */
        http_buffer_done(&b);
        g_assert_cmpint(http_buffer_add_response_head(&b, 200, "application/octet-stream", -1, true, NULL), ==, 0);
        for (size_t off = 0; off < expect->len;) {
                size_t n = MIN(expect->len - off, (size_t) 100000);

                g_assert_cmpint(http_buffer_begin_chunk(&b, 100000, &p), ==, 0);
                memcpy(p, expect->str + off, n);
                http_buffer_commit_chunk(&b, n);
                off += n;
        }
        g_assert_cmpint(http_buffer_add_chunk(&b, NULL, 0), ==, 0);
        http_parser_init(&hp, HTTP_RESPONSE);
        hp.data = &cb;
        used = http_parser_execute(&hp, &settings, http_buffer_head(&b), http_buffer_size(&b));
        g_assert_cmpuint(used, ==, http_buffer_size(&b));
        g_assert_cmpint(HTTP_PARSER_ERRNO(&hp), ==, HPE_OK);
        g_assert_true(cb.complete);
        g_assert_cmpmem(cb.body->str, cb.body->len, expect->str, expect->len);

        http_buffer_release(&b);   /* not empty: kept */
        g_assert_nonnull(b.data);
        http_buffer_consume(&b, http_buffer_size(&b));
        http_buffer_release(&b);
        g_assert_null(b.data);
        g_string_free(cb.body, TRUE);
}

static void test_bus_errors(void) {
        static const struct {
                const char *name;
                unsigned status;
                const char *code;
        } cases[] = {
                { "org.freedesktop.DBus.Error.AccessDenied", 403, "access-denied" },
                { "org.freedesktop.DBus.Error.InvalidArgs", 400, "invalid-argument" },
                { "org.teleworker.worker1.Error.NoSuchJob", 404, "no-such-job" },
                { "org.teleworker.worker1.Error.ExecutableNotFound", 400, "executable-not-found" },
                { "org.teleworker.worker1.Error.LimitExceeded", 400, "limit-exceeded" },
                { "org.teleworker.worker1.Error.StartFailed", 500, "start-failed" },
                { "org.teleworker.worker1.Error.StopFailed", 500, "stop-failed" },
                { "org.teleworker.worker1.Error.NoOutput", 404, "no-output" },
                { "org.teleworker.worker1.Error.TooManyJobs", 429, "too-many-jobs" },
                { "org.teleworker.worker1.Error.TooManyReaders", 429, "too-many-readers" },
                { "org.teleworker.worker1.Error.ShuttingDown", 503, "daemon-unavailable" },
                { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", 403, "access-denied" },
                { "org.freedesktop.DBus.Error.Spawn.ChildExited", 503, "daemon-unavailable" },
                { "org.freedesktop.DBus.Error.Spawn", 500, "internal-error" },
                { "org.freedesktop.DBus.Error.ServiceUnknown", 503, "daemon-unavailable" },
                { "org.freedesktop.DBus.Error.NoReply", 503, "daemon-unavailable" },
                { "org.freedesktop.DBus.Error.UnknownMethod", 500, "internal-error" },
                { "com.example.Whatever", 500, "internal-error" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                HttpError e = {};

                sd_bus_error_set(&error, cases[i].name, "the daemon's words");
                gateway_error_from_bus(&error, -EIO, &e);
                g_assert_cmpuint(e.status, ==, cases[i].status);
                g_assert_cmpstr(e.code, ==, cases[i].code);
                if (e.status == 400 || e.status == 403 || e.status == 404)
                        g_assert_cmpstr(e.message, ==, "the daemon's words");
                sd_bus_error_free(&error);
        }
        {
                HttpError e = {};

                gateway_error_from_bus(NULL, -ENOTCONN, &e);
                g_assert_cmpuint(e.status, ==, 503);
                gateway_error_from_bus(NULL, -ENOMEM, &e);
                g_assert_cmpuint(e.status, ==, 500);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/http/parse/simple", test_parse_simple);
        g_test_add_func("/http/parse/pipelined", test_parse_pipelined);
        g_test_add_func("/http/parse/chunked-body", test_parse_chunked_body);
        g_test_add_func("/http/parse/expect-continue", test_parse_expect_continue);
        g_test_add_func("/http/parse/streamed-body", test_parse_streamed_body);
        g_test_add_func("/http/parse/errors", test_parse_errors);
        g_test_add_func("/http/parse/body-at-limit", test_parse_body_at_limit);
        g_test_add_func("/http/parse/upgrade", test_parse_upgrade);
        g_test_add_func("/http/parse/last-event-id", test_parse_last_event_id);
        g_test_add_func("/http/route", test_route);
        g_test_add_func("/http/route-metrics", test_route_metrics);
        g_test_add_func("/http/query", test_query);
        g_test_add_func("/http/route-output-streams", test_route_output_streams);
        g_test_add_func("/http/job-json/good", test_job_json_good);
        g_test_add_func("/http/job-json/bad", test_job_json_bad);
        g_test_add_func("/http/responses", test_responses);
        g_test_add_func("/http/chunks-in-place", test_chunks_in_place);
        g_test_add_func("/http/bus-errors", test_bus_errors);
        return g_test_run();
}
