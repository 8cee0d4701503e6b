/* SPDX-License-Identifier: MIT */
/* test-request - resolving a Start request against the policy (src/engine/request.c): bounds, environment
 * entries, the job's environment, slice names, isolation, limits and the profile lock, each with the refusal
 * a caller gets. */
#include <fcntl.h>
#include <glib.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/errors.h"
#include "engine/request.h"

static void assert_refused(int r, sd_bus_error *e, const char *name, const char *fragment) {
        g_assert_cmpint(r, <, 0);
        g_assert_cmpstr(e->name, ==, name);
        if (fragment && !strstr(e->message, fragment))
                g_error("'%s' not in '%s'", fragment, e->message);
        sd_bus_error_free(e);
}

static void test_validate(void) {
        char *argv[] = { (char *) "/bin/true", NULL }, *empty[] = { (char *) "", NULL };
        char *bad_env[] = { (char *) "1X=y", NULL }, *good_env[] = { (char *) "A_1=", (char *) "b=c=d", NULL };
        char *no_eq[] = { (char *) "NOEQ", NULL };
        g_autofree char *big = g_malloc(JOB_ARG_BYTES_MAX + 1);
        char *big_argv[] = { (char *) "/bin/echo", big, NULL };
        char **many = g_new0(char *, JOB_ARGV_MAX + 2);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        JobRequest req = { .argv = argv };

        g_assert_cmpint(request_validate(&req, &e), ==, 0);
        req.env = good_env;
        g_assert_cmpint(request_validate(&req, &e), ==, 0);
        req.env = bad_env;
        assert_refused(request_validate(&req, &e), &e, TW_ERROR_INVALID_ARGS, "'1X=y'");
        req.env = no_eq;
        assert_refused(request_validate(&req, &e), &e, TW_ERROR_INVALID_ARGS, "NAME=VALUE");
        req.env = NULL;
        req.argv = empty;
        assert_refused(request_validate(&req, &e), &e, TW_ERROR_INVALID_ARGS, "empty");
        memset(big, 'x', JOB_ARG_BYTES_MAX);
        big[JOB_ARG_BYTES_MAX] = 0;
        req.argv = big_argv;
        assert_refused(request_validate(&req, &e), &e, TW_ERROR_INVALID_ARGS, "Argument 1 is too long");
        big[JOB_ARG_BYTES_MAX - 1] = 0; /* with its NUL, exactly the kernel's limit */
        g_assert_cmpint(request_validate(&req, &e), ==, 0);
        for (unsigned i = 0; i <= JOB_ARGV_MAX; i++)
                many[i] = (char *) "a";
        req.argv = many;
        assert_refused(request_validate(&req, &e), &e, TW_ERROR_INVALID_ARGS, "Too many arguments");
        req.argv = argv;
        req.cwd = "relative";
        assert_refused(request_validate(&req, &e), &e, TW_ERROR_INVALID_ARGS, "absolute");
        req.cwd = NULL;
        req.runtime_max_usec = JOB_RUNTIME_USEC_MAX + 1;
        assert_refused(request_validate(&req, &e), &e, TW_ERROR_LIMIT_EXCEEDED, "100 years");
        req.runtime_max_usec = JOB_RUNTIME_USEC_INFINITY;
        g_assert_cmpint(request_validate(&req, &e), ==, 0);
        g_free(many);
}

static void test_build_env(void) {
        struct passwd pw = { .pw_name = (char *) "alice", .pw_dir = (char *) "/home/alice",
                             .pw_shell = (char *) "/bin/sh" };
        char *req[] = { (char *) "HOME=/tmp", (char *) "X=1", (char *) "X=2", NULL };
        g_auto(GStrv) env = request_build_env(&pw, req);

        g_assert_nonnull(env);
        g_assert_cmpstr(g_environ_getenv(env, "HOME"), ==, "/tmp"); /* the caller's wins */
        g_assert_cmpstr(g_environ_getenv(env, "USER"), ==, "alice");
        g_assert_cmpstr(g_environ_getenv(env, "LANG"), ==, "C.UTF-8");
        g_assert_nonnull(g_environ_getenv(env, "PATH"));
        g_assert_cmpstr(g_environ_getenv(env, "X"), ==, "2");       /* the later duplicate */
        g_assert_cmpuint(g_strv_length(env), ==, 7);                /* 6 defaults, HOME replaced, one X */
}

static void test_slice_name(void) {
        g_autofree char *plain = NULL, *escaped = NULL, *dot = NULL;

        g_assert_cmpint(request_slice_name("alice_1", &plain), ==, 0);
        g_assert_cmpstr(plain, ==, "teleworker-alice_1.slice");
        g_assert_cmpint(request_slice_name("a-b/c d", &escaped), ==, 0);
        g_assert_cmpstr(escaped, ==, "teleworker-a\\x2db\\x2fc\\x20d.slice");
        g_assert_cmpint(request_slice_name(".x.y", &dot), ==, 0);
        g_assert_cmpstr(dot, ==, "teleworker-\\x2ex.y.slice");
}

