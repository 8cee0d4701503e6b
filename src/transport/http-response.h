/* SPDX-License-Identifier: MIT */
/* http-response.h - the one HTTP/1.1 response parser of the gateway's clients (telerun's remote backend and
 * the tests), on libhttp-parser. Pure: bytes in, one response out; no I/O, no allocation but its own buffers.
 *
 * Bounded: the head by libhttp-parser (HTTP_MAX_HEADER_SIZE), the collected header lines by
 * HTTP_RESPONSE_HEADERS_MAX, a buffered body by the caller's body_max; a body handed to on_body instead is
 * the caller's to bound. Informational (1xx) responses before the final one are skipped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#define HTTP_RESPONSE_HEADERS_MAX (16U * 1024U)

typedef struct HttpResponse HttpResponse;

/* Sees the body bytes first (a stream): 0 took them; 1: buffer them as without on_body (a body that is not
 * the stream, e.g. an error's JSON); <0 stops the parse, and http_response_feed() returns it. */
typedef int (*HttpResponseBodyFunc)(HttpResponse *r, const char *data, size_t size, void *userdata);

struct HttpResponse {
        http_parser parser;
        size_t body_max;               /* for the buffered body */
        bool keep_headers;
        HttpResponseBodyFunc on_body;  /* NULL: the body is buffered */
        void *userdata;

        unsigned status;               /* of the final response, once head_done */
        bool head_done;                /* its head is parsed */
        bool complete;                 /* the whole response arrived; the parser stops after it */
        bool keep_alive;               /* complete, and the server keeps the connection */
        bool chunked;
        char *body;                    /* buffered body, NUL-terminated; NULL while empty */
        size_t body_size, body_allocated;
        char *headers;                 /* keep_headers: "name: value\n" lines, names lower-cased */
        size_t headers_size, headers_allocated;
        bool in_value;
        int error;                     /* why a callback stopped the parser */
};

/* keep_headers: collect the header lines (the tests read them; telerun does not). */
void http_response_init(HttpResponse *r, size_t body_max, bool keep_headers);
void http_response_done(HttpResponse *r);

/* Feeds size bytes of the connection; size 0 says the connection ended, which completes a response without
 * a length (the caller sees whether r->complete then). Parses at most one response: *ret_used (may be NULL)
 * is how much of data it took; bytes after a complete response are not its. 0 (complete or not yet);
 * -EFBIG: the buffered body or the header lines over their bound; -EBADMSG: malformed; or on_body's error. */
int http_response_feed(HttpResponse *r, const char *data, size_t size, size_t *ret_used);

/* The value of header name (lower case) copied into buf (cut to size), or NULL when absent or not kept. */
const char *http_response_header(const HttpResponse *r, const char *name, char *buf, size_t size);
