/* SPDX-License-Identifier: MIT */
/* test-bus-api - the daemon's readers of untrusted D-Bus arguments (src/bus/bus-start.c): argv/env arrays
 * refused at the first string past a bound, Start options refused when a key repeats or RuntimeMaxUSec is
 * out of range. */
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/api.h"
#include "bus/bus-api.h"
#include "bus/bus-events.h"
#include "bus/bus-start.h"

static sd_bus *test_bus(void) {
        static sd_bus *bus;
        int p[2];

        if (bus)
                return bus;
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), ==, 0);
        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, p[0], p[0]), >=, 0);
        g_assert_cmpint(sd_bus_start(bus), >=, 0);
        return bus;
}

static sd_bus_message *new_message(void) {
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(test_bus(), &m, "org.teleworker.worker1",
                                                       "/org/teleworker/worker1", "org.teleworker.worker1.Manager",
                                                       "Start"), >=, 0);
        return m;
}

static void seal(sd_bus_message *m) {
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, true), >=, 0);
}

/* An "as" of n copies of s. */
static sd_bus_message *strv_message(size_t n, const char *s) {
        sd_bus_message *m = new_message();

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "s"), >=, 0);
        for (size_t i = 0; i < n; i++)
                g_assert_cmpint(sd_bus_message_append_basic(m, 's', s), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        seal(m);
        return m;
}

static int read_strv(sd_bus_message *m, size_t max_n, size_t *total, char ***ret, sd_bus_error *e) {
        return bus_read_strv_bounded(m, "arguments", max_n, total, ret, e);
}

static void test_strv_within_bounds(void) {
        sd_bus_message *m = strv_message(3, "abc");
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char **l = NULL;
        size_t total = 10;

        g_assert_cmpint(read_strv(m, 3, &total, &l, &e), ==, 0);
        g_assert_cmpuint(g_strv_length(l), ==, 3);
        g_assert_cmpstr(l[2], ==, "abc");
        g_assert_cmpuint(total, ==, 10 + 3 * 4);
        free(l);
        sd_bus_message_unref(m);

        m = strv_message(0, "");
        g_assert_cmpint(read_strv(m, 3, &total, &l, &e), ==, 0);
        g_assert_nonnull(l);
        g_assert_null(l[0]);
        free(l);
        sd_bus_message_unref(m);
}

static void test_strv_too_many(void) {
        sd_bus_message *m = strv_message(5, "x");
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char **l = NULL;
        size_t total = 0;

        g_assert_cmpint(read_strv(m, 4, &total, &l, &e), <, 0);
        g_assert_true(sd_bus_error_has_name(&e, TW_ERROR_INVALID_ARGS));
        g_assert_nonnull(strstr(e.message, "at most 4"));
        g_assert_null(l);
        /* refused at the 5th: the 4 before it were counted, nothing more */
        g_assert_cmpuint(total, ==, 4 * 2);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
}

static void test_strv_long_argument(void) {
        g_autofree char *big = g_malloc(JOB_ARG_BYTES_MAX + 1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m;
        char **l = NULL;
        size_t total = 0;

        /* JOB_ARG_BYTES_MAX - 1 characters + NUL: the kernel's limit exactly, accepted */
        memset(big, 'a', JOB_ARG_BYTES_MAX - 1);
        big[JOB_ARG_BYTES_MAX - 1] = 0;
        m = strv_message(1, big);
        g_assert_cmpint(read_strv(m, 4, &total, &l, &e), ==, 0);
        g_assert_cmpuint(total, ==, JOB_ARG_BYTES_MAX);
        free(l);
        sd_bus_message_unref(m);

        /* one byte more: InvalidArgs, not a StartFailed from exec later */
        memset(big, 'a', JOB_ARG_BYTES_MAX);
        big[JOB_ARG_BYTES_MAX] = 0;
        m = strv_message(1, big);
        total = 0;
        g_assert_cmpint(read_strv(m, 4, &total, &l, &e), <, 0);
        g_assert_true(sd_bus_error_has_name(&e, TW_ERROR_INVALID_ARGS));
        g_assert_nonnull(strstr(e.message, "too long"));
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
}

static void test_strv_total(void) {
        g_autofree char *s = g_malloc(100 * 1024);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m;
        char **l = NULL;
        size_t total = 0;

        memset(s, 'b', 100 * 1024 - 1);
        s[100 * 1024 - 1] = 0;
        /* 11 x 100 KiB > 1 MiB: refused at the 11th */
        m = strv_message(11, s);
        g_assert_cmpint(read_strv(m, 4096, &total, &l, &e), <, 0);
        g_assert_true(sd_bus_error_has_name(&e, TW_ERROR_INVALID_ARGS));
        g_assert_nonnull(strstr(e.message, "too large"));
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);

        /* the total is shared: env counts on top of argv */
        m = strv_message(5, s);
        total = JOB_REQUEST_BYTES_MAX - 4 * 100 * 1024;
        g_assert_cmpint(read_strv(m, 4096, &total, &l, &e), <, 0);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
}

