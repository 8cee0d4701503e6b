/* SPDX-License-Identifier: MIT */
/* test-metrics - src/engine/metrics.c: counting (the latency histogram's buckets, ends by reason) and the text
 * exposition (names, cumulative buckets, per-principal series folded into "other" past the cap, label
 * escaping, the size bound with a full table). The integration test parses a live scrape with Prometheus'
 * own parser. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "shared/macro.h"
#include "engine/metrics.h"

static size_t count_lines_with(const char *text, const char *needle) {
        size_t n = 0;

        for (const char *p = text; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

static void test_counting(void) {
        Metrics m = {};

        metrics_count_started(&m, 1);                /* <= 5ms */
        metrics_count_started(&m, 5000);             /* <= 5ms, the bound is inclusive */
        metrics_count_started(&m, 300000);           /* <= 0.5s */
        metrics_count_started(&m, 60ULL * 1000000); /* past every bound: +Inf only */
        g_assert_cmpuint(m.jobs_started, ==, 4);
        g_assert_cmpuint(m.latency_count, ==, 4);
        g_assert_cmpuint(m.latency_buckets[0], ==, 2);
        g_assert_cmpuint(m.latency_buckets[6], ==, 1);
        g_assert_cmpuint(m.latency_sum_usec, ==, 1 + 5000 + 300000 + 60ULL * 1000000);

        metrics_count_ended(&m, JOB_FAILED, JOB_REASON_START_FAILED, 0);
        metrics_count_ended(&m, JOB_FAILED, JOB_REASON_EXITED, 1);
        metrics_count_ended(&m, JOB_KILLED, JOB_REASON_OOM_KILL, 1);
        metrics_count_ended(&m, JOB_KILLED, JOB_REASON_TIMEOUT, 1);
        metrics_count_ended(&m, JOB_KILLED, JOB_REASON_STOPPED, 1);
        metrics_count_ended(&m, JOB_SUCCESS, JOB_REASON_EXITED, 1);
        g_assert_cmpuint(m.jobs_start_failed, ==, 1);
        g_assert_cmpuint(m.jobs_failed, ==, 2);
        g_assert_cmpuint(m.jobs_oom_killed, ==, 1);
        g_assert_cmpuint(m.jobs_timed_out, ==, 1);
        g_assert_cmpuint(m.jobs_stopped, ==, 1);
}

