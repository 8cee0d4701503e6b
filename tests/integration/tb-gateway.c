/* SPDX-License-Identifier: MIT */
/* tb-gateway.c - the gateway as a testbed service and a stoppable mTLS HTTP client (tests/integration). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>

#include "tb-gateway.h"
#include "test-http-harness.h"
#include "tls.h"

/* ---- the service --------------------------------------------------------------------------------------- */

static int run_cmd(const char *const *argv, char **ret_out) {
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;
        int status = 0;

        g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, ret_out, &err, &status, &error);
        g_assert_no_error(error);
        if (err && *err)
                g_test_message("%s: %s", argv[0], g_strstrip(err));
        return status;
}

char *tb_unit_property(const char *unit, const char *property) {
        const char *argv[] = { "systemctl", "show", "-P", property, unit, NULL };
        char *out = NULL;

        (void) run_cmd(argv, &out);
        return g_strstrip(out ? out : g_strdup(""));
}

pid_t tb_unit_main_pid(const char *unit) {
        g_autofree char *s = tb_unit_property(unit, "MainPID");

        return (pid_t) g_ascii_strtoll(s, NULL, 10);
}

/* The service reads copies owned by its account. (teleworker-gateway.service uses LoadCredential=; in the
 * namespace testbed a User= service cannot read its credentials directory.) */
static char *gateway_certs(void) {
        char *gwdir = g_build_filename(test_certs_dir(), "gateway", NULL);
        const char *names[] = { "server.crt", "server.key", "ca.crt" };

        if (g_file_test(gwdir, G_FILE_TEST_IS_DIR))
                return gwdir;
        g_assert_cmpint(g_mkdir_with_parents(gwdir, 0700), ==, 0);
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *from = test_cert_path(names[i]), *to = g_build_filename(gwdir, names[i], NULL);
                g_autofree char *data = NULL;
                gsize size;

                g_assert_true(g_file_get_contents(from, &data, &size, NULL));
                g_assert_true(g_file_set_contents(to, data, (gssize) size, NULL));
        }
        {
                const char *argv[] = { "chown", "-R", "teleworker-gw:teleworker-gw", gwdir, NULL };

                g_assert_true(g_spawn_check_wait_status(run_cmd(argv, NULL), NULL));
        }
        /* The service must be able to reach it: the certificate directory itself is 0700 root. */
        g_assert_cmpint(chmod(test_certs_dir(), 0711), ==, 0);
        return gwdir;
}

