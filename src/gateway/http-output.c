/* SPDX-License-Identifier: MIT */
/* http-output.c - the query parameters of GET /v1/jobs/{id}/output that choose streams, times, lines and
 * frames (docs/http.md, "Two streams"), into OpenOutputEx's options. Untrusted input: every value is bounded
 * by the router's buffers (64 bytes), checked whole, and a repeated parameter is refused. */
#include <errno.h>
#include <string.h>

#include "gateway/http.h"
#include "shared/timestamp.h"

static int http_output_time(const char *key, const char *value, uint64_t *ret, HttpError *e) {
        /* RFC 3339 or Unix seconds: a duration ago would be measured by the gateway's clock, not the worker's. */
        if (timestamp_parse(value, 0, false, ret) < 0)
                return http_error_set(e, 400, "bad-request", "Query parameter '%s' must be an RFC 3339 time or Unix "
                                      "seconds.", key);
        return 0;
}

static int http_output_bool(const char *key, const char *value, bool *ret, HttpError *e) {
        if (http_parse_bool(value, ret) < 0)
                return http_error_set(e, 400, "bad-request", "Query parameter '%s' must be true or false.", key);
        return 0;
}

int http_output_query_param(BusOutputOptions *o, const char *key, const char *value, HttpError *e) {
        static const struct {
                const char *key;
                unsigned bit;
        } params[] = {
                { "stream", OUTPUT_OPT_STREAM },  { "since", OUTPUT_OPT_SINCE },   { "until", OUTPUT_OPT_UNTIL },
                { "tail", OUTPUT_OPT_TAIL },      { "framed", OUTPUT_OPT_FRAMED }, { "timestamps", OUTPUT_OPT_TIMESTAMPS },
        };
        unsigned bit = 0;
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(params); i++)
                if (streq(key, params[i].key))
                        bit = params[i].bit;
        if (bit == 0)
                return 0;
        if (o->set & bit)
                return http_error_set(e, 400, "bad-request", "Query parameter '%s' given twice.", key);
        o->set |= bit;

        switch (bit) {
        case OUTPUT_OPT_STREAM:
                /* Static strings: the route outlives the request's buffers. */
                o->stream = streq(value, "stdout") ? "stdout" : streq(value, "stderr") ? "stderr" :
                            streq(value, "both") ? "both" : NULL;
                if (!o->stream)
                        r = http_error_set(e, 400, "bad-request", "Query parameter 'stream' must be stdout, stderr "
                                           "or both.");
                break;
        case OUTPUT_OPT_SINCE:
                r = http_output_time(key, value, &o->since, e);
                break;
        case OUTPUT_OPT_UNTIL:
                r = http_output_time(key, value, &o->until, e);
                break;
        case OUTPUT_OPT_TAIL:
                if (parse_uint64(value, &o->tail) < 0)
                        r = http_error_set(e, 400, "bad-request", "Query parameter 'tail' must be a number of lines.");
                break;
        case OUTPUT_OPT_FRAMED:
                r = http_output_bool(key, value, &o->framed, e);
                break;
        default:
                r = http_output_bool(key, value, &o->timestamps, e);
                break;
        }
        return r < 0 ? r : 1;
}

bool http_output_query_extended(const BusOutputOptions *o) {
        return o->set != 0;
}
