/* SPDX-License-Identifier: MIT */
/* test-job - state and reason tables, limits, and how an exit is classified. */
#include <glib.h>
#include <signal.h>
#include <sys/wait.h>

#include "core/job.h"

static void test_tables(void) {
        for (JobState s = 0; s < _JOB_STATE_MAX; s++)
                g_assert_cmpint(job_state_from_string(job_state_to_string(s)), ==, s);
        for (JobReason r = 0; r < _JOB_REASON_MAX; r++)
                g_assert_cmpint(job_reason_from_string(job_reason_to_string(r)), ==, r);
        g_assert_cmpint(job_state_from_string("bogus"), ==, _JOB_STATE_INVALID);
        g_assert_cmpint(job_state_from_string(NULL), ==, _JOB_STATE_INVALID);
        g_assert_null(job_state_to_string(_JOB_STATE_MAX));
        g_assert_cmpstr(job_reason_to_string(JOB_REASON_OOM_KILL), ==, "oom-kill");
        g_assert_cmpstr(job_reason_to_string(JOB_REASON_NONE), ==, "");
        g_assert_true(job_state_is_final(JOB_KILLED));
        g_assert_false(job_state_is_final(JOB_RUNNING));
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++)
                g_assert_cmpint(job_limit_from_name(job_limit_name(f)), ==, f);
        g_assert_cmpint(job_limit_from_name("MemoryHigh"), ==, _JOB_LIMIT_MAX);
}

static void test_limits(void) {
        JobLimits def = { 1000000, 512 << 20, 10000000, 10000000, 512 };
        JobLimits max = { 2000000, 1024 << 20, 0, 0, 1024 };
        JobLimits l = { .memory_max = 256 << 20 };
        JobLimitField f;

        job_limits_apply_defaults(&l, &def);
        g_assert_cmpuint(l.memory_max, ==, 256 << 20);
        g_assert_cmpuint(l.cpu_quota_per_sec_usec, ==, 1000000);
        g_assert_cmpuint(l.tasks_max, ==, 512);
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, 0);

        l.tasks_max = 1025;
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, -E2BIG);
        g_assert_cmpint(f, ==, JOB_LIMIT_TASKS);
        l.tasks_max = 1;
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, -ERANGE);
        g_assert_cmpint(f, ==, JOB_LIMIT_TASKS);
        l.tasks_max = 2;
        l.io_read_bandwidth_max = UINT64_C(1) << 40; /* 0 in max = no maximum */
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, 0);
        l.memory_max = 4096;
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, -ERANGE);
        g_assert_cmpint(f, ==, JOB_LIMIT_MEMORY);
}

static void test_classify(void) {
        JobEnd e;

        e = job_end_classify(CLD_EXITED, 0, 0);
        g_assert_cmpint(e.state, ==, JOB_SUCCESS);
        g_assert_cmpint(e.reason, ==, JOB_REASON_EXITED);
        g_assert_cmpint(e.exit_code, ==, 0);
        g_assert_cmpint(e.exit_signal, ==, 0);

        e = job_end_classify(CLD_EXITED, 3, 0);
        g_assert_cmpint(e.state, ==, JOB_FAILED);
        g_assert_cmpint(e.exit_code, ==, 3);

        e = job_end_classify(CLD_KILLED, SIGSEGV, 0);
        g_assert_cmpint(e.state, ==, JOB_FAILED);
        g_assert_cmpint(e.reason, ==, JOB_REASON_SIGNAL);
        g_assert_cmpint(e.exit_code, ==, -1);
        g_assert_cmpint(e.exit_signal, ==, SIGSEGV);

        e = job_end_classify(CLD_DUMPED, SIGABRT, 0);
        g_assert_cmpint(e.reason, ==, JOB_REASON_SIGNAL);

        e = job_end_classify(CLD_KILLED, SIGKILL, JOB_END_CAUSE_OOM);
        g_assert_cmpint(e.state, ==, JOB_FAILED);
        g_assert_cmpint(e.reason, ==, JOB_REASON_OOM_KILL);

        /* a child was OOM-killed and the job failed because of it */
        e = job_end_classify(CLD_EXITED, 137, JOB_END_CAUSE_OOM);
        g_assert_cmpint(e.reason, ==, JOB_REASON_OOM_KILL);
        g_assert_cmpint(e.exit_code, ==, 137);

        e = job_end_classify(CLD_KILLED, SIGTERM, JOB_END_CAUSE_STOP);
        g_assert_cmpint(e.state, ==, JOB_KILLED);
        g_assert_cmpint(e.reason, ==, JOB_REASON_STOPPED);

        /* handled SIGTERM and exited: still stopped by us */
        e = job_end_classify(CLD_EXITED, 0, JOB_END_CAUSE_STOP);
        g_assert_cmpint(e.state, ==, JOB_KILLED);
        g_assert_cmpint(e.exit_code, ==, 0);

        e = job_end_classify(CLD_KILLED, SIGKILL, JOB_END_CAUSE_TIMEOUT | JOB_END_CAUSE_STOP);
        g_assert_cmpint(e.reason, ==, JOB_REASON_TIMEOUT);
}

static void test_limit_parse(void) {
        uint64_t v;

        g_assert_cmpint(job_limit_parse(JOB_LIMIT_MEMORY, "1K", &v), ==, 0);
        g_assert_cmpuint(v, ==, 1024);
        g_assert_cmpint(job_limit_parse(JOB_LIMIT_IO_READ, "10M", &v), ==, 0);
        g_assert_cmpuint(v, ==, 10ULL << 20);
        g_assert_cmpint(job_limit_parse(JOB_LIMIT_MEMORY, "2G", &v), ==, 0);
        g_assert_cmpuint(v, ==, 2ULL << 30);
        g_assert_cmpint(job_limit_parse(JOB_LIMIT_CPU, "150%", &v), ==, 0);
        g_assert_cmpuint(v, ==, 1500000);
        g_assert_cmpint(job_limit_parse(JOB_LIMIT_TASKS, "4096", &v), ==, 0);
        g_assert_cmpuint(v, ==, 4096);
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++) {
                g_assert_cmpint(job_limit_parse(f, "infinity", &v), ==, 0);
                g_assert_cmpuint(v, ==, JOB_LIMIT_INFINITY);
                g_assert_cmpint(job_limit_parse(f, "0", &v), ==, -ERANGE);
                g_assert_cmpint(job_limit_parse(f, "", &v), <, 0);
                g_assert_cmpint(job_limit_parse(f, "Infinity ", &v), ==, -EINVAL);
                g_assert_cmpint(job_limit_parse(f, NULL, &v), ==, -EINVAL);
        }
        g_assert_cmpint(job_limit_parse(JOB_LIMIT_TASKS, "1M", &v), ==, -EINVAL);
        g_assert_cmpint(job_limit_parse(JOB_LIMIT_MEMORY, "99999999999999T", &v), ==, -ERANGE);
        g_assert_cmpint(job_limit_parse(_JOB_LIMIT_MAX, "1", &v), ==, -EINVAL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/job/tables", test_tables);
        g_test_add_func("/job/limits", test_limits);
        g_test_add_func("/job/limit-parse", test_limit_parse);
        g_test_add_func("/job/classify", test_classify);
        return g_test_run();
}
