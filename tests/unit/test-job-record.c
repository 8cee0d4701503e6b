/* SPDX-License-Identifier: MIT */
/* test-job-record - job records to and from JSON (src/engine/job-record.c): a full round trip, a record as
 * earlier versions wrote it, the defaults of optional fields, every required field missing or of the wrong
 * type, bounds. */
#include <glib.h>
#include <json-c/json.h>
#include <string.h>

#include "engine/job-record.h"

#define ID "11111111-2222-4333-8444-555555555555"

/* As persist.c wrote records before the table (same keys and order), with every field set. */
static const char old_record[] =
        "{\"id\":\"" ID "\",\"unit\":\"teleworker-" ID ".scope\",\"owner\":\"tbuser1\",\"user\":\"tbuser1\","
        "\"uid\":4001,\"gid\":4001,\"argv\":[\"\\/bin\\/echo\",\"hi\"],\"executable\":\"\\/bin\\/echo\","
        "\"cwd\":\"\\/home\\/tbuser1\",\"limits\":{\"CPUQuotaPerSecUSec\":1000000,\"MemoryMax\":536870912,"
        "\"IOReadBandwidthMax\":10000000,\"IOWriteBandwidthMax\":10000000,\"TasksMax\":512},"
        "\"state\":\"failed\",\"reason\":\"exited\",\"exit_code\":3,\"exit_signal\":0,\"submitted_at\":100,"
        "\"started_at\":200,\"ended_at\":300,\"reaper_pid\":1234,\"main_pid\":1235,\"go_sent\":true,\"causes\":0,"
        "\"oom_kills_at_start\":7,\"usage\":{\"memory_current\":1,\"memory_peak\":2,\"cpu_usage_nsec\":3,"
        "\"io_read_bytes\":4,\"io_write_bytes\":5},\"output_dropped\":9,\"output_error\":-28,"
        "\"profile\":\"small\",\"slice\":\"teleworker-tbuser1.slice\",\"runtime_max_usec\":2000000,"
        "\"private_pid\":1,\"private_tmp\":0,\"private_network\":-1,\"protect_system\":1,\"name\":\"build-1\"}";

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

static int parse(const char *text, JobRecord *ret) {
        return job_record_from_json(text, strlen(text), ret);
}

static void assert_old_record(const JobRecord *r) {
        g_assert_cmpstr(r->id, ==, ID);
        g_assert_cmpstr(r->unit, ==, "teleworker-" ID ".scope");
        g_assert_cmpstr(r->owner, ==, "tbuser1");
        g_assert_cmpstr(r->cwd, ==, "/home/tbuser1");
        g_assert_cmpstr(r->argv[0], ==, "/bin/echo");
        g_assert_cmpstr(r->argv[1], ==, "hi");
        g_assert_null(r->argv[2]);
        g_assert_cmpuint(r->uid, ==, 4001);
        g_assert_cmpuint(r->limits.memory_max, ==, 536870912);
        g_assert_cmpuint(r->limits.tasks_max, ==, 512);
        g_assert_cmpint(r->state, ==, JOB_FAILED);
        g_assert_cmpint(r->exit_code, ==, 3);
        g_assert_cmpuint(r->ended_at, ==, 300);
        g_assert_cmpint(r->reaper_pid, ==, 1234);
        g_assert_cmpint(r->main_pid, ==, 1235);
        g_assert_true(r->go_sent);
        g_assert_cmpuint(r->oom_kills_at_start, ==, 7);
        g_assert_cmpuint(r->usage.io_write_bytes, ==, 5);
        g_assert_cmpuint(r->output_dropped, ==, 9);
        g_assert_cmpint(r->output_error, ==, -28);
        g_assert_cmpstr(r->profile, ==, "small");
        g_assert_cmpuint(r->runtime_max_usec, ==, 2000000);
        g_assert_cmpint(r->isolation.private_pid, ==, 1);
        g_assert_cmpint(r->isolation.private_tmp, ==, 0);
        g_assert_cmpint(r->isolation.private_network, ==, -1);
        g_assert_cmpstr(r->name, ==, "build-1");
}

static void test_old_record_round_trip(void) {
        g_autofree char *text = NULL, *again = NULL;
        JobRecord r, r2;

        g_assert_cmpint(parse(old_record, &r), ==, 0);
        assert_old_record(&r);
        g_assert_cmpint(job_record_to_json(&r, &text), ==, 0);
        /* The table writes what the hand-written code wrote, byte for byte, then the fields added since (issue
         * 15: the stdin kind and the terminal), at their defaults. */
        {
                g_autofree char *expected = g_strndup(old_record, strlen(old_record) - 1);
                g_autofree char *with_new = g_strconcat(expected, ",\"stdin\":0,\"tty_rows\":0,\"tty_cols\":0}", NULL);

                g_assert_cmpstr(text, ==, with_new);
        }
        g_assert_cmpint(parse(text, &r2), ==, 0);
        assert_old_record(&r2);
        g_assert_cmpint(job_record_to_json(&r2, &again), ==, 0);
        g_assert_cmpstr(again, ==, text);
        job_record_done(&r);
        job_record_done(&r2);
        g_assert_null(r.argv);
}

