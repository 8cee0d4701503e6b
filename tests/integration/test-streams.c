/* SPDX-License-Identifier: MIT */
/* test-streams - stdout and stderr kept apart, with times (issue 15): a job writing interleaved "out N" and
 * "err N" lines read per stream and merged (D-Bus OpenOutputEx, telerun logs/run), --since/--until and
 * --timestamps on a job writing a line per second, --tail per stream, and the split surviving a restart of
 * the daemon (the stream index reloaded from disk); ReadOutputEx, one stream in the reply (busctl by hand). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb-client.h"

/* telerun ARGV (NULL-terminated) as tbuser1, stdout and stderr apart. */
static TbResult telerun_v(const char *const *args) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        TbResult r = {};
        GError *error = NULL;
        int wait_status;

        g_ptr_array_add(argv, (char *) TELERUN_PATH);
        for (const char *const *a = args; *a; a++)
                g_ptr_array_add(argv, (char *) *a);
        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync("/", (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, tb_drop_to,
                                   GUINT_TO_POINTER(TB_UID_USER1), &r.out, &r.err, &wait_status, &error));
        g_assert_true(WIFEXITED(wait_status));
        r.status = WEXITSTATUS(wait_status);
        g_test_message("telerun %s %s ... -> %d\nstdout: %s\nstderr: %s", args[0], args[1] ? args[1] : "", r.status,
                       r.out, r.err);
        return r;
}

#define TELERUN(...) telerun_v((const char *const[]) { __VA_ARGS__, NULL })

/* The interleaving job: n lines, even ones "out N" on stdout, odd ones "err N" on stderr, `gap` seconds
 * apart (writes separated in time keep their order in the merged stream). */
static char *interleaved_script(unsigned n, double gap) {
        return g_strdup_printf("i=0; while [ $i -lt %u ]; do if [ $((i %% 2)) = 0 ]; then echo \"out $i\"; "
                               "else echo \"err $i\" >&2; fi; i=$((i + 1)); sleep %.2f; done", n, gap);
}

static void expected_lines(unsigned n, GString *all, GString *out, GString *err) {
        for (unsigned i = 0; i < n; i++) {
                g_string_append_printf(all, "%s %u\n", i % 2 ? "err" : "out", i);
                g_string_append_printf(i % 2 ? err : out, "%s %u\n", i % 2 ? "err" : "out", i);
        }
}

static char *start_job(const char *script) {
        TbResult r = TELERUN("start", "--", "/bin/sh", "-c", script);
        char *id;

        g_assert_cmpint(r.status, ==, 0);
        id = g_strstrip(g_strdup(r.out));
        tb_result_clear(&r);
        return id;
}

static void wait_job(const char *id) {
        TbResult r = TELERUN("wait", id);

        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
}

/* OpenOutputEx(id, {stream, framed}) as tbuser1: the whole output. */
static GByteArray *open_ex(sd_bus *bus, const char *id, const char *stream, bool framed, uint64_t *ret_offset) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        GByteArray *data;
        uint64_t offset;
        int fd;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.teleworker.worker1", "/org/teleworker/worker1",
                                                       "org.teleworker.worker1.Manager", "OpenOutputEx"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "sa{sv}", id, 2, "stream", "s", stream, "framed", "b", (int) framed),
                        >=, 0);
        g_assert_cmpint(sd_bus_call(bus, m, 0, &e, &reply), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "ht", &fd, &offset), >=, 0);
        data = tb_read_all(fd);
        if (ret_offset)
                *ret_offset = offset;
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return data;
}

static void assert_bytes(GByteArray *got, const GString *want) {
        g_assert_cmpmem(got->data, got->len, want->str, want->len);
        g_byte_array_unref(got);
}

