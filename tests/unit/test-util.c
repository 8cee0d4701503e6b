/* SPDX-License-Identifier: MIT */
/* test-util - sizes, quotas, ids, executable lookup, escaping. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/util.h"

static void test_parse_size(void) {
        uint64_t v;

        g_assert_cmpint(parse_size("4096", &v), ==, 0);
        g_assert_cmpuint(v, ==, 4096);
        g_assert_cmpint(parse_size("512M", &v), ==, 0);
        g_assert_cmpuint(v, ==, 512ULL << 20);
        g_assert_cmpint(parse_size("10MiB", &v), ==, 0);
        g_assert_cmpuint(v, ==, 10ULL << 20);
        g_assert_cmpint(parse_size("1g", &v), ==, 0);
        g_assert_cmpuint(v, ==, 1ULL << 30);
        g_assert_cmpint(parse_size("2KB", &v), ==, 0);
        g_assert_cmpuint(v, ==, 2048);
        g_assert_cmpint(parse_size("", &v), ==, -EINVAL);
        g_assert_cmpint(parse_size("-1", &v), ==, -EINVAL);
        g_assert_cmpint(parse_size("12X", &v), ==, -EINVAL);
        g_assert_cmpint(parse_size("1.5G", &v), ==, -EINVAL);
        g_assert_cmpint(parse_size("99999999999999999999", &v), ==, -ERANGE);
        g_assert_cmpint(parse_size("17179869184T", &v), ==, -ERANGE);
        g_assert_cmpint(parse_size(NULL, &v), ==, -EINVAL);
}

static void test_parse_cpu_quota(void) {
        uint64_t v;

        g_assert_cmpint(parse_cpu_quota("150%", &v), ==, 0);
        g_assert_cmpuint(v, ==, 1500000);
        g_assert_cmpint(parse_cpu_quota("0.5", &v), ==, 0);
        g_assert_cmpuint(v, ==, 500000);
        g_assert_cmpint(parse_cpu_quota("2", &v), ==, 0);
        g_assert_cmpuint(v, ==, 2000000);
        g_assert_cmpint(parse_cpu_quota("0%", &v), ==, -ERANGE);
        g_assert_cmpint(parse_cpu_quota("abc", &v), ==, -EINVAL);
        g_assert_cmpint(parse_cpu_quota("50%%", &v), ==, -EINVAL);
        g_assert_cmpint(parse_cpu_quota("1e9", &v), ==, -ERANGE);
}

static void test_job_id(void) {
        char id[JOB_ID_STRING_MAX], id2[JOB_ID_STRING_MAX], back[JOB_ID_STRING_MAX], hex[JOB_ID_HEX_MAX];

        g_assert_cmpint(job_id_generate(id), ==, 0);
        g_assert_cmpint(job_id_generate(id2), ==, 0);
        g_assert_cmpstr(id, !=, id2);
        g_assert_true(job_id_is_valid(id));
        g_assert_cmpuint(strlen(id), ==, 36);
        g_assert_cmpint(id[14], ==, '4'); /* version 4 */
        g_assert_nonnull(strchr("89ab", id[19]));
        g_assert_cmpint(job_id_to_hex(id, hex), ==, 0);
        g_assert_cmpuint(strlen(hex), ==, 32);
        g_assert_cmpint(job_id_from_hex(hex, back), ==, 0);
        g_assert_cmpstr(back, ==, id);

        g_assert_false(job_id_is_valid(""));
        g_assert_false(job_id_is_valid(NULL));
        g_assert_false(job_id_is_valid("../../etc/passwd"));
        g_assert_false(job_id_is_valid("8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d1"));
        g_assert_false(job_id_is_valid("8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10x"));
        g_assert_false(job_id_is_valid("8c1f0e9e+4a36-4f0b-9a51-2a3c8f4b7d10"));
        g_assert_false(job_id_is_valid("8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7dzz"));
        g_assert_true(job_id_is_valid("8C1F0E9E-4A36-4F0B-9A51-2A3C8F4B7D10"));
        g_assert_cmpint(job_id_to_hex("nope", hex), ==, -EINVAL);
        g_assert_cmpint(job_id_from_hex("0123", back), ==, -EINVAL);
        g_assert_cmpint(job_id_from_hex("0123456789abcdef0123456789abcdeg", back), ==, -EINVAL);
}

static void test_find_executable(void) {
        char *p = NULL;

        g_assert_cmpint(find_executable("sh", "/nonexistent:/bin:/usr/bin", "/", &p), ==, 0);
        g_assert_cmpstr(p, ==, "/bin/sh");
        free(p);
        g_assert_cmpint(find_executable("/bin/sh", NULL, NULL, &p), ==, 0);
        g_assert_cmpstr(p, ==, "/bin/sh");
        free(p);
        g_assert_cmpint(find_executable("bin/sh", NULL, "/", &p), ==, 0);
        g_assert_cmpstr(p, ==, "//bin/sh");
        free(p);
        g_assert_cmpint(find_executable("./no/such", NULL, "/", &p), ==, -ENOENT);
        g_assert_cmpint(find_executable("no-such-program-x", "/bin:/usr/bin", "/", &p), ==, -ENOENT);
        g_assert_cmpint(find_executable("/etc/passwd", NULL, NULL, &p), ==, -EACCES);
        g_assert_cmpint(find_executable("/tmp", NULL, NULL, &p), ==, -EACCES);
        g_assert_cmpint(find_executable("", NULL, NULL, &p), ==, -EINVAL);
        /* relative PATH entries are never searched */
        g_assert_cmpint(find_executable("sh", "bin:.", "/", &p), ==, -ENOENT);
}

static void test_escape(void) {
        char *e = str_escape("a\nb\\c\x7f", 100);
        g_assert_cmpstr(e, ==, "a\\x0ab\\x5cc\\x7f");
        free(e);
        e = str_escape("abcdef", 3);
        g_assert_cmpstr(e, ==, "abc...");
        free(e);
        e = str_escape(NULL, 3);
        g_assert_cmpstr(e, ==, "");
        free(e);
}

static void test_format(void) {
        char buf[32];

        g_assert_cmpstr(format_size(buf, sizeof(buf), 512), ==, "512B");
        g_assert_cmpstr(format_size(buf, sizeof(buf), 512ULL << 20), ==, "512M");
        g_assert_cmpstr(format_size(buf, sizeof(buf), 100ULL << 20), ==, "100M");
        g_assert_cmpstr(format_size(buf, sizeof(buf), 10000000), ==, "9.5M");
        g_assert_cmpstr(format_size(buf, sizeof(buf), 1536), ==, "1.5K");
        g_assert_cmpstr(format_size(buf, sizeof(buf), 1ULL << 60), ==, "1E");
        g_assert_cmpstr(format_timestamp(buf, sizeof(buf), 1795459192329550ULL), ==, "2026-11-23T18:39:52.329550Z");
}

static void test_strv(void) {
        char *l[] = { (char *) "a", (char *) "b", NULL };
        char **c = strv_copy(l);

        g_assert_cmpuint(strv_length(c), ==, 2);
        g_assert_cmpstr(c[1], ==, "b");
        g_assert_cmpuint(strv_length(NULL), ==, 0);
        strv_free(c);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/util/parse-size", test_parse_size);
        g_test_add_func("/util/parse-cpu-quota", test_parse_cpu_quota);
        g_test_add_func("/util/job-id", test_job_id);
        g_test_add_func("/util/find-executable", test_find_executable);
        g_test_add_func("/util/escape", test_escape);
        g_test_add_func("/util/format", test_format);
        g_test_add_func("/util/strv", test_strv);
        return g_test_run();
}
