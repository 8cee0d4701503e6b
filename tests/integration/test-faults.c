/* SPDX-License-Identifier: MIT */
/* test-faults - soak and faults against the real teleworkerd, teleworker-gateway and systemd of the testbed:
 * 200 concurrent TLS clients starting, following and stopping jobs; a flood of unfinished TLS handshakes;
 * clients that go away mid-stream (TLS and D-Bus); readers that never read; a service manager that does not
 * answer (PID 1 frozen). After each, the daemon and the gateways must still be the same processes and must
 * be back where they were: fds, transient scopes, processes, PID 1's fds; RSS within a documented slack.
 * Runs inside the testbed as root, with teleworkerd running (run-inside.sh); loopback only.
 *
 * Environment, for the long version: TELEWORKER_SOAK_SECONDS (default 20: the CI run), TELEWORKER_SOAK_CLIENTS
 * (default 200; 64 in a sanitized build) and TELEWORKER_SOAK_ROUNDS (default 2). No assertion is about speed:
 * every wait has a generous deadline that only guards against a hang. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>

#include "tb-client.h"
#include "tb-gateway.h"
#include "test-client.h"

#define DEST "org.teleworker.worker1"
#define PATH "/org/teleworker/worker1"
#define IFACE "org.teleworker.worker1.Manager"

#define SOAK_PORT 18451
#define FLOOD_PORT 18452
#define SOAK_MAX_CONNECTIONS "512"    /* 200 clients hold two connections each */
#define FLOOD_MAX_CONNECTIONS 64
#define IDLE_PORT 18453               /* a gateway with the default limits (256 connections, docs/http.md) */
#define IDLE_FLOOD 300                /* issue #13: 300 idle sockets from one address */
#define ANSWER_MAX_SEC 1.0            /* ... and a client with a valid certificate answered within 1 s (x tb_slowdown()) */
#define HANG_MS (120 * 1000)          /* hang guard of one HTTP exchange */
#define SETTLE_USEC (60 * G_USEC_PER_SEC)
#define NO_SUCH_JOB "/v1/jobs/00000000-0000-4000-8000-000000000000"

/* RSS slack. RSS is not a leak detector: glibc keeps freed memory in the heap, and each job the daemon retains
 * (ended jobs stay in its table, retention_sec/max_jobs) costs a little (about 4 KiB measured). The gateway's
 * heap in use stays at 0.7 MB after any number of 200-client rounds (malloc_stats() through gdb), while its
 * RSS, the heap it holds after a peak of 400 connections, moved by up to 10 MB between rounds (malloc_trim()
 * brings it back to 10 MB each time). The bounds still catch what a real leak would cost: a buffer per
 * connection or per request, output held for a reader that does not read. LeakSanitizer at the exit of the
 * sanitized gateway and daemon (ns-integration-asan) is the leak detector. */
#define DAEMON_RSS_SLACK_KB (8 * 1024)
#define DAEMON_RSS_PER_JOB_KB 16
#define GATEWAY_RSS_SLACK_KB (32 * 1024)

/* The sanitized build (ns-integration-asan) runs the sanitized daemon and gateway: ASan's quarantine and shadow
 * memory make RSS meaningless there (LeakSanitizer checks instead), and its gateway makes about a tenth of the
 * TLS handshakes per second, so 64 clients: still 128 connections, two bus connections of the gateway. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED true
#define SOAK_CLIENTS_DEFAULT 64
#else
#define SANITIZED false
#define SOAK_CLIENTS_DEFAULT 200
#endif

typedef enum GatewayIndex {
        GW_SOAK,
        GW_FLOOD,
        GW_IDLE,
        _GW_MAX,
} GatewayIndex;

static sd_bus *root_bus;
static char *build_dir, *daemon_unit, *self_cgroup;
static pid_t daemon_pid;
static TbGateway gateways[_GW_MAX];
static SSL_CTX *ctx_alice, *ctx_bob, *ctx_admin, *ctx_tbuser1;
static GString *summary;

/* ---- what the processes hold ---------------------------------------------------------------------------- */

typedef struct Snapshot {
        unsigned daemon_fds, jobs;
        uint64_t daemon_rss_kb;
        unsigned gw_fds[_GW_MAX];
        uint64_t gw_rss_kb[_GW_MAX];
        unsigned scopes;
        unsigned procs;           /* in the testbed, except this test's own unit */
        unsigned procs_scoped;    /* in teleworker-*.scope units */
        unsigned procs_daemon;    /* in the daemon's unit: the daemon, and reapers not yet in their scope */
        unsigned pid1_fds;        /* the manager's fds, the daemon's fd store among them */
} Snapshot;

static unsigned count_fds(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int) pid);
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        unsigned n = 0;

        g_assert_nonnull(d);
        while (g_dir_read_name(d))
                n++;
        return n;
}

static uint64_t rss_kb(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int) pid), *text = NULL;
        const char *p;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        p = strstr(text, "\nVmRSS:");
        g_assert_nonnull(p);
        return g_ascii_strtoull(p + 7, NULL, 10);
}

/* The cgroup v2 path (the "0::" line) of a process; NULL if it is gone. */
static char *proc_cgroup(const char *pid) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cgroup", pid), *text = NULL;
        const char *p;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return NULL;
        p = g_str_has_prefix(text, "0::") ? text : strstr(text, "\n0::");
        if (!p)
                return NULL;
        p += *p == '\n' ? 4 : 3;
        return g_strndup(p, strcspn(p, "\n"));
}

/* Kernel threads (the VM's kworkers come and go on their own) are not ours to count: PF_KTHREAD in the
 * flags field of /proc/PID/stat. A process that is gone counts as not one. */
static bool kernel_thread(const char *pid) {
        g_autofree char *path = g_strdup_printf("/proc/%s/stat", pid), *text = NULL;
        unsigned long flags;
        const char *p;

        if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strrchr(text, ')')))
                return false;
        /* ") state ppid pgrp session tty_nr tpgid flags" */
        return sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 && (flags & 0x00200000UL);
}

static void count_processes(Snapshot *s) {
        g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
        g_autofree char *daemon_suffix = g_strdup_printf("/%s", daemon_unit);
        const char *name;

        g_assert_nonnull(d);
        s->procs = s->procs_scoped = s->procs_daemon = 0;
        while ((name = g_dir_read_name(d))) {
                g_autofree char *cg = NULL;

                if (!g_ascii_isdigit(name[0]))
                        continue;
                cg = proc_cgroup(name);
                /* gone, ours, or outside the testbed's cgroup namespace (the host side of "testbed.sh run") */
                if (!cg || g_str_has_prefix(cg, "/..") || g_str_equal(cg, self_cgroup) ||
                    (g_str_has_prefix(cg, self_cgroup) && cg[strlen(self_cgroup)] == '/') || kernel_thread(name))
                        continue;
                s->procs++;
                if (strstr(cg, "/teleworker-") && g_str_has_suffix(cg, ".scope"))
                        s->procs_scoped++;
                if (g_str_has_suffix(cg, daemon_suffix))
                        s->procs_daemon++;
        }
}

static unsigned count_jobs(void) {
        g_autoptr(GPtrArray) ids = NULL;

        g_assert_cmpint(tb_list(root_bus, &ids, NULL), ==, 0);
        return ids->len;
}

/* The daemon and the gateways are the processes they were at the start: nothing crashed and restarted. */
static void assert_same_processes(void) {
        g_autofree char *restarts = tb_unit_property(daemon_unit, "NRestarts");

        g_assert_cmpint(tb_unit_main_pid(daemon_unit), ==, daemon_pid);
        g_assert_cmpstr(restarts, ==, "0");
        for (unsigned i = 0; i < _GW_MAX; i++)
                g_assert_cmpint(tb_unit_main_pid(gateways[i].unit), ==, gateways[i].pid);
}

static void snapshot_take(Snapshot *s) {
        *s = (Snapshot) {
                .jobs = count_jobs(),
                .daemon_fds = count_fds(daemon_pid),
                .daemon_rss_kb = rss_kb(daemon_pid),
                .scopes = tb_count_scopes(),
                .pid1_fds = count_fds(1),
        };
        for (unsigned i = 0; i < _GW_MAX; i++) {
                s->gw_fds[i] = count_fds(gateways[i].pid);
                s->gw_rss_kb[i] = rss_kb(gateways[i].pid);
        }
        count_processes(s);
}

/* Each ended job the daemon retains keeps two fds: its spool file (output_store_read() reads it) and its
 * stream index (which stream each run came from, for readers of one stream or of frames). */
static int64_t daemon_fds_net(const Snapshot *s) {
        return (int64_t) s->daemon_fds - 2 * (int64_t) s->jobs;
}

static bool snapshot_settled(const Snapshot *b, const Snapshot *a);

/* A baseline: what is left of the previous steps (a reaper leaving its ended job's scope, a scope being
 * collected) has settled when two snapshots in a row agree. */
static void snapshot_baseline(Snapshot *s) {
        gint64 deadline = g_get_monotonic_time() + SETTLE_USEC;
        Snapshot prev;

        snapshot_take(&prev);
        for (;;) {
                g_usleep(200 * 1000);
                snapshot_take(s);
                if ((snapshot_settled(&prev, s) && prev.jobs == s->jobs) || g_get_monotonic_time() > deadline)
                        break;
                prev = *s;
        }
}

