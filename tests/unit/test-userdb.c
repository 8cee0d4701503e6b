/* SPDX-License-Identifier: MIT */
/* test-userdb - the io.systemd.UserDatabase service of the dynamic users: request parsing (strict, bounded),
 * the replies nss-systemd expects, and the socket server's bounds (message size, connections, idle). */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/userdb-proto.h"
#include "engine/userdb.h"

static int never_taken(uid_t n, const char *name, void *userdata) {
        return 0;
}

typedef struct Fixture {
        char *dir;
        DynUserTable *table;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        const DynUser *u;

        f->dir = g_dir_make_tmp("test-userdb-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        g_assert_cmpint(dynuser_table_load(f->dir, &f->table, NULL), ==, 0);
        g_assert_cmpint(dynuser_acquire(f->table, "alice", 80000, 80000, never_taken, NULL, &u), ==, 0);
        g_assert_cmpint(dynuser_acquire(f->table, "Bob", 80001, 80001, never_taken, NULL, &u), ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        g_autofree char *a = g_build_filename(f->dir, "p-alice", NULL);
        g_autofree char *b = g_build_filename(f->dir, "p-Bob", NULL);
        g_autofree char *s = g_build_filename(f->dir, USERDB_SERVICE, NULL);

        dynuser_table_free(f->table);
        g_unlink(a);
        g_unlink(b);
        g_unlink(s);
        g_rmdir(f->dir);
        g_free(f->dir);
}

/* The answer to one request as text, messages separated by '|' (NULs replaced), or NULL for -EBADMSG. */
static char *ask(const DynUserTable *t, const char *req) {
        char *out = NULL;
        size_t len = 0;
        int r = userdb_handle(t, req, strlen(req), &out, &len);

        if (r == -EBADMSG)
                return NULL;
        g_assert_cmpint(r, ==, 0);
        for (size_t i = 0; i < len; i++)
                if (out[i] == 0)
                        out[i] = i + 1 < len ? '|' : 0;
        if (!out)
                out = g_strdup("");
        return out;
}

#define SVC "\"service\":\"" USERDB_SERVICE "\""
#define GETUSER "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"parameters\":{"
#define GETGROUP "{\"method\":\"io.systemd.UserDatabase.GetGroupRecord\",\"parameters\":{"

static void assert_contains(const char *s, const char *part) {
        g_test_message("reply: %s", s ? s : "(closed)");
        g_assert_nonnull(s);
        g_assert_nonnull(strstr(s, part));
}

static void test_lookups(Fixture *f, gconstpointer data) {
        g_autofree char *a = ask(f->table, GETUSER "\"uid\":80000," SVC "}}");
        assert_contains(a, "\"userName\":\"tw-alice\"");
        assert_contains(a, "\"uid\":80000");
        assert_contains(a, "\"gid\":80000");
        assert_contains(a, "\"homeDirectory\":\"/\"");
        assert_contains(a, "\"incomplete\":false");
        assert_contains(a, "\"service\":\"" USERDB_SERVICE "\"");
        g_assert_null(strstr(a, "continues"));

        g_autofree char *b = ask(f->table, GETUSER "\"userName\":\"tw_80001\"," SVC "}}");
        assert_contains(b, "\"uid\":80001");
        g_autofree char *c = ask(f->table, GETGROUP "\"gid\":80001," SVC "}}");
        assert_contains(c, "\"groupName\":\"tw_80001\"");
        g_autofree char *d = ask(f->table, GETGROUP "\"groupName\":\"tw-alice\"," SVC "}}");
        assert_contains(d, "\"gid\":80000");
        g_autofree char *e = ask(f->table, GETUSER "\"uid\":80000,\"userName\":\"tw-alice\"," SVC "}}");
        assert_contains(e, "tw-alice");
        g_autofree char *nul = ask(f->table, GETUSER "\"uid\":null,\"userName\":\"tw-alice\"," SVC "}}");
        assert_contains(nul, "tw-alice");
}

static void test_errors(Fixture *f, gconstpointer data) {
        struct {
                const char *req, *reply;
        } cases[] = {
                { GETUSER "\"uid\":4001," SVC "}}", "io.systemd.UserDatabase.NoRecordFound" },
                { GETUSER "\"userName\":\"root\"," SVC "}}", "io.systemd.UserDatabase.NoRecordFound" },
                { GETUSER "\"uid\":80000,\"userName\":\"tw_80001\"," SVC "}}", "ConflictingRecordFound" },
                { GETUSER "\"uid\":80000,\"service\":\"io.systemd.Multiplexer\"}}", "io.systemd.UserDatabase.BadService" },
                { GETUSER "\"uid\":80000}}", "BadService" },
                { GETUSER "\"uid\":-1," SVC "}}", "\"parameter\":\"uid\"" },
                { GETUSER "\"uid\":4294967295," SVC "}}", "InvalidParameter" },
                { GETUSER "\"uid\":99999999999999999999999," SVC "}}", "InvalidParameter" },
                { GETUSER "\"uid\":\"80000\"," SVC "}}", "InvalidParameter" },
                { GETUSER "\"uid\":80000.0," SVC "}}", "InvalidParameter" },
                { GETUSER "\"userName\":\"\"," SVC "}}", "InvalidParameter" },
                { GETUSER "\"userName\":\"a\\u0000b\"," SVC "}}", "InvalidParameter" },
                { GETUSER "\"gid\":1," SVC "}}", "\"parameter\":\"gid\"" },
                { GETUSER "\"fuzzyNames\":[\"a\"]," SVC "}}", "\"parameter\":\"fuzzyNames\"" },
                { GETUSER SVC "}}", "org.varlink.service.ExpectedMore" },
                { "{\"method\":\"io.systemd.UserDatabase.GetMemberships\",\"parameters\":{\"userName\":\"tw-alice\"," SVC
                  "},\"more\":true}", "NoRecordFound" },
                { "{\"method\":\"org.varlink.service.GetInfo\"}", "\"error\":\"org.varlink.service.MethodNotFound\"" },
                { "{\"method\":\"io.systemd.UserDatabase.Nope\",\"parameters\":{}}", "\"method\":\"io.systemd.UserDatabase.Nope\"" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *r = ask(f->table, cases[i].req);
                g_test_message("request: %s", cases[i].req);
                assert_contains(r, cases[i].reply);
                g_assert_null(strchr(r, '|')); /* exactly one message */
        }
}

static void test_enumerate(Fixture *f, gconstpointer data) {
        g_autofree char *a = ask(f->table, GETUSER SVC "},\"more\":true}");
        g_auto(GStrv) msgs = g_strsplit(a, "|", -1);

        g_assert_cmpuint(g_strv_length(msgs), ==, 2);
        assert_contains(msgs[0], "\"continues\":true");
        g_assert_null(strstr(msgs[1], "continues"));
        assert_contains(msgs[1], "tw_80001");
        /* oneway: no reply at all */
        g_autofree char *o = ask(f->table, GETUSER "\"uid\":80000," SVC "},\"oneway\":true}");
        g_assert_cmpstr(o, ==, "");
}

/* Not Varlink: the connection is closed (-EBADMSG), nothing answered. */
static void test_malformed(Fixture *f, gconstpointer data) {
        const char *bad[] = {
                "", "{", "[]", "null", "\"x\"", "{}", "{\"method\":1}", "{\"method\":\"\"}",
                "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"parameters\":[]}",
                "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"more\":1}",
                "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"more\":true,\"oneway\":true}",
                "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"upgrade\":true}",
                "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"extra\":1}",
                "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\"} {}",
                "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",}",
                "{\"method\":\"a\\u0000b\"}",
                "{\"method\":\"x\",\"parameters\":{\"a\":[[[[[[[[[[[[[[1]]]]]]]]]]]]]}}",
        };
        g_autofree char *huge = g_strnfill(USERDB_MESSAGE_MAX + 1, ' ');

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *r = ask(f->table, bad[i]);
                g_test_message("request: %s -> %s", bad[i], r ? r : "(closed)");
                g_assert_null(r);
        }
        g_assert_null(ask(f->table, huge));
}

/* ---- the socket server ---- */

static int connect_to(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        g_assert_cmpint(fd, >=, 0);
        g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
        g_assert_cmpint(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
        return fd;
}

/* Runs the loop until fd has something to read (or hung up); returns what recv() says. */
static ssize_t pump_recv(sd_event *e, int fd, char *buf, size_t n) {
        for (int i = 0; i < 500; i++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 0) > 0)
                        return recv(fd, buf, n, MSG_DONTWAIT);
                g_assert_cmpint(sd_event_run(e, 10 * 1000), >=, 0);
        }
        return -2;
}

