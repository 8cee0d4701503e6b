/* SPDX-License-Identifier: MIT */
/* format.c - telerun's human output: status blocks, the job table, quoting, times and sizes. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "shared/macro.h"
#include "shared/util.h"

const char *job_json_string(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

bool job_json_uint64(json_object *o, const char *key, uint64_t *ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_uint64(v);
        return true;
}

bool job_json_int(json_object *o, const char *key, int *ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_int(v);
        return true;
}

static bool shell_safe_char(unsigned char c) {
        return isalnum(c) || strchr("@%+=:,./-_", c) || c >= 0x80;
}

char *shell_quote(const char *s) {
        bool safe = *s != 0, control = false;
        size_t n = 0;
        char *q, *o;

        for (const unsigned char *p = (const unsigned char *) s; *p; p++, n++) {
                if (!shell_safe_char(*p))
                        safe = false;
                if (*p < 0x20 || *p == 0x7f)
                        control = true;
        }
        if (safe)
                return strdup(s);

        /* Worst case: every byte becomes \xHH, plus $'' and the NUL. */
        q = malloc(n * 4 + 4);
        if (!q)
                return NULL;
        o = q;
        if (!control) {
                *o++ = '\'';
                for (const char *p = s; *p; p++) {
                        if (*p == '\'')
                                o = stpcpy(o, "'\\''");
                        else
                                *o++ = *p;
                }
                *o++ = '\'';
        } else {
                o = stpcpy(o, "$'");
                for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                        switch (*p) {
                        case '\n': o = stpcpy(o, "\\n"); break;
                        case '\t': o = stpcpy(o, "\\t"); break;
                        case '\r': o = stpcpy(o, "\\r"); break;
                        case '\\': o = stpcpy(o, "\\\\"); break;
                        case '\'': o = stpcpy(o, "\\'"); break;
                        default:
                                if (*p < 0x20 || *p == 0x7f)
                                        o += sprintf(o, "\\x%02x", *p);
                                else
                                        *o++ = (char) *p;
                        }
                *o++ = '\'';
        }
        *o = 0;
        return q;
}

char *format_command_line(json_object *argv) {
        size_t n, len = 0, cap = 64;
        char *line;

        line = malloc(cap);
        if (!line)
                return NULL;
        *line = 0;

        n = json_object_is_type(argv, json_type_array) ? json_object_array_length(argv) : 0;
        for (size_t i = 0; i < n; i++) {
                json_object *a = json_object_array_get_idx(argv, i);
                _cleanup_(freep) char *q = NULL;
                size_t k;

                q = shell_quote(json_object_is_type(a, json_type_string) ? json_object_get_string(a) : "");
                if (!q)
                        goto oom;
                k = strlen(q);
                if (len + k + 2 > cap) {
                        char *t;

                        cap = (len + k + 2) * 2;
                        t = realloc(line, cap);
                        if (!t)
                                goto oom;
                        line = t;
                }
                if (i > 0)
                        line[len++] = ' ';
                memcpy(line + len, q, k + 1);
                len += k;
        }
        return line;

oom:
        free(line);
        return NULL;
}

int parse_timestamp_rfc3339(const char *s, uint64_t *ret_usec) {
        struct tm tm = {};
        unsigned long usec = 0;
        const char *p;
        time_t t;

        if (!s)
                return -EINVAL;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                unsigned digits = 0;

                for (p++; isdigit((unsigned char) *p); p++, digits++)
                        if (digits < 6)
                                usec = usec * 10 + (unsigned long) (*p - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 6; digits++)
                        usec *= 10;
        }
        if (!streq(p, "Z"))
                return -EINVAL;

        t = timegm(&tm);
        if (t == (time_t) -1 || t < 0)
                return -ERANGE;
        *ret_usec = (uint64_t) t * USEC_PER_SEC + usec;
        return 0;
}

const char *format_local_time(char *buf, size_t n, uint64_t usec, bool long_form) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&sec, &tm) ||
            strftime(buf, n, long_form ? "%a %Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S", &tm) == 0)
                (void) snprintf(buf, n, "@%" PRIu64, usec);
        return buf;
}

