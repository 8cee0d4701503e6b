/* SPDX-License-Identifier: MIT */
/* metrics.c - counters and their Prometheus text exposition (docs/dbus.md "GetMetrics", docs/http.md
 * "/v1/metrics"). Names follow Prometheus' conventions: a unit suffix (_bytes, _seconds), _total on counters,
 * one family per measured thing with labels for its parts. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "engine/metrics.h"

const uint64_t metrics_latency_bounds_usec[METRICS_LATENCY_BUCKETS] = {
        5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
};

void metrics_count_started(Metrics *m, uint64_t latency_usec) {
        m->jobs_started++;
        m->latency_count++;
        m->latency_sum_usec += latency_usec;
        for (size_t i = 0; i < METRICS_LATENCY_BUCKETS; i++)
                if (latency_usec <= metrics_latency_bounds_usec[i]) {
                        m->latency_buckets[i]++;
                        break;
                }
}

void metrics_count_ended(Metrics *m, JobState state, JobReason reason, int ran) {
        if (!ran)
                m->jobs_start_failed++;
        if (state == JOB_FAILED)
                m->jobs_failed++;
        if (reason == JOB_REASON_OOM_KILL)
                m->jobs_oom_killed++;
        else if (reason == JOB_REASON_TIMEOUT)
                m->jobs_timed_out++;
        else if (reason == JOB_REASON_STOPPED)
                m->jobs_stopped++;
}

/* ---- formatting ---------------------------------------------------------------------------------------- */

static void metrics_head(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_one(FILE *f, const char *name, const char *type, const char *help, uint64_t v) {
        metrics_head(f, name, type, help);
        fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* A label value: backslash, double quote and newline escaped, as the text format asks. Principal names are
 * already a safe set (principal_name_is_valid()); escaping keeps the output well-formed whatever comes. */
static void metrics_label_value(FILE *f, const char *s) {
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        fprintf(f, "\\%c", *s);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
        }
}

static void metrics_seconds(FILE *f, uint64_t usec) {
        fprintf(f, "%" PRIu64 ".%06" PRIu64, usec / 1000000, usec % 1000000);
}

static void metrics_latency(FILE *f, const Metrics *m) {
        uint64_t cumulative = 0;

        metrics_head(f, "teleworker_start_latency_seconds", "histogram",
                     "Time from a Start request to the job running.");
        for (size_t i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
                cumulative += m->latency_buckets[i];
                fputs("teleworker_start_latency_seconds_bucket{le=\"", f);
                metrics_seconds(f, metrics_latency_bounds_usec[i]);
                fprintf(f, "\"} %" PRIu64 "\n", cumulative);
        }
        fprintf(f, "teleworker_start_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", m->latency_count);
        fputs("teleworker_start_latency_seconds_sum ", f);
        metrics_seconds(f, m->latency_sum_usec);
        fprintf(f, "\nteleworker_start_latency_seconds_count %" PRIu64 "\n", m->latency_count);
}

typedef struct PrincipalCount {
        const char *name;
        uint64_t n[_JOB_STATE_MAX];
        uint64_t total;
} PrincipalCount;

static int metrics_job_cmp(const void *a, const void *b) {
        return strcmp(((const MetricsJob *) a)->principal, ((const MetricsJob *) b)->principal);
}

static int principal_count_cmp(const void *a, const void *b) {
        const PrincipalCount *x = a, *y = b;

        if (x->total != y->total)
                return x->total > y->total ? -1 : 1;
        return strcmp(x->name, y->name);
}

static void metrics_jobs_row(FILE *f, const char *principal, const uint64_t n[static _JOB_STATE_MAX]) {
        for (JobState s = 0; s < _JOB_STATE_MAX; s++) {
                fprintf(f, "teleworker_jobs{principal=\"");
                metrics_label_value(f, principal);
                fprintf(f, "\",state=\"%s\"} %" PRIu64 "\n", job_state_to_string(s), n[s]);
        }
}

/* teleworker_jobs{principal,state}: the kept jobs, grouped by principal (sorted, then counted), the busiest
 * METRICS_PRINCIPALS_MAX on their own, the rest summed as "other". */
static int metrics_jobs(FILE *f, MetricsJob *jobs, size_t n_jobs) {
        _cleanup_(freep) PrincipalCount *p = NULL;
        uint64_t other[_JOB_STATE_MAX] = {};
        bool folded = false;
        size_t n = 0;

        metrics_head(f, "teleworker_jobs", "gauge", "Jobs kept by the daemon, by owner and state.");
        if (n_jobs == 0)
                return 0;
        qsort(jobs, n_jobs, sizeof(MetricsJob), metrics_job_cmp);
        p = new0(PrincipalCount, n_jobs);
        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < n_jobs; i++) {
                if (n == 0 || !streq(p[n - 1].name, jobs[i].principal))
                        p[n++].name = jobs[i].principal;
                if ((unsigned) jobs[i].state < _JOB_STATE_MAX)
                        p[n - 1].n[jobs[i].state]++;
                p[n - 1].total++;
        }
        qsort(p, n, sizeof(PrincipalCount), principal_count_cmp);
        for (size_t i = 0; i < n; i++) {
                if (i < METRICS_PRINCIPALS_MAX && !streq(p[i].name, "other")) {
                        metrics_jobs_row(f, p[i].name, p[i].n);
                        continue;
                }
                /* A principal named "other" joins the fold rather than making a second series of that name. */
                for (JobState s = 0; s < _JOB_STATE_MAX; s++)
                        other[s] += p[i].n[s];
                folded = true;
        }
        if (folded)
                metrics_jobs_row(f, "other", other);
        return 0;
}

