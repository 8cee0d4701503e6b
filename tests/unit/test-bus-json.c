/* SPDX-License-Identifier: MIT */
/* test-bus-json.c - D-Bus job properties (a{sv}, aa{sv}) -> the JSON job object, from hand-built messages.
 *
 * sd-bus creates messages only on an open bus; an sd_bus on one end of a socketpair that nobody answers is
 * open enough (it never gets past authentication, and no message is sent). */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>
#include <systemd/sd-bus.h>

#undef MIN
#undef MAX
#include "bus/bus-json.h"
#include "shared/macro.h"

typedef struct Fixture {
        sd_bus *bus;
        int peer;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        int p[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), ==, 0);
        g_assert_cmpint(sd_bus_new(&f->bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(f->bus, p[0], p[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(f->bus), >=, 0);
        f->peer = p[1];
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        sd_bus_close_unref(f->bus);
        safe_close(f->peer);
}

static sd_bus_message *new_message(Fixture *f) {
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(f->bus, &m, "org.teleworker.worker1", "/org/teleworker/worker1",
                                                       "org.teleworker.worker1.Manager", "Test"), >=, 0);
        return m;
}

/* Seals m and rewinds it for reading, as if it had just arrived. */
static void seal(sd_bus_message *m) {
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, 1), >=, 0);
}

static void append_full_job(sd_bus_message *m, const char *id) {
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 35,
                "Id", "s", id,
                "Owner", "s", "alice",
                "User", "s", "alice",
                "Argv", "as", 3, "/bin/sh", "-c", "echo \"hi\"/\n",
                "Executable", "s", "/usr/bin/sh",
                "State", "s", "killed",
                "Reason", "s", "oom-kill",
                "ExitCode", "i", -1,
                "ExitSignal", "i", 9,
                "SubmittedAt", "t", UINT64_C(1795372200123456),
                "StartedAt", "t", UINT64_C(1795372200200000),
                "EndedAt", "t", UINT64_C(1795372201000001),
                "Unit", "s", "teleworker-x.scope",
                "OutputSize", "t", UINT64_C(5000000000),
                "OutputDropped", "t", UINT64_C(7),
                "OutputError", "s", "No space left on device",
                "Profile", "s", "small",
                "Slice", "s", "teleworker-alice.slice",
                "StandardInput", "s", "stream",
                "Terminal", "b", 1,
                "RuntimeMaxUSec", "t", UINT64_C(2000000),
                "PrivatePID", "b", 1,
                "PrivateTmp", "b", 1,
                "PrivateNetwork", "b", 0,
                "ProtectSystem", "b", 0,
                "CPUQuotaPerSecUSec", "t", UINT64_C(1500000),
                "MemoryMax", "t", UINT64_C(268435456),
                "IOReadBandwidthMax", "t", UINT64_C(10485760),
                "IOWriteBandwidthMax", "t", UINT64_MAX,
                "TasksMax", "t", UINT64_C(64),
                "MemoryCurrent", "t", UINT64_C(1234),
                "MemoryPeak", "t", UINT64_C(5678),
                "CPUUsageNSec", "t", UINT64_C(42000000),
                "IOReadBytes", "t", UINT64_C(0),
                "IOWriteBytes", "t", UINT64_C(4096)), >=, 0);
}

static const char full_job_json[] =
        "{\"id\":\"8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10\",\"owner\":\"alice\",\"user\":\"alice\","
        "\"argv\":[\"/bin/sh\",\"-c\",\"echo \\\"hi\\\"/\\n\"],\"executable\":\"/usr/bin/sh\","
        "\"state\":\"killed\",\"reason\":\"oom-kill\",\"exit_code\":null,\"exit_signal\":9,\"signal\":\"SIGKILL\","
        "\"submitted_at\":\"2026-11-22T18:30:00.123456Z\",\"started_at\":\"2026-11-22T18:30:00.200000Z\","
        "\"ended_at\":\"2026-11-22T18:30:01.000001Z\",\"unit\":\"teleworker-x.scope\","
        "\"output_size\":5000000000,\"output_dropped\":7,\"output_error\":\"No space left on device\","
        "\"profile\":\"small\",\"slice\":\"teleworker-alice.slice\",\"name\":null,\"stdin\":\"stream\",\"tty\":true,"
        "\"limits\":{\"cpu_quota_per_sec_usec\":1500000,\"memory_max\":268435456,"
        "\"io_read_bandwidth_max\":10485760,\"io_write_bandwidth_max\":null,\"tasks_max\":64,"
        "\"runtime_max_usec\":2000000},"
        "\"usage\":{\"memory_current\":1234,\"memory_peak\":5678,\"cpu_usage_nsec\":42000000,"
        "\"io_read_bytes\":0,\"io_write_bytes\":4096},"
        "\"isolation\":{\"private_pid\":true,\"private_tmp\":true,\"private_network\":false,"
        "\"protect_system\":false}}";

