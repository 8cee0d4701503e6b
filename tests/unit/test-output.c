/* SPDX-License-Identifier: MIT */
/* test-output.c - the output store with real pipes, real writer processes and a real sd-event loop.
 *
 * Every wait drives the loop until a condition holds (RUN_UNTIL); the deadline there is only a safety net.
 * Writers are forked children writing from memory; "gated" ones write a first part, then block on a gate
 * pipe until the test opens it, so a test can look at a live stream at a known size. The test process is a
 * child subreaper, so writers that outlive their parent (like a job's daemonized helper) are reaped too. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <systemd/sd-event.h>

/* GLib defines MIN() and MAX() as well; ours are the same, without the redefinition warning. */
#undef MIN
#undef MAX
#include "shared/macro.h"
#include "engine/output.h"

#define MiB (UINT64_C(1024) * 1024)
#define DEADLINE_USEC (100 * USEC_PER_SEC)

typedef struct TestReader {
        int fd;
        sd_event_source *source;
        const uint8_t *expect;          /* the whole stream, from offset 0 */
        uint64_t expect_size;           /* where EOF must come */
        uint64_t pos;                   /* stream offset of the next byte */
        bool eof;
        bool bad;                       /* a byte differed, or came past expect_size */
} TestReader;

typedef struct Fixture {
        char *dir;
        char *spool;
        sd_event *event;
        OutputStore *store;
        unsigned n_complete;
        int gate;                       /* write end of the current gated writer's gate */
        GPtrArray *readers;
} Fixture;

