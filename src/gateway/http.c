/* SPDX-License-Identifier: MIT */
/* http.c - HTTP/1.1 request parsing on libhttp-parser, routing of the /v1 API, response framing. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "transport/http-job.h"
#include "gateway/http.h"
#include "shared/job-ref.h"
#include "core/authz.h"
#include "core/list-filter.h"
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

/* Only a job's input is streamed: every other body is small JSON, collected whole within body_max. */
static bool http_streams_body(const HttpParser *p, const http_parser *hp) {
        HttpRoute route;
        HttpError e = {};

        return hp->method == HTTP_POST && p->request.url &&
               http_route(HTTP_POST, p->request.url, p->request.url_size, &route, &e) >= 0 &&
               route.id == HTTP_ROUTE_JOB_INPUT;
}

static int on_headers_complete(http_parser *hp) {
        HttpParser *p = http_parser_from(hp);

        http_header_complete(p);
        if (hp->upgrade) {
                http_error_set(&p->error, 400, "bad-request", "Protocol upgrades are not supported.");
                return -1;
        }
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

/* ---- routing ------------------------------------------------------------------------------------------ */

static const char *const http_route_names[_HTTP_ROUTE_MAX] = {
        [HTTP_ROUTE_JOBS_LIST] = "list",
        [HTTP_ROUTE_JOBS_START] = "start",
        [HTTP_ROUTE_JOB_GET] = "status",
        [HTTP_ROUTE_JOB_STOP] = "stop",
        [HTTP_ROUTE_JOB_OUTPUT] = "output",
        [HTTP_ROUTE_JOB_INPUT] = "input",
        [HTTP_ROUTE_JOB_RESIZE] = "resize",
        [HTTP_ROUTE_METRICS] = "metrics",
        [HTTP_ROUTE_JOB_DELETE] = "remove",
        [HTTP_ROUTE_JOB_KILL] = "kill",
};

const char *http_route_to_string(HttpRouteId id) {
        if ((unsigned) id >= _HTTP_ROUTE_MAX)
                return NULL;
        return http_route_names[id];
}

/* A list filter parameter into r: 1 when key is one (its flag in *seen, which must not be set yet), 0 when key
 * is none, <0 with e set when its value is malformed or it is repeated. */
static int http_route_list_filter(HttpRoute *r, const char *key, const char *value, unsigned *seen, HttpError *e) {
        static const char *const keys[] = { "state", "since", "owner", "last" };
        unsigned bit = 0;
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(key, keys[i]))
                        bit = 1U << i;
        if (bit == 0)
                return 0;
        if (*seen & bit)
                return http_error_set(e, 400, "bad-request", "Query parameter '%s' given twice.", key);
        *seen |= bit;
        r->filtered = true;
        if (streq(key, "state")) {
                if (job_list_filter_parse_states(value, &r->states) < 0)
                        return http_error_set(e, 400, "bad-request", "Query parameter 'state' must be a comma-"
                                              "separated list of submitted, running, success, failed, killed.");
        } else if (streq(key, "since")) {
                if (parse_uint64(value, &v) < 0 || v > UINT64_MAX / USEC_PER_SEC)
                        return http_error_set(e, 400, "bad-request", "Query parameter 'since' must be UNIX seconds.");
                r->since_usec = v * USEC_PER_SEC;
        } else if (streq(key, "owner")) {
                if (strlen(value) >= sizeof(r->owner) || !principal_name_is_valid(value))
                        return http_error_set(e, 400, "bad-request", "Query parameter 'owner' must be a user name.");
                strcpy(r->owner, value);
        } else {
                if (parse_uint64(value, &v) < 0 || v == 0 || v > UINT32_MAX)
                        return http_error_set(e, 400, "bad-request", "Query parameter 'last' must be a number of "
                                              "jobs.");
                r->last = (uint32_t) v;
        }
        return 1;
}

