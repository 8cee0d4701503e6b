/* SPDX-License-Identifier: MIT */
/* fuzz-http-upgrade.c - the head of an attach's answer as telerun parses it (src/transport/http-upgrade.c):
 * bytes from a gateway we trust no more than its certificate, read in pieces as curl_easy_recv() gives them.
 * The first byte picks the piece size (bits 0-5). Checks the parser's promises: every prefix up to the head's
 * end is "incomplete", the head's size is within what was given and the bound, a complete head stays the same
 * head with more bytes after it; and the token list matcher on the same bytes. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "transport/http-upgrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf;
        HttpUpgradeHead h = {}, first = {};
        size_t step, n = 0;
        int r = 0;

        if (size < 1)
                return 0;
        step = (size_t) (data[0] & 0x3f) + 1;
        buf = (const char *) data + 1;
        size--;

        (void) http_header_has_token(buf, size, "upgrade");
        (void) http_header_has_token(buf, size, HTTP_UPGRADE_PROTOCOL);

        while (n < size) {
                n = n + step < size ? n + step : size;
                r = http_upgrade_head_parse(buf, n, &h);
                if (r != 0)
                        break;
        }
        if (r == 1) {
                assert(h.head_size >= 4 && h.head_size <= n && h.head_size <= HTTP_UPGRADE_HEAD_MAX);
                assert(memcmp(buf + h.head_size - 4, "\r\n\r\n", 4) == 0);
                assert(h.status >= 100 && h.status <= 599);
                assert(h.content_length >= -1);
                first = h;
                /* More bytes after a complete head change nothing about it. */
                assert(http_upgrade_head_parse(buf, size, &h) == 1);
                assert(h.head_size == first.head_size && h.status == first.status && h.upgrade == first.upgrade &&
                       h.content_length == first.content_length);
        } else if (r == 0)
                assert(size < HTTP_UPGRADE_HEAD_MAX);
        else
                assert(r == -EBADMSG || r == -E2BIG);
        return 0;
}
