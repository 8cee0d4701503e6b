/* SPDX-License-Identifier: MIT */
/* test-dynuser - per-principal uids: allocation, names, what the host has is skipped, persistence across
 * reloads (a daemon restart), malformed and conflicting files. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/dynuser.h"

/* A fake host database: uids in [taken_min, taken_max] and one name exist. */
typedef struct FakeHost {
        uid_t taken_min, taken_max;
        const char *taken_name;
        unsigned calls;
} FakeHost;

static int fake_taken(uid_t n, const char *name, void *userdata) {
        FakeHost *h = userdata;

        h->calls++;
        if (name)
                return h->taken_name && strcmp(name, h->taken_name) == 0;
        return n >= h->taken_min && n <= h->taken_max;
}

static char *make_dir(void) {
        GError *e = NULL;
        char *d = g_dir_make_tmp("test-dynuser-XXXXXX", &e);

        g_assert_no_error(e);
        return d;
}

static void rm_dir(char *d) {
        GDir *dir = g_dir_open(d, 0, NULL);
        const char *n;

        while (dir && (n = g_dir_read_name(dir))) {
                g_autofree char *p = g_build_filename(d, n, NULL);
                g_unlink(p);
        }
        if (dir)
                g_dir_close(dir);
        g_rmdir(d);
        g_free(d);
}

static void write_file(const char *dir, const char *name, const char *text) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_assert_true(g_file_set_contents(p, text, -1, NULL));
}

static void test_names(void) {
        char n[DYNUSER_NAME_MAX];

        dynuser_name_for("alice", 80001, n);
        g_assert_cmpstr(n, ==, "tw-alice");
        dynuser_name_for("Alice", 80001, n); /* upper case is not portable in user names */
        g_assert_cmpstr(n, ==, "tw_80001");
        dynuser_name_for("a.b@c", 80002, n);
        g_assert_cmpstr(n, ==, "tw_80002");
        dynuser_name_for("a23456789012345678901234567", 80003, n); /* 27 bytes: "tw-" + 27 = 30 */
        g_assert_cmpstr(n, ==, "tw-a23456789012345678901234567");
        dynuser_name_for("a234567890123456789012345678", 80004, n); /* 28: fits 31 */
        g_assert_cmpstr(n, ==, "tw-a234567890123456789012345678");
        dynuser_name_for("a2345678901234567890123456789", 80005, n); /* 29: too long */
        g_assert_cmpstr(n, ==, "tw_80005");
        g_assert_true(dynuser_name_is_reserved("tw-x"));
        g_assert_true(dynuser_name_is_reserved("tw_1"));
        g_assert_false(dynuser_name_is_reserved("twx"));
        g_assert_false(dynuser_name_is_reserved("alice"));
}

static void test_allocate_and_persist(void) {
        char *dir = make_dir();
        FakeHost host = { .taken_min = 1, .taken_max = 0 };
        DynUserTable *t = NULL;
        const DynUser *a, *b, *a2;
        uid_t ua, ub;
        unsigned skipped = 99;

        g_assert_cmpint(dynuser_table_load(dir, &t, &skipped), ==, 0);
        g_assert_cmpuint(skipped, ==, 0);
        g_assert_cmpint(dynuser_acquire(t, "alice", 80000, 80009, fake_taken, &host, &a), ==, 0);
        g_assert_cmpint(dynuser_acquire(t, "bob", 80000, 80009, fake_taken, &host, &b), ==, 0);
        ua = a->uid;
        ub = b->uid;
        g_assert_cmpuint(ua, >=, 80000);
        g_assert_cmpuint(ua, <=, 80009);
        g_assert_cmpuint(ub, >=, 80000);
        g_assert_cmpuint(ub, <=, 80009);
        g_assert_cmpuint(ua, !=, ub);
        g_assert_cmpstr(a->name, ==, "tw-alice");
        /* the same principal, the same entry */
        g_assert_cmpint(dynuser_acquire(t, "alice", 80000, 80009, fake_taken, &host, &a2), ==, 0);
        g_assert_cmpuint(a2->uid, ==, ua);
        g_assert_true(dynuser_by_uid(t, ub) == dynuser_by_principal(t, "bob"));
        g_assert_true(dynuser_by_name(t, "tw-bob") == dynuser_by_principal(t, "bob"));
        g_assert_null(dynuser_by_uid(t, 4001));
        dynuser_table_free(t);

        /* A restart: the same uids come back from the files, even with another range configured. */
        g_assert_cmpint(dynuser_table_load(dir, &t, &skipped), ==, 0);
        g_assert_cmpuint(dynuser_count(t), ==, 2);
        g_assert_cmpint(dynuser_acquire(t, "alice", 85000, 85009, fake_taken, &host, &a), ==, 0);
        g_assert_cmpuint(a->uid, ==, ua);
        g_assert_cmpuint(dynuser_by_principal(t, "bob")->uid, ==, ub);
        /* no temporary file left behind */
        {
                g_autofree char *tmp = g_build_filename(dir, ".p-alice.tmp", NULL);
                g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
        }
        dynuser_table_free(t);
        rm_dir(dir);
}