static bool snapshot_settled(const Snapshot *b, const Snapshot *a) {
        for (unsigned i = 0; i < _GW_MAX; i++)
                if (a->gw_fds[i] != b->gw_fds[i])
                        return false;
        return daemon_fds_net(a) == daemon_fds_net(b) && a->scopes == b->scopes && a->procs == b->procs &&
               a->procs_scoped == b->procs_scoped && a->procs_daemon == b->procs_daemon && a->pid1_fds == b->pid1_fds;
}

static void snapshot_report(const char *what, const Snapshot *b, const Snapshot *a, double seconds) {
        g_autofree char *line = g_strdup_printf(
                "%s (%.1f s): daemon fds %u -> %u with jobs %u -> %u, RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                " KiB; gateway fds %u -> %u (soak), %u -> %u (flood), RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                ", %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB; scopes %u -> %u; processes %u -> %u (in scopes "
                "%u -> %u, in the daemon's unit %u -> %u); PID 1 fds %u -> %u",
                what, seconds, b->daemon_fds, a->daemon_fds, b->jobs, a->jobs, b->daemon_rss_kb, a->daemon_rss_kb,
                b->gw_fds[GW_SOAK], a->gw_fds[GW_SOAK], b->gw_fds[GW_FLOOD], a->gw_fds[GW_FLOOD],
                b->gw_rss_kb[GW_SOAK], a->gw_rss_kb[GW_SOAK], b->gw_rss_kb[GW_FLOOD], a->gw_rss_kb[GW_FLOOD],
                b->scopes, a->scopes, b->procs, a->procs, b->procs_scoped, a->procs_scoped, b->procs_daemon,
                a->procs_daemon, b->pid1_fds, a->pid1_fds);

        g_test_message("%s", line);
        g_string_append_printf(summary, "%s\n", line);
}

/* Waits (a hang guard, not a speed limit) until everything is back at b, then asserts it is; RSS too unless
 * b is from before the allocators' first peak. */
static void snapshot_settle_full(const char *what, const Snapshot *b, gint64 t0, bool check_rss, Snapshot *ret) {
        gint64 deadline = g_get_monotonic_time() + SETTLE_USEC;
        Snapshot a;

        assert_same_processes();
        for (;;) {
                snapshot_take(&a);
                if (snapshot_settled(b, &a) || g_get_monotonic_time() > deadline)
                        break;
                g_usleep(200 * 1000);
        }
        snapshot_report(what, b, &a, (double) (g_get_monotonic_time() - t0) / G_USEC_PER_SEC);

        g_assert_cmpint(daemon_fds_net(&a), ==, daemon_fds_net(b));
        for (unsigned i = 0; i < _GW_MAX; i++)
                g_assert_cmpuint(a.gw_fds[i], ==, b->gw_fds[i]);
        g_assert_cmpuint(a.scopes, ==, b->scopes);
        g_assert_cmpuint(a.procs_scoped, ==, b->procs_scoped);
        g_assert_cmpuint(a.procs_daemon, ==, b->procs_daemon);
        g_assert_cmpuint(a.procs, ==, b->procs);
        g_assert_cmpuint(a.pid1_fds, ==, b->pid1_fds);
        if (ret)
                *ret = a;
        if (!check_rss || SANITIZED)
                return;
        g_assert_cmpuint(a.daemon_rss_kb, <=,
                         b->daemon_rss_kb + DAEMON_RSS_SLACK_KB +
                                 DAEMON_RSS_PER_JOB_KB * (uint64_t) MAX((int) a.jobs - (int) b->jobs, 0));
        for (unsigned i = 0; i < _GW_MAX; i++)
                g_assert_cmpuint(a.gw_rss_kb[i], <=, b->gw_rss_kb[i] + GATEWAY_RSS_SLACK_KB);
}

static void snapshot_settle(const char *what, const Snapshot *b, gint64 t0) {
        snapshot_settle_full(what, b, t0, true, NULL);
}

/* ---- small helpers -------------------------------------------------------------------------------------- */

static char *seq_text(unsigned n) {
        GString *s = g_string_sized_new((gsize) n * 8);

        for (unsigned i = 1; i <= n; i++)
                g_string_append_printf(s, "%u\n", i);
        return g_string_free(s, FALSE);
}

static uint64_t job_output_size(const char *id, char **ret_state) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t size;
        TbJob j;

        g_assert_cmpint(tb_get(root_bus, id, &j, &e), ==, 0);
        size = j.output_size;
        if (ret_state)
                *ret_state = g_strdup(j.state);
        tb_job_clear(&j);
        return size;
}

static void wait_output_size(const char *id, uint64_t size) {
        gint64 deadline = g_get_monotonic_time() + SETTLE_USEC;

        while (job_output_size(id, NULL) < size && g_get_monotonic_time() < deadline)
                g_usleep(50 * 1000);
        g_assert_cmpuint(job_output_size(id, NULL), ==, size);
}

/* POST /v1/jobs as the principal of ctx; the new job's id. */
static char *https_start(SSL_CTX *ctx, const char *body) {
        TestClient c;
        TestResponse h;
        char *id;

        g_assert_cmpint(test_client_connect_ctx(&c, ctx, NULL, SOAK_PORT), ==, 0);
        g_assert_cmpint(test_client_call(&c, "POST", "/v1/jobs", body, &h, HANG_MS), ==, 0);
        if (h.status != 201)
                g_error("POST /v1/jobs: %u %s", h.status, h.body->str);
        id = test_response_json_string(&h, "id");
        g_assert_nonnull(id);
        test_response_done(&h);
        test_client_close_as(&c, TEST_CLOSE_NOTIFY);
        return id;
}

static void https_stop(SSL_CTX *ctx, const char *id) {
        g_autofree char *target = g_strdup_printf("/v1/jobs/%s/stop", id), *state = NULL;
        TestClient c;
        TestResponse h;

        g_assert_cmpint(test_client_connect_ctx(&c, ctx, NULL, SOAK_PORT), ==, 0);
        g_assert_cmpint(test_client_call(&c, "POST", target, NULL, &h, HANG_MS), ==, 0);
        g_assert_cmpuint(h.status, ==, 200);
        state = test_response_json_string(&h, "state");
        g_assert_cmpstr(state, ==, "killed");
        test_response_done(&h);
        test_client_close_as(&c, TEST_CLOSE_NOTIFY);
}

/* A follow request on a connection of its own, nothing read yet. */
static void https_follow(TestClient *c, SSL_CTX *ctx, uint16_t port, const char *id, uint64_t offset) {
        g_autofree char *target = g_strdup_printf("/v1/jobs/%s/output?follow=true&offset=%" G_GUINT64_FORMAT, id,
                                                  offset);

        g_assert_cmpint(test_client_connect_ctx(c, ctx, NULL, port), ==, 0);
        g_assert_cmpint(test_client_send(c, "GET", target, NULL), ==, 0);
}

/* One request on a fresh connection to the flood gateway: 404 no-such-job, through the daemon. <0 when the
 * gateway did not let the connection in. */
static int good_client(uint16_t port) {
        g_autofree char *code = NULL;
        TestClient c;
        TestResponse h;
        int r;

        r = test_client_connect_ctx(&c, ctx_bob, NULL, port);
        if (r < 0)
                return r;
        r = test_client_call(&c, "GET", NO_SUCH_JOB, NULL, &h, HANG_MS);
        if (r == 0) {
                code = test_response_json_string(&h, "error");
                g_assert_cmpuint(h.status, ==, 404);
                g_assert_cmpstr(code, ==, "no-such-job");
        }
        test_response_done(&h);
        test_client_close_as(&c, TEST_CLOSE_NOTIFY);
        return r;
}

static int fd_read_some(int fd, GByteArray *into, size_t want) {
        uint8_t buf[65536];

        while (want > 0) {
                ssize_t n = read(fd, buf, MIN(sizeof(buf), want));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                g_byte_array_append(into, buf, (guint) n);
                want -= (size_t) n;
        }
        return 0;
}

/* ---- 200 concurrent TLS clients --------------------------------------------------------------------------- */

typedef struct SoakClient {
        unsigned index;
        SSL_CTX *ctx;
        gint64 deadline;
        unsigned cycles, handshake_retries;
        GString *error;
        GPtrArray *leftover;      /* jobs a failed cycle left running */
} SoakClient;

/* A request on a new connection (left open in *t), and its response up to until_suffix (NULL: complete).
 *
 * In TLS 1.3 the client's handshake ends before the server has judged its certificate: when the gateway is so
 * busy that it does not finish a handshake within its deadline (10 s; it happens with the sanitized gateway
 * and 400 connections at once), the client learns it only when the connection closes without a response. The
 * request was never seen then, so it is sent again on a new connection (at most 3 times, counted). */
static int soak_exchange(SoakClient *c, TestClient *t, const char *method, const char *target, const char *body,
                         const char *until_suffix, TestResponse *h) {
        int r = -EIO;

        for (unsigned attempt = 0; attempt < 3; attempt++) {
                if (attempt > 0) {
                        c->handshake_retries++;
                        test_client_close_as(t, TEST_CLOSE_ABRUPT);
                        test_response_done(h);
                        g_usleep(200 * 1000);
                }
                test_response_init(h);
                r = test_client_connect_ctx(t, c->ctx, NULL, SOAK_PORT);
                if (r < 0)
                        continue;
                r = test_client_send(t, method, target, body);
                if (r == 0)
                        r = test_client_read(t, h, until_suffix, 0, HANG_MS);
                if (r != -EIO || h->status != 0)
                        return r;
        }
        return r;
}

