/* SPDX-License-Identifier: MIT */
/* fuzz-list-cursor - ListPage's cursor argument as an untrusted caller may send it: bus_list_cursor_parse()
 * accepts exactly "" and "<16 lower-case hex digits>-<1 to 19 decimal digits>" of this daemon run, refuses
 * anything else with -EINVAL (malformed) or -ESTALE (another run), and never reads past the string. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-api.h"
#include "fuzz.h"

#define INSTANCE UINT64_C(0x5f1e0c2a9b3d4e11)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, again[64];
        uint64_t seq = 0, seq2 = 0;
        int r;

        if (size > 64)
                return 0;
        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;

        r = bus_list_cursor_parse(s, INSTANCE, &seq);
        if (r != 0 && r != -EINVAL && r != -ESTALE)
                abort();
        if (r == 0 && *s) {
                /* what was accepted is what the daemon itself writes, up to leading zeros of the number */
                if (strlen(s) < 18 || strncmp(s, "5f1e0c2a9b3d4e11-", 17) != 0)
                        abort();
                snprintf(again, sizeof(again), "%016" PRIx64 "-%" PRIu64, INSTANCE, seq);
                if (bus_list_cursor_parse(again, INSTANCE, &seq2) != 0 || seq2 != seq)
                        abort();
        }
        if (r == 0 && !*s && seq != 0)
                abort();
        free(s);
        return 0;
}
