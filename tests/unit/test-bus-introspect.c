/* SPDX-License-Identifier: MIT */
/* test-bus-introspect - the daemon's vtables (src/bus/bus-methods.c, bus-job.c), introspected by sd-bus over a
 * private connection pair, say exactly what dbus/org.teleworker.worker1.xml (the installed interface file) says:
 * the same methods with the same argument names, types and directions, the same signals, the same
 * properties with their types, access and change signalling. So the XML cannot drift from the code. */
#include <errno.h>
#include <gio/gio.h>
#include <glib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "shared/api.h"
#include "bus/bus-api.h"

typedef struct Pair {
        sd_bus *server, *client;
} Pair;

static void pair_open(Pair *p) {
        sd_id128_t id;
        int fds[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), ==, 0);
        g_assert_cmpint(sd_id128_randomize(&id), >=, 0);
        g_assert_cmpint(sd_bus_new(&p->server), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(p->server, fds[0], fds[0]), >=, 0);
        g_assert_cmpint(sd_bus_set_server(p->server, 1, id), >=, 0);
        g_assert_cmpint(sd_bus_start(p->server), >=, 0);
        g_assert_cmpint(sd_bus_new(&p->client), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(p->client, fds[1], fds[1]), >=, 0);
        g_assert_cmpint(sd_bus_start(p->client), >=, 0);
}

static void pair_close(Pair *p) {
        p->server = sd_bus_flush_close_unref(p->server);
        p->client = sd_bus_flush_close_unref(p->client);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        sd_bus_message **ret = userdata;

        *ret = sd_bus_message_ref(m);
        return 0;
}

/* Introspect(path) from the client while the server answers, both on this thread. */
static char *introspect(Pair *p, const char *path) {
        sd_bus_message *reply = NULL;
        const char *xml;
        char *ret;

        g_assert_cmpint(sd_bus_call_method_async(p->client, NULL, "org.teleworker.test", path,
                                                 "org.freedesktop.DBus.Introspectable", "Introspect", on_reply,
                                                 &reply, NULL), >=, 0);
        for (unsigned i = 0; !reply && i < 10000; i++) {
                struct pollfd pfd[2] = {
                        { .fd = sd_bus_get_fd(p->server), .events = sd_bus_get_events(p->server) },
                        { .fd = sd_bus_get_fd(p->client), .events = sd_bus_get_events(p->client) },
                };

                while (sd_bus_process(p->server, NULL) > 0)
                        ;
                while (sd_bus_process(p->client, NULL) > 0)
                        ;
                if (!reply)
                        (void) poll(pfd, 2, 10);
        }
        g_assert_nonnull(reply);
        g_assert_false(sd_bus_message_is_method_error(reply, NULL));
        g_assert_cmpint(sd_bus_message_read(reply, "s", &xml), >=, 0);
        ret = g_strdup(xml);
        sd_bus_message_unref(reply);
        return ret;
}

static void assert_args_equal(const char *where, GDBusArgInfo **want, GDBusArgInfo **got) {
        size_t n = 0;

        for (; want && want[n]; n++) {
                if (!got || !got[n])
                        g_error("%s: argument %zu (%s) missing in the vtable", where, n, want[n]->name);
                if (!streq(want[n]->signature, got[n]->signature) || !streq_ptr(want[n]->name, got[n]->name))
                        g_error("%s: argument %zu is %s '%s' in the XML, %s '%s' in the vtable", where, n,
                                want[n]->name, want[n]->signature, got[n]->name, got[n]->signature);
        }
        if (got && got[n])
                g_error("%s: the vtable has an extra argument %s", where, got[n]->name);
}

static const char *emits_changed(GDBusAnnotationInfo **a) {
        const char *v = g_dbus_annotation_info_lookup(a, "org.freedesktop.DBus.Property.EmitsChangedSignal");

        return v ? v : "true"; /* the specification's default */
}

