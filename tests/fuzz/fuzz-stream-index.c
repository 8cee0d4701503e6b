/* SPDX-License-Identifier: MIT */
/* fuzz-stream-index - a job's output index file as teleworkerd reads it back at start (stream_index_parse()):
 * the first 8 bytes of the input are the spool's size, the rest the file. Any bytes give 0 or -EBADMSG,
 * never a crash; an accepted file has ordered records inside the spool, and re-encoding them gives the same
 * bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "engine/stream-index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        StreamIndexEntry last;
        uint64_t spool_size, n;
        int k;

        if (size < sizeof(spool_size))
                return 0;
        memcpy(&spool_size, data, sizeof(spool_size));
        data += sizeof(spool_size);
        size -= sizeof(spool_size);

        k = stream_index_parse(data, size, spool_size, &n, &last);
        if (k != 0 && k != -EBADMSG)
                abort();
        if (k < 0)
                return 0;
        if (n != (size - STREAM_INDEX_HEADER_SIZE) / STREAM_INDEX_RECORD_SIZE)
                abort();
        if (n > 0) {
                uint8_t rec[STREAM_INDEX_RECORD_SIZE];

                if (last.offset >= spool_size || last.stream >= _OUTPUT_STREAM_MAX)
                        abort();
                stream_index_encode(&last, rec);
                if (memcmp(rec, data + size - STREAM_INDEX_RECORD_SIZE, sizeof(rec)) != 0)
                        abort();
        }
        return 0;
}
