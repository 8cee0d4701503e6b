/* SPDX-License-Identifier: MIT */
/* gateway.c - TLS connections on sd-event and the HTTP -> D-Bus bridge.
 *
 * One connection is a small state machine: HANDSHAKE (non-blocking SSL_accept, bounded by a timeout), then
 * OPEN, where requests are parsed and answered strictly one at a time (pipelined bytes wait in a bounded
 * input buffer). A request becomes exactly one asynchronous call of the Remote interface (two for start and
 * stop: the job object is fetched afterwards); its reply becomes the response. Output streaming copies from
 * the fd teleworkerd passes to the TLS connection through a bounded buffer: when the client does not read,
 * reading from the job's stream stops (backpressure) and a write timeout eventually closes the connection.
 *
 * Nothing here blocks: the bus calls are sd_bus_call_async(), the sockets and the output fd are
 * non-blocking, and every state that waits on the client has a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <systemd/sd-daemon.h>

#include "bus-json.h"
#include "bus-start.h"
#include "gateway.h"
#include "http-job.h"
#include "http.h"
#include "macro.h"
#include "peer-table.h"
#include "tls.h"
#include "util.h"

#define GATEWAY_IN_MAX (16U * 1024U)        /* unparsed (pipelined) request bytes held per connection */
#define GATEWAY_OUT_HIGH (64U * 1024U)      /* the next pipelined request waits while more output is pending */
#define GATEWAY_OUTPUT_READ (256U * 1024U)  /* one read(2) from a job's output fd, one HTTP chunk */
#define GATEWAY_OUTPUT_LOW (16U * 1024U)    /* read job output only when less than a full TLS record waits */
#define GATEWAY_TLS_OUT_MAX (256U * 1024U)  /* ciphertext waiting for the socket (many records per send(2)) */
#define GATEWAY_OUTPUT_BUDGET (1024U * 1024U) /* job output moved per event dispatch before others get a turn */
#define GATEWAY_ACCEPT_BATCH 64
#define GATEWAY_BUS_USERS_MAX 100U          /* connections per bus connection (see connection_get_bus()) */
#define USEC_INFINITY UINT64_MAX

#define IN_SET(x, ...)                                                  \
        ({                                                              \
                const int _v_ = (int) (x);                              \
                const int _a_[] = { __VA_ARGS__ };                      \
                bool _f_ = false;                                       \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_a_); _i_++)      \
                        if (_a_[_i_] == _v_)                            \
                                _f_ = true;                             \
                _f_;                                                    \
        })


int gateway_log_max_level = LOG_INFO;

