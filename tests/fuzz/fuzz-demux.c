/* SPDX-License-Identifier: MIT */
/* fuzz-demux - telerun's decoder of framed output (cli/demux.c) on what a gateway may send: the first byte
 * picks timestamps (bit 0), the streams shown (bits 1-2) and the piece size (bits 3-7); the rest is the stream.
 * Any bytes give 0 or -EBADMSG, never a crash, and the offset never counts more bytes than were fed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "demux.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int null_fd = -1;
        uint64_t offset = 0;
        size_t step;
        Demux d;
        int r = 0;

        if (size < 1)
                return 0;
        if (null_fd < 0 && (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
                abort();
        demux_init(&d, data[0] & 6, data[0] & 1);
        d.out_fd[1] = d.out_fd[2] = null_fd;
        step = (size_t) (data[0] >> 3) + 1;
        data++;
        size--;
        for (size_t at = 0; at < size && r == 0; at += step) {
                r = demux_feed(&d, data + at, size - at < step ? size - at : step, &offset);
                if (at == size / 2)
                        demux_new_stream(&d);
        }
        if (r != 0 && r != -EBADMSG)
                abort();
        if (offset > size)
                abort();
        return 0;
}
