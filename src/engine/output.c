/* SPDX-License-Identifier: MIT */
/* output.c - the output store: job pipe -> spool file -> reader pipes, every hop with splice(2).
 *
 * Data path. The input source (EPOLLIN on the job's pipe) splices what the job wrote into the spool file at
 * offset s->size; nothing passes through a daemon buffer, so daemon memory is the store, one small struct per
 * reader, and the event sources, however much a job prints. Bytes past the cap, and every byte after the
 * first spool write error, are spliced from the pipe into /dev/null and counted as dropped: the job never
 * blocks on its pipe, and the kept stream is always a prefix (never a silent gap in the middle).
 *
 * Readers. Every reader, of a live or a complete stream, is a pipe the store feeds (see
 * output_store_open_reader() for why never a plain fd of the spool). The store keeps the write end
 * (non-blocking, enlarged to 1 MiB where the kernel allows) and the next stream offset to send; the reader is
 * in exactly one of two states:
 *   - active: it has bytes to send. Its io source watches EPOLLOUT, so it is dispatched while its pipe has
 *     room and sleeps in epoll while the pipe is full. A stalled reader therefore costs nothing.
 *   - waiting: it follows a live stream and has sent everything spooled. Its io source watches no events
 *     (epoll still reports EPOLLERR, i.e. the peer closed, so an idle follower that goes away is freed at
 *     once). It sits on s->waiting, and the input handler pushes to exactly these readers when the spool
 *     grows or the stream completes.
 * Pushing is a splice from the spool (by explicit offset, so all readers share one spool fd) into the pipe:
 * the pipe then holds references to page-cache pages, not copies. A reader whose peer closed (EPIPE,
 * EPOLLERR) is freed. splice(2) has no MSG_NOSIGNAL, so writing to a closed pipe raises SIGPIPE: the daemon
 * ignores SIGPIPE (and so must any other program linking the store, tests included).
 *
 * Fairness. Each dispatch moves a bounded number of bytes (OUTPUT_INPUT_BUDGET, OUTPUT_READER_BUDGET); the
 * io sources are level-triggered, so unfinished work is dispatched again on the next iteration. The input and
 * the readers share one priority on purpose: sd-event dispatches pending sources of equal priority oldest
 * first, so a flooding job and the readers take turns (the input with the larger budget). A strictly higher
 * input priority would let one job that writes without pause (or one past its cap, discarding at full speed
 * forever) starve every reader of every job. Followers that keep up are not even in that queue: the input
 * handler feeds them as part of the capture.
 *
 * Dropping. Past the cap, each byte is still taken from the job's pipe (the job must never block on it for
 * good) but the daemon's CPU is charged to no job. Draining whenever the pipe is readable costs a splice per
 * write of the job, and a firehose (8 KiB writes) kept a whole core busy in the daemon. So once the store
 * discards, the input source sleeps (disabled; a one-shot timer re-enables it) for OUTPUT_DISCARD_PAUSE_USEC
 * after each drain, and each drain empties the pipe in one splice to /dev/null. That bounds the daemon's
 * work per dropping job: at most a pipe (1 MiB) per pause, a few percent of a core measured. The pipe is not
 * enlarged for this on purpose: a bigger pipe would lift that bound. A job that writes dropped output faster
 * than that (~300-500 MiB/s) waits on its pipe for the rest of a pause, as any pipe writer waits for a
 * slower reader; it is never stopped by the cap. bench/run.sh drop measures it (docs/benchmarks.md).
 *
 * Durability. Nothing here calls fsync(): the spool lives in the page cache and the kernel writes it back.
 * A daemon crash loses nothing that was spliced; a machine crash may lose the unwritten tail. The kernel may
 * still throttle the splice into the spool when dirty pages pile up (balance_dirty_pages()); the cap is what
 * bounds that.
 *
 * Over 700 lines (just), on purpose: the input side and the readers are one data structure with one
 * invariant (a reader is active or waiting, and the input handler feeds exactly the waiting ones), and
 * the comments above carry the measurements the budgets rest on. Splitting capture from fan-out would put
 * that invariant in a header both halves write to. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "shared/macro.h"
#include "engine/output.h"
#include "shared/util.h"

#define OUTPUT_PIPE_SIZE (1024 * 1024)                  /* reader and input pipes, where the kernel allows */
#define OUTPUT_INPUT_BUDGET (UINT64_C(4) * 1024 * 1024) /* bytes taken from the job's pipe per dispatch */
#define OUTPUT_READER_BUDGET (UINT64_C(2) * 1024 * 1024) /* bytes given to one reader per dispatch */
#define OUTPUT_TAIL_CHUNK (64 * 1024)                   /* output_store_tail_offset() reads this much at a time */
#define OUTPUT_DISCARD_CHUNK (16 * 1024)                /* read() fallback when /dev/null does not splice */
#define OUTPUT_PRIORITY SD_EVENT_PRIORITY_NORMAL        /* input and readers alike, see above */
/* Past the cap (see "Dropping"): the job's pipe is drained at most once per pause, in one go. */
#define OUTPUT_DISCARD_BUDGET (UINT64_C(16) * 1024 * 1024)
#define OUTPUT_DISCARD_PAUSE_USEC (2 * USEC_PER_MSEC)

