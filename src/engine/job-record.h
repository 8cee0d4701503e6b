/* SPDX-License-Identifier: MIT */
/* job-record.h - a job's record (<state>/jobs/<id>.json) as a plain struct, to and from JSON.
 *
 * Pure: no manager, no files, no logging. Both directions are driven by one table of fields (name, type,
 * offset, required or not), in the style of systemd's JSON dispatch tables: a field is added in one place.
 * The parser takes untrusted bytes (records are read back at start, and a state directory may have been
 * edited or damaged): bounded by JOB_RECORD_MAX, strict JSON, every field type-checked; -EBADMSG for a
 * malformed record, -EFBIG for an oversized one, -ENOMEM.
 *
 * Ownership: a JobRecord owns its strings and argv; job_record_done() frees them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/job.h"
#include "shared/macro.h"
#include "engine/manager.h"

#define JOB_RECORD_MAX (4U * 1024U * 1024U)

typedef struct JobRecord {
        char id[JOB_ID_STRING_MAX];
        char *unit, *owner, *user, *executable, *cwd;
        char **argv;
        uid_t uid;
        gid_t gid;
        JobLimits limits;
        JobState state;
        JobReason reason;
        int exit_code, exit_signal;
        uint64_t submitted_at, started_at, ended_at;
        pid_t reaper_pid, main_pid;
        bool go_sent;
        unsigned causes;
        uint64_t oom_kills_at_start;
        JobUsage usage;           /* the final usage */
        /* Later additions, optional in a record (older versions' records load with the defaults). */
        uint64_t output_dropped;  /* over every run of the daemon */
        int output_error;         /* negative errno, or 0 */
        char *profile, *slice;    /* may be NULL */
        uint64_t runtime_max_usec;
        JobIsolation isolation;
        char *name;               /* may be NULL */
        int stdin_kind;           /* StartStdin; an unknown kind loads as START_STDIN_NULL */
        unsigned tty_rows, tty_cols; /* 0: no terminal; past START_TTY_SIZE_MAX loads as none */
} JobRecord;

/* The defaults of the optional fields; everything else zero. */
void job_record_init(JobRecord *r);
void job_record_done(JobRecord *r);

/* The record as compact JSON text, NUL-terminated, owned by the caller. */
int job_record_to_json(const JobRecord *r, char **ret);
/* Parses n bytes of text into *ret (initialized here; on failure nothing is left to free). */
int job_record_from_json(const char *text, size_t n, JobRecord *ret);
