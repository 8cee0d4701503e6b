/* SPDX-License-Identifier: MIT */
/* gateway.c - teleworker-gateway's listener: the listening sockets, admission of new connections (the limits
 * per source address, per principal and in total, kept in the peer table) and the pool of bus connections
 * the requests are made on. A connection, once accepted, lives in connection.c; its requests in bridge.c.
 *
 * Nothing here blocks: the listening sockets are non-blocking and a pause after EMFILE is a timer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "gateway/gateway-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"

void gateway_config_init(GatewayConfig *c) {
        *c = (GatewayConfig) {
                .max_connections = 256,
                .max_per_address = 64,
                .max_handshakes_per_address = 16,
                .max_per_principal = 32,
                .handshake_timeout_usec = 10 * USEC_PER_SEC,
                .handshake_timeout_busy_usec = 1 * USEC_PER_SEC,
                .idle_timeout_usec = 60 * USEC_PER_SEC,
                .request_timeout_usec = 30 * USEC_PER_SEC,
                .write_timeout_usec = 60 * USEC_PER_SEC,
                .max_requests = 1000,
                .rate_per_sec = 20,
                .rate_burst = 40,
                .bus_timeout_usec = 60 * USEC_PER_SEC,
                .stop_timeout_usec = 300 * USEC_PER_SEC,
        };
}

uint64_t gateway_now(Gateway *g) {
        uint64_t t;

        if (sd_event_now(g->event, CLOCK_MONOTONIC, &t) < 0)
                t = now_usec(CLOCK_MONOTONIC);
        return t;
}

/* A connection is done with its bus connection (see connection_get_bus()): an extra one of ours that nobody
 * uses any more is closed. */
void gateway_release_bus(Gateway *g, size_t i) {
        GatewayBus *b = &g->buses[i];

        if (--b->n_users == 0 && i > 0 && g->bus_owned)
                b->bus = sd_bus_close_unref(b->bus);
}

/* ---- connections: limits ------------------------------------------------------------------------------- */

typedef enum GatewayEvict {
        GATEWAY_EVICT_HANDSHAKE,    /* only unfinished handshakes */
        GATEWAY_EVICT_IDLE,         /* only idle kept-alive connections */
        GATEWAY_EVICT_ANY,          /* an unfinished handshake (oldest), else an idle connection (longest idle) */
} GatewayEvict;

/* Nothing in flight and nothing the client started: closing it costs the client a reconnect, nothing else.
 * A new connection's first request gets handshake_timeout_busy_usec to arrive before the connection counts as
 * idle: it may be on its way (the handshake ends before the client's first bytes are read). */
static bool connection_is_idle(const Connection *c, uint64_t now) {
        if (c->state != CONNECTION_OPEN || c->busy || c->request_started || connection_out_pending(c) > 0)
                return false;
        return c->n_requests > 0 || now >= c->activity_usec + c->gateway->config.handshake_timeout_busy_usec;
}

/* The connection that gives way for another, among those of entry (the source address or the principal;
 * NULL: all), never keep. First an unfinished handshake (the list is oldest first, so the first found is the
 * oldest), then one refused for its principal's limit (it only waits to be told so), then the one idle
 * longest. */
static Connection *gateway_find_victim(Gateway *g, const Connection *keep, GatewayEvict what,
                                       const PeerEntry *entry) {
        Connection *refused = NULL, *idle = NULL;
        uint64_t now = gateway_now(g);

        for (Connection *c = g->connections; c; c = c->next) {
                if (c == keep || (entry && c->address != entry && c->owner != entry))
                        continue;
                if (c->state == CONNECTION_HANDSHAKE) {
                        if (what != GATEWAY_EVICT_IDLE)
                                return c;
                } else if (what == GATEWAY_EVICT_HANDSHAKE)
                        continue;
                else if (c->over_principal_limit && !c->busy && connection_out_pending(c) == 0) {
                        if (!refused)
                                refused = c;
                } else if (connection_is_idle(c, now) && (!idle || c->activity_usec < idle->activity_usec))
                        idle = c;
        }
        return refused ?: idle;
}

#define GATEWAY_ROOM_REPORT_USEC (10 * USEC_PER_SEC)

/* A flood would fill the journal with a line per connection: at most one summary per 10 s instead (the first
 * at once, so that the start of a flood shows). Each connection is still logged at debug level. */
