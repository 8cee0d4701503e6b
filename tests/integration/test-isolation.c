/* SPDX-License-Identifier: MIT */
/* test-isolation - per-job namespaces and the policy (tests/integration/teleworker.json) on real systemd:
 * PID, mount and network namespaces, the mapped account, allow-lists, concurrency caps, per-principal
 * slices, run-time limits, and a policy reload that changes new jobs only. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tb-client.h"

static sd_bus *root_bus;

/* Runs argv with options as root, returns its output as a string and its final state. */
static char *run_opts(sd_bus *bus, const char *const *argv, const char *const *opts, TbJob *ret) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        GByteArray *out;
        int fd;

        g_assert_cmpint(tb_start(bus, argv, opts, &id, &e), ==, 0);
        g_assert_cmpint(tb_open_output(bus, id, 0, true, &fd, &e), ==, 0);
        out = tb_read_all(fd);
        close(fd);
        g_assert_cmpint(tb_wait(bus, id, ret, &e), ==, 0);
        g_byte_array_append(out, (const guint8 *) "", 1);
        g_test_message("%s: %s", argv[1] && argv[2] ? argv[2] : argv[0], (char *) out->data);
        return (char *) g_byte_array_free(out, false);
}

static void test_private_pid(void) {
        const char *argv[] = { "/bin/sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'", NULL };
        g_autofree char *out = NULL, *host = NULL;
        TbJob j;

        out = run_opts(root_bus, argv, NULL, &j);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        /* PID 1 is the namespace's init, the job is PID 2; it sees only its own few processes */
        g_assert_true(g_str_has_prefix(out, "2\n"));
        g_assert_cmpint(atoi(strchr(out, '\n') + 1), <=, 4);

        const char *opts[] = { "PrivatePID", "0", NULL };
        host = run_opts(root_bus, argv, opts, &j);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        g_assert_cmpint(atoi(host), >, 2);
        g_assert_cmpint(atoi(strchr(host, '\n') + 1), >, 4);
}

