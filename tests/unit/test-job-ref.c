/* SPDX-License-Identifier: MIT */
/* test-job-ref - job references (a whole id or a unique prefix) and signal names (src/shared/job-ref.c). */
#include <errno.h>
#include <glib.h>
#include <signal.h>

#include "core/list-filter.h"
#include "shared/job-ref.h"

#define ID "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10"

static void test_classify(void) {
        g_assert_cmpint(job_ref_classify(ID), ==, JOB_REF_ID);
        g_assert_cmpint(job_ref_classify("8C1F0E9E-4A36-4F0B-9A51-2A3C8F4B7D10"), ==, JOB_REF_ID);
        g_assert_cmpint(job_ref_classify("8c1f"), ==, JOB_REF_PREFIX);
        g_assert_cmpint(job_ref_classify("8c1f0e9e"), ==, JOB_REF_PREFIX);
        g_assert_cmpint(job_ref_classify("8c1f0e9e-"), ==, JOB_REF_PREFIX);
        g_assert_cmpint(job_ref_classify("8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d1"), ==, JOB_REF_PREFIX);

        /* too short, not hex, dashes misplaced, too long, empty */
        g_assert_cmpint(job_ref_classify("8c1"), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify(""), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify(NULL), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify("8c1g"), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify("8c1f0e9e4a"), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify("-8c1f"), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify("../../etc"), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify(ID "0"), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify("8c1f 0e9"), ==, -EINVAL);
        g_assert_cmpint(job_ref_classify("8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10-8c1f0e9e-4a36"), ==, -EINVAL);
}

static void test_prefix(void) {
        g_assert_true(job_id_has_prefix(ID, "8c1f"));
        g_assert_true(job_id_has_prefix(ID, "8C1F0E9E-4a"));
        g_assert_true(job_id_has_prefix(ID, ID));
        g_assert_false(job_id_has_prefix(ID, "8c1e"));
        g_assert_false(job_id_has_prefix("8c1f", "8c1f0"));
}

static void test_name(void) {
        g_assert_true(job_name_is_valid("build-1"));
        g_assert_true(job_name_is_valid("web.api_2"));
        g_assert_true(job_name_is_valid("x"));
        g_assert_true(job_name_is_valid("abc"));     /* 3 hex digits: too short for a prefix */
        g_assert_true(job_name_is_valid("cafe-latte"));

        g_assert_false(job_name_is_valid("cafe"));   /* a prefix */
        g_assert_false(job_name_is_valid("abcd0000-"));
        g_assert_false(job_name_is_valid("1build"));
        g_assert_false(job_name_is_valid("-x"));
        g_assert_false(job_name_is_valid(".x"));
        g_assert_false(job_name_is_valid("_x"));
        g_assert_false(job_name_is_valid("a/b"));
        g_assert_false(job_name_is_valid("a b"));
        g_assert_false(job_name_is_valid("a\nb"));
        g_assert_false(job_name_is_valid(""));
        g_assert_false(job_name_is_valid(NULL));
        {
                g_autofree char *max = g_strnfill(JOB_NAME_MAX, 'a'), *over = g_strnfill(JOB_NAME_MAX + 1, 'z');

                g_assert_true(job_name_is_valid(max));
                g_assert_false(job_name_is_valid(over));
        }

        g_assert_true(job_ref_is_valid(ID));
        g_assert_true(job_ref_is_valid("8c1f"));
        g_assert_true(job_ref_is_valid("build-1"));
        g_assert_false(job_ref_is_valid("8c1"));
        g_assert_false(job_ref_is_valid("../etc"));
}

static void test_signal(void) {
        int sig = 0;

        g_assert_cmpint(job_signal_from_string("USR1", &sig), ==, 0);
        g_assert_cmpint(sig, ==, SIGUSR1);
        g_assert_cmpint(job_signal_from_string("SIGTERM", &sig), ==, 0);
        g_assert_cmpint(sig, ==, SIGTERM);
        g_assert_cmpint(job_signal_from_string("9", &sig), ==, 0);
        g_assert_cmpint(sig, ==, SIGKILL);
        g_assert_cmpint(job_signal_from_string("1", &sig), ==, 0);
        g_assert_cmpint(sig, ==, SIGHUP);

        /* outside the set, malformed, or written loosely */
        sig = 0;
        g_assert_cmpint(job_signal_from_string("STOP", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("19", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("0", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("09", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("+9", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("-9", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string(" 9", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("999", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("usr1", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("SIG", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("SIGSIGTERM", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("", &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string(NULL, &sig), ==, -EINVAL);
        g_assert_cmpint(job_signal_from_string("SIGTERMSIGTERMSIGTERM", &sig), ==, -EINVAL);
        g_assert_cmpint(sig, ==, 0);

        g_assert_cmpstr(job_signal_to_string(SIGUSR2), ==, "USR2");
        g_assert_null(job_signal_to_string(SIGSTOP));
        g_assert_false(job_signal_allowed(SIGCONT));
        g_assert_false(job_signal_allowed(0));
        g_assert_true(job_signal_allowed(SIGKILL));
}

static void test_list_filter(void) {
        JobListFilter f = { .states = JOB_STATES_ACTIVE, .since_usec = 100, .owner = "alice" };
        char buf[JOB_LIST_FILTER_STATES_MAX];
        unsigned m = 0;

        g_assert_cmpint(job_list_filter_parse_states("running", &m), ==, 0);
        g_assert_cmpuint(m, ==, 1U << JOB_RUNNING);
        g_assert_cmpint(job_list_filter_parse_states("failed,killed,submitted", &m), ==, 0);
        g_assert_cmpuint(m, ==, (1U << JOB_FAILED) | (1U << JOB_KILLED) | (1U << JOB_SUBMITTED));
        g_assert_cmpstr(job_list_filter_format_states(m, buf, sizeof(buf)), ==, "submitted,failed,killed");
        g_assert_cmpstr(job_list_filter_format_states(0, buf, sizeof(buf)), ==, "");

        m = 7;
        g_assert_cmpint(job_list_filter_parse_states("", &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states(NULL, &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states("running,", &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states(",running", &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states("running,,failed", &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states("running,running", &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states("Running", &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states("running, failed", &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states("exited", &m), ==, -EINVAL);
        g_assert_cmpint(job_list_filter_parse_states("submitted,running,success,failed,killed,submitted,running,"
                                                     "success", &m), ==, -EINVAL);
        g_assert_cmpuint(m, ==, 7);

        g_assert_true(job_list_filter_match(NULL, JOB_FAILED, 0, "bob"));
        g_assert_true(job_list_filter_match(&f, JOB_RUNNING, 100, "alice"));
        g_assert_false(job_list_filter_match(&f, JOB_SUCCESS, 100, "alice"));
        g_assert_false(job_list_filter_match(&f, JOB_RUNNING, 99, "alice"));
        g_assert_false(job_list_filter_match(&f, JOB_RUNNING, 100, "bob"));
        f = (JobListFilter) {};
        g_assert_true(job_list_filter_match(&f, JOB_KILLED, 0, "bob"));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/job-ref/classify", test_classify);
        g_test_add_func("/job-ref/prefix", test_prefix);
        g_test_add_func("/job-ref/signal", test_signal);
        g_test_add_func("/job-ref/name", test_name);
        g_test_add_func("/job-ref/list-filter", test_list_filter);
        return g_test_run();
}