typedef struct OutputReader OutputReader;

struct OutputReader {
        OutputStore *store;
        OutputReader *prev, *next;      /* on store->active or store->waiting, as `waiting` says */
        bool waiting;
        int fd;                         /* write end of the reader's pipe, O_NONBLOCK */
        uint64_t offset;                /* next stream byte to send */
        uint64_t end;                   /* snapshot end; UINT64_MAX = follow until the stream completes */
        sd_event_source *io;
        OutputCharge *charge;           /* counts this reader, or NULL */
};

struct OutputStore {
        sd_event *event;
        int spool_fd;                   /* O_RDWR; written and read by explicit offset only */
        int input_fd;                   /* read end of the job's pipe, O_NONBLOCK; -EBADF once complete */
        int null_fd;                    /* /dev/null, opened when the first byte is dropped */
        bool null_no_splice;            /* /dev/null refused splice: drop with read() instead */
        sd_event_source *input_source;
        sd_event_source *discard_timer; /* re-enables input_source after a pause (see "Dropping") */

        uint64_t size;                  /* bytes in the spool = end offset of the stream */
        uint64_t max_bytes;             /* 0 = no cap */
        uint64_t dropped;
        int error;                      /* first spool write failure, negative errno */
        bool complete;

        OutputReader *active, *waiting;
        unsigned n_readers;

        output_complete_handler_t complete_handler;
        void *complete_userdata;
};

/* What output_reader_push() found. */
enum {
        OUTPUT_READER_DONE,             /* sent its last byte: close it, the peer sees EOF */
        OUTPUT_READER_WAIT,             /* caught up with a live stream */
        OUTPUT_READER_BUSY,             /* more to send once the pipe has room (or on the next dispatch) */
};

static void output_reader_list_remove(OutputReader *r) {
        OutputReader **head = r->waiting ? &r->store->waiting : &r->store->active;

        if (r->prev)
                r->prev->next = r->next;
        else
                *head = r->next;
        if (r->next)
                r->next->prev = r->prev;
        r->prev = r->next = NULL;
}

static void output_reader_list_add(OutputReader *r, bool waiting) {
        OutputReader **head = waiting ? &r->store->waiting : &r->store->active;

        r->waiting = waiting;
        r->prev = NULL;
        r->next = *head;
        if (*head)
                (*head)->prev = r;
        *head = r;
}

static void output_charge_get(OutputCharge *c) {
        for (; c; c = c->parent)
                c->n_readers++;
}

