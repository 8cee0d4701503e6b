/* SPDX-License-Identifier: MIT */
/* test-caps - what one principal may hold of what everyone shares (issue #13): open output readers, running
 * and retained jobs, spool bytes, the daemon's fds; administrators keep a reserve; 20,000 readers go at once
 * without stalling the daemon. Runs inside the testbed as root with teleworkerd running (tests/integration/run-inside.sh); each
 * test installs its policy over the test one (TELEWORKER_TEST_CONFIG) and puts it back. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb-client.h"

#define DEST "org.teleworker.worker1"
#define PATH "/org/teleworker/worker1"
#define IFACE "org.teleworker.worker1.Manager"
#define ERR_TOO_MANY_READERS "org.teleworker.worker1.Error.TooManyReaders"
#define ERR_TOO_MANY_JOBS "org.teleworker.worker1.Error.TooManyJobs"
#define ERR_LIMIT_EXCEEDED "org.teleworker.worker1.Error.LimitExceeded"
#define ERR_NO_SUCH_JOB "org.teleworker.worker1.Error.NoSuchJob"
#define SETTLE_USEC (10 * G_USEC_PER_SEC)
#define RELEASE_READERS 20000
#define RELEASE_JOBS 5          /* 4096 readers per job at most */
#define IN_FLIGHT 64

static sd_bus *root_bus;
static char *orig_config;

static const char *const sleeper[] = { "/bin/sleep", "60", NULL };

/* ---------------------------------------------------------------------------------------------------- */
/* Policy */

/* The test policy with extra top-level keys and principal keys (JSON objects as text), and a marker profile
 * whose presence shows the daemon runs with it. NULL: back to the test policy. */
static void set_policy(const char *top, const char *principals) {
        const char *path = g_getenv("TELEWORKER_TEST_CONFIG");
        json_object *root, *profiles, *prins, *extra;
        gint64 deadline = g_get_monotonic_time() + SETTLE_USEC;
        bool want = top || principals;

        g_assert_nonnull(path);
        g_assert_nonnull(orig_config);
        if (!want) {
                g_assert_true(g_file_set_contents(path, orig_config, -1, NULL));
        } else {
                root = json_tokener_parse(orig_config);
                g_assert_nonnull(root);
                g_assert_true(json_object_object_get_ex(root, "profiles", &profiles));
                json_object_object_add(profiles, "capsmarker", json_tokener_parse("{ \"TasksMax\": 16 }"));
                if (top) {
                        extra = json_tokener_parse(top);
                        g_assert_nonnull(extra);
                        json_object_object_foreach(extra, k, v)
                                json_object_object_add(root, k, json_object_get(v));
                        json_object_put(extra);
                }
                if (principals) {
                        g_assert_true(json_object_object_get_ex(root, "principals", &prins));
                        extra = json_tokener_parse(principals);
                        g_assert_nonnull(extra);
                        json_object_object_foreach(extra, name, keys) {
                                json_object *p;
                                if (!json_object_object_get_ex(prins, name, &p)) {
                                        p = json_object_new_object();
                                        json_object_object_add(prins, name, p);
                                }
                                json_object_object_foreach(keys, k, v)
                                        json_object_object_add(p, k, json_object_get(v));
                        }
                        json_object_put(extra);
                }
                g_assert_true(g_file_set_contents(path, json_object_to_json_string(root), -1, NULL));
                json_object_put(root);
        }
        tb_reload_daemon();
        while (tb_profile_known(root_bus, "capsmarker") != want && g_get_monotonic_time() < deadline)
                g_usleep(50 * 1000);
        g_assert_cmpint(tb_profile_known(root_bus, "capsmarker"), ==, want);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Helpers */

static char *start_or_die(sd_bus *bus, const char *const *argv) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *id = NULL;

        if (tb_start(bus, argv, NULL, &id, &e) < 0)
                g_error("Start refused: %s: %s", e.name, e.message);
        return id;
}

