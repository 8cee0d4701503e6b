/* SPDX-License-Identifier: MIT */
/* test-exec-spec - the job spec teleworkerd hands to the root helper: round trips, every refusal of the
 * parser (it reads caller bytes as root), the sealed memfd, the allow-list rule and strict id parsing. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exec/exec-spec.h"

static char *argv_sh[] = { (char *) "/bin/sh", (char *) "-c", (char *) "echo 'hi there'", NULL };
static char *env_ok[] = { (char *) "PATH=/usr/bin:/bin", (char *) "LD_PRELOAD=/tmp/x.so", (char *) "EMPTY=", NULL };
static char *allow_ok[] = { (char *) "/usr/bin/*", (char *) "/bin/sh", NULL };

static GByteArray *serialize(const ExecSpec *s) {
        char *buf = NULL;
        size_t size = 0;
        GByteArray *a;

        g_assert_cmpint(exec_spec_serialize(s, &buf, &size), ==, 0);
        a = g_byte_array_new();
        g_byte_array_append(a, (const guint8 *) buf, (guint) size);
        free(buf);
        return a;
}

static void assert_strv_equal(char **a, char **b) {
        if (!a || !b) {
                g_assert_true(a == b);
                return;
        }
        g_assert_cmpuint(g_strv_length(a), ==, g_strv_length(b));
        for (size_t i = 0; a[i]; i++)
                g_assert_cmpstr(a[i], ==, b[i]);
}

static void test_round_trip(void) {
        const ExecSpec in[] = {
                { .argv = argv_sh, .env = env_ok, .allow = allow_ok, .cwd = (char *) "/srv/x", .home = (char *) "/home/u" },
                { .argv = argv_sh, .env = NULL, .allow = NULL, .cwd = (char *) "", .home = (char *) "" },
                { .argv = argv_sh, .env = env_ok, .allow = (char *[]) { NULL }, .cwd = NULL, .home = NULL },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(in); i++) {
                g_autoptr(GByteArray) a = serialize(&in[i]);
                const char *why = NULL;
                ExecSpec out = {};

                g_assert_cmpint(exec_spec_parse(a->data, a->len, &out, &why), ==, 0);
                assert_strv_equal(out.argv, in[i].argv);
                if (in[i].env)
                        assert_strv_equal(out.env, in[i].env);
                else
                        g_assert_cmpuint(g_strv_length(out.env), ==, 0);
                /* NULL (any executable) and an empty list (none) stay apart */
                assert_strv_equal(out.allow, in[i].allow);
                g_assert_cmpstr(out.cwd, ==, in[i].cwd ? in[i].cwd : "");
                g_assert_cmpstr(out.home, ==, in[i].home ? in[i].home : "");
                exec_spec_done(&out);
        }
}

static void expect_refused(const void *buf, size_t size, const char *why_part) {
        const char *why = NULL;
        ExecSpec out = {};

        g_assert_cmpint(exec_spec_parse(buf, size, &out, &why), ==, -EBADMSG);
        g_assert_nonnull(why);
        g_test_message("refused: %s (want %s)", why, why_part ? why_part : "-");
        if (why_part)
                g_assert_nonnull(strstr(why, why_part));
        g_assert_null(out.argv);
}

static void test_truncated_and_trailing(void) {
        const ExecSpec s = { .argv = argv_sh, .env = env_ok, .allow = allow_ok, .cwd = (char *) "/", .home = (char *) "/root" };
        g_autoptr(GByteArray) a = serialize(&s);

        /* every proper prefix is refused */
        for (guint n = 0; n < a->len; n++)
                expect_refused(a->data, n, NULL);
        g_byte_array_append(a, (const guint8 *) "x", 1);
        expect_refused(a->data, a->len, "trailing");
}

/* A header with the given counts, then raw bytes. */
static GByteArray *raw(uint32_t flags, uint32_t nargv, uint32_t nenv, uint32_t nallow, const void *rest, size_t n) {
        GByteArray *a = g_byte_array_new();

        g_byte_array_append(a, (const guint8 *) EXEC_SPEC_MAGIC, 4);
        g_byte_array_append(a, (const guint8 *) &flags, 4);
        g_byte_array_append(a, (const guint8 *) &nargv, 4);
        g_byte_array_append(a, (const guint8 *) &nenv, 4);
        g_byte_array_append(a, (const guint8 *) &nallow, 4);
        g_byte_array_append(a, rest, (guint) n);
        return a;
}

