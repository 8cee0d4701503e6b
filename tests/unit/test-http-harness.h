/* SPDX-License-Identifier: MIT */
/* test-http-harness.h - an in-process teleworker-gateway (real TLS on 127.0.0.1:0) in a thread of its own,
 * bridged over a socketpair to a mock of teleworkerd's Remote interface. Its clients are tests/lib/test-client.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <openssl/ssl.h>

#include "gateway/gateway.h"
#include "test-client.h"
#include "transport/tls.h"

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

void test_server_start(TestServer *s, const GatewayConfig *config);
void test_server_stop(TestServer *s);
unsigned test_server_connections(TestServer *s);
/* Connections the gateway accepted so far (each one a full TLS handshake). */
uint64_t test_server_accepted(TestServer *s);
/* A copy of the record (strings owned by the caller: mock_record_done()). */
void test_server_record(TestServer *s, MockRecord *ret);
void mock_record_done(MockRecord *r);

/* The byte the mock produces at position i of a job's output. */
static inline char mock_output_byte(uint64_t i) {
        return (char) ('a' + (i * 7 + i / 4096) % 26);
}
