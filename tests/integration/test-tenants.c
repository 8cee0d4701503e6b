/* SPDX-License-Identifier: MIT */
/* test-tenants - remote principals are isolated from each other (issue #12), on real systemd: each runs
 * under a dynamic uid of its own that `id`, `whoami` and `ps` resolve by name and that survives a daemon
 * restart; bob's job cannot read alice's job's environment, signal it or see her /dev/shm; a remote job's
 * own D-Bus calls act as its principal (List, max_jobs); remote jobs cannot turn PrivatePID/PrivateTmp off;
 * a certificate name that is a system account is refused; a locked profile is a ceiling.
 *
 * Calls the Remote interface as the gateway account (teleworker-gw), as teleworker-gateway does. Policy:
 * tests/integration/teleworker.json (carol: isolation_optional, dave: profile_locked, erin: max_jobs 2). */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb-client.h"

#define DEST "org.teleworker.worker1"
#define PATH "/org/teleworker/worker1"
#define REMOTE "org.teleworker.worker1.Remote"
#define LONG_TIMEOUT (120 * 1000 * 1000ULL)

static sd_bus *gw;
static char *marker; /* unique per run: secrets and /dev/shm names */

static void gw_reconnect(void) {
        struct passwd *pw = getpwnam("teleworker-gw");

        g_assert_nonnull(pw);
        sd_bus_flush_close_unref(gw);
        gw = tb_bus_as(pw->pw_uid);
}

/* StartAs with env and options ("PrivatePID", "0" / "Profile", "x" / "MemoryMax", "123"). */
static int remote_start(const char *principal, const char *const *argv, const char *const *env,
                        const char *const *opts, char **ret_id, sd_bus_error *error) {
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(gw, &m, DEST, PATH, REMOTE, "StartAs"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "sb", principal, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) env), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", ""), >=, 0);
        tb_append_options(m, opts);
        return tb_call_start(gw, m, ret_id, error);
}

/* From a job's a{sv}: the string property key (or NULL) and the int ExitCode. */
static void read_props(sd_bus_message *reply, const char *key, char **ret_s, int *ret_exit) {
        const char *k, *contents, *s;

        g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "{sv}"), >=, 0);
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                g_assert_cmpint(sd_bus_message_read(reply, "s", &k), >=, 0);
                g_assert_cmpint(sd_bus_message_peek_type(reply, NULL, &contents), >=, 0);
                if (ret_s && g_str_equal(k, key) && g_str_equal(contents, "s")) {
                        g_assert_cmpint(sd_bus_message_read(reply, "v", "s", &s), >=, 0);
                        *ret_s = g_strdup(s);
                } else if (ret_exit && g_str_equal(k, "ExitCode"))
                        g_assert_cmpint(sd_bus_message_read(reply, "v", "i", ret_exit), >=, 0);
                else
                        g_assert_cmpint(sd_bus_message_skip(reply, "v"), >=, 0);
                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
        }
        g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
}

static void remote_wait(const char *principal, const char *id, int *ret_exit, char **ret_user) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;

        g_assert_cmpint(sd_bus_call_method(gw, DEST, PATH, REMOTE, "WaitAs", &e, &reply, "sbs", principal, 0, id),
                        >=, 0);
        read_props(reply, "User", ret_user, ret_exit);
        sd_bus_message_unref(reply);
}

static char *remote_prop(const char *principal, const char *id, const char *key) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *v = NULL;

        g_assert_cmpint(sd_bus_call_method(gw, DEST, PATH, REMOTE, "GetJobAs", &e, &reply, "sbs", principal, 0, id),
                        >=, 0);
        read_props(reply, key, &v, NULL);
        sd_bus_message_unref(reply);
        return v;
}

