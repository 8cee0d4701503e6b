/* SPDX-License-Identifier: MIT */
/* copy.c - fd to fd copy for `telerun logs`/`run`: splice/sendfile so bytes never cross user space. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "copy.h"
#include "shared/macro.h"
#include "shared/util.h"

/* Large enough that one call moves a whole pipe buffer (or more from a file); the kernel caps it anyway. */
#define COPY_CHUNK (16U * 1024U * 1024U)
#define COPY_BUFFER (1024U * 1024U)

typedef enum CopyMode {
        COPY_SPLICE,
        COPY_SENDFILE,
        COPY_READ_WRITE,
} CopyMode;

/* Waits until in_fd is readable (want_in) and out_fd writable (want_out). Both could be the reason for an
 * EAGAIN, and polling both at once would spin while one of them is ready, so wait for each in turn. */
static int wait_ready(int in_fd, bool want_in, int out_fd, bool want_out, int interrupt_fd) {
        while (want_in || want_out) {
                struct pollfd p[3];
                nfds_t n = 0;
                int in_idx = -1, out_idx = -1, int_idx = -1;

                if (want_in) {
                        in_idx = (int) n;
                        p[n++] = (struct pollfd) { .fd = in_fd, .events = POLLIN };
                }
                if (want_out) {
                        out_idx = (int) n;
                        p[n++] = (struct pollfd) { .fd = out_fd, .events = POLLOUT };
                }
                if (interrupt_fd >= 0) {
                        int_idx = (int) n;
                        p[n++] = (struct pollfd) { .fd = interrupt_fd, .events = POLLIN };
                }

                if (poll(p, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (int_idx >= 0 && p[int_idx].revents != 0)
                        return -EINTR;
                if (in_idx >= 0 && p[in_idx].revents != 0)
                        want_in = false;   /* readable, EOF (POLLHUP) or error: the next read tells */
                if (out_idx >= 0 && p[out_idx].revents != 0)
                        want_out = false;
        }
        return 0;
}

int copy_write_all(int out_fd, const uint8_t *p, size_t n, int interrupt_fd) {
        while (n > 0) {
                ssize_t k = write(out_fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                /* A reader that stopped reading must not make us ignore Ctrl-C. */
                                int r = wait_ready(-EBADF, false, out_fd, true, interrupt_fd);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int copy_stream(int in_fd, int out_fd, int interrupt_fd, uint64_t *copied) {
        _cleanup_(freep) uint8_t *buf = NULL;
        CopyMode mode = COPY_SPLICE;
        int r;

        /* Non-blocking so that waiting happens in poll(), where the interrupt fd is watched too. */
        r = fd_nonblock(in_fd, true);
        if (r < 0)
                return r;

        for (;;) {
                ssize_t n;

                switch (mode) {

                case COPY_SPLICE:
                        n = splice(in_fd, NULL, out_fd, NULL, COPY_CHUNK, SPLICE_F_MOVE | SPLICE_F_MORE);
                        if (n < 0 && (errno == EINVAL || errno == ENOSYS || errno == EBADF)) {
                                /* Neither side is a pipe, or out_fd cannot take spliced pages (a tty, an
                                 * O_APPEND file). */
                                mode = COPY_SENDFILE;
                                continue;
                        }
                        break;

                case COPY_SENDFILE:
                        n = sendfile(out_fd, in_fd, NULL, COPY_CHUNK);
                        if (n < 0 && (errno == EINVAL || errno == ENOSYS || errno == EBADF)) {
                                mode = COPY_READ_WRITE;
                                continue;
                        }
                        break;

                case COPY_READ_WRITE:
                        if (!buf) {
                                buf = malloc(COPY_BUFFER);
                                if (!buf)
                                        return -ENOMEM;
                        }
                        n = read(in_fd, buf, COPY_BUFFER);
                        if (n > 0) {
                                r = copy_write_all(out_fd, buf, (size_t) n, interrupt_fd);
                                if (r < 0)
                                        return r;
                        }
                        break;

                default:
                        return -EINVAL;
                }

                if (n == 0)
                        return 0;
                if (n > 0) {
                        if (copied)
                                *copied += (uint64_t) n;
                        continue;
                }

                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;

                /* With splice/sendfile either side may have said EAGAIN; read() only speaks for in_fd. */
                r = wait_ready(in_fd, true, out_fd, mode != COPY_READ_WRITE, interrupt_fd);
                if (r < 0)
                        return r;
        }
}

int64_t read_full(int fd, void *buf, uint64_t n) {
        uint8_t *p = buf;
        uint64_t done = 0;

        while (done < n) {
                ssize_t k = read(fd, p + done, (size_t) MIN(n - done, (uint64_t) SSIZE_MAX));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                                if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                                        return -errno;
                                continue;
                        }
                        return -errno;
                }
                if (k == 0)
                        break;
                done += (uint64_t) k;
        }
        return (int64_t) done;
}
