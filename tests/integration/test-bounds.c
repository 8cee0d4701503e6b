/* SPDX-License-Identifier: MIT */
/* test-bounds - no caller takes the service away from the others (issue 13, items 1, 2, 9): against the real
 * teleworkerd, systemd and system bus in the testbed.
 *
 *   - 40 jobs with ~1 MiB of argv each: List is refused (LimitsExceeded) instead of a 40 MiB reply that
 *     makes dbus-daemon drop the daemon; ListPage, telerun list (as the owner and as an administrator) and
 *     the gateway's GET /v1/jobs (telerun --addr) list them all; the daemon keeps its name and its process,
 *     and another user still starts jobs;
 *   - a Start with 300,000 arguments is refused at once while another client's GetJob keeps answering
 *     (p99 under 100 ms; the figures are printed);
 *   - the daemon's bus connection shut down under it: it exits non-zero, systemd restarts it, and its
 *     running job is adopted with its output whole;
 *   - RuntimeMaxUSec=UINT64_MAX means no limit (not a kill after 18 ms); a repeated option and a 200 KiB
 *     argument are InvalidArgs.
 * Runs inside the testbed as root, with teleworkerd running (run-inside.sh). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
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
#define GW_UNIT "teleworker-gateway-bounds.service"
#define GW_PORT 18445
#define BIG_JOBS 40
#define BIG_ARGS 8
#define BIG_ARG_SIZE 120000 /* 8 x 120,000: ~1 MiB of argv per job, under the 128 KiB per-argument bound */

static sd_bus *root_bus;
static char *build_dir;
static const char *daemon_unit;

/* ---- helpers ------------------------------------------------------------------------------------------ */

static char *start_with_argv(sd_bus *bus, const char *const *argv, sd_bus_error *e) {
        char *id = NULL;

        return tb_start(bus, argv, NULL, &id, e) < 0 ? NULL : id;
}

/* A job that sleeps, with BIG_ARGS arguments of BIG_ARG_SIZE bytes that sh ignores ($0, $1, ...). */
static char *start_big_job(sd_bus *bus, char fill) {
        g_autofree char *arg = g_malloc(BIG_ARG_SIZE + 1);
        const char *argv[4 + BIG_ARGS + 1] = { "/bin/sh", "-c", "exec sleep 600", "sh" };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *id;

        memset(arg, fill, BIG_ARG_SIZE);
        arg[BIG_ARG_SIZE] = 0;
        for (int i = 0; i < BIG_ARGS; i++)
                argv[4 + i] = arg;
        id = start_with_argv(bus, argv, &e);
        if (!id)
                g_error("starting a job with big arguments: %s %s", e.name, e.message);
        return id;
}

static bool daemon_owns_name(void) {
        int has = 0;
        sd_bus_message *reply = NULL;

        if (sd_bus_call_method(root_bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", DEST) < 0)
                return false;
        g_assert_cmpint(sd_bus_message_read(reply, "b", &has), >=, 0);
        sd_bus_message_unref(reply);
        return has;
}

static unsigned n_restarts(void) {
        g_autofree char *s = tb_unit_property(daemon_unit, "NRestarts");
        return (unsigned) g_ascii_strtoull(s, NULL, 10);
}

/* The ids of a ListPage walk, and how many pages it took. */
static GPtrArray *list_pages(sd_bus *bus, unsigned *ret_pages) {
        GPtrArray *ids = NULL;
        g_autofree char *cursor = g_strdup("");
        unsigned pages = 0;

        ids = g_ptr_array_new_with_free_func(g_free);
        do {
                sd_bus_message *reply = NULL;
                sd_bus_error e = SD_BUS_ERROR_NULL;
                const char *next;
                int r;

                r = sd_bus_call_method(bus, DEST, PATH, IFACE, "ListPage", &e, &reply, "su", cursor, (uint32_t) 0);
                if (r < 0)
                        g_error("ListPage: %s %s", e.name, e.message);
                g_assert_cmpint(sd_bus_message_enter_container(reply, 'a', "a{sv}"), >=, 0);
                while ((r = sd_bus_message_enter_container(reply, 'a', "{sv}")) > 0) {
                        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                                const char *key, *id;

                                g_assert_cmpint(sd_bus_message_read(reply, "s", &key), >=, 0);
                                if (g_str_equal(key, "Id")) {
                                        g_assert_cmpint(sd_bus_message_read(reply, "v", "s", &id), >=, 0);
                                        g_ptr_array_add(ids, g_strdup(id));
                                } else
                                        g_assert_cmpint(sd_bus_message_skip(reply, "v"), >=, 0);
                                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                        }
                        g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                }
                g_assert_cmpint(r, >=, 0);
                g_assert_cmpint(sd_bus_message_exit_container(reply), >=, 0);
                g_assert_cmpint(sd_bus_message_read(reply, "s", &next), >=, 0);
                g_free(cursor);
                cursor = g_strdup(next);
                sd_bus_message_unref(reply);
                pages++;
        } while (*cursor);
        *ret_pages = pages;
        return ids;
}

static unsigned count_ids(json_object *array, char **ids, size_t n) {
        unsigned found = 0;

        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < json_object_array_length(array); k++) {
                        json_object *job = json_object_array_get_idx(array, k), *v;

                        if (json_object_object_get_ex(job, "id", &v) && g_str_equal(json_object_get_string(v), ids[i])) {
                                found++;
                                break;
                        }
                }
        return found;
}

