/* SPDX-License-Identifier: MIT */
/* stream-index.c - the side index of a job's output: (offset, stream, realtime) per run (stream-index.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/stream-index.h"
#include "shared/macro.h"
#include "shared/util.h"

#define STREAM_INDEX_TIME_MASK ((UINT64_C(1) << 56) - 1)
#define STREAM_INDEX_FILE_MAX (STREAM_INDEX_HEADER_SIZE + STREAM_INDEX_MAX_RECORDS * STREAM_INDEX_RECORD_SIZE)

const uint8_t stream_index_header[STREAM_INDEX_HEADER_SIZE] = { 'T', 'W', 'S', 'I', 'D', 'X', '1', '\n' };

struct StreamIndex {
        int fd;                 /* O_RDWR; records written and read by explicit offset */
        uint64_t n;             /* records in the file */
        StreamIndexEntry last;  /* record n - 1, when n > 0 */
        bool stopped;           /* at the cap, or after a write error: no more records */
};

void stream_index_encode(const StreamIndexEntry *e, uint8_t out[STREAM_INDEX_RECORD_SIZE]) {
        uint64_t off = htole64(e->offset);
        uint64_t word = htole64((e->realtime & STREAM_INDEX_TIME_MASK) | ((uint64_t) e->stream << 56));

        memcpy(out, &off, 8);
        memcpy(out + 8, &word, 8);
}

static void stream_index_decode(const uint8_t *in, StreamIndexEntry *ret) {
        uint64_t off, word;

        memcpy(&off, in, 8);
        memcpy(&word, in + 8, 8);
        off = le64toh(off);
        word = le64toh(word);
        *ret = (StreamIndexEntry) { .offset = off, .realtime = word & STREAM_INDEX_TIME_MASK, .stream = word >> 56 };
}

int stream_index_parse(const uint8_t *buf, size_t n, uint64_t spool_size, uint64_t *ret_n, StreamIndexEntry *ret_last) {
        StreamIndexEntry prev = {}, e;
        uint64_t count;

        if (!buf || n < STREAM_INDEX_HEADER_SIZE || n > STREAM_INDEX_FILE_MAX ||
            memcmp(buf, stream_index_header, STREAM_INDEX_HEADER_SIZE) != 0 ||
            (n - STREAM_INDEX_HEADER_SIZE) % STREAM_INDEX_RECORD_SIZE != 0)
                return -EBADMSG;
        count = (n - STREAM_INDEX_HEADER_SIZE) / STREAM_INDEX_RECORD_SIZE;
        /* Bytes in the spool need a record that says whose they are; a record needs bytes. */
        if ((count == 0) != (spool_size == 0))
                return -EBADMSG;

        for (uint64_t i = 0; i < count; i++) {
                stream_index_decode(buf + STREAM_INDEX_HEADER_SIZE + i * STREAM_INDEX_RECORD_SIZE, &e);
                if (e.stream >= _OUTPUT_STREAM_MAX || e.offset >= spool_size)
                        return -EBADMSG;
                if (i == 0 ? e.offset != 0 : e.offset <= prev.offset || e.realtime < prev.realtime)
                        return -EBADMSG;
                prev = e;
        }
        if (ret_n)
                *ret_n = count;
        if (ret_last)
                *ret_last = prev;
        return 0;
}

StreamIndex *stream_index_free(StreamIndex *x) {
        if (!x)
                return NULL;
        safe_close(x->fd);
        free(x);
        return NULL;
}
DEFINE_FREE_FUNC(StreamIndex, stream_index_free);

int stream_index_create(const char *path, StreamIndex **ret) {
        _cleanup_(stream_index_freep) StreamIndex *x = NULL;

        if (!path || !ret)
                return -EINVAL;
        x = new0(StreamIndex, 1);
        if (!x)
                return -ENOMEM;
        x->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
        if (x->fd < 0)
                return -errno;
        if (pwrite(x->fd, stream_index_header, sizeof(stream_index_header), 0) != (ssize_t) sizeof(stream_index_header)) {
                int k = errno > 0 ? -errno : -EIO;
                (void) unlink(path);
                return k;
        }
        *ret = TAKE_PTR(x);
        return 0;
}

int stream_index_load(const char *path, uint64_t spool_size, StreamIndex **ret) {
        _cleanup_(stream_index_freep) StreamIndex *x = NULL;
        struct stat st;
        void *map;
        int k;

        if (!path || !ret)
                return -EINVAL;
        x = new0(StreamIndex, 1);
        if (!x)
                return -ENOMEM;
        x->fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (x->fd < 0)
                return -errno;
        if (fstat(x->fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size < STREAM_INDEX_HEADER_SIZE || (uint64_t) st.st_size > STREAM_INDEX_FILE_MAX)
                return -EBADMSG;

        /* Read once, at load, in one pass; never again in whole. */
        map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, x->fd, 0);
        if (map == MAP_FAILED)
                return -errno;
        k = stream_index_parse(map, (size_t) st.st_size, spool_size, &x->n, &x->last);
        (void) munmap(map, (size_t) st.st_size);
        if (k < 0)
                return k;
        x->stopped = x->n >= STREAM_INDEX_MAX_RECORDS;
        *ret = TAKE_PTR(x);
        return 0;
}