/* The output captured so far (the whole of it once the job has ended). */
static char *remote_output(const char *principal, const char *id) {
        GString *out = g_string_new(NULL);
        uint64_t offset = 0;

        for (;;) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const void *data;
                size_t n;
                uint64_t next;
                int eof;

                g_assert_cmpint(sd_bus_call_method(gw, DEST, PATH, REMOTE, "ReadOutputAs", &e, &reply, "sbstt",
                                                   principal, 0, id, offset, (uint64_t) 65536), >=, 0);
                g_assert_cmpint(sd_bus_message_read_array(reply, 'y', &data, &n), >=, 0);
                g_assert_cmpint(sd_bus_message_read(reply, "tb", &next, &eof), >=, 0);
                g_string_append_len(out, data, (gssize) n);
                sd_bus_message_unref(reply);
                offset = next;
                if (eof || n == 0)
                        break;
        }
        return g_string_free(out, false);
}

/* Runs argv for principal to its end: its output, exit code and account. */
static char *remote_run(const char *principal, const char *const *argv, const char *const *opts, int *ret_exit,
                        char **ret_user) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        char *out;
        int r;

        r = remote_start(principal, argv, NULL, opts, &id, &e);
        if (r < 0)
                g_error("StartAs %s %s: %s: %s", principal, argv[argv[1] ? 2 : 0], e.name, e.message);
        remote_wait(principal, id, ret_exit, ret_user);
        out = remote_output(principal, id);
        g_test_message("%s: %s -> %s", principal, argv[argv[1] && argv[2] ? 2 : 0], out);
        return out;
}

static void remote_stop(const char *principal, const char *id) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;

        g_assert_cmpint(sd_bus_call_method(gw, DEST, PATH, REMOTE, "StopAs", &e, &reply, "sbs", principal, 0, id), >=,
                        0);
        sd_bus_message_unref(reply);
}