#define SOAK_FAIL(c, ...)                                                                \
        ({                                                                               \
                g_string_append_printf((c)->error, "client %u cycle %u: ", (c)->index,  \
                                       (c)->cycles);                                     \
                g_string_append_printf((c)->error, __VA_ARGS__);                         \
                -1;                                                                      \
        })

/* Start a job that prints a known text and then waits, follow it live, stop it while following, and check
 * that the stop answers "killed" and the stream ends complete with exactly the text. */
static int soak_cycle(SoakClient *c) {
        unsigned n = 100 + (c->index * 37 + c->cycles * 101) % 3000;
        g_autofree char *body = NULL, *text = NULL, *expected = NULL, *id = NULL, *target = NULL, *state = NULL;
        TestClient a = { .fd = -EBADF }, b = { .fd = -EBADF };
        TestResponse h = {}, f = {};
        int r = 0;

        text = seq_text(n);
        expected = g_strconcat(text, "ready\n", NULL);
        body = g_strdup_printf("{\"argv\": [\"/bin/sh\", \"-c\", \"seq 1 %u; echo ready; exec sleep 600\"], "
                               "\"timeout_sec\": 900}", n);

        if (soak_exchange(c, &a, "POST", "/v1/jobs", body, NULL, &h) < 0 || h.status != 201) {
                r = SOAK_FAIL(c, "start: %u %s\n", h.status, h.body ? h.body->str : "");
                goto done;
        }
        id = test_response_json_string(&h, "id");
        state = test_response_json_string(&h, "state");
        if (!id || g_strcmp0(state, "running") != 0) {
                r = SOAK_FAIL(c, "start: %s\n", h.body->str);
                goto done;
        }
        g_clear_pointer(&state, g_free);
        test_response_done(&h);

        target = g_strdup_printf("/v1/jobs/%s/output?follow=true", id);
        if (soak_exchange(c, &b, "GET", target, NULL, "ready\n", &f) < 0 || f.status != 200 || f.complete) {
                r = SOAK_FAIL(c, "follow: %u, %zu bytes%s\n", f.status, f.body ? f.body->len : 0,
                              f.complete ? ", complete" : "");
                goto done;
        }

        /* On the start's connection (keep-alive), unless the gateway closed it meanwhile. */
        g_free(target);
        target = g_strdup_printf("/v1/jobs/%s/stop", id);
        r = test_client_call(&a, "POST", target, NULL, &h, HANG_MS);
        if (r == -EIO && h.status == 0) {
                test_client_close_as(&a, TEST_CLOSE_ABRUPT);
                test_response_done(&h);
                r = soak_exchange(c, &a, "POST", target, NULL, NULL, &h);
        }
        if (r < 0 || h.status != 200) {
                r = SOAK_FAIL(c, "stop: %u %s\n", h.status, h.body ? h.body->str : "");
                goto done;
        }
        state = test_response_json_string(&h, "state");
        if (g_strcmp0(state, "killed") != 0) {
                r = SOAK_FAIL(c, "stop: %s\n", h.body->str);
                goto done;
        }
        g_clear_pointer(&id, g_free);   /* stopped: not left over */

        if (test_client_read(&b, &f, NULL, 0, HANG_MS) < 0 || !f.complete || !g_str_equal(f.body->str, expected)) {
                r = SOAK_FAIL(c, "follow after stop: %s, %zu bytes, expected %zu\n",
                              f.complete ? "complete" : "cut", f.body->len, strlen(expected));
                goto done;
        }
done:
        if (id)
                g_ptr_array_add(c->leftover, g_steal_pointer(&id));
        test_response_done(&h);
        test_response_done(&f);
        /* Every way a client can leave. */
        if (a.ssl)
                test_client_close_as(&a, (TestClose) (c->index % 3));
        if (b.ssl)
                test_client_close_as(&b, (TestClose) ((c->index + c->cycles) % 3));
        return r;
}

static gpointer soak_thread(gpointer data) {
        SoakClient *c = data;

        /* Clients come within the first second, not all in the same millisecond. */
        g_usleep((c->index * 4999) % G_USEC_PER_SEC);
        do {
                if (soak_cycle(c) < 0)
                        break;
                c->cycles++;
        } while (g_get_monotonic_time() < c->deadline);
        return NULL;
}

static unsigned env_unsigned(const char *name, unsigned def) {
        const char *v = g_getenv(name);

        return v && *v ? (unsigned) g_ascii_strtoull(v, NULL, 10) : def;
}

