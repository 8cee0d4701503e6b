/* SPDX-License-Identifier: MIT */
/* test-client.c - the tests' TLS/HTTP client (test-client.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>

#include "shared/macro.h"
#include "test-client.h"
#include "transport/tls.h"

/* ---- certificates ------------------------------------------------------------------------------------ */

static char *certs_dir;

const char *test_certs_dir(void) {
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL, *err = NULL;
        int status = 0;

        if (certs_dir)
                return certs_dir;
        certs_dir = g_dir_make_tmp("teleworker-test-certs-XXXXXX", &error);
        g_assert_no_error(error);
        {
                char *argv[] = { (char *) TEST_CERTS_SCRIPT, certs_dir, (char *) "--server-name", (char *) "localhost",
                                 (char *) "--user", (char *) "alice", (char *) "--user", (char *) "admin1",
                                 (char *) "--admin", (char *) "--user", (char *) "bob", (char *) "--user",
                                 (char *) "tbuser1", (char *) "--test-certs", NULL };

                g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
        }
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("teleworker-certs.sh failed: %s", err);
        return certs_dir;
}

char *test_cert_path(const char *name) {
        return g_build_filename(test_certs_dir(), name, NULL);
}

int test_certs_tool(char **ret_err, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        const char *a;
        va_list ap;
        int status = 0;

        g_ptr_array_add(argv, (char *) TEST_CERTS_SCRIPT);
        g_ptr_array_add(argv, (char *) test_certs_dir());
        va_start(ap, ret_err);
        while ((a = va_arg(ap, const char *)))
                g_ptr_array_add(argv, (char *) a);
        va_end(ap);
        g_ptr_array_add(argv, NULL);
        g_spawn_sync(NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, ret_err, &status, &error);
        g_assert_no_error(error);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void test_certs_keep_copy(const char *name) {
        static const char *const ext[] = { "crt", "key" };

        for (size_t i = 0; i < G_N_ELEMENTS(ext); i++) {
                g_autofree char *from = g_strdup_printf("%s/%s.%s", test_certs_dir(), name, ext[i]);
                g_autofree char *to = g_strdup_printf("%s/%s-kept.%s", test_certs_dir(), name, ext[i]);
                g_autofree char *data = NULL;
                gsize size;

                g_assert_true(g_file_get_contents(from, &data, &size, NULL));
                g_assert_true(g_file_set_contents(to, data, (gssize) size, NULL));
        }
}

void test_rm_rf(const char *path) {
        char *argv[] = { (char *) "rm", (char *) "-rf", (char *) "--", (char *) path, NULL };

        if (path)
                (void) g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
}

void test_certs_cleanup(void) {
        test_rm_rf(certs_dir);
        g_clear_pointer(&certs_dir, g_free);
}

/* ---- TLS ----------------------------------------------------------------------------------------------- */

SSL_CTX *test_tls_ctx_files(const char *crt, const char *key) {
        g_autofree char *crt_path = test_cert_path(crt), *key_path = test_cert_path(key), *ca = test_cert_path("ca.crt");
        SSL_CTX *ctx = NULL;
        char err[1024];

        if (tls_client_ctx_new(crt_path, key_path, ca, &ctx, err, sizeof(err)) < 0)
                g_error("client context for %s: %s", crt, err);
        return ctx;
}

SSL_CTX *test_tls_ctx(const char *principal) {
        g_autofree char *crt = g_strdup_printf("%s.crt", principal), *key = g_strdup_printf("%s.key", principal);

        return test_tls_ctx_files(crt, key);
}

GByteArray *test_tls_client_hello(SSL_CTX *ctx) {
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

int test_tcp_connect_from(const char *source, uint16_t port) {
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

int test_tcp_connect(uint16_t port) {
        return test_tcp_connect_from(NULL, port);
}

/* ---- the client --------------------------------------------------------------------------------------- */

int test_client_connect(TestClient *c, uint16_t port, const char *cert, const char *key, int max_version) {
        g_autofree char *ca = test_cert_path("ca.crt");
        struct timeval tv = { .tv_sec = 10 };
        char err[1024];
        int r;

        *c = (TestClient) { .fd = -EBADF, .pending = g_byte_array_new() };
        c->fd = test_tcp_connect(port);
        g_assert_cmpint(c->fd, >=, 0);
        (void) setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

        if (cert) {
                r = tls_client_ctx_new(cert, key, ca, &c->ctx, err, sizeof(err));
                if (r < 0)
                        g_error("client context: %s", err);
        } else {
                c->ctx = SSL_CTX_new(TLS_client_method());
                g_assert_nonnull(c->ctx);
                g_assert_cmpint(SSL_CTX_load_verify_locations(c->ctx, ca, NULL), ==, 1);
                SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        }
        if (max_version) {
                g_assert_cmpint(SSL_CTX_set_min_proto_version(c->ctx, 0), ==, 1);
                g_assert_cmpint(SSL_CTX_set_max_proto_version(c->ctx, max_version), ==, 1);
        }
        c->ssl = SSL_new(c->ctx);
        g_assert_nonnull(c->ssl);
        g_assert_cmpint(tls_client_set_host(c->ssl, "127.0.0.1"), ==, 0);
        g_assert_cmpint(SSL_set_fd(c->ssl, c->fd), ==, 1);
        ERR_clear_error();
        r = SSL_connect(c->ssl);
        if (r != 1) {
                char ebuf[512];

                c->ssl_error = ERR_peek_error();
                g_test_message("SSL_connect failed: %s", tls_errors_to_string(ebuf, sizeof(ebuf)));
                return -EPERM;
        }
        return 1;
}

int test_client_connect_ctx(TestClient *c, SSL_CTX *ctx, const char *source, uint16_t port) {
        /* A hang guard for the blocking handshake; the gateway's own handshake deadline is 10 s. */
        struct timeval tv = { .tv_sec = 60 };
        int fd, r;

        *c = (TestClient) { .fd = -EBADF };
        fd = test_tcp_connect_from(source, port);
        if (fd < 0)
                return fd;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        c->fd = fd;
        c->pending = g_byte_array_new();
        g_assert_cmpint(SSL_CTX_up_ref(ctx), ==, 1);
        c->ctx = ctx;
        c->ssl = SSL_new(ctx);
        g_assert_nonnull(c->ssl);
        g_assert_cmpint(tls_client_set_host(c->ssl, "127.0.0.1"), ==, 0);
        g_assert_cmpint(SSL_set_fd(c->ssl, fd), ==, 1);
        ERR_clear_error();
        r = SSL_connect(c->ssl);
        if (r != 1) {
                c->ssl_error = ERR_peek_error();
                ERR_clear_error();
                test_client_close_as(c, TEST_CLOSE_ABRUPT);
                return -ECONNRESET;
        }
        g_assert_cmpint(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), ==, 0);
        return 0;
}

void test_client_close_as(TestClient *c, TestClose how) {
        if (c->ssl && how == TEST_CLOSE_NOTIFY) {
                ERR_clear_error();
                (void) SSL_shutdown(c->ssl);
        }
        if (c->fd >= 0 && how == TEST_CLOSE_RESET) {
                struct linger l = { .l_onoff = 1, .l_linger = 0 };

                (void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        if (c->ssl)
                SSL_free(c->ssl);
        if (c->ctx)
                SSL_CTX_free(c->ctx);
        ERR_clear_error();
        safe_close(c->fd);
        if (c->pending)
                g_byte_array_unref(c->pending);
        *c = (TestClient) { .fd = -EBADF };
}

void test_client_close(TestClient *c) {
        test_client_close_as(c, TEST_CLOSE_ABRUPT);
}

/* Waits for events on c until deadline (g_get_monotonic_time()): 0 or -ETIMEDOUT. */
static int test_client_wait(TestClient *c, short events, gint64 deadline) {
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

int test_client_write_timeout(TestClient *c, const void *data, size_t size, int timeout_ms) {
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
                        r = test_client_wait(c, POLLOUT, deadline);
                        break;
                case SSL_ERROR_WANT_READ:
                        r = test_client_wait(c, POLLIN, deadline);
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

int test_client_write(TestClient *c, const void *data, size_t size) {
        return test_client_write_timeout(c, data, size, 10000);
}

int test_client_send(TestClient *c, const char *method, const char *target, const char *body) {
        g_autofree char *req = g_strdup_printf("%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s",
                                               method, target, body ? strlen(body) : 0, body ?: "");

        return test_client_write_timeout(c, req, strlen(req), 60000);
}

/* ---- responses ------------------------------------------------------------------------------------------ */

static int test_response_on_body(HttpResponse *h, const char *data, size_t size, void *userdata) {
        TestResponse *r = userdata;

        g_string_append_len(r->body, data, (gssize) size);
        return 0;
}

void test_response_init(TestResponse *r) {
        *r = (TestResponse) { .body = g_string_new("") };
        http_response_init(&r->http, 0, true);
        r->http.on_body = test_response_on_body;
        /* r is not moved while it is read into (test_client_read() sets it again). */
        r->http.userdata = r;
}

void test_response_done(TestResponse *r) {
        http_response_done(&r->http);
        if (r->body)
                g_string_free(r->body, TRUE);
        *r = (TestResponse) {};
}

static bool test_response_enough(const TestResponse *r, const char *until_suffix, size_t until_bytes) {
        if (r->complete)
                return true;
        if (until_suffix && g_str_has_suffix(r->body->str, until_suffix))
                return true;
        return until_bytes > 0 && r->body->len >= until_bytes;
}

/* Feeds n bytes (0: the end of the connection); what comes after a complete response stays pending for the
 * next one. */
static int test_response_feed(TestClient *c, TestResponse *r, const char *buf, size_t n) {
        size_t used = 0;
        int k;

        r->http.userdata = r;
        k = http_response_feed(&r->http, buf, n, &used);
        r->status = r->http.head_done ? r->http.status : 0;
        r->head_done = r->http.head_done;
        r->chunked = r->http.chunked;
        r->complete = r->http.complete;
        r->keep_alive = r->http.keep_alive;
        if (r->complete && used < n)
                g_byte_array_append(c->pending, (const guint8 *) buf + used, (guint) (n - used));
        if (n == 0)
                return 0;
        return k < 0 ? -EBADMSG : 0;
}

int test_client_read(TestClient *c, TestResponse *r, const char *until_suffix, size_t until_bytes,
                     int timeout_ms) {
        gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
        char buf[65536];
        int k;

        if (c->pending->len > 0) {
                g_autoptr(GByteArray) p = c->pending;

                c->pending = g_byte_array_new();
                k = test_response_feed(c, r, (const char *) p->data, p->len);
                if (k < 0)
                        return k;
        }
        while (!test_response_enough(r, until_suffix, until_bytes)) {
                size_t n = 0;

                /* Read-ahead: OpenSSL may hold whole records that poll() would not report. A blocking
                 * connection waits here, so that timeout_ms holds for it too. */
                if (!SSL_has_pending(c->ssl)) {
                        k = test_client_wait(c, POLLIN, deadline);
                        if (k < 0)
                                return k;
                }
                ERR_clear_error();
                k = SSL_read_ex(c->ssl, buf, sizeof(buf), &n);
                if (k == 1) {
                        k = test_response_feed(c, r, buf, n);
                        if (k < 0)
                                return k;
                        continue;
                }
                switch (SSL_get_error(c->ssl, k)) {
                case SSL_ERROR_WANT_READ:
                        continue;
                case SSL_ERROR_WANT_WRITE:
                        k = test_client_wait(c, POLLOUT, deadline);
                        if (k < 0)
                                return k;
                        continue;
                default:
                        /* EOF ends a response without a length; anything else was cut. */
                        if (!c->ssl_error)
                                c->ssl_error = ERR_peek_error();
                        ERR_clear_error();
                        (void) test_response_feed(c, r, buf, 0);
                        return r->complete ? 0 : -EIO;
                }
        }
        return 0;
}

int test_client_read_response(TestClient *c, TestResponse *ret, int timeout_ms) {
        test_response_init(ret);
        return test_client_read(c, ret, NULL, 0, timeout_ms);
}

int test_client_request(TestClient *c, const char *request, TestResponse *ret) {
        if (test_client_write(c, request, strlen(request)) < 0) {
                test_response_init(ret);
                return -EIO;
        }
        return test_client_read_response(c, ret, 10000);
}

int test_client_call(TestClient *c, const char *method, const char *target, const char *body, TestResponse *ret,
                     int timeout_ms) {
        int r;

        test_response_init(ret);
        r = test_client_send(c, method, target, body);
        if (r < 0)
                return r;
        return test_client_read(c, ret, NULL, 0, timeout_ms);
}

const char *test_response_header(TestResponse *r, const char *name, char *buf, size_t size) {
        if (!http_response_header(&r->http, name, buf, size))
                buf[0] = 0;
        return buf;
}

char *test_response_json_string(const TestResponse *r, const char *key) {
        json_object *o = json_tokener_parse(r->body->str), *v;
        char *s = NULL;

        if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                s = g_strdup(json_object_get_string(v));
        if (o)
                json_object_put(o);
        return s;
}

bool test_socket_closed_within(int fd, int ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char b[4096];

        for (;;) {
                if (poll(&p, 1, ms) <= 0)
                        return false;
                if (recv(fd, b, sizeof(b), 0) <= 0)
                        return true;
        }
}
