/* SPDX-License-Identifier: MIT */
/* follow.c - a job's output to its end, whatever happens to the worker meanwhile (follow.h says how). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "follow.h"
#include "format.h"
#include "shared/macro.h"
#include "shared/util.h"

#define RETRY_DELAY_MIN (100 * USEC_PER_MSEC)
#define RETRY_DELAY_MAX (2 * USEC_PER_SEC)

void follow_retry_reset(FollowRetry *t) {
        t->since = 0;
        t->delay = 0;
}

/* Sleeps usec, or less when the interrupt fd turns readable: -EINTR then. */
static int retry_sleep(const FollowRetry *t, uint64_t usec) {
        struct pollfd pfd = { .fd = t->interrupt_fd, .events = POLLIN };
        uint64_t until = now_usec(CLOCK_MONOTONIC) + usec;

        for (;;) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                int k;

                if (now >= until)
                        return 0;
                k = poll(&pfd, t->interrupt_fd >= 0 ? 1 : 0, (int) ((until - now + 999) / 1000));
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k > 0)
                        return -EINTR;
        }
}

int follow_retry_wait(FollowRetry *t, int r, ClientError *e) {
        uint64_t now = now_usec(CLOCK_MONOTONIC), left;
        int k;

        if (r == -EINTR || e->kind != CLIENT_ERROR_UNREACHABLE || t->timeout_usec == 0)
                return r;
        if (t->since == 0) {
                t->since = now;
                t->delay = RETRY_DELAY_MIN;
        }
        if (now - t->since >= t->timeout_usec) {
                _cleanup_(freep) char *why = e->message ? strdup(e->message) : NULL;

                return client_error_set(e, r, CLIENT_ERROR_UNREACHABLE,
                                        "The worker did not come back within %g s: %s",
                                        (double) t->timeout_usec / USEC_PER_SEC, why ? why : "unreachable");
        }
        left = t->timeout_usec - (now - t->since);
        k = retry_sleep(t, MIN(t->delay, left));
        if (k < 0)
                return client_error_set(e, k, CLIENT_ERROR_OTHER, "Interrupted");
        t->delay = MIN(t->delay * 2, RETRY_DELAY_MAX);
        return 0;
}

static bool job_has_ended(json_object *job) {
        /* "reason" is null until the job has ended (bus-json.h) */
        return job_json_string(job, "reason") != NULL;
}

/* 1 when the output is complete and offset is its end, 0 when there is more to come, or a negative errno with
 * e set. */
static int output_complete(Client *c, const char *id, uint64_t offset, ClientError *e) {
        _cleanup_(json_object_putp) json_object *job = NULL;
        uint64_t size = 0;
        int r;

        if (c->ops->output_complete)
                return c->ops->output_complete(c, id, offset, e);

        /* No such question over this transport: the job has ended and we have all it captured. (Its background
         * children could still add to it; the next stream would then bring those bytes.) */
        r = c->ops->get_job(c, id, &job, e);
        if (r < 0)
                return r;
        if (!job_has_ended(job) || !job_json_uint64(job, "output_size", &size))
                return 0;
        return offset >= size;
}

/* Says how far the output got when the follower gives up on the worker. */
static int give_up(int r, const char *id, uint64_t offset, ClientError *e) {
        _cleanup_(freep) char *why = NULL;

        if (r == -EINTR || e->kind != CLIENT_ERROR_UNREACHABLE)
                return r;
        why = e->message ? strdup(e->message) : NULL;
        return client_error_set(e, r, CLIENT_ERROR_UNREACHABLE,
                                "%s; the output of job %s is incomplete (%" PRIu64 " bytes written)",
                                why ? why : "The worker is unreachable", id, offset);
}

/* Opens the output at *offset: framed through fs (NULL: the merged stream). A worker that has no framed
 * reader makes *fs NULL: the merged stream from then on. */
static int follow_open(Client *c, const char *id, uint64_t offset, bool follow, FollowStreams **fs, int *fd,
                       ClientError *e) {
        uint64_t start;
        int r;

        if (*fs && c->ops->open_output_ex) {
                BusOutputOptions o = (*fs)->options;

                o.set |= OUTPUT_OPT_OFFSET | OUTPUT_OPT_FOLLOW | OUTPUT_OPT_FRAMED;
                o.offset = offset;
                o.follow = follow;
                o.framed = true;
                r = c->ops->open_output_ex(c, id, &o, fd, &start, e);
                if (r != -EOPNOTSUPP) {
                        demux_new_stream(&(*fs)->demux);
                        return r;
                }
                client_error_done(e);
        }
        *fs = NULL;
        return c->ops->open_output(c, id, offset, follow, fd, e);
}

