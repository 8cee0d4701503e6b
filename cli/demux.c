/* SPDX-License-Identifier: MIT */
/* demux.c - frames back into stdout and stderr (demux.h). */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "demux.h"
#include "shared/macro.h"
#include "shared/util.h"

#define DEMUX_READ_CHUNK (256 * 1024)

void demux_init(Demux *d, unsigned show, bool timestamps) {
        *d = (Demux) { .timestamps = timestamps, .show = show, .out_fd = { -EBADF, STDOUT_FILENO, STDERR_FILENO },
                       .interrupt_fd = -EBADF };
}

void demux_new_stream(Demux *d) {
        d->hdr_got = 0;
        d->left = 0;
}

void demux_format_time(uint64_t realtime, char buf[32]) {
        time_t sec = (time_t) (realtime / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&sec, &tm) || strftime(buf, 21, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                snprintf(buf, 32, "%" PRIu64 " ", realtime);
        else
                snprintf(buf + 19, 13, ".%06uZ ", (unsigned) (realtime % USEC_PER_SEC));
}

/* Shows a piece of the current frame's payload: as is, or with the time before each line that starts in it. */
static int demux_show(Demux *d, const uint8_t *p, size_t n) {
        int fd = d->out_fd[d->stream];

        if (!(d->show & (1u << d->stream)))
                return 0;
        while (n > 0) {
                const uint8_t *nl = d->timestamps ? memchr(p, '\n', n) : NULL;
                size_t len = nl ? (size_t) (nl - p) + 1 : n;
                int r;

                if (d->timestamps && !d->mid_line[d->stream]) {
                        char ts[32];

                        demux_format_time(d->realtime, ts);
                        r = copy_write_all(fd, (const uint8_t *) ts, strlen(ts), d->interrupt_fd);
                        if (r < 0)
                                return r;
                }
                r = copy_write_all(fd, p, len, d->interrupt_fd);
                if (r < 0)
                        return r;
                d->mid_line[d->stream] = p[len - 1] != '\n';
                p += len;
                n -= len;
        }
        return 0;
}

/* The header is whole: checks it and starts its frame. */
static int demux_header(Demux *d) {
        uint32_t len;

        if ((d->hdr[0] != 1 && d->hdr[0] != 2) || d->hdr[1] || d->hdr[2] || d->hdr[3])
                return -EBADMSG;
        memcpy(&len, d->hdr + 4, 4);
        d->stream = d->hdr[0];
        d->left = be32toh(len);
        if (d->timestamps) {
                uint64_t t;

                memcpy(&t, d->hdr + 8, 8);
                d->realtime = be64toh(t);
        }
        d->hdr_got = 0;
        return 0;
}

int demux_feed(Demux *d, const uint8_t *buf, size_t n, uint64_t *offset) {
        size_t hl = d->timestamps ? 16 : 8;
        int r;

        while (n > 0) {
                if (d->left == 0) {
                        size_t take = MIN(hl - d->hdr_got, n);

                        memcpy(d->hdr + d->hdr_got, buf, take);
                        d->hdr_got += take;
                        buf += take;
                        n -= take;
                        if (d->hdr_got == hl) {
                                r = demux_header(d);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                size_t take = (size_t) MIN((uint64_t) n, d->left);

                r = demux_show(d, buf, take);
                if (r < 0)
                        return r;
                *offset += take;
                d->left -= take;
                buf += take;
                n -= take;
        }
        return 0;
}

int demux_copy(Demux *d, int in_fd, uint64_t *offset) {
        uint8_t buf[DEMUX_READ_CHUNK / 4];

        for (;;) {
                struct pollfd p[2] = { { .fd = in_fd, .events = POLLIN }, { .fd = d->interrupt_fd, .events = POLLIN } };
                ssize_t k;
                int r;

                if (poll(p, d->interrupt_fd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (d->interrupt_fd >= 0 && p[1].revents)
                        return -EINTR;
                k = read(in_fd, buf, sizeof(buf));
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return 0;
                r = demux_feed(d, buf, (size_t) k, offset);
                if (r < 0)
                        return r;
        }
}
