/* SPDX-License-Identifier: MIT */
/* http.c - HTTP/1.1 request parsing on libhttp-parser, routing of the /v1 API, response framing. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "transport/http-job.h"
#include "transport/http-upgrade.h"
#include "gateway/http.h"
#include "shared/macro.h"
#include "shared/util.h"

#define HTTP_URL_MAX 4096
#define HTTP_BUFFER_MAX (256U * 1024U * 1024U)   /* sanity cap on any one buffer */

const char *http_status_text(unsigned status) {
        /* libhttp-parser knows the IANA reason phrases; it says "<unknown>" for anything else. */
        if (status < 100 || status > 599)
                return "Unknown";
        return http_status_str((enum http_status) status);
}

/* ---- request parsing ---------------------------------------------------------------------------------- */

static HttpParser *http_parser_from(http_parser *hp) {
        return (HttpParser *) ((char *) hp - offsetof(HttpParser, parser));
}

/* Counts request-head bytes against our limit; libhttp-parser's own limit (global, 80 KiB) stays a backstop. */
static int http_count_header_bytes(HttpParser *p, size_t n) {
        p->header_bytes += n;
        if (p->header_bytes > p->header_max) {
                http_error_set(&p->error, 413, "headers-too-large",
                               "The request line and headers exceed %zu bytes.", p->header_max);
                return -1;
        }
        return 0;
}

static int http_grow(char **buf, size_t *allocated, size_t need) {
        size_t a;
        char *n;

        if (need <= *allocated)
                return 0;
        a = MAX(need, MAX(*allocated * 2, (size_t) 256));
        n = realloc(*buf, a);
        if (!n)
                return -ENOMEM;
        *buf = n;
        *allocated = a;
        return 0;
}

static int on_message_begin(http_parser *hp) {
        HttpParser *p = http_parser_from(hp);

        p->request.url_size = 0;
        p->request.body_size = 0;
        p->request.expect_continue = false;
        p->request.last_event_id[0] = 0;
        p->request.connection_upgrade = p->request.upgrade_tcp = p->request.upgrade = false;
        p->header_bytes = 0;
        p->field_size = p->value_size = 0;
        p->in_value = false;
        p->continue_reported = false;
        p->headers_done = false;
        p->started = true;
        return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n) {
        HttpParser *p = http_parser_from(hp);

        if (http_count_header_bytes(p, n) < 0)
                return -1;
        if (p->request.url_size + n > HTTP_URL_MAX) {
                http_error_set(&p->error, 413, "headers-too-large", "The request target exceeds %u bytes.",
                               HTTP_URL_MAX);
                return -1;
        }
        if (http_grow(&p->request.url, &p->url_allocated, p->request.url_size + n + 1) < 0) {
                http_error_set(&p->error, 500, "internal-error", "Out of memory.");
                return -1;
        }
        memcpy(p->request.url + p->request.url_size, at, n);
        p->request.url_size += n;
        p->request.url[p->request.url_size] = 0;
        return 0;
}

/* A complete header line has been seen: act on the few headers we care about. */
static void http_header_complete(HttpParser *p) {
        if (!p->in_value)
                return;
        if (p->field_size == strlen("Expect") && strncasecmp(p->field, "Expect", p->field_size) == 0 &&
            p->value_size == strlen("100-continue") &&
            strncasecmp(p->value, "100-continue", p->value_size) == 0)
                p->request.expect_continue = true;
        /* An event id is our decimal sequence number; one longer than that cannot be ours. */
        if (p->field_size == strlen("Last-Event-ID") &&
            strncasecmp(p->field, "Last-Event-ID", p->field_size) == 0) {
                if (p->value_size < sizeof(p->request.last_event_id)) {
                        memcpy(p->request.last_event_id, p->value, p->value_size);
                        p->request.last_event_id[p->value_size] = 0;
                } else
                        strcpy(p->request.last_event_id, "-");   /* not one of ours: refused */
        }
        /* Lists, possibly over several lines; a value longer than our buffer holds no token of ours. */
        if (p->value_size <= sizeof(p->value)) {
                if (p->field_size == strlen("Connection") && strncasecmp(p->field, "Connection", p->field_size) == 0 &&
                    http_header_has_token(p->value, p->value_size, "upgrade"))
                        p->request.connection_upgrade = true;
                if (p->field_size == strlen("Upgrade") && strncasecmp(p->field, "Upgrade", p->field_size) == 0 &&
                    http_header_has_token(p->value, p->value_size, HTTP_UPGRADE_PROTOCOL))
                        p->request.upgrade_tcp = true;
        }
        p->field_size = p->value_size = 0;
        p->in_value = false;
}

