/* SPDX-License-Identifier: MIT */
/* test-config - the policy file: defaults, sizes, strict keys, clear errors. */
#include <glib.h>
#include <string.h>

#include "config.h"

static void load(const char *text, int expect, const char *error_part) {
        Config c;
        char err[CONFIG_ERROR_MAX] = "";

        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpint(config_load_string(&c, text, err), ==, expect);
        if (error_part) {
                g_test_message("error: %s", err);
                g_assert_nonnull(strstr(err, error_part));
        }
        config_done(&c);
}

static void test_defaults(void) {
        Config c;

        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpuint(c.default_limits.cpu_quota_per_sec_usec, ==, 1000000);
        g_assert_cmpuint(c.default_limits.memory_max, ==, 512ULL << 20);
        g_assert_cmpuint(c.default_limits.io_read_bandwidth_max, ==, 10ULL << 20);
        g_assert_cmpuint(c.default_limits.tasks_max, ==, 512);
        g_assert_cmpuint(c.stop_grace_usec, ==, 10000000);
        g_assert_cmpuint(c.output_max_bytes, ==, 1ULL << 30);
        g_assert_cmpstr(c.admin_group, ==, "teleworker-admin");
        g_assert_cmpstr(config_remote_account(&c, "anyone"), ==, "teleworker-job");
        config_done(&c);
}

static void test_full(void) {
        Config c;
        char err[CONFIG_ERROR_MAX];
        const char *text = "{\"admin_group\": \"wheel\", \"stop_grace_sec\": 2.5, \"retention_sec\": 3600, \"output_max_bytes\": \"64M\","
                           " \"remote_accounts\": {\"alice\": \"alice-remote\"},"
                           " \"default_limits\": {\"MemoryMax\": \"256M\", \"CPUQuotaPerSecUSec\": \"50%\"},"
                           " \"max_limits\": {\"TasksMax\": 4096}}";

        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpint(config_load_string(&c, text, err), ==, 0);
        g_assert_cmpstr(c.admin_group, ==, "wheel");
        g_assert_cmpuint(c.stop_grace_usec, ==, 2500000);
        g_assert_cmpuint(c.retention_usec, ==, 3600000000ULL);
        g_assert_cmpuint(c.output_max_bytes, ==, 64ULL << 20);
        g_assert_cmpuint(c.default_limits.memory_max, ==, 256ULL << 20);
        g_assert_cmpuint(c.default_limits.cpu_quota_per_sec_usec, ==, 500000);
        g_assert_cmpuint(c.max_limits.tasks_max, ==, 4096);
        g_assert_cmpstr(config_remote_account(&c, "alice"), ==, "alice-remote");
        g_assert_cmpstr(config_remote_account(&c, "bob"), ==, "teleworker-job");
        config_done(&c);
}

/* One convention for sizes (powers of 1024): what telerun sends for "100M" is within the built-in maximum, and
 * "infinity" lifts a ceiling (admin_max_limits: for administrators only). */