static void output_charge_put(OutputCharge *c) {
        while (c) {
                OutputCharge *parent = c->parent;     /* release() may free c */

                assert(c->n_readers > 0);
                if (--c->n_readers == 0 && c->release)
                        c->release(c);
                c = parent;
        }
}

static OutputReader *output_reader_free(OutputReader *r) {
        if (!r)
                return NULL;

        if (r->store) {
                output_reader_list_remove(r);
                r->store->n_readers--;
        }
        sd_event_source_disable_unref(r->io);
        safe_close(r->fd);
        output_charge_put(r->charge);
        free(r);
        return NULL;
}

/* Moves the reader to the waiting or the active list, watching no events or EPOLLOUT accordingly. */
static int output_reader_set_waiting(OutputReader *r, bool waiting) {
        int k;

        k = sd_event_source_set_io_events(r->io, waiting ? 0 : EPOLLOUT);
        if (k < 0)
                return k;
        if (r->waiting != waiting) {
                output_reader_list_remove(r);
                output_reader_list_add(r, waiting);
        }
        return 0;
}

/* Splices what the reader may have next into its pipe, up to the per-dispatch budget. Returns one of the
 * OUTPUT_READER_* states, or a negative errno (-EPIPE: the peer closed) after which the reader must go. */
static int output_reader_push(OutputReader *r) {
        OutputStore *s = r->store;
        uint64_t budget = OUTPUT_READER_BUDGET;

        for (;;) {
                uint64_t limit = MIN(r->end, s->size);
                loff_t off;
                ssize_t k;

                if (r->offset >= limit)
                        break;
                if (budget == 0)
                        return OUTPUT_READER_BUSY;

                off = (loff_t) r->offset;
                k = splice(s->spool_fd, &off, r->fd, NULL, (size_t) MIN(limit - r->offset, budget),
                           SPLICE_F_NONBLOCK);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return OUTPUT_READER_BUSY;
                        return -errno;
                }
                if (k == 0)     /* the spool is shorter than what we wrote to it: truncated behind our back */
                        return -EIO;

                r->offset += (uint64_t) k;
                budget -= (uint64_t) k;
        }

        if (r->offset >= r->end || s->complete)
                return OUTPUT_READER_DONE;
        return OUTPUT_READER_WAIT;
}

/* Pushes, then files the reader where the result says, or frees it. */
static void output_reader_dispatch(OutputReader *r) {
        int k;

        k = output_reader_push(r);
        if (k == OUTPUT_READER_WAIT || k == OUTPUT_READER_BUSY)
                k = output_reader_set_waiting(r, k == OUTPUT_READER_WAIT);
        else
                k = -ECONNRESET; /* done (EOF for the peer), or failed */
        if (k < 0)
                output_reader_free(r);
}

static bool output_reader_hung_up(OutputReader *r) {
        uint32_t revents;

        return sd_event_source_get_pending(r->io) > 0 &&
               sd_event_source_get_io_revents(r->io, &revents) >= 0 && (revents & (EPOLLERR | EPOLLHUP));
}

/* Frees, in one go, every reader of the list whose peer closed and whose EPOLLERR is already pending. */
static void output_reader_list_reap(OutputReader *head) {
        for (OutputReader *r = head, *next; r; r = next) {
                next = r->next;
                if (output_reader_hung_up(r))
                        output_reader_free(r);
        }
}

static int on_reader_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        OutputReader *r = userdata;

        if (revents & (EPOLLERR | EPOLLHUP)) {
                OutputStore *s = r->store;

                /* The read end is closed: nobody will read what is left. When a client with thousands of
                 * readers goes, all of their EPOLLERRs come in one epoll_wait(), but sd-event dispatches one
                 * source per loop iteration and every iteration's epoll_wait() returns all the remaining
                 * ones again (level-triggered): freeing them one at a time is quadratic (20,000 readers
                 * froze the daemon for a minute). So free this store's other hung-up readers too, now. */
                output_reader_free(r);
                output_reader_list_reap(s->waiting);
                output_reader_list_reap(s->active);
                return 0;
        }

        output_reader_dispatch(r);
        return 0;
}

