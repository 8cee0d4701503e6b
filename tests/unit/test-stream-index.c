/* SPDX-License-Identifier: MIT */
/* test-stream-index.c - the side index of a job's output (src/engine/stream-index.c) and the two-stream output
 * store built on it (src/engine/output.c, output-query.c): records, coalescing, lookups, the file's round trip
 * and refusal of a corrupt one; then real pipes into one spool read back whole, per stream, in frames, from a
 * time and as a per-stream tail, and after a reopen; and ReadOutputEx's bounded read of one stream. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <systemd/sd-event.h>

#undef MIN
#undef MAX
#include "shared/macro.h"
#include "engine/output.h"
#include "engine/stream-index.h"

typedef struct Fixture {
        char *dir;
        char *path;     /* the index (stream-index tests) or the spool (store tests) */
        sd_event *event;
        OutputStore *store;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        f->dir = g_dir_make_tmp("test-stream-index-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        f->path = g_build_filename(f->dir, "job.out", NULL);
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        const char *name;
        GDir *d;

        f->store = output_store_free(f->store);
        f->event = sd_event_unref(f->event);
        d = g_dir_open(f->dir, 0, NULL);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(f->dir, name, NULL);
                g_assert_cmpint(g_unlink(p), ==, 0);
        }
        g_dir_close(d);
        g_assert_cmpint(g_rmdir(f->dir), ==, 0);
        g_free(f->path);
        g_free(f->dir);
}

static void assert_entry(StreamIndex *x, uint64_t i, uint64_t offset, OutputStream stream, uint64_t t) {
        StreamIndexEntry e;

        g_assert_cmpint(stream_index_get(x, i, &e), ==, 0);
        g_assert_cmpuint(e.offset, ==, offset);
        g_assert_cmpint(e.stream, ==, stream);
        g_assert_cmpuint(e.realtime, ==, t);
}

/* Appends, coalesces the same stream within the window, splits on a stream change or after the window,
 * keeps times ordered when the clock steps back; lookups by offset and by time. */
static void test_append_coalesce(Fixture *f, gconstpointer data) {
        StreamIndex *x = NULL;
        uint64_t i;

        g_assert_cmpint(stream_index_create(f->path, &x), ==, 0);
        g_assert_cmpint(stream_index_note(x, 5, OUTPUT_STREAM_STDOUT, 1000), ==, -EINVAL);   /* must start at 0 */
        g_assert_cmpint(stream_index_note(x, 0, OUTPUT_STREAM_STDOUT, 1000), ==, 0);
        g_assert_cmpint(stream_index_note(x, 10, OUTPUT_STREAM_STDOUT, 2000), ==, 0);        /* coalesced */
        g_assert_cmpuint(stream_index_count(x), ==, 1);
        g_assert_cmpint(stream_index_note(x, 20, OUTPUT_STREAM_STDERR, 3000), ==, 0);        /* other stream */
        g_assert_cmpint(stream_index_note(x, 30, OUTPUT_STREAM_STDERR, 3000 + STREAM_INDEX_COALESCE_USEC), ==, 0);
        g_assert_cmpint(stream_index_note(x, 40, OUTPUT_STREAM_STDOUT, 500), ==, 0);         /* clock back */
        g_assert_cmpint(stream_index_note(x, 40, OUTPUT_STREAM_STDERR, 9000000), ==, -EINVAL); /* not after */
        g_assert_cmpuint(stream_index_count(x), ==, 4);
        assert_entry(x, 0, 0, OUTPUT_STREAM_STDOUT, 1000);
        assert_entry(x, 1, 20, OUTPUT_STREAM_STDERR, 3000);
        assert_entry(x, 2, 30, OUTPUT_STREAM_STDERR, 3000 + STREAM_INDEX_COALESCE_USEC);
        assert_entry(x, 3, 40, OUTPUT_STREAM_STDOUT, 3000 + STREAM_INDEX_COALESCE_USEC);

        g_assert_cmpint(stream_index_find_offset(x, 0, &i), ==, 0);
        g_assert_cmpuint(i, ==, 0);
        g_assert_cmpint(stream_index_find_offset(x, 19, &i), ==, 0);
        g_assert_cmpuint(i, ==, 0);
        g_assert_cmpint(stream_index_find_offset(x, 20, &i), ==, 0);
        g_assert_cmpuint(i, ==, 1);
        g_assert_cmpint(stream_index_find_offset(x, 1000, &i), ==, 0);
        g_assert_cmpuint(i, ==, 3);
        g_assert_cmpint(stream_index_find_time(x, 0, &i), ==, 0);
        g_assert_cmpuint(i, ==, 0);
        g_assert_cmpint(stream_index_find_time(x, 1001, &i), ==, 0);
        g_assert_cmpuint(i, ==, 1);
        g_assert_cmpint(stream_index_find_time(x, 3001, &i), ==, 0);
        g_assert_cmpuint(i, ==, 2);                     /* the first of two records with that time */
        g_assert_cmpint(stream_index_find_time(x, 1u << 30, &i), ==, 0);
        g_assert_cmpuint(i, ==, 4);                     /* none: the count */
        stream_index_free(x);
}

