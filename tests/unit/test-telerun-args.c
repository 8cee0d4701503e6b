/* SPDX-License-Identifier: MIT */
/* test-telerun-args.c - telerun without a worker: command line parsing, exit codes, the human output built
 * from job objects, logs --tail's scan, and the output copy loop on real pipes and files. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>

#undef MIN
#undef MAX
#include "client.h"
#include "copy.h"
#include "follow.h"
#include "format.h"
#include "shared/macro.h"
#include "telerun.h"
#include "shared/util.h"

#define ID1 "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10"

/* Runs parse_argv() on a NULL-terminated list (copied: getopt permutes). stdout goes to /dev/null so that
 * --help does not end up in the TAP stream. */
static int parse(const char *first, ...) {
        static char *argv[64];
        static char storage[64][256];
        int argc = 0, saved, null, r;
        va_list ap;

        telerun_args_reset();
        argv[argc] = strcpy(storage[argc], "telerun");
        argc++;
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *)) {
                g_assert_cmpint(argc, <, 63);
                g_assert_cmpuint(strlen(a), <, sizeof(storage[0]));
                argv[argc] = strcpy(storage[argc], a);
                argc++;
        }
        va_end(ap);
        argv[argc] = NULL;

        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(saved, >=, 0);
        g_assert_cmpint(null, >=, 0);
        dup2(null, STDOUT_FILENO);
        r = parse_argv(argc, argv);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        close(null);
        return r;
}

/* Isolation flags are tri-state: not given (-1: the worker's default) unless an option says yes or no. A
 * 0 here would ask for "no" (refused for remote principals), so the initial values matter as much as the
 * reset's. */
static int initial_isolation[4]; /* the flags as main() found them, before any test ran */

static void test_parse_isolation(void) {
        for (size_t i = 0; i < G_N_ELEMENTS(initial_isolation); i++)
                g_assert_cmpint(initial_isolation[i], ==, -1);
        g_assert_cmpint(parse("run", "ls", NULL), ==, 1);
        g_assert_cmpint(arg_private_pid, ==, -1);
        g_assert_cmpint(arg_private_network, ==, -1);
        g_assert_cmpint(parse("run", "--no-private-pid", "--no-private-tmp", "--network", "--protect-system", "ls",
                              NULL), ==, 1);
        g_assert_cmpint(arg_private_pid, ==, 0);
        g_assert_cmpint(arg_private_tmp, ==, 0);
        g_assert_cmpint(arg_private_network, ==, 0);
        g_assert_cmpint(arg_protect_system, ==, 1);
        g_assert_cmpint(parse("run", "--no-network", "ls", NULL), ==, 1);
        g_assert_cmpint(arg_private_network, ==, 1);
        g_assert_cmpint(arg_private_pid, ==, -1);
}

