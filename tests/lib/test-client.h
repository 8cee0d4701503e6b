/* SPDX-License-Identifier: MIT */
/* test-client.h - the one TLS/HTTP client of the tests (unit and integration) against teleworker-gateway: the
 * test certificates (certs/teleworker-certs.sh), client contexts, a TLS connection that can stop anywhere
 * (mid-stream, without reading, with or without close_notify, with a reset), and responses read with the
 * clients' own parser (src/transport/http-response.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <openssl/ssl.h>

#include "transport/http-response.h"

/* ---- certificates ---- */

/* Creates certificates (once per process) with certs/teleworker-certs.sh: returns the directory. */
const char *test_certs_dir(void);
void test_certs_cleanup(void);
/* Removes a directory tree of a test (rm -rf, no shell); NULL does nothing. */
void test_rm_rf(const char *path);
/* Path of a file in that directory, e.g. "alice.crt" or "test/expired.crt"; g_free() it. */
char *test_cert_path(const char *name);
/* certs/teleworker-certs.sh on test_certs_dir() with more arguments (NULL-terminated); its exit status.
 * ret_err (may be NULL): its stderr (g_free()); otherwise stderr is inherited. */
int test_certs_tool(char **ret_err, ...) G_GNUC_NULL_TERMINATED;
/* A copy of NAME.crt/NAME.key as NAME-kept.* in test_certs_dir() (--revoke moves the originals away). */
void test_certs_keep_copy(const char *name);

/* A client context for a principal of test_certs_dir() ("alice", "admin1", ...): TLS 1.3, the test CA.
 * Shareable between threads. */
SSL_CTX *test_tls_ctx(const char *principal);
/* The same for any certificate and key of test_certs_dir() ("test/caleaf.crt", "test/client.key"). */
SSL_CTX *test_tls_ctx_files(const char *crt, const char *key);
/* The first flight of a TLS 1.3 client (a complete ClientHello record) of ctx, for half-handshakes. */
GByteArray *test_tls_client_hello(SSL_CTX *ctx);

/* ---- connections ---- */

/* A plain TCP connection to 127.0.0.1:port (blocking, CLOEXEC) from source, an address of the loopback net
 * ("127.0.0.2"; NULL: the kernel's choice), so that a test can be several clients to the per-address limits.
 * -errno on failure. */
int test_tcp_connect_from(const char *source, uint16_t port);
int test_tcp_connect(uint16_t port);

typedef struct TestClient {
        int fd;
        SSL_CTX *ctx;              /* a reference */
        SSL *ssl;
        GByteArray *pending;       /* bytes read past the end of the last response */
        unsigned long ssl_error;   /* the first OpenSSL error of a failed connect or read (0: none) */
} TestClient;

typedef enum TestClose {
        TEST_CLOSE_NOTIFY,         /* close_notify, then close(): a polite client */
        TEST_CLOSE_ABRUPT,         /* close() without close_notify (a crashed client) */
        TEST_CLOSE_RESET,          /* SO_LINGER 0: the peer gets a TCP RST */
} TestClose;

/* A blocking connection with a fresh context: cert/key paths may be NULL (no client certificate);
 * max_version 0 = any. 1 = handshake completed from the client's side, <0 = refused during SSL_connect. */
int test_client_connect(TestClient *c, uint16_t port, const char *cert, const char *key, int max_version);
/* TCP (from source, may be NULL) + TLS handshake with ctx; then non-blocking. 0, or -ECONNRESET (the gateway
 * refused or closed). */
int test_client_connect_ctx(TestClient *c, SSL_CTX *ctx, const char *source, uint16_t port);
void test_client_close_as(TestClient *c, TestClose how);
/* The same, without close_notify. */
void test_client_close(TestClient *c);
/* Writes all of data within timeout_ms. 0 or -EIO/-ETIMEDOUT. */
int test_client_write_timeout(TestClient *c, const void *data, size_t size, int timeout_ms);
int test_client_write(TestClient *c, const void *data, size_t size);
/* Sends a request: method, target, optional JSON body (Content-Length always set). */
int test_client_send(TestClient *c, const char *method, const char *target, const char *body);

/* ---- responses ---- */

typedef struct TestResponse {
        HttpResponse http;         /* the parser; its header lines are read with test_response_header() */
        unsigned status;
        GString *body;
        bool head_done;            /* the final head arrived (a 100 Continue is skipped) */
        bool chunked;
        bool complete;             /* the whole message arrived (for chunked: the last chunk) */
        bool keep_alive;
} TestResponse;

void test_response_init(TestResponse *r);
void test_response_done(TestResponse *r);
/* Reads into r (test_response_init()) until the response is complete, or (until_suffix) its body ends with
 * until_suffix, or (until_bytes > 0) its body has at least until_bytes; may be called again to go on. 0 when
 * one of those happened; -ETIMEDOUT after timeout_ms without them; -EIO when the connection ended first
 * (partial data stays in r); -EBADMSG on a malformed response. */
int test_client_read(TestClient *c, TestResponse *r, const char *until_suffix, size_t until_bytes,
                     int timeout_ms);
/* One whole response into ret (initialized here), as test_client_read(). */
int test_client_read_response(TestClient *c, TestResponse *ret, int timeout_ms);
/* Sends request (a complete HTTP message) and reads the response (10 s). */
int test_client_request(TestClient *c, const char *request, TestResponse *ret);
/* test_client_send() and the whole response into ret (initialized here). */
int test_client_call(TestClient *c, const char *method, const char *target, const char *body, TestResponse *ret,
                     int timeout_ms);
/* The value of a header ("" if absent); lower-case name. */
const char *test_response_header(TestResponse *r, const char *name, char *buf, size_t size);
/* A string member of a JSON body (g_free()), or NULL. */
char *test_response_json_string(const TestResponse *r, const char *key);
/* Whether the peer closes the socket fd (EOF or reset) within ms; close_notify or alert bytes before that
 * are read over. */
bool test_socket_closed_within(int fd, int ms);