/* What is written loads again, for the spool it describes and no other. */
static void test_round_trip(Fixture *f, gconstpointer data) {
        StreamIndex *x = NULL;
        struct stat st;

        g_assert_cmpint(stream_index_create(f->path, &x), ==, 0);
        g_assert_cmpint(stream_index_create(f->path, &x), ==, -EEXIST);
        for (uint64_t k = 0; k < 100; k++)
                g_assert_cmpint(stream_index_note(x, k * 7, (OutputStream) (1 + k % 2), 1000 + k), ==, 0);
        stream_index_free(x);

        g_assert_cmpint(stream_index_load(f->path, 700, &x), ==, 0);
        g_assert_cmpuint(stream_index_count(x), ==, 100);
        assert_entry(x, 99, 693, OUTPUT_STREAM_STDERR, 1099);
        assert_entry(x, 42, 294, OUTPUT_STREAM_STDOUT, 1042);
        /* Appending goes on after the last record. */
        g_assert_cmpint(stream_index_note(x, 700, OUTPUT_STREAM_STDOUT, 2000), ==, 0);
        stream_index_free(x);
        g_assert_cmpint(stream_index_load(f->path, 701, &x), ==, 0);
        g_assert_cmpuint(stream_index_count(x), ==, 101);
        /* the size the spool caps count is the file's */
        g_assert_cmpint(stat(f->path, &st), ==, 0);
        g_assert_cmpuint(stream_index_file_size(x), ==, (uint64_t) st.st_size);
        g_assert_cmpuint(stream_index_file_size(x), ==, STREAM_INDEX_HEADER_SIZE + 101 * STREAM_INDEX_RECORD_SIZE);
        g_assert_cmpuint(stream_index_file_size(NULL), ==, 0);
        stream_index_free(x);

        /* A spool shorter than the records (the last one would cover no byte), or empty: refused. */
        g_assert_cmpint(stream_index_load(f->path, 700, &x), ==, -EBADMSG);
        g_assert_cmpint(stream_index_load(f->path, 0, &x), ==, -EBADMSG);
        g_assert_cmpint(stream_index_load("/nonexistent/x.idx", 0, &x), ==, -ENOENT);
}

static void write_file(const char *path, const uint8_t *buf, size_t n) {
        g_assert_true(g_file_set_contents(path, (const char *) buf, (gssize) n, NULL));
}