static void test_parse_run(void) {
        g_assert_cmpint(parse("run", "--memory", "256M", "--cpu=150%", "--io-read", "10M", "--io-write=1G",
                              "--tasks", "64", "-e", "A=1", "--env=B=x=y", "--cwd", "", "--", "/bin/ls", "-l",
                              "--json", NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_RUN);
        g_assert_cmpuint(arg_memory_max, ==, 256 * 1024 * 1024);
        g_assert_cmpuint(arg_cpu_quota, ==, 1500000);
        g_assert_cmpuint(arg_io_read_max, ==, 10 * 1024 * 1024);
        g_assert_cmpuint(arg_io_write_max, ==, UINT64_C(1) << 30);
        g_assert_cmpuint(arg_tasks_max, ==, 64);
        g_assert_cmpuint(strv_length(arg_env), ==, 2);
        g_assert_cmpstr(arg_env[0], ==, "A=1");
        g_assert_cmpstr(arg_env[1], ==, "B=x=y");
        g_assert_cmpstr(arg_cwd, ==, "");
        /* The job's own options stay the job's. */
        g_assert_cmpuint(strv_length(arg_args), ==, 3);
        g_assert_cmpstr(arg_args[0], ==, "/bin/ls");
        g_assert_cmpstr(arg_args[1], ==, "-l");
        g_assert_cmpstr(arg_args[2], ==, "--json");
        g_assert_cmpint(arg_json, ==, JSON_OFF);
        g_assert_false(arg_stdin);

        /* -i: the job reads our stdin; "-i" after the command is the command's. */
        g_assert_cmpint(parse("run", "-i", "--", "cat", "-i", NULL), ==, 1);
        g_assert_true(arg_stdin);
        g_assert_cmpstr(arg_args[1], ==, "-i");
        g_assert_cmpint(parse("start", "--interactive", "cat", NULL), ==, 1);
        g_assert_true(arg_stdin);
        g_assert_cmpint(parse("run", "cat", "-i", NULL), ==, 1);
        g_assert_false(arg_stdin);
        g_assert_cmpint(parse("logs", "-i", "x", NULL), <, 1);

        /* Without "--" too: parsing stops at the command. */
        g_assert_cmpint(parse("run", "--cpu", "1.5", "ls", "-l", "--memory", "1G", NULL), ==, 1);
        g_assert_cmpuint(arg_cpu_quota, ==, 1500000);
        g_assert_cmpuint(arg_memory_max, ==, 0);
        g_assert_cmpuint(strv_length(arg_args), ==, 4);
        g_assert_cmpstr(arg_args[2], ==, "--memory");
        g_assert_null(arg_env);
        g_assert_null(arg_cwd);

        g_assert_cmpint(parse("start", "-f", "--json", "--memory=infinity", "sleep", "1", NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_START);
        g_assert_true(arg_follow);
        g_assert_cmpint(arg_json, ==, JSON_SHORT);
        g_assert_cmpuint(arg_memory_max, ==, UINT64_MAX);
}

static void test_parse_read_verbs(void) {
        g_assert_cmpint(parse("status", ID1, "--json=pretty", NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_STATUS);
        g_assert_cmpint(arg_json, ==, JSON_PRETTY);
        g_assert_cmpstr(arg_args[0], ==, ID1);

        /* Global options before the verb. */
        g_assert_cmpint(parse("--json", "list", "-q", NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_LIST);
        g_assert_cmpint(arg_json, ==, JSON_SHORT);
        g_assert_true(arg_quiet);
        g_assert_cmpint(parse("ps", "--no-legend", NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_LIST);
        g_assert_false(arg_legend);

        g_assert_cmpint(parse("logs", "-f", "--tail", "10", ID1, NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_LOGS);
        g_assert_true(arg_follow);
        g_assert_cmpuint(arg_tail, ==, 10);
        g_assert_cmpint(parse("logs", ID1, "--offset=4096", NULL), ==, 1);
        g_assert_cmpuint(arg_offset, ==, 4096);
        g_assert_cmpuint(arg_tail, ==, UINT64_MAX);
        g_assert_cmpint(parse("logs", "-n", "0", ID1, NULL), ==, 1);
        g_assert_cmpuint(arg_tail, ==, 0);

        g_assert_cmpint(parse("stop", ID1, "00000000-0000-4000-8000-000000000000", NULL), ==, 1);
        g_assert_cmpuint(strv_length(arg_args), ==, 2);
        g_assert_cmpint(parse("wait", "--json", ID1, NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_WAIT);
}

/* logs' stream options (issue 15). */
static void test_parse_streams(void) {
        g_assert_cmpint(parse("logs", "--stderr", "--timestamps", "--since", "1764768000.5", "--until",
                              "2025-12-03T13:30:00Z", ID1, NULL), ==, 1);
        g_assert_cmpuint(arg_streams, ==, TELERUN_STREAM_STDERR);
        g_assert_true(arg_timestamps);
        g_assert_cmpuint(arg_since, ==, UINT64_C(1764768000500000));
        g_assert_cmpuint(arg_until, ==, UINT64_C(1764768600000000));
        g_assert_cmpint(parse("logs", "--stdout", "--stderr", "-f", "--since", "10m", ID1, NULL), ==, 1);
        g_assert_cmpuint(arg_streams, ==, TELERUN_STREAM_STDOUT | TELERUN_STREAM_STDERR);
        g_assert_cmpuint(arg_since, <, UINT64_MAX);
        g_assert_cmpuint(arg_until, ==, UINT64_MAX);
        g_assert_false(arg_timestamps);

        g_assert_cmpint(parse("logs", "--since", "yesterday", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("logs", "--until", "2025-02-30T00:00:00Z", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("logs", "-f", "--until", "10m", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--stderr", "--", "true", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("status", "--timestamps", ID1, NULL), ==, -EINVAL);
}

static void test_parse_lifecycle(void) {
        JobListFilter f;

        /* prefixes, rm -f, kill -s, wait --any */
        g_assert_cmpint(parse("status", "8c1f", NULL), ==, 1);
        g_assert_cmpint(parse("status", "8c1", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("rm", "-f", "8c1f0e9e", ID1, NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_RM);
        g_assert_true(arg_follow || arg_force);
        g_assert_cmpint(parse("remove", "--force", ID1, NULL), ==, 1);
        g_assert_true(arg_force);
        g_assert_cmpint(parse("rm", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("kill", ID1, NULL), ==, 1);
        g_assert_cmpint(arg_signal, ==, SIGTERM);
        g_assert_cmpint(parse("kill", "-s", "USR1", ID1, NULL), ==, 1);
        g_assert_cmpint(arg_signal, ==, SIGUSR1);
        g_assert_cmpint(parse("kill", "--signal=SIGKILL", ID1, NULL), ==, 1);
        g_assert_cmpint(arg_signal, ==, SIGKILL);
        g_assert_cmpint(parse("kill", "-s", "STOP", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("kill", "-s", "-9", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("stop", "-s", "USR1", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("wait", "--any", ID1, "8c1f", NULL), ==, 1);
        g_assert_true(arg_any);
        g_assert_cmpuint(strv_length(arg_args), ==, 2);
        g_assert_cmpint(parse("status", "--any", ID1, NULL), ==, -EINVAL);

        /* list filters: running and submitted by default, none with -a alone */
        g_assert_cmpint(parse("list", NULL), ==, 1);
        g_assert_nonnull(telerun_list_filter(&f));
        g_assert_cmpuint(f.states, ==, JOB_STATES_ACTIVE);
        g_assert_cmpint(parse("list", "-a", NULL), ==, 1);
        g_assert_null(telerun_list_filter(&f));
        g_assert_cmpint(parse("list", "-a", "-n", "3", "--owner", "bob", NULL), ==, 1);
        g_assert_nonnull(telerun_list_filter(&f));
        g_assert_cmpuint(f.states, ==, 0);
        g_assert_cmpuint(f.last, ==, 3);
        g_assert_cmpstr(f.owner, ==, "bob");
        g_assert_cmpint(parse("list", "--state", "failed,killed", NULL), ==, 1);
        g_assert_nonnull(telerun_list_filter(&f));
        g_assert_cmpuint(f.states, ==, (1U << JOB_FAILED) | (1U << JOB_KILLED));
        g_assert_cmpint(parse("list", "--state", "failed", "-a", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("list", "--state", "gone", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("list", "-n", "0", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("list", "--owner", "../x", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("list", "--since", "2026-11-23T18:30:00Z", NULL), ==, 1);
        g_assert_cmpuint(arg_since, ==, UINT64_C(1795458600) * 1000000);

}

/* attach: one job (id, prefix or name), no options of its own; it exits with the job's status. */
static void test_parse_attach(void) {
        g_assert_cmpint(parse("attach", ID1, NULL), ==, 1);
        g_assert_cmpint(arg_verb, ==, VERB_ATTACH);
        g_assert_cmpstr(arg_args[0], ==, ID1);
        g_assert_true(telerun_verb_is_job_status());
        g_assert_cmpint(parse("attach", "8c1f", NULL), ==, 1);
        g_assert_cmpint(parse("attach", "build-1", NULL), ==, 1);
        g_assert_cmpint(parse("--addr", "gw:8443", "attach", ID1, NULL), ==, 1);
        g_assert_cmpint(parse("attach", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("attach", ID1, "8c1f", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("attach", "8c1", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("attach", "../x", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("attach", "-f", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("attach", "-it", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("attach", "--tail", "3", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("attach", "-h", NULL), ==, 0);
}

static void test_parse_done(void) {
        g_assert_cmpint(parse("--help", NULL), ==, 0);
        g_assert_cmpint(parse("--version", NULL), ==, 0);
        g_assert_cmpint(parse("help", NULL), ==, 0);
        g_assert_cmpint(parse("status", "-h", NULL), ==, 0);
}

static void test_parse_errors(void) {
        g_assert_cmpint(parse(NULL), ==, -EINVAL);
        g_assert_cmpint(parse("frobnicate", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("status", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("status", "_not-an-id", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("status", ID1, ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("stop", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("stop", ID1, "_x", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("list", "extra", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--memory", "lots", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--memory", "0", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--cpu", "0%", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--tasks", "-1", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--env", "NOVALUE", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--env", "=x", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--memory", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "--bogus", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "-x", "ls", NULL), ==, -EINVAL);
        /* Options that do not apply to the verb. */
        g_assert_cmpint(parse("run", "--json", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("run", "-f", "ls", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("list", "--memory", "1G", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("--tail", "3", "status", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("stop", "--json", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("logs", "--offset", "1", "--tail", "1", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("logs", "--offset", "x", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("--json=ugly", "list", NULL), ==, -EINVAL);
        /* Remote credentials without an address. */
        g_assert_cmpint(parse("--cert", "c.pem", "list", NULL), ==, -EINVAL);
        g_assert_cmpint(parse("--reconnect-timeout", "x", "wait", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("--reconnect-timeout", "-1", "wait", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("--reconnect-timeout", "", "wait", ID1, NULL), ==, -EINVAL);
        g_assert_cmpint(parse("--reconnect-timeout", "100000", "wait", ID1, NULL), ==, -EINVAL);
}

static void test_parse_reconnect(void) {
        g_assert_cmpint(parse("wait", ID1, NULL), ==, 1);
        g_assert_cmpuint(arg_reconnect_timeout_usec, ==, 30000000);
        g_assert_cmpint(parse("--reconnect-timeout=2.5", "logs", "-f", ID1, NULL), ==, 1);
        g_assert_cmpuint(arg_reconnect_timeout_usec, ==, 2500000);
        g_assert_cmpint(parse("run", "--reconnect-timeout", "0", "--", "ls", NULL), ==, 1);
        g_assert_cmpuint(arg_reconnect_timeout_usec, ==, 0);
        g_assert_cmpint(parse("run", "--io-write", "100M", "--memory", "infinity", "--", "ls", NULL), ==, 1);
        g_assert_cmpuint(arg_io_write_max, ==, 104857600);
        g_assert_cmpuint(arg_memory_max, ==, UINT64_MAX);
        telerun_args_reset();
}

/* ---- follow_output() against a scripted transport: streams that end early (the worker went away), a worker
 * that is unreachable for a while, one that never comes back ---- */

typedef struct FakeWorker {
        Client client;
        const char *data;        /* the job's whole output */
        size_t size;
        unsigned n_opens;
        uint64_t opened_at[8];
        size_t cut[8];           /* stream i ends after this many bytes (then the "worker" leaves) */
        unsigned unreachable;    /* calls to fail with CLIENT_ERROR_UNREACHABLE before answering */
        unsigned leave_after;    /* > 0: after this many opens every call fails (the worker never comes back) */
} FakeWorker;

static int fake_unreachable(FakeWorker *w, ClientError *e) {
        if ((w->leave_after > 0 && w->n_opens >= w->leave_after) || w->unreachable > 0) {
                if (w->unreachable > 0)
                        w->unreachable--;
                return client_error_set(e, -ECONNREFUSED, CLIENT_ERROR_UNREACHABLE, "no worker");
        }
        return 0;
}

static int fake_open_output(Client *c, const char *id, uint64_t offset, bool follow, int *ret_fd, ClientError *e) {
        FakeWorker *w = c->userdata;
        size_t n;
        int p[2], r;

        r = fake_unreachable(w, e);
        if (r < 0)
                return r;
        g_assert_true(follow);
        g_assert_cmpuint(offset, <=, w->size);
        /* past the script: empty streams */
        n = w->n_opens < G_N_ELEMENTS(w->cut) ? MIN(w->cut[w->n_opens], w->size - (size_t) offset) : 0;
        if (w->n_opens < G_N_ELEMENTS(w->opened_at))
                w->opened_at[w->n_opens] = offset;
        w->n_opens++;
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(write(p[1], w->data + offset, n), ==, (ssize_t) n);
        close(p[1]);
        *ret_fd = p[0];
        return 0;
}

static int fake_output_complete(Client *c, const char *id, uint64_t offset, ClientError *e) {
        FakeWorker *w = c->userdata;
        int r = fake_unreachable(w, e);

        return r < 0 ? r : offset == w->size;
}

static const ClientOps fake_ops = {
        .name = "fake",
        .open_output = fake_open_output,
        .output_complete = fake_output_complete,
};

/* follow_output() with stdout on a file: its return value, and what it wrote in *ret. */
static int follow_to_file(FakeWorker *w, uint64_t timeout_usec, GString **ret, ClientError *e) {
        char path[] = "/tmp/test-telerun-follow-XXXXXX";
        int fd = mkstemp(path), saved, r, in = -EBADF;
        uint64_t offset = 0;
        char buf[4096];
        ssize_t n;
        FollowRetry t = follow_retry_init(timeout_usec, -EBADF);

        g_assert_cmpint(fd, >=, 0);
        unlink(path);
        client_init(&w->client, &fake_ops, w);
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        dup2(fd, STDOUT_FILENO);
        r = follow_output(&w->client, ID1, &in, &offset, &t, e);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        safe_close(in);
        *ret = g_string_new(NULL);
        lseek(fd, 0, SEEK_SET);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                g_string_append_len(*ret, buf, n);
        close(fd);
        g_assert_cmpuint((*ret)->len, ==, offset);
        return r;
}

static void test_follow_resume(void) {
        static const char text[] = "one\ntwo\nthree\nfour\nfive\n";
        _cleanup_(client_error_done) ClientError e = {};
        FakeWorker w = { .data = text, .size = sizeof(text) - 1, .cut = { 5, 3, 0, 100 }, .unreachable = 2 };
        g_autoptr(GString) out = NULL;

        /* Cut after 5, then after 3 more, then an empty stream, two unreachable calls, then the rest. */
        g_assert_cmpint(follow_to_file(&w, 5 * 1000000, &out, &e), ==, 0);
        g_assert_cmpstr(out->str, ==, text);
        g_assert_cmpuint(w.n_opens, ==, 4);
        g_assert_cmpuint(w.opened_at[0], ==, 0);
        g_assert_cmpuint(w.opened_at[1], ==, 5);
        g_assert_cmpuint(w.opened_at[2], ==, 8);
        g_assert_cmpuint(w.opened_at[3], ==, 8);
}

static void test_follow_gives_up(void) {
        static const char text[] = "0123456789";
        _cleanup_(client_error_done) ClientError e = {};
        g_autoptr(GString) out = NULL;
        FakeWorker w = { .data = text, .size = 10, .cut = { 4 }, .leave_after = 1 };
        uint64_t start = now_usec(CLOCK_MONOTONIC);

        /* The first stream brings 4 bytes, then the worker is gone for good: give up after 0.3 s, and say how
         * far the output got. */
        g_assert_cmpint(follow_to_file(&w, 300000, &out, &e), ==, -ECONNREFUSED);
        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - start, >=, 300000);
        g_assert_cmpint(e.kind, ==, CLIENT_ERROR_UNREACHABLE);
        g_test_message("%s", e.message);
        g_assert_nonnull(strstr(e.message, "did not come back within 0.3 s: no worker"));
        g_assert_nonnull(strstr(e.message, "(4 bytes written)"));
        g_assert_cmpstr(out->str, ==, "0123");

        /* A worker that answers but whose streams end early, empty, and never complete: the same, not a busy
         * loop (a few opens, not thousands). */
        client_error_done(&e);
        g_string_free(g_steal_pointer(&out), true);
        w = (FakeWorker) { .data = text, .size = 10, .cut = { 4 } };
        g_assert_cmpint(follow_to_file(&w, 300000, &out, &e), <, 0);
        g_assert_cmpint(e.kind, ==, CLIENT_ERROR_UNREACHABLE);
        g_assert_nonnull(strstr(e.message, "ended before the output was complete"));
        g_assert_cmpuint(w.n_opens, <=, 6);
        g_assert_cmpstr(out->str, ==, "0123");

        /* --reconnect-timeout=0: no retry at all */
        client_error_done(&e);
        g_string_free(g_steal_pointer(&out), true);
        w = (FakeWorker) { .data = text, .size = 10, .cut = { 4 }, .leave_after = 1 };
        g_assert_cmpint(follow_to_file(&w, 0, &out, &e), <, 0);
        g_assert_cmpint(e.kind, ==, CLIENT_ERROR_UNREACHABLE);
        g_assert_cmpuint(w.n_opens, ==, 1);
        g_assert_cmpstr(out->str, ==, "0123");
}

static void test_parse_remote(void) {
        g_assert_cmpint(setenv("TELERUN_ADDR", "gw.example:8443", 1), ==, 0);
        g_assert_cmpint(setenv("TELERUN_CERT", "env-cert.pem", 1), ==, 0);
        g_assert_cmpint(setenv("TELERUN_KEY", "", 1), ==, 0);
        g_assert_cmpint(parse("--cert", "c.pem", "list", "--cacert=ca.pem", NULL), ==, 1);
        g_assert_cmpstr(arg_addr, ==, "gw.example:8443");
        g_assert_cmpstr(arg_cert, ==, "c.pem");    /* the command line wins */
        g_assert_null(arg_key);                     /* empty = unset */
        g_assert_cmpstr(arg_cacert, ==, "ca.pem");
        g_assert_cmpint(parse("--addr", "h:1", "list", NULL), ==, 1);
        g_assert_cmpstr(arg_addr, ==, "h:1");
        g_assert_cmpstr(arg_cert, ==, "env-cert.pem");
        unsetenv("TELERUN_ADDR");
        unsetenv("TELERUN_CERT");
        unsetenv("TELERUN_KEY");
        g_assert_cmpint(parse("list", NULL), ==, 1);
        g_assert_null(arg_addr);
        telerun_args_reset();
}

static void test_exit_codes(void) {
        g_assert_cmpint(telerun_exit_from_error(CLIENT_ERROR_OTHER), ==, 1);
        g_assert_cmpint(telerun_exit_from_error(CLIENT_ERROR_INVALID), ==, 2);
        g_assert_cmpint(telerun_exit_from_error(CLIENT_ERROR_NOT_FOUND), ==, 3);
        g_assert_cmpint(telerun_exit_from_error(CLIENT_ERROR_ACCESS_DENIED), ==, 4);
        g_assert_cmpint(telerun_exit_from_error(CLIENT_ERROR_UNREACHABLE), ==, 5);
}

static void test_client_error(void) {
        _cleanup_(client_error_done) ClientError e = {};

        g_assert_cmpint(client_error_set(&e, -ENOENT, CLIENT_ERROR_NOT_FOUND, "Failed to %s: %m", "look"), ==, -ENOENT);
        g_assert_cmpint(e.kind, ==, CLIENT_ERROR_NOT_FOUND);
        g_assert_cmpstr(e.message, ==, "Failed to look: No such file or directory");
        /* A second error replaces the first. */
        g_assert_cmpint(client_error_set(&e, 0, CLIENT_ERROR_UNREACHABLE, "down"), ==, -EIO);
        g_assert_cmpstr(e.message, ==, "down");
        g_assert_cmpint(client_error_set(NULL, -EPERM, CLIENT_ERROR_OTHER, "x"), ==, -EPERM);
        g_assert_cmpstr(client_error_kind_to_string(CLIENT_ERROR_ACCESS_DENIED), ==, "access-denied");
}

static void test_remote_incomplete(void) {
        _cleanup_(client_error_done) ClientError e = {};
        ClientRemoteConfig config = { .addr = "h:1" };
        Client *c = NULL;

        /* Without credentials no remote backend can work (the placeholder never does): an error, with a
         * message telerun can print, and nothing allocated. */
        g_assert_cmpint(client_remote_new(&config, &c, &e), <, 0);
        g_assert_null(c);
        g_assert_nonnull(e.message);
        g_assert_cmpstr(e.message, !=, "");
        g_assert_nonnull(client_error_kind_to_string(e.kind));
}

static void check_quote(const char *in, const char *expect) {
        _cleanup_(freep) char *q = shell_quote(in);
        g_assert_cmpstr(q, ==, expect);
}

static void test_shell_quote(void) {
        check_quote("/bin/ls", "/bin/ls");
        check_quote("a=b,c:d@e%f+g", "a=b,c:d@e%f+g");
        check_quote("", "''");
        check_quote("hello world", "'hello world'");
        check_quote("it's", "'it'\\''s'");
        check_quote("$HOME", "'$HOME'");
        check_quote("a\nb", "$'a\\nb'");
        check_quote("x'\t\x01\\", "$'x\\'\\t\\x01\\\\'");
        check_quote("grüße", "grüße");
}

static json_object *parse_json(const char *s) {
        json_object *o = json_tokener_parse(s);
        g_assert_nonnull(o);
        return o;
}

static void test_command_line(void) {
        _cleanup_(json_object_putp) json_object *a = parse_json("[\"/bin/sh\", \"-c\", \"echo 'hi' $X\"]");
        _cleanup_(json_object_putp) json_object *empty = parse_json("[]");
        _cleanup_(freep) char *l = format_command_line(a), *e = format_command_line(empty),
                              *n = format_command_line(NULL);

        g_assert_cmpstr(l, ==, "/bin/sh -c 'echo '\\''hi'\\'' $X'");
        g_assert_cmpstr(e, ==, "");
        g_assert_cmpstr(n, ==, "");
}

static void test_times(void) {
        uint64_t u;
        char buf[64];

        g_assert_cmpint(parse_timestamp_rfc3339("2026-11-22T18:30:00.123456Z", &u), ==, 0);
        g_assert_cmpuint(u, ==, UINT64_C(1795372200123456));
        g_assert_cmpstr(format_timestamp(buf, sizeof(buf), u), ==, "2026-11-22T18:30:00.123456Z");
        g_assert_cmpint(parse_timestamp_rfc3339("2026-11-22T18:30:00Z", &u), ==, 0);
        g_assert_cmpuint(u, ==, UINT64_C(1795372200000000));
        g_assert_cmpint(parse_timestamp_rfc3339("2026-11-22T18:30:00.5Z", &u), ==, 0);
        g_assert_cmpuint(u, ==, UINT64_C(1795372200500000));
        g_assert_cmpint(parse_timestamp_rfc3339("1970-01-01T00:00:00.000001Z", &u), ==, 0);
        g_assert_cmpuint(u, ==, 1);
        g_assert_cmpint(parse_timestamp_rfc3339("2026-11-22T18:30:00", &u), ==, -EINVAL);
        g_assert_cmpint(parse_timestamp_rfc3339("2026-11-22T18:30:00.Z", &u), ==, -EINVAL);
        g_assert_cmpint(parse_timestamp_rfc3339("2026-11-22 18:30:00Z", &u), ==, -EINVAL);
        g_assert_cmpint(parse_timestamp_rfc3339("garbage", &u), ==, -EINVAL);
        g_assert_cmpint(parse_timestamp_rfc3339(NULL, &u), ==, -EINVAL);

        /* TZ=UTC is set in main(). */
        g_assert_cmpstr(format_local_time(buf, sizeof(buf), UINT64_C(1795372200123456), true), ==,
                        "Sun 2026-11-22 18:30:00 UTC");
        g_assert_cmpstr(format_local_time(buf, sizeof(buf), UINT64_C(1795372200123456), false), ==,
                        "2026-11-22 18:30:00");

        g_assert_cmpstr(format_timespan(buf, sizeof(buf), 0), ==, "0us");
        g_assert_cmpstr(format_timespan(buf, sizeof(buf), 345), ==, "345us");
        g_assert_cmpstr(format_timespan(buf, sizeof(buf), 12345), ==, "12.3ms");
        g_assert_cmpstr(format_timespan(buf, sizeof(buf), 1234567), ==, "1.235s");
        g_assert_cmpstr(format_timespan(buf, sizeof(buf), 123 * USEC_PER_SEC + 400000), ==, "2min 3.4s");
        g_assert_cmpstr(format_timespan(buf, sizeof(buf), 3723 * USEC_PER_SEC), ==, "1h 2min");
        g_assert_cmpstr(format_timespan(buf, sizeof(buf), (3 * 86400 + 4 * 3600 + 5) * USEC_PER_SEC), ==, "3d 4h");

        g_assert_cmpstr(format_cpu_quota(buf, sizeof(buf), 1500000), ==, "150%");
        g_assert_cmpstr(format_cpu_quota(buf, sizeof(buf), 10000), ==, "1%");
        g_assert_cmpstr(format_cpu_quota(buf, sizeof(buf), 12345), ==, "1.23%");
}

static const char job_killed[] =
        "{\"id\":\"" ID1 "\",\"owner\":\"alice\",\"user\":\"alice\","
        "\"argv\":[\"/bin/sh\",\"-c\",\"echo hi\"],\"executable\":\"/usr/bin/sh\","
        "\"state\":\"killed\",\"reason\":\"oom-kill\",\"exit_code\":null,\"exit_signal\":9,\"signal\":\"SIGKILL\","
        "\"submitted_at\":\"2026-11-22T18:30:00.123456Z\",\"started_at\":\"2026-11-22T18:30:00.200000Z\","
        "\"ended_at\":\"2026-11-22T18:30:01.700000Z\",\"unit\":\"teleworker-" ID1 ".scope\","
        "\"output_size\":5000,\"output_dropped\":7,"
        "\"limits\":{\"cpu_quota_per_sec_usec\":1500000,\"memory_max\":268435456,"
        "\"io_read_bandwidth_max\":10485760,\"io_write_bandwidth_max\":null,\"tasks_max\":64},"
        "\"usage\":{\"memory_current\":1234,\"memory_peak\":null,\"cpu_usage_nsec\":42000000,"
        "\"io_read_bytes\":0,\"io_write_bytes\":null}}";

static const char job_running[] =
        "{\"id\":\"00000000-0000-4000-8000-000000000000\",\"owner\":\"bob\",\"user\":\"bob\","
        "\"argv\":[\"/bin/sleep\",\"100\"],\"executable\":\"/bin/sleep\",\"state\":\"running\",\"reason\":null,"
        "\"exit_code\":null,\"exit_signal\":null,\"signal\":null,"
        "\"submitted_at\":\"2026-11-22T18:30:00.000000Z\",\"started_at\":\"2026-11-22T18:30:00.000000Z\","
        "\"ended_at\":null,\"unit\":\"u.scope\",\"output_size\":0,\"output_dropped\":0,"
        "\"limits\":{\"cpu_quota_per_sec_usec\":null,\"memory_max\":null,\"io_read_bandwidth_max\":null,"
        "\"io_write_bandwidth_max\":null,\"tasks_max\":null},"
        "\"usage\":{\"memory_current\":null,\"memory_peak\":null,\"cpu_usage_nsec\":null,\"io_read_bytes\":null,"
        "\"io_write_bytes\":null}}";

static const char job_exited[] =
        "{\"id\":\"11111111-0000-4000-8000-000000000000\",\"owner\":\"carol\",\"argv\":[\"/bin/false\"],"
        "\"state\":\"failed\",\"reason\":\"exited\",\"exit_code\":3,\"exit_signal\":null,\"signal\":null,"
        "\"started_at\":null}";

static char *capture(void (*fn)(FILE *f, json_object *o, uint64_t a), json_object *o, uint64_t a) {
        char *buf = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&buf, &n);

        g_assert_nonnull(f);
        fn(f, o, a);
        g_assert_cmpint(fclose(f), ==, 0);
        return buf;
}

static void status_wrapper(FILE *f, json_object *o, uint64_t now) {
        print_job_status(f, o, now);
}

static void table_wrapper(FILE *f, json_object *o, uint64_t width) {
        print_job_table(f, o, (size_t) width, true);
}

static void summary_wrapper(FILE *f, json_object *o, uint64_t unused) {
        print_job_summary(f, o);
}

static void test_status_block(void) {
        _cleanup_(json_object_putp) json_object *k = parse_json(job_killed), *r = parse_json(job_running);
        _cleanup_(freep) char *a = capture(status_wrapper, k, 0),
                              *b = capture(status_wrapper, r, UINT64_C(1795372202500000));

        g_assert_cmpstr(a, ==,
                "        Id: " ID1 "\n"
                "     Owner: alice\n"
                "      User: alice\n"
                "   Command: /bin/sh -c 'echo hi'\n"
                "Executable: /usr/bin/sh\n"
                "     State: killed\n"
                "    Reason: oom-kill\n"
                "    Signal: SIGKILL (9)\n"
                " Submitted: Sun 2026-11-22 18:30:00 UTC\n"
                "   Started: Sun 2026-11-22 18:30:00 UTC\n"
                "     Ended: Sun 2026-11-22 18:30:01 UTC\n"
                "   Runtime: 1.500s\n"
                "      Unit: teleworker-" ID1 ".scope\n"
                "    Output: 5000 bytes (4.9K), 7 bytes dropped past the cap\n"
                "    Limits: CPU 150%, memory 256M, IO read 10M/s, IO write unlimited, tasks 64\n"
                "     Usage: memory 1.2K (peak unavailable), CPU 42.0ms, IO read 0B, IO write unavailable\n");

        g_assert_nonnull(strstr(b, "     State: running\n"));
        g_assert_null(strstr(b, "Reason"));
        g_assert_null(strstr(b, "Exit code"));
        g_assert_nonnull(strstr(b, "     Ended: -\n"));
        g_assert_nonnull(strstr(b, "   Runtime: 2.500s (running)\n"));
        g_assert_nonnull(strstr(b, "    Limits: CPU unlimited, memory unlimited, IO read unlimited, "
                                   "IO write unlimited, tasks unlimited\n"));
        g_assert_nonnull(strstr(b, "     Usage: memory unavailable (peak unavailable), CPU unavailable, "
                                   "IO read unavailable, IO write unavailable\n"));
        g_assert_null(strstr(b, "18446744073709551615"));

        /* capture stopped by a full state directory */
        {
                g_autofree char *text = g_strdup(job_killed);
                char *at = strstr(text, "\"output_dropped\":7,");
                g_assert_nonnull(at);
                g_autofree char *full = g_strdup_printf("%.*s\"output_dropped\":7,\"output_error\":\"No space left on "
                                                        "device\",%s", (int) (at - text), text,
                                                        at + strlen("\"output_dropped\":7,"));
                _cleanup_(json_object_putp) json_object *e = parse_json(full);
                _cleanup_(freep) char *c = capture(status_wrapper, e, 0);
                g_assert_nonnull(strstr(c, "    Output: 5000 bytes (4.9K), 7 bytes dropped (capture stopped: No space "
                                           "left on device)\n"));
        }
}

static void test_table(void) {
        _cleanup_(json_object_putp) json_object *jobs = json_object_new_array();
        _cleanup_(json_object_putp) json_object *none = json_object_new_array();
        _cleanup_(freep) char *t = NULL, *narrow = NULL, *empty = NULL;

        json_object_array_add(jobs, parse_json(job_killed));
        json_object_array_add(jobs, parse_json(job_running));
        json_object_array_add(jobs, parse_json(job_exited));
        t = capture(table_wrapper, jobs, 0);
        g_assert_cmpstr(t, ==,
                "ID                                    OWNER  STATE    EXIT     STARTED              COMMAND\n"
                ID1 "  alice  killed   SIGKILL  2026-11-22 18:30:00  /bin/sh -c 'echo hi'\n"
                "00000000-0000-4000-8000-000000000000  bob    running  -        2026-11-22 18:30:00  /bin/sleep 100\n"
                "11111111-0000-4000-8000-000000000000  carol  failed   3        -                    /bin/false\n");

        /* A terminal 100 columns wide: the command is cut to what is left of a line. */
        narrow = capture(table_wrapper, jobs, 100);
        g_assert_nonnull(strstr(narrow, "2026-11-22 18:30:00  /bin/sh -c 'e...\n"));

        empty = capture(table_wrapper, none, 0);
        g_assert_cmpstr(empty, ==, "ID  OWNER  STATE  EXIT  STARTED  COMMAND\n");
}

static void test_exit_status(void) {
        _cleanup_(json_object_putp) json_object *k = parse_json(job_killed), *r = parse_json(job_running),
                                                *e = parse_json(job_exited),
                                                *z = parse_json("{\"exit_code\":0,\"exit_signal\":null}"),
                                                *big = parse_json("{\"exit_code\":300}");
        _cleanup_(freep) char *s1 = capture(summary_wrapper, k, 0), *s2 = capture(summary_wrapper, e, 0);
        char buf[32];

        g_assert_cmpint(job_exit_status(k), ==, 137);
        g_assert_cmpint(job_exit_status(e), ==, 3);
        g_assert_cmpint(job_exit_status(z), ==, 0);
        g_assert_cmpint(job_exit_status(r), ==, 1);
        g_assert_cmpint(job_exit_status(big), ==, 300 & 0xff);

        g_assert_cmpstr(format_job_exit(buf, sizeof(buf), k), ==, "SIGKILL");
        g_assert_cmpstr(format_job_exit(buf, sizeof(buf), e), ==, "3");
        g_assert_cmpstr(format_job_exit(buf, sizeof(buf), r), ==, "-");

        g_assert_cmpstr(s1, ==, ID1 ": killed (oom-kill, SIGKILL)\n");
        g_assert_cmpstr(s2, ==, "11111111-0000-4000-8000-000000000000: failed (exit code 3)\n");
}

static uint64_t tail_of(const char *s, uint64_t lines, size_t chunk) {
        uint64_t size = strlen(s), end = size, count = 0, off = UINT64_MAX;

        /* Backwards in chunks, as telerun does over OpenOutput. */
        while (end > 0) {
                uint64_t len = MIN((uint64_t) chunk, end), start = end - len;

                if (tail_scan((const uint8_t *) s + start, (size_t) len, start, size, lines, &count, &off))
                        return off;
                end = start;
        }
        return 0;
}

static void test_tail(void) {
        for (size_t chunk = 1; chunk <= 8; chunk++) {
                g_assert_cmpuint(tail_of("a\nb\nc\n", 1, chunk), ==, 4);
                g_assert_cmpuint(tail_of("a\nb\nc\n", 2, chunk), ==, 2);
                g_assert_cmpuint(tail_of("a\nb\nc\n", 3, chunk), ==, 0);
                g_assert_cmpuint(tail_of("a\nb\nc\n", 10, chunk), ==, 0);
                g_assert_cmpuint(tail_of("a\nb\nc", 1, chunk), ==, 4);
                g_assert_cmpuint(tail_of("a\nb\nc", 2, chunk), ==, 2);
                g_assert_cmpuint(tail_of("\n\n\n", 1, chunk), ==, 2);
                g_assert_cmpuint(tail_of("\n\n\n", 2, chunk), ==, 1);
                g_assert_cmpuint(tail_of("no newline", 1, chunk), ==, 0);
                g_assert_cmpuint(tail_of("", 1, chunk), ==, 0);
        }
}

static void fill_pattern(uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (i * 7 + i / 251);
}

/* Writes all of data to fd from a child process, then exits. */
static pid_t spawn_writer(int fd, const uint8_t *data, size_t n) {
        pid_t pid = fork();

        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                _exit(loop_write(fd, data, n) < 0 ? 1 : 0);
        }
        return pid;
}

static void check_file_contents(int fd, const uint8_t *data, size_t n) {
        _cleanup_(freep) uint8_t *back = malloc(n + 1);
        int64_t k;

        g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
        k = read_full(fd, back, n + 1);
        g_assert_cmpint(k, ==, (int64_t) n);
        g_assert_true(memcmp(back, data, n) == 0);
}

static void test_copy_pipe_to_file(void) {
        const size_t n = 8 * 1024 * 1024 + 13;
        _cleanup_(freep) uint8_t *data = malloc(n);
        _cleanup_(closep) int out = -EBADF;
        int p[2], status;
        uint64_t copied = 0;
        pid_t pid;

        fill_pattern(data, n);
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        out = open(g_get_tmp_dir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        g_assert_cmpint(out, >=, 0);

        pid = spawn_writer(p[1], data, n);
        close(p[1]);
        g_assert_cmpint(copy_stream(p[0], out, -EBADF, &copied), ==, 0);
        close(p[0]);
        g_assert_cmpuint(copied, ==, n);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        check_file_contents(out, data, n);
}

static void test_copy_file_to_pipe(void) {
        const size_t n = 3 * 1024 * 1024 + 1;
        _cleanup_(freep) uint8_t *data = malloc(n), *back = malloc(n);
        _cleanup_(closep) int in = -EBADF;
        int p[2], status;
        pid_t pid;

        fill_pattern(data, n);
        in = open(g_get_tmp_dir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        g_assert_cmpint(in, >=, 0);
        g_assert_cmpint(loop_write(in, data, n), ==, 0);
        g_assert_cmpint(lseek(in, 1000, SEEK_SET), ==, 1000);   /* the worker hands out a positioned fd */
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);

        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                close(p[0]);
                _exit(copy_stream(in, p[1], -EBADF, NULL) < 0 ? 1 : 0);
        }
        close(p[1]);
        g_assert_cmpint(read_full(p[0], back, n), ==, (int64_t) (n - 1000));
        close(p[0]);
        g_assert_true(memcmp(back, data + 1000, n - 1000) == 0);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_copy_append_fallback(void) {
        /* O_APPEND files take neither splice nor sendfile: the read/write path. */
        const size_t n = 2 * 1024 * 1024 + 5;
        _cleanup_(freep) uint8_t *data = malloc(n);
        _cleanup_(closep) int out = -EBADF;
        char path[] = "/tmp/test-telerun-XXXXXX";
        int p[2], status;
        pid_t pid;

        fill_pattern(data, n);
        out = mkostemp(path, O_APPEND | O_CLOEXEC);
        g_assert_cmpint(out, >=, 0);
        unlink(path);
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        pid = spawn_writer(p[1], data, n);
        close(p[1]);
        g_assert_cmpint(copy_stream(p[0], out, -EBADF, NULL), ==, 0);
        close(p[0]);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        check_file_contents(out, data, n);
}

static void test_copy_interrupt(void) {
        _cleanup_(closep) int efd = eventfd(0, EFD_CLOEXEC), out = -EBADF;
        uint64_t one = 1, copied = 0;
        int p[2];

        g_assert_cmpint(efd, >=, 0);
        out = open("/dev/null", O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(write(p[1], "abc", 3), ==, 3);
        g_assert_cmpint(write(efd, &one, sizeof(one)), ==, sizeof(one));

        /* The writer is still open, the pipe drained: waiting would be forever, the interrupt ends it. */
        g_assert_cmpint(copy_stream(p[0], out, efd, &copied), ==, -EINTR);
        g_assert_cmpuint(copied, ==, 3);
        close(p[0]);
        close(p[1]);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        /* parse_argv() reads the named remotes: not the ones of whoever runs the tests */
        g_setenv("XDG_CONFIG_HOME", "/nonexistent/test-telerun-args", true);
        g_unsetenv("TELERUN_REMOTE");
        initial_isolation[0] = arg_private_pid;
        initial_isolation[1] = arg_private_tmp;
        initial_isolation[2] = arg_private_network;
        initial_isolation[3] = arg_protect_system;
        g_test_add_func("/telerun/parse/isolation", test_parse_isolation);
        setenv("TZ", "UTC", 1);
        tzset();
        unsetenv("TELERUN_ADDR");
        unsetenv("TELERUN_CERT");
        unsetenv("TELERUN_KEY");
        unsetenv("TELERUN_CACERT");
        unsetenv("COLUMNS");

        g_test_add_func("/telerun/parse/run", test_parse_run);
        g_test_add_func("/telerun/parse/read-verbs", test_parse_read_verbs);
        g_test_add_func("/telerun/parse/streams", test_parse_streams);
        g_test_add_func("/telerun/parse/lifecycle", test_parse_lifecycle);
        g_test_add_func("/telerun/parse/done", test_parse_done);
        g_test_add_func("/telerun/parse/attach", test_parse_attach);
        g_test_add_func("/telerun/parse/errors", test_parse_errors);
        g_test_add_func("/telerun/parse/remote", test_parse_remote);
        g_test_add_func("/telerun/parse/reconnect", test_parse_reconnect);
        g_test_add_func("/telerun/follow/resume", test_follow_resume);
        g_test_add_func("/telerun/follow/gives-up", test_follow_gives_up);
        g_test_add_func("/telerun/exit-codes", test_exit_codes);
        g_test_add_func("/telerun/client-error", test_client_error);
        g_test_add_func("/telerun/remote-incomplete", test_remote_incomplete);
        g_test_add_func("/telerun/format/shell-quote", test_shell_quote);
        g_test_add_func("/telerun/format/command-line", test_command_line);
        g_test_add_func("/telerun/format/times", test_times);
        g_test_add_func("/telerun/format/status", test_status_block);
        g_test_add_func("/telerun/format/table", test_table);
        g_test_add_func("/telerun/format/exit-status", test_exit_status);
        g_test_add_func("/telerun/tail-scan", test_tail);
        g_test_add_func("/telerun/copy/pipe-to-file", test_copy_pipe_to_file);
        g_test_add_func("/telerun/copy/file-to-pipe", test_copy_file_to_pipe);
        g_test_add_func("/telerun/copy/append-fallback", test_copy_append_fallback);
        g_test_add_func("/telerun/copy/interrupt", test_copy_interrupt);

        int r = g_test_run();
        telerun_args_reset();
        return r;
}