static uint64_t now_usec_mono(void) {
        struct timespec ts;

        g_assert_cmpint(clock_gettime(CLOCK_MONOTONIC, &ts), ==, 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Drive the loop until cond holds. The timeout only bounds how long one sd_event_run() sleeps when nothing
 * happens, so that a hang fails the test instead of the whole run. */
#define RUN_UNTIL(f, cond)                                                                      \
        do {                                                                                    \
                uint64_t _deadline = now_usec_mono() + DEADLINE_USEC;                           \
                while (!(cond)) {                                                               \
                        g_assert_cmpint(sd_event_run((f)->event, 100 * USEC_PER_MSEC), >=, 0);  \
                        if (now_usec_mono() > _deadline)                                        \
                                g_error("timed out waiting for: %s", #cond);                    \
                }                                                                               \
        } while (0)

/* Dispatch until nothing is pending: afterwards every reader is caught up or blocked on a full pipe. */
static void run_until_idle(Fixture *f) {
        int r;

        while ((r = sd_event_run(f->event, 0)) > 0)
                ;
        g_assert_cmpint(r, ==, 0);
}

static uint8_t *blob_new(size_t n, uint64_t seed) {
        uint8_t *p = g_malloc(n ? n : 1);
        uint64_t x = seed | 1;

        for (size_t i = 0; i < n; i += 8) {
                uint64_t v;

                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                v = x * UINT64_C(2685821657736338717);
                memcpy(p + i, &v, MIN((size_t) 8, n - i));
        }
        return p;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, MIN(n, (size_t) (128 * 1024)));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

typedef struct Writer {
        const uint8_t *a;               /* written at once */
        size_t na;
        const uint8_t *b;               /* written once the gate opens (gated writers only) */
        size_t nb;
        bool gated;
        bool daemonize;                 /* the gated part runs in a grandchild; the child exits after a */
} Writer;

/* Forks a writer. Returns its pid; *ret_input is the read end of its pipe; a gated writer's gate goes to
 * f->gate. */
static pid_t writer_spawn(Fixture *f, const Writer *w, int *ret_input) {
        int p[2], g[2] = { -EBADF, -EBADF };
        pid_t pid;

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        if (w->gated)
                g_assert_cmpint(pipe2(g, O_CLOEXEC), ==, 0);

        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                char c;

                /* Keep only the pipe (as stdout) and the gate (as stdin): inherited copies of other
                 * pipes' write ends would otherwise delay their EOF until this process exits. */
                if (dup2(p[1], STDOUT_FILENO) < 0)
                        _exit(2);
                if (w->gated && dup2(g[0], STDIN_FILENO) < 0)
                        _exit(2);
                if (close_range(3, ~0U, 0) < 0)
                        _exit(2);

                if (write_all(STDOUT_FILENO, w->a, w->na) < 0)
                        _exit(1);
                if (!w->gated)
                        _exit(0);
                if (w->daemonize) {
                        pid_t q = fork();

                        if (q < 0)
                                _exit(2);
                        if (q > 0)
                                _exit(0);
                }
                (void) !read(STDIN_FILENO, &c, 1);
                if (write_all(STDOUT_FILENO, w->b, w->nb) < 0)
                        _exit(1);
                _exit(0);
        }

        close(p[1]);
        if (w->gated) {
                close(g[0]);
                g_assert_cmpint(f->gate, <, 0);
                f->gate = g[1];
        }
        *ret_input = p[0];
        return pid;
}

static void gate_open(Fixture *f) {
        g_assert_cmpint(f->gate, >=, 0);
        g_assert_cmpint(write(f->gate, "x", 1), ==, 1);
        f->gate = safe_close(f->gate);
}

static int writer_wait(pid_t pid) {
        int status;

        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int on_test_reader(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        static uint8_t buf[256 * 1024];
        TestReader *t = userdata;

        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        g_assert_cmpint(errno, ==, EAGAIN);
                        return 0;
                }
                if (k == 0) {
                        t->eof = true;
                        g_assert_cmpint(sd_event_source_set_enabled(s, SD_EVENT_OFF), >=, 0);
                        return 0;
                }
                if (t->pos + (uint64_t) k > t->expect_size || memcmp(buf, t->expect + t->pos, (size_t) k) != 0)
                        t->bad = true;
                t->pos += (uint64_t) k;
        }
}

/* Reads fd from the loop and checks every byte against expect[pos...expect_size). Takes fd. */
static TestReader *test_reader_attach(Fixture *f, int fd, const uint8_t *expect, uint64_t pos, uint64_t expect_size) {
        TestReader *t = g_new0(TestReader, 1);
        struct stat st;
        int flags;

        t->fd = fd;
        t->expect = expect;
        t->pos = pos;
        t->expect_size = expect_size;
        g_ptr_array_add(f->readers, t);
        flags = fcntl(fd, F_GETFL);
        g_assert_cmpint(flags, >=, 0);
        g_assert_false(flags & O_NONBLOCK);     /* the store hands out blocking fds */
        g_assert_cmpint(fstat(fd, &st), ==, 0);
        g_assert_true(S_ISFIFO(st.st_mode));    /* always a pipe: clients may watch it with epoll */
        g_assert_cmpint(fcntl(fd, F_SETFL, flags | O_NONBLOCK), ==, 0);
        g_assert_cmpint(sd_event_add_io(f->event, &t->source, fd, EPOLLIN, on_test_reader, t), >=, 0);
        return t;
}

static TestReader *test_reader_open(Fixture *f, uint64_t offset, bool follow, const uint8_t *expect,
                                    uint64_t expect_size) {
        int fd = -EBADF;

        g_assert_cmpint(output_store_open_reader(f->store, offset, follow, &fd), ==, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fcntl(fd, F_GETFD), ==, FD_CLOEXEC);
        return test_reader_attach(f, fd, expect, offset, expect_size);
}

/* Closes the reader's fd now (a client going away). */
static void test_reader_close(Fixture *f, TestReader *t) {
        t->source = sd_event_source_disable_unref(t->source);
        t->fd = safe_close(t->fd);
}

static void test_reader_free(void *p) {
        TestReader *t = p;

        sd_event_source_disable_unref(t->source);
        safe_close(t->fd);
        g_free(t);
}

static void assert_reader_done(const TestReader *t) {
        g_assert_true(t->eof);
        g_assert_false(t->bad);
        g_assert_cmpuint(t->pos, ==, t->expect_size);
}

static bool all_eof(Fixture *f) {
        for (guint i = 0; i < f->readers->len; i++) {
                TestReader *t = f->readers->pdata[i];

                if (t->fd >= 0 && !t->eof)
                        return false;
        }
        return true;
}

static void on_complete(OutputStore *s, void *userdata) {
        Fixture *f = userdata;

        g_assert_true(s == f->store);
        g_assert_true(output_store_complete(s));
        f->n_complete++;
}

static void store_new(Fixture *f, int input, uint64_t max_bytes) {
        g_assert_cmpint(output_store_new(f->event, f->spool, input, max_bytes, &f->store), ==, 0);
        output_store_set_complete_handler(f->store, on_complete, f);
        g_assert_cmpuint(output_store_size(f->store), ==, 0);
        g_assert_false(output_store_complete(f->store));
}

/* Reads [offset, offset + n) through output_store_read() and compares it. */
static void assert_read(Fixture *f, uint64_t offset, size_t n, const uint8_t *expect, size_t expect_n, bool expect_eof) {
        g_autofree uint8_t *buf = g_malloc(n + 1);
        bool eof = !expect_eof;
        ssize_t k;

        k = output_store_read(f->store, offset, buf, n, &eof);
        g_assert_cmpint(k, ==, (ssize_t) expect_n);
        g_assert_cmpmem(buf, expect_n, expect, expect_n);
        g_assert_true(eof == expect_eof);
}

/* Checks the spool file on disk, in chunks, by SHA-256 (the store must not hold it in memory, and
 * neither should the test). */
static void assert_spool_checksum(Fixture *f, const uint8_t *expect, size_t n) {
        g_autoptr(GChecksum) disk = g_checksum_new(G_CHECKSUM_SHA256);
        g_autofree char *want = g_compute_checksum_for_data(G_CHECKSUM_SHA256, expect, n);
        g_autofree uint8_t *buf = g_malloc(MiB);
        _cleanup_(closep) int fd = open(f->spool, O_RDONLY | O_CLOEXEC);
        ssize_t k;

        g_assert_cmpint(fd, >=, 0);
        while ((k = read(fd, buf, MiB)) > 0)
                g_checksum_update(disk, buf, k);
        g_assert_cmpint(k, ==, 0);
        g_assert_cmpstr(g_checksum_get_string(disk), ==, want);
}

static void fixture_setup(Fixture *f, gconstpointer data) {
        GError *error = NULL;

        f->dir = g_dir_make_tmp("test-output-XXXXXX", &error);
        g_assert_no_error(error);
        f->spool = g_build_filename(f->dir, "spool", NULL);
        f->gate = -EBADF;
        f->readers = g_ptr_array_new_with_free_func(test_reader_free);
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        const char *name;
        GDir *d;

        f->store = output_store_free(f->store);
        g_ptr_array_unref(f->readers);
        f->gate = safe_close(f->gate);
        f->event = sd_event_unref(f->event);

        /* Writers see EPIPE (or their gate close) by now; reap them, grandchildren included. */
        while (waitpid(-1, NULL, 0) > 0)
                ;

        d = g_dir_open(f->dir, 0, NULL);
        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(f->dir, name, NULL);
                g_assert_cmpint(g_unlink(p), ==, 0);
        }
        g_dir_close(d);
        g_assert_cmpint(g_rmdir(f->dir), ==, 0);
        g_free(f->spool);
        g_free(f->dir);
}