/* Every way a file can fail to describe its spool is refused, none crashes. */
static void test_corrupt(Fixture *f, gconstpointer data) {
        uint8_t buf[STREAM_INDEX_HEADER_SIZE + 3 * STREAM_INDEX_RECORD_SIZE];
        StreamIndexEntry good[3] = { { 0, 10, OUTPUT_STREAM_STDOUT }, { 5, 20, OUTPUT_STREAM_STDERR },
                                     { 9, 30, OUTPUT_STREAM_STDOUT } };
        StreamIndex *x = NULL;
        StreamIndexEntry last;
        uint64_t n;

        memcpy(buf, stream_index_header, STREAM_INDEX_HEADER_SIZE);
        for (size_t i = 0; i < 3; i++)
                stream_index_encode(&good[i], buf + STREAM_INDEX_HEADER_SIZE + i * STREAM_INDEX_RECORD_SIZE);
        g_assert_cmpint(stream_index_parse(buf, sizeof(buf), 12, &n, &last), ==, 0);
        g_assert_cmpuint(n, ==, 3);
        g_assert_cmpuint(last.offset, ==, 9);

        g_assert_cmpint(stream_index_parse(buf, sizeof(buf) - 1, 12, NULL, NULL), ==, -EBADMSG);  /* torn */
        g_assert_cmpint(stream_index_parse(buf, 8, 0, NULL, NULL), ==, -EBADMSG);                 /* short */
        g_assert_cmpint(stream_index_parse(buf, STREAM_INDEX_HEADER_SIZE, 0, NULL, NULL), ==, 0); /* empty */
        g_assert_cmpint(stream_index_parse(buf, STREAM_INDEX_HEADER_SIZE, 1, NULL, NULL), ==, -EBADMSG);

        {       /* each field broken in turn */
                const struct { StreamIndexEntry e; size_t at; } bad[] = {
                        { { 1, 10, OUTPUT_STREAM_STDOUT }, 0 },  /* first not at 0 */
                        { { 9, 20, OUTPUT_STREAM_STDERR }, 1 },  /* offsets not increasing */
                        { { 5, 5, OUTPUT_STREAM_STDERR }, 1 },   /* time going back */
                        { { 5, 20, 3 }, 1 },                     /* no such stream */
                        { { 12, 30, OUTPUT_STREAM_STDOUT }, 2 }, /* past the spool */
                };
                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        uint8_t copy[sizeof(buf)];

                        memcpy(copy, buf, sizeof(buf));
                        stream_index_encode(&bad[i].e, copy + STREAM_INDEX_HEADER_SIZE + bad[i].at * STREAM_INDEX_RECORD_SIZE);
                        g_assert_cmpint(stream_index_parse(copy, sizeof(copy), 12, NULL, NULL), ==, -EBADMSG);
                }
        }
        buf[0] = 'X';
        write_file(f->path, buf, sizeof(buf));
        g_assert_cmpint(stream_index_load(f->path, 12, &x), ==, -EBADMSG);
        g_assert_null(x);
}

/* ---- the store with two real pipes ---------------------------------------------------------------- */

/* Writes "out N\n" / "err N\n" alternately onto the two pipes, each write captured before the next. */
static void write_interleaved(Fixture *f, int out, int err, unsigned n, GString *all, GString *o, GString *e) {
        for (unsigned i = 0; i < n; i++) {
                g_autofree char *line = g_strdup_printf("%s %u\n", i % 2 ? "err" : "out", i);
                uint64_t want = output_store_size(f->store) + strlen(line);

                g_assert_cmpint(write(i % 2 ? err : out, line, strlen(line)), ==, (ssize_t) strlen(line));
                while (output_store_size(f->store) < want)
                        g_assert_cmpint(sd_event_run(f->event, 100 * 1000), >=, 0);
                g_string_append(all, line);
                g_string_append(i % 2 ? e : o, line);
        }
}

/* Reads a reader fd to EOF while driving the loop. */
static GString *read_all(Fixture *f, int fd) {
        GString *s = g_string_new(NULL);
        char buf[4096];

        g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));

                if (k > 0) {
                        g_string_append_len(s, buf, k);
                        continue;
                }
                if (k == 0)
                        break;
                g_assert_cmpint(errno, ==, EAGAIN);
                g_assert_cmpint(sd_event_run(f->event, 100 * 1000), >=, 0);
        }
        (void) close(fd);
        return s;
}

static GString *read_select(Fixture *f, uint64_t offset, unsigned select, bool framed, bool timestamps) {
        OutputReaderOptions o = { .offset = offset, .end = UINT64_MAX, .select = select, .framed = framed,
                                  .timestamps = timestamps };
        int fd = -EBADF;

        g_assert_cmpint(output_store_open_reader_ex(f->store, &o, NULL, &fd), ==, 0);
        return read_all(f, fd);
}

