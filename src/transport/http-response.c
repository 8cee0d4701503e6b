/* SPDX-License-Identifier: MIT */
/* http-response.c - the HTTP/1.1 response parser of the gateway's clients (http-response.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/http-response.h"
#include "shared/macro.h"

static HttpResponse *http_response_from(http_parser *p) {
        return (HttpResponse *) ((char *) p - offsetof(HttpResponse, parser));
}

/* Appends to a NUL-terminated buffer of at most max bytes. */
static int buffer_append(char **buf, size_t *size, size_t *allocated, size_t max, const char *data, size_t n) {
        if (n > max || *size > max - n)
                return -EFBIG;
        if (*size + n + 1 > *allocated) {
                size_t a = MAX(*size + n + 1, MIN(*allocated * 2, max + 1));
                char *b = realloc(*buf, a);

                if (!b)
                        return -ENOMEM;
                *buf = b;
                *allocated = a;
        }
        memcpy(*buf + *size, data, n);
        *size += n;
        (*buf)[*size] = 0;
        return 0;
}

static int headers_append(HttpResponse *r, const char *data, size_t n, bool lower) {
        size_t start = r->headers_size;
        int k;

        k = buffer_append(&r->headers, &r->headers_size, &r->headers_allocated, HTTP_RESPONSE_HEADERS_MAX, data, n);
        if (k < 0)
                return k;
        if (lower)
                for (size_t i = start; i < r->headers_size; i++)
                        r->headers[i] = (char) tolower((unsigned char) r->headers[i]);
        return 0;
}

/* Fails the parse with error k (callbacks can only say "stop"). */
static int http_response_fail(HttpResponse *r, int k) {
        if (k >= 0)
                return 0;
        r->error = k;
        return -1;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
        HttpResponse *r = http_response_from(p);
        int k = 0;

        if (!r->keep_headers)
                return 0;
        if (r->in_value) {
                k = headers_append(r, "\n", 1, false);
                r->in_value = false;
        }
        if (k >= 0)
                k = headers_append(r, at, n, true);
        return http_response_fail(r, k);
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
        HttpResponse *r = http_response_from(p);
        int k = 0;

        if (!r->keep_headers)
                return 0;
        if (!r->in_value) {
                k = headers_append(r, ": ", 2, false);
                r->in_value = true;
        }
        if (k >= 0)
                k = headers_append(r, at, n, false);
        return http_response_fail(r, k);
}

static int on_headers_complete(http_parser *p) {
        HttpResponse *r = http_response_from(p);
        int k = 0;

        if (r->keep_headers && r->in_value) {
                k = headers_append(r, "\n", 1, false);
                r->in_value = false;
        }
        if (p->status_code / 100 == 1)
                return http_response_fail(r, k);   /* informational: the real head follows */
        r->status = p->status_code;
        r->chunked = p->flags & F_CHUNKED;
        r->head_done = true;
        return http_response_fail(r, k);
}

static int on_body(http_parser *p, const char *at, size_t n) {
        HttpResponse *r = http_response_from(p);

        if (r->on_body) {
                int k = r->on_body(r, at, n, r->userdata);

                if (k <= 0)
                        return http_response_fail(r, k);
        }
        return http_response_fail(r, buffer_append(&r->body, &r->body_size, &r->body_allocated, r->body_max,
                                                   at, n));
}

static int on_message_complete(http_parser *p) {
        HttpResponse *r = http_response_from(p);

        if (!r->head_done) {
                /* An informational response ended: forget its header lines. */
                r->headers_size = 0;
                if (r->headers)
                        r->headers[0] = 0;
                return 0;
        }
        r->complete = true;
        r->keep_alive = http_should_keep_alive(p);
        /* One response per parse: what follows is the next one's (or not ours). */
        http_parser_pause(p, 1);
        return 0;
}

static const http_parser_settings http_response_settings = {
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
};

void http_response_init(HttpResponse *r, size_t body_max, bool keep_headers) {
        *r = (HttpResponse) { .body_max = body_max, .keep_headers = keep_headers };
        http_parser_init(&r->parser, HTTP_RESPONSE);
}

void http_response_done(HttpResponse *r) {
        free(r->body);
        free(r->headers);
        r->body = r->headers = NULL;
        r->body_size = r->body_allocated = r->headers_size = r->headers_allocated = 0;
}

int http_response_feed(HttpResponse *r, const char *data, size_t size, size_t *ret_used) {
        size_t used = 0;

        if (!r->complete && r->error == 0)
                used = http_parser_execute(&r->parser, &http_response_settings, data, size);
        if (ret_used)
                *ret_used = used;
        if (r->error < 0)
                return r->error;
        if (r->complete)
                return 0;
        if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK || used != size)
                return -EBADMSG;
        return 0;
}

const char *http_response_header(const HttpResponse *r, const char *name, char *buf, size_t size) {
        size_t len = strlen(name);

        if (size == 0)
                return NULL;
        for (const char *p = r->headers; p && *p;) {
                const char *e = strchrnul(p, '\n');

                if ((size_t) (e - p) >= len + 2 && strncmp(p, name, len) == 0 && p[len] == ':' && p[len + 1] == ' ') {
                        size_t n = MIN((size_t) (e - p) - len - 2, size - 1);

                        memcpy(buf, p + len + 2, n);
                        buf[n] = 0;
                        return buf;
                }
                p = *e ? e + 1 : e;
        }
        return NULL;
}