/* Every member, every key in its place, no key from another source. */
static const char empty_job_json[] =
        "{\"id\":null,\"owner\":null,\"user\":null,\"argv\":[],\"executable\":null,\"state\":null,\"reason\":null,"
        "\"exit_code\":null,\"exit_signal\":null,\"signal\":null,\"submitted_at\":null,\"started_at\":null,"
        "\"ended_at\":null,\"unit\":null,\"output_size\":null,\"output_dropped\":null,\"output_error\":null,"
        "\"profile\":null,"
        "\"slice\":null,\"name\":null,\"stdin\":null,\"tty\":null,"
        "\"limits\":{\"cpu_quota_per_sec_usec\":null,\"memory_max\":null,\"io_read_bandwidth_max\":null,"
        "\"io_write_bandwidth_max\":null,\"tasks_max\":null,\"runtime_max_usec\":null},"
        "\"usage\":{\"memory_current\":null,\"memory_peak\":null,\"cpu_usage_nsec\":null,\"io_read_bytes\":null,"
        "\"io_write_bytes\":null},"
        "\"isolation\":{\"private_pid\":null,\"private_tmp\":null,\"private_network\":null,"
        "\"protect_system\":null}}";

static const char *to_string(json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void test_full(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message(f);
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *tail = NULL;

        append_full_job(m, "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10");
        g_assert_cmpint(sd_bus_message_append(m, "s", "after"), >=, 0);
        seal(m);

        g_assert_cmpint(bus_job_props_to_json(m, &o), ==, 0);
        g_assert_cmpstr(to_string(o), ==, full_job_json);

        /* The message is left right after the dictionary. */
        g_assert_cmpint(sd_bus_message_read(m, "s", &tail), >, 0);
        g_assert_cmpstr(tail, ==, "after");
}

static void test_running_and_order(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message(f);
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v, *usage;

        /* A live job, keys in another order, usage partly unavailable (absent), an unknown key of a complex
         * type in the middle, and a duplicate (the last one wins). */
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 12,
                "MemoryCurrent", "t", UINT64_C(100),
                "State", "s", "submitted",
                "FutureThing", "a{sv}", 1, "Nested", "as", 2, "a", "b",
                "ExitSignal", "i", 0,
                "ExitCode", "i", -1,
                "Reason", "s", "",
                "StartedAt", "t", UINT64_C(0),
                "EndedAt", "t", UINT64_C(0),
                "CPUUsageNSec", "t", UINT64_MAX,
                "Id", "s", "first",
                "Id", "s", "second",
                "State", "s", "running"), >=, 0);
        seal(m);

        g_assert_cmpint(bus_job_props_to_json(m, &o), ==, 0);

        g_assert_true(json_object_object_get_ex(o, "id", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "second");
        g_assert_true(json_object_object_get_ex(o, "state", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "running");
        g_assert_false(json_object_object_get_ex(o, "FutureThing", NULL));
        for (const char *const *k = (const char *const[]) { "reason", "exit_code", "exit_signal", "signal",
                                                             "started_at", "ended_at", NULL }; *k; k++) {
                g_assert_true(json_object_object_get_ex(o, *k, &v));
                g_assert_null(v);
        }
        g_assert_true(json_object_object_get_ex(o, "usage", &usage));
        g_assert_true(json_object_object_get_ex(usage, "memory_current", &v));
        g_assert_cmpuint(json_object_get_uint64(v), ==, 100);
        g_assert_true(json_object_object_get_ex(usage, "cpu_usage_nsec", &v));
        g_assert_null(v);
        g_assert_true(json_object_object_get_ex(usage, "memory_peak", &v));
        g_assert_null(v);

        /* Member order is the canonical one, not the message's. */
        {
                const char *keys[32];
                size_t n = 0;

                json_object_object_foreach(o, key, val) {
                        (void) val;
                        g_assert_cmpuint(n, <, G_N_ELEMENTS(keys));
                        keys[n++] = key;
                }
                g_assert_cmpuint(n, ==, 25);
                g_assert_cmpstr(keys[0], ==, "id");
                g_assert_cmpstr(keys[5], ==, "state");
                g_assert_cmpstr(keys[9], ==, "signal");
                g_assert_cmpstr(keys[16], ==, "output_error");
                g_assert_cmpstr(keys[17], ==, "profile");
                g_assert_cmpstr(keys[18], ==, "slice");
                g_assert_cmpstr(keys[19], ==, "name");
                g_assert_cmpstr(keys[20], ==, "stdin");
                g_assert_cmpstr(keys[21], ==, "tty");
                g_assert_cmpstr(keys[22], ==, "limits");
                g_assert_cmpstr(keys[23], ==, "usage");
                g_assert_cmpstr(keys[24], ==, "isolation");
        }
}

static void test_empty(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message(f);
        _cleanup_(json_object_putp) json_object *o = NULL;

        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 0), >=, 0);
        seal(m);
        g_assert_cmpint(bus_job_props_to_json(m, &o), ==, 0);
        g_assert_cmpstr(to_string(o), ==, empty_job_json);
}

