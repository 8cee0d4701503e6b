/* SPDX-License-Identifier: MIT */
/* output-frames.c - readers of one stream, or of frames: the merged stream's runs from the stream index
 * (stream-index.h), the other stream's skipped, a frame header written before each run. Work per run, never
 * per byte: the payload is spliced from the spool like the plain reader's (output.c). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "engine/output-internal.h"
#include "shared/macro.h"

/* Writes what is left of the pending frame header: 1 when written, 0 when the pipe is full, or -errno. */
static int output_reader_write_header(OutputReader *r) {
        while (r->hdr_sent < r->hdr_len) {
                ssize_t k = write(r->fd, r->hdr + r->hdr_sent, r->hdr_len - r->hdr_sent);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return errno == EAGAIN ? 0 : -errno;
                r->hdr_sent += (uint8_t) k;
        }
        return 1;
}

static void output_reader_frame(OutputReader *r, uint64_t len) {
        uint32_t be_len = htobe32((uint32_t) len);
        uint64_t be_time = htobe64(r->cursor.realtime);

        memset(r->hdr, 0, sizeof(r->hdr));
        r->hdr[0] = r->cursor.stream == OUTPUT_STREAM_STDERR ? OUTPUT_STREAM_STDERR : OUTPUT_STREAM_STDOUT;
        memcpy(r->hdr + 4, &be_len, 4);
        r->hdr_len = 8;
        if (r->timestamps) {
                memcpy(r->hdr + 8, &be_time, 8);
                r->hdr_len = 16;
        }
        r->hdr_sent = 0;
}

/* The next piece for a reader of some streams or of frames: its run from the index, skipping runs of other
 * streams; a frame header before each run (or 1 MiB of it). Work per run, not per byte: the payload is
 * spliced like the plain reader's. Returns 1 with r->frame_left set, 0 at the limit, or -errno. */
static int output_reader_next_run(OutputReader *r, uint64_t limit) {
        OutputStore *s = r->store;

        while (r->offset < limit) {
                uint64_t run_end;
                int k = stream_cursor_at(s->index, &r->cursor, r->offset);

                if (k < 0)
                        return k;
                run_end = MIN(r->cursor.end, limit);
                if (!OUTPUT_SELECTED(r->select, r->cursor.stream)) {
                        r->offset = run_end;
                        continue;
                }
                r->frame_left = run_end - r->offset;
                if (r->framed) {
                        r->frame_left = MIN(r->frame_left, (uint64_t) OUTPUT_FRAME_MAX);
                        output_reader_frame(r, r->frame_left);
                }
                return 1;
        }
        return 0;
}

int output_reader_push_indexed(OutputReader *r) {
        OutputStore *s = r->store;
        uint64_t budget = OUTPUT_READER_BUDGET;

        for (;;) {
                uint64_t limit = MIN(r->end, s->size);
                ssize_t k;

                k = output_reader_write_header(r);
                if (k <= 0)
                        return k < 0 ? (int) k : OUTPUT_READER_BUSY;
                if (r->frame_left == 0) {
                        k = output_reader_next_run(r, limit);
                        if (k < 0)
                                return (int) k;
                        if (k == 0)
                                break;
                        continue;
                }
                if (budget == 0)
                        return OUTPUT_READER_BUSY;

                k = output_reader_splice(r, MIN(r->frame_left, budget));
                if (k == -EAGAIN)
                        return OUTPUT_READER_BUSY;
                if (k < 0)
                        return (int) k;
                r->frame_left -= (uint64_t) k;
                budget -= (uint64_t) k;
        }

        if (r->offset >= r->end || s->complete)
                return OUTPUT_READER_DONE;
        return OUTPUT_READER_WAIT;
}