/* A record with key removed (or replaced by value, JSON text). */
static char *record_edit(const char *key, const char *value) {
        _cleanup_(json_putp) json_object *o = json_tokener_parse(old_record);
        json_object *target = o;
        const char *k = key, *dot = strchr(key, '.');
        g_autofree char *outer = NULL;

        g_assert_nonnull(o);
        if (dot) {
                outer = g_strndup(key, dot - key);
                g_assert_true(json_object_object_get_ex(o, outer, &target));
                k = dot + 1;
        }
        json_object_object_del(target, k);
        if (value)
                json_object_object_add(target, k, json_tokener_parse(value));
        return g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void test_required(void) {
        static const char *const required[] = {
                "id", "unit", "owner", "user", "uid", "gid", "argv", "executable", "cwd", "limits", "state",
                "reason", "exit_code", "exit_signal", "submitted_at", "started_at", "ended_at", "reaper_pid",
                "main_pid", "go_sent", "causes", "oom_kills_at_start", "usage", "usage.memory_peak",
                "limits.TasksMax",
        };
        JobRecord r;

        for (size_t i = 0; i < G_N_ELEMENTS(required); i++) {
                g_autofree char *missing = record_edit(required[i], NULL);
                g_autofree char *wrong = record_edit(required[i], "{\"x\":1}");

                g_test_message("%s", required[i]);
                g_assert_cmpint(parse(missing, &r), ==, -EBADMSG);
                g_assert_cmpint(parse(wrong, &r), ==, -EBADMSG);
        }
}

static void test_values(void) {
        static const struct {
                const char *key, *value;
                int r;
        } cases[] = {
                { "id", "\"not-an-id\"", -EBADMSG },
                { "unit", "null", -EBADMSG },
                { "state", "\"sleeping\"", -EBADMSG },
                { "reason", "\"bogus\"", -EBADMSG },
                { "reaper_pid", "2147483648", -EBADMSG },
                { "argv", "[\"a\", 1]", -EBADMSG },
                { "go_sent", "1", -EBADMSG },
                { "exit_code", "\"3\"", -EBADMSG },
                { "profile", "5", -EBADMSG },   /* optional, but a string or null */
                { "profile", "null", 0 },
                { "runtime_max_usec", "\"x\"", 0 }, /* optional: the default */
                { "output_error", "28", 0 },        /* not an errno: none */
                { "private_pid", "true", 0 },
                { "unknown_later_field", "[1,2]", 0 },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *text = record_edit(cases[i].key, cases[i].value);
                JobRecord r;

                g_test_message("%s = %s", cases[i].key, cases[i].value);
                g_assert_cmpint(parse(text, &r), ==, cases[i].r);
                if (cases[i].r < 0)
                        continue;
                if (g_str_equal(cases[i].key, "profile"))
                        g_assert_null(r.profile);
                if (g_str_equal(cases[i].key, "runtime_max_usec"))
                        g_assert_cmpuint(r.runtime_max_usec, ==, 0);
                if (g_str_equal(cases[i].key, "output_error"))
                        g_assert_cmpint(r.output_error, ==, 0);
                if (g_str_equal(cases[i].key, "private_pid"))
                        g_assert_cmpint(r.isolation.private_pid, ==, -1);
                job_record_done(&r);
        }
}

/* A record of a version before profiles, slices, run-time limits and isolation loads with the defaults. */
static void test_older_version(void) {
        static const char *const later[] = { "output_dropped", "output_error", "profile", "slice",
                                             "runtime_max_usec", "private_pid", "private_tmp", "private_network",
                                             "protect_system" };
        _cleanup_(json_putp) json_object *o = json_tokener_parse(old_record);
        JobRecord r;

        for (size_t i = 0; i < G_N_ELEMENTS(later); i++)
                json_object_object_del(o, later[i]);
        g_assert_cmpint(parse(json_object_to_json_string(o), &r), ==, 0);
        g_assert_null(r.profile);
        g_assert_null(r.slice);
        g_assert_cmpuint(r.runtime_max_usec, ==, 0);
        g_assert_cmpuint(r.output_dropped, ==, 0);
        g_assert_cmpint(r.isolation.private_pid, ==, -1);
        g_assert_cmpint(r.isolation.protect_system, ==, -1);
        job_record_done(&r);
}

static void test_bounds(void) {
        static const char *const bad[] = { "", "[]", "\"x\"", "{", "{\"id\":", "nul", "{} x", "{'id':1}" };
        g_autofree char *big = g_malloc(JOB_RECORD_MAX + 2);
        JobRecord r;

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_cmpint(parse(bad[i], &r), ==, -EBADMSG);
        /* NUL inside the bytes: not a record. */
        g_assert_cmpint(job_record_from_json("{\"id\0\":1}", 10, &r), ==, -EBADMSG);
        memset(big, ' ', JOB_RECORD_MAX + 1);
        g_assert_cmpint(job_record_from_json(big, JOB_RECORD_MAX + 1, &r), ==, -EFBIG);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/job-record/old-record-round-trip", test_old_record_round_trip);
        g_test_add_func("/job-record/required", test_required);
        g_test_add_func("/job-record/values", test_values);
        g_test_add_func("/job-record/older-version", test_older_version);
        g_test_add_func("/job-record/bounds", test_bounds);
        return g_test_run();
}