void gateway_log(int level, const char *fmt, ...) {
        static int journal = -1;
        va_list ap;

        if (level > gateway_log_max_level)
                return;
        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;
        if (journal)
                fprintf(stderr, "<%d>", level);
        else
                fputs("teleworker-gateway: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

#define log_debug(...) gateway_log(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) gateway_log(LOG_INFO, __VA_ARGS__)
#define log_notice(...) gateway_log(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) gateway_log(LOG_WARNING, __VA_ARGS__)
#define log_error(...) gateway_log(LOG_ERR, __VA_ARGS__)

typedef enum ConnectionState {
        CONNECTION_HANDSHAKE,
        CONNECTION_OPEN,
} ConnectionState;

typedef struct Connection Connection;

typedef struct GatewayBus {
        sd_bus *bus;
        unsigned n_users;          /* connections that make their calls on it */
} GatewayBus;

struct Gateway {
        sd_event *event;
        GatewayBus *buses;         /* [0]: the one given to gateway_new(), or ours; more of ours when busy */
        size_t n_buses;
        bool bus_owned;            /* opened by us: reopened after a disconnect */
        SSL_CTX *ssl_ctx;
        GatewayConfig config;

        sd_event_source **listen_sources;
        size_t n_listen_sources;
        sd_event_source *accept_retry;   /* listening paused after EMFILE/ENFILE */

        Connection *connections;       /* oldest first */
        Connection *connections_tail;
        unsigned n_connections;
        unsigned n_handshakes;         /* of them: TLS handshake unfinished */
        bool busy;                     /* more than half of max_connections in use: short handshake deadline */
        uint64_t n_accepted;
        uint64_t n_evicted, n_refused; /* since room_report_usec: connections closed to make room, new ones
                                        * refused for lack of it (gateway_report_room()) */
        uint64_t room_report_usec;
        PeerTable peers;               /* per source address and per principal */

        GatewayAcceptHook accept_hook;
        void *accept_hook_userdata;
};

struct Connection {
        Gateway *gateway;
        Connection *prev, *next;
        size_t bus_index;
        bool has_bus;

        int fd;
        SSL *ssl;
        sd_event_source *io;
        sd_event_source *timer;
        char peer[64];
        ConnectionState state;
        TlsPrincipal principal;
        PeerEntry *address;         /* counts of the source address */
        PeerEntry *owner;           /* counts of the principal (once authenticated; NULL when over its limit) */
        bool over_principal_limit;  /* the first request is answered 429, then the connection closes */

        /* TLS directions that are blocked on the other direction. */
        bool read_wants_write, write_wants_read;
        bool peer_closed;
        bool close_after_flush;
        uint64_t bytes_in, bytes_out;
        bool out_pending;
        TlsWriteBuffer tls_out;     /* records waiting for the socket */

        char in[GATEWAY_IN_MAX];
        size_t in_start, in_end;
        HttpParser parser;
        HttpBuffer out;

        uint64_t accepted_usec, activity_usec, request_start_usec, write_progress_usec;
        uint64_t handshake_deadline_usec;   /* shortened under pressure, never lengthened again */
        bool request_started;
        unsigned n_requests;
        double tokens;
        uint64_t tokens_usec;

        /* The request being answered. */
        bool busy;
        bool keep_alive;
        HttpRoute route;
        char *log_target;           /* method and target, escaped, for the access log */
        sd_bus_slot *slot;
        char job_id[JOB_ID_STRING_MAX];
        int output_fd;
        sd_event_source *output_source;
        bool output_waiting;        /* output_source is on: reading resumes when it fires (the fd had nothing,
                                     * or this connection had its share of the event loop) */
        uint64_t output_bytes;
};

static int connection_update(Connection *c);
static int connection_pump(Connection *c);

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

static uint64_t gateway_now(Gateway *g) {
        uint64_t t;

        if (sd_event_now(g->event, CLOCK_MONOTONIC, &t) < 0)
                t = now_usec(CLOCK_MONOTONIC);
        return t;
}

/* ---- errors -------------------------------------------------------------------------------------------- */

void gateway_error_from_bus(const sd_bus_error *error, int r, HttpError *ret) {
        const ApiError *e;

        if (sd_bus_error_is_set(error)) {
                e = api_error_from_name(error->name);
                if (!e) {
                        http_error_set(ret, 500, "internal-error", "Internal error.");
                        return;
                }
                /* The daemon's messages are written for callers; bus-level ones (503) are not. */
                if (e->http_status == 503)
                        http_error_set(ret, 503, e->http_code, "The job daemon is not available.");
                else
                        http_error_set(ret, e->http_status, e->http_code, "%s",
                                       error->message && *error->message ? error->message : "Request refused.");
                return;
        }
        if (api_errno_is_unreachable(r))
                http_error_set(ret, 503, "daemon-unavailable", "The job daemon is not available.");
        else
                http_error_set(ret, 500, "internal-error", "Internal error.");
}

/* ---- connections: lifetime ------------------------------------------------------------------------------ */

/* A connection is done with its bus connection (see connection_get_bus()): an extra one of ours that nobody
 * uses any more is closed. */
static void gateway_release_bus(Gateway *g, size_t i) {
        GatewayBus *b = &g->buses[i];

        if (--b->n_users == 0 && i > 0 && g->bus_owned)
                b->bus = sd_bus_close_unref(b->bus);
}

static void gateway_update_busy(Gateway *g);

static Connection *connection_free(Connection *c) {
        if (!c)
                return NULL;
        if (c->gateway) {
                Gateway *g = c->gateway;

                if (c->prev)
                        c->prev->next = c->next;
                else
                        g->connections = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                else
                        g->connections_tail = c->prev;
                g->n_connections--;
                if (c->state == CONNECTION_HANDSHAKE)
                        g->n_handshakes--;
                if (c->address) {
                        c->address->n_connections--;
                        if (c->state == CONNECTION_HANDSHAKE)
                                c->address->n_handshakes--;
                        peer_table_unref(&g->peers, c->address);
                }
                if (c->owner) {
                        c->owner->n_connections--;
                        peer_table_unref(&g->peers, c->owner);
                }
                gateway_update_busy(g);
        }
        sd_bus_slot_unref(c->slot);
        if (c->gateway && c->has_bus)
                gateway_release_bus(c->gateway, c->bus_index);
        sd_event_source_disable_unref(c->output_source);
        safe_close(c->output_fd);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        if (c->ssl)
                SSL_free(c->ssl);
        tls_write_buffer_done(&c->tls_out);   /* after SSL_free: its write BIO points here */
        safe_close(c->fd);
        http_parser_done(&c->parser);
        http_buffer_done(&c->out);
        free(c->log_target);
        free(c);
        return NULL;
}

static const char *connection_who(Connection *c) {
        return c->state == CONNECTION_OPEN ? c->principal.name : "-";
}

/* Response bytes not yet handed to the socket: plaintext and records. */
static size_t connection_out_pending(const Connection *c) {
        return http_buffer_size(&c->out) + tls_write_buffer_pending(&c->tls_out);
}

/* Discards what the peer sent that nobody will read. With unread bytes in its receive queue the kernel
 * answers close() with a reset instead of a FIN, and a reset can make the peer throw away what we sent last
 * (a handshake alert, an error response) before reading it. Bounded: a peer that keeps sending gets its
 * reset. */
static void connection_drain_input(int fd) {
        char buf[16384];

        for (unsigned i = 0; i < 4; i++)
                if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
                        break;
}

/* Ends a connection from an event callback. A graceful end sends close_notify first. Whatever records are
 * pending (close_notify, a handshake alert, the rest of a cut response) get one try to leave: the socket is
 * non-blocking and nothing waits for the peer. */
static void connection_end(Connection *c, int r) {
        if (r > 0 && c->state == CONNECTION_OPEN && !c->peer_closed) {
                ERR_clear_error();
                (void) SSL_shutdown(c->ssl);
        }
        ERR_clear_error();
        (void) tls_write_buffer_send(&c->tls_out, c->fd, NULL);
        connection_drain_input(c->fd);
        connection_free(c);
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

static int connection_update(Connection *c);

static uint64_t gateway_handshake_timeout(const Gateway *g) {
        return g->busy ? MIN(g->config.handshake_timeout_busy_usec, g->config.handshake_timeout_usec) :
                         g->config.handshake_timeout_usec;
}

/* Under pressure (more than half of the slots in use) an unfinished handshake gets the short deadline, those
 * already waiting too when it begins. It is not lengthened again when the pressure ends: a flood that keeps
 * the count near the threshold would otherwise buy its connections the long deadline back. */
static void gateway_update_busy(Gateway *g) {
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

/* ---- connections: responses ---------------------------------------------------------------------------- */

/* The request is answered (its response is queued): log it, decide about keep-alive, accept the next. */
static void connection_request_done(Connection *c, unsigned status) {
        log_info("%s %s \"%s\" %u", c->peer, connection_who(c), c->log_target ?: "-", status);
        c->log_target = mfree(c->log_target);
        c->busy = false;
        c->slot = sd_bus_slot_unref(c->slot);
        if (!c->keep_alive)
                c->close_after_flush = true;
        c->activity_usec = gateway_now(c->gateway);
        http_parser_next(&c->parser);
        c->request_started = false;
}

static int connection_respond_error(Connection *c, const HttpError *e) {
        int r;

        r = http_buffer_add_error_response(&c->out, e, c->keep_alive);
        if (r < 0)
                return r;
        connection_request_done(c, e->status);
        return 0;
}

static int connection_respond_json(Connection *c, unsigned status, json_object *o, const char *extra_headers) {
        const char *s;
        int r;

        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        r = http_buffer_add_json_response(&c->out, status, s, c->keep_alive, extra_headers);
        if (r < 0)
                return r;
        connection_request_done(c, status);
        return 0;
}

/* Reply callbacks finish here: push what was queued, or end the connection. */
static int connection_after_event(Connection *c, int r) {
        if (r >= 0)
                r = connection_pump(c);
        if (r == 0)
                r = connection_update(c);
        if (r != 0)
                connection_end(c, r);
        return 0;
}

/* A failed reply or a failure to make the call; the response is the mapped error. */
static int connection_fail_bus(Connection *c, sd_bus_message *reply, int r, const char *method) {
        HttpError e = {};

        if (reply)
                log_debug("%s %s: %s failed: %s: %s", c->peer, connection_who(c), method,
                          sd_bus_message_get_error(reply)->name, sd_bus_message_get_error(reply)->message);
        else
                log_warning("%s %s: %s failed: %s", c->peer, connection_who(c), method, strerror(-r));
        gateway_error_from_bus(reply ? sd_bus_message_get_error(reply) : NULL, r, &e);
        if (e.status == 500 && reply)
                log_warning("%s %s: %s failed: %s", c->peer, connection_who(c), method,
                            sd_bus_message_get_error(reply)->name);
        return connection_respond_error(c, &e);
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
static int connection_get_bus(Connection *c, sd_bus **ret) {
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

static int connection_new_call(Connection *c, const char *method, sd_bus_message **ret) {
        sd_bus *bus;
        int r;

        r = connection_get_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, ret, GATEWAY_BUS_NAME, GATEWAY_BUS_PATH, GATEWAY_BUS_INTERFACE,
                                           method);
        if (r < 0)
                return r;
        return sd_bus_message_append(*ret, "sb", c->principal.name, (int) c->principal.admin);
}

static int connection_call(Connection *c, sd_bus_message *m, sd_bus_message_handler_t callback,
                           uint64_t timeout) {
        /* The slot is ours: freeing the connection cancels the call. */
        return sd_bus_call_async(sd_bus_message_get_bus(m), &c->slot, m, callback, c, timeout);
}

static int on_props_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

/* GetJobAs for c->job_id, answered with status. */
static int connection_get_job(Connection *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = connection_new_call(c, "GetJobAs", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", c->job_id);
        if (r >= 0)
                r = connection_call(c, m, on_props_reply, c->gateway->config.bus_timeout_usec);
        return r;
}

static int on_props_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(http_json_putp) json_object *o = NULL;
        Connection *c = userdata;
        char extra[128] = "";
        unsigned status = 200;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "GetJobAs/WaitAs"));

        r = bus_job_props_to_json(reply, &o);
        if (r < 0) {
                log_warning("%s %s: malformed job properties from the daemon: %s", c->peer, connection_who(c),
                            strerror(-r));
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "GetJobAs"));
        }
        if (c->route.id == HTTP_ROUTE_JOBS_START) {
                status = 201;
                (void) snprintf(extra, sizeof(extra), "Location: /v1/jobs/%s\r\n", c->job_id);
        }
        return connection_after_event(c, connection_respond_json(c, status, o, extra));
}

static int on_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        const char *id = NULL, *path = NULL;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "StartAs"));
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0 || !job_id_is_valid(id))
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "StartAs"));
        (void) snprintf(c->job_id, sizeof(c->job_id), "%s", id);
        log_info("%s %s: started job %s", c->peer, connection_who(c), c->job_id);

        r = connection_get_job(c);
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, r, "GetJobAs"));
        return 0;
}