const char *format_timespan(char *buf, size_t n, uint64_t usec) {
        const uint64_t min = 60 * USEC_PER_SEC, hour = 60 * min, day = 24 * hour;

        if (usec >= day)
                (void) snprintf(buf, n, "%" PRIu64 "d %" PRIu64 "h", usec / day, usec % day / hour);
        else if (usec >= hour)
                (void) snprintf(buf, n, "%" PRIu64 "h %" PRIu64 "min", usec / hour, usec % hour / min);
        else if (usec >= min)
                (void) snprintf(buf, n, "%" PRIu64 "min %.1fs", usec / min,
                                (double) (usec % min) / (double) USEC_PER_SEC);
        else if (usec >= USEC_PER_SEC)
                (void) snprintf(buf, n, "%.3fs", (double) usec / (double) USEC_PER_SEC);
        else if (usec >= USEC_PER_MSEC)
                (void) snprintf(buf, n, "%.1fms", (double) usec / (double) USEC_PER_MSEC);
        else
                (void) snprintf(buf, n, "%" PRIu64 "us", usec);
        return buf;
}

const char *format_cpu_quota(char *buf, size_t n, uint64_t usec_per_sec) {
        /* 1000000 µs per second is one CPU = 100%; keep a fraction only where there is one. */
        if (usec_per_sec % (USEC_PER_SEC / 100) == 0)
                (void) snprintf(buf, n, "%" PRIu64 "%%", usec_per_sec / (USEC_PER_SEC / 100));
        else
                (void) snprintf(buf, n, "%.2f%%", (double) usec_per_sec / (double) (USEC_PER_SEC / 100));
        return buf;
}

int job_exit_status(json_object *job) {
        int code, sig;

        if (job_json_int(job, "exit_code", &code) && code >= 0)
                return code & 0xff;
        if (job_json_int(job, "exit_signal", &sig) && sig > 0)
                return 128 + (sig & 0x7f);
        return EXIT_FAILURE;
}

const char *format_job_exit(char *buf, size_t n, json_object *job) {
        const char *name;
        int code, sig;

        if (job_json_int(job, "exit_code", &code))
                (void) snprintf(buf, n, "%d", code);
        else if ((name = job_json_string(job, "signal")))
                (void) snprintf(buf, n, "%s", name);
        else if (job_json_int(job, "exit_signal", &sig))
                (void) snprintf(buf, n, "signal %d", sig);
        else
                (void) snprintf(buf, n, "-");
        return buf;
}

static const char *str_or_dash(const char *s) {
        return s && *s ? s : "-";
}

static void print_field(FILE *f, const char *label, const char *value) {
        fprintf(f, "%10s: %s\n", label, value);
}

static void print_time_field(FILE *f, const char *label, json_object *job, const char *key) {
        const char *s = job_json_string(job, key);
        uint64_t usec;
        char buf[64];

        if (!s)
                print_field(f, label, "-");
        else if (parse_timestamp_rfc3339(s, &usec) < 0)
                print_field(f, label, s);
        else
                print_field(f, label, format_local_time(buf, sizeof(buf), usec, true));
}

static bool job_time(json_object *job, const char *key, uint64_t *ret) {
        return parse_timestamp_rfc3339(job_json_string(job, key), ret) >= 0;
}

/* ", memory 256.0M" style items: a size, "unlimited" for a null limit, "unavailable" for null usage. */
static void fput_size_item(FILE *f, json_object *group, const char *key, const char *none, const char *suffix) {
        uint64_t v;
        char buf[32];

        if (job_json_uint64(group, key, &v))
                fprintf(f, "%s%s", format_size(buf, sizeof(buf), v), suffix);
        else
                fputs(none, f);
}

/* "Isolation: PID, /tmp, network (loopback only)" from the job's "isolation" object; nothing if absent. */
static void print_isolation(FILE *f, json_object *job) {
        static const struct {
                const char *key, *label;
        } items[] = {
                { "private_pid", "own PID namespace" },
                { "private_tmp", "private /tmp" },
                { "private_network", "loopback-only network" },
                { "protect_system", "read-only system" },
        };
        json_object *iso, *v;
        bool any = false;

        if (!json_object_object_get_ex(job, "isolation", &iso) || !json_object_is_type(iso, json_type_object))
                return;
        fprintf(f, "%10s: ", "Isolation");
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                if (json_object_object_get_ex(iso, items[i].key, &v) && json_object_is_type(v, json_type_boolean) &&
                    json_object_get_boolean(v)) {
                        fprintf(f, "%s%s", any ? ", " : "", items[i].label);
                        any = true;
                }
        fputs(any ? "\n" : "none\n", f);
}