static void assert_interface_equal(GDBusInterfaceInfo *want, GDBusInterfaceInfo *got) {
        size_t n;

        for (n = 0; want->methods && want->methods[n]; n++) {
                GDBusMethodInfo *w = want->methods[n], *g = g_dbus_interface_info_lookup_method(got, w->name);
                g_autofree char *where = g_strdup_printf("%s.%s()", want->name, w->name);

                if (!g)
                        g_error("%s: in the XML, not in the vtable", where);
                assert_args_equal(where, w->in_args, g->in_args);
                assert_args_equal(where, w->out_args, g->out_args);
        }
        for (size_t i = 0; got->methods && got->methods[i]; i++)
                if (!g_dbus_interface_info_lookup_method(want, got->methods[i]->name))
                        g_error("%s.%s(): in the vtable, not in the XML", want->name, got->methods[i]->name);

        for (n = 0; want->signals && want->signals[n]; n++) {
                GDBusSignalInfo *w = want->signals[n], *g = g_dbus_interface_info_lookup_signal(got, w->name);
                g_autofree char *where = g_strdup_printf("signal %s.%s", want->name, w->name);

                if (!g)
                        g_error("%s: in the XML, not in the vtable", where);
                assert_args_equal(where, w->args, g->args);
        }
        for (size_t i = 0; got->signals && got->signals[i]; i++)
                if (!g_dbus_interface_info_lookup_signal(want, got->signals[i]->name))
                        g_error("signal %s.%s: in the vtable, not in the XML", want->name, got->signals[i]->name);

        for (n = 0; want->properties && want->properties[n]; n++) {
                GDBusPropertyInfo *w = want->properties[n], *g = g_dbus_interface_info_lookup_property(got, w->name);

                if (!g)
                        g_error("property %s.%s: in the XML, not in the vtable", want->name, w->name);
                if (!streq(w->signature, g->signature) || w->flags != g->flags ||
                    !streq(emits_changed(w->annotations), emits_changed(g->annotations)))
                        g_error("property %s.%s: %s/%d/%s in the XML, %s/%d/%s in the vtable", want->name, w->name,
                                w->signature, (int) w->flags, emits_changed(w->annotations), g->signature,
                                (int) g->flags, emits_changed(g->annotations));
        }
        for (size_t i = 0; got->properties && got->properties[i]; i++)
                if (!g_dbus_interface_info_lookup_property(want, got->properties[i]->name))
                        g_error("property %s.%s: in the vtable, not in the XML", want->name,
                                got->properties[i]->name);
}

static GDBusNodeInfo *parse(const char *xml, const char *what) {
        g_autoptr(GError) error = NULL;
        GDBusNodeInfo *node = g_dbus_node_info_new_for_xml(xml, &error);

        if (!node)
                g_error("%s: %s", what, error->message);
        return node;
}

static void test_vtables_match_xml(void) {
        static const char *const interfaces[] = {
                TW_BUS_INTERFACE_MANAGER, TW_BUS_INTERFACE_REMOTE, TW_BUS_INTERFACE_JOB,
        };
        g_autofree char *file = NULL;
        g_autoptr(GDBusNodeInfo) want = NULL;
        size_t n_want = 0;
        Pair p = {};

        g_assert_true(g_file_get_contents(TEST_INTERFACE_XML, &file, NULL, NULL));
        want = parse(file, TEST_INTERFACE_XML);
        pair_open(&p);
        for (size_t i = 0; i < G_N_ELEMENTS(interfaces); i++) {
                g_autofree char *path = g_strdup_printf("/test/%zu", i), *xml = NULL;
                g_autoptr(GDBusNodeInfo) got = NULL;
                GDBusInterfaceInfo *w, *g;

                g_assert_nonnull(bus_api_vtable(interfaces[i]));
                g_assert_cmpint(sd_bus_add_object_vtable(p.server, NULL, path, interfaces[i],
                                                         bus_api_vtable(interfaces[i]), NULL), >=, 0);
                xml = introspect(&p, path);
                got = parse(xml, path);
                w = g_dbus_node_info_lookup_interface(want, interfaces[i]);
                g = g_dbus_node_info_lookup_interface(got, interfaces[i]);
                g_assert_nonnull(w);
                g_assert_nonnull(g);
                assert_interface_equal(w, g);
        }
        /* And the XML describes no interface the daemon does not have. */
        for (; want->interfaces && want->interfaces[n_want]; n_want++)
                ;
        g_assert_cmpuint(n_want, ==, G_N_ELEMENTS(interfaces));
        g_assert_null(bus_api_vtable("org.teleworker.worker1.Nothing"));
        pair_close(&p);
}

/* The comparison itself catches a difference (a test that cannot fail proves nothing). */
static void test_drift_is_caught(void) {
        if (g_test_subprocess()) {
                g_autoptr(GDBusNodeInfo) a = parse("<node><interface name='x'><method name='M'>"
                                                   "<arg name='id' type='s' direction='in'/></method>"
                                                   "</interface></node>", "a");
                g_autoptr(GDBusNodeInfo) b = parse("<node><interface name='x'><method name='M'>"
                                                   "<arg name='id' type='t' direction='in'/></method>"
                                                   "</interface></node>", "b");

                assert_interface_equal(a->interfaces[0], b->interfaces[0]);
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_failed();
        g_test_trap_assert_stderr("*argument 0 is id 's' in the XML, id 't' in the vtable*");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/bus-introspect/vtables-match-xml", test_vtables_match_xml);
        g_test_add_func("/bus-introspect/drift-is-caught", test_drift_is_caught);
        return g_test_run();
}