static int on_stop_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "StopAs"));
        r = connection_get_job(c);
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, r, "GetJobAs"));
        return 0;
}

static int on_list_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(http_json_putp) json_object *o = NULL;
        json_object *jobs = NULL;
        Connection *c = userdata;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        const char *next = NULL;

        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "ListPageAs"));
        r = bus_job_list_to_json(reply, &jobs);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &next);
        if (r < 0) {
                json_object_put(jobs);
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "ListPageAs"));
        }
        /* One page of the daemon's (docs/http.md): "next" is the cursor of the following page, null at the end. */
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "jobs", jobs) < 0) {
                json_object_put(jobs);
                return connection_after_event(c, -ENOMEM);
        }
        if (json_object_object_add(o, "next", *next ? json_object_new_string(next) : NULL) < 0)
                return connection_after_event(c, -ENOMEM);
        return connection_after_event(c, connection_respond_json(c, 200, o, NULL));
}

/* ---- output streaming ---------------------------------------------------------------------------------- */

/* The job's output is copied by connection_flush(): whenever less than a TLS record of response is left to
 * encrypt, it reads the next chunk (up to GATEWAY_OUTPUT_READ bytes, straight into the response buffer,
 * framed in place) from the output fd. Reading is paced by the socket, not by epoll: while the client keeps
 * up, the fd is read without asking epoll first, and output_source (EPOLLIN) is switched on only after a
 * read found the pipe empty, or after GATEWAY_OUTPUT_BUDGET bytes in one go (a fast client of a finished
 * job would otherwise keep the loop to itself). When the client does not read, the socket fills, flushing
 * stops, and so does reading: the daemon keeps the bytes in its spool. Per connection that bounds what the
 * gateway holds to one chunk, one TLS record in OpenSSL and GATEWAY_TLS_OUT_MAX of records. */

