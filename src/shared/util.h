/* SPDX-License-Identifier: MIT */
/* util.h - small helpers shared by every layer: sizes, ids, time, fds, strv. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JOB_ID_STRING_MAX 37   /* 36 characters of a UUID and the NUL */
#define JOB_ID_HEX_MAX 33      /* the same 128 bits as 32 hex digits, for object paths */

/* "512M", "10MiB", "1G", "4096" -> bytes (1024-based suffixes K M G T, optional "B"/"iB"). */
int parse_size(const char *s, uint64_t *ret);
/* "150%" or "1.5" (CPUs) -> µs of CPU time per second. */
int parse_cpu_quota(const char *s, uint64_t *ret);
int parse_uint64(const char *s, uint64_t *ret);
/* Formats bytes with a 1024-based suffix ("512.0M"); buf needs 16 bytes. */
const char *format_size(char *buf, size_t n, uint64_t bytes);

/* A random version-4 UUID in text form. */
int job_id_generate(char ret[static JOB_ID_STRING_MAX]);
/* True for the canonical lowercase text form generated above (also accepts uppercase hex). */
bool job_id_is_valid(const char *id);
/* UUID text form <-> 32 hex digits (object path component). Both return -EINVAL on malformed input. */
int job_id_to_hex(const char *id, char ret[static JOB_ID_HEX_MAX]);
int job_id_from_hex(const char *hex, char ret[static JOB_ID_STRING_MAX]);

/* The value of a hex digit, -EINVAL for anything else. */
int unhexchar(char c);

uint64_t now_usec(int clock);
/* RFC 3339 UTC with microseconds ("2026-11-23T18:30:00.123456Z"); buf needs 32 bytes. */
const char *format_timestamp(char *buf, size_t n, uint64_t realtime_usec);

int fd_nonblock(int fd, bool nonblock);
/* Writes everything or fails (-errno); restarts on EINTR. For blocking fds. */
int loop_write(int fd, const void *buf, size_t n);

size_t strv_length(char * const *l);
char **strv_copy(char * const *l);
/* Looks argv0 up: absolute, relative to cwd when it has a '/', or in the colon-separated path. Returns
 * -ENOENT when nothing matches, -EACCES when a match is not an executable regular file. */
int find_executable(const char *name, const char *path, const char *cwd, char **ret);
/* A string safe for logs: control characters escaped, at most max bytes of input. Never NULL. */
char *str_escape(const char *s, size_t max);
/* n bytes of p (no NUL among them, or the string ends early) as a NUL-terminated copy; NULL on ENOMEM. Not
 * strndup(): p need not be NUL-terminated, and strndup may look at the byte after n (ASan says so). */
char *memdup_str(const void *p, size_t n);
