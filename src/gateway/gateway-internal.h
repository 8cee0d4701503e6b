/* SPDX-License-Identifier: MIT */
/* gateway-internal.h - what the gateway's three files share: the Gateway and Connection objects and the calls
 * between the listener (gateway.c: listening, admission, bus pool), the connection state machine
 * (connection.c: TLS I/O, lifetime, deadlines) and the HTTP -> D-Bus bridge (bridge.c: routing, calls,
 * responses, output streaming). Not for anybody outside src/gateway: gateway.h is the public face. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <json-c/json.h>

#include "gateway/gateway.h"
#include "gateway/http.h"
#include "gateway/peer-table.h"
#include "transport/tls.h"
#include "shared/util.h"

#define GATEWAY_IN_MAX (16U * 1024U)        /* unparsed (pipelined) request bytes held per connection */
#define GATEWAY_OUT_HIGH (64U * 1024U)      /* the next pipelined request waits while more output is pending */
#define GATEWAY_OUTPUT_READ (256U * 1024U)  /* one read(2) from a job's output fd, one HTTP chunk */
#define GATEWAY_OUTPUT_LOW (16U * 1024U)    /* read job output only when less than a full TLS record waits */
#define GATEWAY_TLS_OUT_MAX (256U * 1024U)  /* ciphertext waiting for the socket (many records per send(2)) */
#define GATEWAY_OUTPUT_BUDGET (1024U * 1024U) /* job output moved per event dispatch before others get a turn */
#define GATEWAY_ACCEPT_BATCH 64
#define GATEWAY_BUS_USERS_MAX 100U          /* connections per bus connection (see connection_get_bus()) */

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
        bool peer_close_notify;     /* ...with close_notify: for an attached stream a half-close */
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
        uint64_t events_last;       /* GET /v1/events: the id of the last event sent (0: none yet) */
        bool events_head_sent;


        /* POST …/input: the request body goes to the job's stdin pipe (OpenInputAs), one piece of the input
         * buffer at a time; what the pipe did not take waits in input_buf (at most GATEWAY_IN_MAX) with
         * reading from the client stopped, so a job that does not read holds the client back (backpressure). */
        int input_fd;
        sd_event_source *input_source;
        bool input_streaming;       /* the job's input is open: feed the body */
        bool input_closed_by_job;   /* EPIPE: the rest of the body is read and dropped */
        char *input_buf;
        size_t input_pending;
        uint64_t input_bytes;

        /* POST …/attach (bridge-attach.c): attaching while the calls that open the job's output and input are
         * out; attached once the 101 is queued: from then on the connection is a raw duplex stream, what the
         * client sends goes to input_fd as above (c->in is the buffer), output_fd's bytes go out unframed. */
        bool attaching;
        bool attached;
};

/* gateway.c: the clock, admission and the bus pool. */
uint64_t gateway_now(Gateway *g);
uint64_t gateway_handshake_timeout(const Gateway *g);
void gateway_update_busy(Gateway *g);
void gateway_release_bus(Gateway *g, size_t i);
void gateway_format_peer(const struct sockaddr_storage *sa, char *buf, size_t size);
/* The handshake is done: the connection counts for its principal now (or is over the principal's limit). */
void connection_authenticated(Connection *c);
int connection_get_bus(Connection *c, sd_bus **ret);

/* bridge-input.c: a streamed request body (POST …/input) goes to the job rather than to the parser's buffer;
 * the replies of OpenInputAs and ResizeAs. */
bool connection_input_wants_body(const Connection *c);
void connection_input_done(Connection *c);
int connection_input_write(Connection *c, const char *data, size_t n);
int connection_input_open(Connection *c, sd_bus_message *reply);
int connection_input_end(Connection *c);
int connection_on_input_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);
int connection_on_resize_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

/* bridge-attach.c: POST …/attach, an Upgrade to a raw duplex stream with the job's terminal. */
int connection_attach(Connection *c, const HttpRequest *req);
int connection_attach_input(Connection *c);
int connection_attach_peer_closed(Connection *c);
int connection_attach_output_end(Connection *c);

/* connection.c: the state machine. gateway_add_connection() takes the fd and the reference on address. */
int gateway_add_connection(Gateway *g, int fd, const struct sockaddr_storage *sa, PeerEntry *address);
Connection *connection_free(Connection *c);
const char *connection_who(Connection *c);
size_t connection_out_pending(const Connection *c);
void connection_end(Connection *c, int r);
int connection_pump(Connection *c);
int connection_update(Connection *c);

/* bridge.c: requests and responses. connection_process_input() handles at most one complete request;
 * connection_output_read() moves a chunk of a job's output into the response, connection_output_wait()
 * pauses that until the job's fd is readable. */
int connection_process_input(Connection *c);
int connection_output_read(Connection *c);
int connection_output_wait(Connection *c);
/* The job's output fd is readable again (output_source), and the end of an output stream's fd. */
int connection_on_output_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
int connection_output_watch(Connection *c, int fd, const char *description);
void connection_output_done(Connection *c);
/* The pieces of a response events.c shares with bridge.c. */
void connection_request_done(Connection *c, unsigned status);
int connection_respond_error(Connection *c, const HttpError *e);
int connection_respond_json(Connection *c, unsigned status, json_object *o, const char *extra_headers);
int connection_after_event(Connection *c, int r);
int connection_fail_bus(Connection *c, sd_bus_message *reply, int r, const char *method);
int connection_new_call(Connection *c, const char *method, sd_bus_message **ret);
int connection_call(Connection *c, sd_bus_message *m, sd_bus_message_handler_t callback, uint64_t timeout);

/* events.c: GET /v1/events (a stream of EventsAs answers) and GET /v1/version. */
int connection_events(Connection *c, const HttpRequest *req);
int connection_version(Connection *c);
