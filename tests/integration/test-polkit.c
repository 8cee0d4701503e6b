/* SPDX-License-Identifier: MIT */
/* test-polkit - teleworkerd asks Debian's real polkitd (org.teleworker.worker1.manage-all, .network) for local
 * callers that are neither root nor in the admin group: without a rule tbuser2 neither sees nor stops
 * tbuser1's job; with a rule that grants tbuser2 manage-all it does both (GetJob, ListPage, Stop, and the
 * Job object's Wait), and then an id prefix of that job, ListFiltered's Owner=tbuser1 and GetMetrics too;
 * without polkitd on the bus the group rule alone decides; the shipped rule
 * (dbus/teleworker.rules) gives tbadmin both actions; .network gives tbuser1 a job on the network the policy
 * file refuses it. Installs the action and rule files into the testbed's own /usr and /etc (an overlay: the
 * host's disk is never written), restarts polkit.service, and takes them out again at the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "tb-client.h"

#define ACTIONS_DIR "/usr/share/polkit-1/actions"
#define RULES_DIR "/usr/share/polkit-1/rules.d"
#define TEST_RULE "/etc/polkit-1/rules.d/10-teleworker-test.rules"
#define POLICY_FILE ACTIONS_DIR "/org.teleworker.worker1.policy"
#define SHIPPED_RULE RULES_DIR "/teleworker.rules"

static sd_bus *root_bus, *user1, *user2, *admin;

static void sh(const char *cmd) {
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL, *err = NULL;
        int status;

        g_test_message("$ %s", cmd);
        g_spawn_command_line_sync(cmd, &out, &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("%s failed: %s%s", cmd, out, err);
}

static void copy_file(const char *from, const char *to) {
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;

        g_assert_true(g_file_get_contents(from, &text, NULL, &error));
        g_assert_true(g_file_set_contents_full(to, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error));
        g_assert_no_error(error);
}

static void write_rule(const char *user, const char *action) {
        g_autofree char *text = g_strdup_printf(
                "polkit.addRule(function(action, subject) {\n"
                "        if (action.id == \"%s\" && subject.user == \"%s\")\n"
                "                return polkit.Result.YES;\n"
                "});\n", action, user);
        g_autoptr(GError) error = NULL;

        sh("mkdir -p /etc/polkit-1/rules.d");
        g_assert_true(g_file_set_contents_full(TEST_RULE, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error));
        g_assert_no_error(error);
        sh("systemctl restart polkit.service");
}

static void remove_rule(void) {
        (void) unlink(TEST_RULE);
        sh("systemctl restart polkit.service");
}

static char *start_sleeper(sd_bus *bus) {
        const char *argv[] = { "/bin/sleep", "1000", NULL };
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        char *id = NULL;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, &e), ==, 0);
        return id;
}

static bool list_has(sd_bus *bus, const char *id) {
        g_autoptr(GPtrArray) ids = NULL;
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;

        g_assert_cmpint(tb_list(bus, &ids, &e), ==, 0);
        for (guint i = 0; i < ids->len; i++)
                if (g_strcmp0(ids->pdata[i], id) == 0)
                        return true;
        return false;
}

/* GetJob as bus: 0, or the D-Bus error's name. */
static const char *get_error(sd_bus *bus, const char *id) {
        static char name[128];
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        TbJob j = {};
        int r;

        r = tb_get(bus, id, &j, &e);
        tb_job_clear(&j);
        if (r >= 0)
                return NULL;
        g_strlcpy(name, e.name ?: "?", sizeof(name));
        return name;
}

/* The Job object's Wait (a Job-object method: the other path that asks polkit), answered once it ended. */
static int job_object_wait(sd_bus *bus, const char *id, sd_bus_error *e) {
        g_autofree char *path = tb_job_object_path(id);
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, "org.teleworker.worker1", path, "org.teleworker.worker1.Job", "Wait", e, &reply,
                               "");
        sd_bus_message_unref(reply);
        return r;
}

/* The Job object's State property as bus (Properties.Get, answered by a getter that cannot wait for polkit:
 * the daemon asks before dispatch), or NULL with the error in e. */