static void metrics_counters(FILE *f, const Metrics *m) {
        metrics_one(f, "teleworker_jobs_started_total", "counter", "Jobs that reached running.", m->jobs_started);
        metrics_one(f, "teleworker_jobs_start_failures_total", "counter",
                    "Jobs that ended without running (e.g. no such executable).", m->jobs_start_failed);
        metrics_one(f, "teleworker_jobs_failed_total", "counter", "Jobs that ended in state failed.",
                    m->jobs_failed);
        metrics_one(f, "teleworker_jobs_oom_killed_total", "counter", "Jobs the kernel's OOM killer ended.",
                    m->jobs_oom_killed);
        metrics_one(f, "teleworker_jobs_timed_out_total", "counter", "Jobs stopped at their run-time limit.",
                    m->jobs_timed_out);
        metrics_one(f, "teleworker_jobs_stopped_total", "counter", "Jobs ended by a Stop.", m->jobs_stopped);
}

static void metrics_gauges(FILE *f, const MetricsGauges *g) {
        metrics_one(f, "teleworker_output_kept_bytes", "gauge", "Output bytes kept in the spool for kept jobs.",
                    g->output_kept_bytes);
        metrics_one(f, "teleworker_output_dropped_bytes", "gauge",
                    "Output bytes of kept jobs discarded past their output cap.", g->output_dropped_bytes);
        metrics_one(f, "teleworker_spool_bytes", "gauge", "Disk space the spool files take.", g->spool_bytes);
        metrics_one(f, "teleworker_output_readers", "gauge", "Open readers of job output.", g->readers);
        metrics_one(f, "teleworker_open_fds", "gauge", "File descriptors the daemon holds open.", g->open_fds);
        metrics_one(f, "teleworker_max_fds", "gauge", "The daemon's file descriptor limit.", g->max_fds);
}

int metrics_format(const Metrics *m, const MetricsGauges *g, MetricsJob *jobs, size_t n_jobs, char **ret) {
        _cleanup_(freep) char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        r = metrics_jobs(f, jobs, n_jobs);
        metrics_counters(f, m);
        metrics_latency(f, m);
        metrics_gauges(f, g);
        if (fclose(f) != 0 || !buf)
                return -ENOMEM;
        if (r < 0)
                return r;
        if (size > METRICS_TEXT_MAX)
                return -E2BIG;
        *ret = TAKE_PTR(buf);
        return 0;
}
