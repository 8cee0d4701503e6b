/* SPDX-License-Identifier: MIT */
/* test-attacks - issue #12 tried as an attacker would, against the real teleworkerd on real systemd:
 *  - a job's environment (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH, GCONV_PATH), given by a local user or by a
 *    remote principal through the Remote interface, reaches the job (its library leaves a user mark) but
 *    never a process running as root: no root mark, and no root process of the job's scope has a caller's
 *    variable in its environment or a caller's library mapped;
 *  - Start answers "/root/<existing>" and "/root/<nonexistent>" (as argv[0] and as cwd) identically for a
 *    user who cannot look into /root (the existence oracle);
 *  - the policy's allow-list still holds now that argv[0] is resolved in the job's child;
 *  - a job with PrivateTmp gets its own /dev/shm.
 * The attacker's library is attack-mark.c (built beside this test), copied to /srv/tw-attacks inside the
 * testbed, where every account can read it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb-client.h"

#define DIR_ATTACK "/srv/tw-attacks"
#define DIR_MARKS DIR_ATTACK "/marks"
#define MARK_SO DIR_ATTACK "/mark.so"
#define DIR_LIB DIR_ATTACK "/lib"
#define DIR_GCONV DIR_ATTACK "/gconv"
#define DIR_ORACLE "/root/tw-attack-oracle"

#define DEST "org.teleworker.worker1"
#define PATH "/org/teleworker/worker1"

static sd_bus *root_bus;

/* ---- set-up ---- */

static void copy_file(const char *from, const char *to, mode_t mode) {
        g_autofree char *data = NULL;
        gsize n;

        g_assert_true(g_file_get_contents(from, &data, &n, NULL));
        g_assert_true(g_file_set_contents(to, data, (gssize) n, NULL));
        g_assert_cmpint(chmod(to, mode), ==, 0);
}

/* The path of the libc this test runs with: the one a shadowing LD_LIBRARY_PATH directory copies. */
static char *libc_path(void) {
        g_autofree char *maps = NULL;
        g_auto(GStrv) lines = NULL;

        g_assert_true(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
        lines = g_strsplit(maps, "\n", -1);
        for (char **l = lines; *l; l++) {
                const char *p = strchr(*l, '/');
                if (p && g_str_has_suffix(p, "/libc.so.6"))
                        return g_strdup(p);
        }
        g_assert_not_reached();
}

static void setup_attack_files(void) {
        g_autofree char *libc = libc_path();
        g_autoptr(GDir) marks = NULL;
        const char *name;

        g_assert_cmpint(g_mkdir_with_parents(DIR_MARKS, 0755), ==, 0);
        g_assert_cmpint(chmod(DIR_ATTACK, 0755), ==, 0);
        g_assert_cmpint(chmod(DIR_MARKS, 01777), ==, 0);
        marks = g_dir_open(DIR_MARKS, 0, NULL);
        while ((name = g_dir_read_name(marks))) {
                g_autofree char *p = g_build_filename(DIR_MARKS, name, NULL);
                g_assert_cmpint(unlink(p), ==, 0);
        }
        copy_file(ATTACK_MARK_SO, MARK_SO, 0755);

        /* LD_LIBRARY_PATH: a working copy of libc that every dynamically linked process would map */
        g_assert_cmpint(g_mkdir_with_parents(DIR_LIB, 0755), ==, 0);
        copy_file(libc, DIR_LIB "/libc.so.6", 0755);

        /* GCONV_PATH: a charset whose converter is the mark library (loaded when iconv asks for it) */
        g_assert_cmpint(g_mkdir_with_parents(DIR_GCONV, 0755), ==, 0);
        copy_file(ATTACK_MARK_SO, DIR_GCONV "/twmark.so", 0755);
        g_assert_true(g_file_set_contents(DIR_GCONV "/gconv-modules",
                                          "module TWMARK// INTERNAL twmark 1\n"
                                          "module INTERNAL TWMARK// twmark 1\n", -1, NULL));
        g_assert_cmpint(chmod(DIR_GCONV "/gconv-modules", 0644), ==, 0);
}

/* Marks of tag: how many a user left, and how many root left (must be none). */
static void count_marks(const char *tag, unsigned *ret_user, unsigned *ret_root) {
        g_autofree char *pu = g_strdup_printf(DIR_MARKS "/%s.*.user.*", tag), *pr = g_strdup_printf(DIR_MARKS "/%s.*.root.*", tag);
        glob_t g = {};

        *ret_user = *ret_root = 0;
        if (glob(pu, 0, NULL, &g) == 0)
                *ret_user = (unsigned) g.gl_pathc;
        globfree(&g);
        if (glob(pr, 0, NULL, &g) == 0) {
                *ret_root = (unsigned) g.gl_pathc;
                for (size_t i = 0; i < g.gl_pathc; i++)
                        g_test_message("ROOT MARK: %s", g.gl_pathv[i]);
        }
        globfree(&g);
}

/* ---- starting jobs ---- */

static void append_job_args(sd_bus_message *m, const char *const *argv, const char *const *env, const char *cwd) {
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) env), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", cwd ? cwd : ""), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 0), >=, 0);
}

