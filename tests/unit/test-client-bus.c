/* SPDX-License-Identifier: MIT */
/* test-client-bus - telerun's D-Bus backend (cli/client-bus.c) against a stand-in worker: a forked sd-bus
 * server on a socket of its own, reached through DBUS_SYSTEM_BUS_ADDRESS (as every sd-bus client honours it).
 *
 * What `telerun run` must do in as few round trips as it can: StartWithOutput (job and output in one
 * reply), Wait sent before the output is copied, and, against a worker from before StartWithOutput, Start +
 * OpenOutput as before. The stand-in keeps the job's output open until Wait arrives, so a client that waited
 * for EOF before sending Wait would hang (and the alarm fails the test). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <systemd/sd-bus.h>

#include "client.h"
#include "format.h"
#include "shared/macro.h"

#define JOB_ID "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10"
#define JOB_PATH "/org/teleworker/worker1/job/8c1f0e9e4a364f0b9a512a3c8f4b7d10"
#define OUTPUT "hello from the job\n"

typedef struct Worker {
        bool with_output;  /* has StartWithOutput */
        int output_wr;     /* write end of the job's output, closed when Wait arrives */
        int log_fd;        /* the calls, one name per line, for the test to check */
} Worker;

static void worker_log(Worker *w, const char *call) {
        g_assert_cmpint(write(w->log_fd, call, strlen(call)), ==, (ssize_t) strlen(call));
        g_assert_cmpint(write(w->log_fd, "\n", 1), ==, 1);
}

static int worker_output(Worker *w) {
        int p[2];

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(write(p[1], OUTPUT, strlen(OUTPUT)), ==, (ssize_t) strlen(OUTPUT));
        safe_close(w->output_wr);
        w->output_wr = p[1];
        return p[0];
}

static int method_hello(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "s", ":1.42");
}

static int read_start_args(sd_bus_message *m) {
        char **argv = NULL, **env = NULL;
        const char *cwd;
        int r;

        r = sd_bus_message_read_strv(m, &argv);
        if (r >= 0)
                r = sd_bus_message_read_strv(m, &env);
        if (r >= 0)
                r = sd_bus_message_read(m, "s", &cwd);
        if (r >= 0)
                r = sd_bus_message_skip(m, "a{sv}");
        if (r >= 0)
                g_assert_cmpstr(argv[0], ==, "/bin/echo");
        g_strfreev(argv);
        g_strfreev(env);
        return r;
}

static int method_start(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Worker *w = userdata;
        int r, fd;

        worker_log(w, sd_bus_message_get_member(m));
        r = read_start_args(m);
        if (r < 0)
                return r;
        if (!streq(sd_bus_message_get_member(m), "StartWithOutput"))
                return sd_bus_reply_method_return(m, "so", JOB_ID, JOB_PATH);
        fd = worker_output(w);
        r = sd_bus_reply_method_return(m, "soh", JOB_ID, JOB_PATH, fd);
        safe_close(fd);
        return r;
}

static int method_open_output(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Worker *w = userdata;
        const char *id;
        uint64_t offset;
        int follow, r, fd;

        worker_log(w, "OpenOutput");
        r = sd_bus_message_read(m, "stb", &id, &offset, &follow);
        if (r < 0)
                return r;
        g_assert_cmpstr(id, ==, JOB_ID);
        g_assert_cmpuint(offset, ==, 0);
        g_assert_true(follow);
        fd = worker_output(w);
        r = sd_bus_reply_method_return(m, "h", fd);
        safe_close(fd);
        return r;
}

static int method_wait(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Worker *w = userdata;
        const char *id;
        int r;

        worker_log(w, "Wait");
        r = sd_bus_message_read(m, "s", &id);
        if (r < 0)
                return r;
        g_assert_cmpstr(id, ==, JOB_ID);
        /* The job "ends" now: its output completes. */
        w->output_wr = safe_close(w->output_wr);
        return sd_bus_reply_method_return(m, "a{sv}", 5, "Id", "s", JOB_ID, "State", "s", "failed",
                                          "Reason", "s", "exited", "ExitCode", "i", 3, "ExitSignal", "i", 0);
}

