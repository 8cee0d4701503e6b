/* SPDX-License-Identifier: MIT */
/* test-object-manager - org.freedesktop.DBus.ObjectManager at /org/teleworker/worker1 on the real daemon:
 * GetManagedObjects of two users each shows that user's jobs only, with their properties, and an
 * administrator's shows both; InterfacesAdded and InterfacesRemoved, which every listener the bus policy
 * admits receives, name the object and interface but carry no properties (no owner, no command line). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "tb-client.h"

#define DEST "org.teleworker.worker1"
#define PATH "/org/teleworker/worker1"
#define JOB_IFACE "org.teleworker.worker1.Job"

static sd_bus *root_bus, *user1, *user2, *admin;

static char *job_path(const char *id) {
        GString *s = g_string_new(PATH "/job/");

        for (const char *c = id; *c; c++)
                if (*c != '-')
                        g_string_append_c(s, *c);
        return g_string_free(s, FALSE);
}

static char *start_sleeper(sd_bus *bus, const char *seconds) {
        const char *argv[] = { "/bin/sleep", seconds, NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *id = NULL;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        return id;
}

/* GetManagedObjects as bus: object path -> the Job interface's Owner (every object must have it). */
static GHashTable *managed_objects(sd_bus *bus) {
        GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;

        g_assert_cmpint(sd_bus_call_method(bus, DEST, PATH, "org.freedesktop.DBus.ObjectManager",
                                           "GetManagedObjects", &e, &reply, ""), >=, 0);
        g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}"), >, 0);
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                char *owner = NULL;
                const char *iface;

                g_assert_cmpint(sd_bus_message_read(reply, "o", &path), >, 0);
                g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "{sa{sv}}"), >, 0);
                while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
                        g_assert_cmpint(sd_bus_message_read(reply, "s", &iface), >, 0);
                        g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "{sv}"), >, 0);
                        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                                const char *name, *value;

                                g_assert_cmpint(sd_bus_message_read(reply, "s", &name), >, 0);
                                if (g_strcmp0(iface, JOB_IFACE) == 0 && g_strcmp0(name, "Owner") == 0) {
                                        g_assert_cmpint(sd_bus_message_read(reply, "v", "s", &value), >, 0);
                                        owner = g_strdup(value);
                                } else
                                        g_assert_cmpint(sd_bus_message_skip(reply, "v"), >=, 0);
                                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                        }
                        g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                        g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                }
                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                g_assert_nonnull(owner);
                g_hash_table_insert(t, g_strdup(path), owner);
        }
        sd_bus_message_unref(reply);
        return t;
}

static void test_two_users(void) {
        g_autofree char *a = start_sleeper(user1, "600"), *b = start_sleeper(user2, "600");
        g_autofree char *pa = job_path(a), *pb = job_path(b);
        g_autoptr(GHashTable) t1 = managed_objects(user1), t2 = managed_objects(user2), ta = managed_objects(admin);
        GHashTableIter it;
        gpointer owner;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        g_assert_cmpstr(g_hash_table_lookup(t1, pa), ==, "tbuser1");
        g_assert_false(g_hash_table_contains(t1, pb));
        g_assert_cmpstr(g_hash_table_lookup(t2, pb), ==, "tbuser2");
        g_assert_false(g_hash_table_contains(t2, pa));
        /* Not only these two: nothing of anyone else either. */
        g_hash_table_iter_init(&it, t1);
        while (g_hash_table_iter_next(&it, NULL, &owner))
                g_assert_cmpstr(owner, ==, "tbuser1");
        g_hash_table_iter_init(&it, t2);
        while (g_hash_table_iter_next(&it, NULL, &owner))
                g_assert_cmpstr(owner, ==, "tbuser2");
        g_assert_cmpstr(g_hash_table_lookup(ta, pa), ==, "tbuser1");
        g_assert_cmpstr(g_hash_table_lookup(ta, pb), ==, "tbuser2");

        g_assert_cmpint(tb_stop(user1, a, &e), ==, 0);
        g_assert_cmpint(tb_stop(user2, b, &e), ==, 0);
}

typedef struct Seen {
        char *path;
        unsigned n_ifaces, n_props;
        char *iface;
} Seen;

static int on_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Seen *s = userdata;
        const char *path, *iface;

        g_assert_cmpint(sd_bus_message_read(m, "o", &path), >, 0);
        g_free(s->path);
        s->path = g_strdup(path);
        g_assert_cmpint(sd_bus_message_enter_container(m, 'a', "{sa{sv}}"), >, 0);
        while (sd_bus_message_enter_container(m, 'e', "sa{sv}") > 0) {
                g_assert_cmpint(sd_bus_message_read(m, "s", &iface), >, 0);
                g_free(s->iface);
                s->iface = g_strdup(iface);
                s->n_ifaces++;
                g_assert_cmpint(sd_bus_message_enter_container(m, 'a', "{sv}"), >, 0);
                while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                        s->n_props++;
                        g_assert_cmpint(sd_bus_message_skip(m, "sv"), >=, 0);
                        g_assert_cmpint(sd_bus_message_exit_container(m), >=, 0);
                }
                g_assert_cmpint(sd_bus_message_exit_container(m), >=, 0);
                g_assert_cmpint(sd_bus_message_exit_container(m), >=, 0);
        }
        return 0;
}