/* Start as the bus's user with env and cwd; the job id, or NULL with *e set. */
static char *start_local(sd_bus *bus, const char *const *argv, const char *const *env, const char *cwd,
                         sd_bus_error *e) {
        sd_bus_message *m = NULL, *reply = NULL;
        const char *id;
        char *ret = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, DEST ".Manager", "Start"), >=, 0);
        append_job_args(m, argv, env, cwd);
        if (sd_bus_call(bus, m, 60 * 1000 * 1000, e, &reply) >= 0) {
                g_assert_cmpint(sd_bus_message_read(reply, "s", &id), >=, 0);
                ret = g_strdup(id);
        }
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return ret;
}

static uid_t gateway_uid(void) {
        struct passwd *pw = getpwnam("teleworker-gw");

        g_assert_nonnull(pw);
        return pw->pw_uid;
}

/* StartAs a remote principal, as the gateway's account does for an HTTPS client. */
static char *start_remote(const char *principal, const char *const *argv, const char *const *env) {
        sd_bus *gw = tb_bus_as(gateway_uid());
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *id;
        char *ret;

        g_assert_cmpint(sd_bus_message_new_method_call(gw, &m, DEST, PATH, DEST ".Remote", "StartAs"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "sb", principal, 0), >=, 0);
        append_job_args(m, argv, env, NULL);
        if (sd_bus_call(gw, m, 60 * 1000 * 1000, &e, &reply) < 0)
                g_error("StartAs: %s: %s", e.name, e.message);
        g_assert_cmpint(sd_bus_message_read(reply, "s", &id), >=, 0);
        ret = g_strdup(id);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        sd_bus_unref(gw);
        return ret;
}

static void wait_success(const char *id) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j;

        g_assert_cmpint(tb_wait(root_bus, id, &j, &e), ==, 0);
        g_test_message("job %s: %s exit %d", id, j.state, j.exit_code);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
}

/* ---- the processes of a job's scope ---- */

static bool proc_in_unit(const char *pid, const char *unit) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cgroup", pid), *cg = NULL, *needle = g_strdup_printf("/%s", unit);

        return g_file_get_contents(path, &cg, NULL, NULL) && strstr(cg, needle);
}

static uid_t proc_euid(const char *pid) {
        g_autofree char *path = g_strdup_printf("/proc/%s/status", pid), *st = NULL;
        unsigned ruid, euid;
        const char *l;

        if (!g_file_get_contents(path, &st, NULL, NULL) || !(l = strstr(st, "\nUid:")) ||
            sscanf(l, "\nUid: %u %u", &ruid, &euid) != 2)
                return (uid_t) -1;
        return euid;
}

static bool proc_file_has(const char *pid, const char *file, const char *needle) {
        g_autofree char *path = g_strdup_printf("/proc/%s/%s", pid, file), *data = NULL;
        gsize n;

        if (!g_file_get_contents(path, &data, &n, NULL))
                return false;
        return memmem(data, n, needle, strlen(needle)) != NULL;
}

/* Every process of the job's scope: a root process has none of the caller's environment and maps none of
 * the caller's files; some process of the job's user maps lib_needle, if given (the variable reached the
 * job). Stops the job. */
