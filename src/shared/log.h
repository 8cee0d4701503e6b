/* SPDX-License-Identifier: MIT */
/* log.h - the one logger of teleworkerd, teleworker-gateway and their libraries. When stderr is the journal
 * (systemd sets JOURNAL_STREAM to its device and inode), each call is one entry sent in journald's native
 * protocol, with PRIORITY, SYSLOG_IDENTIFIER, ERRNO and any fields the caller adds (log_struct()); should that
 * datagram fail, the line goes to stderr with its syslog priority "<N>" in front, which journald parses.
 * Elsewhere (a terminal, a test) one line on stderr starting with the program's name. Core code logs only at
 * debug. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"

int log_get_max_level(void);
void log_set_max_level(int level);

/* Writes one line at level; error > 0 appends ": strerror(error)". Returns -error. Not filtered by the
 * level: the macros below check it first, so that the arguments of a suppressed line are not formatted. */
_printf_(3, 4) int log_internal(int level, int error, const char *fmt, ...);
/* The same with extra journal fields, "NAME=value" each (NULL-terminated, at most LOG_FIELDS_MAX; values may
 * hold newlines). Off the journal only the message is written. Returns 0. */
_printf_(3, 4) int log_struct_internal(int level, char *const *fields, const char *fmt, ...);

#define LOG_FIELDS_MAX 32U
#define LOG_FIELD_NAME_MAX 64U
#define LOG_ENTRY_MAX (16U * 1024U) /* one datagram; a longer entry goes to stderr as a plain line */
/* A journal field's name before its '=': A-Z, 0-9, '_', not starting with '_' or a digit, at most 64. */
bool log_field_name_is_valid(const char *field);
/* Fields (NULL-terminated "NAME=value") in journald's native protocol into buf: its length, -EINVAL for an
 * invalid name, -ENOBUFS when it does not fit. */
ssize_t log_journal_encode(char *const *fields, char *buf, size_t size);

#define log_struct(level, fields, fmt, ...)                                                          \
        ({                                                                                           \
                int _l_ = (level);                                                                   \
                if (_l_ <= log_get_max_level())                                                      \
                        (void) log_struct_internal(_l_, fields, fmt, ##__VA_ARGS__);                 \
                0;                                                                                   \
        })

#define log_full(level, fmt, ...)                                                                    \
        ({                                                                                           \
                int _l_ = (level);                                                                   \
                if (_l_ <= log_get_max_level())                                                      \
                        (void) log_internal(_l_, 0, fmt, ##__VA_ARGS__);                             \
                0;                                                                                   \
        })
/* Logs with strerror(-r) appended and returns r (negative errno), systemd style. */
#define log_full_errno(level, r, fmt, ...)                                                           \
        ({                                                                                           \
                int _l_ = (level), _e_ = (r) < 0 ? -(r) : (r);                                       \
                if (_l_ <= log_get_max_level())                                                      \
                        (void) log_internal(_l_, _e_, fmt, ##__VA_ARGS__);                           \
                -_e_;                                                                                \
        })

#define log_debug(...) log_full(7, __VA_ARGS__)
#define log_info(...) log_full(6, __VA_ARGS__)
#define log_notice(...) log_full(5, __VA_ARGS__)
#define log_warning(...) log_full(4, __VA_ARGS__)
#define log_error(...) log_full(3, __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(4, r, __VA_ARGS__)
#define log_error_errno(r, ...) log_full_errno(3, r, __VA_ARGS__)