/* n_clients for `seconds`; every client must complete at least one cycle and none may fail. */
static void soak_round(const char *what, unsigned n_clients, unsigned seconds) {
        SSL_CTX *ctxs[] = { ctx_alice, ctx_bob, ctx_admin, ctx_tbuser1 };
        g_autofree SoakClient *clients = g_new0(SoakClient, n_clients);
        g_autofree GThread **threads = g_new0(GThread *, n_clients);
        unsigned cycles = 0, retries = 0, min_cycles = G_MAXUINT, failed = 0;
        gint64 t0 = g_get_monotonic_time();

        for (unsigned i = 0; i < n_clients; i++) {
                clients[i] = (SoakClient) {
                        .index = i,
                        .ctx = ctxs[i % G_N_ELEMENTS(ctxs)],
                        .deadline = t0 + (gint64) seconds * G_USEC_PER_SEC,
                        .error = g_string_new(""),
                        .leftover = g_ptr_array_new_with_free_func(g_free),
                };
                threads[i] = g_thread_new("soak", soak_thread, &clients[i]);
        }
        for (unsigned i = 0; i < n_clients; i++) {
                SoakClient *c = &clients[i];

                g_thread_join(threads[i]);
                cycles += c->cycles;
                retries += c->handshake_retries;
                min_cycles = MIN(min_cycles, c->cycles);
                if (c->error->len > 0 && failed++ < 10)
                        g_test_message("%s", c->error->str);
                for (guint k = 0; k < c->leftover->len; k++)
                        (void) tb_stop(root_bus, c->leftover->pdata[k], NULL);
                g_ptr_array_unref(c->leftover);
                g_string_free(c->error, TRUE);
        }
        {
                double elapsed = (double) (g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
                g_autofree char *line = g_strdup_printf(
                        "%s: %u TLS clients for %u s (%.1f s with the last cycles): %u start/follow/stop cycles "
                        "(%.1f/s), at least %u per client, %u failed clients, %u requests sent again (handshake not finished in time)", what, n_clients,
                        seconds, elapsed, cycles, cycles / elapsed, min_cycles, failed, retries);

                g_test_message("%s", line);
                g_string_append_printf(summary, "%s\n", line);
        }
        g_assert_cmpuint(failed, ==, 0);
        g_assert_cmpuint(min_cycles, >=, 1);
}

static void test_soak(void) {
        unsigned n_clients = env_unsigned("TELEWORKER_SOAK_CLIENTS", SOAK_CLIENTS_DEFAULT);
        unsigned seconds = env_unsigned("TELEWORKER_SOAK_SECONDS", 20);
        unsigned rounds = MAX(env_unsigned("TELEWORKER_SOAK_ROUNDS", 2), 2);
        gint64 t0 = g_get_monotonic_time();
        Snapshot before, warm;

        g_assert_cmpuint(n_clients, >, 0);
        /* In rounds: the first takes the allocators to their peak (freed memory stays in the heap: RSS after a
         * burst of 400 connections is not a leak), the last must not grow RSS past the slack. fds, scopes and
         * processes must be back at the start after each. */
        snapshot_baseline(&before);
        warm = before;
        for (unsigned i = 0; i < rounds; i++) {
                g_autofree char *what = g_strdup_printf("soak, round %u", i + 1);
                Snapshot prev = warm;

                t0 = g_get_monotonic_time();
                soak_round(what, n_clients, MAX(seconds / rounds, 1));
                snapshot_settle_full(what, &prev, t0, i == rounds - 1, &warm);
        }
        g_assert_cmpint(daemon_fds_net(&warm), ==, daemon_fds_net(&before));
}

/* ---- unfinished handshakes ------------------------------------------------------------------------------ */

typedef enum BadKind {
        BAD_SILENT,         /* connects, sends nothing */
        BAD_HALF_HELLO,     /* half of a real ClientHello, then nothing */
        BAD_GARBAGE,        /* not TLS at all */
} BadKind;

typedef struct BadConnection {
        int fd;
        BadKind kind;
        bool closed;        /* the gateway closed it (EOF or reset) */
} BadConnection;

/* source: one of the loopback net's addresses (the flood gateway's per-address limits count each apart). */
static void bad_open(GArray *bad, BadKind kind, const GByteArray *hello, const char *source) {
        BadConnection b = { .fd = test_tcp_connect_from(source, FLOOD_PORT), .kind = kind };

        g_assert_cmpint(b.fd, >=, 0);
        if (kind == BAD_HALF_HELLO)
                g_assert_cmpint(write(b.fd, hello->data, hello->len / 2), ==, (ssize_t) (hello->len / 2));
        else if (kind == BAD_GARBAGE)
                g_assert_cmpint(write(b.fd, "GET / HTTP/1.1\r\n\r\n", 18), ==, 18);
        g_array_append_val(bad, b);
}

/* How many the gateway has closed. Whatever it sent before (an alert) is read and dropped. */
static unsigned bad_count_closed(GArray *bad) {
        unsigned n = 0;

        for (guint i = 0; i < bad->len; i++) {
                BadConnection *b = &g_array_index(bad, BadConnection, i);
                char buf[4096];

                while (!b->closed) {
                        ssize_t k = recv(b->fd, buf, sizeof(buf), MSG_DONTWAIT);

                        if (k > 0)
                                continue;
                        if (k == 0 || errno == ECONNRESET || errno == EPIPE)
                                b->closed = true;
                        break;
                }
                n += b->closed;
        }
        return n;
}

static const char *flood_source(unsigned i) {
        static const char *const sources[] = { "127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13",
                                               "127.0.0.14", "127.0.0.15", "127.0.0.16", "127.0.0.17" };

        return sources[i % G_N_ELEMENTS(sources)];
}

/* A good client's request on a fresh connection (good_client()), timed from connect() to the whole response;
 * fails the test if it is not served. */
static double good_client_timed(uint16_t port) {
        gint64 t0 = g_get_monotonic_time();

        g_assert_cmpint(good_client(port), ==, 0);
        return (double) (g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
}

static void test_handshake_flood(void) {
        const unsigned cap = FLOOD_MAX_CONNECTIONS, first = 40, second = 40, garbage = 8;
        g_autoptr(GArray) bad = g_array_new(FALSE, FALSE, sizeof(BadConnection));
        g_autoptr(GByteArray) hello = test_tls_client_hello(ctx_alice);
        gint64 t0 = g_get_monotonic_time(), deadline, flooded;
        unsigned max_fds = 0, gw_fds, held_after;
        double served_max = 0, served_full;
        Snapshot before;

        snapshot_baseline(&before);

        /* Below the cap, from 8 addresses (under the per-address limits): the gateway holds them, good clients
         * are served. */
        for (unsigned i = 0; i < first; i++)
                bad_open(bad, i % 2 ? BAD_SILENT : BAD_HALF_HELLO, hello, flood_source(i));
        for (unsigned i = 0; i < garbage; i++)
                bad_open(bad, BAD_GARBAGE, hello, flood_source(i));
        deadline = g_get_monotonic_time() + SETTLE_USEC;
        while ((gw_fds = count_fds(gateways[GW_FLOOD].pid)) < before.gw_fds[GW_FLOOD] + first &&
               g_get_monotonic_time() < deadline)
                g_usleep(5 * 1000);
        g_assert_cmpuint(gw_fds, >=, before.gw_fds[GW_FLOOD] + first);
        for (unsigned i = 0; i < 10; i++)
                served_max = MAX(served_max, good_client_timed(FLOOD_PORT));

        /* Past the cap: the gateway never holds more than its cap; the oldest unfinished handshakes give way,
         * so a good client is served at once, on its first attempt. */
        for (unsigned i = 0; i < second; i++) {
                bad_open(bad, i % 2 ? BAD_SILENT : BAD_HALF_HELLO, hello, flood_source(i));
                max_fds = MAX(max_fds, count_fds(gateways[GW_FLOOD].pid));
        }
        flooded = g_get_monotonic_time();
        served_full = good_client_timed(FLOOD_PORT);
        max_fds = MAX(max_fds, count_fds(gateways[GW_FLOOD].pid));
        /* the cap, plus one connection accepted and being closed */
        g_assert_cmpuint(max_fds, <=, before.gw_fds[GW_FLOOD] + cap + 1);

        /* Under pressure (over half the cap) the handshake deadline is short: 3 s after the flood at most half
         * the cap is left (the rest then has the normal deadline again). */
        g_usleep((gulong) MAX(0, flooded + 3 * G_USEC_PER_SEC - g_get_monotonic_time()));
        held_after = count_fds(gateways[GW_FLOOD].pid) - before.gw_fds[GW_FLOOD];

        /* Every bad connection was closed by the gateway, none by us. */
        deadline = g_get_monotonic_time() + SETTLE_USEC;
        while (bad_count_closed(bad) < bad->len && g_get_monotonic_time() < deadline)
                g_usleep(100 * 1000);
        {
                g_autofree char *line = g_strdup_printf(
                        "handshake flood: %u silent/half-ClientHello + %u garbage connections from 8 addresses against "
                        "a cap of %u: at most %u gateway fds (%u idle), %u held 3 s after, %u of %u closed by the "
                        "gateway; good clients served in at most %.3f s below the cap, %.3f s past it",
                        first + second, garbage, cap, max_fds, before.gw_fds[GW_FLOOD], held_after,
                        bad_count_closed(bad), bad->len, served_max, served_full);

                g_test_message("%s", line);
                g_string_append_printf(summary, "%s\n", line);
        }
        g_assert_cmpfloat(served_max, <, ANSWER_MAX_SEC * tb_slowdown());
        g_assert_cmpfloat(served_full, <, ANSWER_MAX_SEC * tb_slowdown());
        g_assert_cmpuint(held_after, <=, cap / 2);
        g_assert_cmpuint(bad_count_closed(bad), ==, bad->len);
        for (guint i = 0; i < bad->len; i++)
                close(g_array_index(bad, BadConnection, i).fd);
        g_assert_cmpint(good_client(FLOOD_PORT), ==, 0);
        snapshot_settle("handshake flood", &before, t0);
}

/* ---- lock-out floods against the default limits ----------------------------------------------------------- */

/* GET /v1/jobs as ctx's principal from source, timed from connect() to the whole response (issue #13: under
 * 1 s during a flood). The HTTP status, 0 if the gateway did not let the connection in. */
static unsigned list_timed(SSL_CTX *ctx, const char *source, double *ret_sec) {
        gint64 t0 = g_get_monotonic_time();
        unsigned status = 0;
        TestClient c;
        TestResponse h;

        if (test_client_connect_ctx(&c, ctx, source, IDLE_PORT) == 0) {
                if (test_client_call(&c, "GET", "/v1/jobs", NULL, &h, HANG_MS) == 0)
                        status = h.status;
                test_response_done(&h);
                test_client_close_as(&c, TEST_CLOSE_NOTIFY);
        }
        *ret_sec = (double) (g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
        return status;
}

static void report(const char *line) {
        g_test_message("%s", line);
        g_string_append_printf(summary, "%s\n", line);
}

/* 300 TCP connections from one address that never start TLS; a client with a valid certificate from
 * another address, and from the same one, is answered within 1 s. */
static void test_idle_flood(void) {
        static const struct {
                const char *flood, *client;
        } cases[] = { { "127.0.0.2", "127.0.0.1" }, { "127.0.0.3", "127.0.0.3" } };
        gint64 t0 = g_get_monotonic_time();
        Snapshot before;

        snapshot_baseline(&before);
        for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
                g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
                g_autofree char *line = NULL;
                unsigned status, held;
                double sec;

                for (unsigned i = 0; i < IDLE_FLOOD; i++) {
                        int fd = test_tcp_connect_from(cases[k].flood, IDLE_PORT);

                        g_assert_cmpint(fd, >=, 0);
                        g_array_append_val(fds, fd);
                }
                /* At once, while the flood's sockets are open (and queued for accept before this one). */
                status = list_timed(ctx_bob, cases[k].client, &sec);
                held = count_fds(gateways[GW_IDLE].pid) - before.gw_fds[GW_IDLE];
                line = g_strdup_printf("idle flood: %u idle TCP connections from %s; GET /v1/jobs from %s answered %u "
                                       "in %.3f s; the gateway holds %u connections", IDLE_FLOOD, cases[k].flood,
                                       cases[k].client, status, sec, held);
                report(line);
                g_assert_cmpuint(status, ==, 200);
                g_assert_cmpfloat(sec, <, ANSWER_MAX_SEC * tb_slowdown());
                /* The per-address limit of unfinished handshakes (16 by default) holds the rest out. */
                g_assert_cmpuint(held, <=, 16 + 1);
                for (guint i = 0; i < fds->len; i++)
                        close(g_array_index(fds, int, i));
        }
        snapshot_settle("idle flood", &before, t0);
}

/* One certificate holder (alice) with 300 idle keep-alive connections from 5 addresses does not lock out
 * another (bob); alice's newest connection is served too (her longest idle ones gave way). */
static void test_principal_flood(void) {
        static const char *const sources[] = { "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8" };
        TestClient *conns = g_new0(TestClient, IDLE_FLOOD);
        g_autofree char *line = NULL;
        gint64 t0 = g_get_monotonic_time();
        unsigned status, status_alice, held, held_during, refused = 0;
        double sec, sec_alice;
        Snapshot before;

        snapshot_baseline(&before);
        for (unsigned i = 0; i < IDLE_FLOOD; i++)
                if (test_client_connect_ctx(&conns[i], ctx_alice, sources[i % G_N_ELEMENTS(sources)], IDLE_PORT) < 0)
                        refused++;
        /* Right away, while alice's connections are open. */
        status = list_timed(ctx_bob, "127.0.0.1", &sec);
        held_during = count_fds(gateways[GW_IDLE].pid) - before.gw_fds[GW_IDLE];
        /* A connection refused for its principal's limit has a moment to send the request that gets the 429;
         * after it, alice holds her limit. Her longest idle connection makes room for her newest. */
        g_usleep(1500 * 1000);
        held = count_fds(gateways[GW_IDLE].pid) - before.gw_fds[GW_IDLE];
        status_alice = list_timed(ctx_alice, "127.0.0.9", &sec_alice);
        line = g_strdup_printf("principal flood: alice opens %u idle keep-alive connections (%u refused) from 5 "
                               "addresses; bob's GET /v1/jobs answered %u in %.3f s; the gateway holds %u connections, "
                               "%u 1.5 s later; alice's newest answered %u in %.3f s", IDLE_FLOOD, refused, status,
                               sec, held_during, held, status_alice, sec_alice);
        report(line);
        g_assert_cmpuint(status, ==, 200);
        g_assert_cmpfloat(sec, <, ANSWER_MAX_SEC * tb_slowdown());
        g_assert_cmpuint(status_alice, ==, 200);
        /* The per-principal limit (32 by default). */
        g_assert_cmpuint(held, <=, 32 + 1);
        for (unsigned i = 0; i < IDLE_FLOOD; i++)
                if (conns[i].ssl)
                        test_client_close_as(&conns[i], TEST_CLOSE_ABRUPT);
        g_free(conns);
        snapshot_settle("principal flood", &before, t0);
}

/* ?wait=true holds a connection as long as the job runs: past the per-principal limit the next one is
 * answered 429 at once, and another principal is still served. */
static void test_wait_flood(void) {
        const unsigned n = 40, limit = 32;
        g_autofree char *id = NULL, *target = NULL, *line = NULL;
        TestClient *conns = g_new0(TestClient, n);
        bool answered[40] = {};
        unsigned too_many = 0, waited = 0, status;
        gint64 t0 = g_get_monotonic_time();
        Snapshot before;
        double sec;

        snapshot_baseline(&before);
        id = https_start(ctx_alice, "{\"argv\": [\"/bin/sleep\", \"600\"], \"timeout_sec\": 900}");
        target = g_strdup_printf("/v1/jobs/%s?wait=true", id);
        for (unsigned i = 0; i < n; i++) {
                g_assert_cmpint(test_client_connect_ctx(&conns[i], ctx_alice, "127.0.0.20", IDLE_PORT), ==, 0);
                g_assert_cmpint(test_client_send(&conns[i], "GET", target, NULL), ==, 0);
        }
        /* The refusals come at once; the others wait for the job. */
        g_usleep(G_USEC_PER_SEC);
        for (unsigned i = 0; i < n; i++) {
                TestResponse h;

                test_response_init(&h);
                if (test_client_read(&conns[i], &h, NULL, 0, 50) == 0) {
                        g_autofree char *code = test_response_json_string(&h, "error");

                        g_assert_cmpuint(h.status, ==, 429);
                        g_assert_cmpstr(code, ==, "too-many-connections");
                        answered[i] = true;
                        too_many++;
                }
                test_response_done(&h);
        }
        status = list_timed(ctx_bob, "127.0.0.1", &sec);
        https_stop(ctx_alice, id);
        for (unsigned i = 0; i < n; i++) {
                TestResponse h;

                if (answered[i])
                        continue;
                test_response_init(&h);
                if (test_client_read(&conns[i], &h, NULL, 0, HANG_MS) == 0 && h.status == 200)
                        waited++;
                test_response_done(&h);
        }
        line = g_strdup_printf("wait flood: %u GET ?wait=true of alice on one running job: %u waited until it "
                               "ended, %u answered 429 at once; bob's GET /v1/jobs answered %u in %.3f s", n, waited,
                               too_many, status, sec);
        report(line);
        g_assert_cmpuint(too_many, ==, n - limit);
        g_assert_cmpuint(waited, ==, limit);
        g_assert_cmpuint(status, ==, 200);
        g_assert_cmpfloat(sec, <, ANSWER_MAX_SEC * tb_slowdown());
        for (unsigned i = 0; i < n; i++)
                test_client_close_as(&conns[i], TEST_CLOSE_ABRUPT);
        g_free(conns);
        snapshot_settle("wait flood", &before, t0);
}

/* ---- a burst of calls to systemd -------------------------------------------------------------------------- */

/* 300 Starts at once, then 300 Stops at once, from 10 connections of root: each needs a call of the daemon to
 * systemd (StartTransientUnit, StopUnit) that dbus-daemon counts against the daemon's connection until
 * systemd answers, at most max_replies_per_connection (128) at a time. The daemon queues its calls beyond
 * its own bound (src/engine/sdcall.c): no call fails with "The maximum number of pending replies per
 * connection has been reached". */
#define BURST_JOBS 300U
/* In the VM testbed (emulated CPU, about 10x slower) a queued Start can outlast start_timeout_sec (20 s in the
 * testbed's policy) while it waits its turn (162 of 300 did): there 160 jobs are started in waves of 40, and
 * their 160 Stops, still more than 128 calls at once, go together. */
#define BURST_JOBS_VM 160U
#define BURST_WAVE_VM 40U
#define BURST_CONNECTIONS 10U

typedef struct Burst {
        unsigned answered, failed;
        GPtrArray *ids;
        GString *errors; /* the first few */
} Burst;

static int on_burst_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Burst *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *id;

        b->answered++;
        if (e) {
                if (b->failed++ < 5)
                        g_string_append_printf(b->errors, "%s: %s\n", e->name, e->message ?: "");
        } else if (b->ids && sd_bus_message_read(reply, "s", &id) > 0)
                g_ptr_array_add(b->ids, g_strdup(id));
        return 0;
}

static void burst_send(sd_bus *bus, Burst *b, const char *method, const char *id) {
        static const char *const argv[] = { "/bin/sleep", "600", NULL };
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, method), >=, 0);
        if (id)
                g_assert_cmpint(sd_bus_message_append(m, "s", id), >=, 0);
        else {
                g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
                g_assert_cmpint(sd_bus_message_append(m, "ass", 0, ""), >=, 0);
                tb_append_options(m, NULL);
        }
        g_assert_cmpint(sd_bus_call_async(bus, NULL, m, on_burst_reply, b, 300 * G_USEC_PER_SEC), >=, 0);
        sd_bus_message_unref(m);
}