static int http_route_query(HttpRoute *r, const char *query, HttpError *e) {
        bool seen_wait = false, seen_follow = false, seen_offset = false, seen_cursor = false, seen_limit = false,
             seen_signal = false, seen_time = false;
        unsigned seen_filter = 0;
        int f;
        bool seen_rows = false, seen_cols = false;
        char key[32], value[64];
        const char *p = query;
        int k;

        while ((k = http_query_next(&p, key, sizeof(key), value, sizeof(value))) > 0) {
                bool *seen;

                if (r->id == HTTP_ROUTE_JOB_GET && streq(key, "wait")) {
                        seen = &seen_wait;
                        if (http_parse_bool(value, &r->wait) < 0)
                                return http_error_set(e, 400, "bad-request", "Query parameter 'wait' must be "
                                                      "true or false.");
                } else if (r->id == HTTP_ROUTE_JOB_OUTPUT && streq(key, "follow")) {
                        seen = &seen_follow;
                        if (http_parse_bool(value, &r->follow) < 0)
                                return http_error_set(e, 400, "bad-request", "Query parameter 'follow' must "
                                                      "be true or false.");
                } else if (r->id == HTTP_ROUTE_JOB_OUTPUT && streq(key, "offset")) {
                        seen = &seen_offset;
                        if (parse_uint64(value, &r->offset) < 0)
                                return http_error_set(e, 400, "bad-request", "Query parameter 'offset' must "
                                                      "be a byte offset.");
                } else if (r->id == HTTP_ROUTE_JOB_STOP && streq(key, "time")) {
                        uint64_t sec;

                        seen = &seen_time;
                        if (parse_uint64(value, &sec) < 0 || sec > 100 * 365 * 24 * 3600ULL)
                                return http_error_set(e, 400, "bad-request", "Query parameter 'time' must be "
                                                      "seconds.");
                        r->stop_usec = sec * USEC_PER_SEC;
                } else if (r->id == HTTP_ROUTE_JOB_KILL && streq(key, "signal")) {
                        seen = &seen_signal;
                        if (job_signal_from_string(value, &r->signal) < 0)
                                return http_error_set(e, 400, "bad-request", "Query parameter 'signal' must be "
                                                      "HUP, INT, QUIT, KILL, USR1, USR2 or TERM (or its "
                                                      "number).");
                } else if (r->id == HTTP_ROUTE_JOBS_LIST &&
                           (f = http_route_list_filter(r, key, value, &seen_filter, e)) != 0) {
                        if (f < 0)
                                return f;
                        continue;
                } else if (r->id == HTTP_ROUTE_JOBS_LIST && streq(key, "cursor")) {
                        seen = &seen_cursor;
                        if (strlen(value) >= sizeof(r->cursor))
                                return http_error_set(e, 400, "bad-request", "Query parameter 'cursor' is not a "
                                                      "cursor of this gateway.");
                        strcpy(r->cursor, value);
                } else if (r->id == HTTP_ROUTE_JOBS_LIST && streq(key, "limit")) {
                        uint64_t v;

                        seen = &seen_limit;
                        if (parse_uint64(value, &v) < 0 || v > UINT32_MAX)
                                return http_error_set(e, 400, "bad-request", "Query parameter 'limit' must be "
                                                      "a number of jobs.");
                        r->limit = (uint32_t) v;
                } else if (r->id == HTTP_ROUTE_JOB_RESIZE && (streq(key, "rows") || streq(key, "cols"))) {
                        uint64_t v;

                        seen = key[0] == 'r' ? &seen_rows : &seen_cols;
                        if (parse_uint64(value, &v) < 0 || v == 0 || v > UINT16_MAX)
                                return http_error_set(e, 400, "bad-request", "Query parameter '%s' must be a "
                                                      "number of %s.", key, key[0] == 'r' ? "rows" : "columns");
                        *(key[0] == 'r' ? &r->rows : &r->cols) = (uint16_t) v;
                } else if (r->id == HTTP_ROUTE_JOB_OUTPUT &&
                           (k = http_output_query_param(&r->output, key, value, e)) != 0) {
                        if (k < 0)
                                return k;
                        continue;       /* checked for repeats there */
                } else {
                        _cleanup_(freep) char *k_esc = str_escape(key, 31);

                        return http_error_set(e, 400, "bad-request", "Unknown query parameter '%s'.",
                                              k_esc ?: "?");
                }
                if (*seen)
                        return http_error_set(e, 400, "bad-request", "Query parameter '%s' given twice.", key);
                *seen = true;
        }
        if (k < 0)
                return http_error_set(e, 400, "bad-request", "Malformed query string.");
        if (r->id == HTTP_ROUTE_JOB_RESIZE && !(seen_rows && seen_cols))
                return http_error_set(e, 400, "bad-request", "A resize needs the query parameters rows and cols.");
        return 0;
}