static void append_string(GByteArray *a, const char *s, size_t n) {
        uint32_t len = (uint32_t) n;

        g_byte_array_append(a, (const guint8 *) &len, 4);
        g_byte_array_append(a, (const guint8 *) s, (guint) n);
}

/* A spec of one argument (and one env entry, if env): cwd, an empty home, argv[0], env; refused for why. */
static void expect_one_arg_refused(const char *cwd, size_t cwd_len, const char *arg0, size_t arg0_len,
                                   const char *env, const char *why) {
        GByteArray *a = raw(0, 1, env ? 1 : 0, 0, NULL, 0);

        append_string(a, cwd, cwd_len);
        append_string(a, "", 0);
        append_string(a, arg0, arg0_len);
        if (env)
                append_string(a, env, strlen(env));
        expect_refused(a->data, a->len, why);
        g_byte_array_unref(a);
}

static void test_refusals(void) {
        GByteArray *a;

        expect_refused("TWS0\0\0\0\0", 8, "magic");
        expect_refused("", 0, "magic");

        a = raw(0, 0, 0, 0, NULL, 0);
        append_string(a, "", 0);
        append_string(a, "", 0);
        expect_refused(a->data, a->len, "empty command line");
        g_byte_array_unref(a);

        a = raw(1u << 7, 1, 0, 0, NULL, 0);
        expect_refused(a->data, a->len, "unknown flags");
        g_byte_array_unref(a);

        a = raw(0, 1, 0, 1, NULL, 0);
        expect_refused(a->data, a->len, "allow flag");
        g_byte_array_unref(a);

        /* huge counts in a tiny buffer: refused before anything is allocated for them */
        a = raw(0, EXEC_SPEC_ARGV_MAX, EXEC_SPEC_ENV_MAX, 0, NULL, 0);
        expect_refused(a->data, a->len, "truncated");
        g_byte_array_unref(a);
        a = raw(0, EXEC_SPEC_ARGV_MAX + 1, 0, 0, NULL, 0);
        expect_refused(a->data, a->len, "too many arguments");
        g_byte_array_unref(a);
        a = raw(0, 1, EXEC_SPEC_ENV_MAX + 1, 0, NULL, 0);
        expect_refused(a->data, a->len, "too many environment");
        g_byte_array_unref(a);
        a = raw(EXEC_SPEC_HAS_ALLOW, 1, 0, EXEC_SPEC_ALLOW_MAX + 1, NULL, 0);
        expect_refused(a->data, a->len, "too many allow");
        g_byte_array_unref(a);

        /* a relative working directory; a NUL inside a string would cut it short in execve; an empty
         * argv[0]; env entries that are not NAME=VALUE */
        expect_one_arg_refused("tmp", 3, "/bin/true", 9, NULL, "not absolute");
        expect_one_arg_refused("", 0, "/bin/true\0x", 11, NULL, "NUL");
        expect_one_arg_refused("", 0, "", 0, NULL, "empty executable");
        expect_one_arg_refused("", 0, "/bin/true", 9, "NOEQUALS", "NAME=");
        expect_one_arg_refused("", 0, "/bin/true", 9, "=value", "NAME=");
        expect_one_arg_refused("", 0, "/bin/true", 9, "", "NAME=");

        /* a string longer than the limit, and a length past the end */
        a = raw(0, 1, 0, 0, NULL, 0);
        {
                uint32_t big = EXEC_SPEC_STRING_MAX + 1;
                g_byte_array_append(a, (const guint8 *) &big, 4);
                g_byte_array_append(a, (const guint8 *) "padding!", 8); /* the counts' minimum size */
        }
        expect_refused(a->data, a->len, "too long");
        g_byte_array_unref(a);
        a = raw(0, 1, 0, 0, NULL, 0);
        {
                uint32_t len = 100;
                g_byte_array_append(a, (const guint8 *) &len, 4);
                g_byte_array_append(a, (const guint8 *) "/x", 2);
        }
        expect_refused(a->data, a->len, "truncated");
        g_byte_array_unref(a);

        expect_refused("TWS1", (size_t) EXEC_SPEC_SIZE_MAX + 1, "too large");
}