/* Per stream exact, merged in the writer's order: over D-Bus (plain and framed) and through telerun. */
static void test_split(void) {
        g_autoptr(GString) all = g_string_new(NULL), out = g_string_new(NULL), err = g_string_new(NULL);
        g_autofree char *script = interleaved_script(10, 0.1 * tb_slowdown());
        g_autofree char *id = start_job(script);
        sd_bus *bus = tb_bus_as(TB_UID_USER1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        GByteArray *framed;
        TbResult r;
        int fd;

        wait_job(id);
        expected_lines(10, all, out, err);

        assert_bytes(open_ex(bus, id, "stdout", false, NULL), out);
        assert_bytes(open_ex(bus, id, "stderr", false, NULL), err);
        assert_bytes(open_ex(bus, id, "both", false, NULL), all);
        g_assert_cmpint(tb_open_output(bus, id, 0, false, &fd, &e), ==, 0);     /* the old call: merged */
        assert_bytes(tb_read_all(fd), all);

        /* Frames: stream byte, three zeros, big-endian length; in the writer's order. */
        framed = open_ex(bus, id, "both", true, NULL);
        {
                g_autoptr(GString) fo = g_string_new(NULL), fe = g_string_new(NULL), fm = g_string_new(NULL);
                for (guint at = 0; at < framed->len;) {
                        const guint8 *h = framed->data + at;
                        uint32_t len;

                        g_assert_cmpuint(framed->len - at, >=, 8);
                        g_assert_true((h[0] == 1 || h[0] == 2) && !h[1] && !h[2] && !h[3]);
                        memcpy(&len, h + 4, 4);
                        len = be32toh(len);
                        g_string_append_len(h[0] == 1 ? fo : fe, (const char *) h + 8, len);
                        g_string_append_len(fm, (const char *) h + 8, len);
                        at += 8 + len;
                }
                g_assert_cmpstr(fo->str, ==, out->str);
                g_assert_cmpstr(fe->str, ==, err->str);
                g_assert_cmpstr(fm->str, ==, all->str);
        }
        g_byte_array_unref(framed);

        r = TELERUN("logs", "--stdout", id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, out->str);
        g_assert_cmpstr(r.err, ==, "");
        tb_result_clear(&r);
        r = TELERUN("logs", "--stderr", id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "");
        g_assert_cmpstr(r.err, ==, err->str);
        tb_result_clear(&r);
        r = TELERUN("logs", id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, out->str);
        g_assert_cmpstr(r.err, ==, err->str);
        tb_result_clear(&r);

        /* run and start -f: the job's stdout on fd 1, its stderr on fd 2 */
        r = TELERUN("run", "--", "/bin/sh", "-c", script);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, out->str);
        g_assert_cmpstr(r.err, ==, err->str);
        tb_result_clear(&r);
        r = TELERUN("start", "-f", "--", "/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 4");
        g_assert_cmpint(r.status, ==, 4);
        g_assert_cmpstr(r.out, ==, "to-out\n");
        g_assert_true(g_str_has_suffix(r.err, "to-err\n"));     /* after "telerun: job ID" */
        tb_result_clear(&r);
        sd_bus_unref(bus);
}

/* ReadOutputEx on path (the Manager with the id first, or a Job object without) as bus: one call with
 * {offset, stream} and max when not UINT64_MAX; the bytes appended to data. */
static int read_ex(sd_bus *bus, const char *path, const char *id, const char *stream, uint64_t offset,
                   uint64_t max, GByteArray *data, uint64_t *ret_next, bool *ret_eof, sd_bus_error *e) {
        bool manager = !g_str_has_prefix(path, "/org/teleworker/worker1/job/");
        sd_bus_message *m = NULL, *reply = NULL;
        const void *bytes;
        size_t n;
        int eof, r;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.teleworker.worker1", path,
                                                       manager ? "org.teleworker.worker1.Manager" :
                                                                 "org.teleworker.worker1.Job", "ReadOutputEx"), >=, 0);
        if (manager)
                g_assert_cmpint(sd_bus_message_append(m, "s", id), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "{sv}{sv}", "offset", "t", offset, "stream", "s", stream), >=, 0);
        if (max != UINT64_MAX)
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", "max", "t", max), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        r = sd_bus_call(bus, m, 0, e, &reply);
        sd_bus_message_unref(m);
        if (r < 0)
                return r;
        g_assert_cmpint(sd_bus_message_read_array(reply, 'y', &bytes, &n), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "tb", ret_next, &eof), >=, 0);
        g_assert_cmpuint(n, <=, max);
        g_byte_array_append(data, bytes, n);
        *ret_eof = eof;
        sd_bus_message_unref(reply);
        return 0;
}