/* All 256 byte values, read back at every interesting offset, by every kind of reader. */
static void test_bytes_and_offsets(Fixture *f, gconstpointer data) {
        const size_t n = 256 * 1031;    /* not a multiple of the page size */
        g_autofree uint8_t *bytes = g_malloc(n);
        const uint64_t offsets[] = { 0, 1, 255, 256, 4095, 4096, 4097, 65536, n - 1, n };
        g_autofree char *disk = NULL;
        gsize disk_n;
        TestReader *live;
        int input, fd;
        pid_t pid;

        for (size_t i = 0; i < n; i++)
                bytes[i] = (uint8_t) (i + i / 256);     /* every value, in shifting order */

        pid = writer_spawn(f, &(Writer) { .a = bytes, .na = n }, &input);
        store_new(f, input, 0);
        live = test_reader_open(f, 0, true, bytes, n);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 1);

        RUN_UNTIL(f, output_store_complete(f->store) && live->eof);
        g_assert_cmpint(writer_wait(pid), ==, 0);
        assert_reader_done(live);
        g_assert_cmpuint(output_store_size(f->store), ==, n);
        g_assert_cmpuint(output_store_dropped(f->store), ==, 0);
        g_assert_cmpint(output_store_error(f->store), ==, 0);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 0);
        g_assert_cmpuint(f->n_complete, ==, 1);

        /* Byte N of the stream is byte N of the spool. */
        g_assert_true(g_file_get_contents(f->spool, &disk, &disk_n, NULL));
        g_assert_cmpmem(disk, disk_n, bytes, n);

        for (size_t i = 0; i < ELEMENTSOF(offsets); i++) {
                uint64_t o = offsets[i];
                size_t want = (size_t) MIN((uint64_t) 1000, n - o);

                assert_read(f, o, 1000, bytes + o, want, o + want == n);
                assert_read(f, o, 0, bytes + o, 0, o == n);
        }
        g_assert_cmpint(output_store_read(f->store, n + 1, NULL, 0, NULL), ==, -EINVAL);

        /* Readers of the complete stream, from every offset, with and without follow. */
        for (size_t i = 0; i < ELEMENTSOF(offsets); i++)
                test_reader_open(f, offsets[i], i % 2, bytes, n);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, ELEMENTSOF(offsets) - 1); /* at n: EOF at once */
        g_assert_cmpint(output_store_open_reader(f->store, n + 1, true, &fd), ==, -EINVAL);
        RUN_UNTIL(f, all_eof(f));
        for (guint i = 0; i < f->readers->len; i++)
                assert_reader_done(f->readers->pdata[i]);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 0);

        run_until_idle(f);
        g_assert_cmpuint(f->n_complete, ==, 1);
}

/* 50 MB of random bytes; 20 followers from the start, 20 joining mid-stream, one mid-stream snapshot. */
static void test_large_blob(Fixture *f, gconstpointer data) {
        const size_t n = 50 * 1000 * 1000;
        g_autofree uint8_t *blob = blob_new(n, 0x5eed);
        TestReader *snapshot;
        uint64_t mid;
        int input;
        pid_t pid;

        pid = writer_spawn(f, &(Writer) { .a = blob, .na = n }, &input);
        store_new(f, input, 0);
        for (unsigned i = 0; i < 20; i++)
                test_reader_open(f, 0, true, blob, n);

        /* The input moves at most a few MiB per dispatch, so the stream is still live here. */
        RUN_UNTIL(f, output_store_size(f->store) >= 10 * MiB);
        g_assert_false(output_store_complete(f->store));
        mid = output_store_size(f->store);
        for (unsigned i = 0; i < 10; i++)
                test_reader_open(f, mid, true, blob, n);
        for (unsigned i = 0; i < 10; i++)
                test_reader_open(f, mid * i / 10 + i, true, blob, n);
        snapshot = test_reader_open(f, mid / 3, false, blob, mid);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 41);

        RUN_UNTIL(f, output_store_complete(f->store) && all_eof(f));
        g_assert_cmpint(writer_wait(pid), ==, 0);
        for (guint i = 0; i < f->readers->len; i++)
                assert_reader_done(f->readers->pdata[i]);
        g_assert_cmpuint(snapshot->pos, ==, mid);
        g_assert_cmpuint(output_store_size(f->store), ==, n);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 0);
        g_assert_cmpuint(f->n_complete, ==, 1);
        assert_spool_checksum(f, blob, n);
}

/* 1000 followers of one stream, each gets every byte. */
static void test_many_followers(Fixture *f, gconstpointer data) {
        const unsigned n_followers = 1000;
        /* Unprivileged, 1000 pipes exceed the per-user pipe page budget (fs.pipe-user-pages-soft): the
         * kernel refuses to enlarge them and shrinks new ones to two pages, so the same bytes take ~100 times
         * more dispatches. Same test, smaller stream, so it stays quick. */
        const size_t n = (geteuid() == 0 ? 2 * MiB : 256 * 1024) + 12345;
        g_autofree uint8_t *blob = blob_new(n, 1000);
        struct rlimit rl;
        int input;
        pid_t pid;

        g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
        if (rl.rlim_cur < 2 * n_followers + 64) {
                g_test_skip("RLIMIT_NOFILE too low for 1000 followers");
                return;
        }

        pid = writer_spawn(f, &(Writer) { .a = blob, .na = n }, &input);
        store_new(f, input, 0);
        for (unsigned i = 0; i < n_followers; i++)
                test_reader_open(f, 0, true, blob, n);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, n_followers);

        RUN_UNTIL(f, output_store_complete(f->store) && all_eof(f));
        g_assert_cmpint(writer_wait(pid), ==, 0);
        for (guint i = 0; i < f->readers->len; i++)
                assert_reader_done(f->readers->pdata[i]);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 0);
        g_assert_cmpuint(f->n_complete, ==, 1);
}

