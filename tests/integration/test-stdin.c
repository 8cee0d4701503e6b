/* SPDX-License-Identifier: MIT */
/* test-stdin - a job's stdin against the real teleworkerd (docs/design.md, "stdin and terminals"): telerun -i
 * hands its stdin fd over D-Bus and the job reads it byte-exact (NUL bytes, 100 MiB by checksum, a regular
 * file); without -i the job reads /dev/null even when telerun's stdin stays open; fds of a kind the job could
 * not or should not read are refused; the Remote interface cannot pass fds; StandardInput "stream" and
 * OpenInput hand the pipe's write end out once, to the job's owner only (a copy on every call for a job with a
 * terminal). */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb-client.h"
#include "tb-shell.h"

#define GW_UNIT "teleworker-gateway-stdin.service"
#define GW_PORT 18449

#define DEST "org.teleworker.worker1"
#define PATH "/org/teleworker/worker1"
#define IFACE "org.teleworker.worker1.Manager"
#define REMOTE "org.teleworker.worker1.Remote"
#define LONG_TIMEOUT (120ULL * 1000000ULL)

/* telerun's remote options ("--addr … --cert …") for $T, or NULL (local, over the bus as tbuser1). */
static char *remote_options;

static TbResult shell_as_user1(const char *script) {
        return tb_shell(TELERUN_PATH, remote_options, script);
}

/* NUL bytes and all: od shows what the job read. */
static void test_bytes(void) {
        TbResult r = shell_as_user1("printf 'a\\0b' | $T run -i -- od -c");

        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "a  \\0   b"));
        g_assert_nonnull(strstr(r.out, "0000003"));
        tb_result_clear(&r);
}

/* 100 MiB through a pipe: the job's checksum is the sender's (telerun prints the job's on stdout, tee's
 * copy is summed to stderr). */
static void test_large(void) {
        g_autoptr(GTimer) t = g_timer_new();
        TbResult r = shell_as_user1("set -o pipefail; head -c 104857600 /dev/urandom | "
                                  "tee >(sha256sum | cut -d' ' -f1 >&2) | $T run -i -- sha256sum | "
                                  "cut -d' ' -f1; wait");
        g_auto(GStrv) err_lines = NULL;

        g_test_message("100 MiB through telerun -i in %.2f s", g_timer_elapsed(t, NULL));
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpuint(strlen(r.out), ==, 65);
        /* tee's sum is the last line of stderr (anything telerun said comes before it) */
        err_lines = g_strsplit(g_strstrip(r.err), "\n", -1);
        g_assert_cmpstr(g_strstrip(r.out), ==, err_lines[g_strv_length(err_lines) - 1]);
        tb_result_clear(&r);
}

/* A regular file as stdin: the job reads it whole. */
static void test_regular_file(void) {
        TbResult r = shell_as_user1("$T run -i -- cat < /etc/passwd | cmp - /etc/passwd && echo same");

        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "same\n");
        tb_result_clear(&r);
}

/* Without -i the job's stdin is /dev/null: it reads EOF at once although telerun's stdin stays open. */
static void test_no_stdin(void) {
        TbResult r = shell_as_user1("exec 3< <(exec sleep 300 >/dev/null 2>&1); "
                                  "$T run -- sh -c 'cat; echo eof; readlink /proc/self/fd/0' <&3; "
                                  "kill $!");

        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "eof\n/dev/null\n");
        tb_result_clear(&r);

        /* The status says what the stdin was. */
        r = shell_as_user1("id=$($T start -i -- true < /dev/null) && $T wait $id >/dev/null && $T status --json $id");
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, remote_options ? "\"stdin\":\"stream\"" : "\"stdin\":\"fd\""));
        g_assert_nonnull(strstr(r.out, "\"tty\":false"));
        tb_result_clear(&r);
}