/* Not the element count of a huge array, but what the reader gets through before it refuses: a 300,000
 * element "as" is refused after JOB_ARGV_MAX + 1 strings, in well under the time the old quadratic
 * read took (seconds). */
static void test_strv_huge_array_is_cheap(void) {
        sd_bus_message *m = strv_message(300000, "x");
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char **l = NULL;
        size_t total = 0;
        gint64 t0 = g_get_monotonic_time(), dt;

        g_assert_cmpint(read_strv(m, JOB_ARGV_MAX, &total, &l, &e), <, 0);
        dt = g_get_monotonic_time() - t0;
        g_test_message("refused a 300000-string array in %" G_GINT64_FORMAT " us", dt);
        g_assert_cmpuint(total, ==, (size_t) JOB_ARGV_MAX * 2);
        g_assert_cmpint(dt, <, 100 * 1000);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
}

static sd_bus_message *options_message(const char *k1, uint64_t v1, const char *k2, uint64_t v2) {
        sd_bus_message *m = new_message();

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "{sv}", k1, "t", v1), >=, 0);
        if (k2)
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", k2, "t", v2), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        seal(m);
        return m;
}

static int read_options(sd_bus_message *m, StartRequest *req, sd_bus_error *e) {
        *req = (StartRequest) { .isolation = START_ISOLATION_UNSET };
        return bus_read_start_options(m, req, e);
}

static void test_options_duplicate(void) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = options_message("MemoryMax", 100 << 20, "MemoryMax", 200 << 20);
        StartRequest req;

        g_assert_cmpint(read_options(m, &req, &e), <, 0);
        g_assert_true(sd_bus_error_has_name(&e, TW_ERROR_INVALID_ARGS));
        g_assert_nonnull(strstr(e.message, "more than once"));
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);

        m = options_message("MemoryMax", 100 << 20, "TasksMax", 20);
        g_assert_cmpint(read_options(m, &req, &e), >=, 0);
        g_assert_cmpuint(req.limits.memory_max, ==, 100 << 20);
        sd_bus_message_unref(m);
}

static void test_options_runtime(void) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m;
        StartRequest req;

        m = options_message("RuntimeMaxUSec", UINT64_MAX, NULL, 0);
        g_assert_cmpint(read_options(m, &req, &e), >=, 0);
        g_assert_cmpuint(req.runtime_max_usec, ==, JOB_RUNTIME_USEC_INFINITY);
        sd_bus_message_unref(m);

        m = options_message("RuntimeMaxUSec", JOB_RUNTIME_USEC_MAX, NULL, 0);
        g_assert_cmpint(read_options(m, &req, &e), >=, 0);
        g_assert_cmpuint(req.runtime_max_usec, ==, JOB_RUNTIME_USEC_MAX);
        sd_bus_message_unref(m);

        m = options_message("RuntimeMaxUSec", UINT64_MAX - 1, NULL, 0);
        g_assert_cmpint(read_options(m, &req, &e), <, 0);
        g_assert_true(sd_bus_error_has_name(&e, TW_ERROR_LIMIT_EXCEEDED));
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
}

/* The one writer (telerun, the gateway) and the one reader (the daemon) agree on every field; what is not
 * given is not sent, and reads back as not given. */