void print_job_status(FILE *f, json_object *job, uint64_t now) {
        _cleanup_(freep) char *cmd = NULL;
        json_object *argv = NULL, *limits = NULL, *usage = NULL;
        const char *state, *reason, *signame;
        uint64_t started, ended, v, dropped = 0;
        int code, sig;
        char buf[64];

        (void) json_object_object_get_ex(job, "argv", &argv);
        (void) json_object_object_get_ex(job, "limits", &limits);
        (void) json_object_object_get_ex(job, "usage", &usage);
        state = job_json_string(job, "state");
        reason = job_json_string(job, "reason");

        print_field(f, "Id", str_or_dash(job_json_string(job, "id")));
        print_field(f, "Owner", str_or_dash(job_json_string(job, "owner")));
        print_field(f, "User", str_or_dash(job_json_string(job, "user")));
        cmd = format_command_line(argv);
        print_field(f, "Command", str_or_dash(cmd));
        print_field(f, "Executable", str_or_dash(job_json_string(job, "executable")));
        print_field(f, "State", str_or_dash(state));
        if (reason)
                print_field(f, "Reason", reason);
        if (job_json_int(job, "exit_code", &code)) {
                (void) snprintf(buf, sizeof(buf), "%d", code);
                print_field(f, "Exit code", buf);
        }
        if (job_json_int(job, "exit_signal", &sig)) {
                signame = job_json_string(job, "signal");
                if (signame)
                        (void) snprintf(buf, sizeof(buf), "%s (%d)", signame, sig);
                else
                        (void) snprintf(buf, sizeof(buf), "%d", sig);
                print_field(f, "Signal", buf);
        }

        print_time_field(f, "Submitted", job, "submitted_at");
        print_time_field(f, "Started", job, "started_at");
        print_time_field(f, "Ended", job, "ended_at");
        if (job_time(job, "started_at", &started)) {
                bool running = !job_time(job, "ended_at", &ended);

                if (running)
                        ended = now;
                if (ended >= started) {
                        char span[32];

                        (void) snprintf(buf, sizeof(buf), "%s%s",
                                        format_timespan(span, sizeof(span), ended - started),
                                        running ? " (running)" : "");
                        print_field(f, "Runtime", buf);
                }
        }
        print_field(f, "Unit", str_or_dash(job_json_string(job, "unit")));

        if (job_json_uint64(job, "output_size", &v)) {
                char size[32];

                fprintf(f, "%10s: %" PRIu64 " bytes", "Output", v);
                if (v >= 1024)
                        fprintf(f, " (%s)", format_size(size, sizeof(size), v));
                const char *error = job_json_string(job, "output_error");
                if (job_json_uint64(job, "output_dropped", &dropped) && dropped > 0)
                        fprintf(f, ", %" PRIu64 " bytes dropped %s", dropped, error ? "" : "past the cap");
                if (error)
                        fprintf(f, "%s(capture stopped: %s)", dropped > 0 ? "" : ", ", error);
                fputc('\n', f);
        } else
                print_field(f, "Output", "-");

        fprintf(f, "%10s: CPU ", "Limits");
        if (job_json_uint64(limits, "cpu_quota_per_sec_usec", &v))
                fputs(format_cpu_quota(buf, sizeof(buf), v), f);
        else
                fputs("unlimited", f);
        fputs(", memory ", f);
        fput_size_item(f, limits, "memory_max", "unlimited", "");
        fputs(", IO read ", f);
        fput_size_item(f, limits, "io_read_bandwidth_max", "unlimited", "/s");
        fputs(", IO write ", f);
        fput_size_item(f, limits, "io_write_bandwidth_max", "unlimited", "/s");
        fputs(", tasks ", f);
        if (job_json_uint64(limits, "tasks_max", &v))
                fprintf(f, "%" PRIu64, v);
        else
                fputs("unlimited", f);
        if (job_json_uint64(limits, "runtime_max_usec", &v))
                fprintf(f, ", run time %s", format_timespan(buf, sizeof(buf), v));
        if (job_json_string(job, "profile"))
                fprintf(f, " (profile %s)", job_json_string(job, "profile"));
        fputc('\n', f);
        print_isolation(f, job);

        fprintf(f, "%10s: memory ", "Usage");
        fput_size_item(f, usage, "memory_current", "unavailable", "");
        fputs(" (peak ", f);
        fput_size_item(f, usage, "memory_peak", "unavailable", "");
        fputs("), CPU ", f);
        if (job_json_uint64(usage, "cpu_usage_nsec", &v))
                fputs(format_timespan(buf, sizeof(buf), v / NSEC_PER_USEC), f);
        else
                fputs("unavailable", f);
        fputs(", IO read ", f);
        fput_size_item(f, usage, "io_read_bytes", "unavailable", "");
        fputs(", IO write ", f);
        fput_size_item(f, usage, "io_write_bytes", "unavailable", "");
        fputc('\n', f);
}