static void connection_output_done(Connection *c) {
        c->output_source = sd_event_source_disable_unref(c->output_source);
        c->output_fd = safe_close(c->output_fd);
        c->output_waiting = false;
}

/* Stops reading until output_source fires. */
static int connection_output_wait(Connection *c) {
        int r;

        r = sd_event_source_set_enabled(c->output_source, SD_EVENT_ON);
        if (r < 0)
                return r;
        c->output_waiting = true;
        return 0;
}

/* Reads one chunk of output into the response. At EOF, ends the response. 0, or <0 (fatal: the client sees
 * the stream cut, without the last chunk). */
static int connection_output_read(Connection *c) {
        char *p;
        ssize_t n;
        int r;

        r = http_buffer_begin_chunk(&c->out, GATEWAY_OUTPUT_READ, &p);
        if (r < 0)
                return r;
        do
                n = read(c->output_fd, p, GATEWAY_OUTPUT_READ);
        while (n < 0 && errno == EINTR);
        http_buffer_commit_chunk(&c->out, n > 0 ? (size_t) n : 0);
        if (n > 0) {
                c->output_bytes += (uint64_t) n;
                return 0;
        }
        if (n < 0 && errno == EAGAIN)
                /* Nothing yet (a running job): let epoll say when there is. */
                return connection_output_wait(c);
        if (n < 0) {
                r = -errno;
                log_warning("%s %s: reading output of %s failed: %s", c->peer, connection_who(c),
                            c->route.job_id, strerror(-r));
                return r;
        }

        connection_output_done(c);
        r = http_buffer_add_chunk(&c->out, NULL, 0);
        if (r < 0)
                return r;
        log_debug("%s %s: streamed %" PRIu64 " bytes of %s", c->peer, connection_who(c), c->output_bytes,
                  c->route.job_id);
        connection_request_done(c, 200);
        return 0;
}

static int on_output_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;
        int r;

        /* Readable (or hung up): connection_flush() reads from here on, as long as the client keeps up. */
        c->output_waiting = false;
        r = sd_event_source_set_enabled(c->output_source, SD_EVENT_OFF);
        return connection_after_event(c, r);
}