static void test_units_and_infinity(void) {
        Config c;
        JobLimits l = {}, max;
        JobLimitField f;
        uint64_t v;
        char err[CONFIG_ERROR_MAX];

        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpint(job_limit_parse(JOB_LIMIT_IO_WRITE, "100M", &v), ==, 0);
        g_assert_cmpuint(v, ==, 104857600);
        g_assert_cmpuint(c.max_limits.io_write_bandwidth_max, ==, 104857600);
        g_assert_cmpuint(c.max_limits.io_read_bandwidth_max, ==, 104857600);
        l.io_write_bandwidth_max = v;
        config_max_limits(&c, false, &max);
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, 0);
        l.io_write_bandwidth_max = v + 1;
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, -E2BIG);
        g_assert_cmpint(f, ==, JOB_LIMIT_IO_WRITE);
        config_done(&c);

        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpint(config_load_string(&c, "{\"admin_max_limits\": {\"MemoryMax\": \"infinity\", \"TasksMax\": 2048}}",
                                           err), ==, 0);
        l = (JobLimits) { .memory_max = JOB_LIMIT_INFINITY };
        config_max_limits(&c, false, &max);
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, -E2BIG);
        g_assert_cmpint(f, ==, JOB_LIMIT_MEMORY);
        config_max_limits(&c, true, &max);
        g_assert_cmpuint(max.memory_max, ==, JOB_LIMIT_INFINITY);
        g_assert_cmpuint(max.tasks_max, ==, 2048);
        g_assert_cmpuint(max.io_read_bandwidth_max, ==, c.max_limits.io_read_bandwidth_max);
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, 0);
        config_done(&c);

        /* "infinity" in max_limits: no ceiling for anyone */
        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpint(config_load_string(&c, "{\"max_limits\": {\"IOReadBandwidthMax\": \"infinity\"},"
                                           " \"default_limits\": {\"IOReadBandwidthMax\": \"infinity\"}}", err), ==, 0);
        g_assert_cmpuint(c.default_limits.io_read_bandwidth_max, ==, JOB_LIMIT_INFINITY);
        l = (JobLimits) { .io_read_bandwidth_max = JOB_LIMIT_INFINITY };
        config_max_limits(&c, false, &max);
        g_assert_cmpint(job_limits_check(&l, &max, &f), ==, 0);
        config_done(&c);

        load("{\"default_limits\": {\"MemoryMax\": \"infinity\"}}", -EINVAL, "MemoryMax");
        load("{\"admin_max_limits\": {\"MemoryMax\": \"infinite\"}}", -EINVAL, "\"infinity\"");
        load("{\"admin_max_limits\": {\"MemoryMax\": 0}}", -EINVAL, "MemoryMax");
}

static void test_errors(void) {
        load("", -EINVAL, "unexpected end");
        load("{", -EINVAL, "line 1");
        load("{\n\"a\": 1,\n}", -EINVAL, "line");
        load("[]", -EINVAL, "top level");
        load("{} {}", -EINVAL, "line 1");
        load("{\"admin_grup\": \"x\"}", -EINVAL, "unknown key \"admin_grup\"");
        load("{\"admin_group\": 3}", -EINVAL, "non-empty string");
        load("{\"admin_group\": \"\"}", -EINVAL, "non-empty string");
        load("{\"stop_grace_sec\": -1}", -EINVAL, "stop_grace_sec");
        load("{\"stop_grace_sec\": \"10\"}", -EINVAL, "seconds");
        load("{\"default_limits\": {\"MemoryMax\": \"lots\"}}", -EINVAL, "MemoryMax");
        load("{\"default_limits\": {\"MemoryMax\": 0}}", -EINVAL, "positive");
        load("{\"default_limits\": {\"Memory\": 1}}", -EINVAL, "unknown limit");
        load("{\"default_limits\": []}", -EINVAL, "object");
        load("{\"default_limits\": {\"MemoryMax\": \"2G\"}}", -EINVAL, "MemoryMax");
        load("{\"remote_accounts\": {\"bad name\": \"x\"}}", -EINVAL, "invalid principal");
        load("{\"remote_accounts\": {\"ok\": 1}}", -EINVAL, "account name");
        load("{\"max_jobs\": 0}", -EINVAL, "max_jobs");
        load("{\"output_max_bytes\": true}", -EINVAL, "output_max_bytes");
}

static void test_missing_file(void) {
        Config c;
        char err[CONFIG_ERROR_MAX];

        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpint(config_load(&c, "/nonexistent/teleworker.json", err), ==, -ENOENT);
        g_assert_cmpuint(c.default_limits.tasks_max, ==, 512);
        config_done(&c);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/config/defaults", test_defaults);
        g_test_add_func("/config/full", test_full);
        g_test_add_func("/config/errors", test_errors);
        g_test_add_func("/config/units-and-infinity", test_units_and_infinity);
        g_test_add_func("/config/missing-file", test_missing_file);
        return g_test_run();
}
