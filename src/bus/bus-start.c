/* SPDX-License-Identifier: MIT */
/* bus-start.c - a StartRequest on the wire: Start's arguments (as argv, as env, s cwd, a{sv} options), the
 * one writer (telerun, the gateway) and the one reader (the daemon). The reader takes untrusted input: every
 * bound is checked as the bytes are read, every key and type. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shared/api.h"
#include "bus/bus-start.h"
#include "shared/job-ref.h"
#include "shared/macro.h"
#include "shared/util.h"

static int bus_append_start_options(sd_bus_message *m, const StartRequest *req) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (JobLimitField f = 0; r >= 0 && f < _JOB_LIMIT_MAX; f++) {
                uint64_t v = job_limits_get(&req->limits, f);

                if (v != 0)
                        r = sd_bus_message_append(m, "{sv}", job_limit_name(f), "t", v);
        }
        if (r >= 0 && req->runtime_max_usec != 0)
                r = sd_bus_message_append(m, "{sv}", START_OPTION_RUNTIME_MAX, "t", req->runtime_max_usec);
        if (r >= 0 && req->profile)
                r = sd_bus_message_append(m, "{sv}", START_OPTION_PROFILE, "s", req->profile);
        if (r >= 0 && req->name)
                r = sd_bus_message_append(m, "{sv}", START_OPTION_NAME, "s", req->name);
        for (StartIsolationField f = 0; r >= 0 && f < _START_ISOLATION_MAX; f++) {
                int v = start_isolation_get(&req->isolation, f);

                if (v >= 0)
                        r = sd_bus_message_append(m, "{sv}", start_isolation_bus_name(f), "b", v > 0);
        }
        if (r >= 0 && req->stdin_kind == START_STDIN_FD)
                r = sd_bus_message_append(m, "{sv}", START_OPTION_STANDARD_INPUT, "h", req->stdin_fd);
        else if (r >= 0 && req->stdin_kind == START_STDIN_STREAM)
                r = sd_bus_message_append(m, "{sv}", START_OPTION_STANDARD_INPUT, "s",
                                          start_stdin_to_string(START_STDIN_STREAM));
        if (r >= 0 && req->tty_rows > 0)
                r = sd_bus_message_append(m, "{sv}", START_OPTION_TERMINAL, "(qq)", req->tty_rows, req->tty_cols);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int bus_append_start_request(sd_bus_message *m, const StartRequest *req) {
        int r;

        r = sd_bus_message_append_strv(m, req->argv);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, req->env);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", req->cwd ? req->cwd : "");
        if (r >= 0)
                r = bus_append_start_options(m, req);
        return r;
}

/* ---- the reader ---------------------------------------------------------------------------------------- */

static int bus_option_type_error(sd_bus_error *error, const char *key, const char *want, const char *got) {
        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Option %s must be of type '%s', got '%s'.", key, want,
                                 got);
}

/* Every Start option, in the order of the "Known:" list of the error; its bit in bus_read_start_options()'s
 * "seen" set is its index. */
static const char *start_option_name(unsigned i) {
        if (i < _JOB_LIMIT_MAX)
                return job_limit_name(i);
        i -= _JOB_LIMIT_MAX;
        if (i == 0)
                return START_OPTION_RUNTIME_MAX;
        if (i == 1)
                return START_OPTION_PROFILE;
        if (i - 2 < _START_ISOLATION_MAX)
                return start_isolation_bus_name(i - 2);
        i -= 2 + _START_ISOLATION_MAX;
        return i == 0 ? START_OPTION_NAME : i == 1 ? START_OPTION_STANDARD_INPUT : START_OPTION_TERMINAL;
}

#define START_OPTIONS_N (_JOB_LIMIT_MAX + 2 + _START_ISOLATION_MAX + 3)

static int start_option_index(const char *key) {
        for (unsigned i = 0; i < START_OPTIONS_N; i++)
                if (streq(start_option_name(i), key))
                        return (int) i;
        return -1;
}