static int on_output_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        int fd = -EBADF, r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "OpenOutputAs"));
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "OpenOutputAs"));
        /* The message owns fd; keep our own copy. */
        c->output_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (c->output_fd < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, -errno, "OpenOutputAs"));
        r = fd_nonblock(c->output_fd, true);
        if (r >= 0)
                r = sd_event_add_io(c->gateway->event, &c->output_source, c->output_fd, EPOLLIN, on_output_io, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->output_source, SD_EVENT_OFF);
        if (r < 0) {
                connection_output_done(c);
                return connection_after_event(c, connection_fail_bus(c, NULL, r, "OpenOutputAs"));
        }
        (void) sd_event_source_set_description(c->output_source, "gateway-output");
        r = http_buffer_add_response_head(&c->out, 200, "application/octet-stream", -1, c->keep_alive, NULL);
        return connection_after_event(c, r);
}

/* ---- requests ------------------------------------------------------------------------------------------ */

static int connection_start(Connection *c, const HttpRequest *req) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(start_request_done) StartRequest j = {};
        HttpError e = {};
        int r;

        r = http_job_request_parse(req->body, req->body_size, &j, &e);
        if (r == -EINVAL)
                return connection_respond_error(c, &e);
        if (r < 0)
                return r;

        r = connection_new_call(c, "StartAs", &m);
        if (r < 0)
                return connection_fail_bus(c, NULL, r, "StartAs");
        r = bus_append_start_request(m, &j);
        if (r == -EINVAL) {
                /* sd-bus refuses strings that are not valid UTF-8 (the JSON decoder already checked that). */
                http_error_set(&e, 400, "invalid-request", "The request contains strings D-Bus cannot carry.");
                return connection_respond_error(c, &e);
        }
        if (r >= 0)
                r = connection_call(c, m, on_start_reply, c->gateway->config.bus_timeout_usec);
        if (r < 0)
                return connection_fail_bus(c, NULL, r, "StartAs");
        return 0;
}