/* Processes bus until s->path is set or the deadline passes. */
static void wait_signal(sd_bus *bus, Seen *s) {
        int64_t deadline = g_get_monotonic_time() + (int64_t) 60 * G_USEC_PER_SEC * tb_slowdown();

        while (!s->path) {
                int r = sd_bus_process(bus, NULL);

                g_assert_cmpint(r, >=, 0);
                if (r > 0)
                        continue;
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_assert_cmpint(sd_bus_wait(bus, 1000000), >=, 0);
        }
}

static void test_signals_carry_no_properties(void) {
        g_autofree char *id = NULL, *path = NULL;
        sd_bus_slot *added = NULL;
        Seen s = {};
        sd_bus_error e = SD_BUS_ERROR_NULL;

        /* tbuser2 listens; tbuser1's new job is announced to it by path only. */
        g_assert_cmpint(sd_bus_match_signal(user2, &added, DEST, PATH, "org.freedesktop.DBus.ObjectManager",
                                            "InterfacesAdded", on_added, &s), >=, 0);
        id = start_sleeper(user1, "600");
        path = job_path(id);
        wait_signal(user2, &s);
        g_assert_cmpstr(s.path, ==, path);
        g_assert_cmpuint(s.n_ifaces, ==, 1);
        g_assert_cmpstr(s.iface, ==, JOB_IFACE);
        g_assert_cmpuint(s.n_props, ==, 0);
        sd_bus_slot_unref(added);
        g_assert_cmpint(tb_stop(user1, id, &e), ==, 0);
        g_free(s.path);
        g_free(s.iface);
}

static int on_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Seen *s = userdata;
        const char *path;
        char **ifaces = NULL;

        g_assert_cmpint(sd_bus_message_read(m, "o", &path), >, 0);
        g_assert_cmpint(sd_bus_message_read_strv(m, &ifaces), >, 0);
        g_free(s->path);
        s->path = g_strdup(path);
        s->n_ifaces = g_strv_length(ifaces);
        g_free(s->iface);
        s->iface = g_strdup(ifaces[0]);
        g_strfreev(ifaces);
        return 0;
}

/* Remove (issue 16's rm) takes a job out of the table as eviction does: InterfacesRemoved, heard by another
 * user, right after the stop (whether or not its reaper is still finishing), and the object is gone. */
static void test_remove_announces(void) {
        g_autofree char *id = start_sleeper(user1, "600"), *path = job_path(id);
        sd_bus_message *reply = NULL;
        sd_bus_slot *removed = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Seen s = {};

        g_assert_cmpint(sd_bus_match_signal(user2, &removed, DEST, PATH, "org.freedesktop.DBus.ObjectManager",
                                            "InterfacesRemoved", on_removed, &s), >=, 0);
        g_assert_cmpint(tb_stop(user1, id, &e), ==, 0);
        g_assert_cmpint(sd_bus_call_method(user1, DEST, PATH, "org.teleworker.worker1.Manager", "Remove", &e, &reply,
                                           "s", id), >=, 0);
        sd_bus_message_unref(reply);
        wait_signal(user2, &s);
        g_assert_cmpstr(s.path, ==, path);
        g_assert_cmpuint(s.n_ifaces, ==, 1);
        g_assert_cmpstr(s.iface, ==, JOB_IFACE);
        g_autoptr(GHashTable) t = managed_objects(user1);
        g_assert_false(g_hash_table_contains(t, path));
        sd_bus_slot_unref(removed);
        g_free(s.path);
        g_free(s.iface);
}

int main(int argc, char **argv) {
        int r;

        g_test_init(&argc, &argv, NULL);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;
        user1 = tb_bus_as(TB_UID_USER1);
        user2 = tb_bus_as(TB_UID_USER2);
        admin = tb_bus_as(TB_UID_ADMIN);

        g_test_add_func("/object-manager/two-users", test_two_users);
        g_test_add_func("/object-manager/signals-carry-no-properties", test_signals_carry_no_properties);
        g_test_add_func("/object-manager/remove-announces", test_remove_announces);
        r = g_test_run();

        sd_bus_flush_close_unref(user1);
        sd_bus_flush_close_unref(user2);
        sd_bus_flush_close_unref(admin);
        sd_bus_flush_close_unref(root_bus);
        return r;
}