static void http_append_small(char *buf, size_t max, size_t *size, const char *at, size_t n) {
        /* Only a prefix is kept; anything longer than the buffer is a header we do not recognize anyway, and
         * the size still grows so a long name never matches a short one. */
        if (*size < max)
                memcpy(buf + *size, at, MIN(n, max - *size));
        *size += n;
}

static int on_header_field(http_parser *hp, const char *at, size_t n) {
        HttpParser *p = http_parser_from(hp);

        /* ": " and CRLF of a new line count too. */
        if (http_count_header_bytes(p, n + (p->in_value || p->field_size == 0 ? 4 : 0)) < 0)
                return -1;
        http_header_complete(p);
        http_append_small(p->field, sizeof(p->field), &p->field_size, at, n);
        return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n) {
        HttpParser *p = http_parser_from(hp);

        if (http_count_header_bytes(p, n) < 0)
                return -1;
        p->in_value = true;
        http_append_small(p->value, sizeof(p->value), &p->value_size, at, n);
        return 0;
}

static bool http_is_route(const HttpParser *p, const http_parser *hp, HttpRouteId id) {
        HttpRoute route;
        HttpError e = {};

        return hp->method == HTTP_POST && p->request.url &&
               http_route(HTTP_POST, p->request.url, p->request.url_size, &route, &e) >= 0 && route.id == id;
}

/* Only a job's input is streamed: every other body is small JSON, collected whole within body_max. */
static bool http_streams_body(const HttpParser *p, const http_parser *hp) {
        return http_is_route(p, hp, HTTP_ROUTE_JOB_INPUT);
}

static int on_headers_complete(http_parser *hp) {
        HttpParser *p = http_parser_from(hp);

        http_header_complete(p);
        /* Only attach switches protocols; libhttp-parser stops after its head, and the bytes after it (keys the
         * client sent right away) stay unconsumed for the stream. */
        if (hp->upgrade && !http_is_route(p, hp, HTTP_ROUTE_JOB_ATTACH)) {
                http_error_set(&p->error, 400, "bad-request", "Protocol upgrades are not supported.");
                return -1;
        }
        p->request.upgrade = hp->upgrade;
        if (http_streams_body(p, hp)) {
                /* Stop here: the handler opens the job's input before a byte of the body is read. */
                p->streaming = p->request.body_streamed = true;
                p->continue_reported = true;
                p->request.keep_alive = http_should_keep_alive(hp);
                p->headers_done = true;
                p->request.method = hp->method;
                p->request.http_major = hp->http_major;
                p->request.http_minor = hp->http_minor;
                http_parser_pause(hp, 1);
                return 0;
        }
        if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->body_max) {
                http_error_set(&p->error, 413, "body-too-large", "The request body exceeds %zu bytes.",
                               p->body_max);
                return -1;
        }
        p->headers_done = true;
        p->request.method = hp->method;
        p->request.http_major = hp->http_major;
        p->request.http_minor = hp->http_minor;
        return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n) {
        HttpParser *p = http_parser_from(hp);

        if (p->streaming) {
                /* One piece at a time: the caller passes it on before it feeds more. */
                p->request.body_chunk = at;
                p->request.body_chunk_size = n;
                http_parser_pause(hp, 1);
                return 0;
        }
        if (n > p->body_max - p->request.body_size) {
                http_error_set(&p->error, 413, "body-too-large", "The request body exceeds %zu bytes.",
                               p->body_max);
                return -1;
        }
        if (http_grow(&p->request.body, &p->body_allocated, p->request.body_size + n + 1) < 0) {
                http_error_set(&p->error, 500, "internal-error", "Out of memory.");
                return -1;
        }
        memcpy(p->request.body + p->request.body_size, at, n);
        p->request.body_size += n;
        p->request.body[p->request.body_size] = 0;
        return 0;
}