static int connection_dispatch(Connection *c, const HttpRequest *req) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const GatewayConfig *cfg = &c->gateway->config;
        HttpError e = {};
        uint64_t now = gateway_now(c->gateway);
        int r;

        free(c->log_target);
        c->log_target = str_escape(req->url ?: "", 200);
        if (c->log_target) {
                char *t = NULL;

                if (asprintf(&t, "%s %s", http_method_str(req->method), c->log_target) >= 0) {
                        free(c->log_target);
                        c->log_target = t;
                }
        }
        c->busy = true;
        c->n_requests++;
        c->keep_alive = req->keep_alive && c->n_requests < cfg->max_requests;

        if (c->over_principal_limit) {
                http_error_set(&e, 429, "too-many-connections", "More than %u connections of '%s' are open.",
                               cfg->max_per_principal, c->principal.name);
                c->keep_alive = false;
                return connection_respond_error(c, &e);
        }

        /* Per connection token bucket. */
        c->tokens = MIN((double) cfg->rate_burst,
                        c->tokens + (double) (now - c->tokens_usec) * cfg->rate_per_sec / (double) USEC_PER_SEC);
        c->tokens_usec = now;
        if (c->tokens < 1.0) {
                http_error_set(&e, 429, "too-many-requests", "More than %u requests per second on one "
                               "connection.", cfg->rate_per_sec);
                c->keep_alive = false;
                return connection_respond_error(c, &e);
        }
        c->tokens -= 1.0;

        r = http_route(req->method, req->url, req->url_size, &c->route, &e);
        if (r < 0)
                return connection_respond_error(c, &e);
        if (c->route.id != HTTP_ROUTE_JOBS_START && req->body_size > 0) {
                http_error_set(&e, 400, "bad-request", "This request takes no body.");
                return connection_respond_error(c, &e);
        }
        (void) snprintf(c->job_id, sizeof(c->job_id), "%s", c->route.job_id);

        switch (c->route.id) {
        case HTTP_ROUTE_JOBS_START:
                return connection_start(c, req);

        case HTTP_ROUTE_JOBS_LIST:
                r = connection_new_call(c, "ListPageAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "su", c->route.cursor, c->route.limit);
                if (r >= 0)
                        r = connection_call(c, m, on_list_reply, cfg->bus_timeout_usec);
                break;

        case HTTP_ROUTE_JOB_GET:
                if (!c->route.wait) {
                        r = connection_get_job(c);
                        break;
                }
                r = connection_new_call(c, "WaitAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c->job_id);
                /* No timeout: jobs run as long as they run; a client that goes away cancels the call. */
                if (r >= 0)
                        r = connection_call(c, m, on_props_reply, USEC_INFINITY);
                break;

        case HTTP_ROUTE_JOB_STOP:
                r = connection_new_call(c, "StopAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c->job_id);
                if (r >= 0)
                        r = connection_call(c, m, on_stop_reply, cfg->stop_timeout_usec);
                break;

        case HTTP_ROUTE_JOB_OUTPUT:
                r = connection_new_call(c, "OpenOutputAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "stb", c->job_id, c->route.offset, (int) c->route.follow);
                if (r >= 0)
                        r = connection_call(c, m, on_output_reply, cfg->bus_timeout_usec);
                break;

        default:
                return -EINVAL;
        }
        if (r < 0)
                return connection_fail_bus(c, NULL, r, "call");
        return 0;
}

/* Feeds buffered input to the parser and handles at most one complete request. */
static int connection_process_input(Connection *c) {
        HttpFeedResult f;
        size_t used = 0;
        int r;

        while (!c->busy && !c->close_after_flush && c->in_end > c->in_start) {
                f = http_parser_feed_data(&c->parser, c->in + c->in_start, c->in_end - c->in_start, &used);
                c->in_start += used;
                if (c->in_start == c->in_end)
                        c->in_start = c->in_end = 0;
                if (!c->request_started && http_parser_in_request(&c->parser)) {
                        c->request_started = true;
                        c->request_start_usec = gateway_now(c->gateway);
                }

                switch (f) {
                case HTTP_FEED_MORE:
                        break;
                case HTTP_FEED_CONTINUE:
                        r = http_buffer_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                        if (r < 0)
                                return r;
                        break;
                case HTTP_FEED_REQUEST:
                        r = connection_dispatch(c, &c->parser.request);
                        if (r < 0)
                                return r;
                        break;
                case HTTP_FEED_ERROR:
                        c->busy = true;
                        free(c->log_target);
                        c->log_target = strdup("(malformed request)");
                        c->keep_alive = false;
                        return connection_respond_error(c, &c->parser.error);
                }
        }
        return 0;
}

/* ---- TLS I/O ------------------------------------------------------------------------------------------- */

/* Writes pending output: the response buffer (and job output, read as the socket takes it) is encrypted into
 * tls_out, a socket write's worth of TLS records at a time, then sent. 0 when blocked or done; <0 on a dead
 * connection. */
static int connection_flush(Connection *c) {
        uint64_t output_start = c->output_bytes;

        c->write_wants_read = false;
        /* The write timeout counts from when output became pending, not from the last response: a reply
         * that took the daemon ten minutes must not look like a ten minute stall of the client. */
        if (connection_out_pending(c) > 0 && !c->out_pending) {
                c->out_pending = true;
                c->write_progress_usec = gateway_now(c->gateway);
        }

        for (;;) {
                size_t sent = 0;
                int r;

                /* Plaintext -> records, until tls_out is full. */
                while (!c->write_wants_read) {
                        size_t written = 0;
                        int k;

                        if (c->output_fd >= 0 && !c->output_waiting &&
                            http_buffer_size(&c->out) < GATEWAY_OUTPUT_LOW) {
                                if (c->output_bytes - output_start >= GATEWAY_OUTPUT_BUDGET)
                                        r = connection_output_wait(c);   /* the fd is readable: soon back */
                                else
                                        r = connection_output_read(c);
                                if (r < 0)
                                        return r;
                        }
                        if (http_buffer_size(&c->out) == 0)
                                break;

                        ERR_clear_error();
                        k = SSL_write_ex(c->ssl, http_buffer_head(&c->out), http_buffer_size(&c->out), &written);
                        if (k > 0) {
                                http_buffer_consume(&c->out, written);
                                continue;
                        }
                        switch (SSL_get_error(c->ssl, k)) {
                        case SSL_ERROR_WANT_WRITE:   /* tls_out is full */
                                break;
                        case SSL_ERROR_WANT_READ:
                                c->write_wants_read = true;
                                break;
                        default:
                                log_debug("%s %s: TLS write failed", c->peer, connection_who(c));
                                return -EPIPE;
                        }
                        break;
                }

                /* Records -> socket. */
                if (tls_write_buffer_pending(&c->tls_out) == 0)
                        break;
                r = tls_write_buffer_send(&c->tls_out, c->fd, &sent);
                if (sent > 0) {
                        c->bytes_out += sent;
                        c->write_progress_usec = gateway_now(c->gateway);
                }
                if (r == -EAGAIN)
                        return 0;
                if (r < 0) {
                        log_debug("%s %s: sending failed: %s", c->peer, connection_who(c), strerror(-r));
                        return -EPIPE;
                }
        }

        if (connection_out_pending(c) == 0) {
                c->out_pending = false;
                /* Nothing in flight: an idle connection holds no output buffers. */
                if (c->output_fd < 0) {
                        http_buffer_release(&c->out);
                        tls_write_buffer_release(&c->tls_out);
                }
        }
        return 0;
}

/* Reads decrypted bytes into the input buffer until OpenSSL wants more from the socket or the buffer is full.
 * (OpenSSL may hold decrypted bytes epoll never reports, hence the loop.) */
static void connection_read(Connection *c) {
        c->read_wants_write = false;
        for (;;) {
                size_t n = 0;
                int k;

                if (c->in_start > 0 && c->in_end == sizeof(c->in)) {
                        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
                        c->in_end -= c->in_start;
                        c->in_start = 0;
                }
                if (c->in_end == sizeof(c->in))
                        return;

                ERR_clear_error();
                k = SSL_read_ex(c->ssl, c->in + c->in_end, sizeof(c->in) - c->in_end, &n);
                if (k > 0) {
                        c->in_end += n;
                        c->bytes_in += n;
                        continue;
                }
                switch (SSL_get_error(c->ssl, k)) {
                case SSL_ERROR_WANT_READ:
                        return;
                case SSL_ERROR_WANT_WRITE:
                        c->read_wants_write = true;
                        return;
                case SSL_ERROR_ZERO_RETURN:   /* close_notify */
                        c->peer_closed = true;
                        return;
                default:                      /* EOF without close_notify, reset, protocol error */
                        c->peer_closed = true;
                        ERR_clear_error();
                        return;
                }
        }
}

/* Moves everything as far as it goes. 0: wait for events; 1: done, close gracefully; <0: abort. Loops while
 * anything moves: OpenSSL may hold decrypted bytes that no epoll event will announce. Every way to keep it
 * looping costs the client requests (rate limit) or bytes (size limits). */
static int connection_pump(Connection *c) {
        int r;

        for (;;) {
                uint64_t bytes_in = c->bytes_in, bytes_out = c->bytes_out;
                size_t out_before = connection_out_pending(c);
                bool busy_before = c->busy;

                r = connection_flush(c);
                if (r < 0)
                        return r;
                if (c->close_after_flush && connection_out_pending(c) == 0)
                        return 1;

                if (!c->peer_closed)
                        connection_read(c);

                /* Answer only when the previous response is mostly out: a client that pipelines but does
                 * not read cannot make us buffer responses. */
                if (connection_out_pending(c) < GATEWAY_OUT_HIGH) {
                        r = connection_process_input(c);
                        if (r < 0)
                                return r;
                }

                if (c->peer_closed) {
                        /* Nobody will read the answer to a request still in progress: cancel it. Requests that
                         * arrived complete before the end are still answered. */
                        if (c->busy)
                                return -ECONNRESET;
                        if (c->in_end == c->in_start)
                                c->close_after_flush = true;
                }

                if (bytes_in == c->bytes_in && bytes_out == c->bytes_out &&
                    out_before == connection_out_pending(c) && busy_before == c->busy &&
                    !(c->close_after_flush && connection_out_pending(c) == 0))
                        return 0;
        }
}

static uint64_t connection_deadline(Connection *c) {
        const GatewayConfig *cfg = &c->gateway->config;

        if (c->state == CONNECTION_HANDSHAKE)
                return c->handshake_deadline_usec;
        if (connection_out_pending(c) > 0)
                return c->write_progress_usec + cfg->write_timeout_usec;
        if (c->busy)
                return USEC_INFINITY;   /* waiting for the daemon or for job output, not for the client */
        if (c->request_started)
                return c->request_start_usec + cfg->request_timeout_usec;
        if (c->over_principal_limit)    /* refused: a moment for the request that learns why, no more */
                return c->activity_usec + MIN(cfg->handshake_timeout_busy_usec, cfg->idle_timeout_usec);
        return c->activity_usec + cfg->idle_timeout_usec;
}

/* Sets the epoll mask and the deadline from the state. */
static int connection_update(Connection *c) {
        uint32_t events = 0;
        uint64_t deadline;
        int r;

        if (c->state == CONNECTION_HANDSHAKE)
                events = c->read_wants_write || tls_write_buffer_pending(&c->tls_out) > 0 ? EPOLLOUT : EPOLLIN;
        else {
                bool room = c->in_end - c->in_start < sizeof(c->in);

                if ((!c->peer_closed && room) || c->write_wants_read)
                        events |= EPOLLIN;
                /* After connection_flush(), pending output means the socket is full (or TLS waits for a
                 * read); records left by a read (an alert, a key update) are sent from there too. */
                if ((connection_out_pending(c) > 0 && !c->write_wants_read) || c->read_wants_write)
                        events |= EPOLLOUT;
        }
        r = sd_event_source_set_io_events(c->io, events);
        if (r < 0)
                return r;

        deadline = connection_deadline(c);
        if (deadline == USEC_INFINITY)
                return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        r = sd_event_source_set_time(c->timer, deadline);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* Sends the handshake records OpenSSL left in tls_out. 0 when they are out or the socket is full. */
static int connection_handshake_send(Connection *c) {
        int r;

        r = tls_write_buffer_send(&c->tls_out, c->fd, NULL);
        if (r < 0 && r != -EAGAIN) {
                log_debug("%s: sending during the TLS handshake failed: %s", c->peer, strerror(-r));
                return r;
        }
        return 0;
}

/* The handshake is done: the connection leaves the unauthenticated count and joins its principal's. One
 * principal holds at most max_per_principal connections: past it, its own longest idle connection makes
 * room, else this one is answered 429 and closed (connection_dispatch()). */
static void connection_authenticated(Connection *c) {
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

static int connection_handshake(Connection *c) {
        char ebuf[512];
        int k, r;

        /* Our previous flight first: the client answers only once it has it. */
        r = connection_handshake_send(c);
        if (r < 0 || tls_write_buffer_pending(&c->tls_out) > 0)
                return r;

        ERR_clear_error();
        k = SSL_accept(c->ssl);
        if (k == 1) {
                if (tls_get_principal(c->ssl, &c->principal) < 0) {
                        /* Cannot happen: the verify callback applied the same rule. Refuse anyway. */
                        log_warning("%s: TLS handshake completed without an acceptable certificate", c->peer);
                        return -EPERM;
                }
                connection_authenticated(c);
                c->activity_usec = c->write_progress_usec = gateway_now(c->gateway);
                c->tokens = c->gateway->config.rate_burst;
                c->tokens_usec = c->activity_usec;
                log_debug("%s: TLS %s with %s%s", c->peer, SSL_get_version(c->ssl), c->principal.name,
                          c->principal.admin ? " (admin)" : "");
                return connection_pump(c);
        }
        switch (SSL_get_error(c->ssl, k)) {
        case SSL_ERROR_WANT_READ:
                c->read_wants_write = false;
                return connection_handshake_send(c);
        case SSL_ERROR_WANT_WRITE:
                c->read_wants_write = true;
                return connection_handshake_send(c);
        default: {
                const char *reason = tls_get_refusal_reason(c->ssl);

                tls_errors_to_string(ebuf, sizeof(ebuf));
                log_notice("%s: TLS handshake refused: %s", c->peer, reason ?: (*ebuf ? ebuf : "connection closed"));
                return -EPERM;
        }
        }
}

static int on_connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;
        int r;

        if (c->state == CONNECTION_HANDSHAKE)
                r = connection_handshake(c);
        else
                r = connection_pump(c);
        /* Reset, or shut down both ways: nothing can be sent any more. In any state: epoll reports these even
         * when EPOLLIN is off (input buffer full behind a stream), and level-triggered they would wake us in a
         * loop, the connection never freed, until the job's output moved again. */
        if (r == 0 && (revents & (EPOLLHUP | EPOLLERR)))
                r = -ECONNRESET;
        if (r == 0)
                r = connection_update(c);
        if (r != 0)
                connection_end(c, r);
        return 0;
}

static int on_connection_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Connection *c = userdata;

        if (c->state == CONNECTION_HANDSHAKE)
                log_notice("%s: TLS handshake timed out", c->peer);
        else if (connection_out_pending(c) > 0)
                log_notice("%s %s: client stopped reading; closing", c->peer, connection_who(c));
        else if (c->request_started)
                log_notice("%s %s: request not completed in time; closing", c->peer, connection_who(c));
        else
                log_debug("%s %s: idle; closing", c->peer, connection_who(c));
        /* An idle connection ends cleanly; a stuck one just ends. */
        connection_end(c, c->state == CONNECTION_OPEN && !c->request_started &&
                          connection_out_pending(c) == 0 ? 1 : -ETIMEDOUT);
        return 0;
}

static void format_peer(const struct sockaddr_storage *sa, char *buf, size_t size) {
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

/* Takes the reference on address. */
static int gateway_add_connection(Gateway *g, int fd, const struct sockaddr_storage *sa, PeerEntry *address) {
        _cleanup_(closep) int cfd = fd;
        Connection *c;
        int r;

        c = new0(Connection, 1);
        if (!c) {
                peer_table_unref(&g->peers, address);
                return -ENOMEM;
        }
        c->fd = TAKE_FD(cfd);
        c->output_fd = -EBADF;
        c->gateway = g;
        c->prev = g->connections_tail;
        if (g->connections_tail)
                g->connections_tail->next = c;
        else
                g->connections = c;
        g->connections_tail = c;
        g->n_connections++;
        g->n_handshakes++;
        c->address = address;
        address->n_connections++;
        address->n_handshakes++;
        format_peer(sa, c->peer, sizeof(c->peer));
        http_parser_init_request(&c->parser);
        c->accepted_usec = gateway_now(g);
        c->handshake_deadline_usec = c->accepted_usec + gateway_handshake_timeout(g);
        /* Every write is already a whole flight, response or buffer of records (tls_out): Nagle's algorithm
         * would only hold back the small ones, e.g. a stream's last chunk after its data, until the client's
         * delayed ACK (40 ms). */
        if (IN_SET(sa->ss_family, AF_INET, AF_INET6))
                (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int) { 1 }, sizeof(int));

        ERR_clear_error();
        c->ssl = SSL_new(g->ssl_ctx);
        if (!c->ssl || tls_set_fd_buffered(c->ssl, c->fd, &c->tls_out, GATEWAY_TLS_OUT_MAX) < 0) {
                connection_free(c);
                return -ENOMEM;
        }
        SSL_set_accept_state(c->ssl);

        r = sd_event_add_io(g->event, &c->io, c->fd, EPOLLIN, on_connection_io, c);
        if (r >= 0)
                r = sd_event_add_time(g->event, &c->timer, CLOCK_MONOTONIC, connection_deadline(c), 0,
                                      on_connection_timer, c);
        if (r < 0) {
                connection_free(c);
                return r;
        }
        (void) sd_event_source_set_description(c->io, "gateway-connection");
        (void) sd_event_source_set_description(c->timer, "gateway-connection-timer");
        log_debug("%s: connection accepted (%u open)", c->peer, g->n_connections);
        gateway_update_busy(g);
        return 0;
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

                        format_peer(&sa, peer, sizeof(peer));
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