static void gateway_report_room(Gateway *g) {
        uint64_t now = gateway_now(g);

        if (g->room_report_usec > 0 && now < g->room_report_usec + GATEWAY_ROOM_REPORT_USEC)
                return;
        log_notice("Connection limits reached: %" PRIu64 " connections closed to make room, %" PRIu64 " new ones "
                   "refused for lack of it (since the last report, at most %" PRIu64 " s ago)", g->n_evicted,
                   g->n_refused, GATEWAY_ROOM_REPORT_USEC / USEC_PER_SEC);
        g->n_evicted = g->n_refused = 0;
        g->room_report_usec = now;
}

/* Closes a connection to make room; false if there was none to close. */
static bool gateway_evict(Gateway *g, const Connection *keep, GatewayEvict what, const PeerEntry *entry,
                          const char *why) {
        Connection *victim = gateway_find_victim(g, keep, what, entry);

        if (!victim)
                return false;
        log_debug("%s %s: closed to make room (%s)", victim->peer, connection_who(victim), why);
        g->n_evicted++;
        connection_end(victim, victim->state == CONNECTION_OPEN ? 1 : -ECONNABORTED);
        gateway_report_room(g);
        return true;
}

uint64_t gateway_handshake_timeout(const Gateway *g) {
        return g->busy ? MIN(g->config.handshake_timeout_busy_usec, g->config.handshake_timeout_usec) :
                         g->config.handshake_timeout_usec;
}

/* Under pressure (more than half of the slots in use) an unfinished handshake gets the short deadline, those
 * already waiting too when it begins. It is not lengthened again when the pressure ends: a flood that keeps
 * the count near the threshold would otherwise buy its connections the long deadline back. */
void gateway_update_busy(Gateway *g) {
        bool busy = (uint64_t) g->n_connections * 2 > g->config.max_connections;

        if (busy == g->busy)
                return;
        g->busy = busy;
        if (!busy)
                return;
        log_info("More than half of %u connections in use (%u in TLS handshakes): handshake deadline now %" PRIu64
                 " ms", g->config.max_connections, g->n_handshakes, gateway_handshake_timeout(g) / USEC_PER_MSEC);
        for (Connection *c = g->connections; c; c = c->next)
                if (c->state == CONNECTION_HANDSHAKE && c->io && c->timer) {
                        c->handshake_deadline_usec = MIN(c->handshake_deadline_usec,
                                                         c->accepted_usec + gateway_handshake_timeout(g));
                        (void) connection_update(c);
                }
}

/* Makes room for a new connection from the address of key, oldest unauthenticated first. false: none of the
 * limits has room, and nothing can give way; the new connection is refused. The address's entry is looked up
 * again after each eviction: closing its last connection frees it. */
static bool gateway_make_room(Gateway *g, const PeerKey *key) {
        const GatewayConfig *cfg = &g->config;
        PeerEntry *e;

        e = peer_table_get(&g->peers, key);
        if (e && e->n_handshakes >= cfg->max_handshakes_per_address &&
            !gateway_evict(g, NULL, GATEWAY_EVICT_HANDSHAKE, e, "unfinished handshakes of this address"))
                return false;
        e = peer_table_get(&g->peers, key);
        if (e && e->n_connections >= cfg->max_per_address &&
            !gateway_evict(g, NULL, GATEWAY_EVICT_ANY, e, "connections of this address"))
                return false;
        if (g->n_connections >= cfg->max_connections &&
            !gateway_evict(g, NULL, GATEWAY_EVICT_ANY, NULL, "all connections in use"))
                return false;
        return true;
}

/* The handshake is done: the connection leaves the unauthenticated count and joins its principal's. One
 * principal holds at most max_per_principal connections: past it, its own longest idle connection makes
 * room, else this one is answered 429 and closed (connection_dispatch()). */
void connection_authenticated(Connection *c) {
        Gateway *g = c->gateway;
        PeerKey key;
        PeerEntry *e;

        c->state = CONNECTION_OPEN;
        g->n_handshakes--;
        c->address->n_handshakes--;

        peer_key_from_principal(c->principal.name, &key);
        e = peer_table_get(&g->peers, &key);
        if (e && e->n_connections >= g->config.max_per_principal &&
            !gateway_evict(g, c, GATEWAY_EVICT_IDLE, e, "principal's connection limit")) {
                log_notice("%s %s: more than %u connections of this principal; refusing this one", c->peer,
                           c->principal.name, g->config.max_per_principal);
                c->over_principal_limit = true;
                return;
        }
        e = peer_table_ref(&g->peers, &key);
        if (!e) {
                c->over_principal_limit = true;   /* out of memory: refuse rather than count nothing */
                return;
        }
        e->n_connections++;
        c->owner = e;
}

