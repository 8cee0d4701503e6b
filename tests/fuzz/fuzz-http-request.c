/* SPDX-License-Identifier: MIT */
/* fuzz-http-request.c - the request parser, router and (for POST /v1/jobs) the body decoder, on arbitrary
 * bytes: a connection's input split into pieces whose size comes from the first input byte (bits 0-6); its
 * bit 7 lowers the header and body limits, so that inputs of a fuzzer's sizes reach them too. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"
#include "transport/http-job.h"
#include "gateway/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HttpParser p;
        HttpBuffer out = {};
        size_t step, off = 0;

        if (size < 1)
                return 0;
        step = (size_t) (data[0] & 0x7f) + 1;
        http_parser_init_request(&p);
        if (data[0] & 0x80) {
                p.header_max = 512;
                p.body_max = 256;
        }
        data++;
        size--;

        while (off < size) {
                size_t used = 0, n = size - off < step ? size - off : step;
                HttpFeedResult f = http_parser_feed_data(&p, (const char *) data + off, n, &used);
                HttpRoute route;
                HttpError e = {};

                off += used;
                if (f == HTTP_FEED_ERROR) {
                        (void) http_buffer_add_error_response(&out, &p.error, false);
                        break;
                }
                if (f == HTTP_FEED_CONTINUE)
                        continue;
                if (f != HTTP_FEED_REQUEST)
                        continue;
                if (http_route(p.request.method, p.request.url, p.request.url_size, &route, &e) < 0)
                        (void) http_buffer_add_error_response(&out, &e, p.request.keep_alive);
                else if (route.id == HTTP_ROUTE_JOBS_START) {
                        StartRequest j = {};

                        if (http_job_request_parse(p.request.body, p.request.body_size, &j, &e) < 0)
                                (void) http_buffer_add_error_response(&out, &e, p.request.keep_alive);
                        start_request_done(&j);
                }
                http_buffer_consume(&out, http_buffer_size(&out));
                http_parser_next(&p);
        }
        http_buffer_done(&out);
        http_parser_done(&p);
        return 0;
}
