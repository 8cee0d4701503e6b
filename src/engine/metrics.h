/* SPDX-License-Identifier: MIT */
/* metrics.h - teleworkerd's counters and their Prometheus text exposition (format 0.0.4): counting is plain
 * arithmetic on a Metrics the manager holds, formatting takes a snapshot of plain values and knows no Job or
 * Manager. The text stays bounded whatever the job table holds: at most METRICS_PRINCIPALS_MAX principals get
 * their own series, the rest are summed under principal="other". */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/job.h"

/* Upper bounds of the start-latency histogram, in µs (request to running); +Inf is implied. */
#define METRICS_LATENCY_BUCKETS 12
/* Principals with a series of their own in teleworker_jobs; the busiest first. */
#define METRICS_PRINCIPALS_MAX 64
/* The exposition's size is at most this (GetMetrics' reply stays far below the bus's message limit). */
#define METRICS_TEXT_MAX (256U * 1024U)

typedef struct Metrics {
        uint64_t jobs_started;       /* reached running */
        uint64_t jobs_start_failed;  /* ended without running: refused after the fact, or no scope */
        uint64_t jobs_failed;        /* ended failed, for whatever reason (exit status, start failure) */
        uint64_t jobs_oom_killed;
        uint64_t jobs_timed_out;
        uint64_t jobs_stopped;
        uint64_t latency_buckets[METRICS_LATENCY_BUCKETS]; /* non-cumulative counts, one per bound */
        uint64_t latency_count;
        uint64_t latency_sum_usec;
} Metrics;

/* Gauges read when scraped. */
typedef struct MetricsGauges {
        uint64_t output_kept_bytes;    /* output held in the spool, every kept job */
        uint64_t output_dropped_bytes; /* output discarded past the caps, every kept job */
        uint64_t spool_bytes;          /* the spool files' size on disk */
        uint64_t readers;              /* open output readers */
        uint64_t open_fds;
        uint64_t max_fds;              /* RLIMIT_NOFILE's soft limit */
} MetricsGauges;

/* One kept job as the scrape sees it. */
typedef struct MetricsJob {
        const char *principal;
        JobState state;
} MetricsJob;

extern const uint64_t metrics_latency_bounds_usec[METRICS_LATENCY_BUCKETS];

void metrics_count_started(Metrics *m, uint64_t latency_usec);
/* A job's end; ran: it had reached running. */
void metrics_count_ended(Metrics *m, JobState state, JobReason reason, int ran);

/* Formats everything; jobs is reordered (sorted by principal). -ENOMEM, or -E2BIG past METRICS_TEXT_MAX
 * (cannot happen with the bounds above; a guard for later additions). */
int metrics_format(const Metrics *m, const MetricsGauges *g, MetricsJob *jobs, size_t n_jobs, char **ret);