/* A reader that never reads blocks neither the job nor another reader, and later gets everything. */
static void test_stalled_reader(Fixture *f, gconstpointer data) {
        const size_t n = 16 * MiB;
        g_autofree uint8_t *blob = blob_new(n, 16);
        TestReader *active, *late;
        int input, stalled, queued = 0;
        pid_t pid;

        pid = writer_spawn(f, &(Writer) { .a = blob, .na = n }, &input);
        store_new(f, input, 0);
        g_assert_cmpint(output_store_open_reader(f->store, 0, true, &stalled), ==, 0);
        active = test_reader_open(f, 0, true, blob, n);

        RUN_UNTIL(f, output_store_complete(f->store) && active->eof);
        g_assert_cmpint(writer_wait(pid), ==, 0);
        assert_reader_done(active);

        /* The stalled reader is still there, its pipe full: bounded, not the whole stream. */
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 1);
        g_assert_cmpint(ioctl(stalled, FIONREAD, &queued), ==, 0);
        g_assert_cmpint(queued, >, 0);
        g_assert_cmpint(queued, <=, (int) MiB);

        late = test_reader_attach(f, stalled, blob, 0, n);
        RUN_UNTIL(f, late->eof);
        assert_reader_done(late);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 0);
        g_assert_cmpuint(f->n_complete, ==, 1);
}

/* Readers that close their end (mid-transfer, stalled, or idle) are dropped; the others go on. */
static void test_reader_closes(Fixture *f, gconstpointer data) {
        const size_t na = 4 * MiB, nb = 3 * MiB;
        g_autofree uint8_t *blob = blob_new(na + nb, 7);
        TestReader *quitter, *keeper;
        int input, stalled, idle;

        writer_spawn(f, &(Writer) { .a = blob, .na = na, .b = blob + na, .nb = nb, .gated = true }, &input);
        store_new(f, input, 0);

        quitter = test_reader_open(f, 0, true, blob, na + nb);
        g_assert_cmpint(output_store_open_reader(f->store, 0, true, &stalled), ==, 0);
        keeper = test_reader_open(f, 0, true, blob, na + nb);

        RUN_UNTIL(f, quitter->pos >= 64 * 1024);
        test_reader_close(f, quitter);
        RUN_UNTIL(f, output_store_size(f->store) == na && keeper->pos == na);
        run_until_idle(f);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 2);     /* keeper (waiting), stalled (full) */

        close(stalled);
        RUN_UNTIL(f, output_store_n_readers(f->store) == 1);

        /* A follower that caught up with an idle stream waits without an EPOLLOUT watch, yet its peer
         * closing is still noticed at once, not when the job prints again. */
        g_assert_cmpint(output_store_open_reader(f->store, na, true, &idle), ==, 0);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 2);
        run_until_idle(f);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 2);
        close(idle);
        RUN_UNTIL(f, output_store_n_readers(f->store) == 1);
        g_assert_false(output_store_complete(f->store));

        gate_open(f);
        RUN_UNTIL(f, output_store_complete(f->store) && keeper->eof);
        assert_reader_done(keeper);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 0);
        g_assert_cmpuint(f->n_complete, ==, 1);
}

/* Past the cap bytes are drained and counted, the job never blocks, readers get the kept prefix, then EOF. */
static void test_cap(Fixture *f, gconstpointer data) {
        const uint64_t cap = 100000;
        const size_t n = 3 * MiB;       /* well past the pipe's capacity: an undrained job would block */
        g_autofree uint8_t *blob = blob_new(n, 3);
        TestReader *early, *after;
        int input;
        pid_t pid;

        pid = writer_spawn(f, &(Writer) { .a = blob, .na = n }, &input);
        store_new(f, input, cap);
        early = test_reader_open(f, 0, true, blob, cap);

        RUN_UNTIL(f, output_store_complete(f->store) && early->eof);
        g_assert_cmpint(writer_wait(pid), ==, 0);
        assert_reader_done(early);
        g_assert_cmpuint(output_store_size(f->store), ==, cap);
        g_assert_cmpuint(output_store_dropped(f->store), ==, n - cap);
        g_assert_cmpint(output_store_error(f->store), ==, 0);
        g_assert_cmpuint(f->n_complete, ==, 1);

        assert_read(f, cap - 10, 100, blob + cap - 10, 10, true);
        assert_read(f, cap, 100, blob, 0, true);
        after = test_reader_open(f, 1, true, blob, cap);
        RUN_UNTIL(f, after->eof);
        assert_reader_done(after);
        assert_spool_checksum(f, blob, cap);
}

typedef struct Charges {
        OutputCharge total, a, b;
        unsigned released_a, released_b, released_total;
} Charges;

static Charges *the_charges;

static void on_release_counted(OutputCharge *c) {
        if (c == &the_charges->a)
                the_charges->released_a++;
        else if (c == &the_charges->b)
                the_charges->released_b++;
        else if (c == &the_charges->total)
                the_charges->released_total++;
}