static int on_message_complete(http_parser *hp) {
        HttpParser *p = http_parser_from(hp);

        p->request.keep_alive = http_should_keep_alive(hp);
        p->complete = true;
        /* Stop right after this message: pipelined requests are handled one at a time. */
        http_parser_pause(hp, 1);
        return 0;
}

static const http_parser_settings http_settings = {
        .on_message_begin = on_message_begin,
        .on_url = on_url,
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
};

void http_parser_init_request(HttpParser *p) {
        *p = (HttpParser) {
                .body_max = HTTP_BODY_MAX,
                .header_max = HTTP_HEADER_MAX,
        };
        http_parser_init(&p->parser, HTTP_REQUEST);
        /* A process-wide setting of the library; ours is the only parser in the process. Our own per-request
         * count above is the one that answers; this keeps the library from buffering more than that. */
        http_parser_set_max_header_size(HTTP_HEADER_MAX + 1024);
}

void http_parser_done(HttpParser *p) {
        free(p->request.url);
        free(p->request.body);
        p->request.url = p->request.body = NULL;
        p->url_allocated = p->body_allocated = 0;
}

void http_parser_next(HttpParser *p) {
        p->complete = false;
        p->started = false;
        p->headers_done = false;
        p->header_bytes = 0;
        p->request.url_size = 0;
        p->request.body_size = 0;
        p->streaming = p->request.body_streamed = false;
        p->request.body_chunk_size = 0;
        if (p->request.url)
                p->request.url[0] = 0;
        /* libhttp-parser asserts when an errored parser is (un)paused; an error is final anyway. */
        if (HTTP_PARSER_ERRNO(&p->parser) == HPE_PAUSED)
                http_parser_pause(&p->parser, 0);
}

bool http_parser_in_request(const HttpParser *p) {
        return p->started;
}

HttpFeedResult http_parser_feed_data(HttpParser *p, const void *data, size_t size, size_t *ret_consumed) {
        enum http_errno err;
        size_t n;

        *ret_consumed = 0;
        if (p->error.status > 0)
                return HTTP_FEED_ERROR;
        if (p->complete)   /* the caller did not call http_parser_next() */
                return HTTP_FEED_REQUEST;
        if (size == 0)
                return HTTP_FEED_MORE;

        /* A streamed request pauses after its headers and after each piece of its body. */
        p->request.body_chunk_size = 0;
        if (p->streaming && HTTP_PARSER_ERRNO(&p->parser) == HPE_PAUSED)
                http_parser_pause(&p->parser, 0);
        n = http_parser_execute(&p->parser, &http_settings, data, size);
        *ret_consumed = n;
        err = HTTP_PARSER_ERRNO(&p->parser);
        if (err == HPE_PAUSED && (p->complete || (p->streaming && p->request.body_chunk_size == 0))) {
                if (!p->request.url || memchr(p->request.url, 0, p->request.url_size) ||
                    p->request.url_size == 0) {
                        http_error_set(&p->error, 400, "bad-request", "Malformed request target.");
                        return HTTP_FEED_ERROR;
                }
                return p->complete ? HTTP_FEED_REQUEST : HTTP_FEED_HEADERS;
        }
        if (err == HPE_PAUSED && p->streaming)
                return HTTP_FEED_BODY;
        if (err != HPE_OK) {
                if (p->error.status == 0) {
                        if (err == HPE_HEADER_OVERFLOW)
                                http_error_set(&p->error, 413, "headers-too-large",
                                               "The request line and headers exceed %zu bytes.", p->header_max);
                        else if (err == HPE_INVALID_VERSION)
                                http_error_set(&p->error, 505, "http-version-not-supported",
                                               "Only HTTP/1.x is supported.");
                        else
                                http_error_set(&p->error, 400, "bad-request", "Malformed HTTP request: %s.",
                                               http_errno_description(err));
                }
                return HTTP_FEED_ERROR;
        }
        if (p->headers_done && p->request.expect_continue && !p->continue_reported &&
            p->request.http_major == 1 && p->request.http_minor >= 1) {
                /* The client waits for a go-ahead before it sends the body (RFC 9110 10.1.1). */
                p->continue_reported = true;
                return HTTP_FEED_CONTINUE;
        }
        return HTTP_FEED_MORE;
}

