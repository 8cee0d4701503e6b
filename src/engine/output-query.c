/* SPDX-License-Identifier: MIT */
/* output-query.c - where a reader of a job's output starts: at a time, or at the last N lines of some streams.
 * Both answer with an offset of the merged stream, which every reader takes (output.h). And ReadOutputEx's
 * bounded read of some streams from such an offset, which answers with the offset to go on from. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/output.h"
#include "engine/stream-index.h"
#include "shared/macro.h"

#define OUTPUT_QUERY_CHUNK (64 * 1024)
/* A tail is looked for in the event loop: it reads at most this much of the spool (page cache, memrchr: tens
 * of milliseconds) and visits at most this many runs, whatever `lines` asks. Past that it starts at the
 * earliest whole line it found: fewer lines than asked, never a stalled daemon. */
#define OUTPUT_TAIL_SCAN_MAX (UINT64_C(64) * 1024 * 1024)
#define OUTPUT_TAIL_RUNS_MAX 65536

typedef struct TailScan {
        uint64_t lines, found;
        bool skip_newline;      /* the next byte scanned is the stream's last: a newline there ends a line */
        uint64_t budget;        /* bytes still to read */
        uint64_t earliest;      /* start of the earliest whole line found; UINT64_MAX: none yet */
} TailScan;

int output_store_time_offset(OutputStore *s, uint64_t realtime, uint64_t *ret_offset) {
        StreamIndex *x = output_store_index(s);
        StreamIndexEntry e = {};
        uint64_t i;
        int k;

        if (!s || !ret_offset)
                return -EINVAL;
        if (!x)
                return -ENODATA;
        k = stream_index_find_time(x, realtime, &i);
        if (k < 0)
                return k;
        if (i >= stream_index_count(x)) {
                *ret_offset = output_store_size(s);
                return 0;
        }
        k = stream_index_get(x, i, &e);
        if (k < 0)
                return k;
        *ret_offset = e.offset;
        return 0;
}

/* Scans [start, end) backwards for newlines. 1 with *ret_offset set once t->lines were found, or once the
 * budget ran out (at the earliest whole line found, else where the scan stopped); else 0. */
static int tail_scan(OutputStore *s, char *buf, uint64_t start, uint64_t end, TailScan *t, uint64_t *ret_offset) {
        while (end > start) {
                size_t n = (size_t) MIN(end - start, (uint64_t) OUTPUT_QUERY_CHUNK);
                uint64_t base = end - n;
                ssize_t k;

                if (t->budget == 0) {
                        *ret_offset = t->earliest != UINT64_MAX ? t->earliest : end;
                        return 1;
                }
                n = (size_t) MIN((uint64_t) n, t->budget);
                base = end - n;
                k = output_store_read(s, base, buf, n, NULL);
                if (k < 0)
                        return (int) k;
                if ((size_t) k != n)
                        return -EIO;
                t->budget -= n;
                if (t->skip_newline) {
                        if (buf[n - 1] == '\n')
                                n--;
                        t->skip_newline = false;
                }
                for (char *nl; n > 0 && (nl = memrchr(buf, '\n', n)); n = (size_t) (nl - buf)) {
                        t->earliest = base + (uint64_t) (nl - buf) + 1;
                        if (++t->found == t->lines) {
                                *ret_offset = t->earliest;
                                return 1;
                        }
                }
                end = base;
        }
        return 0;
}

static TailScan tail_scan_init(uint64_t lines) {
        return (TailScan) { .lines = lines, .skip_newline = true, .budget = OUTPUT_TAIL_SCAN_MAX,
                            .earliest = UINT64_MAX };
}

int output_store_tail_offset(OutputStore *s, uint64_t lines, uint64_t *ret_offset) {
        _cleanup_(freep) char *buf = NULL;
        TailScan t = tail_scan_init(lines);
        int k;

        if (!s || !ret_offset)
                return -EINVAL;
        if (lines == 0) {
                *ret_offset = output_store_size(s);
                return 0;
        }
        buf = malloc(OUTPUT_QUERY_CHUNK);
        if (!buf)
                return -ENOMEM;
        /* The whole spool backwards, without the index: the merged stream's lines. */
        k = tail_scan(s, buf, 0, output_store_size(s), &t, ret_offset);
        if (k < 0)
                return k;
        if (k == 0)
                *ret_offset = 0;        /* fewer lines than asked: from the start */
        return 0;
}