static char *job_state_property(sd_bus *bus, const char *id, sd_bus_error *e) {
        g_autofree char *path = tb_job_object_path(id);
        char *state = NULL;

        if (sd_bus_get_property_string(bus, "org.teleworker.worker1", path, "org.teleworker.worker1.Job", "State", e,
                                       &state) < 0)
                return NULL;
        return state;
}

/* Whether GetManagedObjects as bus lists id's object. */
static bool managed_objects_have(sd_bus *bus, const char *id) {
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *path = tb_job_object_path(id);
        sd_bus_message *reply = NULL;
        const char *p;
        bool found = false;

        g_assert_cmpint(sd_bus_call_method(bus, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &e, &reply, ""),
                        >=, 0);
        g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}"), >, 0);
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                g_assert_cmpint(sd_bus_message_read(reply, "o", &p), >, 0);
                found = found || g_strcmp0(p, path) == 0;
                g_assert_cmpint(sd_bus_message_skip(reply, "a{sa{sv}}"), >=, 0);
                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
        }
        sd_bus_message_unref(reply);
        return found;
}

static void test_without_rule(void) {
        g_autofree char *id = start_sleeper(user1);
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;

        g_assert_cmpstr(get_error(user2, id), ==, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_false(list_has(user2, id));
        g_assert_null(job_state_property(user2, id, &e));
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_false(managed_objects_have(user2, id));
        g_assert_cmpint(tb_stop(user2, id, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        /* tbadmin: the admin group. */
        g_assert_null(get_error(admin, id));
        g_assert_true(list_has(admin, id));
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_stop(user1, id, &e), ==, 0);
}

static void test_rule_grants_manage_all(void) {
        g_autofree char *id = start_sleeper(user1);
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;

        write_rule("tbuser2", "org.teleworker.worker1.manage-all");
        g_assert_null(get_error(user2, id));
        g_assert_true(list_has(user2, id));
        /* properties and the object manager too: polkit asked before sd-bus calls the getters */
        {
                g_autofree char *state = job_state_property(user2, id, &e);
                g_assert_cmpstr(state, ==, "running");
                g_assert_true(managed_objects_have(user2, id));
        }
        g_assert_cmpint(tb_stop(user2, id, &e), ==, 0);
        g_assert_cmpint(job_object_wait(user2, id, &e), >=, 0);
        /* tbuser1 is not granted anything by it. */
        g_autofree char *id2 = start_sleeper(user2);
        g_assert_cmpstr(get_error(user1, id2), ==, "org.freedesktop.DBus.Error.AccessDenied");

        /* Without polkitd on the bus, the group rule alone: the grant is gone, tbadmin keeps its rights. */
        sh("systemctl mask --runtime polkit.service");
        sh("systemctl stop polkit.service");
        g_autofree char *id3 = start_sleeper(user1);
        g_assert_cmpstr(get_error(user2, id3), ==, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_false(list_has(user2, id3));
        g_assert_null(get_error(admin, id3));
        sh("systemctl unmask --runtime polkit.service");
        remove_rule();
        g_assert_cmpstr(get_error(user2, id3), ==, "org.freedesktop.DBus.Error.AccessDenied");

        g_assert_cmpint(tb_stop(root_bus, id2, &e), ==, 0);
        g_assert_cmpint(tb_stop(root_bus, id3, &e), ==, 0);
}

/* ListFiltered with Owner=owner as bus: 0 and whether id is listed, or the D-Bus error. */
static int list_owner_has(sd_bus *bus, const char *owner, const char *id, bool *ret_found, sd_bus_error *e) {
        sd_bus_message *reply = NULL;
        bool found = false;
        int r;

        r = sd_bus_call_method(bus, "org.teleworker.worker1", "/org/teleworker/worker1", "org.teleworker.worker1.Manager",
                               "ListFiltered", e, &reply, "sua{sv}", "", 0, 1, "Owner", "s", owner);
        if (r < 0)
                return r;
        g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "a{sv}"), >, 0);
        while (sd_bus_message_enter_container(reply, 'a', "{sv}") > 0) {
                while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                        const char *key = NULL, *v = NULL;

                        g_assert_cmpint(sd_bus_message_read(reply, "s", &key), >, 0);
                        if (g_str_equal(key, "Id")) {
                                g_assert_cmpint(sd_bus_message_read(reply, "v", "s", &v), >, 0);
                                found = found || g_strcmp0(v, id) == 0;
                        } else
                                g_assert_cmpint(sd_bus_message_skip(reply, "v"), >=, 0);
                        g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                }
                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
        }
        sd_bus_message_unref(reply);
        *ret_found = found;
        return 0;
}