void print_job_summary(FILE *f, json_object *job) {
        const char *reason = job_json_string(job, "reason"), *signame = job_json_string(job, "signal");
        int code, sig;

        fprintf(f, "%s: %s", str_or_dash(job_json_string(job, "id")),
                str_or_dash(job_json_string(job, "state")));
        if (job_json_int(job, "exit_code", &code))
                fprintf(f, " (exit code %d)", code);
        else if (job_json_int(job, "exit_signal", &sig)) {
                if (signame)
                        fprintf(f, " (%s, %s)", reason ? reason : "signal", signame);
                else
                        fprintf(f, " (%s, signal %d)", reason ? reason : "signal", sig);
        } else if (reason)
                fprintf(f, " (%s)", reason);
        fputc('\n', f);
}

/* Cuts s to at most max bytes (on a UTF-8 character boundary), ending in "..." when cut. */
static void truncate_utf8(char *s, size_t max) {
        size_t n = strlen(s), k;

        if (n <= max)
                return;
        if (max < 3) {
                s[max] = 0;
                return;
        }
        k = max - 3;
        while (k > 0 && ((unsigned char) s[k] & 0xc0) == 0x80)
                k--;
        strcpy(s + k, "...");
}

typedef struct JobRow {
        const char *id, *owner, *state;
        char exit[32], started[32];
        char *command;
} JobRow;

void print_job_table(FILE *f, json_object *jobs, size_t width, bool legend) {
        size_t n = json_object_is_type(jobs, json_type_array) ? json_object_array_length(jobs) : 0;
        size_t w_id = 2, w_owner = 5, w_state = 5, w_exit = 4, w_started = 7, prefix;
        JobRow *rows;

        rows = new0(JobRow, n ? n : 1);
        if (!rows)
                return;

        for (size_t i = 0; i < n; i++) {
                json_object *job = json_object_array_get_idx(jobs, i), *argv = NULL;
                uint64_t t;

                rows[i].id = str_or_dash(job_json_string(job, "id"));
                rows[i].owner = str_or_dash(job_json_string(job, "owner"));
                rows[i].state = str_or_dash(job_json_string(job, "state"));
                (void) format_job_exit(rows[i].exit, sizeof(rows[i].exit), job);
                if (job_time(job, "started_at", &t))
                        (void) format_local_time(rows[i].started, sizeof(rows[i].started), t, false);
                else
                        strcpy(rows[i].started, "-");
                (void) json_object_object_get_ex(job, "argv", &argv);
                rows[i].command = format_command_line(argv);

                w_id = MAX(w_id, strlen(rows[i].id));
                w_owner = MAX(w_owner, strlen(rows[i].owner));
                w_state = MAX(w_state, strlen(rows[i].state));
                w_exit = MAX(w_exit, strlen(rows[i].exit));
                w_started = MAX(w_started, strlen(rows[i].started));
        }

        prefix = w_id + w_owner + w_state + w_exit + w_started + 5 * 2;
        if (legend)
                fprintf(f, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int) w_id, "ID", (int) w_owner, "OWNER",
                        (int) w_state, "STATE", (int) w_exit, "EXIT", (int) w_started, "STARTED", "COMMAND");
        for (size_t i = 0; i < n; i++) {
                char *cmd = rows[i].command ? rows[i].command : (char *) "-";

                /* On a terminal, keep one job per line; a pipe gets the whole command line. */
                if (width > 0 && rows[i].command)
                        truncate_utf8(cmd, width > prefix + 16 ? width - prefix : 16);
                fprintf(f, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n",
                        (int) w_id, rows[i].id, (int) w_owner, rows[i].owner, (int) w_state, rows[i].state,
                        (int) w_exit, rows[i].exit, (int) w_started, rows[i].started, cmd);
                free(rows[i].command);
        }
        free(rows);
}

void print_json(FILE *f, json_object *o, JsonMode mode) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

        if (mode == JSON_PRETTY)
                flags |= JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
        else
                flags |= JSON_C_TO_STRING_PLAIN;
        fputs(json_object_to_json_string_ext(o, flags), f);
        fputc('\n', f);
}

bool tail_scan(const uint8_t *buf, size_t n, uint64_t buf_offset, uint64_t size, uint64_t lines,
               uint64_t *count,
               uint64_t *ret_offset) {
        for (size_t i = n; i > 0; i--) {
                uint64_t pos = buf_offset + i - 1;

                if (buf[i - 1] != '\n' || pos + 1 == size)
                        continue;
                if (++*count >= lines) {
                        *ret_offset = pos + 1;
                        return true;
                }
        }
        return false;
}