int http_route(enum http_method method, const char *url, size_t url_size, HttpRoute *ret, HttpError *e) {
        struct http_parser_url u;
        char path[128], query[512] = "";
        const char *rest, *sub;
        HttpRoute r = {};
        size_t n;

        http_parser_url_init(&u);
        if (url_size == 0 || url[0] != '/' || http_parser_parse_url(url, url_size, 0, &u) != 0 ||
            !(u.field_set & (1 << UF_PATH)))
                return http_error_set(e, 400, "bad-request", "Malformed request target.");
        if (u.field_set & ((1 << UF_SCHEMA) | (1 << UF_HOST) | (1 << UF_USERINFO)))
                return http_error_set(e, 400, "bad-request", "Only origin-form request targets are accepted.");

        n = u.field_data[UF_PATH].len;
        if (n >= sizeof(path))
                return http_error_set(e, 404, "not-found", "No such resource.");
        memcpy(path, url + u.field_data[UF_PATH].off, n);
        path[n] = 0;
        if (u.field_set & (1 << UF_QUERY)) {
                n = u.field_data[UF_QUERY].len;
                if (n >= sizeof(query))
                        return http_error_set(e, 400, "bad-request", "The query string is too long.");
                memcpy(query, url + u.field_data[UF_QUERY].off, n);
                query[n] = 0;
        }

        if (streq(path, "/v1/jobs")) {
                if (method == HTTP_GET)
                        r.id = HTTP_ROUTE_JOBS_LIST;
                else if (method == HTTP_POST)
                        r.id = HTTP_ROUTE_JOBS_START;
                else {
                        http_error_set(e, 405, "method-not-allowed", "Use GET or POST on /v1/jobs.");
                        e->allow = "GET, POST";
                        return -EINVAL;
                }
        } else if (strncmp(path, "/v1/jobs/", 9) == 0) {
                rest = path + 9;
                sub = strchrnul(rest, '/');
                n = (size_t) (sub - rest);
                if (n == 0)
                        return http_error_set(e, 404, "not-found", "No such resource.");
                if (n >= JOB_ID_STRING_MAX)
                        return http_error_set(e, 400, "invalid-job-id", "Malformed job id.");
                memcpy(r.job_id, rest, n);
                r.job_id[n] = 0;

                if (*sub == 0) {
                        r.id = method == HTTP_DELETE ? HTTP_ROUTE_JOB_DELETE : HTTP_ROUTE_JOB_GET;
                        if (method != HTTP_GET && method != HTTP_DELETE) {
                                http_error_set(e, 405, "method-not-allowed", "Use GET or DELETE on a job.");
                                e->allow = "GET, DELETE";
                                return -EINVAL;
                        }
                } else if (streq(sub, "/kill")) {
                        r.id = HTTP_ROUTE_JOB_KILL;
                        r.signal = SIGTERM;
                        if (method != HTTP_POST) {
                                http_error_set(e, 405, "method-not-allowed", "Use POST to signal a job.");
                                e->allow = "POST";
                                return -EINVAL;
                        }
                } else if (streq(sub, "/stop")) {
                        r.id = HTTP_ROUTE_JOB_STOP;
                        r.stop_usec = UINT64_MAX;
                        if (method != HTTP_POST) {
                                http_error_set(e, 405, "method-not-allowed", "Use POST to stop a job.");
                                e->allow = "POST";
                                return -EINVAL;
                        }
                } else if (streq(sub, "/resize")) {
                        r.id = HTTP_ROUTE_JOB_RESIZE;
                        if (method != HTTP_POST) {
                                http_error_set(e, 405, "method-not-allowed", "Use POST to resize a job's terminal.");
                                e->allow = "POST";
                                return -EINVAL;
                        }
                } else if (streq(sub, "/input")) {
                        r.id = HTTP_ROUTE_JOB_INPUT;
                        if (method != HTTP_POST) {
                                http_error_set(e, 405, "method-not-allowed", "Use POST to write a job's input.");
                                e->allow = "POST";
                                return -EINVAL;
                        }
                } else if (streq(sub, "/output")) {
                        r.id = HTTP_ROUTE_JOB_OUTPUT;
                        if (method != HTTP_GET) {
                                http_error_set(e, 405, "method-not-allowed", "Use GET to read output.");
                                e->allow = "GET";
                                return -EINVAL;
                        }
                } else
                        return http_error_set(e, 404, "not-found", "No such resource.");

                /* The path is right; a malformed id is the client's mistake, not a missing resource. */
                if (!job_ref_is_valid(r.job_id))
                        return http_error_set(e, 400, "invalid-job-id", "Malformed job id: a whole id, at least "
                                              "its first %d hex digits, or a job name.", JOB_REF_PREFIX_MIN);
        } else if (streq(path, "/v1/metrics")) {
                r.id = HTTP_ROUTE_METRICS;
                if (method != HTTP_GET) {
                        http_error_set(e, 405, "method-not-allowed", "Use GET on /v1/metrics.");
                        e->allow = "GET";
                        return -EINVAL;
                }
        } else
                return http_error_set(e, 404, "not-found", "No such resource.");

        if (http_route_query(&r, query, e) < 0)
                return -EINVAL;
        *ret = r;
        return 0;
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
