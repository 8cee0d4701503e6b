/* SPDX-License-Identifier: MIT */
/* http.h - HTTP/1.1 requests (parsed by libhttp-parser), routing, query strings and response framing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "bus/bus-output-options.h"
#include "shared/macro.h"
#include "transport/http-error.h"
#include "shared/util.h"

#define HTTP_HEADER_MAX (16U * 1024U)     /* request line + header fields, bytes */
#define HTTP_BODY_MAX (1024U * 1024U)     /* request body, bytes */
const char *http_status_text(unsigned status);

/* One parsed request. Owned by the HttpParser that produced it; valid until the next http_parser_feed_data(). */
typedef struct HttpRequest {
        enum http_method method;
        unsigned short http_major, http_minor;
        char *url;               /* request target as received (NUL-terminated; NUL bytes in it are refused) */
        size_t url_size;
        char *body;              /* NUL-terminated for convenience; body_size counts the real bytes */
        size_t body_size;
        bool keep_alive;         /* the client keeps the connection (HTTP/1.1 default, Connection header) */
        bool expect_continue;    /* "Expect: 100-continue" */
        char last_event_id[24];  /* "Last-Event-ID" (GET /v1/events), "" if absent, "-" if too long */
        /* POST /v1/jobs/{id}/attach: "Connection: upgrade" and "Upgrade: tcp" (tokens of their lists); upgrade:
         * libhttp-parser saw an Upgrade request, and stopped after its head (what follows is not HTTP). */
        bool connection_upgrade;
        bool upgrade_tcp;
        bool upgrade;

        /* A streamed body (POST /v1/jobs/{id}/input): never collected in body; each piece points into the
         * bytes fed (HTTP_FEED_BODY), valid until the next feed. */
        bool body_streamed;
        const char *body_chunk;
        size_t body_chunk_size;
} HttpRequest;

typedef enum HttpFeedResult {
        HTTP_FEED_MORE,          /* consumed everything; no complete request yet */
        HTTP_FEED_CONTINUE,      /* headers complete and the client waits for "100 Continue" (once per request) */
        HTTP_FEED_REQUEST,       /* a request is complete: see HttpParser.request; the rest is not consumed */
        HTTP_FEED_ERROR,         /* malformed or over a limit: see HttpParser.error; the connection must close */
        HTTP_FEED_HEADERS,       /* the headers of a request whose body is streamed are complete: handle it now
                                  * (no "100 Continue" is reported: the handler sends it when it takes the body) */
        HTTP_FEED_BODY,          /* a piece of a streamed body: request.body_chunk; HTTP_FEED_REQUEST at its end */
} HttpFeedResult;

typedef struct HttpParser {
        http_parser parser;
        HttpRequest request;
        HttpError error;
        size_t url_allocated, body_allocated;
        size_t header_bytes;
        char field[32];          /* the current header name, only as much as we need to recognize it */
        size_t field_size;
        char value[128];         /* the current header value, likewise (Last-Event-ID is at most 20 digits; a
                                  * Connection or Upgrade list longer than this is not ours) */
        size_t value_size;
        bool in_value;
        bool complete;
        bool continue_reported;
        bool headers_done;
        bool started;
        bool streaming;          /* this request's body is streamed, not collected (no body_max) */
        size_t body_max;
        size_t header_max;
} HttpParser;

void http_parser_init_request(HttpParser *p);
void http_parser_done(HttpParser *p);
/* Feeds bytes; *ret_consumed says how many were used. After HTTP_FEED_REQUEST, handle p->request, then call
 * http_parser_next() before feeding the rest. */
HttpFeedResult http_parser_feed_data(HttpParser *p, const void *data, size_t size, size_t *ret_consumed);
void http_parser_next(HttpParser *p);
/* Bytes of a request have been seen since the last complete one (used for the request timeout). */
bool http_parser_in_request(const HttpParser *p);

