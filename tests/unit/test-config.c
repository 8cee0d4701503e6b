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
        g_assert_cmpuint(c.default_limits.io_read_bandwidth_max, ==, 10000000);
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

/* Shares of what everyone shares: safe built-in defaults, "*" over them, a principal's own over "*". */
static void test_caps(void) {
        const char *text = "{\"spool_max_bytes\": \"2G\", \"max_readers\": 300,"
                           " \"principals\": {\"*\": {\"max_readers\": 20, \"max_spool_bytes\": \"100M\"},"
                           "                   \"alice\": {\"max_retained_jobs\": 5, \"max_readers\": 7,"
                           "                             \"max_jobs\": 2, \"max_spool_bytes\": 1048576}}}";
        char err[CONFIG_ERROR_MAX];
        PrincipalPolicy p;
        Config c;

        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpuint(c.spool_max_bytes, ==, 16ULL << 30);
        g_assert_cmpuint(c.max_readers, ==, 0);
        config_principal_policy(&c, "anyone", &p);
        g_assert_cmpuint(p.max_jobs, ==, CONFIG_PRINCIPAL_MAX_JOBS);
        g_assert_cmpuint(p.max_retained_jobs, ==, CONFIG_PRINCIPAL_MAX_RETAINED_JOBS);
        g_assert_cmpuint(p.max_readers, ==, CONFIG_PRINCIPAL_MAX_READERS);
        g_assert_cmpuint(p.max_spool_bytes, ==, CONFIG_PRINCIPAL_MAX_SPOOL_BYTES);
        g_assert_cmpuint(p.max_jobs, >, 0);

        g_assert_cmpint(config_load_string(&c, text, err), ==, 0);
        g_assert_cmpuint(c.spool_max_bytes, ==, 2ULL << 30);
        g_assert_cmpuint(c.max_readers, ==, 300);
        config_principal_policy(&c, "bob", &p);
        g_assert_cmpuint(p.max_readers, ==, 20);
        g_assert_cmpuint(p.max_spool_bytes, ==, 100ULL << 20);
        g_assert_cmpuint(p.max_retained_jobs, ==, CONFIG_PRINCIPAL_MAX_RETAINED_JOBS);
        g_assert_cmpuint(p.max_jobs, ==, CONFIG_PRINCIPAL_MAX_JOBS);
        config_principal_policy(&c, "alice", &p);
        g_assert_cmpuint(p.max_readers, ==, 7);
        g_assert_cmpuint(p.max_spool_bytes, ==, 1048576);
        g_assert_cmpuint(p.max_retained_jobs, ==, 5);
        g_assert_cmpuint(p.max_jobs, ==, 2);
        config_done(&c);

        load("{\"spool_max_bytes\": 0}", -EINVAL, "spool_max_bytes");
        load("{\"spool_max_bytes\": \"lots\"}", -EINVAL, "spool_max_bytes");
        load("{\"max_readers\": -1}", -EINVAL, "max_readers");
        load("{\"max_readers\": 1000001}", -EINVAL, "max_readers");
        load("{\"principals\": {\"*\": {\"max_readers\": 0}}}", -EINVAL, "max_readers");
        load("{\"principals\": {\"*\": {\"max_readers\": \"many\"}}}", -EINVAL, "max_readers");
        load("{\"principals\": {\"x\": {\"max_retained_jobs\": 1000001}}}", -EINVAL, "max_retained_jobs");
        load("{\"principals\": {\"x\": {\"max_spool_bytes\": 0}}}", -EINVAL, "max_spool_bytes");
        load("{\"principals\": {\"x\": {\"max_spool_bytes\": true}}}", -EINVAL, "max_spool_bytes");
        load("{\"principals\": {\"x\": {\"max_reader\": 1}}}", -EINVAL, "unknown key");
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
        g_test_add_func("/config/missing-file", test_missing_file);
        g_test_add_func("/config/caps", test_caps);
        return g_test_run();
}