static int open_charged(Fixture *f, uint64_t offset, bool follow, OutputCharge *c) {
        int fd = -EBADF;

        g_assert_cmpint(output_store_open_reader_charged(f->store, offset, follow, c, &fd), ==, 0);
        g_assert_cmpint(fd, >=, 0);
        return fd;
}

/* Each reader counts on its charge and the charge's parents while it exists, whichever way it goes: its
 * peer closes, it sent its last byte, or the store is freed. A reader that is EOF at once counts nothing. */
static void test_charges(Fixture *f, gconstpointer data) {
        const size_t na = 64 * 1024;
        g_autofree uint8_t *blob = blob_new(2 * na, 11);
        Charges ch = {};
        int input, a[3], b[2], plain, done;

        the_charges = &ch;
        ch.total.release = ch.a.release = ch.b.release = on_release_counted;
        ch.a.parent = ch.b.parent = &ch.total;

        writer_spawn(f, &(Writer) { .a = blob, .na = na, .b = blob + na, .nb = na, .gated = true }, &input);
        store_new(f, input, 0);
        RUN_UNTIL(f, output_store_size(f->store) == na);

        for (unsigned i = 0; i < G_N_ELEMENTS(a); i++)
                a[i] = open_charged(f, 0, true, &ch.a);
        for (unsigned i = 0; i < G_N_ELEMENTS(b); i++)
                b[i] = open_charged(f, na, true, &ch.b);
        plain = open_charged(f, 0, true, NULL);
        done = open_charged(f, na, false, &ch.b);       /* a snapshot at the end: EOF at once */
        g_assert_cmpuint(ch.a.n_readers, ==, 3);
        g_assert_cmpuint(ch.b.n_readers, ==, 2);
        g_assert_cmpuint(ch.total.n_readers, ==, 5);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 6);

        /* a peer closes */
        close(a[0]);
        RUN_UNTIL(f, ch.a.n_readers == 2);
        g_assert_cmpuint(ch.total.n_readers, ==, 4);
        g_assert_cmpuint(ch.released_a, ==, 0);

        /* the last of a charge's readers goes: release() */
        close(b[0]);
        close(b[1]);
        RUN_UNTIL(f, ch.b.n_readers == 0);
        g_assert_cmpuint(ch.released_b, ==, 1);
        g_assert_cmpuint(ch.total.n_readers, ==, 2);

        /* freeing the store takes the rest */
        f->store = output_store_free(f->store);
        g_assert_cmpuint(ch.a.n_readers, ==, 0);
        g_assert_cmpuint(ch.total.n_readers, ==, 0);
        g_assert_cmpuint(ch.released_a, ==, 1);
        g_assert_cmpuint(ch.released_total, ==, 1);
        close(a[1]);
        close(a[2]);
        close(plain);
        close(done);
        the_charges = NULL;
}

/* Thousands of idle followers whose peers close at once go in one loop iteration, not one per iteration
 * (each iteration re-reads every pending hang-up: one at a time was quadratic, a minute for 20,000). */
static void test_release_batch(Fixture *f, gconstpointer data) {
        const unsigned n = 2000;
        g_autofree uint8_t *blob = blob_new(4096, 12);
        g_autofree int *fds = g_new(int, n);
        unsigned iterations = 0;
        int input;

        writer_spawn(f, &(Writer) { .a = blob, .na = 4096, .b = blob, .nb = 0, .gated = true }, &input);
        store_new(f, input, 0);
        RUN_UNTIL(f, output_store_size(f->store) == 4096);
        for (unsigned i = 0; i < n; i++)
                g_assert_cmpint(output_store_open_reader(f->store, 0, true, &fds[i]), ==, 0);
        run_until_idle(f);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, n);

        for (unsigned i = 0; i < n; i++)
                close(fds[i]);
        while (output_store_n_readers(f->store) > 0 && iterations < 10 * n) {
                g_assert_cmpint(sd_event_run(f->event, 100 * USEC_PER_MSEC), >=, 0);
                iterations++;
        }
        g_test_message("%u readers released in %u loop iterations", n, iterations);
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 0);
        g_assert_cmpuint(iterations, <=, 3);
}

/* Past the cap the pipe is drained in pauses; flush drains it now (the job just ended: its counts must be
 * final), EOF included. */
static void test_flush(Fixture *f, gconstpointer data) {
        const size_t half = 512 * 1024, cap = 64 * 1024;
        g_autofree uint8_t *blob = blob_new(2 * half, 13);
        int input;
        pid_t pid;

        pid = writer_spawn(f, &(Writer) { .a = blob, .na = half, .b = blob + half, .nb = half, .gated = true }, &input);
        store_new(f, input, cap);
        RUN_UNTIL(f, output_store_dropped(f->store) == half - cap);
        gate_open(f);
        g_assert_cmpint(writer_wait(pid), ==, 0);     /* all of b is in the pipe (it holds 1 MiB) */

        output_store_flush(f->store);
        g_assert_cmpuint(output_store_size(f->store), ==, cap);
        g_assert_cmpuint(output_store_dropped(f->store), ==, 2 * half - cap);
        g_assert_true(output_store_complete(f->store));
        g_assert_cmpuint(f->n_complete, ==, 1);
        output_store_flush(f->store);                  /* complete: nothing left to do */
        g_assert_cmpuint(f->n_complete, ==, 1);
}

/* A cap equal to the output drops nothing. */
static void test_cap_exact(Fixture *f, gconstpointer data) {
        const size_t n = 70000;
        g_autofree uint8_t *blob = blob_new(n, 4);
        int input;

        writer_spawn(f, &(Writer) { .a = blob, .na = n }, &input);
        store_new(f, input, n);
        RUN_UNTIL(f, output_store_complete(f->store));
        g_assert_cmpuint(output_store_size(f->store), ==, n);
        g_assert_cmpuint(output_store_dropped(f->store), ==, 0);
        assert_spool_checksum(f, blob, n);
}

