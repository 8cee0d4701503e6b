/* SPDX-License-Identifier: MIT */
/* job-ref.h - how callers name jobs and signals (docs/dbus.md, "Job references"; docs/cli.md): a full id or
 * a unique prefix of one, and a signal by name or number. Pure parsers of caller input: bounded, strict, no
 * allocation, shared by the daemon, the gateway and telerun so that every front refuses what the daemon
 * would. */
#pragma once

#include <stdbool.h>

/* The fewest hex digits a prefix must have: short enough to type, long enough to be unique among a few
 * thousand jobs most of the time. */
#define JOB_REF_PREFIX_MIN 4
/* At most this many candidates are named in an AmbiguousJob error (the message stays one short line). */
#define JOB_REF_CANDIDATES_MAX 8

typedef enum JobRefKind {
        JOB_REF_ID,     /* a whole id (job_id_is_valid()) */
        JOB_REF_PREFIX, /* the start of an id: at least JOB_REF_PREFIX_MIN hex digits, '-' where an id has one */
} JobRefKind;

/* The kind of ref, or -EINVAL (NULL, empty, too long, or not shaped like the start of an id). */
int job_ref_classify(const char *ref);
/* Whether id starts with prefix (hex digits compare case-insensitively). */
bool job_id_has_prefix(const char *id, const char *prefix);

/* The longest job name (--name), NUL excluded. */
#define JOB_NAME_MAX 64

/* A job name: 1..JOB_NAME_MAX of [A-Za-z0-9_.-], starting with a letter, and not shaped like an id or a prefix
 * of one (so that "cafe" is never a name and a prefix both). */
bool job_name_is_valid(const char *name);
/* What names a job in a call: job_ref_classify() >= 0 or job_name_is_valid(). */
bool job_ref_is_valid(const char *ref);

/* A signal: "USR1", "SIGUSR1" or "10" (decimal, no sign, no leading zero), among the signals of
 * job_signal_allowed(); -EINVAL for anything else. */
int job_signal_from_string(const char *s, int *ret);
/* The name without "SIG" of an allowed signal, NULL for others. */
const char *job_signal_to_string(int sig);
/* The signals Kill delivers: those a job's PID-namespace init forwards to the job (teleworker-exec), and
 * KILL. Others (STOP, job-control, real-time signals) would reach the init alone, or be dropped. */
bool job_signal_allowed(int sig);