/* Demultiplexes frames into the two streams, checking the header and that times never go back. */
static void demux(const GString *framed, bool timestamps, GString *o, GString *e, GString *merged) {
        size_t hl = timestamps ? 16 : 8, at = 0;
        uint64_t last_time = 0;

        while (at < framed->len) {
                const uint8_t *h = (const uint8_t *) framed->str + at;
                uint32_t len;

                g_assert_cmpuint(framed->len - at, >=, hl);
                g_assert_true(h[0] == 1 || h[0] == 2);
                g_assert_true(h[1] == 0 && h[2] == 0 && h[3] == 0);
                memcpy(&len, h + 4, 4);
                len = be32toh(len);
                if (timestamps) {
                        uint64_t t;

                        memcpy(&t, h + 8, 8);
                        t = be64toh(t);
                        g_assert_cmpuint(t, >=, last_time);
                        g_assert_cmpuint(t, >, 0);
                        last_time = t;
                }
                g_assert_cmpuint(framed->len - at - hl, >=, len);
                g_string_append_len(h[0] == 1 ? o : e, (const char *) h + hl, len);
                g_string_append_len(merged, (const char *) h + hl, len);
                at += hl + len;
        }
}

static void assert_gstr(GString *got, const GString *want) {
        g_assert_cmpstr(got->str, ==, want->str);
        g_string_free(got, true);
}

static void store_two_pipes(Fixture *f, int out[2], int err[2]) {
        g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);
        g_assert_cmpint(pipe2(err, O_CLOEXEC), ==, 0);
        int inputs[_OUTPUT_STREAM_MAX] = { -EBADF, out[0], err[0] };
        g_assert_cmpint(output_store_new_streams(f->event, f->path, inputs, 0, &f->store), ==, 0);
}

static void test_store_streams(Fixture *f, gconstpointer data) {
        g_autoptr(GString) all = g_string_new(NULL), o = g_string_new(NULL), e = g_string_new(NULL);
        g_autoptr(GString) fo = g_string_new(NULL), fe = g_string_new(NULL), fm = g_string_new(NULL);
        g_autofree char *idx = g_strdup_printf("%s.idx", f->path);
        int out[2], err[2];
        GString *framed;
        uint64_t off;

        store_two_pipes(f, out, err);
        write_interleaved(f, out[1], err[1], 40, all, o, e);
        /* a record per line (the stream changes at each), and the caps count them with the bytes */
        g_assert_cmpuint(stream_index_count(output_store_index(f->store)), ==, 40);
        g_assert_cmpuint(output_store_disk_size(f->store), ==,
                         all->len + STREAM_INDEX_HEADER_SIZE + 40 * STREAM_INDEX_RECORD_SIZE);

        assert_gstr(read_select(f, 0, OUTPUT_SELECT_BOTH, false, false), all);
        assert_gstr(read_select(f, 0, OUTPUT_SELECT_STDOUT, false, false), o);
        assert_gstr(read_select(f, 0, OUTPUT_SELECT_STDERR, false, false), e);
        framed = read_select(f, 0, OUTPUT_SELECT_BOTH, false, true);
        demux(framed, true, fo, fe, fm);
        g_string_free(framed, true);
        g_assert_cmpstr(fo->str, ==, o->str);
        g_assert_cmpstr(fe->str, ==, e->str);
        g_assert_cmpstr(fm->str, ==, all->str);

        /* The last 3 lines of stderr, and of both. */
        g_assert_cmpint(output_store_tail_offset_select(f->store, OUTPUT_SELECT_STDERR, 3, &off), ==, 0);
        {
                g_autoptr(GString) want = g_string_new("err 35\nerr 37\nerr 39\n");
                assert_gstr(read_select(f, off, OUTPUT_SELECT_STDERR, false, false), want);
        }
        g_assert_cmpint(output_store_tail_offset_select(f->store, OUTPUT_SELECT_STDOUT, 1000, &off), ==, 0);
        assert_gstr(read_select(f, off, OUTPUT_SELECT_STDOUT, false, false), o);
        g_assert_cmpint(output_store_tail_offset_select(f->store, OUTPUT_SELECT_BOTH, 2, &off), ==, 0);
        {
                g_autoptr(GString) want = g_string_new("out 38\nerr 39\n");
                assert_gstr(read_select(f, off, OUTPUT_SELECT_BOTH, false, false), want);
        }

        /* Both pipes must close for the stream to complete. */
        (void) close(out[1]);
        for (int i = 0; i < 5; i++)
                (void) sd_event_run(f->event, 10 * 1000);
        g_assert_false(output_store_complete(f->store));
        (void) close(err[1]);
        while (!output_store_complete(f->store))
                g_assert_cmpint(sd_event_run(f->event, 100 * 1000), >=, 0);

        /* After a restart: the index reloads and the split is the same. */
        f->store = output_store_free(f->store);
        int none[_OUTPUT_STREAM_MAX] = { -EBADF, -EBADF, -EBADF };
        g_assert_cmpint(output_store_open_streams(f->event, f->path, none, 0, &f->store), ==, 0);
        assert_gstr(read_select(f, 0, OUTPUT_SELECT_STDERR, false, false), e);

        /* A corrupt index is moved aside; the spool is still whole, its bytes now "unknown" (served as stdout). */
        f->store = output_store_free(f->store);
        g_assert_true(g_file_set_contents(idx, "garbage", 7, NULL));
        int none2[_OUTPUT_STREAM_MAX] = { -EBADF, -EBADF, -EBADF };
        g_assert_cmpint(output_store_open_streams(f->event, f->path, none2, 0, &f->store), ==, 0);
        assert_gstr(read_select(f, 0, OUTPUT_SELECT_STDOUT, false, false), all);
        {
                g_autoptr(GString) empty = g_string_new(NULL);
                g_autofree char *aside = g_strdup_printf("%s.corrupt", idx);
                assert_gstr(read_select(f, 0, OUTPUT_SELECT_STDERR, false, false), empty);
                g_assert_true(g_file_test(aside, G_FILE_TEST_EXISTS));
        }
}