/* The stream completes when the last writer closes the pipe, not when the first one exits. */
static void test_writers_outlive_job(Fixture *f, gconstpointer data) {
        const size_t na = 300 * 1000, nb = 200 * 1000;
        g_autofree uint8_t *blob = blob_new(na + nb, 9);
        TestReader *r;
        int input;
        pid_t pid;

        pid = writer_spawn(f, &(Writer) { .a = blob, .na = na, .b = blob + na, .nb = nb, .gated = true,
                                          .daemonize = true }, &input);
        store_new(f, input, 0);
        r = test_reader_open(f, 0, true, blob, na + nb);

        RUN_UNTIL(f, output_store_size(f->store) == na && r->pos == na);
        g_assert_cmpint(writer_wait(pid), ==, 0);      /* the first writer is gone... */
        run_until_idle(f);
        g_assert_false(output_store_complete(f->store)); /* ...but its child still holds the pipe */
        g_assert_false(r->eof);
        g_assert_cmpuint(f->n_complete, ==, 0);

        gate_open(f);
        RUN_UNTIL(f, output_store_complete(f->store) && r->eof);
        assert_reader_done(r);
        g_assert_cmpuint(f->n_complete, ==, 1);
        assert_spool_checksum(f, blob, na + nb);
}

/* A reader without follow on a live stream ends at the size at the call, although the stream grows. */
static void test_snapshot_live(Fixture *f, gconstpointer data) {
        const size_t na = 300 * 1000, nb = 300 * 1000;
        g_autofree uint8_t *blob = blob_new(na + nb, 11);
        TestReader *s0, *s1, *s2, *follower;
        int input, fd;

        writer_spawn(f, &(Writer) { .a = blob, .na = na, .b = blob + na, .nb = nb, .gated = true }, &input);
        store_new(f, input, 0);
        RUN_UNTIL(f, output_store_size(f->store) == na);

        s0 = test_reader_open(f, 0, false, blob, na);
        s1 = test_reader_open(f, na / 2, false, blob, na);
        s2 = test_reader_open(f, na, false, blob, na);
        follower = test_reader_open(f, na / 2, true, blob, na + nb);
        RUN_UNTIL(f, s0->eof && s1->eof && s2->eof && follower->pos == na);
        assert_reader_done(s0);
        assert_reader_done(s1);
        assert_reader_done(s2);
        g_assert_false(output_store_complete(f->store));
        g_assert_cmpuint(output_store_n_readers(f->store), ==, 1);

        /* The stream grows after the snapshot; the snapshot still ended where it was. */
        g_assert_cmpint(output_store_open_reader(f->store, 0, false, &fd), ==, 0);
        gate_open(f);
        RUN_UNTIL(f, output_store_complete(f->store) && follower->eof);
        assert_reader_done(follower);
        s0 = test_reader_attach(f, fd, blob, 0, na);
        RUN_UNTIL(f, s0->eof);
        assert_reader_done(s0);
}

/* Freeing a live store closes its readers: they get what is in their pipe, then EOF. */
static void test_free_live(Fixture *f, gconstpointer data) {
        const size_t na = 3 * MiB;
        g_autofree uint8_t *blob = blob_new(na + 10, 13);
        TestReader *caught_up, *behind;
        int input, fd;
        pid_t pid;

        pid = writer_spawn(f, &(Writer) { .a = blob, .na = na, .b = blob + na, .nb = 10, .gated = true }, &input);
        store_new(f, input, 0);
        caught_up = test_reader_open(f, 0, true, blob, na);
        g_assert_cmpint(output_store_open_reader(f->store, 0, true, &fd), ==, 0);
        RUN_UNTIL(f, output_store_size(f->store) == na && caught_up->pos == na);
        run_until_idle(f);

        f->store = output_store_free(f->store);
        behind = test_reader_attach(f, fd, blob, 0, na);
        RUN_UNTIL(f, caught_up->eof && behind->eof);
        assert_reader_done(caught_up);
        g_assert_false(behind->bad);
        g_assert_cmpuint(behind->pos, >, 0);
        g_assert_cmpuint(behind->pos, <, na);    /* what its pipe held, no more */
        g_assert_cmpuint(f->n_complete, ==, 0);

        gate_open(f);                            /* the writer now gets EPIPE */
        g_assert_cmpint(writer_wait(pid), !=, 0);
}

static void on_complete_free(OutputStore *s, void *userdata) {
        Fixture *f = userdata;

        g_assert_true(s == f->store);
        f->n_complete++;
        f->store = output_store_free(s);
}

/* The complete handler may free the store (the job engine does when a job is removed). A follower that had
 * everything gets its EOF first; freeing cuts off only readers that were still behind. */
static void test_complete_handler_frees(Fixture *f, gconstpointer data) {
        g_autofree uint8_t *blob = blob_new(5000, 17);
        TestReader *r;
        int input;

        writer_spawn(f, &(Writer) { .a = blob, .na = 5000, .gated = true }, &input);
        store_new(f, input, 0);
        output_store_set_complete_handler(f->store, on_complete_free, f);
        r = test_reader_open(f, 0, true, blob, 5000);
        RUN_UNTIL(f, r->pos == 5000);
        gate_open(f);
        RUN_UNTIL(f, !f->store && r->eof);
        assert_reader_done(r);
        g_assert_cmpuint(f->n_complete, ==, 1);
}