/* ---- the bus ------------------------------------------------------------------------------------------- */

/* (Re)opens a bus connection of ours. */
static int gateway_open_bus(Gateway *g, sd_bus **bus) {
        int r;

        *bus = sd_bus_flush_close_unref(*bus);
        r = sd_bus_open_system(bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(*bus, g->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                *bus = sd_bus_flush_close_unref(*bus);
        return r;
}

/* The bus connection c makes its calls on. dbus-daemon refuses a bus connection more than 128 pending calls
 * (max_replies_per_connection: LimitsExceeded, a 503 for the client), and a call may be pending for as long as
 * a job runs (wait=true). A connection has at most one call pending, so each bus connection of ours serves at
 * most GATEWAY_BUS_USERS_MAX connections, and more are opened as connections come: a few waiting clients
 * cannot lock everybody else out. */
int connection_get_bus(Connection *c, sd_bus **ret) {
        Gateway *g = c->gateway;
        GatewayBus *b;
        int r;

        if (!c->has_bus) {
                size_t i = 0;

                /* A bus given to us is the only one. */
                while (g->bus_owned && i < g->n_buses && g->buses[i].n_users >= GATEWAY_BUS_USERS_MAX)
                        i++;
                if (i == g->n_buses) {
                        GatewayBus *a = reallocarray(g->buses, g->n_buses + 1, sizeof(*a));

                        if (!a)
                                return -ENOMEM;
                        g->buses = a;
                        g->buses[g->n_buses++] = (GatewayBus) {};
                }
                c->bus_index = i;
                c->has_bus = true;
                g->buses[i].n_users++;
        }
        b = &g->buses[c->bus_index];
        if (b->bus && sd_bus_is_open(b->bus) > 0) {
                *ret = b->bus;
                return 0;
        }
        if (!g->bus_owned)
                return -ENOTCONN;
        /* Not opened yet, or the system bus went away (dbus restarted): connect for this and later requests. */
        r = gateway_open_bus(g, &b->bus);
        if (r < 0)
                return r;
        *ret = b->bus;
        return 0;
}

/* "ADDRESS:PORT" of a peer, for the log. */
void gateway_format_peer(const struct sockaddr_storage *sa, char *buf, size_t size) {
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;

        if (sa->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

                (void) inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
                port = ntohs(in->sin_port);
                (void) snprintf(buf, size, "%s:%u", host, port);
        } else if (sa->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

                (void) inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
                port = ntohs(in6->sin6_port);
                (void) snprintf(buf, size, "[%s]:%u", host, port);
        } else
                (void) snprintf(buf, size, "local");
}

/* ---- listening ----------------------------------------------------------------------------------------- */

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Gateway *g = userdata;

        g->accept_retry = sd_event_source_disable_unref(g->accept_retry);
        for (size_t i = 0; i < g->n_listen_sources; i++)
                (void) sd_event_source_set_enabled(g->listen_sources[i], SD_EVENT_ON);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Gateway *g = userdata;
        int r;

        if (g->accept_hook)
                g->accept_hook(g->accept_hook_userdata);
        for (unsigned i = 0; i < GATEWAY_ACCEPT_BATCH; i++) {
                PeerEntry *address;
                PeerKey key;
                struct sockaddr_storage sa = {};
                socklen_t salen = sizeof(sa);
                int cfd;

                cfd = accept4(fd, (struct sockaddr *) &sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (IN_SET(errno, EAGAIN, EINTR, ECONNABORTED, EPROTO))
                                return 0;
                        log_warning("accept() failed: %m");
                        if (IN_SET(errno, EMFILE, ENFILE, ENOBUFS, ENOMEM)) {
                                /* Out of fds: stop accepting for a moment instead of spinning. */
                                for (size_t k = 0; k < g->n_listen_sources; k++)
                                        (void) sd_event_source_set_enabled(g->listen_sources[k], SD_EVENT_OFF);
                                if (!g->accept_retry)
                                        (void) sd_event_add_time_relative(g->event, &g->accept_retry,
                                                                          CLOCK_MONOTONIC, USEC_PER_SEC, 0,
                                                                          on_accept_retry, g);
                        }
                        return 0;
                }
                peer_key_from_sockaddr(&sa, &key);
                if (!gateway_make_room(g, &key)) {
                        char peer[64];

                        gateway_format_peer(&sa, peer, sizeof(peer));
                        log_debug("%s: no room (every connection of this address, or all %u, busy); closing it",
                                  peer, g->config.max_connections);
                        g->n_refused++;
                        gateway_report_room(g);
                        safe_close(cfd);
                        continue;
                }
                address = peer_table_ref(&g->peers, &key);
                if (!address) {
                        safe_close(cfd);
                        continue;
                }
                g->n_accepted++;
                r = gateway_add_connection(g, cfd, &sa, address);
                if (r < 0)
                        log_warning("Failed to set up a connection: %s", strerror(-r));
        }
        return 0;
}

int gateway_add_listen_fd(Gateway *g, int fd) {
        _cleanup_(closep) int lfd = fd;
        sd_event_source **a;
        int r;

        r = fd_nonblock(lfd, true);
        if (r < 0)
                return r;
        a = reallocarray(g->listen_sources, g->n_listen_sources + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        g->listen_sources = a;
        r = sd_event_add_io(g->event, &a[g->n_listen_sources], lfd, EPOLLIN, on_accept, g);
        if (r < 0)
                return r;
        (void) sd_event_source_set_io_fd_own(a[g->n_listen_sources], true);
        (void) sd_event_source_set_description(a[g->n_listen_sources], "gateway-listen");
        TAKE_FD(lfd);
        g->n_listen_sources++;
        return 0;
}

int gateway_listen(Gateway *g, const char *address, uint16_t *ret_port) {
        _cleanup_(freep) char *host = NULL;
        _cleanup_(closep) int fd = -EBADF;
        struct addrinfo hints = {
                .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                .ai_socktype = SOCK_STREAM,
        };
        struct addrinfo *ai = NULL;
        struct sockaddr_storage sa = {};
        socklen_t salen = sizeof(sa);
        const char *colon, *port;
        int r, one = 1;

        colon = strrchr(address, ':');
        if (!colon || colon[1] == 0)
                return -EINVAL;
        port = colon + 1;
        if (address[0] == '[') {
                if (colon == address || colon[-1] != ']')
                        return -EINVAL;
                host = strndup(address + 1, (size_t) (colon - address - 2));
        } else
                host = strndup(address, (size_t) (colon - address));
        if (!host)
                return -ENOMEM;

        r = getaddrinfo(*host && !streq(host, "*") ? host : NULL, port, &hints, &ai);
        if (r != 0)
                return -EINVAL;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                freeaddrinfo(ai);
                return -errno;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        r = bind(fd, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        if (r < 0)
                return -errno;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        if (getsockname(fd, (struct sockaddr *) &sa, &salen) < 0)
                return -errno;
        if (ret_port)
                *ret_port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &sa)->sin6_port :
                                                             ((struct sockaddr_in *) &sa)->sin_port);
        return gateway_add_listen_fd(g, TAKE_FD(fd));
}

/* ---- the gateway --------------------------------------------------------------------------------------- */

int gateway_new(sd_event *event, sd_bus *bus, SSL_CTX *ssl_ctx, const GatewayConfig *config, Gateway **ret) {
        _cleanup_(gateway_freep) Gateway *g = NULL;
        int r;

        g = new0(Gateway, 1);
        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(event);
        g->ssl_ctx = ssl_ctx;
        r = peer_table_init(&g->peers);
        if (r < 0)
                return r;
        if (config)
                g->config = *config;
        else
                gateway_config_init(&g->config);

        g->buses = new0(GatewayBus, 1);
        if (!g->buses)
                return -ENOMEM;
        g->n_buses = 1;
        if (bus)
                g->buses[0].bus = sd_bus_ref(bus);
        else {
                g->bus_owned = true;
                r = gateway_open_bus(g, &g->buses[0].bus);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

Gateway *gateway_free(Gateway *g) {
        if (!g)
                return NULL;
        while (g->connections)
                connection_free(g->connections);
        peer_table_done(&g->peers);
        for (size_t i = 0; i < g->n_listen_sources; i++)
                sd_event_source_disable_unref(g->listen_sources[i]);
        free(g->listen_sources);
        sd_event_source_disable_unref(g->accept_retry);
        for (size_t i = 0; i < g->n_buses; i++)
                if (g->bus_owned)
                        sd_bus_flush_close_unref(g->buses[i].bus);
                else
                        sd_bus_unref(g->buses[i].bus);
        free(g->buses);
        sd_event_unref(g->event);
        free(g);
        return NULL;
}

unsigned gateway_n_connections(const Gateway *g) {
        return g->n_connections;
}

uint64_t gateway_n_accepted(const Gateway *g) {
        return g->n_accepted;
}

void gateway_set_accept_hook(Gateway *g, GatewayAcceptHook hook, void *userdata) {
        g->accept_hook = hook;
        g->accept_hook_userdata = userdata;
}