/* List (every worker) and ListPage (a worker with StartWithOutput): the same two jobs, one per page. */
static int append_list_job(sd_bus_message *reply, const char *id) {
        return sd_bus_message_append(reply, "a{sv}", 2, "Id", "s", id, "State", "s", "running");
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        bool page = sd_bus_message_is_method_call(m, NULL, "ListPage") > 0;
        const char *cursor = "";
        uint32_t max;
        int r;

        worker_log(userdata, page ? "ListPage" : "List");
        if (page && (r = sd_bus_message_read(m, "su", &cursor, &max)) < 0)
                return r;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r >= 0 && (!page || !*cursor))
                r = append_list_job(reply, JOB_ID);
        if (r >= 0 && (!page || *cursor))
                r = append_list_job(reply, "22222222-3333-4444-8555-666666666666");
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0 && page)
                r = sd_bus_message_append(reply, "s", *cursor ? "" : "00000000000000ab-1");
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable dbus_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Hello", "", "s", method_hello, 0),
        SD_BUS_VTABLE_END,
};

#define START_ARGS "asassa{sv}"
static const sd_bus_vtable worker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Start", START_ARGS, "so", method_start, 0),
        SD_BUS_METHOD("OpenOutput", "stb", "h", method_open_output, 0),
        SD_BUS_METHOD("Wait", "s", "a{sv}", method_wait, 0),
        SD_BUS_METHOD("List", "", "aa{sv}", method_list, 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable worker_new_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("StartWithOutput", START_ARGS, "soh", method_start, 0),
        SD_BUS_METHOD("ListPage", "su", "aa{sv}s", method_list, 0),
        SD_BUS_VTABLE_END,
};

/* The stand-in worker: serves one connection on listen_fd, then exits. */
static _Noreturn void worker_run(int listen_fd, bool with_output, int log_fd) {
        Worker w = { .with_output = with_output, .output_wr = -EBADF, .log_fd = log_fd };
        sd_bus *bus = NULL;
        sd_id128_t id;
        int fd;

        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(sd_id128_randomize(&id), >=, 0);
        g_assert_cmpint(sd_bus_new(&bus), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(bus, fd, fd), >=, 0);
        g_assert_cmpint(sd_bus_set_server(bus, 1, id), >=, 0);
        g_assert_cmpint(sd_bus_negotiate_fds(bus, 1), >=, 0);
        g_assert_cmpint(sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                 dbus_vtable, &w), >=, 0);
        g_assert_cmpint(sd_bus_add_object_vtable(bus, NULL, "/org/teleworker/worker1",
                                                 "org.teleworker.worker1.Manager", worker_vtable, &w), >=, 0);
        if (with_output)
                g_assert_cmpint(sd_bus_add_object_vtable(bus, NULL, "/org/teleworker/worker1",
                                                         "org.teleworker.worker1.Manager", worker_new_vtable,
                                                         &w), >=, 0);
        g_assert_cmpint(sd_bus_start(bus), >=, 0);
        for (;;) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break; /* the client went away */
                if (r > 0)
                        continue;
                if (sd_bus_wait(bus, UINT64_MAX) < 0)
                        break;
        }
        _exit(0);
}

typedef struct Fixture {
        char *dir;
        pid_t worker;
        int log_fd;
} Fixture;

static void fixture_start(Fixture *f, bool with_output) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char address[sizeof(sa.sun_path) + 16], log[PATH_MAX];
        int fd;

        /* (no allocation the worker would inherit and never free: it ends with _exit()) */
        f->dir = g_dir_make_tmp("test-client-bus-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        g_snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bus", f->dir);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
        g_assert_cmpint(listen(fd, 1), ==, 0);
        g_snprintf(log, sizeof(log), "%s/calls", f->dir);
        f->log_fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        g_assert_cmpint(f->log_fd, >=, 0);

        f->worker = fork();
        g_assert_cmpint(f->worker, >=, 0);
        if (f->worker == 0)
                worker_run(fd, with_output, f->log_fd);
        close(fd);

        g_snprintf(address, sizeof(address), "unix:path=%s", sa.sun_path);
        g_assert_true(g_setenv("DBUS_SYSTEM_BUS_ADDRESS", address, true));
}

/* The calls the worker saw, in order, one per line. */
static char *fixture_finish(Fixture *f) {
        g_autofree char *log = g_strdup_printf("%s/calls", f->dir), *sock = g_strdup_printf("%s/bus", f->dir);
        char *calls = NULL;
        int status;

        g_assert_cmpint(waitpid(f->worker, &status, 0), ==, f->worker);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        g_assert_true(g_file_get_contents(log, &calls, NULL, NULL));
        close(f->log_fd);
        (void) unlink(log);
        (void) unlink(sock);
        (void) rmdir(f->dir);
        g_free(f->dir);
        return calls;
}