static void burst_run(sd_event *e, Burst *b, unsigned n) {
        gint64 deadline = g_get_monotonic_time() + 300 * G_USEC_PER_SEC;

        while (b->answered < n) {
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_assert_cmpint(sd_event_run(e, G_USEC_PER_SEC), >=, 0);
        }
}

static void test_systemd_burst(void) {
        unsigned n_jobs = g_strcmp0(g_getenv("TB_INSIDE"), "vm") == 0 ? BURST_JOBS_VM : BURST_JOBS;
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GString) start_errors = g_string_new(""), stop_errors = g_string_new("");
        Burst start = { .ids = ids, .errors = start_errors }, stop = { .errors = stop_errors };
        sd_bus *buses[BURST_CONNECTIONS];
        g_autofree char *line = NULL;
        gint64 t0 = g_get_monotonic_time();
        double start_sec, stop_sec;
        sd_event *e = NULL;
        Snapshot before;

        snapshot_baseline(&before);
        g_assert_cmpint(sd_event_new(&e), >=, 0);
        for (unsigned i = 0; i < BURST_CONNECTIONS; i++) {
                buses[i] = tb_bus_as(0);
                g_assert_cmpint(sd_bus_attach_event(buses[i], e, 0), >=, 0);
        }
        /* In the VM the Starts go in waves of BURST_WAVE_VM: at its emulated speed the last of 160 queued Starts
         * would wait past start_timeout_sec. The Stops, the calls that failed without the queue, go at once. */
        for (unsigned done = 0, wave = tb_slowdown() > 1 ? BURST_WAVE_VM : n_jobs; done < n_jobs; done += wave) {
                unsigned k = MIN(wave, n_jobs - done);

                for (unsigned i = done; i < done + k; i++)
                        burst_send(buses[i % BURST_CONNECTIONS], &start, "Start", NULL);
                burst_run(e, &start, done + k);
        }
        start_sec = (double) (g_get_monotonic_time() - t0) / G_USEC_PER_SEC;

        for (unsigned i = 0; i < ids->len; i++)
                burst_send(buses[i % BURST_CONNECTIONS], &stop, "Stop", g_ptr_array_index(ids, i));
        burst_run(e, &stop, ids->len);
        stop_sec = (double) (g_get_monotonic_time() - t0) / G_USEC_PER_SEC - start_sec;

        line = g_strdup_printf("systemd burst: %u Starts from %u connections at once, %u failed, in %.1f s; "
                               "%u Stops, %u failed, in %.1f s", n_jobs, BURST_CONNECTIONS, start.failed,
                               start_sec, ids->len, stop.failed, stop_sec);
        report(line);
        if (start.failed || stop.failed)
                g_test_message("first errors:\n%s%s", start_errors->str, stop_errors->str);
        g_assert_cmpuint(start.failed, ==, 0);
        g_assert_cmpuint(stop.failed, ==, 0);
        g_assert_cmpuint(ids->len, ==, n_jobs);
        for (unsigned i = 0; i < BURST_CONNECTIONS; i++)
                sd_bus_flush_close_unref(buses[i]);
        sd_event_unref(e);
        snapshot_settle_full("systemd burst", &before, t0, false, NULL);
}

/* ---- clients that go away mid-stream ---------------------------------------------------------------------- */