/* ReadOutputEx from 0 in pieces of max bytes, following next until eof; *ret_calls counts the calls. */
static GByteArray *read_ex_all(sd_bus *bus, const char *path, const char *id, const char *stream, uint64_t max,
                               unsigned *ret_calls) {
        GByteArray *data = g_byte_array_new();
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t offset = 0, next = 0;
        unsigned calls = 0;
        bool eof = false;

        while (!eof) {
                guint before = data->len;

                g_assert_cmpint(read_ex(bus, path, id, stream, offset, max, data, &next, &eof, &e), ==, 0);
                g_assert_true(data->len > before || next > offset || eof);
                offset = next;
                g_assert_cmpuint(++calls, <, 10000);
        }
        if (ret_calls)
                *ret_calls = calls;
        return data;
}

/* ReadOutputEx: one stream in the reply, no fd (busctl by hand), in pieces by next, under ReadOutput's rules. */
static void test_read_ex(void) {
        g_autoptr(GString) all = g_string_new(NULL), out = g_string_new(NULL), err = g_string_new(NULL);
        g_autoptr(GString) want = g_string_new("aytb ");
        g_autofree char *script = interleaved_script(10, 0.1 * tb_slowdown());
        g_autofree char *id = start_job(script), *path = tb_job_object_path(id), *text = NULL;
        sd_bus *bus = tb_bus_as(TB_UID_USER1), *other = tb_bus_as(TB_UID_USER2);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autoptr(GByteArray) data = g_byte_array_new();
        const char *const manager = "/org/teleworker/worker1";
        uint64_t next;
        unsigned calls;
        bool eof;

        wait_job(id);
        expected_lines(10, all, out, err);

        /* One call each: exactly one stream, the same as OpenOutputEx's reader gives; eof with next at the end
         * also for stdout, whose last run is followed by stderr's. */
        g_assert_cmpint(read_ex(bus, manager, id, "stderr", 0, UINT64_MAX, data, &next, &eof, &e), ==, 0);
        g_assert_cmpmem(data->data, data->len, err->str, err->len);
        g_assert_true(eof);
        g_assert_cmpuint(next, ==, all->len);
        assert_bytes(open_ex(bus, id, "stderr", false, NULL), err);
        g_byte_array_set_size(data, 0);
        g_assert_cmpint(read_ex(bus, manager, id, "stdout", 0, UINT64_MAX, data, &next, &eof, &e), ==, 0);
        g_assert_cmpmem(data->data, data->len, out->str, out->len);
        g_assert_true(eof);
        g_assert_cmpuint(next, ==, all->len);
        assert_bytes(open_ex(bus, id, "stdout", false, NULL), out);

        /* In pieces of 7 bytes by next, on the Manager and on the Job object: the same bytes. */
        assert_bytes(read_ex_all(bus, manager, id, "stderr", 7, &calls), err);
        g_assert_cmpuint(calls, >=, err->len / 7);
        assert_bytes(read_ex_all(bus, manager, id, "stdout", 7, NULL), out);
        assert_bytes(read_ex_all(bus, manager, id, "both", 7, NULL), all);
        assert_bytes(read_ex_all(bus, path, NULL, "stderr", 7, NULL), err);

        /* Another user: denied, on both paths; bad options: refused. */
        g_assert_cmpint(read_ex(other, manager, id, "stderr", 0, UINT64_MAX, data, &next, &eof, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(read_ex(other, path, NULL, "stderr", 0, UINT64_MAX, data, &next, &eof, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(read_ex(bus, manager, id, "neither", 0, UINT64_MAX, data, &next, &eof, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
        g_assert_cmpint(read_ex(bus, manager, id, "stderr", all->len + 1, UINT64_MAX, data, &next, &eof, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
        g_assert_cmpint(sd_bus_call_method(bus, "org.teleworker.worker1", manager, "org.teleworker.worker1.Manager",
                                           "ReadOutputEx", &e, NULL, "sa{sv}", id, 1, "follow", "b", 1), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
        g_assert_cmpint(sd_bus_call_method(bus, "org.teleworker.worker1", manager, "org.teleworker.worker1.Manager",
                                           "ReadOutputEx", &e, NULL, "sa{sv}", id, 1, "offset", "s", "0"), <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        sd_bus_error_free(&e);
        g_assert_cmpint(sd_bus_call_method(bus, "org.teleworker.worker1", manager, "org.teleworker.worker1.Manager",
                                           "ReadOutputEx", &e, NULL, "sa{sv}", "00000000-0000-4000-8000-000000000000",
                                           0), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.NoSuchJob");
        sd_bus_error_free(&e);

        /* The gateway's ReadOutputExAs: an administrator principal reads the stream, another is denied. */
        {
                struct passwd *pw = getpwnam("teleworker-gw");
                sd_bus *gw;
                sd_bus_message *reply = NULL;
                const void *bytes;
                size_t n;

                g_assert_nonnull(pw);
                gw = tb_bus_as(pw->pw_uid);
                g_assert_cmpint(sd_bus_call_method(gw, "org.teleworker.worker1", manager,
                                                   "org.teleworker.worker1.Remote", "ReadOutputExAs", &e, &reply,
                                                   "sbsa{sv}", "read-ex-admin", 1, id, 1, "stream", "s", "stderr"),
                                >=, 0);
                g_assert_cmpint(sd_bus_message_read_array(reply, 'y', &bytes, &n), >=, 0);
                g_assert_cmpmem(bytes, n, err->str, err->len);
                sd_bus_message_unref(reply);
                g_assert_cmpint(sd_bus_call_method(gw, "org.teleworker.worker1", manager,
                                                   "org.teleworker.worker1.Remote", "ReadOutputExAs", &e, NULL,
                                                   "sbsa{sv}", "read-ex-user", 0, id, 0), <, 0);
                g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
                sd_bus_error_free(&e);
                sd_bus_flush_close_unref(gw);
        }

        /* By hand: busctl as tbuser1, stderr only, the reply as busctl prints it. */
        {
                const char *args[] = { "call", "org.teleworker.worker1", manager, "org.teleworker.worker1.Manager",
                                       "ReadOutputEx", "sa{sv}", id, "1", "stream", "s", "stderr", NULL };
                text = tb_busctl_as(TB_UID_USER1, args);
        }
        g_string_append_printf(want, "%zu", err->len);
        for (size_t i = 0; i < err->len; i++)
                g_string_append_printf(want, " %u", (unsigned) (uint8_t) err->str[i]);
        g_string_append_printf(want, " %zu true\n", all->len);
        g_assert_cmpstr(text, ==, want->str);
        sd_bus_unref(other);
        sd_bus_unref(bus);
}

/* --tail counts lines of the streams shown. */
static void test_tail(void) {
        g_autofree char *script = interleaved_script(10, 0.02);
        g_autofree char *id = start_job(script);
        TbResult r;

        wait_job(id);
        r = TELERUN("logs", "--stderr", "--tail", "2", id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.err, ==, "err 7\nerr 9\n");
        g_assert_cmpstr(r.out, ==, "");
        tb_result_clear(&r);
        r = TELERUN("logs", "--stdout", "-n", "3", id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "out 4\nout 6\nout 8\n");
        tb_result_clear(&r);
        r = TELERUN("logs", "-n", "3", id);     /* both: the last 3 lines of the merged stream */
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "out 8\n");
        g_assert_cmpstr(r.err, ==, "err 7\nerr 9\n");
        tb_result_clear(&r);
}

/* Each line of `logs --timestamps`: its time (µs) and its text. */
static void parse_timestamped(const char *text, GArray *times, GPtrArray *lines) {
        g_auto(GStrv) v = g_strsplit(text, "\n", -1);

        for (char **l = v; *l && **l; l++) {
                char *space = strchr(*l, ' ');
                g_autoptr(GDateTime) dt = NULL;
                g_autofree char *stamp = NULL;
                int64_t usec;

                g_assert_nonnull(space);
                stamp = g_strndup(*l, (gsize) (space - *l));
                dt = g_date_time_new_from_iso8601(stamp, NULL);
                g_assert_nonnull(dt);
                g_assert_true(g_str_has_suffix(stamp, "Z"));
                usec = g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
                g_array_append_val(times, usec);
                g_ptr_array_add(lines, g_strdup(space + 1));
        }
}

/* A line per second: --timestamps gives increasing times, --since one of them gives exactly the lines from
 * there, --until exactly those before. */
static void test_since_until(void) {
        g_autofree char *id = start_job("for i in 1 2 3 4 5; do echo line $i; sleep 1; done");
        g_autoptr(GArray) times = g_array_new(false, false, sizeof(int64_t));
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *since = NULL, *since_early = NULL;
        TbResult r;

        wait_job(id);
        r = TELERUN("logs", "--timestamps", id);
        g_assert_cmpint(r.status, ==, 0);
        parse_timestamped(r.out, times, lines);
        tb_result_clear(&r);
        g_assert_cmpuint(times->len, ==, 5);
        for (guint i = 0; i < 5; i++) {
                g_autofree char *want = g_strdup_printf("line %u", i + 1);
                g_assert_cmpstr(lines->pdata[i], ==, want);
                if (i > 0)      /* `sleep 1` apart, however slow the machine */
                        g_assert_cmpint(g_array_index(times, int64_t, i) - g_array_index(times, int64_t, i - 1), >=,
                                        900000);
        }

        /* Exactly at line 3's time, and half a second before it (after line 2's). */
        since = g_strdup_printf("%" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT, g_array_index(times, int64_t, 2) / 1000000,
                                g_array_index(times, int64_t, 2) % 1000000);
        since_early = g_strdup_printf("%" G_GINT64_FORMAT, (g_array_index(times, int64_t, 2) - 500000) / 1000000);
        r = TELERUN("logs", "--since", since, id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "line 3\nline 4\nline 5\n");
        tb_result_clear(&r);
        r = TELERUN("logs", "--until", since, id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "line 1\nline 2\n");
        tb_result_clear(&r);
        {
                /* RFC 3339 too, as the first line's stamp printed it */
                g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(g_array_index(times, int64_t, 3) / 1000000 + 1);
                g_autofree char *rfc = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
                r = TELERUN("logs", "--since", rfc, id);
                g_assert_cmpint(r.status, ==, 0);
                g_assert_cmpstr(r.out, ==, "line 5\n");
                tb_result_clear(&r);
        }
        (void) since_early;
        r = TELERUN("logs", "--since", "1h", id);       /* a duration ago: everything */
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "line 1\nline 2\nline 3\nline 4\nline 5\n");
        tb_result_clear(&r);
        r = TELERUN("logs", "--since", "yesterday", id);
        g_assert_cmpint(r.status, ==, 2);
        tb_result_clear(&r);
}

/* ASan's shadow memory and quarantine make RSS meaningless in the sanitized build (see test-faults.c). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED true
#else
#define SANITIZED false
#endif
#define FOLLOWERS 100                   /* of each stream */
#define FOLLOW_LINES 150
#define FOLLOW_LINE_BYTES 65537         /* 64 KiB and a newline */
#define FOLLOW_RSS_SLACK_KB (16 * 1024)

static const char *unit(void);

static uint64_t daemon_rss_kb(void) {
        const char *argv[] = { "systemctl", "show", "-p", "MainPID", "--value", unit(), NULL };
        g_autofree char *pid = NULL, *path = NULL, *text = NULL;
        const char *p;
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &pid, NULL, &status,
                                   NULL));
        path = g_strdup_printf("/proc/%s/status", g_strstrip(pid));
        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        p = strstr(text, "\nVmRSS:");
        g_assert_nonnull(p);
        return g_ascii_strtoull(p + 7, NULL, 10);
}

/* OpenOutputEx(id, {stream, follow}) as root: the fd, non-blocking. */
static int open_follower(sd_bus *bus, const char *id, const char *stream) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t offset;
        int fd;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, "org.teleworker.worker1", "/org/teleworker/worker1",
                                                       "org.teleworker.worker1.Manager", "OpenOutputEx"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "sa{sv}", id, 2, "stream", "s", stream, "follow", "b", 1), >=, 0);
        g_assert_cmpint(sd_bus_call(bus, m, 0, &e, &reply), >=, 0);
        g_assert_cmpint(sd_bus_message_read(reply, "ht", &fd, &offset), >=, 0);
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return fd;
}

/* 100 followers of stdout and 100 of stderr of a job writing ~20 MB: each gets exactly its stream, and the
 * daemon's RSS does not grow with the output or the followers (splice: pages are shared, never copied). */
static void test_followers_rss(void) {
        g_autofree char *script = g_strdup_printf(
                "i=0; while [ $i -lt %u ]; do head -c 65536 /dev/zero | tr '\\0' o; echo; "
                "head -c 65536 /dev/zero | tr '\\0' e >&2; echo >&2; i=$((i + 1)); done", FOLLOW_LINES);
        sd_bus *bus = tb_bus_as(0);
        struct pollfd p[2 * FOLLOWERS];
        uint64_t got[2 * FOLLOWERS] = {}, before, peak, open_fds = 2 * FOLLOWERS;
        g_autofree char *id = NULL;
        char buf[65536];

        before = daemon_rss_kb();
        id = start_job(script);
        for (unsigned i = 0; i < 2 * FOLLOWERS; i++)
                p[i] = (struct pollfd) { .fd = open_follower(bus, id, i % 2 ? "stderr" : "stdout"), .events = POLLIN };
        peak = daemon_rss_kb();
        while (open_fds > 0) {
                g_assert_cmpint(poll(p, 2 * FOLLOWERS, 60000), >, 0);
                for (unsigned i = 0; i < 2 * FOLLOWERS; i++) {
                        ssize_t n;

                        if (p[i].fd < 0 || !p[i].revents)
                                continue;
                        n = read(p[i].fd, buf, sizeof(buf));
                        if (n > 0) {
                                /* every byte of the right stream: 'o' or newline for stdout, 'e' for stderr */
                                for (ssize_t k = 0; k < n; k++)
                                        g_assert_true(buf[k] == '\n' || buf[k] == (i % 2 ? 'e' : 'o'));
                                got[i] += (uint64_t) n;
                        } else if (n == 0) {
                                close(p[i].fd);
                                p[i].fd = -1;
                                open_fds--;
                        } else
                                g_assert_cmpint(errno, ==, EAGAIN);
                }
                peak = MAX(peak, daemon_rss_kb());
        }
        for (unsigned i = 0; i < 2 * FOLLOWERS; i++)
                g_assert_cmpuint(got[i], ==, (uint64_t) FOLLOW_LINES * FOLLOW_LINE_BYTES);
        g_test_message("daemon RSS: %" G_GUINT64_FORMAT " kB before, %" G_GUINT64_FORMAT " kB peak, with %u followers "
                       "of %" G_GUINT64_FORMAT " bytes", before, peak, 2 * FOLLOWERS,
                       (uint64_t) FOLLOW_LINES * FOLLOW_LINE_BYTES);
        if (!SANITIZED)
                g_assert_cmpuint(peak, <=, before + FOLLOW_RSS_SLACK_KB);
        wait_job(id);
        sd_bus_unref(bus);
}

static const char *unit(void) {
        const char *u = g_getenv("TELEWORKER_TEST_UNIT");
        return u ? u : "teleworkerd.service";
}

static void systemctl_restart(void) {
        const char *argv[] = { "systemctl", "restart", unit(), NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                                   NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
}

static void wait_for_daemon(void) {
        for (int i = 0; i < 600; i++) {
                sd_bus *bus = tb_bus_as(0);
                bool up = tb_daemon_present(bus);

                sd_bus_unref(bus);
                if (up)
                        return;
                g_usleep(50000);
        }
        g_error("teleworkerd did not come back");
}

/* The split survives a restart of the daemon: lines before it come from the reloaded index, lines after it
 * from the new capture. */
static void test_restart(void) {
        g_autoptr(GString) all = g_string_new(NULL), out = g_string_new(NULL), err = g_string_new(NULL);
        g_autofree char *script = interleaved_script(12, 0.3);
        g_autofree char *id = start_job(script);
        TbResult r;

        g_usleep(1000000);      /* some lines before */
        systemctl_restart();
        wait_for_daemon();
        wait_job(id);
        expected_lines(12, all, out, err);

        r = TELERUN("logs", "--stderr", id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.err, ==, err->str);
        tb_result_clear(&r);
        r = TELERUN("logs", "--stdout", id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, out->str);
        tb_result_clear(&r);

        /* And once more, with the job ended: a restart reloads the index of a finished job too. */
        systemctl_restart();
        wait_for_daemon();
        r = TELERUN("logs", id);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, out->str);
        g_assert_cmpstr(r.err, ==, err->str);
        tb_result_clear(&r);
}

int main(int argc, char **argv) {
        sd_bus *bus;
        bool present;

        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        bus = tb_bus_as(0);
        present = tb_daemon_present(bus);
        sd_bus_unref(bus);
        if (!present)
                return 77;

        g_test_add_func("/streams/split", test_split);
        g_test_add_func("/streams/tail", test_tail);
        g_test_add_func("/streams/since-until", test_since_until);
        g_test_add_func("/streams/restart", test_restart);
        g_test_add_func("/streams/followers-rss", test_followers_rss);
        g_test_add_func("/streams/read-ex", test_read_ex);
        return g_test_run();
}