static void child_as_uid(gpointer data) {
        uid_t uid = GPOINTER_TO_UINT(data);

        if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                _exit(125);
}

/* telerun ARGS... --json as uid (0: root), its stdout parsed as a JSON array. */
static json_object *telerun_json(uid_t uid, const char *const *args) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL, *err = NULL;
        json_object *o;
        int status = 0;

        g_ptr_array_add(argv, (char *) TELERUN_PATH);
        for (const char *const *a = args; *a; a++)
                g_ptr_array_add(argv, (char *) *a);
        g_ptr_array_add(argv, NULL);
        g_spawn_sync("/", (char **) argv->pdata, NULL, 0, uid ? child_as_uid : NULL, GUINT_TO_POINTER(uid), &out,
                     &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("telerun failed: %s", err);
        o = json_tokener_parse(out);
        g_assert_nonnull(o);
        g_assert_true(json_object_is_type(o, json_type_array));
        return o;
}

/* ---- the List attack (item 1) ------------------------------------------------------------------------- */

static void test_list_attack(void) {
        sd_bus *user1 = tb_bus_as(TB_UID_USER1), *user2 = tb_bus_as(TB_UID_USER2);
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) listed = NULL;
        pid_t pid_before = tb_unit_main_pid(daemon_unit);
        unsigned restarts_before = n_restarts(), pages = 0, found = 0;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        g_autofree char *crt = test_cert_path("admin1.crt"), *key = test_cert_path("admin1.key"),
                        *ca = test_cert_path("ca.crt"), *addr = g_strdup_printf("127.0.0.1:%d", GW_PORT);
        TbGateway gateway = {};
        json_object *o;
        gint64 t0;
        int r;

        for (int i = 0; i < BIG_JOBS; i++)
                g_ptr_array_add(ids, start_big_job(user1, (char) ('a' + i % 26)));
        g_test_message("%d jobs with %d bytes of argv each started", BIG_JOBS, BIG_ARGS * BIG_ARG_SIZE);

        /* List, as the owner and as root: refused with a clear error, never a reply the bus drops us for */
        for (int k = 0; k < 2; k++) {
                t0 = g_get_monotonic_time();
                r = sd_bus_call_method(k == 0 ? user1 : root_bus, DEST, PATH, IFACE, "List", &e, &reply, "");
                g_test_message("List as %s: %d %s (%s) in %" G_GINT64_FORMAT " ms", k == 0 ? "tbuser1" : "root", r,
                               e.name ?: "", e.message ?: "", (g_get_monotonic_time() - t0) / 1000);
                g_assert_cmpint(r, <, 0);
                g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_LIMITS_EXCEEDED);
                sd_bus_error_free(&e);
                g_assert_true(daemon_owns_name());
        }

        /* GetManagedObjects (ObjectManager): the same bound as List */
        for (int k = 0; k < 2; k++) {
                r = sd_bus_call_method(k == 0 ? user1 : root_bus, DEST, PATH, "org.freedesktop.DBus.ObjectManager",
                                       "GetManagedObjects", &e, &reply, "");
                g_test_message("GetManagedObjects as %s: %d %s", k == 0 ? "tbuser1" : "root", r, e.name ?: "");
                g_assert_cmpint(r, <, 0);
                g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_LIMITS_EXCEEDED);
                sd_bus_error_free(&e);
                g_assert_true(daemon_owns_name());
        }
        r = sd_bus_call_method(user2, DEST, PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &e,
                               &reply, "");
        g_test_message("GetManagedObjects as tbuser2: %d %s %s", r, e.name ?: "", e.message ?: "");
        g_assert_cmpint(r, >=, 0);
        sd_bus_message_unref(reply);
        reply = NULL;

        /* a caller whose own jobs are few still gets them from List, as busctl always did */
        r = sd_bus_call_method(user2, DEST, PATH, IFACE, "List", &e, &reply, "");
        g_assert_cmpint(r, >=, 0);
        sd_bus_message_unref(reply);
        reply = NULL;

        /* ListPage as the owner: every job exactly once, in pages that each fit */
        listed = list_pages(user1, &pages);
        g_test_message("ListPage as tbuser1: %u jobs in %u pages", listed->len, pages);
        for (guint i = 0; i < ids->len; i++)
                for (guint k = 0; k < listed->len; k++)
                        if (g_str_equal(ids->pdata[i], listed->pdata[k]))
                                found++;
        g_assert_cmpuint(found, ==, BIG_JOBS);
        g_assert_cmpuint(pages, >=, BIG_JOBS * BIG_ARGS * BIG_ARG_SIZE / (4 * 1024 * 1024));

        /* telerun list as the owner and as an administrator (local, D-Bus) */
        o = telerun_json(TB_UID_USER1, (const char *const[]) { "list", "-a", "--json", NULL });
        g_assert_cmpuint(count_ids(o, (char **) ids->pdata, ids->len), ==, BIG_JOBS);
        json_object_put(o);
        o = telerun_json(TB_UID_ADMIN, (const char *const[]) { "list", "-a", "--json", NULL });
        g_assert_cmpuint(count_ids(o, (char **) ids->pdata, ids->len), ==, BIG_JOBS);
        json_object_put(o);

        /* remote: GET /v1/jobs page by page through the gateway, as an administrator (telerun --addr) */
        (void) test_certs_dir();
        tb_gateway_start(&gateway, build_dir, GW_UNIT, GW_PORT, NULL, NULL);
        o = telerun_json(0, (const char *const[]) { "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca,
                                                    "list", "-a", "--json", NULL });
        g_assert_cmpuint(count_ids(o, (char **) ids->pdata, ids->len), ==, BIG_JOBS);
        json_object_put(o);
        {
                /* the same per-argument bound for a remote start: the daemon's InvalidArgs, a 400 */
                g_autoptr(GString) body = g_string_new("{\"argv\": [\"/bin/echo\", \"");
                SSL_CTX *ctx = test_tls_ctx("alice");
                TestClient c;
                TestResponse h;

                for (int i = 0; i < 200 * 1024; i++)
                        g_string_append_c(body, 'z');
                g_string_append(body, "\"]}");
                g_assert_cmpint(test_client_connect_ctx(&c, ctx, NULL, GW_PORT), ==, 0);
                g_assert_cmpint(test_client_call(&c, "POST", "/v1/jobs", body->str, &h, 30000), ==, 0);
                g_test_message("POST /v1/jobs with a 200 KiB argument: %u %s", h.status, h.body->str);
                g_assert_cmpuint(h.status, ==, 400);
                g_assert_nonnull(strstr(h.body->str, "invalid-argument"));
                test_response_done(&h);
                test_client_close_as(&c, TEST_CLOSE_NOTIFY);
                SSL_CTX_free(ctx);
        }
        tb_gateway_stop(&gateway);

        /* the daemon is the same process, still on the bus, and serves another user */
        g_assert_true(daemon_owns_name());
        g_assert_cmpint(tb_unit_main_pid(daemon_unit), ==, pid_before);
        g_assert_cmpuint(n_restarts(), ==, restarts_before);
        {
                const char *argv[] = { "/bin/true", NULL };
                g_autofree char *id = start_with_argv(user2, argv, &e);
                TbJob j;

                g_assert_nonnull(id);
                g_assert_cmpint(tb_wait(user2, id, &j, &e), >=, 0);
                g_assert_cmpstr(j.state, ==, "success");
                tb_job_clear(&j);
        }

        for (guint i = 0; i < ids->len; i++)
                g_assert_cmpint(tb_stop(root_bus, ids->pdata[i], &e), >=, 0);
        sd_bus_flush_close_unref(user1);
        sd_bus_flush_close_unref(user2);
}