static void bus_call_async(sd_bus *bus, const char *method, const char *types, ...) {
        sd_bus_message *m = NULL;
        va_list ap;

        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, method), >=, 0);
        va_start(ap, types);
        g_assert_cmpint(sd_bus_message_appendv(m, types, ap), >=, 0);
        va_end(ap);
        g_assert_cmpint(sd_bus_call_async(bus, NULL, m, NULL, NULL, 0), >=, 0);
        sd_bus_message_unref(m);
}

static void test_disconnect_mid_stream(void) {
        const unsigned n = 300000;
        g_autofree char *expected = seq_text(n), *id = NULL, *state = NULL, *last = g_strdup_printf("%u\n", n);
        size_t size = strlen(expected);
        gint64 t0 = g_get_monotonic_time();
        Snapshot before0, before;

        snapshot_baseline(&before0);
        id = https_start(ctx_alice, "{\"argv\": [\"/bin/sh\", \"-c\", \"seq 1 300000; exec sleep 600\"], "
                                    "\"timeout_sec\": 900}");
        wait_output_size(id, size);
        snapshot_baseline(&before);   /* the job runs, idle: its readers come and go */

        /* TLS followers, every way to leave. */
        for (unsigned round = 0; round < 5; round++) {
                g_autoptr(GString) pipelined = g_string_new("");
                TestClient c;
                TestResponse h;

                /* mid-stream, no close_notify (the kernel resets: unread data) */
                https_follow(&c, ctx_alice, SOAK_PORT, id, 0);
                test_response_init(&h);
                g_assert_cmpint(test_client_read(&c, &h, NULL, 65536, HANG_MS), ==, 0);
                test_client_close_as(&c, TEST_CLOSE_ABRUPT);
                test_response_done(&h);

                /* at the live end (the gateway waits for output), politely */
                https_follow(&c, ctx_admin, SOAK_PORT, id, 0);
                test_response_init(&h);
                g_assert_cmpint(test_client_read(&c, &h, last, 0, HANG_MS), ==, 0);
                g_assert_cmpmem(h.body->str, h.body->len, expected, size);
                test_client_close_as(&c, TEST_CLOSE_NOTIFY);
                test_response_done(&h);

                /* at the live end, reset */
                https_follow(&c, ctx_alice, SOAK_PORT, id, 0);
                test_response_init(&h);
                g_assert_cmpint(test_client_read(&c, &h, last, 0, HANG_MS), ==, 0);
                test_client_close_as(&c, TEST_CLOSE_RESET);
                test_response_done(&h);

                /* at the live end, gone without close_notify */
                https_follow(&c, ctx_alice, SOAK_PORT, id, 0);
                test_response_init(&h);
                g_assert_cmpint(test_client_read(&c, &h, last, 0, HANG_MS), ==, 0);
                test_client_close_as(&c, TEST_CLOSE_ABRUPT);
                test_response_done(&h);

                /* before any answer */
                https_follow(&c, ctx_alice, SOAK_PORT, id, 0);
                test_client_close_as(&c, round % 2 ? TEST_CLOSE_RESET : TEST_CLOSE_ABRUPT);

                /* from an offset, a little, then polite */
                https_follow(&c, ctx_alice, SOAK_PORT, id, 1000000);
                test_response_init(&h);
                g_assert_cmpint(test_client_read(&c, &h, NULL, 10000, HANG_MS), ==, 0);
                g_assert_cmpmem(h.body->str, 10000, expected + 1000000, 10000);
                test_client_close_as(&c, TEST_CLOSE_NOTIFY);
                test_response_done(&h);

                /* at the live end with more requests pipelined behind the stream (its input buffer full),
                 * then reset */
                https_follow(&c, ctx_alice, SOAK_PORT, id, 0);
                test_response_init(&h);
                g_assert_cmpint(test_client_read(&c, &h, last, 0, HANG_MS), ==, 0);
                while (pipelined->len < 20 * 1024)
                        g_string_append(pipelined, "GET " NO_SUCH_JOB " HTTP/1.1\r\nHost: localhost\r\n\r\n");
                g_assert_cmpint(test_client_write_timeout(&c, pipelined->str, pipelined->len, HANG_MS), ==, 0);
                test_client_close_as(&c, TEST_CLOSE_RESET);
                test_response_done(&h);
        }

        /* D-Bus readers. */
        for (unsigned round = 0; round < 5; round++) {
                g_autoptr(GByteArray) got = g_byte_array_new();
                sd_bus *bus;
                int fd;

                /* OpenOutput: mid-stream */
                g_assert_cmpint(tb_open_output(root_bus, id, 0, true, &fd, NULL), ==, 0);
                g_assert_cmpint(fd_read_some(fd, got, 65536), ==, 0);
                close(fd);

                /* OpenOutput: at the live end (a waiting reader) */
                g_byte_array_set_size(got, 0);
                g_assert_cmpint(tb_open_output(root_bus, id, 0, true, &fd, NULL), ==, 0);
                g_assert_cmpint(fd_read_some(fd, got, size), ==, 0);
                g_assert_cmpmem(got->data, got->len, expected, size);
                close(fd);

                /* a connection that asks for followers and output chunks, and goes before the answers */
                bus = tb_bus_as(0);
                for (unsigned i = 0; i < 10; i++)
                        bus_call_async(bus, "OpenOutput", "stb", id, (uint64_t) i * 1000, 1);
                for (unsigned i = 0; i < 20; i++)
                        bus_call_async(bus, "ReadOutput", "stt", id, (uint64_t) i * 100000, (uint64_t) 1 << 20);
                g_assert_cmpint(sd_bus_flush(bus), >=, 0);
                sd_bus_close(bus);
                sd_bus_unref(bus);

                /* a connection that goes while its reader keeps the fd, which then goes too */
                bus = tb_bus_as(0);
                g_assert_cmpint(tb_open_output(bus, id, 0, true, &fd, NULL), ==, 0);
                sd_bus_flush_close_unref(bus);
                g_byte_array_set_size(got, 0);
                g_assert_cmpint(fd_read_some(fd, got, 1000), ==, 0);
                g_assert_cmpmem(got->data, 1000, expected, 1000);
                close(fd);
        }

        /* The job never noticed; nothing of the readers is left while it keeps running. */
        g_assert_cmpuint(job_output_size(id, &state), ==, size);
        g_assert_cmpstr(state, ==, "running");
        snapshot_settle("disconnect mid-stream (job still running)", &before, t0);

        https_stop(ctx_alice, id);
        snapshot_settle("disconnect mid-stream (job stopped)", &before0, t0);
}

/* ---- readers that never read ------------------------------------------------------------------------------ */

typedef struct FullReader {
        int fd;               /* D-Bus reader, or */
        TestClient tls;            /* a TLS follower */
        const char *expected;
        size_t size;
        bool ok;
} FullReader;

static gpointer full_reader_thread(gpointer data) {
        FullReader *r = data;

        if (r->fd >= 0) {
                g_autoptr(GByteArray) got = tb_read_all(r->fd);

                r->ok = got->len == r->size && memcmp(got->data, r->expected, r->size) == 0;
        } else {
                TestResponse h;

                test_response_init(&h);
                r->ok = test_client_read(&r->tls, &h, NULL, 0, 5 * HANG_MS) == 0 && h.complete && h.status == 200 &&
                        h.body->len == r->size && memcmp(h.body->str, r->expected, r->size) == 0;
                test_response_done(&h);
        }
        return NULL;
}

static int wait_job(sd_bus *bus, const char *id, TbJob *ret) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        /* tb_wait() with a hang guard of two minutes instead of ten */
        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Wait"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", id), >=, 0);
        r = sd_bus_call(bus, m, 120 * G_USEC_PER_SEC, &e, &reply);
        sd_bus_message_unref(m);
        if (r < 0) {
                g_test_message("Wait: %s", e.message);
                sd_bus_error_free(&e);
                return r;
        }
        sd_bus_message_unref(reply);
        return tb_get(bus, id, ret, NULL);
}