/* Gives new bytes (or the end of the stream) to the readers waiting for them, and only to those. */
static void output_store_wake(OutputStore *s) {
        OutputReader *r, *next;

        for (r = s->waiting; r; r = next) {
                /* output_reader_dispatch() may move r to s->active or free it, never anything else. */
                next = r->next;
                output_reader_dispatch(r);
        }
}

static bool output_store_keeps(const OutputStore *s) {
        return s->error == 0 && (s->max_bytes == 0 || s->size < s->max_bytes);
}

/* Takes up to n bytes from the job's pipe and throws them away. Returns the count, 0 at EOF, or -errno. */
static ssize_t output_store_discard(OutputStore *s, size_t n) {
        char buf[OUTPUT_DISCARD_CHUNK];
        ssize_t k;

        if (s->null_fd < 0 && !s->null_no_splice) {
                s->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (s->null_fd < 0)
                        s->null_no_splice = true;
        }
        if (!s->null_no_splice) {
                k = splice(s->input_fd, NULL, s->null_fd, NULL, n, SPLICE_F_NONBLOCK);
                if (k >= 0)
                        return k;
                if (errno != EINVAL)
                        return -errno;
                /* /dev/null is not the kernel's null device here (a container bind mount?): read instead. */
                s->null_fd = safe_close(s->null_fd);
                s->null_no_splice = true;
        }

        k = read(s->input_fd, buf, MIN(n, sizeof(buf)));
        return k < 0 ? -errno : k;
}

/* Moves up to n bytes from the job's pipe to the spool. Returns the count, 0 at EOF, or -errno: -EAGAIN and
 * -EINTR come from the pipe, any other error from writing the spool (a pipe read cannot fail otherwise). */
static ssize_t output_store_capture(OutputStore *s, size_t n) {
        loff_t off = (loff_t) s->size;
        ssize_t k;

        k = splice(s->input_fd, NULL, s->spool_fd, &off, n, SPLICE_F_NONBLOCK);
        return k < 0 ? -errno : k;
}

static int on_discard_pause_end(sd_event_source *es, uint64_t usec, void *userdata) {
        OutputStore *s = userdata;

        return sd_event_source_set_enabled(s->input_source, SD_EVENT_ON);
}

/* Past the cap: sleep for a pause instead of draining the pipe at every write of the job (see "Dropping"). On
 * any failure the source stays enabled, the old behaviour: correct, only dearer. */
static void output_store_discard_pause(OutputStore *s) {
        uint64_t until = now_usec(CLOCK_MONOTONIC) + OUTPUT_DISCARD_PAUSE_USEC;
        int k;

        if (s->discard_timer)
                k = sd_event_source_set_time(s->discard_timer, until);
        else {
                k = sd_event_add_time(s->event, &s->discard_timer, CLOCK_MONOTONIC, until, USEC_PER_MSEC,
                                      on_discard_pause_end, s);
                if (k >= 0)
                        (void) sd_event_source_set_description(s->discard_timer, "output-discard-pause");
        }
        if (k >= 0)
                k = sd_event_source_set_enabled(s->discard_timer, SD_EVENT_ONESHOT);
        if (k >= 0)
                (void) sd_event_source_set_enabled(s->input_source, SD_EVENT_OFF);
}

