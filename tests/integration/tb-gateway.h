/* SPDX-License-Identifier: MIT */
/* tb-gateway.h - teleworker-gateway as a service of the testbed, and a small mTLS HTTP/1.1 client that can stop
 * anywhere in a response (mid-stream, without reading, with or without close_notify), for the integration
 * tests. Certificates come from tests/unit/test-http-harness.c (test_certs_dir()). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>
#include <http_parser.h>
#include <openssl/ssl.h>

typedef struct TbGateway {
        char *unit;
        uint16_t port;
        pid_t pid;
} TbGateway;

/* Starts build_dir's teleworker-gateway as the transient Type=notify service `unit`, as teleworker-gw, on
 * 127.0.0.1:port with the test server certificate; extra_args (NULL-terminated, may be NULL) are added to
 * its command line, properties ("LimitNOFILE=4096", NULL-terminated, may be NULL) to the unit. */
void tb_gateway_start(TbGateway *gw, const char *build_dir, const char *unit, uint16_t port,
                      const char *const *extra_args, const char *const *properties);
/* The same, false (and gw cleared) if the service did not start: for a configuration it must refuse. */
bool tb_gateway_try_start(TbGateway *gw, const char *build_dir, const char *unit, uint16_t port,
                          const char *const *extra_args, const char *const *properties);
/* Stops it; it must have ended cleanly (result "success": no crash, no sanitizer report). */
void tb_gateway_stop(TbGateway *gw);

/* The unit's MainPID (0 if none), ActiveState and NRestarts, from systemctl. */
pid_t tb_unit_main_pid(const char *unit);
char *tb_unit_property(const char *unit, const char *property);

/* A client context for a principal of test_certs_dir() ("alice", "admin1", ...): TLS 1.3, the test CA.
 * Shareable between threads. */
SSL_CTX *tb_tls_ctx(const char *principal);
/* The same for any certificate and key of test_certs_dir() ("test/caleaf.crt", "test/client.key"). */
SSL_CTX *tb_tls_ctx_files(const char *crt, const char *key);
/* The first flight of a TLS 1.3 client (a complete ClientHello record) of ctx, for half-handshakes. */
GByteArray *tb_tls_client_hello(SSL_CTX *ctx);

typedef struct TbTls {
        int fd;
        SSL *ssl;
        GByteArray *pending;    /* bytes read past the end of the last response */
} TbTls;

typedef enum TbClose {
        TB_CLOSE_NOTIFY,        /* close_notify, then close(): a polite client */
        TB_CLOSE_ABRUPT,        /* close() without close_notify (a crashed client) */
        TB_CLOSE_RESET,         /* SO_LINGER 0: the peer gets a TCP RST */
} TbClose;

/* A plain TCP connection to 127.0.0.1:port (blocking, CLOEXEC); -errno on failure. */
int tb_tcp_connect(uint16_t port);
/* The same from a source address of the loopback net ("127.0.0.2"; NULL: the kernel's choice), so that a
 * test can be several clients to the gateway's per-address limits. */
int tb_tcp_connect_from(const char *source, uint16_t port);
/* TCP + TLS handshake with ctx; then non-blocking. 0, or <0 (the gateway refused or closed). */
int tb_tls_connect(TbTls *c, SSL_CTX *ctx, uint16_t port);
int tb_tls_connect_from(TbTls *c, SSL_CTX *ctx, const char *source, uint16_t port);
void tb_tls_close(TbTls *c, TbClose how);
/* Writes all of data within timeout_ms. 0 or -EIO/-ETIMEDOUT. */
int tb_tls_write(TbTls *c, const void *data, size_t size, int timeout_ms);
/* Sends a request: method, target, optional JSON body (Content-Length always set). */
int tb_tls_send_request(TbTls *c, const char *method, const char *target, const char *body);

typedef struct TbHttp {
        http_parser parser;
        unsigned status;
        GString *body;
        bool head_done, complete;
} TbHttp;

void tb_http_init(TbHttp *h);
void tb_http_done(TbHttp *h);
/* Reads the response into h until it is complete, or (until_suffix) its body ends with until_suffix, or
 * (until_bytes > 0) its body has at least until_bytes. 0 when one of those happened; -ETIMEDOUT after
 * timeout_ms without them; -EIO when the connection ended first; -EBADMSG on a malformed response. */
int tb_http_read(TbTls *c, TbHttp *h, const char *until_suffix, size_t until_bytes, int timeout_ms);
/* Request and whole response on c. 0 or <0 as tb_http_read(). */
int tb_http_request(TbTls *c, const char *method, const char *target, const char *body, TbHttp *ret,
                    int timeout_ms);
/* A string member of a JSON body (g_free()), or NULL. */
char *tb_http_json_string(const TbHttp *h, const char *key);