static void test_serialize_refusals(void) {
        char *buf = NULL, *empty0[] = { (char *) "", NULL }, *none[] = { NULL }, *bad_env[] = { (char *) "X", NULL };
        size_t size;

        g_assert_cmpint(exec_spec_serialize(&(ExecSpec) { .argv = none }, &buf, &size), ==, -EINVAL);
        g_assert_cmpint(exec_spec_serialize(&(ExecSpec) { .argv = NULL }, &buf, &size), ==, -EINVAL);
        g_assert_cmpint(exec_spec_serialize(&(ExecSpec) { .argv = empty0 }, &buf, &size), ==, -EINVAL);
        g_assert_cmpint(exec_spec_serialize(&(ExecSpec) { .argv = argv_sh, .cwd = (char *) "rel" }, &buf, &size), ==,
                        -EINVAL);
        g_assert_cmpint(exec_spec_serialize(&(ExecSpec) { .argv = argv_sh, .env = bad_env }, &buf, &size), ==,
                        -EINVAL);
        g_assert_null(buf);
}

static void test_memfd(void) {
        const ExecSpec s = { .argv = argv_sh, .env = env_ok, .cwd = (char *) "/", .home = (char *) "/" };
        const char *why = NULL;
        ExecSpec out = {};
        char *buf = NULL;
        size_t size;
        int fd, p[2];

        g_assert_cmpint(exec_spec_to_memfd(&s, &fd), ==, 0);
        g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, !=, 0);
        /* sealed: no writes, no resizing */
        g_assert_cmpint(write(fd, "x", 1), <, 0);
        g_assert_cmpint(ftruncate(fd, 1), <, 0);
        g_assert_cmpint(exec_spec_from_fd(fd, &out, &why), ==, 0);
        assert_strv_equal(out.argv, argv_sh);
        assert_strv_equal(out.env, env_ok);
        g_assert_null(out.allow);
        exec_spec_done(&out);
        close(fd);

        /* the same bytes in an unsealed memfd, or a pipe: refused */
        g_assert_cmpint(exec_spec_serialize(&s, &buf, &size), ==, 0);
        fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, buf, size), ==, (ssize_t) size);
        g_assert_cmpint(exec_spec_from_fd(fd, &out, &why), ==, -EBADMSG);
        g_assert_nonnull(strstr(why, "sealed"));
        close(fd);
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(exec_spec_from_fd(p[0], &out, &why), ==, -EBADMSG);
        close(p[0]);
        close(p[1]);
        free(buf);
}

static void test_allowed(void) {
        char *none[] = { NULL };

        g_assert_true(exec_spec_allowed(NULL, "/anything"));
        g_assert_false(exec_spec_allowed(none, "/bin/sh"));
        g_assert_true(exec_spec_allowed(allow_ok, "/usr/bin/env"));
        g_assert_true(exec_spec_allowed(allow_ok, "/bin/sh"));
        /* FNM_PATHNAME: '*' does not cross '/' */
        g_assert_false(exec_spec_allowed(allow_ok, "/usr/bin/x/../../../bin/bash"));
        g_assert_false(exec_spec_allowed(allow_ok, "/bin/bash"));
}

static void test_parse_id(void) {
        const char *bad[] = { "", "-1", "+1", " 1", "1 ", "01", "00", "4294967295", "4294967296", "99999999999",
                              "1x", "0x10", "1e3", "\t2" };
        uint32_t v = 7;

        g_assert_cmpint(exec_parse_id("0", &v), ==, 0);
        g_assert_cmpuint(v, ==, 0);
        g_assert_cmpint(exec_parse_id("4001", &v), ==, 0);
        g_assert_cmpuint(v, ==, 4001);
        g_assert_cmpint(exec_parse_id("4294967294", &v), ==, 0);
        g_assert_cmpuint(v, ==, 4294967294u);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                v = 7;
                g_assert_cmpint(exec_parse_id(bad[i], &v), ==, -EINVAL);
                g_assert_cmpuint(v, ==, 7);
        }
        g_assert_cmpint(exec_parse_id(NULL, &v), ==, -EINVAL);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/exec-spec/round-trip", test_round_trip);
        g_test_add_func("/exec-spec/truncated-and-trailing", test_truncated_and_trailing);
        g_test_add_func("/exec-spec/refusals", test_refusals);
        g_test_add_func("/exec-spec/serialize-refusals", test_serialize_refusals);
        g_test_add_func("/exec-spec/memfd", test_memfd);
        g_test_add_func("/exec-spec/allowed", test_allowed);
        g_test_add_func("/exec-spec/parse-id", test_parse_id);
        return g_test_run();
}