static int on_input(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        OutputStore *s = userdata;
        uint64_t budget = output_store_keeps(s) ? OUTPUT_INPUT_BUDGET : OUTPUT_DISCARD_BUDGET, before = s->size;
        bool eof = false, drained = false;

        while (budget > 0) {
                bool keep = output_store_keeps(s);
                ssize_t k;

                if (keep) {
                        uint64_t n = budget;

                        if (s->max_bytes > 0)
                                n = MIN(n, s->max_bytes - s->size);
                        k = output_store_capture(s, (size_t) n);
                } else
                        k = output_store_discard(s, (size_t) budget);

                if (k == -EINTR)
                        continue;
                if (k == -EAGAIN) {
                        drained = true;
                        break;
                }
                if (k < 0) {
                        if (keep) {
                                /* ENOSPC, EIO, EDQUOT, EFBIG...: what is spooled stays readable; the bytes
                                 * still in the pipe and all later ones are dropped, so the job goes on and
                                 * the stream keeps no gap. Never retried: a later success would open one. */
                                s->error = (int) k;
                                continue;
                        }
                        /* Even discarding fails: the pipe itself is broken. End the stream rather than
                         * spin on a level-triggered source that will never drain. */
                        if (s->error == 0)
                                s->error = (int) k;
                        eof = true;
                        break;
                }
                if (k == 0) {
                        eof = true;
                        break;
                }

                if (keep)
                        s->size += (uint64_t) k;
                else
                        s->dropped += (uint64_t) k;
                budget -= (uint64_t) k;
        }

        if (eof) {
                s->complete = true;
                s->input_source = sd_event_source_disable_unref(s->input_source);
                s->discard_timer = sd_event_source_disable_unref(s->discard_timer);
                s->input_fd = safe_close(s->input_fd);
                s->null_fd = safe_close(s->null_fd);
        } else if (drained && !output_store_keeps(s))
                output_store_discard_pause(s);

        /* Followers sleeping at the old end get the new bytes; at EOF, caught-up ones get EOF. */
        if (s->size > before || eof)
                output_store_wake(s);

        /* Last: the handler may free the store. */
        if (eof && s->complete_handler)
                s->complete_handler(s, s->complete_userdata);
        return 0;
}

/* Enlarges a pipe for throughput; never shrinks one, and a refusal (pipe-max-size, per-user pipe limits) is
 * fine: the pipe just stays smaller. */
static void pipe_grow(int fd) {
        int sz;

        sz = fcntl(fd, F_GETPIPE_SZ);
        if (sz >= 0 && sz < OUTPUT_PIPE_SIZE)
                (void) fcntl(fd, F_SETPIPE_SZ, OUTPUT_PIPE_SIZE);
}