int output_store_tail_offset_select(OutputStore *s, unsigned select, uint64_t lines, uint64_t *ret_offset) {
        _cleanup_(freep) char *buf = NULL;
        StreamIndex *x = output_store_index(s);
        TailScan t = tail_scan_init(lines);
        uint64_t end, first_selected = 0, runs = 0;
        int k;

        if (!s || !ret_offset || select == 0 || (select & ~OUTPUT_SELECT_BOTH))
                return -EINVAL;
        if (select == OUTPUT_SELECT_BOTH)
                return output_store_tail_offset(s, lines, ret_offset);
        if (!x)
                return -ENODATA;
        end = output_store_size(s);
        if (lines == 0) {
                *ret_offset = end;
                return 0;
        }
        buf = malloc(OUTPUT_QUERY_CHUNK);
        if (!buf)
                return -ENOMEM;

        /* Run by run from the end, only the selected ones: fewer lines than asked gives the first selected
         * run's start (0 would do as well: a reader of those streams skips the rest). */
        for (uint64_t i = stream_index_count(x); i > 0; i--) {
                StreamIndexEntry e = {};

                if (++runs > OUTPUT_TAIL_RUNS_MAX) {
                        *ret_offset = t.earliest != UINT64_MAX ? t.earliest : end;
                        return 0;
                }
                k = stream_index_get(x, i - 1, &e);
                if (k < 0)
                        return k;
                if (OUTPUT_SELECTED(select, e.stream)) {
                        k = tail_scan(s, buf, e.offset, end, &t, ret_offset);
                        if (k != 0)
                                return k < 0 ? k : 0;
                        first_selected = e.offset;
                }
                end = e.offset;
        }
        *ret_offset = first_selected;
        return 0;
}

int output_store_resolve_range(OutputStore *s, unsigned select, uint64_t offset, const uint64_t *since,
                               const uint64_t *until, const uint64_t *tail, uint64_t *ret_start, uint64_t *ret_end) {
        uint64_t start = offset, end = UINT64_MAX, o;
        int k;

        if (!s || !ret_start || !ret_end)
                return -EINVAL;
        if (offset > output_store_size(s))
                return -ERANGE;
        if (since) {
                k = output_store_time_offset(s, *since, &o);
                if (k < 0)
                        return k;
                start = MAX(start, o);
        }
        if (tail) {
                k = output_store_tail_offset_select(s, select, *tail, &o);
                if (k < 0)
                        return k;
                start = MAX(start, o);
        }
        if (until) {
                k = output_store_time_offset(s, *until, &end);
                if (k < 0)
                        return k;
                start = MIN(start, end);
        }
        *ret_start = start;
        *ret_end = end;
        return 0;
}

/* The selected bytes of [pos, end of c's run), as many as fit: the count read, 0 at a truncated spool. */
static ssize_t read_select_run(OutputStore *s, const StreamCursor *c, uint64_t pos, uint64_t size, uint8_t *buf,
                               size_t room) {
        uint64_t end = MIN(c->end, size);

        return output_store_read(s, pos, buf, (size_t) MIN(end - pos, (uint64_t) room), NULL);
}

ssize_t output_store_read_select(OutputStore *s, unsigned select, uint64_t offset, void *buf, size_t n,
                                 uint64_t max_runs, uint64_t *ret_next, bool *ret_eof) {
        StreamIndex *x = output_store_index(s);
        StreamCursor c = STREAM_CURSOR_INIT;
        uint64_t size, pos = offset;
        size_t done = 0;
        ssize_t k;

        if (!s || !ret_next || select == 0 || (select & ~OUTPUT_SELECT_BOTH) || (!buf && n > 0) || max_runs == 0)
                return -EINVAL;
        size = output_store_size(s);
        if (offset > size)
                return -EINVAL;
        if (x && stream_index_count(x) == 0)
                x = NULL;       /* nothing recorded (the first note failed): every byte is unknown */
        if (select == OUTPUT_SELECT_BOTH || (!x && OUTPUT_SELECTED(select, OUTPUT_STREAM_UNKNOWN))) {
                k = output_store_read(s, offset, buf, n, ret_eof);
                if (k >= 0)
                        *ret_next = offset + (uint64_t) k;
                return k;
        }
        if (!x)
                pos = size;     /* all unknown, none of it selected */

        /* Run by run: each visit costs an index read or two (a search for the first), each run is skipped
         * whole or read up to the room left. */
        for (uint64_t runs = 0; x && pos < size && done < n && runs < max_runs; runs++) {
                int r = stream_cursor_at(x, &c, pos);

                if (r < 0)
                        return r;
                if (!OUTPUT_SELECTED(select, c.stream)) {
                        pos = MIN(c.end, size);
                        continue;
                }
                k = read_select_run(s, &c, pos, size, (uint8_t *) buf + done, n - done);
                if (k < 0)
                        return k;
                if (k == 0)
                        break;  /* truncated behind our back */
                done += (size_t) k;
                pos += (uint64_t) k;
        }
        *ret_next = pos;
        if (ret_eof)
                *ret_eof = output_store_complete(s) && pos == size;
        return (ssize_t) done;
}