static void check_scope_processes(const char *id, const char *lib_needle) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        unsigned root_procs = 0, user_maps = 0;
        g_autoptr(GDir) proc = NULL;
        const char *pid;
        TbJob j;

        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "running");
        proc = g_dir_open("/proc", 0, NULL);
        while ((pid = g_dir_read_name(proc))) {
                if (!g_ascii_isdigit(pid[0]) || !proc_in_unit(pid, j.unit))
                        continue;
                if (proc_euid(pid) == 0) {
                        root_procs++;
                        g_assert_false(proc_file_has(pid, "environ", "TW_ATTACK_TAG="));
                        g_assert_false(proc_file_has(pid, "environ", "LD_"));
                        g_assert_false(proc_file_has(pid, "environ", "GCONV_PATH"));
                        g_assert_false(proc_file_has(pid, "maps", DIR_ATTACK));
                } else if (lib_needle && proc_file_has(pid, "maps", lib_needle))
                        user_maps++;
        }
        g_test_message("scope of %s: %u root processes, %u user processes map %s", id, root_procs, user_maps,
                       lib_needle);
        /* the reaper at least is root; the job mapped the caller's library as its own user */
        g_assert_cmpuint(root_procs, >=, 1);
        if (lib_needle)
                g_assert_cmpuint(user_maps, >=, 1);
        g_assert_cmpint(tb_stop(root_bus, id, &e), ==, 0);
        tb_job_clear(&j);
}

/* Waits until a process of the job's user maps needle (the job has exec'd and loaded it). */
static void wait_job_maps(const char *id, const char *needle) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j;

        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
        for (int i = 0; i < 500; i++) {
                g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
                const char *pid;
                while ((pid = g_dir_read_name(proc)))
                        if (g_ascii_isdigit(pid[0]) && proc_in_unit(pid, j.unit) && proc_euid(pid) != 0 &&
                            proc_file_has(pid, "maps", needle)) {
                                tb_job_clear(&j);
                                return;
                        }
                g_usleep(10 * 1000);
        }
        g_error("job %s never mapped %s", id, needle);
}

/* ---- the attacks ---- */

static void attack_env_local(const char *tag, const char *var, const char *const *argv) {
        g_autofree char *tagv = g_strdup_printf("TW_ATTACK_TAG=%s", tag);
        const char *env[] = { tagv, var, NULL };
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        unsigned user, root;

        id = start_local(u1, argv, env, NULL, &e);
        if (!id)
                g_error("Start: %s: %s", e.name, e.message);
        wait_success(id);
        count_marks(tag, &user, &root);
        g_test_message("%s: %u user marks, %u root marks", var, user, root);
        g_assert_cmpuint(root, ==, 0);
        g_assert_cmpuint(user, >=, 1); /* it was loaded, in the job, as the user */
        sd_bus_unref(u1);
}

static void test_ld_preload_local(void) {
        const char *argv[] = { "/bin/sh", "-c", "exit 0", NULL };
        attack_env_local("preload-local", "LD_PRELOAD=" MARK_SO, argv);
}

static void test_ld_audit_local(void) {
        const char *argv[] = { "/bin/sh", "-c", "exit 0", NULL };
        attack_env_local("audit-local", "LD_AUDIT=" MARK_SO, argv);
}

/* gconv modules load only where iconv is used: the job uses it (and loads the module as its user); the
 * root processes of its scope must not even carry the variable. */
static void test_gconv_path_local(void) {
        const char *argv[] = { "/bin/sh", "-c", "echo x | iconv -f TWMARK -t UTF-8 >/dev/null 2>&1; exit 0", NULL };
        const char *sleeper[] = { "/bin/sh", "-c", "echo x | iconv -f TWMARK -t UTF-8 >/dev/null 2>&1; exec sleep 30",
                                  NULL };
        const char *env[] = { "TW_ATTACK_TAG=gconv-scope", "GCONV_PATH=" DIR_GCONV, NULL };
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        unsigned user = 0, root = 0;

        attack_env_local("gconv-local", "GCONV_PATH=" DIR_GCONV, argv);

        id = start_local(u1, sleeper, env, NULL, &e);
        if (!id)
                g_error("Start: %s: %s", e.name, e.message);
        for (int i = 0; i < 500 && user == 0; i++, g_usleep(10 * 1000))
                count_marks("gconv-scope", &user, &root);
        g_assert_cmpuint(user, >=, 1);
        check_scope_processes(id, NULL);
        count_marks("gconv-scope", &user, &root);
        g_assert_cmpuint(root, ==, 0);
        sd_bus_unref(u1);
}