/* ---- a huge argument array (item 2) ------------------------------------------------------------------- */

typedef struct Prober {
        const char *id;
        atomic_bool stop;
        GArray *latencies_us; /* gint64 */
} Prober;

/* GetJob on a fixed schedule, every PROBE_INTERVAL_US; each latency counts from the call's scheduled time,
 * not from when it could be sent: a call stuck for 16 s delays the ~3,000 scheduled after it, and they all
 * count (timing each call from its actual send would hide the stall behind one sample). */
#define PROBE_INTERVAL_US 5000
static gpointer prober_thread(gpointer data) {
        Prober *p = data;
        sd_bus *bus = tb_bus_as(TB_UID_USER2);
        gint64 scheduled = g_get_monotonic_time();

        while (!atomic_load(&p->stop)) {
                sd_bus_message *reply = NULL;
                sd_bus_error e = SD_BUS_ERROR_NULL;
                gint64 now = g_get_monotonic_time(), dt;

                if (now < scheduled)
                        g_usleep((gulong) (scheduled - now));
                if (sd_bus_call_method(bus, DEST, PATH, IFACE, "GetJob", &e, &reply, "s", p->id) < 0)
                        g_error("GetJob: %s", e.message);
                now = g_get_monotonic_time();
                /* every call that was due by now has waited until now */
                for (; scheduled <= now; scheduled += PROBE_INTERVAL_US) {
                        dt = now - scheduled;
                        g_array_append_val(p->latencies_us, dt);
                }
                sd_bus_message_unref(reply);
        }
        sd_bus_flush_close_unref(bus);
        return NULL;
}

