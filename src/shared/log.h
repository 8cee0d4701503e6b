/* SPDX-License-Identifier: MIT */
/* log.h - the one logger of teleworkerd, teleworker-gateway and their libraries: one line per call on
 * stderr. When stderr is the journal (systemd sets JOURNAL_STREAM), each line starts with its syslog
 * priority "<N>", which journald parses (SyslogLevelPrefix=yes is the default); elsewhere (a terminal, a
 * test) with the program's name instead. Core code logs only at debug. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"

int log_get_max_level(void);
void log_set_max_level(int level);

/* Writes one line at level; error > 0 appends ": strerror(error)". Returns -error. Not filtered by the
 * level: the macros below check it first, so that the arguments of a suppressed line are not formatted. */
_printf_(3, 4) int log_internal(int level, int error, const char *fmt, ...);

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