/* After a restart the stream continues at the spool's size. */
static void test_reopen(Fixture *f, gconstpointer data) {
        const char *text = "hello\nworld\n";
        TestReader *r;
        int input;

        writer_spawn(f, &(Writer) { .a = (const uint8_t *) text, .na = 6 }, &input);
        store_new(f, input, 0);
        RUN_UNTIL(f, output_store_complete(f->store));
        g_assert_cmpuint(output_store_size(f->store), ==, 6);
        f->store = output_store_free(f->store);
        g_assert_true(g_file_test(f->spool, G_FILE_TEST_IS_REGULAR));      /* the spool stays */

        writer_spawn(f, &(Writer) { .a = (const uint8_t *) text + 6, .na = 6, .gated = true }, &input);
        g_assert_cmpint(output_store_open(f->event, f->spool, input, 0, &f->store), ==, 0);
        output_store_set_complete_handler(f->store, on_complete, f);
        g_assert_cmpuint(output_store_size(f->store), ==, 6);
        g_assert_false(output_store_complete(f->store));
        r = test_reader_open(f, 3, true, (const uint8_t *) text, 12);
        RUN_UNTIL(f, output_store_size(f->store) == 12 && r->pos == 12);
        gate_open(f);
        RUN_UNTIL(f, output_store_complete(f->store) && r->eof);
        assert_reader_done(r);
        assert_read(f, 0, 100, (const uint8_t *) text, 12, true);
        g_assert_cmpuint(f->n_complete, ==, 2);
        f->store = output_store_free(f->store);

        /* Complete already: no input, no handler call. */
        g_assert_cmpint(output_store_open(f->event, f->spool, -EBADF, 0, &f->store), ==, 0);
        output_store_set_complete_handler(f->store, on_complete, f);
        g_assert_true(output_store_complete(f->store));
        g_assert_cmpuint(output_store_size(f->store), ==, 12);
        r = test_reader_open(f, 6, true, (const uint8_t *) text, 12);
        RUN_UNTIL(f, r->eof);
        assert_reader_done(r);
        g_assert_cmpuint(f->n_complete, ==, 2);
}

/* Reference answer, the slow obvious way: the start offsets of all lines, then pick. */
static GArray *line_starts(const char *p, size_t n) {
        GArray *starts = g_array_new(false, false, sizeof(uint64_t));

        for (size_t i = 0; i < n; i++)
                if (i == 0 || p[i - 1] == '\n') {
                        uint64_t s = i;
                        g_array_append_val(starts, s);
                }
        return starts;
}

static void tail_case(Fixture *f, const char *content, size_t n, const uint64_t *lines, size_t n_lines) {
        g_autoptr(GArray) starts = line_starts(content, n);

        f->store = output_store_free(f->store);
        (void) unlink(f->spool);
        g_assert_true(g_file_set_contents(f->spool, content, (gssize) n, NULL));
        g_assert_cmpint(output_store_open(f->event, f->spool, -EBADF, 0, &f->store), ==, 0);
        g_assert_cmpuint(output_store_size(f->store), ==, n);

        for (size_t i = 0; i < n_lines; i++) {
                uint64_t off = UINT64_MAX, want;

                if (lines[i] == 0)
                        want = n;
                else if (lines[i] > starts->len)
                        want = 0;
                else
                        want = g_array_index(starts, uint64_t, starts->len - lines[i]);
                g_assert_cmpint(output_store_tail_offset(f->store, lines[i], &off), ==, 0);
                g_assert_cmpuint(off, ==, want);
        }
}

static void test_tail_offset(Fixture *f, gconstpointer data) {
        const uint64_t small[] = { 0, 1, 2, 3, 4, 100 };
        g_autoptr(GString) big = g_string_new(NULL);
        g_autofree uint64_t *lines = NULL;
        size_t n_lines = 0;
        GRand *rand;

        tail_case(f, "", 0, small, ELEMENTSOF(small));
        tail_case(f, "a\nb\nc\n", 6, small, ELEMENTSOF(small));
        tail_case(f, "a\nb\nc", 5, small, ELEMENTSOF(small));
        tail_case(f, "\n\n", 2, small, ELEMENTSOF(small));
        tail_case(f, "\n", 1, small, ELEMENTSOF(small));
        tail_case(f, "no newline at all", 17, small, ELEMENTSOF(small));

        /* Lines both much shorter and much longer than the scan chunk, so newlines fall on chunk edges,
         * some chunks hold none and some hold thousands. */
        rand = g_rand_new_with_seed(42);
        for (unsigned i = 0; i < 3000; i++) {
                unsigned len = g_rand_int_range(rand, 0, 100) == 0 ? (unsigned) g_rand_int_range(rand, 0, 200000)
                                                                 : (unsigned) g_rand_int_range(rand, 0, 100);

                for (unsigned j = 0; j < len; j++)
                        g_string_append_c(big, (char) ('a' + j % 26));
                g_string_append_c(big, '\n');
        }
        g_rand_free(rand);
        lines = g_new(uint64_t, 3200);
        for (uint64_t l = 0; l < 3100; l += l < 50 ? 1 : 7)
                lines[n_lines++] = l;
        lines[n_lines++] = 2999;
        lines[n_lines++] = 3000;
        lines[n_lines++] = 3001;
        tail_case(f, big->str, big->len, lines, n_lines);
        g_string_truncate(big, big->len - 1);  /* the same without the trailing newline */
        tail_case(f, big->str, big->len, lines, n_lines);
}

