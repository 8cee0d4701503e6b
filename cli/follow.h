/* SPDX-License-Identifier: MIT */
/* follow.h - following a job's output to its end across restarts of the worker (or the gateway).
 *
 * A follower's stream ends the same way whether the output is complete or the worker went away (killed,
 * restarted by systemd, stopped): the fd hangs up. So the end of a stream is never taken for the end of the
 * output: the follower asks the worker whether the output is complete at the offset it reached (bus:
 * ReadOutput's eof; remote: the job has ended and its output_size is that offset), and if not, or if the
 * worker does not answer, it opens the output again from that offset. While the worker is away every call is
 * retried with a growing delay (100 ms doubling to 2 s) for up to a bounded time since the last progress;
 * then the follower gives up with CLIENT_ERROR_UNREACHABLE and a message that says how far it got. */
#pragma once

#include <stdint.h>

#include <json-c/json.h>

#include "client.h"
#include "demux.h"

typedef struct FollowRetry {
        uint64_t timeout_usec; /* how long the worker may stay away; 0: no retry at all */
        int interrupt_fd;      /* -EBADF, or an fd that turns readable to give up waiting with -EINTR */
        uint64_t since;        /* CLOCK_MONOTONIC µs of the first failure since the last success, 0: none */
        uint64_t delay;        /* the next wait, µs */
} FollowRetry;

static inline FollowRetry follow_retry_init(uint64_t timeout_usec, int interrupt_fd) {
        return (FollowRetry) { .timeout_usec = timeout_usec, .interrupt_fd = interrupt_fd };
}

/* After a failed call with error e: 0 once it is worth trying again (having waited a little), or the error to
 * give up with (e is kept, or reworded when the time ran out). Only CLIENT_ERROR_UNREACHABLE is retried. */
int follow_retry_wait(FollowRetry *t, int r, ClientError *e);
/* After a call that worked: the next failure starts a new period. */
void follow_retry_reset(FollowRetry *t);

/* Copies job id's output to stdout, from *offset (advanced by every byte written) until the output is
 * complete. *fd: an fd already open on the output at *offset (taken over), or -EBADF; on -EINTR and -EPIPE it
 * is left open for the caller (run's stop path reads the job's last words from it). Returns 0 when every kept
 * byte was written, -EINTR (t's interrupt fd), -EPIPE (stdout is gone), or another negative errno with e set
 * (no such job, access denied, the worker did not come back in time). */
int follow_output(Client *c, const char *id, int *fd, uint64_t *offset, FollowRetry *t, ClientError *e);

/* A follower that keeps the streams apart: it reads frames of both streams (OpenOutputEx, framed) and shows
 * them through demux (stdout to fd 1, stderr to fd 2, or only some, with times or not). Both streams are
 * always asked for, whatever is shown: the payloads add up to the merged offset, which is what a follower
 * resumes from. until (OUTPUT_OPT_UNTIL in options.set) ends it early; options.offset and follow are set
 * per open. A worker without OpenOutputEx gets the merged stream on stdout instead (follow_output()). */
typedef struct FollowStreams {
        Demux demux;
        BusOutputOptions options;
} FollowStreams;

/* follow_output() through fs; fs NULL: follow_output() itself. With follow false: one snapshot, no resume. */
int follow_output_streams(Client *c, const char *id, int *fd, uint64_t *offset, FollowRetry *t, FollowStreams *fs,
                          bool follow, ClientError *e);

/* c->ops->wait() and get_job(), retried while the worker is away. */
int follow_wait(Client *c, const char *id, FollowRetry *t, json_object **ret, ClientError *e);
int follow_get_job(Client *c, const char *id, FollowRetry *t, json_object **ret, ClientError *e);

/* "telerun: N bytes of output were dropped past the cap" on stderr when the job's output_dropped is not 0
 * (or the reason capture stopped, from output_error). */
void follow_note_dropped(json_object *job);