/* StandardInput: an fd ("h", borrowed from msg; what kind of fd is the engine's to check) or "null"/"stream". */
static int bus_read_standard_input(sd_bus_message *msg, const char *contents, StartRequest *req,
                                   sd_bus_error *error) {
        const char *name;
        int r;

        if (streq(contents, "h")) {
                r = sd_bus_message_read(msg, "v", "h", &req->stdin_fd);
                if (r < 0)
                        return r;
                req->stdin_kind = START_STDIN_FD;
                return 0;
        }
        if (!streq(contents, "s"))
                return bus_option_type_error(error, START_OPTION_STANDARD_INPUT, "h' or 's", contents);
        r = sd_bus_message_read(msg, "v", "s", &name);
        if (r < 0)
                return r;
        req->stdin_kind = start_stdin_from_string(name);
        if (req->stdin_kind == START_STDIN_FD || req->stdin_kind == _START_STDIN_MAX) {
                _cleanup_(freep) char *esc = str_escape(name, 64);

                req->stdin_kind = START_STDIN_NULL;
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "StandardInput '%s' is not known: pass an fd ('h'), or 'null' or 'stream' "
                                         "('s').", esc ? esc : "?");
        }
        return 0;
}

/* Terminal: "(qq)" rows and columns, each 1..START_TTY_SIZE_MAX. */
static int bus_read_terminal(sd_bus_message *msg, const char *contents, StartRequest *req, sd_bus_error *error) {
        uint16_t rows, cols;
        int r;

        if (!streq(contents, "(qq)"))
                return bus_option_type_error(error, START_OPTION_TERMINAL, "(qq)", contents);
        r = sd_bus_message_read(msg, "v", "(qq)", &rows, &cols);
        if (r < 0)
                return r;
        if (rows == 0 || cols == 0 || rows > START_TTY_SIZE_MAX || cols > START_TTY_SIZE_MAX)
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Terminal size %ux%u is out of range (1 to %u rows and columns).", rows, cols,
                                         START_TTY_SIZE_MAX);
        req->tty_rows = rows;
        req->tty_cols = cols;
        return 0;
}

/* Reads the value of one known option (the caller checked the key is known and new). */
static int bus_read_start_option(sd_bus_message *msg, const char *key, StartRequest *req, sd_bus_error *error) {
        JobLimitField f = job_limit_from_name(key);
        int *iso = start_isolation_field(&req->isolation, start_isolation_from_bus_name(key));
        const char *contents;
        int r;

        r = sd_bus_message_peek_type(msg, NULL, &contents);
        if (r < 0)
                return r;
        if (streq(key, START_OPTION_STANDARD_INPUT))
                return bus_read_standard_input(msg, contents, req, error);
        if (streq(key, START_OPTION_TERMINAL))
                return bus_read_terminal(msg, contents, req, error);
        if (f != _JOB_LIMIT_MAX || streq(key, START_OPTION_RUNTIME_MAX)) {
                uint64_t v;
                if (!streq(contents, "t"))
                        return bus_option_type_error(error, key, "t", contents);
                r = sd_bus_message_read(msg, "v", "t", &v);
                if (r < 0)
                        return r;
                if (v == 0)
                        return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED, "%s must be positive.", key);
                if (f != _JOB_LIMIT_MAX)
                        *job_limits_field(&req->limits, f) = v;
                else if (v > JOB_RUNTIME_USEC_MAX && v != JOB_RUNTIME_USEC_INFINITY)
                        return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                                 "RuntimeMaxUSec %" PRIu64 " is beyond 100 years; %" PRIu64
                                                 " (UINT64_MAX) means no limit.", v, UINT64_MAX);
                else
                        req->runtime_max_usec = v;
        } else if (iso) {
                int b;
                if (!streq(contents, "b"))
                        return bus_option_type_error(error, key, "b", contents);
                r = sd_bus_message_read(msg, "v", "b", &b);
                if (r < 0)
                        return r;
                *iso = !!b;
        } else {
                const char *name;
                if (!streq(contents, "s"))
                        return bus_option_type_error(error, key, "s", contents);
                r = sd_bus_message_read(msg, "v", "s", &name);
                if (r < 0)
                        return r;
                /* borrowed from msg, which outlives the request */
                if (!streq(key, START_OPTION_NAME))
                        req->profile = name;
                else if (!job_name_is_valid(name))
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                                 "Name must be 1 to %d letters, digits, '_', '.' or '-', start with a "
                                                 "letter or digit, and not look like a job id.", JOB_NAME_MAX);
                else
                        req->name = name;
        }
        return 0;
}