/* ---- query strings ------------------------------------------------------------------------------------ */


static int http_decode(const char *s, size_t n, char *out, size_t max) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '%') {
                        int hi, lo;

                        if (i + 2 >= n)
                                return -EINVAL;
                        hi = unhexchar(s[i + 1]);
                        lo = unhexchar(s[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = (char) (hi << 4 | lo);
                        i += 2;
                } else if (c == '+')
                        c = ' ';
                if (c == 0 || k + 1 >= max)
                        return -EINVAL;
                out[k++] = c;
        }
        out[k] = 0;
        return 0;
}

int http_query_next(const char **p, char *key, size_t key_max, char *value, size_t value_max) {
        const char *s = *p, *amp, *eq;
        size_t n;

        /* Empty pairs ("a=1&&b=2", a trailing '&') are skipped. */
        while (*s == '&')
                s++;
        if (*s == 0) {
                *p = s;
                return 0;
        }
        amp = strchrnul(s, '&');
        n = (size_t) (amp - s);
        eq = memchr(s, '=', n);
        if (!eq || eq == s)
                return -EINVAL;
        if (http_decode(s, (size_t) (eq - s), key, key_max) < 0 ||
            http_decode(eq + 1, (size_t) (amp - eq - 1), value, value_max) < 0)
                return -EINVAL;
        *p = amp;
        return 1;
}

int http_parse_bool(const char *s, bool *ret) {
        if (streq(s, "true") || streq(s, "1") || streq(s, "yes")) {
                *ret = true;
                return 0;
        }
        if (streq(s, "false") || streq(s, "0") || streq(s, "no")) {
                *ret = false;
                return 0;
        }
        return -EINVAL;
}

/* ---- output buffers and responses --------------------------------------------------------------------- */

void http_buffer_done(HttpBuffer *b) {
        free(b->data);
        *b = (HttpBuffer) {};
}

static int http_buffer_reserve(HttpBuffer *b, size_t size) {
        size_t a;
        char *n;

        if (b->allocated - b->end >= size)
                return 0;
        if (b->start > 0) {
                /* Move the unconsumed bytes to the front before growing. */
                memmove(b->data, b->data + b->start, b->end - b->start);
                b->end -= b->start;
                b->start = 0;
                if (b->allocated - b->end >= size)
                        return 0;
        }
        if (size > HTTP_BUFFER_MAX - b->end)
                return -ENOBUFS;
        a = MAX(b->end + size, MAX(b->allocated * 2, (size_t) 4096));
        a = MIN(a, (size_t) HTTP_BUFFER_MAX);
        n = realloc(b->data, a);
        if (!n)
                return -ENOMEM;
        b->data = n;
        b->allocated = a;
        return 0;
}

int http_buffer_append(HttpBuffer *b, const void *data, size_t size) {
        int r;

        if (size == 0)
                return 0;
        r = http_buffer_reserve(b, size);
        if (r < 0)
                return r;
        memcpy(b->data + b->end, data, size);
        b->end += size;
        return 0;
}