static void test_exited(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message(f);
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v;

        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 4,
                "ExitCode", "i", 0,
                "ExitSignal", "i", 0,
                "Reason", "s", "exited",
                "OutputSize", "t", UINT64_MAX), >=, 0);
        seal(m);
        g_assert_cmpint(bus_job_props_to_json(m, &o), ==, 0);

        g_assert_true(json_object_object_get_ex(o, "exit_code", &v));
        g_assert_true(json_object_is_type(v, json_type_int));
        g_assert_cmpint(json_object_get_int(v), ==, 0);
        g_assert_true(json_object_object_get_ex(o, "reason", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "exited");
        /* A byte count is a byte count, even at the top of the range (no "unlimited" meaning there). */
        g_assert_true(json_object_object_get_ex(o, "output_size", &v));
        g_assert_cmpuint(json_object_get_uint64(v), ==, UINT64_MAX);
}

static void expect_bad(Fixture *f, const char *signature, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message(f);
        _cleanup_(json_object_putp) json_object *o = NULL;
        va_list ap;

        va_start(ap, signature);
        g_assert_cmpint(sd_bus_message_appendv(m, signature, ap), >=, 0);
        va_end(ap);
        seal(m);
        g_assert_cmpint(bus_job_props_to_json(m, &o), ==, -EBADMSG);
        g_assert_null(o);
}

static void test_wrong_types(Fixture *f, gconstpointer data) {
        expect_bad(f, "a{sv}", 1, "ExitCode", "u", 3U);
        expect_bad(f, "a{sv}", 1, "State", "i", 1);
        expect_bad(f, "a{sv}", 1, "Argv", "s", "/bin/true");
        expect_bad(f, "a{sv}", 1, "MemoryMax", "i", 5);
        expect_bad(f, "a{sv}", 2, "Id", "s", "x", "StartedAt", "x", INT64_C(5));
        /* Not an a{sv} at all. */
        expect_bad(f, "s", "hello");
        expect_bad(f, "a{ss}", 1, "Id", "x");
        expect_bad(f, "as", 1, "Id");
}

static void test_nothing_there(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message(f);
        _cleanup_(json_object_putp) json_object *o = NULL;

        seal(m);
        g_assert_cmpint(bus_job_props_to_json(m, &o), <, 0);
        g_assert_null(o);
        g_assert_cmpint(bus_job_props_to_json(NULL, &o), ==, -EINVAL);
}

static void append_n_entries(sd_bus_message *m, unsigned n) {
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        for (unsigned i = 0; i < n; i++) {
                char key[32];

                snprintf(key, sizeof(key), "Unknown%u", i);
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", key, "u", i), >=, 0);
        }
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
}