static void test_server(Fixture *f, gconstpointer data) {
        sd_event *e = NULL;
        UserdbServer *s = NULL;
        g_autofree char *path = g_build_filename(f->dir, USERDB_SERVICE, NULL);
        const char req[] = GETUSER "\"uid\":80000," SVC "}}";
        char buf[4096];
        int fds[USERDB_CONNECTIONS_MAX + 1];
        ssize_t n;
        int fd;

        g_assert_cmpint(sd_event_new(&e), >=, 0);
        g_assert_cmpint(userdb_server_new(e, f->table, f->dir, &s), ==, 0);

        /* two requests in one write, answered in order */
        fd = connect_to(path);
        g_assert_cmpint(send(fd, req, sizeof(req), 0), ==, sizeof(req));
        g_assert_cmpint(send(fd, req, sizeof(req), 0), ==, sizeof(req));
        size_t got = 0;
        while (got < 2 * 100) {
                n = pump_recv(e, fd, buf + got, sizeof(buf) - got - 1);
                g_assert_cmpint(n, >, 0);
                got += (size_t) n;
                if (memchr(buf, 0, got) && memchr((char *) memchr(buf, 0, got) + 1, 0, got - strlen(buf) - 1))
                        break;
        }
        g_assert_nonnull(strstr(buf, "tw-alice"));
        g_assert_nonnull(strstr(buf + strlen(buf) + 1, "tw-alice"));
        close(fd);

        /* a request without end beyond the size limit: closed */
        fd = connect_to(path);
        g_autofree char *big = g_strnfill(USERDB_MESSAGE_MAX + 10, 'x');
        g_assert_cmpint(send(fd, big, USERDB_MESSAGE_MAX + 10, 0), ==, USERDB_MESSAGE_MAX + 10);
        n = pump_recv(e, fd, buf, sizeof(buf));
        g_assert_true(n == 0 || (n == -1 && errno == ECONNRESET)); /* closed with unread bytes: a reset */
        close(fd);

        /* malformed: closed */
        fd = connect_to(path);
        g_assert_cmpint(send(fd, "{\0", 2, 0), ==, 2);
        g_assert_cmpint(pump_recv(e, fd, buf, sizeof(buf)), ==, 0);
        close(fd);

        /* at most USERDB_CONNECTIONS_MAX at once: the next one is closed at once */
        for (int i = 0; i < USERDB_CONNECTIONS_MAX; i++) {
                fds[i] = connect_to(path);
                for (int k = 0; k < 3; k++)
                        g_assert_cmpint(sd_event_run(e, 0), >=, 0);
        }
        for (int k = 0; k < 10; k++)
                g_assert_cmpint(sd_event_run(e, 1000), >=, 0);
        g_assert_cmpuint(userdb_server_connections(s), ==, USERDB_CONNECTIONS_MAX);
        fds[USERDB_CONNECTIONS_MAX] = connect_to(path);
        g_assert_cmpint(pump_recv(e, fds[USERDB_CONNECTIONS_MAX], buf, sizeof(buf)), ==, 0);
        g_assert_cmpuint(userdb_server_connections(s), ==, USERDB_CONNECTIONS_MAX);
        for (int i = 0; i <= USERDB_CONNECTIONS_MAX; i++)
                close(fds[i]);
        for (int k = 0; k < 200 && userdb_server_connections(s) > 0; k++)
                g_assert_cmpint(sd_event_run(e, 1000), >=, 0);
        g_assert_cmpuint(userdb_server_connections(s), ==, 0);

        userdb_server_free(s);
        g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS)); /* the socket is removed */
        sd_event_unref(e);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/userdb/lookups", Fixture, NULL, fixture_setup, test_lookups, fixture_teardown);
        g_test_add("/userdb/errors", Fixture, NULL, fixture_setup, test_errors, fixture_teardown);
        g_test_add("/userdb/enumerate", Fixture, NULL, fixture_setup, test_enumerate, fixture_teardown);
        g_test_add("/userdb/malformed", Fixture, NULL, fixture_setup, test_malformed, fixture_teardown);
        g_test_add("/userdb/server", Fixture, NULL, fixture_setup, test_server, fixture_teardown);
        return g_test_run();
}
