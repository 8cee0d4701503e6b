/* SPDX-License-Identifier: MIT */
/* format.h - telerun's human (and JSON) output from job objects in the bus-json.h format. Pure functions:
 * no transport, no globals, so they are unit-tested (tests/unit/test-telerun-args.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

typedef enum JsonMode {
        JSON_OFF,
        JSON_SHORT,  /* one line per object: what scripts and `jq` want */
        JSON_PRETTY,
} JsonMode;

/* Borrowed members of a job object; NULL/false when absent, null or of another type. */
const char *job_json_string(json_object *o, const char *key);
bool job_json_uint64(json_object *o, const char *key, uint64_t *ret);
bool job_json_int(json_object *o, const char *key, int *ret);

/* POSIX shell quoting: the word unchanged when it is safe, else '...' (or $'...' with control bytes). */
char *shell_quote(const char *s);
/* The job's argv (a JSON array of strings) as one shell command line. */
char *format_command_line(json_object *argv);

/* "2026-11-23T18:30:00.123456Z" (what bus-json emits; fraction optional) -> µs since the epoch. */
int parse_timestamp_rfc3339(const char *s, uint64_t *ret_usec);
/* Local time: "Mon 2026-11-23 18:30:00 CET" (long) or "2026-11-23 18:30:00" (short). */
const char *format_local_time(char *buf, size_t n, uint64_t usec, bool long_form);
/* "345us", "12.3ms", "1.234s", "2min 3.4s", "1h 2min", "3d 4h". */
const char *format_timespan(char *buf, size_t n, uint64_t usec);
/* µs of CPU per second -> "150%". */
const char *format_cpu_quota(char *buf, size_t n, uint64_t usec_per_sec);

/* The exit status telerun passes on for an ended job: its exit code, 128+N when killed by signal N, else
 * 1 (it never ran, e.g. start-failed). */
int job_exit_status(json_object *job);
/* The EXIT column: "0", "SIGKILL", "-" while running. */
const char *format_job_exit(char *buf, size_t n, json_object *job);

/* `telerun status`: a "Label: value" block. now_usec (CLOCK_REALTIME) is for the run time of live jobs. */
void print_job_status(FILE *f, json_object *job, uint64_t now_usec);
/* `telerun list`: a table. width 0 = do not truncate COMMAND (not a terminal). */
void print_job_table(FILE *f, json_object *jobs, size_t width, bool legend);
/* `telerun wait`: "<id>: failed (exit code 3)". */
void print_job_summary(FILE *f, json_object *job);
void print_json(FILE *f, json_object *o, JsonMode mode);

/* For `logs --tail N`: scans buf (the output bytes [buf_offset, buf_offset + n) of an output that is size
 * bytes long) backwards for line starts, carrying *count over successive calls that move towards 0.
 * Returns true with *ret_offset = where the last `lines` lines start once found. A trailing newline at the
 * very end does not open an empty line. lines must be > 0. */
bool tail_scan(const uint8_t *buf, size_t n, uint64_t buf_offset, uint64_t size, uint64_t lines,
               uint64_t *count,
               uint64_t *ret_offset);
