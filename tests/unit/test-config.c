/* SPDX-License-Identifier: MIT */
/* test-config - the policy file: defaults, sizes, strict keys, clear errors. */
#include <glib.h>
#include <string.h>

#include "core/config.h"

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
        g_assert_null(config_remote_account(&c, "anyone")); /* its own dynamic user */
        g_assert_cmpuint(c.dynamic_uid_min, ==, 80000);
        g_assert_cmpuint(c.dynamic_uid_max, ==, 89999);
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
        g_assert_null(config_remote_account(&c, "bob"));
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
        /* a key twice: which one counts must not be json-c's detail */
        load("{\"stop_grace_sec\": 5, \"stop_grace_sec\": 50}", -EINVAL, "same key twice");
        load("{\"principals\": {\"alice\": {\"max_jobs\": 1, \"max_jobs\": 99}}}", -EINVAL, "same key twice");
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

/* issue #12: an account that could act for others is refused at load, whichever way it is mapped. */
static void test_accounts(void) {
        load("{\"principals\": {\"alice\": {\"account\": \"teleworker-gw\"}}}", -EINVAL, "gateway_user");
        load("{\"gateway_user\": \"gw2\", \"remote_accounts\": {\"alice\": \"gw2\"}}", -EINVAL, "gateway_user");
        load("{\"remote_accounts\": {\"alice\": \"teleworker-gw\"}}", -EINVAL, "gateway_user");
        load("{\"principals\": {\"alice\": {\"account\": \"root\"}}}", -EINVAL, "root");
        load("{\"principals\": {\"alice\": {\"account\": \"tw-bob\"}}}", -EINVAL, "dynamic users");
        load("{\"principals\": {\"alice\": {\"account\": \"tw_80001\"}}}", -EINVAL, "dynamic users");
        load("{\"principals\": {\"*\": {\"account\": \"nobody\"}}}", -EINVAL, "share");
        load("{\"remote_accounts\": {\"*\": \"nobody\"}}", -EINVAL, "share");
        load("{\"principals\": {\"alice\": {\"account\": \"tbuser1\"}}}", 0, NULL);
        load("{\"remote_user\": \"teleworker-job\"}", -EINVAL, "dynamic user");
        load("{\"principals\": {\"*\": {\"remote_system_account\": true}}}", -EINVAL, "one by one");
}

/* Every number is read whole or refused: no sign, no fraction, no silent clamping of huge values. */
static void test_numbers(void) {
        load("{\"max_jobs\": 99999999999999999999999}", -EINVAL, "max_jobs");
        load("{\"max_jobs\": 9223372036854775807}", -EINVAL, "max_jobs");
        load("{\"max_jobs\": 1.5}", -EINVAL, "max_jobs");
        load("{\"default_limits\": {\"TasksMax\": 99999999999999999999}}", -EINVAL, "TasksMax");
        load("{\"default_limits\": {\"TasksMax\": \"12abc\"}}", -EINVAL, "TasksMax");
        load("{\"default_limits\": {\"TasksMax\": \" 12\"}}", -EINVAL, "TasksMax");
        load("{\"default_limits\": {\"TasksMax\": \"-12\"}}", -EINVAL, "TasksMax");
        load("{\"dynamic_uid_min\": \"90000\"}", -EINVAL, "uid");
        load("{\"dynamic_uid_min\": -1}", -EINVAL, "uid");
        load("{\"dynamic_uid_min\": 4294967295}", -EINVAL, "uid");
        load("{\"dynamic_uid_min\": 90000.5}", -EINVAL, "uid");
        load("{\"dynamic_uid_min\": 100000, \"dynamic_uid_max\": 100010}", 0, NULL);
        load("{\"dynamic_uid_min\": 89999, \"dynamic_uid_max\": 80000}", -EINVAL, "above");
        load("{\"dynamic_uid_min\": 61184, \"dynamic_uid_max\": 65519}", -EINVAL, "reserved");
        load("{\"dynamic_uid_min\": 500, \"dynamic_uid_max\": 2000}", -EINVAL, "reserved");
        load("{\"dynamic_uid_min\": 500000, \"dynamic_uid_max\": 600000}", -EINVAL, "reserved");
        load("{\"dynamic_uid_min\": 2147483600, \"dynamic_uid_max\": 2147483700}", -EINVAL, "reserved");
}

static void test_policy_keys(void) {
        Config c;
        char err[CONFIG_ERROR_MAX];
        PrincipalPolicy p;

        g_assert_cmpint(config_init_defaults(&c), ==, 0);
        g_assert_cmpint(config_load_string(&c, "{\"profiles\": {\"small\": {\"MemoryMax\": \"64M\"}},"
                                               " \"principals\": {\"*\": {\"profile_locked\": true},"
                                               " \"alice\": {\"profile\": \"small\", \"isolation_optional\": true},"
                                               " \"root\": {\"remote_system_account\": true},"
                                               " \"bob\": {\"profile_locked\": false}}}", err), ==, 0);
        config_principal_policy(&c, "alice", &p);
        g_assert_true(p.named && p.profile_locked && p.isolation_optional && !p.remote_system_account);
        g_assert_cmpstr(p.profile->name, ==, "small");
        config_principal_policy(&c, "bob", &p);
        g_assert_true(p.named && !p.profile_locked && !p.isolation_optional);
        config_principal_policy(&c, "carol", &p);
        g_assert_true(!p.named && p.profile_locked && !p.isolation_optional);
        config_principal_policy(&c, "root", &p);
        g_assert_true(p.named && p.remote_system_account);
        config_done(&c);
        load("{\"principals\": {\"a\": {\"profile_locked\": 1}}}", -EINVAL, "true or false");
        load("{\"principals\": {\"a\": {\"isolation_optional\": \"yes\"}}}", -EINVAL, "true or false");
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
        g_test_add_func("/config/caps", test_caps);
        g_test_add_func("/config/accounts", test_accounts);
        g_test_add_func("/config/numbers", test_numbers);
        g_test_add_func("/config/policy-keys", test_policy_keys);
        return g_test_run();
}