static int stream_index_append(StreamIndex *x, const StreamIndexEntry *e) {
        uint8_t rec[STREAM_INDEX_RECORD_SIZE];
        off_t at = (off_t) (STREAM_INDEX_HEADER_SIZE + x->n * STREAM_INDEX_RECORD_SIZE);

        stream_index_encode(e, rec);
        if (pwrite(x->fd, rec, sizeof(rec), at) != (ssize_t) sizeof(rec)) {
                int k = errno > 0 ? -errno : -EIO;

                /* Cut back to whole records: a torn one would make the file refused at the next load. */
                (void) ftruncate(x->fd, at);
                x->stopped = true;
                return k;
        }
        x->n++;
        x->last = *e;
        return 0;
}

int stream_index_note(StreamIndex *x, uint64_t offset, OutputStream stream, uint64_t realtime) {
        StreamIndexEntry e = {};

        if (!x || stream >= _OUTPUT_STREAM_MAX)
                return -EINVAL;
        if (x->stopped)
                return 0;
        if (x->n > 0) {
                if (offset <= x->last.offset)
                        return -EINVAL;
                realtime = MAX(realtime, x->last.realtime);     /* a clock stepped back: keep times ordered */
                if (x->last.stream == stream && realtime - x->last.realtime < STREAM_INDEX_COALESCE_USEC)
                        return 0;
        } else if (offset != 0)
                return -EINVAL;

        e = (StreamIndexEntry) { .offset = offset, .realtime = realtime, .stream = stream };
        if (x->n + 1 >= STREAM_INDEX_MAX_RECORDS) {
                /* The last record: whatever follows is of no known stream. */
                e.stream = OUTPUT_STREAM_UNKNOWN;
                x->stopped = true;
        }
        return stream_index_append(x, &e);
}

uint64_t stream_index_count(const StreamIndex *x) {
        return x ? x->n : 0;
}

uint64_t stream_index_file_size(const StreamIndex *x) {
        return x ? STREAM_INDEX_HEADER_SIZE + x->n * STREAM_INDEX_RECORD_SIZE : 0;
}

int stream_index_get(StreamIndex *x, uint64_t i, StreamIndexEntry *ret) {
        uint8_t rec[STREAM_INDEX_RECORD_SIZE];
        ssize_t k;

        if (!x || !ret || i >= x->n)
                return -EINVAL;
        if (i == x->n - 1) {
                *ret = x->last;
                return 0;
        }
        k = pread(x->fd, rec, sizeof(rec), (off_t) (STREAM_INDEX_HEADER_SIZE + i * STREAM_INDEX_RECORD_SIZE));
        if (k < 0)
                return -errno;
        if (k != (ssize_t) sizeof(rec))
                return -EIO;
        stream_index_decode(rec, ret);
        return 0;
}

/* The first record for which past(record) holds, with past() monotonic along the file: a binary search over
 * preads (the file's records are ordered in offset and in time). */
static int stream_index_search(StreamIndex *x, bool (*past)(const StreamIndexEntry *e, uint64_t key), uint64_t key,
                               uint64_t *ret_i) {
        uint64_t lo = 0, hi = x->n;

        while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                StreamIndexEntry e = {};
                int k = stream_index_get(x, mid, &e);

                if (k < 0)
                        return k;
                if (past(&e, key))
                        hi = mid;
                else
                        lo = mid + 1;
        }
        *ret_i = lo;
        return 0;
}

static bool entry_after_offset(const StreamIndexEntry *e, uint64_t offset) {
        return e->offset > offset;
}

static bool entry_at_or_after_time(const StreamIndexEntry *e, uint64_t realtime) {
        return e->realtime >= realtime;
}

int stream_index_find_offset(StreamIndex *x, uint64_t offset, uint64_t *ret_i) {
        uint64_t i;
        int k;

        if (!x || !ret_i)
                return -EINVAL;
        if (x->n == 0)
                return -ENOENT;
        k = stream_index_search(x, entry_after_offset, offset, &i);
        if (k < 0)
                return k;
        *ret_i = i - 1;         /* record 0 is at offset 0, so i >= 1 */
        return 0;
}

int stream_index_find_time(StreamIndex *x, uint64_t realtime, uint64_t *ret_i) {
        if (!x || !ret_i)
                return -EINVAL;
        return stream_index_search(x, entry_at_or_after_time, realtime, ret_i);
}

unsigned output_select_from_string(const char *s) {
        if (streq_ptr(s, "stdout"))
                return OUTPUT_SELECT_STDOUT;
        if (streq_ptr(s, "stderr"))
                return OUTPUT_SELECT_STDERR;
        if (streq_ptr(s, "both"))
                return OUTPUT_SELECT_BOTH;
        return 0;
}

static int stream_cursor_load(StreamIndex *x, StreamCursor *c, uint64_t i) {
        StreamIndexEntry e = {};
        int k = stream_index_get(x, i, &e);

        if (k < 0)
                return k;
        *c = (StreamCursor) { .i = i, .end = UINT64_MAX, .stream = e.stream, .realtime = e.realtime };
        return 0;
}

int stream_cursor_at(StreamIndex *x, StreamCursor *c, uint64_t offset) {
        int k;

        if (!x || !c)
                return -EINVAL;
        if (c->i == UINT64_MAX) {
                uint64_t i;

                k = stream_index_find_offset(x, offset, &i);
                if (k < 0)
                        return k;
                k = stream_cursor_load(x, c, i);
                if (k < 0)
                        return k;
        }
        for (;;) {
                if (c->end == UINT64_MAX && c->i + 1 < x->n) {
                        StreamIndexEntry next = {};

                        k = stream_index_get(x, c->i + 1, &next);
                        if (k < 0)
                                return k;
                        c->end = next.offset;
                }
                if (offset < c->end)
                        return 0;
                k = stream_cursor_load(x, c, c->i + 1);
                if (k < 0)
                        return k;
        }
}