static void test_format(void) {
        _cleanup_(freep) char *text = NULL;
        Metrics m = {};
        MetricsGauges g = { .output_kept_bytes = 123, .output_dropped_bytes = 7, .readers = 2, .open_fds = 9 };
        MetricsJob jobs[] = {
                { "bob", JOB_RUNNING }, { "alice", JOB_SUCCESS }, { "bob", JOB_RUNNING }, { "alice", JOB_FAILED },
                { "q\"x\\y\nz", JOB_KILLED },
        };

        metrics_count_started(&m, 20000);
        metrics_count_started(&m, 2000000);
        g_assert_cmpint(metrics_format(&m, &g, jobs, ELEMENTSOF(jobs), &text), ==, 0);
        g_assert_nonnull(strstr(text, "# TYPE teleworker_jobs gauge\n"));
        g_assert_nonnull(strstr(text, "teleworker_jobs{principal=\"bob\",state=\"running\"} 2\n"));
        g_assert_nonnull(strstr(text, "teleworker_jobs{principal=\"alice\",state=\"failed\"} 1\n"));
        g_assert_nonnull(strstr(text, "teleworker_jobs{principal=\"q\\\"x\\\\y\\nz\",state=\"killed\"} 1\n"));
        g_assert_null(strstr(text, "principal=\"other\""));
        g_assert_nonnull(strstr(text, "# TYPE teleworker_jobs_started_total counter\nteleworker_jobs_started_total 2\n"));
        /* Cumulative: 20ms is in every bucket from 0.025s on, 2s from 2.5s on. */
        g_assert_nonnull(strstr(text, "teleworker_start_latency_seconds_bucket{le=\"0.010000\"} 0\n"));
        g_assert_nonnull(strstr(text, "teleworker_start_latency_seconds_bucket{le=\"0.025000\"} 1\n"));
        g_assert_nonnull(strstr(text, "teleworker_start_latency_seconds_bucket{le=\"1.000000\"} 1\n"));
        g_assert_nonnull(strstr(text, "teleworker_start_latency_seconds_bucket{le=\"2.500000\"} 2\n"));
        g_assert_nonnull(strstr(text, "teleworker_start_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
        g_assert_nonnull(strstr(text, "teleworker_start_latency_seconds_sum 2.020000\n"));
        g_assert_nonnull(strstr(text, "teleworker_start_latency_seconds_count 2\n"));
        g_assert_nonnull(strstr(text, "teleworker_output_kept_bytes 123\n"));
        g_assert_nonnull(strstr(text, "teleworker_output_dropped_bytes 7\n"));
        g_assert_nonnull(strstr(text, "teleworker_output_readers 2\n"));
        g_assert_nonnull(strstr(text, "teleworker_open_fds 9\n"));
}

/* 10,000 jobs of 10,000 principals (the table's most): 64 principals of their own, "other" for the rest,
 * the busiest kept, and the text well under the bound. */
static void test_fold(void) {
        _cleanup_(freep) MetricsJob *jobs = g_new0(MetricsJob, 10000);
        _cleanup_(freep) char *text = NULL;
        char (*names)[16] = g_malloc(10000 * 16);
        MetricsGauges g = {};
        Metrics m = {};
        char line[128];

        for (size_t i = 0; i < 10000; i++) {
                snprintf(names[i], 16, "user%zu", i);
                jobs[i] = (MetricsJob) { names[i], JOB_SUCCESS };
        }
        /* user9999 is the busiest: it owns 3 more jobs. */
        for (size_t i = 0; i < 3; i++)
                jobs[i].principal = "user9999";
        g_assert_cmpint(metrics_format(&m, &g, jobs, 10000, &text), ==, 0);
        g_assert_cmpuint(count_lines_with(text, "state=\"success\"}"), ==, METRICS_PRINCIPALS_MAX + 1);
        g_assert_nonnull(strstr(text, "teleworker_jobs{principal=\"user9999\",state=\"success\"} 4\n"));
        snprintf(line, sizeof(line), "teleworker_jobs{principal=\"other\",state=\"success\"} %d\n",
                 10000 - 4 - (METRICS_PRINCIPALS_MAX - 1));
        g_assert_nonnull(strstr(text, line));
        g_assert_cmpuint(strlen(text), <, METRICS_TEXT_MAX / 4);
        g_free(names);
}

/* A principal called "other" is summed into the fold rather than printed twice. */
static void test_other_named(void) {
        _cleanup_(freep) char *text = NULL;
        MetricsJob jobs[] = { { "other", JOB_RUNNING }, { "x", JOB_RUNNING } };
        MetricsGauges g = {};
        Metrics m = {};

        g_assert_cmpint(metrics_format(&m, &g, jobs, ELEMENTSOF(jobs), &text), ==, 0);
        g_assert_cmpuint(count_lines_with(text, "principal=\"other\",state=\"running\""), ==, 1);
        g_assert_nonnull(strstr(text, "teleworker_jobs{principal=\"other\",state=\"running\"} 1\n"));
}

static void test_empty(void) {
        _cleanup_(freep) char *text = NULL;
        MetricsGauges g = {};
        Metrics m = {};

        g_assert_cmpint(metrics_format(&m, &g, NULL, 0, &text), ==, 0);
        g_assert_nonnull(strstr(text, "# TYPE teleworker_jobs gauge\n"));
        g_assert_null(strstr(text, "teleworker_jobs{"));
        g_assert_nonnull(strstr(text, "teleworker_start_latency_seconds_count 0\n"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/metrics/counting", test_counting);
        g_test_add_func("/metrics/format", test_format);
        g_test_add_func("/metrics/fold", test_fold);
        g_test_add_func("/metrics/other-named", test_other_named);
        g_test_add_func("/metrics/empty", test_empty);
        return g_test_run();
}