static int manager_call(sd_bus *bus, const char *method, sd_bus_error *e, sd_bus_message **reply, const char *types,
                        const char *arg) {
        return sd_bus_call_method(bus, "org.teleworker.worker1", "/org/teleworker/worker1",
                                  "org.teleworker.worker1.Manager", method, e, reply, types, arg);
}

/* A job reference (an id prefix), ListFiltered's Owner and GetMetrics ask polkit as GetJob and ListPage do:
 * without a rule tbuser2's prefix of tbuser1's job finds nothing, Owner=tbuser1 and GetMetrics are refused;
 * with manage-all the prefix resolves to the job its list shows, and Remove by prefix removes it. */
static void test_references_and_filters(void) {
        g_autofree char *id = start_sleeper(user1);
        g_autofree char *prefix = g_strndup(id, 8);
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *removed = NULL;
        bool found = false;
        TbJob j = {};

        /* A prefix resolves among the jobs tbuser2 sees: none, and nothing said of tbuser1's. */
        g_assert_cmpstr(get_error(user2, prefix), ==, "org.teleworker.worker1.Error.NoSuchJob");
        g_assert_cmpint(list_owner_has(user2, "tbuser1", id, &found, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(manager_call(user2, "GetMetrics", &e, NULL, "", NULL), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);

        write_rule("tbuser2", "org.teleworker.worker1.manage-all");
        g_assert_cmpint(tb_get(user2, prefix, &j, &e), ==, 0);
        g_assert_cmpstr(j.id, ==, id);
        tb_job_clear(&j);
        g_assert_cmpint(list_owner_has(user2, "tbuser1", id, &found, &e), ==, 0);
        g_assert_true(found);
        g_assert_cmpint(manager_call(user2, "GetMetrics", &e, NULL, "", NULL), >=, 0);
        g_assert_cmpint(tb_stop(user2, prefix, &e), ==, 0);
        g_assert_cmpint(manager_call(user2, "Remove", &e, &reply, "s", prefix), >=, 0);
        if (reply) {
                g_assert_cmpint(sd_bus_message_read(reply, "s", &removed), >, 0);
                g_assert_cmpstr(removed, ==, id);
                sd_bus_message_unref(reply);
        }
        remove_rule();
        g_assert_cmpstr(get_error(root_bus, id), ==, "org.teleworker.worker1.Error.NoSuchJob");
}

/* CheckAuthorization for the connection of bus (its unique name), asked as root. */
static bool polkit_allows(sd_bus *bus, const char *action) {
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *name = NULL;
        int authorized = 0, challenge = 0;

        g_assert_cmpint(sd_bus_get_unique_name(bus, &name), >=, 0);
        g_assert_cmpint(sd_bus_call_method(root_bus, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization", &e, &reply,
                                           "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", name, action, 0, 0,
                                           ""), >=, 0);
        g_assert_cmpint(sd_bus_message_enter_container(reply, 'r', "bba{ss}"), >, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "bb", &authorized, &challenge), >, 0);
        sd_bus_message_unref(reply);
        return authorized;
}

static void test_shipped_rule(void) {
        g_assert_true(polkit_allows(admin, "org.teleworker.worker1.manage-all"));
        g_assert_true(polkit_allows(admin, "org.teleworker.worker1.network"));
        g_assert_false(polkit_allows(user1, "org.teleworker.worker1.manage-all"));
        g_assert_false(polkit_allows(user2, "org.teleworker.worker1.network"));
}

static void test_network(void) {
        const char *argv[] = { "/bin/true", NULL };
        const char *net[] = { "PrivateNetwork", "0", NULL };
        __attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        TbJob j = {};

        g_assert_cmpint(tb_start(user1, argv, net, &id, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);

        write_rule("tbuser1", "org.teleworker.worker1.network");
        g_assert_cmpint(tb_start(user1, argv, net, &id, &e), ==, 0);
        g_assert_cmpint(tb_wait(user1, id, &j, &e), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        /* Only the network: tbuser1 still does not see tbuser2's jobs. */
        g_autofree char *other = start_sleeper(user2);
        g_assert_cmpstr(get_error(user1, other), ==, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_cmpint(tb_stop(user2, other, &e), ==, 0);
        remove_rule();
        g_clear_pointer(&id, g_free);
        g_assert_cmpint(tb_start(user1, argv, net, &id, &e), <, 0);
}

/* What asking polkit costs: ListPage as tbuser1 (asks manage-all each call) against root's (never asks).
 * Printed, not asserted. */
static void test_cost(void) {
        const int n = 50;
        int64_t t[2];

        for (int k = 0; k < 2; k++) {
                int64_t t0 = g_get_monotonic_time();

                for (int i = 0; i < n; i++) {
                        g_autoptr(GPtrArray) ids = NULL;
                        sd_bus_error e = SD_BUS_ERROR_NULL;

                        g_assert_cmpint(tb_list(k == 0 ? user1 : root_bus, &ids, &e), ==, 0);
                }
                t[k] = (g_get_monotonic_time() - t0) / n;
        }
        g_test_message("polkit: ListPage as tbuser1 (asks polkit) %" G_GINT64_FORMAT " us, as root %" G_GINT64_FORMAT
                       " us (mean of %d)", t[0], t[1], n);
}

int main(int argc, char **argv) {
        const char *src = getenv("TELEWORKER_TEST_SOURCE_DIR");
        g_autofree char *policy = NULL, *rule = NULL;
        int r;

        g_test_init(&argc, &argv, NULL);
        /* A failed check must still reach the cleanup below: a rule left behind would make tbuser2 an
         * administrator for every test after this one. */
        g_test_set_nonfatal_assertions();
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;
        /* It writes below /usr and /etc: only inside a testbed (whose root is an overlay). */
        g_assert_nonnull(getenv("TB_INSIDE"));
        g_assert_nonnull(src);
        if (access("/usr/lib/polkit-1/polkitd", X_OK) < 0) {
                g_printerr("polkitd is not installed (Debian package polkitd; tests/run-all.sh installs it)\n");
                return 1;
        }
        policy = g_build_filename(src, "dbus", "org.teleworker.worker1.policy", NULL);
        rule = g_build_filename(src, "dbus", "teleworker.rules", NULL);
        copy_file(policy, POLICY_FILE);
        copy_file(rule, SHIPPED_RULE);
        (void) unlink(TEST_RULE);
        sh("systemctl restart polkit.service");
        user1 = tb_bus_as(TB_UID_USER1);
        user2 = tb_bus_as(TB_UID_USER2);
        admin = tb_bus_as(TB_UID_ADMIN);

        g_test_add_func("/polkit/without-rule", test_without_rule);
        g_test_add_func("/polkit/rule-grants-manage-all", test_rule_grants_manage_all);
        g_test_add_func("/polkit/references-and-filters", test_references_and_filters);
        g_test_add_func("/polkit/shipped-rule", test_shipped_rule);
        g_test_add_func("/polkit/network", test_network);
        g_test_add_func("/polkit/cost", test_cost);
        r = g_test_run();

        (void) unlink(TEST_RULE);
        (void) unlink(SHIPPED_RULE);
        (void) unlink(POLICY_FILE);
        sh("systemctl unmask --runtime polkit.service");
        sh("systemctl restart polkit.service");
        sd_bus_flush_close_unref(user1);
        sd_bus_flush_close_unref(user2);
        sd_bus_flush_close_unref(admin);
        sd_bus_flush_close_unref(root_bus);
        return r;
}