static void test_never_read(void) {
        const unsigned n = 6000000, n_stuck = 4;
        const char *echo[] = { "/bin/echo", "not blocked", NULL };
        g_autofree char *expected = seq_text(n), *id = NULL;
        size_t size = strlen(expected);
        int stuck_fds[4];
        TestClient stuck_tls[4];
        FullReader readers[2];
        GThread *threads[2];
        g_autoptr(GByteArray) out = NULL;
        gint64 t0 = g_get_monotonic_time();
        sd_bus *waiter;
        Snapshot before;
        TbJob j;

        snapshot_baseline(&before);
        /* The sleep lets the readers attach first; if one comes late it reads from offset 0 all the same. */
        id = https_start(ctx_alice, "{\"argv\": [\"/bin/sh\", \"-c\", \"sleep 1; exec seq 1 6000000\"], "
                                    "\"timeout_sec\": 900}");
        for (unsigned i = 0; i < n_stuck; i++) {
                g_assert_cmpint(tb_open_output(root_bus, id, 0, true, &stuck_fds[i], NULL), ==, 0);
                https_follow(&stuck_tls[i], ctx_alice, SOAK_PORT, id, 0);
        }
        readers[0] = (FullReader) { .expected = expected, .size = size, .tls = { .fd = -EBADF } };
        g_assert_cmpint(tb_open_output(root_bus, id, 0, true, &readers[0].fd, NULL), ==, 0);
        readers[1] = (FullReader) { .fd = -EBADF, .expected = expected, .size = size };
        https_follow(&readers[1].tls, ctx_admin, SOAK_PORT, id, 0);
        for (unsigned i = 0; i < 2; i++)
                threads[i] = g_thread_new("reader", full_reader_thread, &readers[i]);

        /* The job ends although eight readers never read; the daemon and systemd go on with other work. */
        waiter = tb_bus_as(0);
        g_assert_cmpint(tb_run(root_bus, echo, &j, &out), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpmem(out->data, out->len, "not blocked\n", 12);
        tb_job_clear(&j);
        g_assert_cmpint(wait_job(waiter, id, &j), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpuint(j.output_size, ==, size);
        tb_job_clear(&j);
        sd_bus_flush_close_unref(waiter);
        for (unsigned i = 0; i < 2; i++) {
                g_thread_join(threads[i]);
                g_assert_true(readers[i].ok);
        }
        close(readers[0].fd);
        test_client_close_as(&readers[1].tls, TEST_CLOSE_NOTIFY);

        /* A reader that comes back resumes where it stopped and gets everything. */
        {
                g_autoptr(GByteArray) got = tb_read_all(stuck_fds[0]);
                FullReader late = { .fd = -EBADF, .tls = stuck_tls[0], .expected = expected, .size = size };

                g_assert_cmpmem(got->data, got->len, expected, size);
                (void) full_reader_thread(&late);
                g_assert_true(late.ok);
                stuck_tls[0] = late.tls;
        }
        for (unsigned i = 0; i < n_stuck; i++) {
                close(stuck_fds[i]);
                test_client_close_as(&stuck_tls[i], i % 2 ? TEST_CLOSE_RESET : TEST_CLOSE_ABRUPT);
        }
        snapshot_settle("never-reading readers", &before, t0);
}

/* ---- the service manager does not answer ------------------------------------------------------------------ */

/* PID 1 cannot be stopped with SIGSTOP from inside its own PID namespace (the kernel drops signals to a
 * namespace's init that it has no handler for, SIGSTOP always), so it is frozen with the cgroup v2 freezer of
 * its unit, init.scope: the same for the process, it does not run until thawed. */
static char *pid1_freeze_path(void) {
        g_autofree char *mountinfo = NULL, *cg = proc_cgroup("1"), *mnt = NULL;
        g_auto(GStrv) lines = NULL;

        g_assert_nonnull(cg);
        g_assert_true(g_file_get_contents("/proc/self/mountinfo", &mountinfo, NULL, NULL));
        lines = g_strsplit(mountinfo, "\n", -1);
        for (char **l = lines; *l && !mnt; l++) {
                g_auto(GStrv) f = g_strsplit(*l, " ", -1);
                guint nf = g_strv_length(f);

                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
                for (guint i = 6; i + 1 < nf; i++)
                        if (g_str_equal(f[i], "-") && g_str_equal(f[i + 1], "cgroup2"))
                                mnt = g_strdup(f[4]);
        }
        g_assert_nonnull(mnt);
        return g_strdup_printf("%s%s/cgroup.freeze", mnt, cg);
}

/* Waits while PID 1 is frozen are far shorter than the thaw guard's: a result must be seen while it is frozen. */
#define FROZEN_WAIT_USEC (20 * G_USEC_PER_SEC)
#define THAW_GUARD_MSEC (90 * 1000)

static void step(gint64 t0, const char *what) {
        g_test_message("%.1f s: %s", (double) (g_get_monotonic_time() - t0) / G_USEC_PER_SEC, what);
}

static bool pid1_frozen(const char *freeze) {
        g_autofree char *events_path = g_strdup(freeze), *text = NULL;

        strcpy(strrchr(events_path, '/'), "/cgroup.events");
        g_assert_true(g_file_get_contents(events_path, &text, NULL, NULL));
        return strstr(text, "frozen 1") != NULL;
}

static void pid1_set_frozen(const char *freeze, bool frozen) {
        gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        int fd;

        fd = open(freeze, O_WRONLY | O_CLOEXEC);   /* not g_file_set_contents(): no renames in cgroupfs */
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, frozen ? "1" : "0", 1), ==, 1);
        close(fd);
        while (pid1_frozen(freeze) != frozen && g_get_monotonic_time() < deadline)
                g_usleep(10 * 1000);
        g_assert_cmpint(pid1_frozen(freeze), ==, frozen);
}

/* Thaws PID 1 whatever happens to this process: a child that thaws it when our end of the pipe closes (an
 * assertion aborted us) or after THAW_GUARD_MSEC. */
static pid_t thaw_guard_start(const char *freeze, int *ret_fd) {
        int p[2];
        pid_t pid;

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                struct pollfd x = { .fd = p[0], .events = POLLIN };
                int fd;

                (void) setsid();
                close(p[1]);
                (void) poll(&x, 1, THAW_GUARD_MSEC);
                fd = open(freeze, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        (void) !write(fd, "0", 1);
                        close(fd);
                }
                _exit(0);
        }
        close(p[0]);
        *ret_fd = p[1];
        return pid;
}

static void thaw_guard_stop(pid_t pid, int fd) {
        close(fd);
        g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
}

static void reload_daemon(void) {
        const char *argv[] = { "systemctl", "kill", "--signal=SIGHUP", daemon_unit, NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                                   NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
}

static bool profile_known(const char *name) {
        const char *argv[] = { "/bin/true", NULL };
        const char *opts[] = { "Profile", name, NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        int r = tb_start(root_bus, argv, opts, &id, &e);

        sd_bus_error_free(&e);
        if (r >= 0) {
                TbJob j;

                g_assert_cmpint(tb_wait(root_bus, id, &j, NULL), ==, 0);
                tb_job_clear(&j);
        }
        return r >= 0;
}

/* Installs config text and waits until the daemon runs with it (a marker profile shows it). */
static void set_config(const char *path, const char *text, const char *marker, bool known) {
        gint64 deadline = g_get_monotonic_time() + SETTLE_USEC;

        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        reload_daemon();
        while (profile_known(marker) != known && g_get_monotonic_time() < deadline)
                g_usleep(50 * 1000);
        g_assert_cmpint(profile_known(marker), ==, known);
}

typedef struct AsyncReply {
        bool done;
        char *error_name, *error_message, *id;
} AsyncReply;

static int on_async_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        AsyncReply *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *id;

        r->done = true;
        if (e) {
                r->error_name = g_strdup(e->name);
                r->error_message = g_strdup(e->message);
        } else if (sd_bus_message_read(m, "s", &id) > 0)
                r->id = g_strdup(id);
        return 0;
}

static void async_reply_clear(AsyncReply *r) {
        g_free(r->error_name);
        g_free(r->error_message);
        g_free(r->id);
        *r = (AsyncReply) {};
}

static void bus_start_async(sd_bus *bus, const char *const *argv, AsyncReply *reply) {
        sd_bus_message *m = NULL;

        *reply = (AsyncReply) {};
        g_assert_cmpint(sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE, "Start"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_strv(m, (char **) argv), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "assa{sv}", 0, "", 0), >=, 0);
        g_assert_cmpint(sd_bus_call_async(bus, NULL, m, on_async_reply, reply, 120 * G_USEC_PER_SEC), >=, 0);
        sd_bus_message_unref(m);
}

/* Runs the bus until the reply is there or the deadline passes. */
static bool bus_wait_reply(sd_bus *bus, AsyncReply *reply, gint64 deadline) {
        while (!reply->done && g_get_monotonic_time() < deadline) {
                int r = sd_bus_process(bus, NULL);

                g_assert_cmpint(r, >=, 0);
                if (r == 0)
                        (void) sd_bus_wait(bus, 100 * 1000);
        }
        return reply->done;
}

/* Calls that must be answered while PID 1 does not run: nothing in them may wait for systemd. */
static void assert_daemon_answers_while_frozen(sd_bus *user_bus) {
        sd_bus_message *m = NULL;
        AsyncReply user = {}, root = {};
        gint64 deadline = g_get_monotonic_time() + FROZEN_WAIT_USEC;

        /* A local user: its admin-group membership is looked up (NSS), which must not ask systemd. ListPage:
         * a List of a big table (test-bounds leaves one) is refused. */
        g_assert_cmpint(sd_bus_message_new_method_call(user_bus, &m, DEST, PATH, IFACE, "ListPage"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "su", "", (uint32_t) 0), >=, 0);
        g_assert_cmpint(sd_bus_call_async(user_bus, NULL, m, on_async_reply, &user, 120 * G_USEC_PER_SEC), >=, 0);
        sd_bus_message_unref(m);
        g_assert_cmpint(sd_bus_message_new_method_call(root_bus, &m, DEST, PATH, IFACE, "ListPage"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "su", "", (uint32_t) 0), >=, 0);
        g_assert_cmpint(sd_bus_call_async(root_bus, NULL, m, on_async_reply, &root, 120 * G_USEC_PER_SEC), >=, 0);
        sd_bus_message_unref(m);
        g_assert_true(bus_wait_reply(user_bus, &user, deadline));
        g_assert_true(bus_wait_reply(root_bus, &root, deadline));
        g_assert_null(user.error_name);
        g_assert_null(root.error_name);
        async_reply_clear(&user);
        async_reply_clear(&root);
}

