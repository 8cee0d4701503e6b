/* SPDX-License-Identifier: MIT */
/* fuzz-http-response.c - the clients' response parser (src/transport/http-response.c), what telerun reads from
 * a gateway it does not trust more than its certificate: arbitrary bytes split into pieces whose size comes
 * from the first input byte (bits 0-5); bit 6 streams the body to a callback instead of the buffer, bit 7
 * lowers the body limit so that inputs of a fuzzer's sizes reach it. Checks the parser's own promises. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "transport/http-response.h"

static int fuzz_on_body(HttpResponse *r, const char *data, size_t size, void *userdata) {
        size_t *total = userdata;

        *total += size;
        return r->status == 204 ? 1 : 0;   /* exercises the "buffer it after all" answer too */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HttpResponse r;
        size_t step, off = 0, streamed = 0;
        int k = 0;

        if (size < 1)
                return 0;
        step = (size_t) (data[0] & 0x3f) + 1;
        http_response_init(&r, data[0] & 0x80 ? 64 : 1024 * 1024, true);
        if (data[0] & 0x40) {
                r.on_body = fuzz_on_body;
                r.userdata = &streamed;
        }
        data++;
        size--;

        while (off < size && !r.complete) {
                size_t used = 0, n = size - off < step ? size - off : step;

                k = http_response_feed(&r, (const char *) data + off, n, &used);
                assert(used <= n);
                off += used;
                if (k < 0)
                        break;
                assert(r.complete || used == n);
        }
        if (k >= 0 && !r.complete)
                (void) http_response_feed(&r, NULL, 0, NULL);   /* the end of the connection */

        assert(r.body_size <= r.body_max);
        assert(!r.body || strlen(r.body) <= r.body_size);
        assert(r.headers_size <= HTTP_RESPONSE_HEADERS_MAX);
        assert(!r.complete || r.head_done);
        if (r.head_done) {
                char v[64];

                assert(r.status >= 200 || r.status < 100);
                (void) http_response_header(&r, "content-length", v, sizeof(v));
        }
        http_response_done(&r);
        return 0;
}