/* --since: the offset of the first byte captured at or after a time. */
static void test_store_since(Fixture *f, gconstpointer data) {
        g_autoptr(GString) all = g_string_new(NULL), o = g_string_new(NULL), e = g_string_new(NULL);
        g_autoptr(GString) all2 = g_string_new(NULL), o2 = g_string_new(NULL), e2 = g_string_new(NULL);
        int out[2], err[2];
        uint64_t mid, off;

        store_two_pipes(f, out, err);
        write_interleaved(f, out[1], err[1], 4, all, o, e);
        g_usleep(2 * STREAM_INDEX_COALESCE_USEC);
        mid = g_get_real_time();
        write_interleaved(f, out[1], err[1], 4, all2, o2, e2);
        g_assert_cmpint(output_store_time_offset(f->store, mid, &off), ==, 0);
        g_assert_cmpuint(off, ==, all->len);
        assert_gstr(read_select(f, off, OUTPUT_SELECT_BOTH, false, false), all2);
        g_assert_cmpint(output_store_time_offset(f->store, mid + 3600ull * 1000000, &off), ==, 0);
        g_assert_cmpuint(off, ==, output_store_size(f->store));
        (void) close(out[1]);
        (void) close(err[1]);
}

/* A tail is looked for in the daemon's event loop: it reads at most 64 MiB of the spool, then starts at the
 * earliest whole line it found. A sparse spool of 70 lines of 1 MiB (costs no disk). */