static void assert_round_trip(const StartRequest *in) {
        _cleanup_(bus_start_request_done) StartRequest out = { .isolation = START_ISOLATION_UNSET };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = new_message();

        g_assert_cmpint(bus_append_start_request(m, in), >=, 0);
        seal(m);
        g_assert_cmpint(bus_read_start_request(m, &out, &e), >=, 0);
        g_assert_cmpuint(strv_length(out.argv), ==, strv_length(in->argv));
        for (size_t i = 0; in->argv[i]; i++)
                g_assert_cmpstr(out.argv[i], ==, in->argv[i]);
        g_assert_cmpuint(strv_length(out.env), ==, strv_length(in->env));
        for (size_t i = 0; in->env && in->env[i]; i++)
                g_assert_cmpstr(out.env[i], ==, in->env[i]);
        g_assert_cmpstr(out.cwd, ==, in->cwd ? in->cwd : "");
        g_assert_cmpmem(&out.limits, sizeof(out.limits), &in->limits, sizeof(in->limits));
        g_assert_cmpstr(out.profile, ==, in->profile);
        g_assert_cmpuint(out.runtime_max_usec, ==, in->runtime_max_usec);
        g_assert_cmpmem(&out.isolation, sizeof(out.isolation), &in->isolation, sizeof(in->isolation));
        g_assert_cmpint(out.stdin_kind, ==, in->stdin_kind);
        g_assert_cmpuint(out.tty_rows, ==, in->tty_rows);
        g_assert_cmpuint(out.tty_cols, ==, in->tty_cols);
        if (in->stdin_kind == START_STDIN_FD) {
                struct stat a, b;

                /* sd-bus holds a copy of the fd: the same open file. */
                g_assert_cmpint(fstat(in->stdin_fd, &a), ==, 0);
                g_assert_cmpint(fstat(out.stdin_fd, &b), ==, 0);
                g_assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
        }
        sd_bus_message_unref(m);
}

static void test_start_request_round_trip(void) {
        char *argv[] = { (char *) "/bin/echo", (char *) "a b", NULL }, *env[] = { (char *) "A=1", NULL };
        StartRequest all = {
                .argv = argv,
                .env = env,
                .cwd = "/tmp",
                .limits = { 1500000, 256 << 20, 10 << 20, 20 << 20, 64 },
                .profile = "small",
                .runtime_max_usec = JOB_RUNTIME_USEC_INFINITY,
                .isolation = { .private_pid = 1, .private_tmp = 0, .private_network = 0, .protect_system = 1 },
        };
        StartRequest none = { .argv = argv, .isolation = START_ISOLATION_UNSET };
        StartRequest some = { .argv = argv, .limits.tasks_max = 5, .runtime_max_usec = 1,
                              .isolation = { -1, -1, 1, -1 } };

        assert_round_trip(&all);
        assert_round_trip(&none);
        assert_round_trip(&some);
        some.stdin_kind = START_STDIN_STREAM;
        assert_round_trip(&some);
        some.stdin_kind = START_STDIN_FD;
        some.stdin_fd = STDERR_FILENO;
        assert_round_trip(&some);
        some.tty_rows = 24;
        some.tty_cols = 4096;
        assert_round_trip(&some);
}

/* Terminal: "(qq)", each 1..START_TTY_SIZE_MAX. */
static void test_options_terminal(void) {
        static const struct {
                uint16_t rows, cols;
                bool ok;
        } cases[] = { { 24, 80, true }, { 1, 1, true }, { 4096, 4096, true }, { 0, 80, false }, { 24, 0, false },
                      { 4097, 80, false }, { 24, 65535, false } };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *m = new_message();
                StartRequest req;
                int r;

                g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "Terminal", "(qq)", cases[i].rows, cases[i].cols),
                                >=, 0);
                seal(m);
                r = read_options(m, &req, &e);
                g_assert_cmpint(r >= 0, ==, cases[i].ok);
                if (cases[i].ok)
                        g_assert_true(req.tty_rows == cases[i].rows && req.tty_cols == cases[i].cols);
                else
                        g_assert_true(sd_bus_error_has_name(&e, TW_ERROR_INVALID_ARGS));
                sd_bus_error_free(&e);
                sd_bus_message_unref(m);
        }
}

static sd_bus_message *stdin_message(const char *type, const char *value) {
        sd_bus_message *m = new_message();

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        if (type[0] == 's')
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", "StandardInput", "s", value), >=, 0);
        else
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", "StandardInput", "t", (uint64_t) 0), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        seal(m);
        return m;
}

/* StandardInput: "null" and "stream" as strings; "fd" is only ever an fd; other names and types refused. */
static void test_options_stdin(void) {
        static const struct {
                const char *type, *value;
                int kind;  /* -1: refused */
        } cases[] = {
                { "s", "null", START_STDIN_NULL },
                { "s", "stream", START_STDIN_STREAM },
                { "s", "fd", -1 },
                { "s", "tty", -1 },
                { "s", "", -1 },
                { "t", NULL, -1 },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *m = stdin_message(cases[i].type, cases[i].value);
                StartRequest req;
                int r = read_options(m, &req, &e);

                if (cases[i].kind < 0) {
                        g_assert_cmpint(r, <, 0);
                        g_assert_true(sd_bus_error_has_name(&e, TW_ERROR_INVALID_ARGS));
                        g_assert_nonnull(strstr(e.message, "StandardInput"));
                        g_assert_cmpint(req.stdin_kind, ==, START_STDIN_NULL);
                } else {
                        g_assert_cmpint(r, >=, 0);
                        g_assert_cmpint(req.stdin_kind, ==, cases[i].kind);
                }
                sd_bus_error_free(&e);
                sd_bus_message_unref(m);
        }
}