/* Never an uid (or name) the host has, never one handed out before; a full range says so. */
static void test_host_and_full(void) {
        char *dir = make_dir();
        FakeHost host = { .taken_min = 80000, .taken_max = 80007, .taken_name = "tw-carol" };
        DynUserTable *t = NULL;
        const DynUser *u, *v;

        g_assert_cmpint(dynuser_table_load(dir, &t, NULL), ==, 0);
        g_assert_cmpint(dynuser_acquire(t, "alice", 80000, 80009, fake_taken, &host, &u), ==, 0);
        g_assert_cmpuint(u->uid, >=, 80008);
        g_assert_cmpint(dynuser_acquire(t, "carol", 80000, 80009, fake_taken, &host, &v), ==, 0);
        g_assert_cmpuint(v->uid, >=, 80008);
        g_assert_cmpstr(v->name, ==, dynuser_by_uid(t, v->uid)->name);
        g_assert_true(g_str_has_prefix(v->name, "tw_")); /* the host has "tw-carol" */
        g_assert_cmpuint(dynuser_by_principal(t, "alice")->uid, !=, v->uid);
        g_assert_cmpint(dynuser_acquire(t, "dave", 80000, 80009, fake_taken, &host, &u), ==, -ENOSPC);
        g_assert_cmpint(dynuser_acquire(t, "bad name", 80000, 80009, fake_taken, &host, &u), ==, -EINVAL);
        g_assert_cmpint(dynuser_acquire(t, "..", 80010, 80019, fake_taken, &host, &u), ==, 0); /* file "p-.." */
        g_assert_true(g_str_has_prefix(u->name, "tw_"));
        {
                g_autofree char *f = g_build_filename(dir, "p-..", NULL);
                g_assert_true(g_file_test(f, G_FILE_TEST_IS_REGULAR));
        }
        /* 65534 (nobody) and 65535 are never handed out */
        g_assert_cmpint(dynuser_acquire(t, "eve", 65534, 65535, fake_taken, &host, &u), ==, -ENOSPC);
        /* the host got an account with alice's uid meanwhile: her jobs are refused, nothing is shared */
        host.taken_max = 80009;
        g_assert_cmpint(dynuser_acquire(t, "alice", 80000, 80009, fake_taken, &host, &u), ==, -EADDRINUSE);
        dynuser_table_free(t);
        rm_dir(dir);
}

static void test_parse_line(void) {
        char name[DYNUSER_NAME_MAX];
        uid_t uid;

        g_assert_cmpint(dynuser_parse_line("80001 tw-alice\n", &uid, name), ==, 0);
        g_assert_cmpuint(uid, ==, 80001);
        g_assert_cmpstr(name, ==, "tw-alice");
        g_assert_cmpint(dynuser_parse_line("80001 tw_80001\n", &uid, name), ==, 0);
        const char *bad[] = { "", "\n", "80001\n", "80001 tw-alice", "80001 tw-alice\n\n", " 80001 tw-alice\n",
                              "080001 tw-alice\n", "+80001 tw-alice\n", "-1 tw-alice\n", "0 tw-alice\n",
                              "4294967295 tw-a\n", "65535 tw-a\n", "99999999999999999999 tw-a\n", "80001 alice\n",
                              "80001 tw-Alice\n", "80001 tw-\n", "80001x tw-a\n", "80001  tw-a\n",
                              "80001 tw-a23456789012345678901234567890\n", "80001 tw-a b\n" };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_test_message("bad: '%s'", bad[i]);
                g_assert_cmpint(dynuser_parse_line(bad[i], &uid, name), ==, -EINVAL);
        }
}

/* Broken or conflicting files are skipped, never trusted, and never stop the daemon. */
static void test_load_skips(void) {
        char *dir = make_dir();
        DynUserTable *t = NULL;
        unsigned skipped = 0;

        write_file(dir, "p-alice", "80001 tw-alice\n");
        write_file(dir, "p-mallory", "80001 tw-mallory\n");  /* alice's uid: one of them is skipped */
        write_file(dir, "p-bob", "garbage");
        write_file(dir, "p-bad name", "80003 tw_80003\n");
        write_file(dir, "other", "80004 tw-other\n");        /* not an entry */
        g_assert_cmpint(dynuser_table_load(dir, &t, &skipped), ==, 0);
        g_assert_cmpuint(skipped, ==, 3);
        g_assert_cmpuint(dynuser_count(t), ==, 1);
        g_assert_cmpuint(dynuser_at(t, 0)->uid, ==, 80001);
        g_assert_null(dynuser_by_principal(t, "bob"));
        dynuser_table_free(t);
        rm_dir(dir);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/dynuser/names", test_names);
        g_test_add_func("/dynuser/allocate-and-persist", test_allocate_and_persist);
        g_test_add_func("/dynuser/host-and-full", test_host_and_full);
        g_test_add_func("/dynuser/parse-line", test_parse_line);
        g_test_add_func("/dynuser/load-skips", test_load_skips);
        return g_test_run();
}