static gint cmp_i64(gconstpointer a, gconstpointer b) {
        gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
        return x < y ? -1 : x > y;
}

static void test_huge_argv_does_not_stall(void) {
        sd_bus *user1 = tb_bus_as(TB_UID_USER1), *user2 = tb_bus_as(TB_UID_USER2);
        const char *sleeper[] = { "/bin/sleep", "60", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = start_with_argv(user2, sleeper, &e);
        Prober p = { .id = id, .latencies_us = g_array_new(false, false, sizeof(gint64)) };
        sd_bus_message *m = NULL, *reply = NULL;
        gint64 t0, start_us, p50, p99, max;
        GThread *thread;
        size_t n;
        int r;

        g_assert_nonnull(id);
        /* built before the prober starts: the client's own cost is not the daemon's */
        g_assert_cmpint(sd_bus_message_new_method_call(user1, &m, DEST, PATH, IFACE, "Start"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "s"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_basic(m, 's', "/bin/true"), >=, 0);
        for (int i = 1; i < 300000; i++)
                g_assert_cmpint(sd_bus_message_append_basic(m, 's', "x"), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "assa{sv}", 0, "", 0), >=, 0);

        thread = g_thread_new("prober", prober_thread, &p);
        g_usleep(500 * 1000);
        t0 = g_get_monotonic_time();
        r = sd_bus_call(user1, m, 120 * 1000 * 1000, &e, &reply);
        start_us = g_get_monotonic_time() - t0;
        g_usleep(1000 * 1000);
        atomic_store(&p.stop, true);
        g_thread_join(thread);

        g_assert_cmpint(r, <, 0);
        g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_INVALID_ARGS);
        g_test_message("Start with 300000 arguments: %s (%s) after %" G_GINT64_FORMAT " ms", e.name, e.message,
                       start_us / 1000);
        n = p.latencies_us->len;
        g_assert_cmpuint(n, >, 50);
        g_array_sort(p.latencies_us, cmp_i64);
        p50 = g_array_index(p.latencies_us, gint64, n / 2);
        p99 = g_array_index(p.latencies_us, gint64, (n * 99 + 99) / 100 - 1);
        max = g_array_index(p.latencies_us, gint64, n - 1);
        g_test_message("GetJob meanwhile: %zu scheduled calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms", n, p50 / 1000.0,
                       p99 / 1000.0, max / 1000.0);
        printf("# bounds: Start(300000 args) refused in %.1f ms; GetJob n=%zu p50=%.2f ms p99=%.2f ms max=%.2f ms\n",
               start_us / 1000.0, n, p50 / 1000.0, p99 / 1000.0, max / 1000.0);
        /* the old code stalled every other client for 19 s */
        g_assert_cmpint(p99, <, (gint64) tb_slowdown() * 100 * 1000);
        g_assert_cmpint(max, <, (gint64) tb_slowdown() * 1000 * 1000);

        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        g_array_unref(p.latencies_us);
        g_assert_cmpint(tb_stop(user2, id, &e), >=, 0);
        sd_bus_flush_close_unref(user1);
        sd_bus_flush_close_unref(user2);
}