static void test_list_cursor(void) {
        uint64_t seq = 99;

        g_assert_cmpint(bus_list_cursor_parse("", 0xab, &seq), ==, 0);
        g_assert_cmpuint(seq, ==, 0);
        g_assert_cmpint(bus_list_cursor_parse(NULL, 0xab, &seq), ==, 0);
        g_assert_cmpint(bus_list_cursor_parse("00000000000000ab-42", 0xab, &seq), ==, 0);
        g_assert_cmpuint(seq, ==, 42);
        g_assert_cmpint(bus_list_cursor_parse("00000000000000ab-9999999999999999999", 0xab, &seq), ==, 0);
        g_assert_cmpuint(seq, ==, UINT64_C(9999999999999999999));
        g_assert_cmpint(bus_list_cursor_parse("00000000000000ac-42", 0xab, &seq), ==, -ESTALE);
        const char *bad[] = { "x", "00000000000000ab", "00000000000000ab-", "00000000000000ab--1",
                              "00000000000000ab-+1", "00000000000000ab- 1", "00000000000000AB-1",
                              "0000000000000ab-1", "000000000000000ab-1", "00000000000000ab-1x",
                              "00000000000000ab-99999999999999999999", " 0000000000000ab-1" };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_cmpint(bus_list_cursor_parse(bad[i], 0xab, &seq), ==, -EINVAL);
}

/* EventsAs: which last-event ids the ring answers from, and which get "reset". */
static void test_events_classify(void) {
        const uint64_t base = 1764767040000000;

        /* no events yet */
        g_assert_cmpint(bus_events_classify(base, base, 0), ==, BUS_EVENTS_FROM_NOW);
        g_assert_cmpint(bus_events_classify(base, base, base), ==, BUS_EVENTS_AFTER);
        g_assert_cmpint(bus_events_classify(base, base, base - 1), ==, BUS_EVENTS_RESET);   /* an earlier run's */
        g_assert_cmpint(bus_events_classify(base, base, base + 1), ==, BUS_EVENTS_RESET);   /* the future */
        g_assert_cmpint(bus_events_classify(base, base, 1), ==, BUS_EVENTS_RESET);
        /* a few events, all held */
        g_assert_cmpint(bus_events_classify(base, base + 5, base), ==, BUS_EVENTS_AFTER);
        g_assert_cmpint(bus_events_classify(base, base + 5, base + 5), ==, BUS_EVENTS_AFTER);
        g_assert_cmpint(bus_events_classify(base, base + 5, base + 6), ==, BUS_EVENTS_RESET);
        /* the ring wrapped: the oldest held is newest - EVENTS_RING_SIZE + 1 */
        g_assert_cmpint(bus_events_classify(base, base + 5000, base + 5000 - EVENTS_RING_SIZE), ==, BUS_EVENTS_AFTER);
        g_assert_cmpint(bus_events_classify(base, base + 5000, base + 5000 - EVENTS_RING_SIZE - 1), ==,
                        BUS_EVENTS_RESET);
        g_assert_cmpint(bus_events_classify(base, base + EVENTS_RING_SIZE, base), ==, BUS_EVENTS_AFTER);
        g_assert_cmpint(bus_events_classify(base, base + EVENTS_RING_SIZE + 1, base), ==, BUS_EVENTS_RESET);
        g_assert_cmpint(bus_events_classify(base, base + 5, UINT64_MAX), ==, BUS_EVENTS_RESET);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/bus-api/strv/within-bounds", test_strv_within_bounds);
        g_test_add_func("/bus-api/strv/too-many", test_strv_too_many);
        g_test_add_func("/bus-api/strv/long-argument", test_strv_long_argument);
        g_test_add_func("/bus-api/strv/total", test_strv_total);
        g_test_add_func("/bus-api/strv/huge-array-is-cheap", test_strv_huge_array_is_cheap);
        g_test_add_func("/bus-api/options/duplicate", test_options_duplicate);
        g_test_add_func("/bus-api/options/runtime", test_options_runtime);
        g_test_add_func("/bus-api/options/stdin", test_options_stdin);
        g_test_add_func("/bus-api/options/terminal", test_options_terminal);
        g_test_add_func("/bus-api/list-cursor", test_list_cursor);
        g_test_add_func("/bus-api/start-request/round-trip", test_start_request_round_trip);
        g_test_add_func("/bus-api/events-classify", test_events_classify);
        return g_test_run();
}