/* Start as bus's caller with StandardInput = fd (type "h"); the refusal's name, or NULL when it started. */
static char *start_with_fd(sd_bus *bus, int fd, char **ret_id) {
        const char *argv[] = { "/bin/cat", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        char *name = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Start"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "ass", 0, ""), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "StandardInput", "h", fd), >=, 0);
        if (tb_call_start(bus, m, ret_id, &e) < 0) {
                g_test_message("refused: %s: %s", e.name, e.message);
                name = g_strdup(e.name);
        }
        sd_bus_error_free(&e);
        return name;
}

static void assert_refused(sd_bus *bus, int fd, const char *what) {
        g_autofree char *name = start_with_fd(bus, fd, NULL);

        g_test_message("%s", what);
        g_assert_cmpstr(name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
}

static void test_refused_kinds(void) {
        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *bus = tb_bus_as(TB_UID_USER1);
        int p[2], dir, opath, zero, tty;
        g_autofree char *id = NULL, *name = NULL;
        TbJob job;

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        opath = open("/etc/passwd", O_PATH | O_CLOEXEC);
        zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(dir, >=, 0);
        g_assert_cmpint(opath, >=, 0);
        g_assert_cmpint(zero, >=, 0);
        assert_refused(bus, dir, "a directory");
        assert_refused(bus, p[1], "a pipe's write end (O_WRONLY)");
        assert_refused(bus, opath, "an O_PATH fd");
        assert_refused(bus, zero, "a device that is not a terminal");

        /* A terminal is one of the kinds a job may read: the slave of a pty of our own. */
        tty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        g_assert_cmpint(tty, >=, 0);
        g_assert_cmpint(grantpt(tty), ==, 0);
        g_assert_cmpint(unlockpt(tty), ==, 0);
        {
                int slave = open(ptsname(tty), O_RDWR | O_NOCTTY | O_CLOEXEC);

                g_assert_cmpint(slave, >=, 0);
                g_assert_cmpint(write(tty, "\x04", 1), ==, 1); /* ^D at the start of a line: EOF for cat */
                name = start_with_fd(bus, slave, &id);
                g_assert_null(name);
                g_assert_cmpint(tb_wait(bus, id, &job, NULL), >=, 0);
                g_assert_cmpstr(job.state, ==, "success");
                tb_job_clear(&job);
                close(slave);
        }
        close(tty);
        close(p[0]);
        close(p[1]);
        close(dir);
        close(opath);
        close(zero);
}

static sd_bus *bus_as_gateway(void) {
        struct passwd *pw = getpwnam("teleworker-gw");

        g_assert_nonnull(pw);
        return tb_bus_as(pw->pw_uid);
}

/* The gateway's fds are not its clients': StartAs refuses an fd, takes "stream". */
static void test_remote_refuses_fd(void) {
        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *gw = bus_as_gateway();
        const char *argv[] = { "/bin/cat", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(sd_bus_message_new_method_call(gw, &m, DEST, PATH, REMOTE, "StartAs"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "sb", "alice", 0), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "ass", 0, ""), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "StandardInput", "h", fd), >=, 0);
        g_assert_cmpint(tb_call_start(gw, m, NULL, &e), <, 0);
        g_test_message("%s: %s", e.name, e.message);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        g_assert_nonnull(strstr(e.message, "remote"));
        sd_bus_error_free(&e);
        close(fd);
}

static char *start_stream(sd_bus *bus, const char *kind) {
        const char *argv[] = { "/bin/sh", "-c", "cat; echo end", NULL };
        sd_bus_message *m = NULL;
        char *id = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Start"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "ass", 0, ""), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "StandardInput", "s", kind), >=, 0);
        g_assert_cmpint(tb_call_start(bus, m, &id, NULL), >=, 0);
        return id;
}

/* OpenInput's answer: the fd (dup'ed, ours) or the error's name. */
static int open_input(sd_bus *bus, const char *id, char **ret_error) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int fd, r;

        r = sd_bus_call_method(bus, DEST, PATH, IFACE, "OpenInput", &e, &reply, "s", id);
        if (r < 0) {
                g_test_message("OpenInput: %s: %s", e.name, e.message);
                *ret_error = g_strdup(e.name);
                sd_bus_error_free(&e);
                return -1;
        }
        g_assert_cmpint(sd_bus_message_read(reply, "h", &fd), >=, 0);
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        sd_bus_message_unref(reply);
        *ret_error = NULL;
        return fd;
}

