/* SPDX-License-Identifier: MIT */
/* log.h - log lines for the daemons: stderr with syslog priority prefixes, which journald parses
 * (SyslogLevelPrefix=yes is the default). Core code logs only at debug. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int log_get_max_level(void);
void log_set_max_level(int level);

#define log_full(level, fmt, ...)                                                                    \
        ({                                                                                           \
                if ((level) <= log_get_max_level())                                                  \
                        fprintf(stderr, "<%d>" fmt "\n", (level), ##__VA_ARGS__);                    \
                0;                                                                                   \
        })
/* Logs with strerror(-r) appended and returns r (negative errno), systemd style. */
#define log_full_errno(level, r, fmt, ...)                                                           \
        ({                                                                                           \
                int _e_ = (r) < 0 ? -(r) : (r);                                                      \
                if ((level) <= log_get_max_level())                                                  \
                        fprintf(stderr, "<%d>" fmt ": %s\n", (level), ##__VA_ARGS__, strerror(_e_)); \
                -_e_;                                                                                \
        })

#define log_debug(...) log_full(7, __VA_ARGS__)
#define log_info(...) log_full(6, __VA_ARGS__)
#define log_notice(...) log_full(5, __VA_ARGS__)
#define log_warning(...) log_full(4, __VA_ARGS__)
#define log_error(...) log_full(3, __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(4, r, __VA_ARGS__)
#define log_error_errno(r, ...) log_full_errno(3, r, __VA_ARGS__)
