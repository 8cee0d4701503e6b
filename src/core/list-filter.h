/* SPDX-License-Identifier: MIT */
/* list-filter.h - which jobs a listing returns (docs/dbus.md, "ListFiltered"): states, submitted since,
 * owner, the newest N. The daemon applies it while it pages, so a remote `telerun list` stays small; telerun
 * and the gateway parse the same state lists. Pure; every parser is bounded and strict. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/job.h"

#define JOB_LIST_FILTER_STATES_MAX 64 /* bytes of a "running,failed" list, its NUL included */

typedef struct JobListFilter {
        unsigned states;     /* 1 << JobState for each state wanted; 0 = every state */
        uint64_t since_usec; /* CLOCK_REALTIME: submitted at or after; 0 = any time */
        const char *owner;   /* one owner; NULL = every owner the caller may see (borrowed) */
        uint32_t last;       /* only the newest this many of the matching jobs; 0 = all of them */
} JobListFilter;

#define JOB_STATES_ACTIVE ((1U << JOB_SUBMITTED) | (1U << JOB_RUNNING))

/* "running,failed" (state names, comma-separated, no spaces, each once at most) -> a mask; -EINVAL for
 * anything else (empty, unknown name, repeated, too long). */
int job_list_filter_parse_states(const char *csv, unsigned *ret);
/* The inverse, into buf (JOB_LIST_FILTER_STATES_MAX bytes); "" for 0. */
const char *job_list_filter_format_states(unsigned states, char *buf, size_t n);
/* Whether a job passes f (last is the caller's: it needs the whole list). */
bool job_list_filter_match(const JobListFilter *f, JobState state, uint64_t submitted_at, const char *owner);
