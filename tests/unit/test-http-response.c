/* SPDX-License-Identifier: MIT */
/* test-http-response.c - the clients' response parser (src/transport/http-response.c): lengths, chunks, a body
 * ended by EOF, 1xx skipped, pipelined bytes left alone, the bounds on body and header lines, a streamed body
 * (and the "buffer it after all" answer), malformed input; every case fed whole and byte by byte. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "transport/http-response.h"

/* Feeds data in pieces of step bytes until the response is complete or fails; *ret_used is what it took. */
static int feed(HttpResponse *r, const char *data, size_t step, size_t *ret_used) {
        size_t size = strlen(data), off = 0;
        int k = 0;

        while (off < size && !r->complete) {
                size_t used = 0, n = MIN(step, size - off);

                k = http_response_feed(r, data + off, n, &used);
                off += used;
                if (k < 0)
                        break;
        }
        if (ret_used)
                *ret_used = off;
        return k;
}

static const size_t steps[] = { 1, 3, 4096 };

static void test_length(void) {
        const char *in = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Two:  a\r\n"
                         "Content-Length: 11\r\n\r\n{\"id\":\"j1\"}";

        for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
                HttpResponse r;
                size_t used;
                char v[64];

                http_response_init(&r, 1024, true);
                g_assert_cmpint(feed(&r, in, steps[i], &used), ==, 0);
                g_assert_true(r.complete);
                g_assert_true(r.head_done);
                g_assert_true(r.keep_alive);
                g_assert_false(r.chunked);
                g_assert_cmpuint(used, ==, strlen(in));
                g_assert_cmpuint(r.status, ==, 201);
                g_assert_cmpstr(r.body, ==, "{\"id\":\"j1\"}");
                g_assert_cmpuint(r.body_size, ==, 11);
                g_assert_cmpstr(http_response_header(&r, "content-type", v, sizeof(v)), ==, "application/json");
                g_assert_cmpstr(http_response_header(&r, "x-two", v, sizeof(v)), ==, "a");
                g_assert_cmpstr(http_response_header(&r, "content-length", v, 3), ==, "11");
                g_assert_cmpstr(http_response_header(&r, "content-length", v, 2), ==, "1");   /* cut */
                g_assert_null(http_response_header(&r, "content", v, sizeof(v)));
                g_assert_null(http_response_header(&r, "missing", v, sizeof(v)));
                http_response_done(&r);
        }
}

static void test_chunked_and_close(void) {
        for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
                HttpResponse r;

                http_response_init(&r, 1024, false);
                g_assert_cmpint(feed(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                         "5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n", steps[i], NULL), ==, 0);
                g_assert_true(r.complete);
                g_assert_true(r.chunked);
                g_assert_false(r.keep_alive);
                g_assert_cmpstr(r.body, ==, "hello!");
                g_assert_null(r.headers);   /* not kept */
                http_response_done(&r);
        }
}

static void test_eof_body(void) {
        HttpResponse r;

        /* No length: the body ends with the connection. */
        http_response_init(&r, 1024, false);
        g_assert_cmpint(feed(&r, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n{\"a\":1}", 2, NULL),
                        ==, 0);
        g_assert_true(r.head_done);
        g_assert_false(r.complete);
        g_assert_cmpint(http_response_feed(&r, NULL, 0, NULL), ==, 0);
        g_assert_true(r.complete);
        g_assert_cmpuint(r.status, ==, 503);
        g_assert_cmpstr(r.body, ==, "{\"a\":1}");
        http_response_done(&r);

        /* A length not reached: EOF leaves it incomplete. */
        http_response_init(&r, 1024, false);
        g_assert_cmpint(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 4096, NULL), ==, 0);
        (void) http_response_feed(&r, NULL, 0, NULL);
        g_assert_false(r.complete);
        http_response_done(&r);
}

static void test_continue_and_pipelined(void) {
        const char *in = "HTTP/1.1 100 Continue\r\nX-Info: 1\r\n\r\n"
                         "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"
                         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

        for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
                HttpResponse r;
                size_t used;
                char v[8];

                http_response_init(&r, 1024, true);
                g_assert_cmpint(feed(&r, in, steps[i], &used), ==, 0);
                g_assert_true(r.complete);
                g_assert_cmpuint(r.status, ==, 404);
                g_assert_cmpstr(r.body, ==, "{}");
                g_assert_null(http_response_header(&r, "x-info", v, sizeof(v)));   /* the 100's */
                /* The next response is not this one's. */
                g_assert_cmpuint(used, ==, strstr(in, "{}") + 2 - in);
                /* A complete response takes nothing more. */
                g_assert_cmpint(http_response_feed(&r, "HTTP", 4, &used), ==, 0);
                g_assert_cmpuint(used, ==, 0);
                http_response_done(&r);
        }
}