/* ---- the daemon loses the bus (item 1) ---------------------------------------------------------------- */

/* Shuts down, under the daemon, every connection it has to the system bus: what dbus-daemon does to a client
 * it drops. The sockets are taken with pidfd_getfd(); shutdown() acts on the socket, not on our copy. */
static unsigned shut_down_bus_connections(pid_t pid) {
        g_autofree char *dir = g_strdup_printf("/proc/%d/fd", (int) pid);
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        unsigned n = 0;
        const char *name;

        g_assert_nonnull(d);
        g_assert_cmpint(pidfd, >=, 0);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *link = g_strdup_printf("%s/%s", dir, name), *target = g_file_read_link(link, NULL);
                struct sockaddr_un sa = {};
                socklen_t len = sizeof(sa);
                int fd;

                if (!target || !g_str_has_prefix(target, "socket:"))
                        continue;
                fd = (int) syscall(SYS_pidfd_getfd, pidfd, atoi(name), 0);
                if (fd < 0)
                        continue;
                if (getpeername(fd, (struct sockaddr *) &sa, &len) == 0 && sa.sun_family == AF_UNIX &&
                    g_str_has_suffix(sa.sun_path, "system_bus_socket")) {
                        g_assert_cmpint(shutdown(fd, SHUT_RDWR), ==, 0);
                        n++;
                }
                close(fd);
        }
        close(pidfd);
        return n;
}