/* Start must be refused with error name `name` and a message containing `part`. */
static void start_refused(sd_bus *bus, const char *const *argv, const char *name, const char *part) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), <, 0);
        g_test_message("refused as expected: %s: %s", e.name, e.message);
        g_assert_cmpstr(e.name, ==, name);
        g_assert_nonnull(strstr(e.message, part));
        sd_bus_error_free(&e);
}

static bool job_known(const char *id) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j;
        int r = tb_get(root_bus, id, &j, &e);

        if (r >= 0) {
                tb_job_clear(&j);
                return true;
        }
        g_assert_cmpstr(e.name, ==, ERR_NO_SUCH_JOB);
        sd_bus_error_free(&e);
        return false;
}

static void stop_and_wait(sd_bus *bus, const char *id) {
        TbJob j;

        g_assert_cmpint(tb_stop(bus, id, NULL), ==, 0);
        g_assert_cmpint(tb_wait(bus, id, &j, NULL), ==, 0);
        tb_job_clear(&j);
}

/* A job of bus's principal that prints text; its output read through an OpenOutput fd. */
static void start_and_read(sd_bus *bus, const char *who) {
        const char *argv[] = { "/bin/echo", who, NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = start_or_die(bus, argv);
        g_autofree char *expect = g_strdup_printf("%s\n", who);
        g_autoptr(GByteArray) out = NULL;
        TbJob j;
        int fd;

        g_assert_cmpint(tb_wait(bus, id, &j, NULL), ==, 0);
        tb_job_clear(&j);
        if (tb_open_output(bus, id, 0, true, &fd, &e) < 0)
                g_error("%s could not read its output: %s: %s", who, e.name, e.message);
        out = tb_read_all(fd);
        close(fd);
        g_assert_cmpmem(out->data, out->len, expect, strlen(expect));
}

/* Opens follow readers of id until refused; returns how many it got (fds appended to fds) and the error. */
static unsigned open_until_refused(sd_bus *bus, const char *id, GArray *fds, unsigned max, sd_bus_error *e) {
        unsigned n = 0;

        for (; n < max; n++) {
                int fd;
                if (tb_open_output(bus, id, 0, true, &fd, e) < 0)
                        break;
                g_array_append_val(fds, fd);
        }
        return n;
}

static void close_all(GArray *fds) {
        for (guint i = 0; i < fds->len; i++)
                close(g_array_index(fds, int, i));
        g_array_set_size(fds, 0);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Readers */

/* StartWithOutput of /bin/true: the call's error, or 0. */
static int start_with_output(sd_bus *bus, sd_bus_error *e) {
        const char *const argv[] = { "/bin/true", NULL };
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "StartWithOutput"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "assa{sv}", 0, "", 0), >=, 0);
        r = sd_bus_call(bus, m, 0, e, &reply);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r;
}

static unsigned count_jobs(sd_bus *bus) {
        g_autoptr(GPtrArray) ids = NULL;
        unsigned n;

        g_assert_cmpint(tb_list(bus, &ids, NULL), >=, 0);
        n = ids->len;
        return n;
}

/* A user opens readers until refused (its max_readers); an administrator still starts a job and reads its
 * output, and so does another user. When users together hold their whole share (max_readers of the
 * daemon), users are refused and administrators still read. A closed reader frees its place. */
