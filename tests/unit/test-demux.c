/* SPDX-License-Identifier: MIT */
/* test-demux.c - telerun's decoder of framed output (cli/demux.c): frames split anywhere, each stream to its
 * fd, hidden streams still counted in the offset, times before lines, a cut stream resumed, bad headers. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>

#include "demux.h"

static void frame(GByteArray *b, uint8_t stream, const char *payload, bool timestamps, uint64_t t) {
        uint32_t len = htobe32((uint32_t) strlen(payload));
        uint8_t h[4] = { stream, 0, 0, 0 };

        g_byte_array_append(b, h, 4);
        g_byte_array_append(b, (const uint8_t *) &len, 4);
        if (timestamps) {
                uint64_t be = htobe64(t);
                g_byte_array_append(b, (const uint8_t *) &be, 8);
        }
        g_byte_array_append(b, (const uint8_t *) payload, (guint) strlen(payload));
}

static char *contents(int fd) {
        GString *s = g_string_new(NULL);
        char buf[4096];
        ssize_t n;
        off_t at = 0;

        while ((n = pread(fd, buf, sizeof(buf), at)) > 0) {
                g_string_append_len(s, buf, n);
                at += n;
        }
        return g_string_free(s, false);
}

/* Feeds b in pieces of `step` bytes into a fresh decoder writing to two memfds. */
static int feed(const GByteArray *b, size_t step, unsigned show, bool timestamps, char **out, char **err,
                uint64_t *offset) {
        Demux d;
        int r = 0;

        demux_init(&d, show, timestamps);
        d.out_fd[1] = memfd_create("out", MFD_CLOEXEC);
        d.out_fd[2] = memfd_create("err", MFD_CLOEXEC);
        *offset = 0;
        for (size_t at = 0; at < b->len && r == 0; at += step)
                r = demux_feed(&d, b->data + at, MIN(step, b->len - at), offset);
        *out = contents(d.out_fd[1]);
        *err = contents(d.out_fd[2]);
        close(d.out_fd[1]);
        close(d.out_fd[2]);
        return r;
}

static void test_split_any_piece(void) {
        g_autoptr(GByteArray) b = g_byte_array_new();

        frame(b, 1, "out 0\n", false, 0);
        frame(b, 2, "err 1\n", false, 0);
        frame(b, 1, "", false, 0);
        frame(b, 1, "out 2\n", false, 0);
        for (size_t step = 1; step <= b->len; step++) {
                g_autofree char *out = NULL, *err = NULL;
                uint64_t offset;

                g_assert_cmpint(feed(b, step, 6, false, &out, &err, &offset), ==, 0);
                g_assert_cmpstr(out, ==, "out 0\nout 2\n");
                g_assert_cmpstr(err, ==, "err 1\n");
                g_assert_cmpuint(offset, ==, 18);
        }
        {       /* stderr only: stdout's bytes are not shown but still count */
                g_autofree char *out = NULL, *err = NULL;
                uint64_t offset;

                g_assert_cmpint(feed(b, 5, 4, false, &out, &err, &offset), ==, 0);
                g_assert_cmpstr(out, ==, "");
                g_assert_cmpstr(err, ==, "err 1\n");
                g_assert_cmpuint(offset, ==, 18);
        }
}

static void test_timestamps(void) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        g_autofree char *out = NULL, *err = NULL;
        uint64_t offset;

        /* 2025-12-03T13:20:00.000001Z; a line split over two frames gets one stamp */
        frame(b, 1, "a\nb", true, UINT64_C(1764768000000001));
        frame(b, 1, "c\n", true, UINT64_C(1764768001000000));
        frame(b, 2, "e\n", true, UINT64_C(1764768002500000));
        g_assert_cmpint(feed(b, 3, 6, true, &out, &err, &offset), ==, 0);
        g_assert_cmpstr(out, ==, "2025-12-03T13:20:00.000001Z a\n2025-12-03T13:20:00.000001Z bc\n");
        g_assert_cmpstr(err, ==, "2025-12-03T13:20:02.500000Z e\n");
        g_assert_cmpuint(offset, ==, 7);
}

static void test_bad_and_resume(void) {
        static const uint8_t bad_stream[8] = { 3, 0, 0, 0, 0, 0, 0, 1 }, bad_pad[8] = { 1, 0, 1, 0, 0, 0, 0, 1 };
        g_autoptr(GByteArray) b = g_byte_array_new();
        Demux d;
        uint64_t offset = 0;

        demux_init(&d, 6, false);
        g_assert_cmpint(demux_feed(&d, bad_stream, 8, &offset), ==, -EBADMSG);
        demux_init(&d, 6, false);
        g_assert_cmpint(demux_feed(&d, bad_pad, 8, &offset), ==, -EBADMSG);

        /* cut in a header: a new stream starts with a whole header */
        frame(b, 1, "x", false, 0);
        demux_init(&d, 0, false);
        g_assert_cmpint(demux_feed(&d, b->data, 5, &offset), ==, 0);
        demux_new_stream(&d);
        g_assert_cmpint(demux_feed(&d, b->data, b->len, &offset), ==, 0);
        g_assert_cmpuint(offset, ==, 1);
        /* cut in a payload: the same */
        g_byte_array_set_size(b, 0);
        frame(b, 2, "hello", false, 0);
        demux_init(&d, 0, false);
        offset = 0;
        g_assert_cmpint(demux_feed(&d, b->data, 10, &offset), ==, 0);
        g_assert_cmpuint(offset, ==, 2);
        demux_new_stream(&d);
        g_assert_cmpint(demux_feed(&d, b->data, b->len, &offset), ==, 0);
        g_assert_cmpuint(offset, ==, 7);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/demux/split-any-piece", test_split_any_piece);
        g_test_add_func("/demux/timestamps", test_timestamps);
        g_test_add_func("/demux/bad-and-resume", test_bad_and_resume);
        return g_test_run();
}