int http_buffer_printf(HttpBuffer *b, const char *fmt, ...) {
        va_list ap;
        int n, r;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        r = http_buffer_reserve(b, (size_t) n + 1);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        (void) vsnprintf(b->data + b->end, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->end += (size_t) n;
        return 0;
}

void http_buffer_consume(HttpBuffer *b, size_t size) {
        b->start += MIN(size, b->end - b->start);
        if (b->start == b->end)
                b->start = b->end = 0;
}

int http_buffer_add_response_head(HttpBuffer *b, unsigned status, const char *content_type,
                                  int64_t content_length, bool keep_alive, const char *extra_headers) {
        int r;

        r = http_buffer_printf(b, "HTTP/1.1 %u %s\r\n"
                               "Server: teleworker-gateway\r\n"
                               "Cache-Control: no-store\r\n"
                               "X-Content-Type-Options: nosniff\r\n"
                               "Connection: %s\r\n",
                               status, http_status_text(status), keep_alive ? "keep-alive" : "close");
        if (r < 0)
                return r;
        if (content_type) {
                r = http_buffer_printf(b, "Content-Type: %s\r\n", content_type);
                if (r < 0)
                        return r;
        }
        if (content_length >= 0)
                r = http_buffer_printf(b, "Content-Length: %" PRIi64 "\r\n", content_length);
        else
                r = http_buffer_printf(b, "Transfer-Encoding: chunked\r\n");
        if (r < 0)
                return r;
        return http_buffer_printf(b, "%s\r\n", extra_headers ?: "");
}

int http_buffer_add_json_response(HttpBuffer *b, unsigned status, const char *json, bool keep_alive,
                                  const char *extra_headers) {
        size_t n = strlen(json);
        int r;

        r = http_buffer_add_response_head(b, status, "application/json", (int64_t) n + 1, keep_alive,
                                          extra_headers);
        if (r < 0)
                return r;
        r = http_buffer_append(b, json, n);
        if (r < 0)
                return r;
        return http_buffer_append(b, "\n", 1);
}

int http_buffer_add_error_response(HttpBuffer *b, const HttpError *e, bool keep_alive) {
        _cleanup_(http_json_putp) json_object *o = NULL;
        char extra[128] = "";
        const char *s;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (json_object_object_add(o, "error", json_object_new_string(e->code ?: "error")) < 0 ||
            json_object_object_add(o, "message", json_object_new_string(e->message)) < 0)
                return -ENOMEM;
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        if (e->status == 405 && e->allow)
                (void) snprintf(extra, sizeof(extra), "Allow: %s\r\n", e->allow);
        else if (e->status == 429 || e->status == 503)
                (void) snprintf(extra, sizeof(extra), "Retry-After: 1\r\n");
        return http_buffer_add_json_response(b, e->status ?: 500, s, keep_alive, extra);
}

int http_buffer_add_chunk(HttpBuffer *b, const void *data, size_t size) {
        int r;

        if (size == 0)
                return http_buffer_append(b, "0\r\n\r\n", 5);
        r = http_buffer_printf(b, "%zx\r\n", size);
        if (r < 0)
                return r;
        r = http_buffer_append(b, data, size);
        if (r < 0)
                return r;
        return http_buffer_append(b, "\r\n", 2);
}

int http_buffer_begin_raw(HttpBuffer *b, size_t max, char **ret_data) {
        int r;

        r = http_buffer_reserve(b, max);
        if (r < 0)
                return r;
        *ret_data = b->data + b->end;
        return 0;
}

void http_buffer_commit_raw(HttpBuffer *b, size_t size) {
        b->end += size;
}

int http_buffer_begin_chunk(HttpBuffer *b, size_t max, char **ret_data) {
        size_t digits = 1;
        int r;

        if (max == 0)
                return -EINVAL;
        while (digits < sizeof(size_t) * 2 && (max >> (4 * digits)) != 0)
                digits++;
        /* size line, data, CRLF */
        r = http_buffer_reserve(b, digits + 2 + max + 2);
        if (r < 0)
                return r;
        b->chunk_digits = digits;
        *ret_data = b->data + b->end + digits + 2;
        return 0;
}

void http_buffer_commit_chunk(HttpBuffer *b, size_t size) {
        static const char hex[] = "0123456789abcdef";
        size_t digits = b->chunk_digits, v = size;
        char *p = b->data + b->end;

        b->chunk_digits = 0;
        if (size == 0 || digits == 0)
                return;
        for (size_t i = digits; i > 0; i--) {
                p[i - 1] = hex[v & 0xf];
                v >>= 4;
        }
        p[digits] = '\r';
        p[digits + 1] = '\n';
        p[digits + 2 + size] = '\r';
        p[digits + 2 + size + 1] = '\n';
        b->end += digits + 2 + size + 2;
}

void http_buffer_release(HttpBuffer *b) {
        if (b->start != b->end)
                return;
        http_buffer_done(b);
}