typedef enum HttpRouteId {
        HTTP_ROUTE_JOBS_LIST,    /* GET /v1/jobs[?cursor=C&limit=N] */
        HTTP_ROUTE_JOBS_START,   /* POST /v1/jobs */
        HTTP_ROUTE_JOB_GET,      /* GET /v1/jobs/{id}[?wait=true] */
        HTTP_ROUTE_JOB_STOP,     /* POST /v1/jobs/{id}/stop */
        HTTP_ROUTE_JOB_OUTPUT,   /* GET /v1/jobs/{id}/output[?offset=N&follow=true&stream=S&since=T&until=T
                                  *  &tail=N&framed=true&timestamps=true] */
        HTTP_ROUTE_EVENTS,       /* GET /v1/events (server-sent events; Last-Event-ID) */
        HTTP_ROUTE_VERSION,      /* GET /v1/version */

        HTTP_ROUTE_JOB_INPUT,    /* POST /v1/jobs/{id}/input, the body streamed to the job's stdin */
        HTTP_ROUTE_JOB_RESIZE,   /* POST /v1/jobs/{id}/resize?rows=R&cols=C */
        HTTP_ROUTE_METRICS,      /* GET /v1/metrics (administrators) */
        HTTP_ROUTE_JOB_DELETE,   /* DELETE /v1/jobs/{id} */
        HTTP_ROUTE_JOB_KILL,     /* POST /v1/jobs/{id}/kill[?signal=S] */
        HTTP_ROUTE_JOB_ATTACH,   /* POST /v1/jobs/{id}/attach[?offset=N], Upgrade: tcp (bridge-attach.c) */
        _HTTP_ROUTE_MAX,
} HttpRouteId;

typedef struct HttpRoute {
        HttpRouteId id;
        char job_id[JOB_ID_STRING_MAX];
        bool wait;
        bool follow;
        uint64_t offset;
        char cursor[48];         /* list: "" = from the oldest job; the daemon checks the rest */
        uint32_t limit;          /* list: at most this many jobs, 0 = as many as fit in one page */
        uint16_t rows, cols;     /* resize: both required, 1..65535 (the daemon bounds them further) */
        BusOutputOptions output; /* output: stream, since, until, tail, framed, timestamps (set: which) */
        int signal;              /* kill: SIGTERM unless ?signal= (job_signal_from_string()) */
        uint64_t stop_usec;      /* stop: ?time=SEC, the grace period of this stop; UINT64_MAX = not given */
        bool filtered;           /* list: any of state=, since=, owner=, last= given (ListFilteredAs) */
        unsigned states;         /* list: ?state=running,failed (list-filter.h); 0 = every state */
        uint64_t since_usec;     /* list: ?since=UNIX seconds: submitted at or after */
        char owner[65];          /* list: ?owner=NAME ("" = every owner the principal may see) */
        uint32_t last;           /* list: ?last=N: the newest N matching jobs */
} HttpRoute;

/* One row of the router's table (http-routes.c): what docs/openapi.yaml must describe (test-openapi checks
 * both ways). A path is literal segments and "{id}", one segment holding a job id. */
#define HTTP_ROUTE_QUERY_MAX 10
#define HTTP_ROUTE_STATUS_MAX 12
typedef struct HttpRouteDef {
        HttpRouteId id;
        enum http_method method;
        const char *path;
        const char *query[HTTP_ROUTE_QUERY_MAX];       /* the query parameters it takes, NULL-terminated */
        unsigned statuses[HTTP_ROUTE_STATUS_MAX];      /* every status its response can have, 0-terminated */
} HttpRouteDef;

const HttpRouteDef *http_route_table(size_t *ret_n);

/* The Content-Type of a framed output stream (docs/http.md, "Two streams"). */
#define HTTP_OUTPUT_MULTIPLEXED_TYPE "application/vnd.teleworker.multiplexed-stream"

