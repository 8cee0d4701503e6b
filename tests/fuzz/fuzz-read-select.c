/* SPDX-License-Identifier: MIT */
/* fuzz-read-select - ReadOutputEx's walk (output_store_read_select()) over a spool and index the input
 * describes: byte 0 picks the streams, byte 1 the bytes per call (1..64), byte 2 the runs per call (1..4),
 * byte 3 bit 0 a garbage index (refused at open: everything is unknown, served as stdout); then each byte is
 * a run (1..16 bytes of stream byte % 3). Reading from 0 by next until eof must give exactly the selected
 * runs' bytes, each call within its bounds and moving on, eof only at the end. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "fuzz.h"
#include "engine/output.h"
#include "engine/stream-index.h"

#define RUNS_MAX 256

typedef struct Layout {
        uint8_t spool[RUNS_MAX * 16];
        uint8_t index[STREAM_INDEX_HEADER_SIZE + RUNS_MAX * STREAM_INDEX_RECORD_SIZE];
        uint8_t want[RUNS_MAX * 16];
        size_t spool_n, index_n, want_n;
} Layout;

static void write_file(const char *path, const void *buf, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0 || write(fd, buf, n) != (ssize_t) n)
                abort();
        close(fd);
}

/* The spool, its index and the bytes a reader of select must get. */
static void layout_build(Layout *l, const uint8_t *runs, size_t n_runs, unsigned select, bool garbage) {
        memcpy(l->index, stream_index_header, STREAM_INDEX_HEADER_SIZE);
        l->index_n = STREAM_INDEX_HEADER_SIZE;
        l->spool_n = l->want_n = 0;
        for (size_t i = 0; i < n_runs; i++) {
                StreamIndexEntry e = { .offset = l->spool_n, .realtime = i, .stream = (OutputStream) (runs[i] % 3) };
                size_t len = runs[i] / 3 % 16 + 1;
                bool selected = OUTPUT_SELECTED(select, garbage ? OUTPUT_STREAM_UNKNOWN : e.stream);

                stream_index_encode(&e, l->index + l->index_n);
                l->index_n += STREAM_INDEX_RECORD_SIZE;
                for (size_t b = 0; b < len; b++) {
                        l->spool[l->spool_n] = (uint8_t) (l->spool_n * 7 + i);
                        if (selected)
                                l->want[l->want_n++] = l->spool[l->spool_n];
                        l->spool_n++;
                }
        }
}

static void read_all(OutputStore *s, const Layout *l, unsigned select, size_t max, uint64_t runs) {
        uint8_t got[sizeof(l->want)], buf[64];
        uint64_t offset = 0, next;
        size_t got_n = 0;
        bool eof = false;

        while (!eof) {
                ssize_t n = output_store_read_select(s, select, offset, buf, max, runs, &next, &eof);

                if (n < 0 || (size_t) n > max || got_n + (size_t) n > sizeof(got) || next > l->spool_n ||
                    next < offset + (uint64_t) n || (n == 0 && next == offset && !eof) ||
                    eof != (next == l->spool_n))
                        abort();
                memcpy(got + got_n, buf, (size_t) n);
                got_n += (size_t) n;
                offset = next;
        }
        if (got_n != l->want_n || memcmp(got, l->want, got_n) != 0)
                abort();
}

static char dir[] = "/tmp/fuzz-read-select-XXXXXX";

static void remove_dir(void) {
        (void) rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const unsigned selects[] = { OUTPUT_SELECT_STDOUT, OUTPUT_SELECT_STDERR, OUTPUT_SELECT_BOTH };
        static sd_event *event;
        static Layout l;
        char spool[sizeof(dir) + 16], idx[sizeof(dir) + 32], aside[sizeof(dir) + 48];
        int none[_OUTPUT_STREAM_MAX] = { -EBADF, -EBADF, -EBADF };
        OutputStore *s = NULL;
        unsigned select;
        bool garbage;

        if (size < 4 || size - 4 > RUNS_MAX)
                return 0;
        if (!event) {
                if (!mkdtemp(dir) || sd_event_new(&event) < 0)
                        abort();
                atexit(remove_dir);
        }
        select = selects[data[0] % 3];
        garbage = data[3] & 1;
        layout_build(&l, data + 4, size - 4, select, garbage);
        snprintf(spool, sizeof(spool), "%s/job.out", dir);
        snprintf(idx, sizeof(idx), "%s.idx", spool);
        snprintf(aside, sizeof(aside), "%s.corrupt", idx);
        write_file(spool, l.spool, l.spool_n);
        write_file(idx, garbage ? (const void *) "garbage" : l.index, garbage ? 7 : l.index_n);
        if (output_store_open_streams(event, spool, none, 0, &s) < 0)
                abort();
        read_all(s, &l, select, data[1] % 64 + 1, data[2] % 4 + 1);
        output_store_free(s);
        (void) unlink(spool);
        (void) unlink(idx);
        (void) unlink(aside);
        return 0;
}