/* LD_LIBRARY_PATH shadows libc with a copy: a root process honouring it would map the copy. */
static void test_ld_library_path_local(void) {
        const char *argv[] = { "/bin/sleep", "30", NULL };
        const char *env[] = { "TW_ATTACK_TAG=libpath-local", "LD_LIBRARY_PATH=" DIR_LIB, NULL };
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = start_local(u1, argv, env, NULL, &e);

        if (!id)
                g_error("Start: %s: %s", e.name, e.message);
        wait_job_maps(id, DIR_LIB "/libc.so.6");
        check_scope_processes(id, DIR_LIB "/libc.so.6");
        sd_bus_unref(u1);
}

/* All four at once from a remote principal (the Remote interface, as the gateway calls it). */
static void test_remote(void) {
        const char *env[] = { "TW_ATTACK_TAG=remote", "LD_PRELOAD=" MARK_SO, "LD_AUDIT=" MARK_SO,
                              "GCONV_PATH=" DIR_GCONV, "LD_LIBRARY_PATH=" DIR_LIB, NULL };
        const char *once[] = { "/bin/sh", "-c", "echo x | iconv -f TWMARK -t UTF-8 >/dev/null 2>&1; exit 0", NULL };
        const char *sleeper[] = { "/bin/sleep", "30", NULL };
        g_autofree char *id = NULL, *id2 = NULL;
        unsigned user, root;

        id = start_remote("tw-attacker", once, env);
        wait_success(id);
        count_marks("remote", &user, &root);
        g_test_message("remote: %u user marks, %u root marks", user, root);
        g_assert_cmpuint(root, ==, 0);
        g_assert_cmpuint(user, >=, 1);

        id2 = start_remote("tw-attacker", sleeper, env);
        wait_job_maps(id2, MARK_SO);
        check_scope_processes(id2, DIR_LIB "/libc.so.6");
}

/* The existence oracle: what tbuser1 hears about paths under /root must not depend on whether they exist. */
static char *replace_path(const char *message, const char *path) {
        g_auto(GStrv) parts = g_strsplit(message, path, -1);

        return g_strjoinv("<path>", parts);
}

static void oracle_case(const char *const *argv_a, const char *cwd_a, const char *path_a, const char *const *argv_b,
                        const char *cwd_b, const char *path_b, const char *want_name) {
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        sd_bus_error a = SD_BUS_ERROR_NULL, b = SD_BUS_ERROR_NULL;
        const char *env[] = { NULL };
        g_autofree char *ida = start_local(u1, argv_a, env, cwd_a, &a);
        g_autofree char *idb = start_local(u1, argv_b, env, cwd_b, &b);
        g_autofree char *ma = NULL, *mb = NULL;

        g_test_message("existing: %s: %s", a.name, a.message);
        g_test_message("missing:  %s: %s", b.name, b.message);
        g_assert_null(ida);
        g_assert_null(idb);
        g_assert_cmpstr(a.name, ==, want_name);
        g_assert_cmpstr(b.name, ==, a.name);
        /* each message names the path asked for, and nothing else differs */
        ma = replace_path(a.message, path_a);
        mb = replace_path(b.message, path_b);
        g_assert_cmpstr(ma, ==, mb);
        sd_bus_error_free(&a);
        sd_bus_error_free(&b);
        sd_bus_unref(u1);
}