static void run_job(bool with_output, const char *expect_calls) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(json_object_putp) json_object *job = NULL;
        g_autofree char *id = NULL, *calls = NULL;
        char *argv[] = { (char *) "/bin/echo", (char *) "hi", NULL };
        StartRequest req = { .argv = argv, .cwd = "/", .isolation = START_ISOLATION_UNSET };
        Client *c = NULL;
        char buf[256];
        ssize_t n, total = 0;
        int fd = -EBADF;
        Fixture f = {};

        fixture_start(&f, with_output);
        alarm(30); /* a client that does not send Wait ahead never sees EOF */

        g_assert_cmpint(client_bus_new(&c, &e), ==, 0);
        g_assert_nonnull(c->ops->start_follow);
        g_assert_cmpint(c->ops->start_follow(c, &req, &id, &fd, &e), ==, 0);
        g_assert_cmpstr(id, ==, JOB_ID);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, !=, 0);
        while ((n = read(fd, buf + total, sizeof(buf) - 1 - (size_t) total)) > 0)
                total += n;
        g_assert_cmpint(n, ==, 0);
        buf[total] = 0;
        g_assert_cmpstr(buf, ==, OUTPUT);
        close(fd);

        g_assert_cmpint(c->ops->wait(c, id, &job, &e), ==, 0);
        g_assert_cmpstr(job_json_string(job, "state"), ==, "failed");
        g_assert_cmpint(job_exit_status(job), ==, 3);
        client_free(c);
        alarm(0);

        calls = fixture_finish(&f);
        g_assert_cmpstr(calls, ==, expect_calls);
}

/* One round trip for the job and its output; Wait goes out before the output is read. */
static void test_start_with_output(void) {
        run_job(true, "StartWithOutput\nWait\n");
}

/* A worker from before StartWithOutput: UnknownMethod, then Start + OpenOutput; nothing started twice. */
static void test_fallback(void) {
        run_job(false, "Start\nOpenOutput\nWait\n");
}

/* A plain start (no following) asks for nothing else. */
static void test_plain_start(void) {
        _cleanup_(client_error_done) ClientError e = {};
        g_autofree char *id = NULL, *calls = NULL;
        char *argv[] = { (char *) "/bin/echo", NULL };
        StartRequest req = { .argv = argv, .cwd = "", .isolation = START_ISOLATION_UNSET };
        Client *c = NULL;
        Fixture f = {};

        fixture_start(&f, true);
        g_assert_cmpint(client_bus_new(&c, &e), ==, 0);
        g_assert_cmpint(c->ops->start(c, &req, &id, &e), ==, 0);
        g_assert_cmpstr(id, ==, JOB_ID);
        client_free(c);
        calls = fixture_finish(&f);
        g_assert_cmpstr(calls, ==, "Start\n");
}

/* telerun list: page by page (ListPage until the cursor is ""); one List from a worker without ListPage. */
static void list_jobs(bool new_worker, const char *expect_calls) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(json_object_putp) json_object *jobs = NULL;
        g_autofree char *calls = NULL;
        Client *c = NULL;
        Fixture f = {};

        fixture_start(&f, new_worker);
        g_assert_cmpint(client_bus_new(&c, &e), ==, 0);
        g_assert_cmpint(c->ops->list(c, &jobs, &e), ==, 0);
        g_assert_cmpuint(json_object_array_length(jobs), ==, 2);
        g_assert_cmpstr(job_json_string(json_object_array_get_idx(jobs, 0), "id"), ==, JOB_ID);
        client_free(c);
        calls = fixture_finish(&f);
        g_assert_cmpstr(calls, ==, expect_calls);
}

static void test_list_pages(void) {
        list_jobs(true, "ListPage\nListPage\n");
}

static void test_list_fallback(void) {
        list_jobs(false, "List\n");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/client-bus/list-pages", test_list_pages);
        g_test_add_func("/client-bus/list-fallback", test_list_fallback);
        signal(SIGPIPE, SIG_IGN);

        g_test_add_func("/client-bus/start-with-output", test_start_with_output);
        g_test_add_func("/client-bus/fallback-start-open-output", test_fallback);
        g_test_add_func("/client-bus/plain-start", test_plain_start);
        return g_test_run();
}