static void test_bounded(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *ok = new_message(f), *bad = new_message(f);
        _cleanup_(json_object_putp) json_object *o = NULL, *o2 = NULL;

        append_n_entries(ok, BUS_JOB_PROPS_MAX);
        seal(ok);
        g_assert_cmpint(bus_job_props_to_json(ok, &o), ==, 0);
        g_assert_nonnull(o);

        append_n_entries(bad, BUS_JOB_PROPS_MAX + 1);
        seal(bad);
        g_assert_cmpint(bus_job_props_to_json(bad, &o2), ==, -EBADMSG);
        g_assert_null(o2);
}

static void test_list(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message(f), *empty = new_message(f),
                                                         *bad = new_message(f);
        _cleanup_(json_object_putp) json_object *a = NULL, *e = NULL, *b = NULL;
        json_object *v;

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "a{sv}"), >=, 0);
        append_full_job(m, "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10");
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "Id", "s", "second"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 0), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        seal(m);

        g_assert_cmpint(bus_job_list_to_json(m, &a), ==, 0);
        g_assert_true(json_object_is_type(a, json_type_array));
        g_assert_cmpuint(json_object_array_length(a), ==, 3);
        g_assert_cmpstr(to_string(json_object_array_get_idx(a, 0)), ==, full_job_json);
        g_assert_true(json_object_object_get_ex(json_object_array_get_idx(a, 1), "id", &v));
        g_assert_cmpstr(json_object_get_string(v), ==, "second");
        g_assert_cmpstr(to_string(json_object_array_get_idx(a, 2)), ==, empty_job_json);

        g_assert_cmpint(sd_bus_message_append(empty, "aa{sv}", 0), >=, 0);
        seal(empty);
        g_assert_cmpint(bus_job_list_to_json(empty, &e), ==, 0);
        g_assert_cmpstr(to_string(e), ==, "[]");

        /* One bad job spoils the list. */
        g_assert_cmpint(sd_bus_message_open_container(bad, 'a', "a{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(bad, "a{sv}", 1, "Id", "s", "fine"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(bad, "a{sv}", 1, "Id", "u", 1U), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(bad), >=, 0);
        seal(bad);
        g_assert_cmpint(bus_job_list_to_json(bad, &b), ==, -EBADMSG);
        g_assert_null(b);
}

static void test_signal_names(void) {
        char buf[32];

        g_assert_cmpstr(bus_json_signal_name(SIGKILL), ==, "SIGKILL");
        g_assert_cmpstr(bus_json_signal_name(SIGTERM), ==, "SIGTERM");
        g_assert_cmpstr(bus_json_signal_name(SIGSEGV), ==, "SIGSEGV");
        g_assert_cmpstr(bus_json_signal_name(SIGSYS), ==, "SIGSYS");
        g_assert_cmpstr(bus_json_signal_name(SIGRTMIN), ==, "SIGRTMIN");
        snprintf(buf, sizeof(buf), "SIGRTMIN+%d", 3);
        g_assert_cmpstr(bus_json_signal_name(SIGRTMIN + 3), ==, buf);
        g_assert_null(bus_json_signal_name(0));
        g_assert_null(bus_json_signal_name(-1));
        g_assert_null(bus_json_signal_name(SIGRTMAX + 1));
        g_assert_null(bus_json_signal_name(1000));
}

static void test_unknown_signal(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_message(f);
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v;

        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "ExitSignal", "i", 1000), >=, 0);
        seal(m);
        g_assert_cmpint(bus_job_props_to_json(m, &o), ==, 0);
        g_assert_true(json_object_object_get_ex(o, "exit_signal", &v));
        g_assert_cmpint(json_object_get_int(v), ==, 1000);
        g_assert_true(json_object_object_get_ex(o, "signal", &v));
        g_assert_null(v);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

#define ADD(name, fn) g_test_add("/bus-json/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("full", test_full);
        ADD("running-and-order", test_running_and_order);
        ADD("empty", test_empty);
        ADD("exited", test_exited);
        ADD("wrong-types", test_wrong_types);
        ADD("nothing-there", test_nothing_there);
        ADD("bounded", test_bounded);
        ADD("list", test_list);
        ADD("unknown-signal", test_unknown_signal);
        g_test_add_func("/bus-json/signal-names", test_signal_names);

        return g_test_run();
}