static void test_root_oracle(void) {
        const char *exists[] = { DIR_ORACLE "/prog", NULL }, *missing[] = { DIR_ORACLE "/nothing", NULL };
        const char *prog_root[] = { "/root/tw-attack-prog", NULL }, *none_root[] = { "/root/tw-attack-none", NULL };
        const char *tr[] = { "/bin/true", NULL };
        struct stat st;

        /* /root must be closed to tbuser1, or the question is moot */
        g_assert_cmpint(stat("/root", &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0001, ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(DIR_ORACLE "/dir", 0755), ==, 0);
        copy_file("/bin/true", DIR_ORACLE "/prog", 0755);
        copy_file("/bin/true", "/root/tw-attack-prog", 0755);
        (void) unlink("/root/tw-attack-none");
        (void) rmdir("/root/tw-attack-nodir");
        g_assert_cmpint(g_mkdir_with_parents("/root/tw-attack-dir", 0755), ==, 0);

        /* a path the account cannot search is EACCES whether the file exists or not: NotExecutable both */
        oracle_case(prog_root, NULL, prog_root[0], none_root, NULL, none_root[0],
                    "org.teleworker.worker1.Error.NotExecutable");
        oracle_case(exists, NULL, exists[0], missing, NULL, missing[0], "org.teleworker.worker1.Error.NotExecutable");
        oracle_case(tr, "/root/tw-attack-dir", "/root/tw-attack-dir", tr, "/root/tw-attack-nodir",
                    "/root/tw-attack-nodir", "org.freedesktop.DBus.Error.InvalidArgs");
        oracle_case(tr, DIR_ORACLE "/dir", DIR_ORACLE "/dir", tr, DIR_ORACLE "/nodir", DIR_ORACLE "/nodir",
                    "org.freedesktop.DBus.Error.InvalidArgs");
}

/* The allow-list is checked on the path argv[0] resolved to (now in the job's child, as the user). */
static void test_allow_list(void) {
        const char *denied[] = { "/usr/sbin/nologin", NULL }, *ok[] = { "true", NULL };
        g_autoptr(GPtrArray) before = NULL, after = NULL;
        sd_bus *u2 = tb_bus_as(TB_UID_USER2);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *env[] = { NULL };
        g_autofree char *id = NULL, *id2 = NULL;
        TbJob j;

        g_assert_cmpint(tb_list(u2, &before, &e), ==, 0);
        id = start_local(u2, denied, env, NULL, &e);
        g_test_message("%s: %s", e.name, e.message);
        g_assert_null(id);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        /* refused like an up-front refusal: no job record left behind */
        g_assert_cmpint(tb_list(u2, &after, &e), ==, 0);
        g_assert_cmpuint(after->len, ==, before->len);

        id2 = start_local(u2, ok, env, NULL, &e);
        g_assert_nonnull(id2);
        g_assert_cmpint(tb_wait(u2, id2, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpstr(j.executable, ==, "/usr/bin/true");
        tb_job_clear(&j);
        sd_bus_unref(u2);
}

/* PrivateTmp (the default) covers POSIX shared memory too. */
static void test_private_dev_shm(void) {
        const char *argv[] = { "/bin/sh", "-c", "echo secret > /dev/shm/tw-attack-shm && test -s /dev/shm/tw-attack-shm",
                               NULL };
        const char *env[] = { NULL };
        sd_bus *u1 = tb_bus_as(TB_UID_USER1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;

        (void) unlink("/dev/shm/tw-attack-shm");
        id = start_local(u1, argv, env, NULL, &e);
        g_assert_nonnull(id);
        wait_success(id);
        g_assert_cmpint(access("/dev/shm/tw-attack-shm", F_OK), <, 0);
        sd_bus_unref(u1);
}

/* Last: nothing anywhere ever left a root mark. */
static void test_no_root_mark_at_all(void) {
        unsigned user, root;

        count_marks("*", &user, &root);
        g_test_message("all attacks: %u user marks, %u root marks", user, root);
        g_assert_cmpuint(root, ==, 0);
        g_assert_cmpuint(user, >=, 4);
}

/* Every refused or ended job's reaper was released: none waits for a daemon on a handover socket (a reaper
 * that read its release badly would, see exec-protocol.h). */
static void test_no_orphaned_reaper(void) {
        glob_t g = {};

        g_assert_cmpint(glob("/run/teleworker/reapers/*.sock", 0, NULL, &g), ==, GLOB_NOMATCH);
        globfree(&g);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(sd_bus_open_system(&root_bus), >=, 0);
        if (!tb_daemon_present(root_bus)) {
                g_test_skip("teleworkerd is not running");
                return g_test_run();
        }
        setup_attack_files();
        g_test_add_func("/attacks/ld-preload-local", test_ld_preload_local);
        g_test_add_func("/attacks/ld-audit-local", test_ld_audit_local);
        g_test_add_func("/attacks/gconv-path-local", test_gconv_path_local);
        g_test_add_func("/attacks/ld-library-path-local", test_ld_library_path_local);
        g_test_add_func("/attacks/remote", test_remote);
        g_test_add_func("/attacks/root-oracle", test_root_oracle);
        g_test_add_func("/attacks/allow-list", test_allow_list);
        g_test_add_func("/attacks/private-dev-shm", test_private_dev_shm);
        g_test_add_func("/attacks/no-root-mark-at-all", test_no_root_mark_at_all);
        g_test_add_func("/attacks/no-orphaned-reaper", test_no_orphaned_reaper);
        return g_test_run();
}