static void test_tail_bounded(Fixture *f, gconstpointer data) {
        const uint64_t MiB = UINT64_C(1) << 20;
        int none[_OUTPUT_STREAM_MAX] = { -EBADF, -EBADF, -EBADF };
        uint64_t off;
        int fd;

        fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        for (uint64_t k = 1; k <= 70; k++)
                g_assert_cmpint(pwrite(fd, "\n", 1, (off_t) (k * MiB - 1)), ==, 1);
        close(fd);
        g_assert_cmpint(output_store_open_streams(f->event, f->path, none, 0, &f->store), ==, 0);

        g_assert_cmpint(output_store_tail_offset(f->store, 5, &off), ==, 0);
        g_assert_cmpuint(off, ==, 65 * MiB);
        g_assert_cmpint(output_store_tail_offset(f->store, 100, &off), ==, 0);
        g_assert_cmpuint(off, ==, 7 * MiB);             /* 63 whole lines, not all 70 */
        g_assert_cmpint(output_store_tail_offset_select(f->store, OUTPUT_SELECT_STDOUT, 100, &off), ==, 0);
        g_assert_cmpuint(off, ==, 7 * MiB);             /* the same through the index (one unknown run) */
        g_assert_cmpint(output_store_tail_offset_select(f->store, OUTPUT_SELECT_STDERR, 100, &off), ==, 0);
        g_assert_cmpuint(off, ==, 0);                   /* no stderr at all: nothing read */
}

/* ReadOutputEx's walk, call after call from next as a client does, until the end of what the spool holds (or
 * eof). Each call must make progress (bytes, or next moved on); *ret_calls counts them. */
static GString *read_ex_loop(Fixture *f, unsigned select, uint64_t offset, size_t max, uint64_t runs,
                             unsigned *ret_calls, bool *ret_eof) {
        GString *s = g_string_new(NULL);
        g_autofree char *buf = g_malloc(max + 1);
        unsigned calls = 0;
        bool eof = false;

        while (!eof && offset < output_store_size(f->store)) {
                uint64_t next = UINT64_MAX;
                ssize_t n = output_store_read_select(f->store, select, offset, buf, max, runs, &next, &eof);

                g_assert_cmpint(n, >=, 0);
                g_assert_cmpuint((uint64_t) n, <=, max);
                g_assert_true(n > 0 || next > offset);
                g_assert_cmpuint(next, >=, offset + (uint64_t) n);
                g_assert_cmpuint(next, <=, output_store_size(f->store));
                g_string_append_len(s, buf, n);
                offset = next;
                calls++;
        }
        if (ret_calls)
                *ret_calls = calls;
        if (ret_eof)
                *ret_eof = eof;
        return s;
}