static void test_systemd_frozen(void) {
        const char *config = g_getenv("TELEWORKER_TEST_CONFIG");
        const char *after_argv[] = { "/bin/sh", "-c", "echo after the thaw", NULL };
        const char *never_argv[] = { "/bin/echo", "never", NULL };
        g_autofree char *freeze = NULL, *orig = NULL, *fast = NULL, *code = NULL, *comm = NULL;
        gint64 t0 = g_get_monotonic_time();
        AsyncReply reply;
        Snapshot before, frozen;
        sd_bus *user_bus;
        TestClient tls;
        TestResponse h;
        TbJob j;
        pid_t guard;
        int guard_fd;

        if (!g_getenv("TB_INSIDE")) {
                g_test_skip("not inside a testbed: PID 1 is not ours to freeze");
                return;
        }
        g_assert_true(g_file_get_contents("/proc/1/comm", &comm, NULL, NULL));
        g_assert_cmpstr(g_strstrip(comm), ==, "systemd");
        g_assert_nonnull(config);
        g_assert_true(g_file_get_contents(config, &orig, NULL, NULL));
        freeze = pid1_freeze_path();
        g_test_message("freezing PID 1 with %s", freeze);
        /* The bus checks a new connection's groups when it connects: connect before systemd stops. */
        user_bus = tb_bus_as(TB_UID_USER1);
        snapshot_baseline(&before);

        /* 1. A start while systemd does not run, thawed before the start timeout: it succeeds after the thaw. */
        guard = thaw_guard_start(freeze, &guard_fd);
        pid1_set_frozen(freeze, true);
        bus_start_async(root_bus, after_argv, &reply);
        assert_daemon_answers_while_frozen(user_bus);
        g_usleep(G_USEC_PER_SEC);   /* a slow manager, not a blink */
        assert_daemon_answers_while_frozen(user_bus);
        g_assert_false(reply.done);
        g_assert_true(pid1_frozen(freeze));
        pid1_set_frozen(freeze, false);
        thaw_guard_stop(guard, guard_fd);
        step(t0, "thawed");
        g_assert_true(bus_wait_reply(root_bus, &reply, g_get_monotonic_time() + SETTLE_USEC));
        if (reply.error_name)
                g_error("start after the thaw: %s: %s", reply.error_name, reply.error_message);
        g_assert_cmpint(tb_wait(root_bus, reply.id, &j, NULL), ==, 0);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpuint(j.output_size, ==, strlen("after the thaw\n"));
        tb_job_clear(&j);
        async_reply_clear(&reply);

        /* 2. A start timeout of 2 s, and systemd frozen past it: the start fails cleanly, over D-Bus and over
         * HTTPS, while systemd is still frozen; no job process is left outside a scope. */
        {
                g_autoptr(GRegex) timeout = g_regex_new("\"start_timeout_sec\": *[0-9]+", 0, 0, NULL);
                g_autofree char *t = g_regex_replace_literal(timeout, orig, -1, 0, "\"start_timeout_sec\": 2", 0, NULL);
                const char *q = strstr(t, "\"small\":");

                g_assert_nonnull(q);
                g_assert_null(strstr(orig, "\"start_timeout_sec\": 2,"));
                g_assert_nonnull(strstr(t, "\"start_timeout_sec\": 2,"));
                fast = g_strdup_printf("%.*s\"faults-marker\": { \"MemoryMax\": \"64M\" }, %s", (int) (q - t), t, q);
        }
        set_config(config, fast, "faults-marker", true);
        step(t0, "start timeout 2 s");
        snapshot_baseline(&before);   /* the marker checks ran jobs */
        guard = thaw_guard_start(freeze, &guard_fd);
        pid1_set_frozen(freeze, true);
        bus_start_async(root_bus, never_argv, &reply);
        g_assert_cmpint(test_client_connect_ctx(&tls, ctx_alice, NULL, SOAK_PORT), ==, 0);
        g_assert_cmpint(test_client_call(&tls, "POST", "/v1/jobs", "{\"argv\": [\"/bin/echo\", \"never\"]}", &h,
                                        HANG_MS), ==, 0);
        code = test_response_json_string(&h, "error");
        g_test_message("HTTPS start with systemd frozen: %u %s", h.status, h.body->str);
        g_assert_cmpuint(h.status, ==, 500);
        g_assert_cmpstr(code, ==, "start-failed");
        test_response_done(&h);
        test_client_close_as(&tls, TEST_CLOSE_NOTIFY);
        g_assert_true(bus_wait_reply(root_bus, &reply, g_get_monotonic_time() + FROZEN_WAIT_USEC));
        g_test_message("D-Bus start with systemd frozen: %s: %s", reply.error_name, reply.error_message);
        g_assert_cmpstr(reply.error_name, ==, "org.teleworker.worker1.Error.StartFailed");
        assert_daemon_answers_while_frozen(user_bus);
        {
                gint64 deadline = g_get_monotonic_time() + FROZEN_WAIT_USEC;

                /* The reapers, never released, have exited: only the daemon is in its unit. */
                for (;;) {
                        count_processes(&frozen);
                        if (frozen.procs_daemon == 1 || g_get_monotonic_time() > deadline)
                                break;
                        g_usleep(50 * 1000);
                }
                g_assert_cmpuint(frozen.procs_daemon, ==, 1);
                g_assert_cmpuint(frozen.procs_scoped, ==, before.procs_scoped);
        }
        g_assert_true(pid1_frozen(freeze));   /* all of that while systemd did not run */
        step(t0, "failed cleanly while frozen");
        pid1_set_frozen(freeze, false);
        thaw_guard_stop(guard, guard_fd);
        async_reply_clear(&reply);

        /* systemd now handles the StartTransientUnit calls it got while frozen, for reapers that are gone. */
        set_config(config, orig, "faults-marker", false);
        snapshot_settle("systemd frozen", &before, t0);
        sd_bus_flush_close_unref(user_bus);
}

/* ---- main ------------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
        const char *soak_props[] = { "LimitNOFILE=4096", NULL };
        /* 200 clients from one address with one certificate each of four: the limits per address and per
         * principal are the soak's cap. Its 400 connections are legitimate load above half the cap, and the
         * sanitized gateway takes seconds for a handshake then (see soak_exchange()): the normal deadline
         * under pressure too. The short one is /faults/handshake-flood's subject. */
        const char *soak_args[] = { "--max-connections=" SOAK_MAX_CONNECTIONS,
                                    "--max-connections-per-address=" SOAK_MAX_CONNECTIONS,
                                    "--max-handshakes-per-address=" SOAK_MAX_CONNECTIONS,
                                    "--max-connections-per-principal=" SOAK_MAX_CONNECTIONS,
                                    "--handshake-timeout-busy=10s", NULL };
        g_autofree char *flood_cap = g_strdup_printf("--max-connections=%u", FLOOD_MAX_CONNECTIONS);
        const char *flood_args[] = { flood_cap, NULL };
        struct rlimit rl;
        int r;

        g_test_init(&argc, &argv, NULL);
        signal(SIGPIPE, SIG_IGN);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;
        build_dir = g_strdup(getenv("TELEWORKER_TEST_BUILD_DIR"));
        g_assert_nonnull(build_dir);
        daemon_unit = g_strdup(g_getenv("TELEWORKER_TEST_UNIT") ?: "teleworkerd.service");
        daemon_pid = tb_unit_main_pid(daemon_unit);
        g_assert_cmpint(daemon_pid, >, 0);
        self_cgroup = proc_cgroup("self");
        g_assert_nonnull(self_cgroup);
        /* 200 clients with two connections each, and the flood */
        g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
        rl.rlim_cur = rl.rlim_max;
        g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &rl), ==, 0);
        summary = g_string_new("");

        (void) test_certs_dir();
        ctx_alice = test_tls_ctx("alice");
        ctx_bob = test_tls_ctx("bob");
        ctx_admin = test_tls_ctx("admin1");
        ctx_tbuser1 = test_tls_ctx("tbuser1");
        tb_gateway_start(&gateways[GW_SOAK], build_dir, "teleworker-gateway-soak.service", SOAK_PORT, soak_args,
                         soak_props);
        tb_gateway_start(&gateways[GW_FLOOD], build_dir, "teleworker-gateway-flood.service", FLOOD_PORT, flood_args,
                         NULL);
        tb_gateway_start(&gateways[GW_IDLE], build_dir, "teleworker-gateway-idle.service", IDLE_PORT, NULL, NULL);

        g_test_add_func("/faults/soak", test_soak);
        g_test_add_func("/faults/handshake-flood", test_handshake_flood);
        g_test_add_func("/faults/idle-flood", test_idle_flood);
        g_test_add_func("/faults/principal-flood", test_principal_flood);
        g_test_add_func("/faults/wait-flood", test_wait_flood);
        g_test_add_func("/faults/disconnect-mid-stream", test_disconnect_mid_stream);
        g_test_add_func("/faults/never-read", test_never_read);
        g_test_add_func("/faults/systemd-burst", test_systemd_burst);
        g_test_add_func("/faults/systemd-frozen", test_systemd_frozen);
        r = g_test_run();

        g_test_message("summary:\n%s", summary->str);
        assert_same_processes();
        for (unsigned i = 0; i < _GW_MAX; i++)
                tb_gateway_stop(&gateways[i]);
        SSL_CTX_free(ctx_alice);
        SSL_CTX_free(ctx_bob);
        SSL_CTX_free(ctx_admin);
        SSL_CTX_free(ctx_tbuser1);
        test_certs_cleanup();
        sd_bus_flush_close_unref(root_bus);
        g_string_free(summary, TRUE);
        g_free(self_cgroup);
        g_free(daemon_unit);
        g_free(build_dir);
        return r;
}