static void test_stream(void) {
        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *bus = tb_bus_as(TB_UID_USER1);
        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *other = tb_bus_as(TB_UID_USER2);
        g_autofree char *id = start_stream(bus, "stream"), *err = NULL, *err2 = NULL, *err3 = NULL;
        g_autofree char *plain = NULL, *err4 = NULL;
        const char *argv[] = { "/bin/true", NULL };
        GByteArray *out;
        TbJob job;
        int fd, ofd;

        g_assert_cmpint(open_input(other, id, &err), <, 0); /* not theirs */
        g_assert_cmpstr(err, ==, "org.freedesktop.DBus.Error.AccessDenied");
        fd = open_input(bus, id, &err2);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(open_input(bus, id, &err3), <, 0); /* handed out once */
        g_assert_cmpstr(err3, ==, "org.teleworker.worker1.Error.NoInput");
        g_assert_cmpint(write(fd, "hello\n", 6), ==, 6);
        close(fd);
        g_assert_cmpint(tb_wait(bus, id, &job, NULL), >=, 0);
        g_assert_cmpstr(job.state, ==, "success");
        tb_job_clear(&job);
        g_assert_cmpint(tb_open_output(bus, id, 0, false, &ofd, NULL), >=, 0);
        out = tb_read_all(ofd);
        g_assert_cmpmem(out->data, out->len, "hello\nend\n", 10);
        g_byte_array_unref(out);
        close(ofd);

        /* A job without a stream has no input to open. */
        g_assert_cmpint(tb_start(bus, argv, NULL, &plain, NULL), >=, 0);
        g_assert_cmpint(open_input(bus, plain, &err4), <, 0);
        g_assert_cmpstr(err4, ==, "org.teleworker.worker1.Error.NoInput");
        g_assert_cmpint(tb_wait(bus, plain, &job, NULL), >=, 0);
        tb_job_clear(&job);
}

/* A job with a terminal: every OpenInput hands out a copy of the write end and the daemon keeps its own (a
 * terminal ends its input with ^D only): one closed, another opened after it, two open at once, all reach the
 * job (telerun attach, several attachers). */
static void test_stream_tty(void) {
        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *bus = tb_bus_as(TB_UID_USER1);
        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *other = tb_bus_as(TB_UID_USER2);
        const char *argv[] = { "/bin/sh", "-c", "read a; read b; read c; echo \"got $a $b $c\"", NULL };
        g_autofree char *id = NULL, *err = NULL, *err2 = NULL, *err3 = NULL, *err4 = NULL;
        sd_bus_message *m = NULL;
        GByteArray *out;
        TbJob job;
        int fd1, fd2, fd3, ofd;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Start"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "ass", 0, ""), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "StandardInput", "s", "stream", "Terminal", "(qq)", 24, 80),
                        >=, 0);
        g_assert_cmpint(tb_call_start(bus, m, &id, NULL), >=, 0);

        g_assert_cmpint(open_input(other, id, &err), <, 0); /* still not theirs */
        g_assert_cmpstr(err, ==, "org.freedesktop.DBus.Error.AccessDenied");
        fd1 = open_input(bus, id, &err2);
        g_assert_cmpint(fd1, >=, 0);
        g_assert_cmpint(write(fd1, "one\n", 4), ==, 4);
        close(fd1);   /* a detach: the job reads on */
        fd2 = open_input(bus, id, &err3);
        g_assert_cmpint(fd2, >=, 0);
        fd3 = open_input(bus, id, &err4);
        g_assert_cmpint(fd3, >=, 0);
        g_assert_cmpint(write(fd2, "two\n", 4), ==, 4);
        g_assert_cmpint(write(fd3, "three\n", 6), ==, 6);
        close(fd2);
        close(fd3);
        g_assert_cmpint(tb_wait(bus, id, &job, NULL), >=, 0);
        g_assert_cmpstr(job.state, ==, "success");
        tb_job_clear(&job);
        g_assert_cmpint(tb_open_output(bus, id, 0, false, &ofd, NULL), >=, 0);
        out = tb_read_all(ofd);
        g_byte_array_append(out, (const guint8 *) "", 1);
        g_test_message("output: %s", (const char *) out->data);
        g_assert_nonnull(strstr((const char *) out->data, "got one two three\r\n"));
        g_byte_array_unref(out);
        close(ofd);
        /* It has ended: nothing more to open. */
        g_clear_pointer(&err, g_free);
        g_assert_cmpint(open_input(bus, id, &err), <, 0);
        g_assert_cmpstr(err, ==, "org.teleworker.worker1.Error.NoInput");
}

/* ---- remotely, through teleworker-gateway ---- */

static TbGateway gateway;

static void gateway_up(void) {
        remote_options = tb_shell_gateway_up(&gateway, GW_UNIT, GW_PORT);
}

static void test_remote_bytes(void) {
        test_bytes();
}

static void test_remote_large(void) {
        test_large();
}