static void test_reader_flood(void) {
        sd_bus *u1 = tb_bus_as(TB_UID_USER1), *u2 = tb_bus_as(TB_UID_USER2), *adm = tb_bus_as(TB_UID_ADMIN);
        g_autoptr(GArray) fds1 = g_array_new(false, false, sizeof(int));
        g_autoptr(GArray) fds2 = g_array_new(false, false, sizeof(int));
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *q1 = NULL, *q2 = NULL;
        unsigned n;
        int fd;

        set_policy("{ \"max_readers\": 40 }", "{ \"*\": { \"max_readers\": 25 } }");
        q1 = start_or_die(u1, sleeper);
        q2 = start_or_die(u2, sleeper);

        /* one user: its own cap */
        n = open_until_refused(u1, q1, fds1, 1000, &e);
        g_test_message("tbuser1 got %u readers, then %s: %s", n, e.name, e.message);
        g_assert_cmpuint(n, ==, 25);
        g_assert_cmpstr(e.name, ==, ERR_TOO_MANY_READERS);
        g_assert_nonnull(strstr(e.message, "max_readers"));
        sd_bus_error_free(&e);
        /* StartWithOutput is refused before it starts a job */
        n = count_jobs(u1);
        g_assert_cmpint(start_with_output(u1, &e), <, 0);
        g_assert_cmpstr(e.name, ==, ERR_TOO_MANY_READERS);
        sd_bus_error_free(&e);
        g_assert_cmpuint(count_jobs(u1), ==, n);
        start_and_read(adm, "admin");
        start_and_read(u2, "tbuser2");

        /* all users together: the daemon's share for users; administrators keep their reserve */
        n = open_until_refused(u2, q2, fds2, 1000, &e);
        g_test_message("tbuser2 got %u readers, then %s: %s", n, e.name, e.message);
        g_assert_cmpuint(n, ==, 15);
        g_assert_cmpstr(e.name, ==, ERR_TOO_MANY_READERS);
        g_assert_nonnull(strstr(e.message, "kept for administrators"));
        sd_bus_error_free(&e);
        start_and_read(adm, "admin-again");
        g_assert_cmpint(tb_open_output(root_bus, q1, 0, false, &fd, NULL), ==, 0);
        close(fd);

        /* a reader that goes frees its place (the daemon sees the hang-up) */
        close(g_array_index(fds1, int, fds1->len - 1));
        g_array_set_size(fds1, fds1->len - 1);
        for (int i = 0; i < 100 && tb_open_output(u1, q1, 0, true, &fd, NULL) < 0; i++)
                g_usleep(20 * 1000);
        g_assert_cmpint(fcntl(fd, F_GETFD), >=, 0);
        g_array_append_val(fds1, fd);

        close_all(fds1);
        close_all(fds2);
        stop_and_wait(u1, q1);
        stop_and_wait(u2, q2);
        set_policy(NULL, NULL);
        sd_bus_unref(u1);
        sd_bus_unref(u2);
        sd_bus_unref(adm);
}

typedef struct OpenState {
        unsigned opened, in_flight, failed;
} OpenState;

static int on_opened(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        OpenState *st = userdata;
        int fd;

        st->in_flight--;
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "h", &fd) < 0) {
                if (st->failed++ == 0)
                        fprintf(stderr, "OpenOutput failed: %s\n", sd_bus_message_get_error(m)->message);
                return 0;
        }
        /* the message owns fd: keep a copy, held until this process exits */
        if (fcntl(fd, F_DUPFD_CLOEXEC, 3) < 0)
                st->failed++;
        else
                st->opened++;
        return 0;
}

/* In a child (the test's RLIMIT_NOFILE is below 20,000 in the testbed): opens n follow readers of id over
 * its own connection, pipelined, says so on ready, and exits when go reaches EOF; exiting closes them all at
 * once. Exit status 0 if it got all n. */
static pid_t spawn_holder(const char *id, unsigned n, int ready[2], int go[2]) {
        pid_t pid = fork();

        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                OpenState st = {};
                struct rlimit rl;
                sd_bus *bus;
                char c = 0;

                close(ready[0]);
                close(go[1]);

                if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                        _exit(2);
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || sd_bus_open_system(&bus) < 0)
                        _exit(2);
                for (unsigned i = 0; i < n || st.in_flight > 0;) {
                        if (i < n && st.in_flight < IN_FLIGHT) {
                                if (sd_bus_call_method_async(bus, NULL, DEST, PATH, IFACE, "OpenOutput", on_opened,
                                                             &st, "stb", id, (uint64_t) 0, 1) < 0)
                                        _exit(3);
                                st.in_flight++;
                                i++;
                                continue;
                        }
                        if (sd_bus_process(bus, NULL) < 0 || sd_bus_wait(bus, 100 * 1000) < 0)
                                _exit(3);
                }
                if (write(ready[1], &c, 1) != 1)
                        _exit(4);
                while (read(go[0], &c, 1) > 0)
                        ;
                _exit(st.opened == n && st.failed == 0 ? 0 : 5);
        }
        return pid;
}

