/* SPDX-License-Identifier: MIT */
/* demux.h - a job's output in frames (docs/http.md, "Two streams": 8-byte headers, 16 with timestamps) back
 * into its streams: stdout's bytes to one fd, stderr's to another, optionally only some of them, optionally
 * each line prefixed with its capture time.
 *
 * The decoder holds only a frame header (16 bytes) and a line-start flag per stream: payloads go straight
 * through, whatever their length. It counts the payload bytes it saw, shown or not: that is the offset in the
 * merged stream a follower resumes from, so a stream cut mid-frame resumes exactly (demux_new_stream()). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEMUX_HEADER_MAX 16

typedef struct Demux {
        bool timestamps;        /* 16-byte headers; each line shown is prefixed with its time */
        unsigned show;          /* bit 1: show stdout, bit 2: show stderr */
        int out_fd[3];          /* [1]: where stdout goes, [2]: stderr */
        int interrupt_fd;       /* -EBADF, or an fd that ends a wait for output room with -EINTR */

        uint8_t hdr[DEMUX_HEADER_MAX];
        size_t hdr_got;
        uint8_t stream;         /* the current frame's */
        uint64_t left;          /* its payload still to come */
        uint64_t realtime;      /* its capture time, µs */
        bool mid_line[3];       /* the last byte shown of that stream was not a newline */
} Demux;

/* show: which streams (bits 1 and 2); the fds are STDOUT_FILENO and STDERR_FILENO. */
void demux_init(Demux *d, unsigned show, bool timestamps);
/* Feeds bytes of the framed stream. Adds every payload byte to *offset. -EBADMSG on a header that is not a
 * frame of ours (stream byte not 1 or 2, or nonzero padding); -EPIPE etc. from writing. */
int demux_feed(Demux *d, const uint8_t *buf, size_t n, uint64_t *offset);
/* A new stream begins (after a cut one): a partial header is dropped; lines continue. */
void demux_new_stream(Demux *d);
/* Reads in_fd to EOF through demux_feed(). 0 at EOF, -EINTR, or an error. */
int demux_copy(Demux *d, int in_fd, uint64_t *offset);
/* "2026-12-03T13:20:00.123456Z " for a time in µs: buf of 32 bytes. */
void demux_format_time(uint64_t realtime, char buf[32]);
