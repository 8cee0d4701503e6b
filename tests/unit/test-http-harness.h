/* SPDX-License-Identifier: MIT */
/* test-http-harness.h - an in-process teleworker-gateway (real TLS on 127.0.0.1:0) in a thread of its own,
 * bridged over a socketpair to a mock of teleworkerd's Remote interface, plus a blocking TLS/HTTP client. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <openssl/ssl.h>

#include "gateway.h"
#include "tls.h"

/* Ids the mock knows. */
#define MOCK_JOB_ID "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10"
#define MOCK_DENIED_ID "11111111-2222-4333-8444-555555555555"
#define MOCK_CURSOR "00000000000000ab-1"                     /* ListPageAs: the page after MOCK_JOB_ID */
#define MOCK_BIG_ID "22222222-3333-4444-8555-666666666666"   /* output: MOCK_BIG_SIZE bytes */
#define MOCK_BIG_SIZE (8U * 1024U * 1024U)
#define MOCK_SMALL_SIZE (200U * 1024U)                        /* output of MOCK_JOB_ID */

/* What the mock saw last (read after the response arrived). */
typedef struct MockRecord {
        char method[32];
        char principal[80];
        bool admin;
        char *argv_joined;    /* argv joined with ' ' */
        char *env_joined;
        char *cwd;
        char *options;        /* "Key=value " for each Start option */
        uint64_t offset;
        bool follow;
        unsigned calls;
} MockRecord;

typedef struct TestServer {
        GThread *thread;
        GMutex lock;
        GCond cond;
        bool ready;
        int failed;
        int stop_fd;
        uint16_t port;
        GatewayConfig config;
        char *certdir;
        MockRecord record;
        unsigned n_connections;   /* gateway_n_connections(), updated by the server thread */
        uint64_t n_accepted;      /* gateway_n_accepted(), likewise */
        bool bus_down;            /* the mock is not connected: calls fail like a missing daemon */
} TestServer;

/* Creates certificates (once per process) with certs/teleworker-certs.sh: returns the directory. */
const char *test_certs_dir(void);
void test_certs_cleanup(void);
/* Path of a file in that directory, e.g. "alice.crt" or "test/expired.crt"; g_free() it. */
char *test_cert_path(const char *name);
/* certs/teleworker-certs.sh on test_certs_dir() with more arguments (NULL-terminated); its exit status.
 * ret_err (may be NULL): its stderr (g_free()); otherwise stderr is inherited. */
int test_certs_tool(char **ret_err, ...) G_GNUC_NULL_TERMINATED;
/* A copy of NAME.crt/NAME.key as NAME-kept.* in test_certs_dir() (--revoke moves the originals away). */
void test_certs_keep_copy(const char *name);

void test_server_start(TestServer *s, const GatewayConfig *config);
void test_server_stop(TestServer *s);
unsigned test_server_connections(TestServer *s);
/* Connections the gateway accepted so far (each one a full TLS handshake). */
uint64_t test_server_accepted(TestServer *s);
/* A copy of the record (strings owned by the caller: mock_record_done()). */
void test_server_record(TestServer *s, MockRecord *ret);
void mock_record_done(MockRecord *r);

/* A blocking TLS client connection. cert/key may be NULL (no client certificate); max_version 0 = any. */
typedef struct TestClient {
        int fd;
        SSL_CTX *ctx;
        SSL *ssl;
        GByteArray *pending;   /* bytes read past the last response */
        unsigned long ssl_error;   /* the first OpenSSL error of a failed connect or read (0: none) */
} TestClient;

/* 1 = handshake completed from the client's side, <0 = refused during SSL_connect. */
int test_client_connect(TestClient *c, uint16_t port, const char *cert, const char *key, int max_version);
void test_client_close(TestClient *c);
int test_client_write(TestClient *c, const void *data, size_t size);

typedef struct TestResponse {
        unsigned status;
        GString *body;
        GString *headers;      /* "name: value\n" lines, names lower-cased */
        bool chunked;
        bool complete;         /* the whole message arrived (for chunked: the last chunk) */
        bool keep_alive;
} TestResponse;

/* Reads one response (a 100 Continue is skipped). 0 on success; -EIO when the connection failed or closed
 * before a complete response; partial data stays in ret. timeout_ms bounds the wait. */
int test_client_read_response(TestClient *c, TestResponse *ret, int timeout_ms);
void test_response_done(TestResponse *r);
/* Sends request (a complete HTTP message) and reads the response. */
int test_client_request(TestClient *c, const char *request, TestResponse *ret);
/* Whether the peer closes the socket fd (EOF or reset) within ms; close_notify or alert bytes before that
 * are read over. */
bool test_socket_closed_within(int fd, int ms);
/* The value of a header ("" if absent); lower-case name. */
const char *test_response_header(TestResponse *r, const char *name, char *buf, size_t size);
/* The byte the mock produces at position i of a job's output. */
static inline char mock_output_byte(uint64_t i) {
        return (char) ('a' + (i * 7 + i / 4096) % 26);
}