static void test_isolation(void) {
        PrincipalPolicy open = { .network = true }, closed = { .network = false },
                        optional = { .network = false, .isolation_optional = true };
        JobIsolation req = JOB_ISOLATION_UNSET, got;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        g_assert_cmpint(request_check_isolation(&closed, false, &req, &got, &e), ==, 0);
        g_assert_cmpint(got.private_pid, ==, 1);
        g_assert_cmpint(got.private_tmp, ==, 1);
        g_assert_cmpint(got.private_network, ==, 1);
        g_assert_cmpint(got.protect_system, ==, 0);
        g_assert_cmpint(request_check_isolation(&open, false, &req, &got, &e), ==, 0);
        g_assert_cmpint(got.private_network, ==, 0);

        req.private_network = 0;
        assert_refused(request_check_isolation(&closed, false, &req, &got, &e), &e, TW_ERROR_ACCESS_DENIED,
                       "PrivateNetwork=false");
        req = JOB_ISOLATION_UNSET;
        req.private_pid = 0;
        g_assert_cmpint(request_check_isolation(&closed, false, &req, &got, &e), ==, 0); /* local: allowed */
        assert_refused(request_check_isolation(&closed, true, &req, &got, &e), &e, TW_ERROR_ACCESS_DENIED,
                       "PrivatePID=false");
        g_assert_cmpint(request_check_isolation(&optional, true, &req, &got, &e), ==, 0);
}

static void test_limits_and_profile_lock(void) {
        ConfigProfile small = { .name = (char *) "small", .limits = { .memory_max = 64 << 20 },
                                .runtime_max_usec = 2 * USEC_PER_SEC };
        PrincipalPolicy locked = { .profile = &small, .profile_locked = true }, free_policy = { .profile = &small };
        JobRequest req = {};
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Config c;
        JobLimits l;

        g_assert_cmpint(config_init_defaults(&c), >=, 0);
        l = c.default_limits;
        g_assert_cmpint(request_check_limits(&c, &l, false, &e), ==, 0);
        l.memory_max = JOB_LIMIT_INFINITY;
        c.max_limits.memory_max = 1 << 30;
        assert_refused(request_check_limits(&c, &l, false, &e), &e, TW_ERROR_LIMIT_EXCEEDED, "MemoryMax=infinity");
        l.memory_max = (UINT64_C(1) << 30) + 1;
        assert_refused(request_check_limits(&c, &l, false, &e), &e, TW_ERROR_LIMIT_EXCEEDED, "above the maximum");

        req.limits.memory_max = 32 << 20;
        g_assert_cmpint(request_check_profile_lock(&c, &locked, &req, &e), ==, 0);
        req.limits.memory_max = 65 << 20;
        assert_refused(request_check_profile_lock(&c, &locked, &req, &e), &e, TW_ERROR_LIMIT_EXCEEDED, "'small'");
        g_assert_cmpint(request_check_profile_lock(&c, &free_policy, &req, &e), ==, 0);
        req.limits.memory_max = 0;
        req.profile = "default";
        assert_refused(request_check_profile_lock(&c, &locked, &req, &e), &e, TW_ERROR_ACCESS_DENIED,
                       "Profile=default");
        req.profile = "small";
        req.runtime_max_usec = 3 * USEC_PER_SEC;
        assert_refused(request_check_profile_lock(&c, &locked, &req, &e), &e, TW_ERROR_LIMIT_EXCEEDED,
                       "RuntimeMaxSec");
        config_done(&c);
}

/* StandardInput fds: the kinds a job may read, open for reading; never by reading them. */
static void test_stdin_fd(void) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int p[2], s[2], fd;

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), ==, 0);
        g_assert_cmpint(request_check_stdin_fd(p[0], &e), ==, 0);
        g_assert_cmpint(request_check_stdin_fd(s[0], &e), ==, 0);
        assert_refused(request_check_stdin_fd(p[1], &e), &e, TW_ERROR_INVALID_ARGS, "not open for reading");
        close(p[0]);
        close(p[1]);
        close(s[0]);
        close(s[1]);

        fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(request_check_stdin_fd(fd, &e), ==, 0);
        close(fd);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(request_check_stdin_fd(fd, &e), ==, 0);
        close(fd);
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        assert_refused(request_check_stdin_fd(fd, &e), &e, TW_ERROR_INVALID_ARGS, "not open for reading");
        close(fd);
        fd = open("/etc/passwd", O_PATH | O_CLOEXEC);
        assert_refused(request_check_stdin_fd(fd, &e), &e, TW_ERROR_INVALID_ARGS, "not open for reading");
        close(fd);
        fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_refused(request_check_stdin_fd(fd, &e), &e, TW_ERROR_INVALID_ARGS, "pipe, a socket");
        close(fd);
        fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        assert_refused(request_check_stdin_fd(fd, &e), &e, TW_ERROR_INVALID_ARGS, "pipe, a socket");
        close(fd);
        fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
                g_assert_cmpint(request_check_stdin_fd(fd, &e), ==, 0);
                close(fd);
        }
        g_assert_cmpint(request_check_stdin_fd(-1, &e), <, 0);
        sd_bus_error_free(&e);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/request/validate", test_validate);
        g_test_add_func("/request/stdin-fd", test_stdin_fd);
        g_test_add_func("/request/build-env", test_build_env);
        g_test_add_func("/request/slice-name", test_slice_name);
        g_test_add_func("/request/isolation", test_isolation);
        g_test_add_func("/request/limits-and-profile-lock", test_limits_and_profile_lock);
        return g_test_run();
}