/* Copies what fd brings: frames through fs, or plain bytes to stdout. */
static int follow_copy(FollowStreams *fs, int fd, FollowRetry *t, uint64_t *offset) {
        if (!fs)
                return copy_stream(fd, STDOUT_FILENO, t->interrupt_fd, offset);
        fs->demux.interrupt_fd = t->interrupt_fd;
        return demux_copy(&fs->demux, fd, offset);
}

int follow_output(Client *c, const char *id, int *fd, uint64_t *offset, FollowRetry *t, ClientError *e) {
        return follow_output_streams(c, id, fd, offset, t, NULL, true, e);
}

int follow_output_streams(Client *c, const char *id, int *fd, uint64_t *offset, FollowRetry *t, FollowStreams *fs,
                          bool follow, ClientError *e) {
        int r;

        if (!follow) {
                /* One snapshot: nothing to resume, and any failure is said at once. */
                r = follow_open(c, id, *offset, false, &fs, fd, e);
                if (r < 0)
                        return r;
                fflush(stdout);
                r = follow_copy(fs, *fd, t, offset);
                if (r < 0 && r != -EINTR && r != -EPIPE)
                        return client_error_set(e, r, CLIENT_ERROR_OTHER, "Failed to copy the job's output: %m");
                return r;
        }

        for (;;) {
                uint64_t before = *offset;

                if (*fd < 0) {
                        r = follow_open(c, id, *offset, true, &fs, fd, e);
                        if (r < 0) {
                                r = follow_retry_wait(t, r, e);
                                if (r < 0)
                                        return give_up(r, id, *offset, e);
                                continue;
                        }
                }

                fflush(stdout);
                r = follow_copy(fs, *fd, t, offset);
                if (r == -EINTR || r == -EPIPE)
                        return r;
                *fd = safe_close(*fd);
                /* A connection reset is the stream cut short, like a hangup; any other error is ours. */
                if (r < 0 && r != -ECONNRESET)
                        return client_error_set(e, r, CLIENT_ERROR_OTHER, "Failed to copy the job's output: %m");
                if (*offset > before)
                        follow_retry_reset(t);

                r = output_complete(c, id, *offset, e);
                if (r > 0)
                        return 0;
                if (r == 0 && *offset > before)
                        continue;   /* the worker went away mid-stream: resume where we are */
                if (r == 0)
                        /* An empty stream that ended early: the worker is on its way out. Not a busy loop. */
                        r = client_error_set(e, -ECONNRESET, CLIENT_ERROR_UNREACHABLE,
                                             "The output stream of job %s ended before the output was complete",
                                             id);
                r = follow_retry_wait(t, r, e);
                if (r < 0)
                        return give_up(r, id, *offset, e);
        }
}

typedef int (*job_call_t)(Client *c, const char *id, json_object **ret, ClientError *error);

static int retry_job_call(Client *c, job_call_t call, const char *id, FollowRetry *t, json_object **ret,
                          ClientError *e) {
        for (;;) {
                int r = call(c, id, ret, e);

                if (r >= 0) {
                        follow_retry_reset(t);
                        return r;
                }
                r = follow_retry_wait(t, r, e);
                if (r < 0)
                        return r;
        }
}

int follow_wait(Client *c, const char *id, FollowRetry *t, json_object **ret, ClientError *e) {
        return retry_job_call(c, c->ops->wait, id, t, ret, e);
}

int follow_get_job(Client *c, const char *id, FollowRetry *t, json_object **ret, ClientError *e) {
        return retry_job_call(c, c->ops->get_job, id, t, ret, e);
}

void follow_note_dropped(json_object *job) {
        const char *error = job_json_string(job, "output_error");
        uint64_t dropped = 0;

        if (!job_json_uint64(job, "output_dropped", &dropped) || dropped == 0)
                return;
        if (error && *error)
                fprintf(stderr, "telerun: %" PRIu64 " bytes of output were dropped (capture stopped: %s)\n", dropped,
                        error);
        else
                fprintf(stderr, "telerun: %" PRIu64 " bytes of output were dropped past the cap\n", dropped);
}