bool tb_gateway_try_start(TbGateway *gw, const char *build_dir, const char *unit, uint16_t port,
                          const char *const *extra_args, const char *const *properties) {
        g_autofree char *exe = g_build_filename(build_dir, "src", "gateway", "teleworker-gateway", NULL);
        g_autofree char *gwdir = gateway_certs();
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        const char *vars[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
        const char *fixed[] = { "systemd-run", "--quiet", "-p", "Type=notify", "-p", "User=teleworker-gw",
                                "-p", "Group=teleworker-gw", "-p", "NoNewPrivileges=yes", "-p", "TimeoutStopSec=20" };

        g_assert_true(g_file_test(exe, G_FILE_TEST_IS_EXECUTABLE));
        *gw = (TbGateway) { .unit = g_strdup(unit), .port = port };
        {
                const char *stop[] = { "systemctl", "stop", unit, NULL }, *reset[] = { "systemctl", "reset-failed", unit, NULL };

                (void) run_cmd(stop, NULL);
                (void) run_cmd(reset, NULL);
        }

        for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
                g_ptr_array_add(argv, g_strdup(fixed[i]));
        g_ptr_array_add(argv, g_strdup_printf("--unit=%s", unit));
        for (const char *const *p = properties; p && *p; p++) {
                g_ptr_array_add(argv, g_strdup("-p"));
                g_ptr_array_add(argv, g_strdup(*p));
        }
        for (size_t i = 0; i < G_N_ELEMENTS(vars); i++)
                if (getenv(vars[i]))
                        g_ptr_array_add(argv, g_strdup_printf("--setenv=%s=%s", vars[i], getenv(vars[i])));
        g_ptr_array_add(argv, g_strdup("--"));
        g_ptr_array_add(argv, g_strdup(exe));
        g_ptr_array_add(argv, g_strdup_printf("--listen=127.0.0.1:%u", port));
        g_ptr_array_add(argv, g_strdup_printf("--cert=%s/server.crt", gwdir));
        g_ptr_array_add(argv, g_strdup_printf("--key=%s/server.key", gwdir));
        g_ptr_array_add(argv, g_strdup_printf("--ca=%s/ca.crt", gwdir));
        for (const char *const *a = extra_args; a && *a; a++)
                g_ptr_array_add(argv, g_strdup(*a));
        g_ptr_array_add(argv, NULL);
        if (!g_spawn_check_wait_status(run_cmd((const char *const *) argv->pdata, NULL), NULL)) {
                const char *journal[] = { "journalctl", "--no-pager", "-o", "cat", "-u", unit, NULL };
                g_autofree char *text = NULL;

                (void) run_cmd(journal, &text);
                g_test_message("the gateway %s did not start:\n%s", unit, text ?: "");
                g_free(gw->unit);
                *gw = (TbGateway) {};
                return false;
        }
        gw->pid = tb_unit_main_pid(unit);
        g_assert_cmpint(gw->pid, >, 0);
        return true;
}

void tb_gateway_start(TbGateway *gw, const char *build_dir, const char *unit, uint16_t port,
                      const char *const *extra_args, const char *const *properties) {
        if (!tb_gateway_try_start(gw, build_dir, unit, port, extra_args, properties))
                g_error("the gateway %s did not start", unit);
}

void tb_gateway_stop(TbGateway *gw) {
        const char *stop[] = { "systemctl", "stop", gw->unit, NULL };
        g_autofree char *result = NULL;

        if (!gw->unit)
                return;
        (void) run_cmd(stop, NULL);
        result = tb_unit_property(gw->unit, "Result");
        if (!g_str_equal(result, "success")) {
                const char *journal[] = { "journalctl", "--no-pager", "-o", "cat", "-u", gw->unit, NULL };
                g_autofree char *text = NULL;

                (void) run_cmd(journal, &text);
                g_printerr("%s\n", text);
                g_error("the gateway %s ended with result '%s'", gw->unit, result);
        }
        g_free(gw->unit);
        *gw = (TbGateway) {};
}

/* ---- TLS ----------------------------------------------------------------------------------------------- */

SSL_CTX *tb_tls_ctx_files(const char *crt, const char *key) {
        g_autofree char *crt_path = test_cert_path(crt), *key_path = test_cert_path(key), *ca = test_cert_path("ca.crt");
        SSL_CTX *ctx = NULL;
        char err[1024];

        if (tls_client_ctx_new(crt_path, key_path, ca, &ctx, err, sizeof(err)) < 0)
                g_error("client context for %s: %s", crt, err);
        return ctx;
}

SSL_CTX *tb_tls_ctx(const char *principal) {
        g_autofree char *crt = g_strdup_printf("%s.crt", principal), *key = g_strdup_printf("%s.key", principal);

        return tb_tls_ctx_files(crt, key);
}

GByteArray *tb_tls_client_hello(SSL_CTX *ctx) {
        GByteArray *hello = g_byte_array_new();
        SSL *ssl = SSL_new(ctx);
        BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
        char *data = NULL;
        long n;

        g_assert_nonnull(ssl);
        g_assert_nonnull(rbio);
        g_assert_nonnull(wbio);
        SSL_set_bio(ssl, rbio, wbio);
        g_assert_cmpint(tls_client_set_host(ssl, "127.0.0.1"), ==, 0);
        ERR_clear_error();
        g_assert_cmpint(SSL_connect(ssl), <=, 0);   /* wants the ServerHello */
        n = BIO_get_mem_data(wbio, &data);
        g_assert_cmpint(n, >, 5);
        g_assert_cmpint(data[0], ==, 0x16);          /* a handshake record */
        g_byte_array_append(hello, (const guint8 *) data, (guint) n);
        SSL_free(ssl);
        ERR_clear_error();
        return hello;
}

int tb_tcp_connect_from(const char *source, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (source) {
                struct sockaddr_in src = { .sin_family = AF_INET };

                g_assert_cmpint(inet_pton(AF_INET, source, &src.sin_addr), ==, 1);
                if (bind(fd, (struct sockaddr *) &src, sizeof(src)) < 0) {
                        int r = -errno;

                        close(fd);
                        return r;
                }
        }
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

int tb_tcp_connect(uint16_t port) {
        return tb_tcp_connect_from(NULL, port);
}

int tb_tls_connect(TbTls *c, SSL_CTX *ctx, uint16_t port) {
        return tb_tls_connect_from(c, ctx, NULL, port);
}

int tb_tls_connect_from(TbTls *c, SSL_CTX *ctx, const char *source, uint16_t port) {
        /* A hang guard for the blocking handshake; the gateway's own handshake deadline is 10 s. */
        struct timeval tv = { .tv_sec = 60 };
        int fd, r;

        *c = (TbTls) { .fd = -EBADF };
        fd = tb_tcp_connect_from(source, port);
        if (fd < 0)
                return fd;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        c->fd = fd;
        c->pending = g_byte_array_new();
        c->ssl = SSL_new(ctx);
        g_assert_nonnull(c->ssl);
        g_assert_cmpint(tls_client_set_host(c->ssl, "127.0.0.1"), ==, 0);
        g_assert_cmpint(SSL_set_fd(c->ssl, fd), ==, 1);
        ERR_clear_error();
        r = SSL_connect(c->ssl);
        if (r != 1) {
                ERR_clear_error();
                tb_tls_close(c, TB_CLOSE_ABRUPT);
                return -ECONNRESET;
        }
        g_assert_cmpint(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), ==, 0);
        return 0;
}

void tb_tls_close(TbTls *c, TbClose how) {
        if (c->ssl && how == TB_CLOSE_NOTIFY) {
                ERR_clear_error();
                (void) SSL_shutdown(c->ssl);
        }
        if (c->fd >= 0 && how == TB_CLOSE_RESET) {
                struct linger l = { .l_onoff = 1, .l_linger = 0 };

                (void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        if (c->ssl)
                SSL_free(c->ssl);
        ERR_clear_error();
        if (c->fd >= 0)
                close(c->fd);
        if (c->pending)
                g_byte_array_unref(c->pending);
        *c = (TbTls) { .fd = -EBADF };
}

static int tls_wait(TbTls *c, short events, gint64 deadline) {
        struct pollfd p = { .fd = c->fd, .events = events };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        int r;

        if (left <= 0)
                return -ETIMEDOUT;
        r = poll(&p, 1, (int) MIN(left, INT32_MAX));
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

int tb_tls_write(TbTls *c, const void *data, size_t size, int timeout_ms) {
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

        while (size > 0) {
                size_t written = 0;
                int k, r;

                ERR_clear_error();
                k = SSL_write_ex(c->ssl, data, size, &written);
                if (k == 1) {
                        data = (const char *) data + written;
                        size -= written;
                        continue;
                }
                switch (SSL_get_error(c->ssl, k)) {
                case SSL_ERROR_WANT_WRITE:
                        r = tls_wait(c, POLLOUT, deadline);
                        break;
                case SSL_ERROR_WANT_READ:
                        r = tls_wait(c, POLLIN, deadline);
                        break;
                default:
                        ERR_clear_error();
                        return -EIO;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int tb_tls_send_request(TbTls *c, const char *method, const char *target, const char *body) {
        g_autofree char *req = g_strdup_printf("%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s",
                                               method, target, body ? strlen(body) : 0, body ?: "");

        return tb_tls_write(c, req, strlen(req), 60000);
}

/* ---- HTTP responses ------------------------------------------------------------------------------------ */

static int on_headers_complete(http_parser *p) {
        TbHttp *h = p->data;

        h->status = p->status_code;
        h->head_done = p->status_code != 100;
        return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
        TbHttp *h = p->data;

        g_string_append_len(h->body, at, (gssize) n);
        return 0;
}

static int on_message_complete(http_parser *p) {
        TbHttp *h = p->data;

        if (p->status_code == 100)
                return 0;
        h->complete = true;
        http_parser_pause(p, 1);
        return 0;
}

static const http_parser_settings settings = {
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
};

void tb_http_init(TbHttp *h) {
        *h = (TbHttp) { .body = g_string_new("") };
        http_parser_init(&h->parser, HTTP_RESPONSE);
        h->parser.data = h;
}

void tb_http_done(TbHttp *h) {
        if (h->body)
                g_string_free(h->body, TRUE);
        *h = (TbHttp) {};
}

static bool http_enough(const TbHttp *h, const char *until_suffix, size_t until_bytes) {
        if (h->complete)
                return true;
        if (until_suffix && g_str_has_suffix(h->body->str, until_suffix))
                return true;
        return until_bytes > 0 && h->body->len >= until_bytes;
}

/* Feeds n bytes; what comes after a complete response stays pending for the next one. */
static int http_feed(TbTls *c, TbHttp *h, const char *buf, size_t n) {
        size_t used = http_parser_execute(&h->parser, &settings, buf, n);

        if (h->complete) {
                if (used < n)
                        g_byte_array_append(c->pending, (const guint8 *) buf + used, (guint) (n - used));
                return 0;
        }
        return HTTP_PARSER_ERRNO(&h->parser) == HPE_OK ? 0 : -EBADMSG;
}

int tb_http_read(TbTls *c, TbHttp *h, const char *until_suffix, size_t until_bytes, int timeout_ms) {
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
        char buf[65536];
        int r;

        if (c->pending->len > 0) {
                g_autoptr(GByteArray) p = c->pending;

                c->pending = g_byte_array_new();
                r = http_feed(c, h, (const char *) p->data, p->len);
                if (r < 0)
                        return r;
        }
        while (!http_enough(h, until_suffix, until_bytes)) {
                size_t n = 0;
                int k;

                ERR_clear_error();
                k = SSL_read_ex(c->ssl, buf, sizeof(buf), &n);
                if (k == 1) {
                        r = http_feed(c, h, buf, n);
                        if (r < 0)
                                return r;
                        continue;
                }
                switch (SSL_get_error(c->ssl, k)) {
                case SSL_ERROR_WANT_READ:
                        r = tls_wait(c, POLLIN, deadline);
                        break;
                case SSL_ERROR_WANT_WRITE:
                        r = tls_wait(c, POLLOUT, deadline);
                        break;
                default:
                        /* EOF ends a response without a length; anything else was cut. */
                        ERR_clear_error();
                        (void) http_parser_execute(&h->parser, &settings, buf, 0);
                        return h->complete ? 0 : -EIO;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int tb_http_request(TbTls *c, const char *method, const char *target, const char *body, TbHttp *ret,
                    int timeout_ms) {
        int r;

        tb_http_init(ret);
        r = tb_tls_send_request(c, method, target, body);
        if (r < 0)
                return r;
        return tb_http_read(c, ret, NULL, 0, timeout_ms);
}

char *tb_http_json_string(const TbHttp *h, const char *key) {
        json_object *o = json_tokener_parse(h->body->str), *v;
        char *s = NULL;

        if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                s = g_strdup(json_object_get_string(v));
        if (o)
                json_object_put(o);
        return s;
}
