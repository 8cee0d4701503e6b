/* SPDX-License-Identifier: MIT */
/* gateway.h - teleworker-gateway's server: TLS connections on sd-event, HTTP requests bridged to one call
 * each of teleworkerd's org.teleworker.worker1.Remote interface, asynchronously.
 *
 * Ownership: a Gateway borrows the sd_event loop and the SSL_CTX (both must outlive it) and takes a
 * reference on the sd_bus it is given; it owns its listening sockets and connections. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "shared/api.h"
#include "gateway/http.h"
#include "shared/macro.h"

#define GATEWAY_BUS_NAME TW_BUS_NAME
#define GATEWAY_BUS_PATH TW_BUS_PATH
#define GATEWAY_BUS_INTERFACE TW_BUS_INTERFACE_REMOTE
#define GATEWAY_DEFAULT_PORT 8443

/* Limits against lock-out (docs/design.md, "Gateway connection limits"). When a limit is reached, the
 * connection that makes room is an unauthenticated one (TLS handshake unfinished, oldest first), else an
 * idle kept-alive one (idle longest first); only when there is none is the new connection refused. */
typedef struct GatewayConfig {
        unsigned max_connections;          /* all connections */
        unsigned max_per_address;          /* from one source address (IPv4 address, IPv6 /64) */
        unsigned max_handshakes_per_address; /* unfinished TLS handshakes from one source address */
        unsigned max_per_principal;        /* connections of one certificate principal */
        uint64_t handshake_timeout_usec;   /* from accept() to a completed TLS handshake ... */
        uint64_t handshake_timeout_busy_usec; /* ... while more than half of max_connections are in use */
        uint64_t idle_timeout_usec;        /* a kept-alive connection with nothing to do */
        uint64_t request_timeout_usec;     /* from the first byte of a request to its last */
        uint64_t write_timeout_usec;       /* pending output without any progress (client not reading) */
        unsigned max_requests;             /* per connection; the last response says Connection: close */
        unsigned rate_per_sec;             /* per connection request rate (token bucket) ... */
        unsigned rate_burst;               /* ... and its burst; beyond: 429 and close */
        uint64_t bus_timeout_usec;         /* D-Bus calls except Wait (none) and Stop (stop_timeout) */
        uint64_t stop_timeout_usec;
} GatewayConfig;

void gateway_config_init(GatewayConfig *c);

typedef struct Gateway Gateway;

/* bus: the connection to the system bus (or a test peer); NULL opens the system bus now and reopens it
 * on demand after a disconnect. */
int gateway_new(sd_event *event, sd_bus *bus, SSL_CTX *ssl_ctx, const GatewayConfig *config, Gateway **ret);
Gateway *gateway_free(Gateway *g);
DEFINE_FREE_FUNC(Gateway, gateway_free);

/* Takes ownership of a listening (or to-be-listening) stream socket, e.g. from sd_listen_fds(). */
int gateway_add_listen_fd(Gateway *g, int fd);
/* Binds and listens on "ADDR:PORT" ("127.0.0.1:8443", "[::1]:0", "*:8443"); *ret_port is the bound port. */
int gateway_listen(Gateway *g, const char *address, uint16_t *ret_port);
unsigned gateway_n_connections(const Gateway *g);
/* Connections accepted since the start and set up (not those closed at once for the connection limit). */
uint64_t gateway_n_accepted(const Gateway *g);

/* Called once per batch of accepted connections, before they get their TLS objects: main.c re-reads a
 * changed CRL there, so that a revocation applies to the next connection. */
typedef void (*GatewayAcceptHook)(void *userdata);
void gateway_set_accept_hook(Gateway *g, GatewayAcceptHook hook, void *userdata);

/* The HTTP error for a failed D-Bus call: a method error reply (error set) or a local failure r < 0. */
void gateway_error_from_bus(const sd_bus_error *error, int r, HttpError *ret);