static void test_bounds(void) {
        g_autoptr(GString) big = g_string_new("HTTP/1.1 200 OK\r\n");
        HttpResponse r;

        /* Body over body_max, buffered: -EFBIG; exactly at it: fine. */
        http_response_init(&r, 4, false);
        g_assert_cmpint(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", 4096, NULL), ==, -EFBIG);
        g_assert_false(r.complete);
        http_response_done(&r);
        http_response_init(&r, 5, false);
        g_assert_cmpint(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", 1, NULL), ==, 0);
        g_assert_true(r.complete);
        http_response_done(&r);

        /* Header lines kept: at most HTTP_RESPONSE_HEADERS_MAX. Not kept: only libhttp-parser's bound. */
        while (big->len < 2 * HTTP_RESPONSE_HEADERS_MAX)
                g_string_append(big, "X-Filler: 0123456789012345678901234567890123456789\r\n");
        g_string_append(big, "Content-Length: 0\r\n\r\n");
        http_response_init(&r, 0, true);
        g_assert_cmpint(feed(&r, big->str, 4096, NULL), ==, -EFBIG);
        g_assert_cmpuint(r.headers_size, <=, HTTP_RESPONSE_HEADERS_MAX);
        http_response_done(&r);
        http_response_init(&r, 0, false);
        g_assert_cmpint(feed(&r, big->str, 4096, NULL), ==, 0);
        g_assert_true(r.complete);
        http_response_done(&r);
}

typedef struct Sink {
        GString *data;
        int fail;
} Sink;

static int sink_body(HttpResponse *r, const char *data, size_t size, void *userdata) {
        Sink *s = userdata;

        if (r->status != 200)
                return 1;   /* not the stream: buffered */
        if (s->fail)
                return s->fail;
        g_string_append_len(s->data, data, (gssize) size);
        return 0;
}

static void test_stream(void) {
        Sink s = { .data = g_string_new("") };
        HttpResponse r;

        /* A 200's body goes to the callback, past body_max, never to the buffer. */
        http_response_init(&r, 2, false);
        r.on_body = sink_body;
        r.userdata = &s;
        g_assert_cmpint(feed(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
                             5, NULL), ==, 0);
        g_assert_true(r.complete);
        g_assert_cmpstr(s.data->str, ==, "abcdef");
        g_assert_null(r.body);
        http_response_done(&r);

        /* Another status: buffered after all, bounded as usual. */
        http_response_init(&r, 64, false);
        r.on_body = sink_body;
        r.userdata = &s;
        g_assert_cmpint(feed(&r, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", 4096, NULL), ==, 0);
        g_assert_cmpstr(r.body, ==, "{}");
        http_response_done(&r);

        /* The callback's error stops the parse and comes back. */
        s.fail = -EPIPE;
        http_response_init(&r, 64, false);
        r.on_body = sink_body;
        r.userdata = &s;
        g_assert_cmpint(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nxy", 4096, NULL), ==, -EPIPE);
        g_assert_false(r.complete);
        /* And stays stopped. */
        g_assert_cmpint(http_response_feed(&r, "z", 1, NULL), ==, -EPIPE);
        http_response_done(&r);
        g_string_free(s.data, TRUE);
}

static void test_malformed(void) {
        static const char *const bad[] = {
                "HTTP/1.1 2x0 OK\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "GET / HTTP/1.1\r\n\r\n",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                HttpResponse r;

                http_response_init(&r, 64, true);
                g_test_message("bad %zu", i);
                g_assert_cmpint(feed(&r, bad[i], 1, NULL), ==, -EBADMSG);
                g_assert_false(r.complete);
                http_response_done(&r);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/http-response/length", test_length);
        g_test_add_func("/http-response/chunked-and-close", test_chunked_and_close);
        g_test_add_func("/http-response/eof-body", test_eof_body);
        g_test_add_func("/http-response/continue-and-pipelined", test_continue_and_pipelined);
        g_test_add_func("/http-response/bounds", test_bounds);
        g_test_add_func("/http-response/stream", test_stream);
        g_test_add_func("/http-response/malformed", test_malformed);
        return g_test_run();
}