static int daemon_pid(void) {
        const char *unit = g_getenv("TELEWORKER_TEST_UNIT") ?: "teleworkerd.service";
        const char *argv[] = { "systemctl", "show", "-P", "MainPID", unit, NULL };
        g_autofree char *out = NULL;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, NULL, NULL));
        g_assert_cmpint(atoi(out), >, 0);
        return atoi(out);
}

/* The daemon's soft RLIMIT_NOFILE: it may hold half of it in readers. */
static unsigned daemon_nofile(void) {
        struct rlimit rl;

        g_assert_cmpint(prlimit(daemon_pid(), RLIMIT_NOFILE, NULL, &rl), ==, 0);
        return rl.rlim_cur == RLIM_INFINITY ? UINT_MAX : (unsigned) rl.rlim_cur;
}

static unsigned daemon_fds(void) {
        g_autofree char *dir = NULL;
        GDir *d;
        unsigned n = 0;

        dir = g_strdup_printf("/proc/%d/fd", daemon_pid());
        d = g_dir_open(dir, 0, NULL);
        g_assert_nonnull(d);
        while (g_dir_read_name(d))
                n++;
        g_dir_close(d);
        return n;
}

/* 20,000 followers (of quiet jobs) closed at once: the daemon frees them in well under a second and answers
 * the next call. Before, each loop iteration re-read every pending hang-up and freed one: about a minute. */
static void test_release_many(void) {
        /* 20,000, or what the daemon's RLIMIT_NOFILE lets it hold (the namespace testbed's hard limit is 20,000
         * fds; the unit's LimitNOFILE=65536 gives it 32,768 readers elsewhere) */
        unsigned n = MIN(RELEASE_READERS, daemon_nofile() / 2 - 100) / RELEASE_JOBS * RELEASE_JOBS;
        char *ids[RELEASE_JOBS] = {};
        pid_t holders[RELEASE_JOBS];
        int ready[2], go[2];
        unsigned before, after = 0;
        gint64 t0, t1;
        TbJob j;
        char c;

        for (unsigned i = 0; i < RELEASE_JOBS; i++)
                ids[i] = start_or_die(root_bus, sleeper);
        before = daemon_fds();

        g_assert_cmpint(pipe2(ready, O_CLOEXEC), ==, 0);
        g_assert_cmpint(pipe2(go, O_CLOEXEC), ==, 0);
        t0 = g_get_monotonic_time();
        for (unsigned i = 0; i < RELEASE_JOBS; i++)
                holders[i] = spawn_holder(ids[i], n / RELEASE_JOBS, ready, go);
        close(go[0]);
        close(ready[1]);
        for (unsigned i = 0; i < RELEASE_JOBS; i++)
                g_assert_cmpint(read(ready[0], &c, 1), ==, 1);
        close(ready[0]);
        g_test_message("opened %u readers in %.2f s; the daemon holds %u fds (%u before)", n,
                       (double) (g_get_monotonic_time() - t0) / 1e6, daemon_fds(), before);
        /* every reader is one fd of the daemon (a few of its other fds may have closed meanwhile) */
        g_assert_cmpuint(daemon_fds() + 64, >=, before + n);

        /* all holders exit at once: their fds close together */
        t0 = g_get_monotonic_time();
        close(go[1]);
        for (unsigned i = 0; i < RELEASE_JOBS; i++) {
                int status;
                g_assert_cmpint(waitpid(holders[i], &status, 0), ==, holders[i]);
                g_assert_true(WIFEXITED(status));
                g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        }
        g_assert_cmpint(tb_get(root_bus, ids[0], &j, NULL), ==, 0);
        t1 = g_get_monotonic_time();
        tb_job_clear(&j);
        g_test_message("GetJob answered %.3f s after %u readers were closed at once", (double) (t1 - t0) / 1e6, n);
        /* 1 s (times the testbed's slowdown). Quadratic, it was 8 s for 9,900 readers here and about a minute
         * for 20,000. */
        g_assert_cmpint(t1 - t0, <, (gint64) tb_slowdown() * G_USEC_PER_SEC);

        /* and every reader is gone from the daemon */
        for (int i = 0; i < 100 && (after = daemon_fds()) > before + 10; i++)
                g_usleep(20 * 1000);
        g_test_message("the daemon holds %u fds after the release", after);
        g_assert_cmpuint(after, <=, before + 10);

        for (unsigned i = 0; i < RELEASE_JOBS; i++) {
                stop_and_wait(root_bus, ids[i]);
                free(ids[i]);
        }
}