/* http-output.c: one query parameter of the output route into o: 1 when it was one of stream, since, until,
 * tail, framed, timestamps; 0 when it is none of those; -EINVAL with e filled (400) for a bad or repeated
 * value. */
int http_output_query_param(BusOutputOptions *o, const char *key, const char *value, HttpError *e);
/* Whether the request asked for more than the merged stream (then OpenOutputExAs, else OpenOutputAs). */
bool http_output_query_extended(const BusOutputOptions *o);

/* Maps method + request target to a route. 0 on success; -EINVAL with e filled (400/404/405) otherwise. */
int http_route(enum http_method method, const char *url, size_t url_size, HttpRoute *ret, HttpError *e);
const char *http_route_to_string(HttpRouteId id);

/* Splits "a=1&b=x%20y" one pair at a time: *p advances; key and value are percent-decoded into the buffers.
 * Returns 1 for a pair, 0 at the end, -EINVAL for malformed or overlong input. */
int http_query_next(const char **p, char *key, size_t key_max, char *value, size_t value_max);
/* "true"/"1"/"yes"/"false"/"0"/"no"; -EINVAL otherwise. */
int http_parse_bool(const char *s, bool *ret);

/* A byte buffer for the outgoing side: appended at the end, consumed from the front. */
typedef struct HttpBuffer {
        char *data;
        size_t start, end, allocated;
        size_t chunk_digits;   /* between http_buffer_begin_chunk() and _commit_chunk(): the size's width */
} HttpBuffer;

void http_buffer_done(HttpBuffer *b);
static inline size_t http_buffer_size(const HttpBuffer *b) {
        return b->end - b->start;
}
static inline const char *http_buffer_head(const HttpBuffer *b) {
        return b->data + b->start;
}
int http_buffer_append(HttpBuffer *b, const void *data, size_t size);
_printf_(2, 3) int http_buffer_printf(HttpBuffer *b, const char *fmt, ...);
void http_buffer_consume(HttpBuffer *b, size_t size);

/* Status line and the headers every response has; extra_headers is "" or complete "Name: value\r\n" lines.
 * content_length < 0 means chunked. */
int http_buffer_add_response_head(HttpBuffer *b, unsigned status, const char *content_type,
                                  int64_t content_length, bool keep_alive, const char *extra_headers);
/* A complete JSON response: body is a NUL-terminated JSON text (a newline is appended). */
int http_buffer_add_json_response(HttpBuffer *b, unsigned status, const char *json, bool keep_alive,
                                  const char *extra_headers);
/* {"error": code, "message": message} with e's status and, for 405, Allow. */
int http_buffer_add_error_response(HttpBuffer *b, const HttpError *e, bool keep_alive);
/* One chunk of a chunked body (size > 0), or the last chunk (size == 0). */
int http_buffer_add_chunk(HttpBuffer *b, const void *data, size_t size);
/* A chunk read straight into the buffer, without a copy: http_buffer_begin_chunk() makes room for a chunk of
 * up to max bytes at the end and returns where its data goes (e.g. read(2) there); http_buffer_commit_chunk()
 * then frames the size bytes that arrived (0 < size <= max), or http_buffer_commit_chunk(b, 0) drops the
 * room. Nothing else may touch b in between. The size line has as many hex digits as max needs, with
 * leading zeros for smaller chunks (chunk-size is 1*HEXDIG, RFC 9112 7.1). */
int http_buffer_begin_chunk(HttpBuffer *b, size_t max, char **ret_data);
void http_buffer_commit_chunk(HttpBuffer *b, size_t size);
/* The same without the framing, for a raw stream (attach): room for up to max bytes at the end, then the size
 * bytes that arrived (0 <= size <= max). */
int http_buffer_begin_raw(HttpBuffer *b, size_t max, char **ret_data);
void http_buffer_commit_raw(HttpBuffer *b, size_t size);
/* Frees the storage if nothing is pending (an idle connection keeps no buffer). */
void http_buffer_release(HttpBuffer *b);