static void test_read_select(Fixture *f, gconstpointer data) {
        g_autoptr(GString) all = g_string_new(NULL), o = g_string_new(NULL), e = g_string_new(NULL);
        g_autofree char *idx = g_strdup_printf("%s.idx", f->path);
        int out[2], err[2];
        char buf[64];
        uint64_t next;
        unsigned calls;
        bool eof;
        ssize_t n;

        store_two_pipes(f, out, err);
        write_interleaved(f, out[1], err[1], 40, all, o, e);

        /* One call with room for all: exactly one stream's bytes, next at the end, no eof while the job runs. */
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDOUT, 0, 4096, OUTPUT_READ_RUNS_MAX, &calls, &eof), o);
        g_assert_cmpuint(calls, ==, 1);
        g_assert_false(eof);
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDERR, 0, 4096, OUTPUT_READ_RUNS_MAX, &calls, NULL), e);
        g_assert_cmpuint(calls, ==, 1);
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_BOTH, 0, 4096, OUTPUT_READ_RUNS_MAX, NULL, NULL), all);

        /* In pieces of 7 bytes, following next: the same bytes, and the same as the reader fd gives. */
        {
                g_autoptr(GString) by_fd = read_select(f, 0, OUTPUT_SELECT_STDERR, false, false);
                assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDERR, 0, 7, OUTPUT_READ_RUNS_MAX, &calls, NULL), by_fd);
                g_assert_cmpstr(by_fd->str, ==, e->str);
        }
        g_assert_cmpuint(calls, >=, e->len / 7);
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDOUT, 0, 7, OUTPUT_READ_RUNS_MAX, NULL, NULL), o);
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_BOTH, 0, 7, OUTPUT_READ_RUNS_MAX, NULL, NULL), all);

        /* From the middle of a run: "out 0\n" then "err 1\n"; 2 bytes into each. */
        {
                g_autoptr(GString) want_o = g_string_new(o->str + 2), want_e = g_string_new(e->str + 2);
                assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDOUT, 2, 4096, 1000, NULL, NULL), want_o);
                assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDERR, 2, 4096, 1000, NULL, NULL), e);
                assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDERR, 6 + 2, 4096, 1000, NULL, NULL), want_e);
        }

        /* The run bound: 3 runs from 0 are out 0 (skipped), err 1 (read), out 2 (skipped); next is err 3's. */
        n = output_store_read_select(f->store, OUTPUT_SELECT_STDERR, 0, buf, sizeof(buf), 3, &next, &eof);
        g_assert_cmpint(n, ==, 6);
        g_assert_cmpmem(buf, 6, "err 1\n", 6);
        g_assert_cmpuint(next, ==, 18);
        g_assert_false(eof);
        /* One run from 0: nothing, but next moves past the stdout run. */
        n = output_store_read_select(f->store, OUTPUT_SELECT_STDERR, 0, buf, sizeof(buf), 1, &next, &eof);
        g_assert_cmpint(n, ==, 0);
        g_assert_cmpuint(next, ==, 6);
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDERR, 0, 4096, 1, &calls, NULL), e);
        g_assert_cmpuint(calls, ==, 40);

        g_assert_cmpint(output_store_read_select(f->store, OUTPUT_SELECT_STDERR, all->len + 1, buf, sizeof(buf),
                                                 1, &next, &eof), ==, -EINVAL);
        g_assert_cmpint(output_store_read_select(f->store, OUTPUT_SELECT_STDERR, 0, buf, sizeof(buf), 0, &next,
                                                 &eof), ==, -EINVAL);

        /* Complete: eof only with the last piece, also when the last run is of the other stream. */
        (void) close(out[1]);
        (void) close(err[1]);
        while (!output_store_complete(f->store))
                g_assert_cmpint(sd_event_run(f->event, 100 * 1000), >=, 0);
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDOUT, 0, 4096, OUTPUT_READ_RUNS_MAX, &calls, &eof), o);
        g_assert_true(eof);
        g_assert_cmpuint(calls, ==, 1);
        n = output_store_read_select(f->store, OUTPUT_SELECT_STDERR, 0, buf, 7, OUTPUT_READ_RUNS_MAX, &next, &eof);
        g_assert_cmpint(n, ==, 7);
        g_assert_false(eof);
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDERR, 0, 7, OUTPUT_READ_RUNS_MAX, NULL, &eof), e);
        g_assert_true(eof);
        n = output_store_read_select(f->store, OUTPUT_SELECT_STDERR, all->len, buf, 7, 1, &next, &eof);
        g_assert_cmpint(n, ==, 0);
        g_assert_cmpuint(next, ==, all->len);
        g_assert_true(eof);

        /* No index (a corrupt one moved aside): every byte is stdout's, stderr has none and ends at once. */
        f->store = output_store_free(f->store);
        g_assert_true(g_file_set_contents(idx, "garbage", 7, NULL));
        int none[_OUTPUT_STREAM_MAX] = { -EBADF, -EBADF, -EBADF };
        g_assert_cmpint(output_store_open_streams(f->event, f->path, none, 0, &f->store), ==, 0);
        assert_gstr(read_ex_loop(f, OUTPUT_SELECT_STDOUT, 0, 7, 1, NULL, &eof), all);
        g_assert_true(eof);
        n = output_store_read_select(f->store, OUTPUT_SELECT_STDERR, 0, buf, sizeof(buf), 1, &next, &eof);
        g_assert_cmpint(n, ==, 0);
        g_assert_cmpuint(next, ==, all->len);
        g_assert_true(eof);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        (void) signal(SIGPIPE, SIG_IGN);
#define ADD(name, fn) g_test_add("/stream-index/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("append-coalesce", test_append_coalesce);
        ADD("round-trip", test_round_trip);
        ADD("corrupt", test_corrupt);
        ADD("store-streams", test_store_streams);
        ADD("store-since", test_store_since);
        ADD("tail-bounded", test_tail_bounded);
        ADD("read-select", test_read_select);
        return g_test_run();
}