/* start -i returns once its stdin went whole to the job; the job's output shows it did. */
static void test_remote_start(void) {
        TbResult r = shell_as_user1("id=$(seq 1 100000 | $T start -i -- sh -c 'wc -l') && "
                                  "$T wait \"$id\" >/dev/null && $T logs \"$id\"");

        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(g_strstrip(r.out), ==, "100000");
        tb_result_clear(&r);
}

/* The HTTP side by hand: a job started with "stdin": "stream" takes one POST …/input (a Content-Length body
 * here; telerun sends chunked ones), whose end is the job's EOF; a second one is 409 no-input. */
static void test_remote_http(void) {
        g_autofree char *gw_cert = test_cert_path("alice.crt"), *gw_key = test_cert_path("alice.key");
        TestClient c;
        TestResponse resp;
        g_autofree char *id = NULL, *target = NULL, *out_target = NULL;
        const char *start = "{\"argv\": [\"/bin/sh\", \"-c\", \"cat; echo end\"], \"stdin\": \"stream\"}";
        g_autofree char *req = NULL;

        g_assert_cmpint(test_client_connect(&c, GW_PORT, gw_cert, gw_key, 0), ==, 1);
        g_assert_cmpint(test_client_call(&c, "POST", "/v1/jobs", start, &resp, 120000), ==, 0);
        g_assert_cmpuint(resp.status, ==, 201);
        id = test_response_json_string(&resp, "id");
        g_assert_nonnull(id);
        test_response_done(&resp);

        target = g_strdup_printf("/v1/jobs/%s/input", id);
        req = g_strdup_printf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nhello\n", target);
        g_assert_cmpint(test_client_request(&c, req, &resp), ==, 0);
        g_test_message("input: %u %s", resp.status, resp.body->str);
        g_assert_cmpuint(resp.status, ==, 200);
        g_assert_nonnull(strstr(resp.body->str, "\"bytes\":6"));
        test_response_done(&resp);
        test_client_close(&c);

        g_assert_cmpint(test_client_connect(&c, GW_PORT, gw_cert, gw_key, 0), ==, 1);
        g_assert_cmpint(test_client_request(&c, req, &resp), ==, 0);
        g_test_message("second input: %u %s", resp.status, resp.body->str);
        g_assert_cmpuint(resp.status, ==, 409);
        g_assert_nonnull(strstr(resp.body->str, "no-input"));
        test_response_done(&resp);
        test_client_close(&c);

        g_assert_cmpint(test_client_connect(&c, GW_PORT, gw_cert, gw_key, 0), ==, 1);
        out_target = g_strdup_printf("/v1/jobs/%s?wait=true", id);
        g_assert_cmpint(test_client_call(&c, "GET", out_target, NULL, &resp, 120000), ==, 0);
        test_response_done(&resp);
        g_free(out_target);
        out_target = g_strdup_printf("/v1/jobs/%s/output", id);
        g_assert_cmpint(test_client_call(&c, "GET", out_target, NULL, &resp, 120000), ==, 0);
        g_assert_cmpstr(resp.body->str, ==, "hello\nend\n");
        test_response_done(&resp);
        test_client_close(&c);
}

static void gateway_down(void) {
        tb_shell_gateway_down(&gateway);
        g_clear_pointer(&remote_options, g_free);
}

int main(int argc, char **argv) {
        __attribute__((cleanup(sd_bus_flush_close_unrefp))) sd_bus *bus = NULL;

        g_test_init(&argc, &argv, NULL);
        bus = tb_bus_as(0);
        if (!tb_daemon_present(bus)) {
                g_test_skip("teleworkerd is not running");
                return g_test_run();
        }
        g_test_add_func("/stdin/bytes", test_bytes);
        g_test_add_func("/stdin/large", test_large);
        g_test_add_func("/stdin/regular-file", test_regular_file);
        g_test_add_func("/stdin/none", test_no_stdin);
        g_test_add_func("/stdin/refused-kinds", test_refused_kinds);
        g_test_add_func("/stdin/remote-refuses-fd", test_remote_refuses_fd);
        g_test_add_func("/stdin/stream", test_stream);
        g_test_add_func("/stdin/stream-tty", test_stream_tty);
        g_test_add_func("/stdin/remote/up", gateway_up);
        g_test_add_func("/stdin/remote/bytes", test_remote_bytes);
        g_test_add_func("/stdin/remote/large", test_remote_large);
        g_test_add_func("/stdin/remote/start", test_remote_start);
        g_test_add_func("/stdin/remote/http", test_remote_http);
        g_test_add_func("/stdin/remote/down", gateway_down);
        return g_test_run();
}