static void test_bus_loss_restarts(void) {
        sd_bus *user1 = tb_bus_as(TB_UID_USER1);
        const char *argv[] = { "/bin/sh", "-c", "echo before; sleep 4; echo after", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = start_with_argv(user1, argv, &e);
        pid_t pid = tb_unit_main_pid(daemon_unit), now_pid = 0;
        unsigned restarts = n_restarts();
        g_autoptr(GByteArray) out = NULL;
        gint64 deadline;
        TbJob j;
        int fd = -1;

        g_assert_nonnull(id);
        g_assert_cmpuint(shut_down_bus_connections(pid), >=, 1);

        /* the daemon exits (non-zero: Restart=on-failure fires) and comes back with its name */
        deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
        while (g_get_monotonic_time() < deadline) {
                g_autofree char *state = tb_unit_property(daemon_unit, "ActiveState");

                now_pid = tb_unit_main_pid(daemon_unit);
                if (now_pid > 0 && now_pid != pid && g_str_equal(state, "active") && daemon_owns_name())
                        break;
                g_usleep(100 * 1000);
        }
        g_test_message("daemon pid %d -> %d, NRestarts %u -> %u", (int) pid, (int) now_pid, restarts, n_restarts());
        g_assert_cmpint(now_pid, !=, pid);
        g_assert_true(daemon_owns_name());
        g_assert_cmpuint(n_restarts(), ==, restarts + 1);

        /* the job was adopted: it ends normally, its output whole */
        g_assert_cmpint(tb_get(user1, id, &j, &e), >=, 0);
        g_assert_cmpstr(j.state, ==, "running");
        tb_job_clear(&j);
        g_assert_cmpint(tb_wait(user1, id, &j, &e), >=, 0);
        g_assert_cmpstr(j.state, ==, "success");
        tb_job_clear(&j);
        g_assert_cmpint(tb_open_output(user1, id, 0, false, &fd, &e), >=, 0);
        out = tb_read_all(fd);
        close(fd);
        g_assert_cmpmem(out->data, out->len, "before\nafter\n", 13);
        sd_bus_flush_close_unref(user1);
}

/* ---- bad input (item 9) ------------------------------------------------------------------------------- */

static void test_runtime_infinity(void) {
        sd_bus *user1 = tb_bus_as(TB_UID_USER1);
        const char *argv[] = { "/bin/sleep", "1", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;
        TbJob j;

        g_assert_cmpint(tb_start(user1, argv, (const char *const[]) { "RuntimeMaxUSec", "18446744073709551615", NULL },
                                 &id, &e), >=, 0);
        g_assert_cmpint(tb_wait(user1, id, &j, &e), >=, 0);
        g_test_message("RuntimeMaxUSec=UINT64_MAX: %s/%s after %" G_GUINT64_FORMAT " ms", j.state, j.reason,
                       (j.ended_at - j.started_at) / 1000);
        g_assert_cmpstr(j.state, ==, "success");
        g_assert_cmpstr(j.reason, ==, "exited");
        g_assert_cmpuint(j.ended_at - j.started_at, >=, 900 * 1000);
        tb_job_clear(&j);

        /* beyond the bound and not infinity: refused, not wrapped */
        g_assert_cmpint(tb_start(user1, argv, (const char *const[]) { "RuntimeMaxUSec", "18446744073709551614", NULL },
                                 NULL, &e), <, 0);
        g_assert_cmpstr(e.name, ==, "org.teleworker.worker1.Error.LimitExceeded");
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(user1);
}

static void test_duplicate_option(void) {
        sd_bus *user1 = tb_bus_as(TB_UID_USER1);
        const char *argv[] = { "/bin/true", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;

        g_assert_cmpint(tb_start(user1, argv, (const char *const[]) { "MemoryMax", "104857600", "MemoryMax", "209715200",
                                                                     NULL }, NULL, &e), <, 0);
        g_test_message("%s: %s", e.name, e.message);
        g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_INVALID_ARGS);
        g_assert_nonnull(strstr(e.message, "more than once"));
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(user1);
}

static void test_long_argument(void) {
        sd_bus *user1 = tb_bus_as(TB_UID_USER1);
        g_autofree char *big = g_malloc(200 * 1024 + 1);
        const char *argv[] = { "/bin/echo", big, NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;

        memset(big, 'z', 200 * 1024);
        big[200 * 1024] = 0;
        g_assert_cmpint(tb_start(user1, argv, NULL, NULL, &e), <, 0);
        g_test_message("%s: %s", e.name, e.message);
        g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_INVALID_ARGS);
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(user1);
}

int main(int argc, char **argv) {
        int r;

        g_test_init(&argc, &argv, NULL);
        root_bus = tb_bus_as(0);
        if (!tb_daemon_present(root_bus))
                return 77;
        build_dir = g_strdup(getenv("TELEWORKER_TEST_BUILD_DIR"));
        g_assert_nonnull(build_dir);
        daemon_unit = getenv("TELEWORKER_TEST_UNIT") ?: "teleworkerd.service";

        g_test_add_func("/bounds/duplicate-option", test_duplicate_option);
        g_test_add_func("/bounds/long-argument", test_long_argument);
        g_test_add_func("/bounds/runtime-infinity", test_runtime_infinity);
        g_test_add_func("/bounds/huge-argv-does-not-stall", test_huge_argv_does_not_stall);
        g_test_add_func("/bounds/list-attack", test_list_attack);
        g_test_add_func("/bounds/bus-loss-restarts", test_bus_loss_restarts);
        r = g_test_run();

        test_certs_cleanup();
        sd_bus_flush_close_unref(root_bus);
        g_free(build_dir);
        return r;
}