/* ---------------------------------------------------------------------------------------------------- */
/* InterfacesRemoved (ObjectManager) as another user hears it: the object paths, each with only the Job
 * interface named. */
static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        GPtrArray *paths = userdata;
        const char *path = NULL;
        char **ifaces = NULL;

        g_assert_cmpint(sd_bus_message_read(m, "o", &path), >, 0);
        g_assert_cmpint(sd_bus_message_read_strv(m, &ifaces), >, 0);
        g_assert_cmpuint(g_strv_length(ifaces), ==, 1);
        g_assert_cmpstr(ifaces[0], ==, "org.teleworker.worker1.Job");
        g_strfreev(ifaces);
        g_ptr_array_add(paths, g_strdup(path));
        return 0;
}

static bool paths_have_job(GPtrArray *paths, const char *id) {
        g_autofree char *hex = g_strdup(id);

        for (char *s = hex, *d = hex; ; s++)
                if (*s != '-' && !(*d++ = *s))
                        break;
        for (guint i = 0; i < paths->len; i++)
                if (g_str_has_suffix(paths->pdata[i], hex))
                        return true;
        return false;
}

/* Jobs */

/* max_jobs (running) and max_retained_jobs (in the table): refused with TooManyJobs and a message naming the
 * key; an administrator still starts. Past max_retained_jobs the principal's own oldest ended jobs go. */