static void test_private_pid_exit_status(void) {
        const char *argv[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
        TbJob j;

        g_free(run_opts(root_bus, argv, NULL, &j));
        /* the job's own end, not its namespace init's */
        g_assert_cmpstr(j.state, ==, "failed");
        g_assert_cmpstr(j.reason, ==, "signal");
        g_assert_cmpint(j.exit_signal, ==, SIGTERM);
        tb_job_clear(&j);
}

static void test_private_tmp(void) {
        g_autofree char *marker = g_strdup_printf("/tmp/tb-isolation-%d", (int) getpid());
        g_autofree char *script = g_strdup_printf("ls -A /tmp | wc -l; echo secret > %s; cat %s", marker, marker);
        const char *argv[] = { "/bin/sh", "-c", script, NULL };
        g_autofree char *out = NULL;
        TbJob j;

        out = run_opts(root_bus, argv, NULL, &j);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        g_assert_cmpstr(out, ==, "0\nsecret\n");
        /* the write stayed in the job's own /tmp */
        g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
}

static void test_protect_system(void) {
        const char *argv[] = { "/bin/sh", "-c", "touch /etc/tb-protect 2>/dev/null && echo writable || echo read-only", NULL };
        const char *opts[] = { "ProtectSystem", "1", NULL };
        g_autofree char *out = NULL;
        TbJob j;

        out = run_opts(root_bus, argv, opts, &j);
        tb_job_clear(&j);
        g_assert_cmpstr(out, ==, "read-only\n");
        g_assert_false(g_file_test("/etc/tb-protect", G_FILE_TEST_EXISTS));
}

static char *own_netns(void) {
        char buf[128];
        ssize_t n = readlink("/proc/self/ns/net", buf, sizeof(buf) - 1);
        g_assert_cmpint(n, >, 0);
        buf[n] = 0;
        return g_strdup_printf("%s\n", buf);
}

static void test_network(void) {
        const char *argv[] = { "/bin/sh", "-c", "readlink /proc/self/ns/net", NULL };
        const char *lo[] = { "/bin/sh", "-c", "grep -c : /proc/net/dev; cat /sys/class/net/lo/flags 2>/dev/null || true", NULL };
        const char *isolated[] = { "PrivateNetwork", "1", NULL };
        g_autofree char *mine = own_netns(), *shared = NULL, *private = NULL, *user_ns = NULL, *devs = NULL;
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *want_net[] = { "PrivateNetwork", "0", NULL };
        TbJob j;

        /* root's policy allows the network: the job shares ours */
        shared = run_opts(root_bus, argv, NULL, &j);
        tb_job_clear(&j);
        g_assert_cmpstr(shared, ==, mine);
        /* asked for isolation: a namespace of its own, with only a loopback interface */
        private = run_opts(root_bus, argv, isolated, &j);
        tb_job_clear(&j);
        g_assert_cmpstr(private, !=, mine);
        devs = run_opts(root_bus, lo, isolated, &j);
        tb_job_clear(&j);
        g_assert_true(g_str_has_prefix(devs, "1\n"));

        /* everyone else ("*": network false) is isolated by default, and may not ask for the network */
        user_ns = run_opts(u1, argv, NULL, &j);
        tb_job_clear(&j);
        g_assert_cmpstr(user_ns, !=, mine);
        g_assert_cmpint(tb_start(u1, argv, want_net, NULL, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        sd_bus_unref(u1);
}

static void test_runs_as_account(void) {
        const char *argv[] = { "/bin/sh", "-c", "id -un; id -u", NULL };
        sd_bus *u2 = tb_bus_as(TB_UID_USER2);
        g_autofree char *out = NULL;
        TbJob j;

        out = run_opts(u2, argv, NULL, &j);
        g_assert_cmpstr(j.user, ==, "tbuser2");
        tb_job_clear(&j);
        g_assert_cmpstr(out, ==, "tbuser2\n4002\n");
        sd_bus_unref(u2);
}

static void test_allow_list(void) {
        const char *allowed[] = { "/bin/true", NULL };
        const char *refused[] = { tb_gen_path(), "seq", "1", "0", NULL };
        sd_bus *u2 = tb_bus_as(TB_UID_USER2);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j;

        g_free(run_opts(u2, allowed, NULL, &j));
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        g_assert_cmpint(tb_start(u2, refused, NULL, NULL, &e), <, 0);
        g_test_message("%s", e.message);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_nonnull(strstr(e.message, "does not allow"));
        sd_bus_error_free(&e);
        sd_bus_unref(u2);
}

static void test_concurrency_and_slice(void) {
        const char *sleeper[] = { "/bin/sleep", "60", NULL };
        sd_bus *u2 = tb_bus_as(TB_UID_USER2);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *slice_cg = NULL, *mem = NULL, *pids = NULL;
        char *ids[3] = {};
        TbJob j;

        for (int i = 0; i < 3; i++)
                g_assert_cmpint(tb_start(u2, sleeper, NULL, &ids[i], &e), ==, 0);
        /* tbuser2 may run 3 at once */
        g_assert_cmpint(tb_start(u2, sleeper, NULL, NULL, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.TooManyJobs");
        sd_bus_error_free(&e);

        /* its jobs live in its own slice, whose limits cap their sum */
        g_assert_cmpint(tb_get(u2, ids[0], &j, &e), ==, 0);
        slice_cg = tb_unit_cgroup(j.unit);
        g_test_message("scope cgroup %s", slice_cg);
        g_assert_nonnull(strstr(slice_cg, "/teleworker.slice/teleworker-tbuser2.slice/"));
        tb_job_clear(&j);
        *strrchr(slice_cg, '/') = 0;
        mem = tb_cgroup_attr(slice_cg, "memory", "memory.max");
        if (!mem)
                mem = tb_cgroup_attr(slice_cg, "memory", "memory.limit_in_bytes");
        g_assert_nonnull(mem);
        g_assert_cmpuint(g_ascii_strtoull(mem, NULL, 10), ==, 300ULL << 20);
        pids = tb_cgroup_attr(slice_cg, "pids", "pids.max");
        g_assert_nonnull(pids);
        g_assert_cmpint(atoi(pids), ==, 100);

        for (int i = 0; i < 3; i++) {
                g_assert_cmpint(tb_stop(u2, ids[i], &e), ==, 0);
                g_free(ids[i]);
        }
        /* room again */
        g_assert_cmpint(tb_start(u2, (const char *[]) { "/bin/true", NULL }, NULL, NULL, &e), ==, 0);
        sd_bus_unref(u2);
}

static void test_timeout(void) {
        const char *argv[] = { "/bin/sleep", "60", NULL };
        const char *opts[] = { "Profile", "small", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        gint64 t0 = g_get_monotonic_time();
        TbJob j;

        g_assert_cmpint(tb_start(root_bus, argv, opts, &id, &e), ==, 0);
        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpuint(j.memory_max, ==, 64ULL << 20);
        g_assert_cmpuint(j.tasks_max, ==, 32);
        tb_job_clear(&j);
        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "killed");
        g_assert_cmpstr(j.reason, ==, "timeout");
        g_assert_cmpint(g_get_monotonic_time() - t0, >=, 1900000);
        g_assert_cmpint(g_get_monotonic_time() - t0, <, 30000000);
        tb_job_clear(&j);

        const char *unknown[] = { "Profile", "huge", NULL };
        g_assert_cmpint(tb_start(root_bus, argv, unknown, NULL, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
}

static void reload_daemon(void) {
        const char *unit = g_getenv("TELEWORKER_TEST_UNIT") ?: "teleworkerd.service";
        const char *argv[] = { "systemctl", "kill", "--signal=SIGHUP", unit, NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
}

static bool profile_known(const char *name) {
        const char *argv[] = { "/bin/true", NULL };
        const char *opts[] = { "Profile", name, NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = tb_start(root_bus, argv, opts, NULL, &e);

        sd_bus_error_free(&e);
        return r >= 0;
}

static void wait_profile(const char *name, bool known) {
        for (int i = 0; i < 200 && profile_known(name) != known; i++)
                g_usleep(20000);
        g_assert_cmpint(profile_known(name), ==, known);
}

static void test_reload(void) {
        const char *path = g_getenv("TELEWORKER_TEST_CONFIG");
        g_autofree char *orig = NULL, *changed = NULL;
        const char *sleeper[] = { "/bin/sleep", "30", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *running = NULL;
        TbJob j;

        if (!path || !g_file_get_contents(path, &orig, NULL, NULL)) {
                g_test_skip("TELEWORKER_TEST_CONFIG not readable");
                return;
        }
        g_assert_cmpint(tb_start(root_bus, sleeper, NULL, &running, &e), ==, 0);

        /* a new profile, for new jobs */
        changed = g_strdup(orig);
        char *p = strstr(changed, "\"small\":");
        g_assert_nonnull(p);
        g_autofree char *with = g_strdup_printf("%.*s\"medium\": { \"MemoryMax\": \"128M\" }, %s", (int) (p - changed),
                                                changed, p);
        g_assert_true(g_file_set_contents(path, with, -1, NULL));
        reload_daemon();
        wait_profile("medium", true);

        /* a broken file is refused: the policy in force stays */
        g_assert_true(g_file_set_contents(path, "{ \"profiles\": ", -1, NULL));
        reload_daemon();
        g_usleep(300000);
        g_assert_true(profile_known("medium"));

        /* back to the original: the profile is gone again, the running job never noticed */
        g_assert_true(g_file_set_contents(path, orig, -1, NULL));
        reload_daemon();
        wait_profile("medium", false);
        g_assert_cmpint(tb_get(root_bus, running, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "running");
        tb_job_clear(&j);
        g_assert_cmpint(tb_stop(root_bus, running, &e), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;

        g_test_add_func("/isolation/private-pid", test_private_pid);
        g_test_add_func("/isolation/private-pid-exit-status", test_private_pid_exit_status);
        g_test_add_func("/isolation/private-tmp", test_private_tmp);
        g_test_add_func("/isolation/protect-system", test_protect_system);
        g_test_add_func("/isolation/network", test_network);
        g_test_add_func("/policy/runs-as-account", test_runs_as_account);
        g_test_add_func("/policy/allow-list", test_allow_list);
        g_test_add_func("/policy/concurrency-and-slice", test_concurrency_and_slice);
        g_test_add_func("/policy/timeout", test_timeout);
        g_test_add_func("/policy/reload", test_reload);
        int r = g_test_run();
        sd_bus_unref(root_bus);
        return r;
}