/* A failing spool (EFBIG from RLIMIT_FSIZE, standing in for ENOSPC/EIO): the job keeps running, the
 * bytes written before the failure stay readable, the rest is counted as dropped. */
static void test_spool_error(Fixture *f, gconstpointer data) {
        const uint64_t limit = 300000;
        const size_t n = 2 * MiB;
        g_autofree uint8_t *blob = blob_new(n, 19);
        struct rlimit old, rl;
        TestReader *r;
        int input;
        pid_t pid;

        pid = writer_spawn(f, &(Writer) { .a = blob, .na = n }, &input);
        store_new(f, input, 0);
        r = test_reader_open(f, 0, true, blob, limit);

        g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &old), ==, 0);
        rl = (struct rlimit) { .rlim_cur = limit, .rlim_max = old.rlim_max };
        g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &rl), ==, 0);
        RUN_UNTIL(f, output_store_complete(f->store) && r->eof);
        g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &old), ==, 0);

        g_assert_cmpint(writer_wait(pid), ==, 0);
        assert_reader_done(r);
        g_assert_cmpint(output_store_error(f->store), ==, -EFBIG);
        g_assert_cmpuint(output_store_size(f->store), ==, limit);
        g_assert_cmpuint(output_store_dropped(f->store), ==, n - limit);
        g_assert_cmpuint(f->n_complete, ==, 1);
        assert_read(f, limit - 5, 100, blob + limit - 5, 5, true);
        assert_spool_checksum(f, blob, limit);
}

/* A spool write failure of an earlier daemon run, carried over when the store is reopened on the same pipe:
 * what the job writes after that is dropped, never appended after the gap. */
static void test_set_error(Fixture *f, gconstpointer data) {
        int p[2];

        g_assert_true(g_file_set_contents(f->spool, "first", 5, NULL));
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(output_store_open(f->event, f->spool, p[0], 0, &f->store), ==, 0);
        output_store_set_error(f->store, 0);                  /* not an error: ignored */
        g_assert_cmpint(output_store_error(f->store), ==, 0);
        output_store_set_error(f->store, -ENOSPC);
        output_store_set_error(f->store, -EIO);               /* the first one stays */
        g_assert_cmpint(write(p[1], "second", 6), ==, 6);
        close(p[1]);
        RUN_UNTIL(f, output_store_complete(f->store));
        g_assert_cmpint(output_store_error(f->store), ==, -ENOSPC);
        g_assert_cmpuint(output_store_size(f->store), ==, 5);
        g_assert_cmpuint(output_store_dropped(f->store), ==, 6);
        assert_read(f, 0, 100, (const uint8_t *) "first", 5, true);
}

static void test_invalid(Fixture *f, gconstpointer data) {
        g_autofree char *other = g_build_filename(f->dir, "other", NULL);
        OutputStore *s = NULL;
        int p[2], fd;

        /* The spool must not exist; the input fd is taken over even then. */
        g_assert_true(g_file_set_contents(f->spool, "x", 1, NULL));
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(output_store_new(f->event, f->spool, p[0], 0, &s), ==, -EEXIST);
        g_assert_null(s);
        g_assert_cmpint(write(p[1], "x", 1), ==, -1);
        g_assert_cmpint(errno, ==, EPIPE);
        close(p[1]);

        /* Not a pipe: refused, and no spool is left behind. */
        fd = open(f->spool, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(output_store_new(f->event, other, fd, 0, &s), ==, -EINVAL);
        g_assert_false(g_file_test(other, G_FILE_TEST_EXISTS));

        g_assert_cmpint(output_store_open(f->event, other, -EBADF, 0, &s), ==, -ENOENT);

        /* No input at all: an empty, complete stream. */
        g_assert_cmpint(output_store_new(f->event, other, -EBADF, 0, &f->store), ==, 0);
        g_assert_true(output_store_complete(f->store));
        g_assert_cmpuint(output_store_size(f->store), ==, 0);
        g_assert_cmpint(output_store_open_reader(f->store, 1, false, &fd), ==, -EINVAL);
        g_assert_cmpint(output_store_read(f->store, 1, NULL, 0, NULL), ==, -EINVAL);
}

int main(int argc, char *argv[]) {
        struct rlimit rl;

        g_test_init(&argc, &argv, NULL);

        /* splice(2) into a closed pipe raises SIGPIPE (there is no MSG_NOSIGNAL for it); the daemon ignores
         * it and so do we. SIGXFSZ: the RLIMIT_FSIZE test wants EFBIG, not a core dump. */
        g_assert_true(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
        g_assert_true(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
        g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = MIN(rl.rlim_max, (rlim_t) 65536);
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }

#define ADD(name, fn) g_test_add("/output/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("bytes-and-offsets", test_bytes_and_offsets);
        ADD("large-blob", test_large_blob);
        ADD("many-followers", test_many_followers);
        ADD("stalled-reader", test_stalled_reader);
        ADD("reader-closes", test_reader_closes);
        ADD("cap", test_cap);
        ADD("cap-exact", test_cap_exact);
        ADD("writers-outlive-job", test_writers_outlive_job);
        ADD("snapshot-live", test_snapshot_live);
        ADD("free-live", test_free_live);
        ADD("complete-handler-frees", test_complete_handler_frees);
        ADD("reopen", test_reopen);
        ADD("tail-offset", test_tail_offset);
        ADD("spool-error", test_spool_error);
        ADD("spool-error-carried-over", test_set_error);
        ADD("invalid", test_invalid);
        ADD("charges", test_charges);
        ADD("release-batch", test_release_batch);
        ADD("flush", test_flush);

        return g_test_run();
}
