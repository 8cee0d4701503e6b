/* SPDX-License-Identifier: MIT */
/* connection.c - one gateway connection on sd-event: a small state machine, HANDSHAKE (non-blocking
 * SSL_accept, bounded by a timeout), then OPEN, where requests are parsed and answered strictly one at a
 * time (bridge.c); the TLS I/O that moves bytes both ways through bounded buffers, the deadlines, and the
 * end of a connection.
 *
 * Nothing here blocks: the socket is non-blocking and every state that waits on the client has a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "gateway/gateway-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"

/* ---- connections: lifetime ------------------------------------------------------------------------------ */

Connection *connection_free(Connection *c) {
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
        connection_input_done(c);
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

const char *connection_who(Connection *c) {
        return c->state == CONNECTION_OPEN ? c->principal.name : "-";
}

/* Response bytes not yet handed to the socket: plaintext and records. */
size_t connection_out_pending(const Connection *c) {
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
void connection_end(Connection *c, int r) {
        /* An attached client's close_notify ended its half only (the stream's input): ours ends the output. */
        if (r > 0 && c->state == CONNECTION_OPEN && (!c->peer_closed || c->attached)) {
                ERR_clear_error();
                (void) SSL_shutdown(c->ssl);
        }
        ERR_clear_error();
        (void) tls_write_buffer_send(&c->tls_out, c->fd, NULL);
        connection_drain_input(c->fd);
        connection_free(c);
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
                        c->peer_closed = c->peer_close_notify = true;
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
int connection_pump(Connection *c) {
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

                if (c->peer_closed && (c->attached || c->attaching)) {
                        /* close_notify: a half-close (the output goes on); anything else: the client is gone. */
                        r = connection_attach_peer_closed(c);
                        if (r < 0)
                                return r;
                } else if (c->peer_closed) {
                        /* Nobody will read the answer to a request still in progress: cancel it. Requests that
                         * arrived complete before the end are still answered, and a job's input the client sent
                         * whole is still written out of our buffers. */
                        if (c->busy && !(c->input_streaming && (c->input_pending > 0 || c->in_end > c->in_start)))
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
int connection_update(Connection *c) {
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

/* Takes the reference on address. */
int gateway_add_connection(Gateway *g, int fd, const struct sockaddr_storage *sa, PeerEntry *address) {
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
        c->input_fd = -EBADF;
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
        gateway_format_peer(sa, c->peer, sizeof(c->peer));
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

