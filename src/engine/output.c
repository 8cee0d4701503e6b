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
 * Capture and fan-out stay in this one file: they are one data structure with one invariant (a reader is
 * active or waiting, and the input handler feeds exactly the waiting ones), and the comments above carry the
 * measurements the budgets rest on. What is not that moved out: making and freeing a store, its inputs and
 * its stream index (output-setup.c), readers of one stream or of frames (output-frames.c), where a reader
 * starts (output-query.c); they share output-internal.h. */

#include <assert.h>
#include <endian.h>
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
#include "engine/output-internal.h"
#include "shared/util.h"

#define OUTPUT_INPUT_BUDGET (UINT64_C(4) * 1024 * 1024) /* bytes taken from the job's pipe per dispatch */
#define OUTPUT_DISCARD_CHUNK (16 * 1024)                /* read() fallback when /dev/null does not splice */
/* Past the cap (see "Dropping"): the job's pipe is drained at most once per pause, in one go. */
#define OUTPUT_DISCARD_BUDGET (UINT64_C(16) * 1024 * 1024)
#define OUTPUT_DISCARD_PAUSE_USEC (2 * USEC_PER_MSEC)


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

OutputReader *output_reader_free(OutputReader *r) {
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

ssize_t output_reader_splice(OutputReader *r, uint64_t n) {
        loff_t off = (loff_t) r->offset;
        ssize_t k;

        do
                k = splice(r->store->spool_fd, &off, r->fd, NULL, (size_t) n, SPLICE_F_NONBLOCK);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        if (k == 0)     /* the spool is shorter than what we wrote to it: truncated behind our back */
                return -EIO;
        r->offset += (uint64_t) k;
        return k;
}

static bool output_reader_plain(const OutputReader *r) {
        return !r->framed && r->select == OUTPUT_SELECT_BOTH;
}

/* Splices what the reader may have next into its pipe, up to the per-dispatch budget. Returns one of the
 * OUTPUT_READER_* states, or a negative errno (-EPIPE: the peer closed) after which the reader must go. */
static int output_reader_push(OutputReader *r) {
        OutputStore *s = r->store;
        uint64_t budget = OUTPUT_READER_BUDGET;

        if (!output_reader_plain(r))
                return output_reader_push_indexed(r);

        for (;;) {
                uint64_t limit = MIN(r->end, s->size);
                ssize_t k;

                if (r->offset >= limit)
                        break;
                if (budget == 0)
                        return OUTPUT_READER_BUSY;

                k = output_reader_splice(r, MIN(limit - r->offset, budget));
                if (k == -EAGAIN)
                        return OUTPUT_READER_BUSY;
                if (k < 0)
                        return (int) k;
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
static ssize_t output_store_discard(OutputStore *s, int input_fd, size_t n) {
        char buf[OUTPUT_DISCARD_CHUNK];
        ssize_t k;

        if (s->null_fd < 0 && !s->null_no_splice) {
                s->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (s->null_fd < 0)
                        s->null_no_splice = true;
        }
        if (!s->null_no_splice) {
                k = splice(input_fd, NULL, s->null_fd, NULL, n, SPLICE_F_NONBLOCK);
                if (k >= 0)
                        return k;
                if (errno != EINVAL)
                        return -errno;
                /* /dev/null is not the kernel's null device here (a container bind mount?): read instead. */
                s->null_fd = safe_close(s->null_fd);
                s->null_no_splice = true;
        }

        k = read(input_fd, buf, MIN(n, sizeof(buf)));
        return k < 0 ? -errno : k;
}

/* Moves up to n bytes from the job's pipe to the spool. Returns the count, 0 at EOF, or -errno: -EAGAIN and
 * -EINTR come from the pipe, any other error from writing the spool (a pipe read cannot fail otherwise). */
static ssize_t output_store_capture(OutputStore *s, OutputInput *in, size_t n) {
        loff_t off = (loff_t) s->size;
        ssize_t k;

        k = splice(in->fd, NULL, s->spool_fd, &off, n, SPLICE_F_NONBLOCK);
        if (k <= 0)
                return k < 0 ? -errno : k;
        /* Per chunk, not per byte: one clock read (vDSO), and a record only when the stream changes or the
         * last record is older than the coalescing window. A failure stops the index, never the capture. */
        (void) stream_index_note(s->index, s->size, in->stream, now_usec(CLOCK_REALTIME));
        return k;
}

void output_store_inputs_enable(OutputStore *s, int enabled) {
        for (size_t i = 0; i < ELEMENTSOF(s->inputs); i++)
                if (s->inputs[i].source)
                        (void) sd_event_source_set_enabled(s->inputs[i].source, enabled);
}

static int on_discard_pause_end(sd_event_source *es, uint64_t usec, void *userdata) {
        OutputStore *s = userdata;

        output_store_inputs_enable(s, SD_EVENT_ON);
        return 0;
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
                output_store_inputs_enable(s, SD_EVENT_OFF);
}

/* Closes one input at its EOF; the stream is complete when it was the last. */
static void output_input_close(OutputInput *in) {
        OutputStore *s = in->store;

        in->source = sd_event_source_disable_unref(in->source);
        in->fd = safe_close(in->fd);
        if (--s->n_inputs > 0)
                return;
        s->complete = true;
        s->discard_timer = sd_event_source_disable_unref(s->discard_timer);
        s->null_fd = safe_close(s->null_fd);
}

int output_on_input(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        OutputInput *in = userdata;
        OutputStore *s = in->store;
        uint64_t budget = output_store_keeps(s) ? OUTPUT_INPUT_BUDGET : OUTPUT_DISCARD_BUDGET, before = s->size;
        bool eof = false, drained = false;

        while (budget > 0) {
                bool keep = output_store_keeps(s);
                ssize_t k;

                if (keep) {
                        uint64_t n = budget;

                        if (s->max_bytes > 0)
                                n = MIN(n, s->max_bytes - s->size);
                        k = output_store_capture(s, in, (size_t) n);
                } else
                        k = output_store_discard(s, in->fd, (size_t) budget);

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
                output_input_close(in);
                eof = s->complete;      /* the stream's end: this was its last input */
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
void output_pipe_grow(int fd) {
        int sz;

        sz = fcntl(fd, F_GETPIPE_SZ);
        if (sz >= 0 && sz < OUTPUT_PIPE_SIZE)
                (void) fcntl(fd, F_SETPIPE_SZ, OUTPUT_PIPE_SIZE);
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
        OutputReaderOptions o = { .offset = offset, .end = UINT64_MAX, .follow = follow, .select = OUTPUT_SELECT_BOTH };

        return output_store_open_reader_ex(s, &o, charge, ret_fd);
}

int output_store_open_reader_ex(OutputStore *s, const OutputReaderOptions *o, OutputCharge *charge, int *ret_fd) {
        _cleanup_(closep) int rfd = -EBADF, wfd = -EBADF;
        OutputReader *r;
        uint64_t offset, end;
        bool follow;
        int p[2], k;

        if (!s || !o || !ret_fd || (o->select & ~OUTPUT_SELECT_BOTH) || o->select == 0)
                return -EINVAL;
        offset = o->offset;
        follow = o->follow && o->end == UINT64_MAX;
        end = follow ? UINT64_MAX : MIN(o->end, s->size);
        if (offset > s->size)
                return -EINVAL;
        if ((o->framed || o->timestamps || o->select != OUTPUT_SELECT_BOTH) && !s->index)
                return -ENODATA;

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

        if (offset >= end || (offset == s->size && (!follow || s->complete))) {  /* nothing to send, ever: EOF now */
                *ret_fd = TAKE_FD(rfd);
                return 0;
        }

        k = fd_nonblock(wfd, true);
        if (k < 0)
                return k;
        output_pipe_grow(wfd);

        r = new0(OutputReader, 1);
        if (!r)
                return -ENOMEM;
        r->fd = TAKE_FD(wfd);
        r->offset = offset;
        r->end = end;
        r->select = o->select;
        r->framed = o->framed || o->timestamps;
        r->timestamps = o->timestamps;
        r->cursor = STREAM_CURSOR_INIT;

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