int bus_read_option_dict(sd_bus_message *msg, const char *known, BusOptionFind find, BusOptionRead read,
                         void *userdata, sd_bus_error *error) {
        uint64_t seen = 0;
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const char *key;
                int i;

                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                i = find(key);
                if (i < 0) {
                        _cleanup_(freep) char *esc = str_escape(key, 64);
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Unknown option '%s'. Known: %s.",
                                                 esc ? esc : "?", known);
                }
                assert(i < 64);
                if (seen & (UINT64_C(1) << i))
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Option %s is given more than once.",
                                                 key);
                seen |= UINT64_C(1) << i;
                r = read(msg, key, i, userdata, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

static int start_option_read(sd_bus_message *msg, const char *key, int index, void *userdata, sd_bus_error *error) {
        return bus_read_start_option(msg, key, userdata, error);
}

/* Start options (docs/dbus.md): limits, profile, run-time limit, isolation, name, stdin, terminal. */
int bus_read_start_options(sd_bus_message *msg, StartRequest *req, sd_bus_error *error) {
        return bus_read_option_dict(msg, "CPUQuotaPerSecUSec, MemoryMax, IOReadBandwidthMax, IOWriteBandwidthMax, "
                                    "TasksMax, RuntimeMaxUSec, Profile, PrivatePID, PrivateTmp, PrivateNetwork, "
                                    "ProtectSystem, Name, StandardInput, Terminal",
                                    start_option_index, start_option_read, req, error);
}

/* Reads an "as" one string at a time and refuses it as soon as it passes a bound: more than max_n
 * strings, one of JOB_ARG_BYTES_MAX bytes or more, or *total (shared between argv and env) past
 * JOB_REQUEST_BYTES_MAX. The caller is never made to wait for the rest of a huge array (sd-bus's own
 * sd_bus_message_read_strv() grows its result one string at a time: quadratic). The strings are borrowed
 * from m; the array is the caller's to free(). */
int bus_read_strv_bounded(sd_bus_message *m, const char *what, size_t max_n, size_t *total, char ***ret,
                          sd_bus_error *error) {
        _cleanup_(freep) char **l = NULL;
        size_t n = 0, allocated = 0;
        const char *s;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) {
                size_t len = strnlen(s, JOB_ARG_BYTES_MAX);

                if (n >= max_n)
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Too many %s (at most %zu).", what,
                                                 max_n);
                if (len >= JOB_ARG_BYTES_MAX)
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                                 "Entry %zu of the %s is too long (at most %u bytes with its NUL, "
                                                 "the kernel's MAX_ARG_STRLEN).", n, what, JOB_ARG_BYTES_MAX);
                *total += len + 1;
                if (*total > JOB_REQUEST_BYTES_MAX)
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                                 "Command line and environment are too large (more than %u bytes).",
                                                 JOB_REQUEST_BYTES_MAX);
                if (n + 1 >= allocated) {
                        size_t want = MAX(allocated * 2, (size_t) 16);
                        char **grown = reallocarray(l, want, sizeof(char *));

                        if (!grown)
                                return -ENOMEM;
                        l = grown;
                        allocated = want;
                }
                l[n++] = (char *) s;
                l[n] = NULL;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (!l) {
                l = new0(char *, 1);
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

void bus_start_request_done(StartRequest *r) {
        r->argv = mfree(r->argv);
        r->env = mfree(r->env);
}

int bus_read_start_request(sd_bus_message *msg, StartRequest *req, sd_bus_error *error) {
        size_t total = 0;
        int r;

        r = bus_read_strv_bounded(msg, "arguments", JOB_ARGV_MAX, &total, &req->argv, error);
        if (r < 0)
                return r;
        r = bus_read_strv_bounded(msg, "environment entries", JOB_ENV_MAX, &total, &req->env, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &req->cwd);
        if (r < 0)
                return r;
        return bus_read_start_options(msg, req, error);
}

int bus_append_list_filter(sd_bus_message *m, const JobListFilter *f) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (f->states) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "States");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "s");
                for (JobState s = 0; r >= 0 && s < _JOB_STATE_MAX; s++)
                        if (f->states & (1U << s))
                                r = sd_bus_message_append(m, "s", job_state_to_string(s));
                for (int i = 0; r >= 0 && i < 3; i++)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        if (f->since_usec > 0) {
                r = sd_bus_message_append(m, "{sv}", "Since", "t", f->since_usec);
                if (r < 0)
                        return r;
        }
        if (f->owner) {
                r = sd_bus_message_append(m, "{sv}", "Owner", "s", f->owner);
                if (r < 0)
                        return r;
        }
        if (f->last > 0) {
                r = sd_bus_message_append(m, "{sv}", "Last", "u", f->last);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}