static void test_job_caps(void) {
        sd_bus *u1 = tb_bus_as(TB_UID_USER1), *u2 = tb_bus_as(TB_UID_USER2), *adm = tb_bus_as(TB_UID_ADMIN);
        const char *const truth[] = { "/bin/true", NULL };
        char *run[3] = {}, *more[3] = {}, *other = NULL;
        TbJob j;

        set_policy(NULL, "{ \"tbuser1\": { \"max_jobs\": 4, \"max_retained_jobs\": 3 },"
                         "  \"tbuser2\": { \"max_jobs\": 2 } }");

        /* running */
        run[0] = start_or_die(u2, sleeper);
        run[1] = start_or_die(u2, sleeper);
        start_refused(u2, sleeper, ERR_TOO_MANY_JOBS, "max_jobs");
        other = start_or_die(adm, sleeper);
        stop_and_wait(adm, other);
        g_free(other);
        stop_and_wait(u2, run[0]);
        stop_and_wait(u2, run[1]);
        g_free(run[0]);
        g_free(run[1]);

        /* retained: three that have not ended fill tbuser1's share */
        for (int i = 0; i < 3; i++)
                run[i] = start_or_die(u1, sleeper);
        start_refused(u1, sleeper, ERR_TOO_MANY_JOBS, "max_retained_jobs");
        other = start_or_die(adm, sleeper);
        stop_and_wait(adm, other);
        g_free(other);
        other = start_or_die(u2, truth);        /* another user is not held to tbuser1's share */

        /* once they ended, tbuser1's oldest go first, and only tbuser1's; each leaves with InterfacesRemoved */
        g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func(g_free);
        sd_bus_slot *removed_slot = NULL;
        g_assert_cmpint(sd_bus_match_signal(u2, &removed_slot, "org.teleworker.worker1", "/org/teleworker/worker1",
                                            "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved",
                                            on_interfaces_removed, removed), >=, 0);
        for (int i = 0; i < 3; i++)
                stop_and_wait(u1, run[i]);
        for (int i = 0; i < 3; i++) {
                more[i] = start_or_die(u1, truth);
                g_assert_cmpint(tb_wait(u1, more[i], &j, NULL), ==, 0);
                tb_job_clear(&j);
                g_assert_false(job_known(run[i]));
                for (int k = i + 1; k < 3; k++)
                        g_assert_true(job_known(run[k]));
        }
        g_assert_true(job_known(other));
        {
                gint64 deadline = g_get_monotonic_time() + (gint64) 60 * G_USEC_PER_SEC * tb_slowdown();

                while (!(paths_have_job(removed, run[0]) && paths_have_job(removed, run[1]) &&
                         paths_have_job(removed, run[2]))) {
                        int r = sd_bus_process(u2, NULL);

                        g_assert_cmpint(r, >=, 0);
                        if (r == 0) {
                                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                                g_assert_cmpint(sd_bus_wait(u2, 1000000), >=, 0);
                        }
                }
                g_assert_false(paths_have_job(removed, other));
        }
        sd_bus_slot_unref(removed_slot);

        for (int i = 0; i < 3; i++) {
                g_free(run[i]);
                g_free(more[i]);
        }
        g_free(other);
        set_policy(NULL, NULL);
        sd_bus_unref(u1);
        sd_bus_unref(u2);
        sd_bus_unref(adm);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Spool */

static void wait_output_size(sd_bus *bus, const char *id, uint64_t size) {
        TbJob j = {};

        for (int i = 0; i < 250; i++) {
                tb_job_clear(&j);
                g_assert_cmpint(tb_get(bus, id, &j, NULL), ==, 0);
                if (j.output_size >= size)
                        break;
                g_usleep(20 * 1000);
        }
        g_assert_cmpuint(j.output_size, ==, size);
        tb_job_clear(&j);
}

static char *run_mib(sd_bus *bus) {
        const char *argv[] = { "/usr/bin/head", "-c", "1048576", "/dev/zero", NULL };
        char *id = start_or_die(bus, argv);
        TbJob j;

        g_assert_cmpint(tb_wait(bus, id, &j, NULL), ==, 0);
        tb_job_clear(&j);
        wait_output_size(bus, id, 1 << 20);     /* the end may come before the last bytes are spooled */
        return id;
}

/* A Start that writes nothing: the caps are applied before it. */
static void trigger(sd_bus *bus) {
        const char *const truth[] = { "/bin/true", NULL };
        g_autofree char *id = start_or_die(bus, truth);
        TbJob j;

        g_assert_cmpint(tb_wait(bus, id, &j, NULL), ==, 0);
        tb_job_clear(&j);
}

/* spool_max_bytes: over it, the oldest ended jobs go first (whole); when running jobs alone fill it, users
 * are refused with LimitExceeded and administrators still start. max_spool_bytes: a principal's share. */
static void test_spool_caps(void) {
        sd_bus *u2 = tb_bus_as(TB_UID_USER2), *adm = tb_bus_as(TB_UID_ADMIN);
        const char *const hold[] = { "/bin/sh", "-c", "head -c 1048576 /dev/zero; exec sleep 60", NULL };
        char *ids[4] = {}, *r1 = NULL, *r2 = NULL, *a = NULL;
        TbJob j;

        /* oldest ended first */
        set_policy("{ \"spool_max_bytes\": \"2560K\" }", NULL);
        for (int i = 0; i < 4; i++)
                ids[i] = run_mib(u2);
        trigger(u2);    /* a Start applies the cap: under it, before the new job */
        g_assert_false(job_known(ids[0]));
        g_assert_false(job_known(ids[1]));
        g_assert_true(job_known(ids[2]));
        g_assert_true(job_known(ids[3]));
        g_assert_cmpint(tb_get(u2, ids[3], &j, NULL), ==, 0);
        g_assert_cmpuint(j.output_size, ==, 1 << 20);
        tb_job_clear(&j);

        /* running jobs fill it: users wait, administrators do not */
        set_policy("{ \"spool_max_bytes\": \"1536K\" }", NULL);
        r1 = start_or_die(u2, hold);
        wait_output_size(u2, r1, 1 << 20);
        r2 = start_or_die(u2, hold);
        wait_output_size(u2, r2, 1 << 20);
        start_refused(u2, sleeper, ERR_LIMIT_EXCEEDED, "spool_max_bytes");
        a = start_or_die(adm, sleeper);
        stop_and_wait(adm, a);
        stop_and_wait(u2, r1);
        stop_and_wait(u2, r2);
        trigger(u2);    /* ended, they make room */
        g_assert_false(job_known(r1));

        /* a principal's share: its own oldest go, others' stay */
        set_policy(NULL, "{ \"tbuser2\": { \"max_spool_bytes\": \"2M\" } }");
        for (int i = 0; i < 4; i++) {
                g_free(ids[i]);
                ids[i] = run_mib(u2);
        }
        g_assert_false(job_known(ids[1]));
        g_assert_true(job_known(ids[2]));
        g_assert_true(job_known(ids[3]));

        for (int i = 0; i < 4; i++)
                g_free(ids[i]);
        g_free(r1);
        g_free(r2);
        g_free(a);
        set_policy(NULL, NULL);
        sd_bus_unref(u2);
        sd_bus_unref(adm);
}

/* The stream index counts in the spool share. A job alternating stdout and stderr makes a 16-byte index
 * record per run of one stream, far more than its output: 100 pairs of 1-byte writes, a pause after each,
 * give 200 bytes of output and about 3 KiB of index. With the share set between the output alone and output
 * plus index, the user's next Start is refused, and the message counts both (the index file's size read from
 * the state directory). Counting the output alone, the Start went through. */
static void test_spool_index(void) {
        sd_bus *u2 = tb_bus_as(TB_UID_USER2);
        const char *const flip[] = { "/bin/sh", "-c",
                "i=0; while [ $i -lt 100 ]; do printf o; printf e >&2; sleep 0.02; i=$((i+1)); done; "
                "exec sleep 60", NULL };
        const char *state = g_getenv("TELEWORKER_TEST_STATE_DIR");
        gint64 deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC * tb_slowdown();
        g_autofree char *id = NULL, *idx = NULL, *top = NULL, *want = NULL;
        struct stat st;
        TbJob j = {};

        g_assert_nonnull(state);
        id = start_or_die(u2, flip);
        do {
                tb_job_clear(&j);
                g_assert_cmpint(tb_get(u2, id, &j, NULL), ==, 0);
                if (j.output_size >= 200)
                        break;
                g_usleep(50 * 1000);
        } while (g_get_monotonic_time() < deadline);
        g_assert_cmpuint(j.output_size, ==, 200);
        tb_job_clear(&j);

        idx = g_strdup_printf("%s/output/%s.out.idx", state, id);
        g_assert_cmpint(stat(idx, &st), ==, 0);
        g_test_message("200 bytes of output, %lld bytes of index", (long long) st.st_size);
        g_assert_cmpint(st.st_size, >, 16);
        top = g_strdup_printf("{ \"tbuser2\": { \"max_spool_bytes\": %lld } }", (long long) (200 + st.st_size / 2));
        set_policy(NULL, top);
        want = g_strdup_printf("hold %lld bytes of output and index", (long long) (200 + st.st_size));
        start_refused(u2, sleeper, ERR_LIMIT_EXCEEDED, want);

        stop_and_wait(u2, id);
        set_policy(NULL, NULL);
        sd_bus_unref(u2);
}

/* ---------------------------------------------------------------------------------------------------- */
/* File descriptors */

/* Whatever mix of jobs and readers users hold, the last 1/16 of the daemon's RLIMIT_NOFILE stays for
 * administrators. The daemon reads the limit at each check, so lowering it (prlimit, as an operator could)
 * makes the test small: a user starts jobs until refused, then an administrator still starts a job and reads
 * its output, and a user's OpenOutput is refused too. */
static void test_fd_reserve(void) {
        sd_bus *u1 = tb_bus_as(TB_UID_USER1), *adm = tb_bus_as(TB_UID_ADMIN);
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GArray) fds = g_array_new(false, false, sizeof(int));
        sd_bus_error e = SD_BUS_ERROR_NULL;
        struct rlimit orig, low;
        unsigned n;
        int pid = daemon_pid(), fd;
        char *id = NULL;

        set_policy(NULL, "{ \"tbuser1\": { \"max_jobs\": 1000, \"max_readers\": 100000 } }");
        g_assert_cmpint(prlimit(pid, RLIMIT_NOFILE, NULL, &orig), ==, 0);
        low = (struct rlimit) { .rlim_cur = daemon_fds() + 400, .rlim_max = orig.rlim_max };
        g_assert_cmpint(prlimit(pid, RLIMIT_NOFILE, &low, NULL), ==, 0);

        for (unsigned i = 0; i < 200; i++) {
                if (tb_start(u1, sleeper, NULL, &id, &e) < 0)
                        break;
                g_ptr_array_add(ids, id);
        }
        g_test_message("limit %lu: tbuser1 started %u jobs, then %s: %s (the daemon holds %u fds)",
                       (unsigned long) low.rlim_cur, ids->len, e.name, e.message, daemon_fds());
        g_assert_cmpstr(e.name, ==, ERR_TOO_MANY_JOBS);
        g_assert_nonnull(strstr(e.message, "file descriptors"));
        sd_bus_error_free(&e);
        g_assert_cmpuint(ids->len, >, 10);
        g_assert_cmpuint(ids->len, <, 200);

        /* what is left below the reserve is smaller than a job: a few readers, then no more */
        n = open_until_refused(u1, ids->pdata[0], fds, 100, &e);
        g_test_message("then %u readers, then %s: %s", n, e.name, e.message);
        g_assert_cmpuint(n, <, 10);
        g_assert_cmpstr(e.name, ==, ERR_TOO_MANY_READERS);
        g_assert_nonnull(strstr(e.message, "file descriptors"));
        sd_bus_error_free(&e);
        start_and_read(adm, "admin");
        g_assert_cmpint(tb_open_output(adm, ids->pdata[0], 0, false, &fd, NULL), ==, 0);
        close(fd);

        g_assert_cmpint(prlimit(pid, RLIMIT_NOFILE, &orig, NULL), ==, 0);
        close_all(fds);
        for (guint i = 0; i < ids->len; i++)
                g_assert_cmpint(tb_stop(u1, ids->pdata[i], NULL), ==, 0);
        set_policy(NULL, NULL);
        sd_bus_unref(u1);
        sd_bus_unref(adm);
}

int main(int argc, char **argv) {
        const char *path;

        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;
        path = g_getenv("TELEWORKER_TEST_CONFIG");
        if (!path || !g_file_get_contents(path, &orig_config, NULL, NULL)) {
                g_printerr("TELEWORKER_TEST_CONFIG not readable\n");
                return 77;
        }

        g_test_add_func("/caps/reader-flood", test_reader_flood);
        g_test_add_func("/caps/release-many", test_release_many);
        g_test_add_func("/caps/jobs", test_job_caps);
        g_test_add_func("/caps/spool", test_spool_caps);
        g_test_add_func("/caps/spool-index", test_spool_index);
        g_test_add_func("/caps/fd-reserve", test_fd_reserve);
        return g_test_run();
}