/* A long job of alice's that has written "ready" (after setting up whatever setup does). */
static char *alice_background(const char *setup, char **ret_id) {
        g_autofree char *script = g_strdup_printf("%s; echo ready; exec sleep 300", setup);
        g_autofree char *secret = g_strdup_printf("TN_SECRET=%s", marker);
        const char *argv[] = { "/bin/sh", "-c", script, NULL };
        const char *env[] = { secret, NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;

        g_assert_cmpint(remote_start("alice", argv, env, NULL, ret_id, &e), ==, 0);
        for (int i = 0; i < 1000; i++) {
                char *out = remote_output("alice", *ret_id);
                if (strstr(out, "ready"))
                        return out;
                g_free(out);
                g_usleep(10000);
        }
        g_error("alice's job did not get ready");
}

/* The host PID of the process whose environment has our marker (alice's job): root sees every /proc. */
static pid_t find_marked_pid(void) {
        g_autofree char *needle = g_strdup_printf("TN_SECRET=%s", marker);
        DIR *d = opendir("/proc");
        struct dirent *de;
        pid_t found = 0;

        g_assert_nonnull(d);
        while (!found && (de = readdir(d))) {
                g_autofree char *path = NULL, *env = NULL;
                gsize n;

                if (atoi(de->d_name) <= 0)
                        continue;
                path = g_strdup_printf("/proc/%s/environ", de->d_name);
                if (!g_file_get_contents(path, &env, &n, NULL))
                        continue;
                for (gsize i = 0; i < n; i += strlen(env + i) + 1)
                        if (g_str_equal(env + i, needle))
                                found = atoi(de->d_name);
        }
        closedir(d);
        g_assert_cmpint(found, >, 0);
        return found;
}

static unsigned long first_number(const char *s) {
        return strtoul(s, NULL, 10);
}

/* ---------------------------------------------------------------------------------------------------- */

static void test_own_uids(void) {
        const char *argv[] = { "/bin/sh", "-c", "id -u; id -un; id -g; id -gn; whoami; ps -o user= -p $$", NULL };
        g_autofree char *a = NULL, *b = NULL, *ua = NULL, *ub = NULL;
        g_auto(GStrv) la = NULL, lb = NULL;
        int ea = -1, eb = -1;

        a = remote_run("alice", argv, NULL, &ea, &ua);
        b = remote_run("bob", argv, NULL, &eb, &ub);
        g_assert_cmpint(ea, ==, 0);
        g_assert_cmpint(eb, ==, 0);
        la = g_strsplit(a, "\n", -1);
        lb = g_strsplit(b, "\n", -1);
        g_assert_cmpuint(g_strv_length(la), >=, 6);
        g_assert_cmpuint(g_strv_length(lb), >=, 6);
        /* a uid of the dynamic range (default 80000-89999), its own group, a name of its own */
        g_assert_cmpuint(first_number(la[0]), >=, 80000);
        g_assert_cmpuint(first_number(la[0]), <=, 89999);
        g_assert_cmpuint(first_number(lb[0]), >=, 80000);
        g_assert_cmpuint(first_number(lb[0]), <=, 89999);
        g_assert_cmpuint(first_number(la[0]), !=, first_number(lb[0]));
        g_assert_cmpstr(la[2], ==, la[0]);
        g_assert_cmpstr(lb[2], ==, lb[0]);
        for (int i = 1; i <= 5; i += (i == 1 ? 2 : 1)) {
                g_assert_cmpstr(g_strstrip(la[i]), ==, "tw-alice");
                g_assert_cmpstr(g_strstrip(lb[i]), ==, "tw-bob");
        }
        g_assert_cmpstr(ua, ==, "tw-alice");
        g_assert_cmpstr(ub, ==, "tw-bob");
}

/* bob's job cannot read alice's job's environment nor signal it: not through its own PID namespace (the
 * default, and a remote job cannot turn it off), and not through /proc of the host either (carol may turn
 * PrivatePID off: her uid is not alice's, so the kernel refuses both). */
static void test_proc_and_signals(void) {
        g_autofree char *id = NULL, *ready = NULL, *script = NULL, *out = NULL, *out2 = NULL, *state = NULL;
        const char *argv[] = { "/bin/sh", "-c", NULL, NULL };
        const char *no_pidns[] = { "PrivatePID", "0", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        pid_t pid;
        int ex = -1;

        ready = alice_background("true", &id);
        pid = find_marked_pid();
        script = g_strdup_printf("cat /proc/%d/environ; r=$?; echo; echo read=$r; kill -0 %d; echo kill=$?; "
                                 "kill -KILL %d; echo kill9=$?", (int) pid, (int) pid, (int) pid);
        argv[2] = script;

        /* bob may not leave his PID namespace */
        g_assert_cmpint(remote_start("bob", argv, NULL, no_pidns, NULL, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);

        out = remote_run("bob", argv, NULL, &ex, NULL);
        g_assert_null(strstr(out, marker));
        g_assert_null(strstr(out, "read=0"));
        g_assert_null(strstr(out, "kill=0"));
        g_assert_null(strstr(out, "kill9=0"));

        out2 = remote_run("carol", argv, no_pidns, &ex, NULL);
        g_assert_null(strstr(out2, marker));
        g_assert_nonnull(strstr(out2, "read=1"));
        g_assert_nonnull(strstr(out2, "kill=1"));
        g_assert_nonnull(strstr(out2, "kill9=1"));

        /* alice's job is untouched */
        g_assert_cmpint(kill(pid, 0), ==, 0);
        state = remote_prop("alice", id, "State");
        g_assert_cmpstr(state, ==, "running");
        remote_stop("alice", id);
}

/* alice's /dev/shm file is invisible to bob's job (PrivateTmp, which remote jobs always get, includes a
 * private /dev/shm: teleworker-exec). */
static void test_dev_shm(void) {
        g_autofree char *name = g_strdup_printf("/dev/shm/tn-%s", marker);
        g_autofree char *setup = g_strdup_printf("echo alice > %s", name);
        g_autofree char *script = g_strdup_printf("ls -a /dev/shm; test -e %s && echo SEEN || echo unseen", name);
        const char *argv[] = { "/bin/sh", "-c", script, NULL };
        g_autofree char *id = NULL, *ready = NULL, *out = NULL;
        int ex = -1;

        ready = alice_background(setup, &id);
        out = remote_run("bob", argv, NULL, &ex, NULL);
        remote_stop("alice", id);
        (void) unlink(name); /* without a private /dev/shm the file is the testbed's */
        g_assert_nonnull(strstr(out, "unseen"));
        g_assert_null(strstr(out, "SEEN"));
}

/* A remote job calling the local D-Bus API acts as its own principal: List shows only alice's jobs (bob's
 * exist), and the job's Starts count against its principal's max_jobs (erin: 2, the job itself is one). */
static void test_job_calls_as_principal(void) {
        const char *list[] = { "/bin/sh", "-c", "busctl --system call org.teleworker.worker1 /org/teleworker/worker1 "
                               "org.teleworker.worker1.Manager List 2>&1", NULL };
        const char *start2[] = { "/bin/sh", "-c",
                                 "for i in 1 2; do busctl --system call org.teleworker.worker1 /org/teleworker/worker1 "
                                 "org.teleworker.worker1.Manager Start 'asassa{sv}' 2 /bin/sleep 30 0 '' 0 2>&1; "
                                 "echo start$i=$?; done", NULL };
        const char *hello[] = { "/bin/echo", "bob was here", NULL };
        g_autofree char *bob_id = NULL, *alice_id = NULL, *ready = NULL, *out = NULL, *out2 = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *p;
        int ex = -1;

        g_assert_cmpint(remote_start("bob", hello, NULL, NULL, &bob_id, &e), ==, 0);
        remote_wait("bob", bob_id, &ex, NULL);
        ready = alice_background("true", &alice_id);

        out = remote_run("alice", list, NULL, &ex, NULL);
        g_assert_cmpint(ex, ==, 0);
        g_assert_true(g_str_has_prefix(out, "aa{sv} "));
        g_assert_nonnull(strstr(out, alice_id));
        g_assert_null(strstr(out, bob_id));
        for (p = strstr(out, "\"Owner\" s \""); p; p = strstr(p + 1, "\"Owner\" s \""))
                g_assert_true(g_str_has_prefix(p, "\"Owner\" s \"alice\""));
        remote_stop("alice", alice_id);

        out2 = remote_run("erin", start2, NULL, &ex, NULL);
        g_assert_nonnull(strstr(out2, "start1=0"));
        g_assert_nonnull(strstr(out2, "start2=1"));
        g_assert_nonnull(strstr(out2, "the most the policy allows")); /* TooManyJobs */
        /* the job it started is erin's and runs as erin's own account */
        p = strstr(out2, "so \""); /* busctl: so "<id>" "<path>" */
        g_assert_nonnull(p);
        {
                g_autofree char *child = g_strndup(p + 4, 36);
                g_autofree char *owner = remote_prop("erin", child, "Owner");
                g_autofree char *user = remote_prop("erin", child, "User");
                g_assert_cmpstr(owner, ==, "erin");
                g_assert_cmpstr(user, ==, "tw-erin");
                remote_stop("erin", child);
        }
}

static void assert_refused(const char *principal, const char *const *opts, const char *error_name) {
        const char *argv[] = { "/bin/true", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;

        g_assert_cmpint(remote_start(principal, argv, NULL, opts, NULL, &e), <, 0);
        g_test_message("%s: %s: %s", principal, e.name, e.message);
        g_assert_cmpstr(e.name, ==, error_name);
        sd_bus_error_free(&e);
}

static void test_isolation_mandatory(void) {
        const char *no_pid[] = { "PrivatePID", "0", NULL }, *no_tmp[] = { "PrivateTmp", "0", NULL };
        const char *argv[] = { "/bin/sh", "-c", "echo $$", NULL };
        g_autofree char *out = NULL;
        int ex = -1;

        assert_refused("alice", no_pid, "org.freedesktop.DBus.Error.AccessDenied");
        assert_refused("alice", no_tmp, "org.freedesktop.DBus.Error.AccessDenied");
        /* a principal the policy allows it (isolation_optional) */
        out = remote_run("carol", argv, no_pid, &ex, NULL);
        g_assert_cmpint(ex, ==, 0);
        g_assert_cmpint(atoi(out), >, 2); /* a host PID */
}

/* A certificate CN that names a system account: root (whose policy entry gives the network) or uid < 1000. */
static void test_system_names(void) {
        const char *names[] = { "root", "daemon", "nobody" };
        const char *argv[] = { "/bin/true", NULL };

        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                struct passwd *pw = getpwnam(names[i]);

                if (!pw || (pw->pw_uid >= 1000 && !g_str_equal(names[i], "root")))
                        continue; /* nobody is 65534: not a system account by this rule */
                g_assert_cmpint(sd_bus_call_method(gw, DEST, PATH, REMOTE, "ListAs", &e, &reply, "sb", names[i], 0),
                                <, 0);
                g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
                sd_bus_error_free(&e);
                assert_refused(names[i], NULL, "org.freedesktop.DBus.Error.AccessDenied");
        }
        {
                /* a regular account's name stays a valid principal (one name space, docs/design.md) */
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                g_assert_cmpint(sd_bus_call_method(gw, DEST, PATH, REMOTE, "ListAs", &e, &reply, "sb", "tbuser1", 0),
                                >=, 0);
                sd_bus_message_unref(reply);
        }
        (void) argv;
}

/* dave's profile "small" is locked: no escape to Profile=default, no limit above the profile's. */
static void test_profile_locked(void) {
        const char *dflt[] = { "Profile", "default", NULL }, *more_mem[] = { "MemoryMax", "134217728", NULL };
        const char *argv[] = { "/bin/true", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL, *profile = NULL;
        int ex = -1;

        assert_refused("dave", dflt, "org.freedesktop.DBus.Error.AccessDenied");
        assert_refused("dave", more_mem, "org.teleworker.worker1.Error.LimitExceeded");
        g_assert_cmpint(remote_start("dave", argv, NULL, NULL, &id, &e), ==, 0);
        remote_wait("dave", id, &ex, NULL);
        profile = remote_prop("dave", id, "Profile");
        g_assert_cmpstr(profile, ==, "small");
}

/* alice's uid is hers for good: the same after the daemon restarts, kept in the state directory. */
static void test_uid_survives_restart(void) {
        const char *argv[] = { "/usr/bin/id", "-u", NULL };
        const char *unit = g_getenv("TELEWORKER_TEST_UNIT"), *state = g_getenv("TELEWORKER_TEST_STATE_DIR");
        const char *restart[] = { "systemctl", "restart", unit ? unit : "teleworkerd.service", NULL };
        g_autofree char *before = NULL, *after = NULL, *file = NULL, *saved = NULL;
        int ex = -1, status;

        before = remote_run("alice", argv, NULL, &ex, NULL);
        g_assert_cmpint(ex, ==, 0);
        if (state) {
                file = g_strdup_printf("%s/dynamic-users/p-alice", state);
                g_assert_true(g_file_get_contents(file, &saved, NULL, NULL));
                g_assert_cmpuint(first_number(saved), ==, first_number(before));
        }
        g_assert_true(g_spawn_sync(NULL, (char **) restart, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                                   NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        for (int i = 0; i < 600; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                gw_reconnect();
                if (sd_bus_call_method(gw, DEST, PATH, REMOTE, "ListAs", &e, &reply, "sb", "alice", 0) >= 0) {
                        sd_bus_message_unref(reply);
                        break;
                }
                sd_bus_error_free(&e);
                g_usleep(50000);
        }
        after = remote_run("alice", argv, NULL, &ex, NULL);
        g_assert_cmpint(ex, ==, 0);
        g_assert_cmpstr(after, ==, before);
}

int main(int argc, char **argv) {
        int r;

        g_test_init(&argc, &argv, NULL);
        gw_reconnect();
        if (!tb_daemon_present(gw))
                return 0;
        marker = g_strdup_printf("tn%08x%08x", g_random_int(), g_random_int());
        g_test_add_func("/tenants/own-uids", test_own_uids);
        g_test_add_func("/tenants/proc-and-signals", test_proc_and_signals);
        g_test_add_func("/tenants/dev-shm", test_dev_shm);
        g_test_add_func("/tenants/job-calls-as-principal", test_job_calls_as_principal);
        g_test_add_func("/tenants/isolation-mandatory", test_isolation_mandatory);
        g_test_add_func("/tenants/system-names", test_system_names);
        g_test_add_func("/tenants/profile-locked", test_profile_locked);
        g_test_add_func("/tenants/uid-survives-restart", test_uid_survives_restart);
        r = g_test_run();
        sd_bus_flush_close_unref(gw);
        g_free(marker);
        return r;
}
