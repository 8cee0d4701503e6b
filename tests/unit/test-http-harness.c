/* SPDX-License-Identifier: MIT */
/* test-http-harness.c - in-process gateway + mock daemon + blocking TLS/HTTP client for the gateway tests. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <http_parser.h>
#include <openssl/err.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "shared/macro.h"
#include "test-http-harness.h"

/* ---- the mock daemon --------------------------------------------------------------------------------- */

typedef struct OutputWriter {
        TestServer *server;
        sd_event_source *source;
        int fd;
        uint64_t pos, end;
        struct OutputWriter *next;
} OutputWriter;

static OutputWriter *writers;   /* server thread only */

static void writer_free(OutputWriter *w) {
        for (OutputWriter **p = &writers; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        sd_event_source_disable_unref(w->source);
        safe_close(w->fd);
        g_free(w);
}

static int on_writer(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        OutputWriter *w = userdata;
        char buf[65536];

        while (w->pos < w->end) {
                size_t n = MIN((uint64_t) sizeof(buf), w->end - w->pos);
                ssize_t k;

                for (size_t i = 0; i < n; i++)
                        buf[i] = mock_output_byte(w->pos + i);
                k = write(w->fd, buf, n);
                if (k < 0) {
                        if (errno == EAGAIN)
                                return 0;
                        writer_free(w);   /* reader gone */
                        return 0;
                }
                w->pos += (uint64_t) k;
        }
        writer_free(w);   /* closing the write end is the EOF */
        return 0;
}

static void mock_record(TestServer *s, sd_bus_message *m, const char *principal, int admin) {
        g_mutex_lock(&s->lock);
        g_strlcpy(s->record.method, sd_bus_message_get_member(m), sizeof(s->record.method));
        g_strlcpy(s->record.principal, principal, sizeof(s->record.principal));
        s->record.admin = admin;
        s->record.calls++;
        g_mutex_unlock(&s->lock);
}

static int mock_append_props(sd_bus_message *reply, const char *id, const char *owner, const char *state) {
        return sd_bus_message_append(reply, "a{sv}", 14,
                                     "Id", "s", id,
                                     "Owner", "s", owner,
                                     "User", "s", "teleworker-job",
                                     "Argv", "as", 2, "/bin/echo", "hello",
                                     "Executable", "s", "/bin/echo",
                                     "State", "s", state,
                                     "Reason", "s", streq(state, "running") ? "" : "exited",
                                     "ExitCode", "i", streq(state, "running") ? -1 : 0,
                                     "ExitSignal", "i", 0,
                                     "SubmittedAt", "t", UINT64_C(1700000000000000),
                                     "StartedAt", "t", UINT64_C(1700000000100000),
                                     "Unit", "s", "teleworker-x.scope",
                                     "OutputSize", "t", (uint64_t) MOCK_SMALL_SIZE,
                                     "MemoryMax", "t", UINT64_C(536870912));
}

static int mock_check_id(const char *id, sd_bus_error *error) {
        if (streq(id, MOCK_JOB_ID) || streq(id, MOCK_BIG_ID))
                return 0;
        if (streq(id, MOCK_DENIED_ID))
                return sd_bus_error_set(error, "org.freedesktop.DBus.Error.AccessDenied",
                                        "Job belongs to another principal.");
        return sd_bus_error_setf(error, "org.teleworker.worker1.Error.NoSuchJob", "No job %s.", id);
}

static int mock_get(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        TestServer *s = userdata;
        const char *principal, *id;
        int admin, r;

        r = sd_bus_message_read(m, "sbs", &principal, &admin, &id);
        if (r < 0)
                return r;
        mock_record(s, m, principal, admin);
        r = mock_check_id(id, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = mock_append_props(reply, id, principal,
                              streq(sd_bus_message_get_member(m), "WaitAs") ? "success" : "running");
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int mock_stop(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        TestServer *s = userdata;
        const char *principal, *id;
        int admin, r;

        r = sd_bus_message_read(m, "sbs", &principal, &admin, &id);
        if (r < 0)
                return r;
        mock_record(s, m, principal, admin);
        r = mock_check_id(id, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

/* ListPageAs: one job per page, so the gateway's and telerun's paging is exercised: "" -> the first job and
 * the cursor MOCK_CURSOR, MOCK_CURSOR -> the second job and "" (the end). */
static int mock_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        TestServer *s = userdata;
        const char *principal, *cursor;
        uint32_t max;
        int admin, r;
        bool second;

        r = sd_bus_message_read(m, "sbsu", &principal, &admin, &cursor, &max);
        if (r < 0)
                return r;
        mock_record(s, m, principal, admin);
        second = streq(cursor, MOCK_CURSOR);
        if (!second && *cursor)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Malformed cursor.");
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r < 0)
                return r;
        r = mock_append_props(reply, second ? MOCK_BIG_ID : MOCK_JOB_ID, principal, "running");
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "s", second ? "" : MOCK_CURSOR);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static char *mock_read_strv_joined(sd_bus_message *m) {
        _cleanup_(strv_freep) char **l = NULL;

        if (sd_bus_message_read_strv(m, &l) < 0)
                return NULL;
        return l ? g_strjoinv(" ", l) : g_strdup("");
}

static int mock_start(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        TestServer *s = userdata;
        g_autofree char *argv = NULL, *env = NULL;
        g_autoptr(GString) options = g_string_new("");
        const char *principal, *cwd;
        uint64_t memory = 0;
        int admin, r;

        r = sd_bus_message_read(m, "sb", &principal, &admin);
        if (r < 0)
                return r;
        argv = mock_read_strv_joined(m);
        env = mock_read_strv_joined(m);
        if (!argv || !env)
                return -EBADMSG;
        r = sd_bus_message_read(m, "s", &cwd);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                uint64_t v;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_read(m, "v", "t", &v);
                if (r < 0)
                        return r;
                g_string_append_printf(options, "%s=%" G_GUINT64_FORMAT " ", key, v);
                if (streq(key, "MemoryMax"))
                        memory = v;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        mock_record(s, m, principal, admin);
        g_mutex_lock(&s->lock);
        g_free(s->record.argv_joined);
        g_free(s->record.env_joined);
        g_free(s->record.cwd);
        g_free(s->record.options);
        s->record.argv_joined = g_strdup(argv);
        s->record.env_joined = g_strdup(env);
        s->record.cwd = g_strdup(cwd);
        s->record.options = g_strdup(options->str);
        g_mutex_unlock(&s->lock);

        if (g_str_has_prefix(argv, "/nonexistent"))
                return sd_bus_error_set(error, "org.teleworker.worker1.Error.ExecutableNotFound",
                                        "'/nonexistent' is not an executable file.");
        if (memory > UINT64_C(1073741824))
                return sd_bus_error_set(error, "org.teleworker.worker1.Error.LimitExceeded",
                                        "MemoryMax is above the maximum of 1G.");
        return sd_bus_reply_method_return(m, "so", MOCK_JOB_ID,
                                          "/org/teleworker/worker1/job/8c1f0e9e4a364f0b9a512a3c8f4b7d10");
}

static int mock_open_output(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        TestServer *s = userdata;
        const char *principal, *id;
        int admin, follow, r, p[2];
        uint64_t offset, size;
        OutputWriter *w;

        r = sd_bus_message_read(m, "sbstb", &principal, &admin, &id, &offset, &follow);
        if (r < 0)
                return r;
        mock_record(s, m, principal, admin);
        g_mutex_lock(&s->lock);
        s->record.offset = offset;
        s->record.follow = follow;
        g_mutex_unlock(&s->lock);
        r = mock_check_id(id, error);
        if (r < 0)
                return r;
        size = streq(id, MOCK_BIG_ID) ? MOCK_BIG_SIZE : MOCK_SMALL_SIZE;
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        w = g_new0(OutputWriter, 1);
        w->server = s;
        w->fd = p[1];
        w->pos = MIN(offset, size);
        w->end = size;
        w->next = writers;
        writers = w;
        r = sd_event_add_io(sd_bus_get_event(sd_bus_message_get_bus(m)), &w->source, w->fd, EPOLLOUT, on_writer, w);
        if (r < 0) {
                writer_free(w);
                safe_close(p[0]);
                return r;
        }
        r = sd_bus_reply_method_return(m, "h", p[0]);
        safe_close(p[0]);
        return r;
}

static const sd_bus_vtable mock_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("StartAs", "sbasassa{sv}", "so", mock_start, 0),
        SD_BUS_METHOD("StopAs", "sbs", "", mock_stop, 0),
        SD_BUS_METHOD("GetJobAs", "sbs", "a{sv}", mock_get, 0),
        SD_BUS_METHOD("WaitAs", "sbs", "a{sv}", mock_get, 0),
        SD_BUS_METHOD("ListPageAs", "sbsu", "aa{sv}s", mock_list, 0),
        SD_BUS_METHOD("OpenOutputAs", "sbstb", "h", mock_open_output, 0),
        SD_BUS_VTABLE_END,
};

/* ---- the server thread ------------------------------------------------------------------------------- */

static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

typedef struct ThreadState {
        TestServer *server;
        Gateway *gateway;
} ThreadState;

static int on_post_count(sd_event_source *source, void *userdata) {
        ThreadState *t = userdata;

        g_mutex_lock(&t->server->lock);
        t->server->n_connections = gateway_n_connections(t->gateway);
        t->server->n_accepted = gateway_n_accepted(t->gateway);
        g_mutex_unlock(&t->server->lock);
        return 0;
}

static void server_fail(TestServer *s, const char *what, int r) {
        g_printerr("test server: %s: %s\n", what, g_strerror(-r));
        g_mutex_lock(&s->lock);
        s->failed = r < 0 ? r : -EIO;
        s->ready = true;
        g_cond_signal(&s->cond);
        g_mutex_unlock(&s->lock);
}

static gpointer server_thread(gpointer data) {
        TestServer *s = data;
        sd_event *e = NULL;
        sd_bus *gw_bus = NULL, *mock_bus = NULL;
        SSL_CTX *ctx = NULL;
        ThreadState t = { .server = s };
        g_autofree char *cert = test_cert_path("server.crt"), *key = test_cert_path("server.key"),
                        *ca = test_cert_path("ca.crt");
        char err[1024];
        int pair[2], r;
        sd_id128_t id;

        r = sd_event_new(&e);
        if (r < 0) {
                server_fail(s, "sd_event_new", r);
                return NULL;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0) {
                server_fail(s, "socketpair", -errno);
                return NULL;
        }

        if (!s->bus_down) {
                (void) sd_id128_randomize(&id);
                r = sd_bus_new(&mock_bus);
                if (r >= 0)
                        r = sd_bus_set_fd(mock_bus, pair[1], pair[1]);
                if (r >= 0)
                        r = sd_bus_set_server(mock_bus, 1, id);
                if (r >= 0)
                        r = sd_bus_negotiate_fds(mock_bus, 1);
                if (r >= 0)
                        r = sd_bus_add_object_vtable(mock_bus, NULL, GATEWAY_BUS_PATH, GATEWAY_BUS_INTERFACE,
                                                     mock_vtable, s);
                if (r >= 0)
                        r = sd_bus_start(mock_bus);
                if (r >= 0)
                        r = sd_bus_attach_event(mock_bus, e, 0);
                if (r < 0) {
                        server_fail(s, "mock bus", r);
                        return NULL;
                }
        } else
                safe_close(pair[1]);

        r = sd_bus_new(&gw_bus);
        if (r >= 0)
                r = sd_bus_set_fd(gw_bus, pair[0], pair[0]);
        if (r >= 0)
                r = sd_bus_negotiate_fds(gw_bus, 1);
        if (r >= 0)
                r = sd_bus_start(gw_bus);
        if (r >= 0)
                r = sd_bus_attach_event(gw_bus, e, 0);
        if (r < 0 && !s->bus_down) {
                server_fail(s, "gateway bus", r);
                return NULL;
        }

        r = tls_server_ctx_new(cert, key, ca, &ctx, err, sizeof(err));
        if (r < 0) {
                g_printerr("%s\n", err);
                server_fail(s, "TLS context", r);
                return NULL;
        }
        r = gateway_new(e, gw_bus, ctx, &s->config, &t.gateway);
        if (r >= 0)
                r = gateway_listen(t.gateway, "127.0.0.1:0", &s->port);
        if (r >= 0)
                r = sd_event_add_io(e, NULL, s->stop_fd, EPOLLIN, on_stop, s);
        if (r >= 0)
                r = sd_event_add_post(e, NULL, on_post_count, &t);
        if (r < 0) {
                server_fail(s, "gateway", r);
                return NULL;
        }

        g_mutex_lock(&s->lock);
        s->ready = true;
        g_cond_signal(&s->cond);
        g_mutex_unlock(&s->lock);

        r = sd_event_loop(e);
        if (r < 0)
                g_printerr("test server: event loop: %s\n", g_strerror(-r));

        t.gateway = gateway_free(t.gateway);
        while (writers)
                writer_free(writers);
        sd_bus_flush_close_unref(gw_bus);
        sd_bus_flush_close_unref(mock_bus);
        SSL_CTX_free(ctx);
        sd_event_unref(e);
        return NULL;
}

void test_server_start(TestServer *s, const GatewayConfig *config) {
        bool bus_down = s->bus_down;

        *s = (TestServer) { .bus_down = bus_down };
        g_mutex_init(&s->lock);
        g_cond_init(&s->cond);
        if (config)
                s->config = *config;
        else
                gateway_config_init(&s->config);
        (void) test_certs_dir();   /* before the thread: g_spawn from one thread */
        s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        g_assert_cmpint(s->stop_fd, >=, 0);
        s->thread = g_thread_new("gateway", server_thread, s);
        g_mutex_lock(&s->lock);
        while (!s->ready)
                g_cond_wait(&s->cond, &s->lock);
        g_mutex_unlock(&s->lock);
        g_assert_cmpint(s->failed, ==, 0);
        g_assert_cmpuint(s->port, >, 0);
}

void test_server_stop(TestServer *s) {
        uint64_t one = 1;

        g_assert_cmpint(write(s->stop_fd, &one, sizeof(one)), ==, sizeof(one));
        g_thread_join(s->thread);
        safe_close(s->stop_fd);
        mock_record_done(&s->record);
        g_mutex_clear(&s->lock);
        g_cond_clear(&s->cond);
}

unsigned test_server_connections(TestServer *s) {
        unsigned n;

        g_mutex_lock(&s->lock);
        n = s->n_connections;
        g_mutex_unlock(&s->lock);
        return n;
}

uint64_t test_server_accepted(TestServer *s) {
        uint64_t n;

        g_mutex_lock(&s->lock);
        n = s->n_accepted;
        g_mutex_unlock(&s->lock);
        return n;
}

void test_server_record(TestServer *s, MockRecord *ret) {
        g_mutex_lock(&s->lock);
        *ret = s->record;
        ret->argv_joined = g_strdup(s->record.argv_joined);
        ret->env_joined = g_strdup(s->record.env_joined);
        ret->cwd = g_strdup(s->record.cwd);
        ret->options = g_strdup(s->record.options);
        g_mutex_unlock(&s->lock);
}

void mock_record_done(MockRecord *r) {
        g_free(r->argv_joined);
        g_free(r->env_joined);
        g_free(r->cwd);
        g_free(r->options);
        r->argv_joined = r->env_joined = r->cwd = r->options = NULL;
}