OutputStore *output_store_free(OutputStore *s) {
        if (!s)
                return NULL;

        while (s->active)
                output_reader_free(s->active);
        while (s->waiting)
                output_reader_free(s->waiting);

        sd_event_source_disable_unref(s->input_source);
        sd_event_source_disable_unref(s->discard_timer);
        safe_close(s->input_fd);
        safe_close(s->null_fd);
        safe_close(s->spool_fd);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
DEFINE_FREE_FUNC(OutputStore, output_store_free);

/* Common tail of output_store_new() and output_store_open(): takes spool_fd and input_fd, also on failure. */
static int output_store_setup(sd_event *e, int spool_fd, int input_fd, uint64_t max_bytes, OutputStore **ret) {
        _cleanup_(closep) int spool = spool_fd, input = input_fd;
        _cleanup_(output_store_freep) OutputStore *s = NULL;
        struct stat st;
        int k;

        if (fstat(spool, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;

        s = new0(OutputStore, 1);
        if (!s)
                return -ENOMEM;
        s->spool_fd = s->input_fd = s->null_fd = -EBADF;
        s->event = sd_event_ref(e);
        s->max_bytes = max_bytes;
        s->size = (uint64_t) st.st_size;
        s->spool_fd = TAKE_FD(spool);

        if (input < 0) {
                s->complete = true;
                *ret = TAKE_PTR(s);
                return 0;
        }

        /* splice(2) needs a pipe on one side; the spool is the other. */
        if (fstat(input, &st) < 0)
                return -errno;
        if (!S_ISFIFO(st.st_mode))
                return -EINVAL;
        k = fd_nonblock(input, true);
        if (k < 0)
                return k;
        pipe_grow(input);
        s->input_fd = TAKE_FD(input);

        k = sd_event_add_io(e, &s->input_source, s->input_fd, EPOLLIN, on_input, s);
        if (k < 0)
                return k;
        k = sd_event_source_set_priority(s->input_source, OUTPUT_PRIORITY);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(s->input_source, "output-input");

        *ret = TAKE_PTR(s);
        return 0;
}

int output_store_new(sd_event *e, const char *spool_path, int input_fd, uint64_t max_bytes, OutputStore **ret) {
        _cleanup_(closep) int input = input_fd;
        int spool, k;

        if (!e || !spool_path || !ret)
                return -EINVAL;

        spool = open(spool_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
        if (spool < 0)
                return -errno;

        k = output_store_setup(e, spool, TAKE_FD(input), max_bytes, ret);
        if (k < 0)
                (void) unlink(spool_path);      /* ours (O_EXCL): leave nothing that would fail a retry */
        return k;
}

int output_store_open(sd_event *e, const char *spool_path, int input_fd, uint64_t max_bytes, OutputStore **ret) {
        _cleanup_(closep) int input = input_fd;
        int spool;

        if (!e || !spool_path || !ret)
                return -EINVAL;

        spool = open(spool_path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (spool < 0)
                return -errno;

        return output_store_setup(e, spool, TAKE_FD(input), max_bytes, ret);
}

void output_store_flush(OutputStore *s) {
        int enabled = 0;

        if (!s || !s->input_source || !s->discard_timer)
                return;
        if (sd_event_source_get_enabled(s->discard_timer, &enabled) < 0 || enabled == SD_EVENT_OFF)
                return;         /* not pausing: the source drains as soon as there is anything */
        (void) sd_event_source_set_enabled(s->discard_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(s->input_source, SD_EVENT_ON);
        (void) on_input(s->input_source, s->input_fd, EPOLLIN, s);
}

void output_store_set_complete_handler(OutputStore *s, output_complete_handler_t h, void *userdata) {
        if (!s)
                return;
        s->complete_handler = h;
        s->complete_userdata = userdata;
}

uint64_t output_store_size(const OutputStore *s) {
        return s ? s->size : 0;
}

uint64_t output_store_dropped(const OutputStore *s) {
        return s ? s->dropped : 0;
}

bool output_store_complete(const OutputStore *s) {
        return s && s->complete;
}

int output_store_error(const OutputStore *s) {
        return s ? s->error : 0;
}

void output_store_set_error(OutputStore *s, int error) {
        if (s && error < 0 && s->error == 0)
                s->error = error;
}

unsigned output_store_n_readers(const OutputStore *s) {
        return s ? s->n_readers : 0;
}

ssize_t output_store_read(OutputStore *s, uint64_t offset, void *buf, size_t n, bool *ret_eof) {
        size_t done = 0;

        if (!s || (!buf && n > 0))
                return -EINVAL;
        if (offset > s->size)
                return -EINVAL;

        n = (size_t) MIN((uint64_t) MIN(n, (size_t) SSIZE_MAX), s->size - offset);
        while (done < n) {
                ssize_t k;

                k = pread(s->spool_fd, (uint8_t *) buf + done, n - done, (off_t) (offset + done));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)     /* truncated behind our back */
                        break;
                done += (size_t) k;
        }

        if (ret_eof)
                *ret_eof = s->complete && offset + done == s->size;
        return (ssize_t) done;
}

int output_store_open_reader(OutputStore *s, uint64_t offset, bool follow, int *ret_fd) {
        return output_store_open_reader_charged(s, offset, follow, NULL, ret_fd);
}

int output_store_open_reader_charged(OutputStore *s, uint64_t offset, bool follow, OutputCharge *charge,
                                     int *ret_fd) {
        _cleanup_(closep) int rfd = -EBADF, wfd = -EBADF;
        OutputReader *r;
        int p[2], k;

        if (!s || !ret_fd)
                return -EINVAL;
        if (offset > s->size)
                return -EINVAL;

        /* Always a pipe the store feeds, blocking on the caller's side, never an fd of the spool file, even
         * for a complete stream where that would be allowed and a little faster:
         *   - on a live stream a plain file would show bytes spooled after this call (a snapshot must not)
         *     and give a follower a premature EOF;
         *   - epoll refuses regular files (EPERM), so a client that watches its fd with sd-event, asyncio,
         *     tokio... (the gateway does) would break on finished jobs only;
         *   - a file fd pins the spool's inode, and its disk space, for as long as a client holds it, after
         *     the job and its spool are removed; a reader pipe is closed by output_store_free().
         * Pipe-fed readers run at page-cache splice speed anyway (GB/s). */
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        rfd = p[0];
        wfd = p[1];

        if (offset == s->size && (!follow || s->complete)) {   /* nothing to send, ever: EOF right away */
                *ret_fd = TAKE_FD(rfd);
                return 0;
        }

        k = fd_nonblock(wfd, true);
        if (k < 0)
                return k;
        pipe_grow(wfd);

        r = new0(OutputReader, 1);
        if (!r)
                return -ENOMEM;
        r->fd = TAKE_FD(wfd);
        r->offset = offset;
        r->end = follow ? UINT64_MAX : s->size;

        /* Start active: the first EPOLLOUT comes on the next iteration (bounded work in this call), and a
         * caught-up follower goes to waiting from there. */
        k = sd_event_add_io(s->event, &r->io, r->fd, EPOLLOUT, on_reader_io, r);
        if (k < 0) {
                output_reader_free(r);
                return k;
        }
        k = sd_event_source_set_priority(r->io, OUTPUT_PRIORITY);
        if (k < 0) {
                output_reader_free(r);
                return k;
        }
        (void) sd_event_source_set_description(r->io, "output-reader");

        r->store = s;
        output_reader_list_add(r, false);
        s->n_readers++;
        r->charge = charge;
        output_charge_get(charge);

        *ret_fd = TAKE_FD(rfd);
        return 0;
}

int output_store_tail_offset(OutputStore *s, uint64_t lines, uint64_t *ret_offset) {
        _cleanup_(freep) char *buf = NULL;
        uint64_t end, found = 0;

        if (!s || !ret_offset)
                return -EINVAL;

        end = s->size;
        if (lines == 0) {
                *ret_offset = end;
                return 0;
        }

        buf = malloc(OUTPUT_TAIL_CHUNK);
        if (!buf)
                return -ENOMEM;

        /* Scan backwards chunk by chunk. The stream's last byte, if a newline, ends the last line rather than
         * opening an empty one, so it is skipped. The `lines`-th newline before that ends the line just before
         * the ones we want. */
        for (bool first = true; end > 0; first = false) {
                size_t n = (size_t) MIN(end, (uint64_t) OUTPUT_TAIL_CHUNK);
                ssize_t k;

                k = output_store_read(s, end - n, buf, n, NULL);
                if (k < 0)
                        return (int) k;
                if ((size_t) k != n)
                        return -EIO;

                if (first && buf[n - 1] == '\n')
                        n--;

                for (char *nl; n > 0 && (nl = memrchr(buf, '\n', n)); n = (size_t) (nl - buf))
                        if (++found == lines) {
                                *ret_offset = end - MIN(end, (uint64_t) OUTPUT_TAIL_CHUNK) + (uint64_t) (nl - buf) + 1;
                                return 0;
                        }

                end -= MIN(end, (uint64_t) OUTPUT_TAIL_CHUNK);
        }

        *ret_offset = 0;
        return 0;
}
