/* SPDX-License-Identifier: MIT */
/* copy.h - moving a job's output from the fd the worker handed out to our stdout, fast and binary-safe. */
#pragma once

#include <stdint.h>

/* Copies from in_fd to out_fd until EOF on in_fd: splice(2) when either side is a pipe, sendfile(2) from a
 * file, read/write through a 1 MiB buffer otherwise (a terminal). in_fd is switched to non-blocking (it is
 * ours alone); out_fd's flags are never changed (it is shared with the shell), a non-blocking one is
 * handled. If interrupt_fd >= 0, returns -EINTR as soon as it turns readable while waiting for data.
 * Adds the bytes moved to *copied (if not NULL). 0 at EOF, negative errno on failure: -EPIPE etc. from
 * writing out_fd, others from reading in_fd. */
int copy_stream(int in_fd, int out_fd, int interrupt_fd, uint64_t *copied);

/* Writes all n bytes to out_fd (blocking or not: waits in poll(), -EINTR when interrupt_fd turns readable). */
int copy_write_all(int out_fd, const uint8_t *p, size_t n, int interrupt_fd);
/* Reads exactly n bytes (fewer only at EOF) from a blocking or non-blocking fd. Returns the count. */
int64_t read_full(int fd, void *buf, uint64_t n);
