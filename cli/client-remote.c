/* SPDX-License-Identifier: MIT */
/* client-remote.c - telerun's remote backend: a teleworker-gateway over HTTPS with mTLS (docs/http.md).
 *
 * Each operation is one blocking HTTP/1.1 request (TLS 1.3, our client certificate, the gateway verified
 * against --cacert and the host name of --addr). Responses are parsed with libhttp-parser. HTTP errors map
 * onto ClientErrorKind by the API's one table (api.h: the JSON "error" code, else the status; connection
 * and TLS failures -> UNREACHABLE), with the gateway's message.
 *
 * Connections are kept alive: a full mutual-auth handshake costs more than a request, and `run` makes three
 * (start, output, wait). After a complete response that does not say "Connection: close", the connection
 * goes to a slot of one idle connection, and the next request takes it from there (after checking that the
 * gateway has not closed it meanwhile: it does after 60 s idle). A request that fails on a reused connection
 * before any byte of the answer came is sent once more on a new connection, unless it starts a job: the
 * gateway closes idle connections without reading what arrives, but a start must never run twice.
 *
 * open_output() must hand out a plain fd: a detached thread owns the streaming connection, decodes the
 * chunked body and writes the bytes into one end of a socketpair; the caller reads the other. When the
 * stream is complete the thread puts the connection in the idle slot *before* closing its end, so the
 * caller's next request (run's wait) finds it. When the caller closes its end first the thread ends (its
 * send fails with EPIPE, without SIGPIPE, or its poll sees the hangup). All signals are blocked in that
 * thread, so telerun's signalfd keeps seeing them. The thread holds a reference on the ClientRemote, which
 * the last of the caller and the threads frees.
 *
 * Over 700 lines, on purpose: its three sections (connections and the idle slot, reading a response,
 * the operations with the streaming thread) are one protocol of ownership. The thread hands the connection
 * back to the idle slot before it closes its end of the socketpair, a retry is allowed only on a reused
 * connection before any byte came, and the ClientRemote lives as long as the last of caller and threads;
 * each of those rules is read in one file rather than across three that would share a private header. The
 * HTTP response parser and the TLS setup already live in src/transport. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client.h"
#include "transport/http-job.h"
#include "transport/http-response.h"
#include "shared/macro.h"
#include "teleworker-build.h"
#include "transport/tls.h"
#include "shared/job-ref.h"
#include "shared/util.h"

#define REMOTE_CONNECT_TIMEOUT_MS 15000
#define REMOTE_REPLY_TIMEOUT_MS 120000          /* quick requests: no byte for this long is a failure */
#define REMOTE_NO_TIMEOUT -1                     /* wait, stop: as long as it takes */
#define REMOTE_BODY_MAX (64U * 1024U * 1024U)    /* a JSON body; a list of many jobs stays far below */

#define REMOTE_READ_BUFFER (64U * 1024U)         /* OpenSSL's read-ahead: several records per recv(2) */

typedef struct RemoteConnection {
        int fd;
        SSL *ssl;
} RemoteConnection;

typedef struct ClientRemote {
        Client client;
        char *host;       /* for SNI, certificate verification and the Host header (no brackets) */
        char *port;
        char *host_header;
        SSL_CTX *ctx;

        /* Shared with the output threads. */
        pthread_mutex_t lock;
        unsigned n_ref;
        RemoteConnection idle;   /* kept alive for the next request (fd -EBADF: none) */

        /* start -i: the thread that streams our stdin to POST /v1/jobs/{id}/input (main thread only). */
        pthread_t input_thread;
        bool input_running;
        int input_error;         /* its result: 0 or -errno (after the join) */
        char input_message[256];
} ClientRemote;

typedef struct RemoteResponse {
        HttpResponse http;
        unsigned status;              /* http's, once its head arrived */
        const char *body;             /* http's buffered body (NULL: none) */
        bool received;                /* some bytes of the answer arrived */
        bool keep_alive;              /* complete, nothing after it, and the gateway keeps the connection */
        int stream_fd;                /* output streaming: body bytes go here instead (-EBADF: buffered) */
        int stream_error;
} RemoteResponse;

/* Runs f(ssl) with SIGPIPE blocked in this thread (telerun ignores SIGPIPE, but this module must not depend on
 * its host's disposition, and OpenSSL writes to the socket with write(2)); a SIGPIPE it raised is consumed. */
static int remote_ssl_nosigpipe(SSL *ssl, int (*f)(SSL *ssl, const void *data, size_t size), const void *data,
                                size_t size) {
        sigset_t pipe_set, old;
        int r;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        (void) pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        r = f(ssl, data, size);
        if (r < 0 && !sigismember(&old, SIGPIPE)) {
                struct timespec zero = {};

                /* Consume the SIGPIPE a failed write raised, so it does not fire on unblocking. */
                (void) sigtimedwait(&pipe_set, NULL, &zero);
        }
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}

static int remote_ssl_shutdown(SSL *ssl, const void *data, size_t size) {
        int k;

        ERR_clear_error();
        k = SSL_shutdown(ssl);   /* 0: sent, the peer's not awaited */
        ERR_clear_error();
        return k < 0 ? -EPIPE : 0;
}

/* Closes c. notify: say goodbye with close_notify first (a connection in a clean state, between requests). */
static void remote_connection_close(RemoteConnection *c, bool notify) {
        if (c->ssl && notify)
                (void) remote_ssl_nosigpipe(c->ssl, remote_ssl_shutdown, NULL, 0);
        if (c->ssl)
                SSL_free(c->ssl);
        c->ssl = NULL;
        c->fd = safe_close(c->fd);
}

static ClientRemote *client_remote_ref(ClientRemote *cr) {
        pthread_mutex_lock(&cr->lock);
        cr->n_ref++;
        pthread_mutex_unlock(&cr->lock);
        return cr;
}

static void client_remote_unref(ClientRemote *cr) {
        unsigned n;

        pthread_mutex_lock(&cr->lock);
        n = --cr->n_ref;
        pthread_mutex_unlock(&cr->lock);
        if (n > 0)
                return;
        remote_connection_close(&cr->idle, true);
        if (cr->ctx)
                SSL_CTX_free(cr->ctx);
        free(cr->host);
        free(cr->port);
        free(cr->host_header);
        pthread_mutex_destroy(&cr->lock);
        free(cr);
}

/* Whether an idle connection can carry another request: the gateway has not closed it (nor sent anything,
 * which it never does unasked). */
static bool remote_connection_usable(RemoteConnection *c) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

        if (SSL_has_pending(c->ssl))
                return false;
        return poll(&pfd, 1, 0) == 0;
}

/* Takes the idle connection, if it is still usable. */
static bool remote_connection_take_idle(ClientRemote *cr, RemoteConnection *ret) {
        RemoteConnection c;

        pthread_mutex_lock(&cr->lock);
        c = cr->idle;
        cr->idle = (RemoteConnection) { .fd = -EBADF };
        pthread_mutex_unlock(&cr->lock);
        if (c.fd < 0)
                return false;
        if (!remote_connection_usable(&c)) {
                remote_connection_close(&c, false);
                return false;
        }
        *ret = c;
        return true;
}

/* After a response: keeps c for the next request if the response allows it, else closes it. */
static void remote_connection_release(ClientRemote *cr, RemoteConnection *c, const RemoteResponse *r) {
        if (c->fd < 0)
                return;
        if (r && r->keep_alive && !SSL_has_pending(c->ssl)) {
                pthread_mutex_lock(&cr->lock);
                if (cr->idle.fd < 0) {
                        cr->idle = *c;
                        *c = (RemoteConnection) { .fd = -EBADF };
                }
                pthread_mutex_unlock(&cr->lock);
        }
        /* Not reusable, or the slot is taken (a stop sent while an output stream was running). */
        remote_connection_close(c, c->fd >= 0 && r && r->keep_alive);
}

static void remote_response_done(RemoteResponse *r) {
        http_response_done(&r->http);
        r->body = NULL;
}

static int remote_parse_addr(const char *addr, char **ret_host, char **ret_port) {
        const char *colon;
        char *host, *port;

        colon = strrchr(addr, ':');
        if (!colon || colon == addr || !colon[1])
                return -EINVAL;
        if (addr[0] == '[') {
                if (colon[-1] != ']' || colon - addr < 3)
                        return -EINVAL;
                host = strndup(addr + 1, (size_t) (colon - addr - 2));
        } else {
                if (memchr(addr, ':', (size_t) (colon - addr)))
                        return -EINVAL;   /* an IPv6 address needs brackets */
                host = strndup(addr, (size_t) (colon - addr));
        }
        port = strdup(colon + 1);
        if (!host || !port) {
                free(host);
                free(port);
                return -ENOMEM;
        }
        for (const char *p = port; *p; p++)
                if (*p < '0' || *p > '9') {
                        free(host);
                        free(port);
                        return -EINVAL;
                }
        *ret_host = host;
        *ret_port = port;
        return 0;
}

static int remote_ssl_write_all(SSL *ssl, const void *data, size_t size) {
        while (size > 0) {
                size_t n = 0;

                ERR_clear_error();
                if (SSL_write_ex(ssl, data, size, &n) != 1)
                        return -EPIPE;
                data = (const char *) data + n;
                size -= n;
        }
        return 0;
}

/* Writes with SIGPIPE blocked in this thread. */
static int remote_write(RemoteConnection *c, const void *data, size_t size) {
        return remote_ssl_nosigpipe(c->ssl, remote_ssl_write_all, data, size);
}

static int remote_connect(ClientRemote *cr, RemoteConnection *ret, ClientError *error) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
        struct addrinfo *ai = NULL;
        RemoteConnection c = { .fd = -EBADF };
        char ebuf[512];
        int r, k, last = -ECONNREFUSED;

        r = getaddrinfo(cr->host, cr->port, &hints, &ai);
        if (r != 0)
                return client_error_set(error, -EHOSTUNREACH, CLIENT_ERROR_UNREACHABLE,
                                        "Failed to resolve '%s': %s", cr->host, gai_strerror(r));
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                struct pollfd pfd;
                socklen_t len = sizeof(k);

                c.fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (c.fd < 0) {
                        last = -errno;
                        continue;
                }
                if (connect(c.fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        last = -errno;
                        c.fd = safe_close(c.fd);
                        continue;
                }
                pfd = (struct pollfd) { .fd = c.fd, .events = POLLOUT };
                k = poll(&pfd, 1, REMOTE_CONNECT_TIMEOUT_MS);
                if (k <= 0) {
                        last = k == 0 ? -ETIMEDOUT : -errno;
                        c.fd = safe_close(c.fd);
                        continue;
                }
                if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &k, &len) < 0 || k != 0) {
                        last = k != 0 ? -k : -errno;
                        c.fd = safe_close(c.fd);
                        continue;
                }
                break;
        }
        freeaddrinfo(ai);
        if (c.fd < 0)
                return client_error_set(error, last, CLIENT_ERROR_UNREACHABLE, "Failed to connect to %s:%s: %m",
                                        cr->host_header, cr->port);

        /* Our writes are whole messages (the request in one write): without Nagle's algorithm, a write that
         * follows another (the request after the handshake's Finished) does not wait for the gateway's
         * delayed ACK (40 ms). */
        (void) setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &(int) { 1 }, sizeof(int));
        /* The handshake blocks, bounded by socket timeouts; later reads poll on their own. */
        r = fd_nonblock(c.fd, false);
        if (r >= 0) {
                struct timeval tv = { .tv_sec = REMOTE_CONNECT_TIMEOUT_MS / 1000 };

                (void) setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                (void) setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        ERR_clear_error();
        c.ssl = SSL_new(cr->ctx);
        if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1 || tls_client_set_host(c.ssl, cr->host) < 0) {
                remote_connection_close(&c, false);
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Failed to set up TLS");
        }
        if (SSL_connect(c.ssl) != 1) {
                long v = SSL_get_verify_result(c.ssl);

                if (v != X509_V_OK)
                        (void) snprintf(ebuf, sizeof(ebuf), "server certificate: %s",
                                        X509_verify_cert_error_string(v));
                else
                        tls_errors_to_string(ebuf, sizeof(ebuf));
                remote_connection_close(&c, false);
                return client_error_set(error, -ECONNREFUSED, CLIENT_ERROR_UNREACHABLE,
                                        "TLS handshake with %s:%s failed: %s", cr->host_header, cr->port,
                                        *ebuf ? ebuf : "connection closed");
        }
        *ret = c;
        return 0;
}

/* ---- responses ----------------------------------------------------------------------------------------- */

/* A 200's body goes to the stream's socket pair; any other (an error's JSON) is buffered. */
static int remote_on_body(HttpResponse *h, const char *at, size_t n, void *userdata) {
        RemoteResponse *r = userdata;

        if (h->status != 200)
                return 1;
        while (n > 0) {
                ssize_t k = send(r->stream_fd, at, n, MSG_NOSIGNAL);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r->stream_error = -errno;   /* the reader went away */
                        return r->stream_error;
                }
                at += k;
                n -= (size_t) k;
        }
        return 0;
}

/* (Re)starts r for a response; stream_fd as remote_exchange() says. */
static void remote_response_init(RemoteResponse *r, int stream_fd) {
        *r = (RemoteResponse) { .stream_fd = stream_fd };
        /* (We never send "Expect: 100-continue"; an informational response would be skipped anyway.) */
        /* An output stream's headers are kept: X-Teleworker-Offset says where it starts. */
        http_response_init(&r->http, REMOTE_BODY_MAX, stream_fd >= 0);
        if (stream_fd >= 0) {
                r->http.on_body = remote_on_body;
                r->http.userdata = r;
        }
}

/* Feeds bytes (n 0: the end of the connection) and brings status, body and keep_alive up to date: the
 * connection is kept for the next request only if nothing came after a complete response. */
static int remote_response_feed(RemoteResponse *r, const char *buf, size_t n) {
        size_t used;
        int k;

        k = http_response_feed(&r->http, buf, n, &used);
        r->status = r->http.head_done ? r->http.status : 0;
        r->body = r->http.body;
        r->keep_alive = r->http.complete && r->http.keep_alive && used == n;
        return k;
}

/* Waits until c has something to read: 0, -EINTR (interrupt_fd readable), -ETIMEDOUT. */
static int remote_wait(RemoteConnection *c, int interrupt_fd, int timeout_ms) {
        struct pollfd pfd[2] = {
                { .fd = c->fd, .events = POLLIN },
                { .fd = interrupt_fd, .events = POLLIN },
        };
        int k;

        /* Read-ahead: OpenSSL may hold whole records that poll() would not report. */
        if (SSL_has_pending(c->ssl))
                return 0;
        for (;;) {
                k = poll(pfd, interrupt_fd >= 0 ? 2 : 1, timeout_ms);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ETIMEDOUT;
                if (interrupt_fd >= 0 && pfd[1].revents)
                        return -EINTR;
                return 0;
        }
}

/* Reads and parses until the response is complete (or, for a 200 stream, its headers are: the rest is the
 * streaming thread's). 0 or -errno; on a
 * TLS alert from the gateway -EACCES. */
static int remote_read_response(RemoteConnection *c, RemoteResponse *r, int interrupt_fd, int timeout_ms,
                                 char *ebuf, size_t ebuf_size) {
        char buf[16384];

        ebuf[0] = 0;
        for (;;) {
                size_t n = 0;
                int k;

                if (r->http.complete || (r->stream_fd >= 0 && r->http.head_done && r->status == 200))
                        return 0;
                k = remote_wait(c, interrupt_fd, timeout_ms);
                if (k < 0)
                        return k;
                ERR_clear_error();
                if (SSL_read_ex(c->ssl, buf, sizeof(buf), &n) != 1) {
                        int e = SSL_get_error(c->ssl, 0);
                        unsigned long err = ERR_peek_error();

                        if (e == SSL_ERROR_WANT_READ)
                                continue;   /* nothing yet after all (SO_RCVTIMEO): poll() decides */

                        if (e == SSL_ERROR_SSL && ERR_GET_LIB(err) == ERR_LIB_SSL &&
                            ERR_GET_REASON(err) >= SSL_AD_REASON_OFFSET) {
                                tls_errors_to_string(ebuf, ebuf_size);
                                return -EACCES;
                        }
                        tls_errors_to_string(ebuf, ebuf_size);
                        /* EOF: ends a response without a length, otherwise it came too early. */
                        (void) remote_response_feed(r, buf, 0);
                        return r->http.complete ? 0 : -ECONNRESET;
                }
                r->received = true;
                k = remote_response_feed(r, buf, n);
                if (k < 0)
                        return k;   /* -EFBIG, -EBADMSG, or the stream's reader went away */
        }
}

/* The error a non-success response stands for. */
static int remote_status_error(const RemoteResponse *r, const char *what, ClientError *error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *message = NULL, *code = NULL;
        json_object *m;
        ClientErrorKind kind;
        int e;

        if (r->body)
                o = json_tokener_parse(r->body);
        if (o && json_object_object_get_ex(o, "message", &m) && json_object_is_type(m, json_type_string))
                message = json_object_get_string(m);
        if (o && json_object_object_get_ex(o, "error", &m) && json_object_is_type(m, json_type_string))
                code = json_object_get_string(m);

        /* The same classes as the D-Bus backend: the gateway's code names the daemon's error (api.h). */
        kind = (ClientErrorKind) api_error_class_from_http(r->status, code, &e);
        if (message)
                e = client_error_set(error, e, kind, "%s", message);
        else
                e = client_error_set(error, e, kind, "%s: the gateway answered %u", what, r->status);
        if (error && api_error_from_http_code(code) && api_error_from_http_code(code)->http_status == r->status)
                error->api = api_error_from_http_code(code);
        return e;
}

static int remote_send_request(RemoteConnection *c, ClientRemote *cr, const char *method, const char *target,
                               const char *body) {
        _cleanup_(freep) char *request = NULL;
        char length[96] = "";
        int n;

        if (body)
                (void) snprintf(length, sizeof(length), "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                                strlen(body));
        /* Head and body in one write: one TLS record for a small request. */
        n = asprintf(&request,
                     "%s %s HTTP/1.1\r\n"
                     "Host: %s:%s\r\n"
                     "User-Agent: telerun/" TELEWORKER_VERSION "\r\n"
                     "Accept: application/json\r\n"
                     "%s"
                     "\r\n"
                     "%s",
                     method, target, cr->host_header, cr->port, length, body ?: "");
        if (n < 0) {
                request = NULL;
                return -ENOMEM;
        }
        return remote_write(c, request, (size_t) n);
}

/* Sends one request and reads its response (a 200 stream: up to its headers), on the idle connection or a
 * new one. A request that fails on a reused connection before any byte of the answer arrived is sent once
 * more on a new connection if retry says it may be. On success *conn is the connection, for the caller to
 * release (remote_connection_release()) once the response is done with; on failure error is set and the
 * connection is closed. resp must be initialized (stream_fd). */
static int remote_exchange(ClientRemote *cr, const char *method, const char *target, const char *body, bool retry,
                           int timeout_ms, const char *what, RemoteConnection *conn, RemoteResponse *resp,
                           ClientError *error) {
        int stream_fd = resp->stream_fd;
        char ebuf[512] = "";

        for (unsigned attempt = 0;; attempt++) {
                RemoteConnection c = { .fd = -EBADF };
                bool reused;
                int r;

                remote_response_done(resp);
                remote_response_init(resp, stream_fd);

                reused = remote_connection_take_idle(cr, &c);
                if (!reused) {
                        r = remote_connect(cr, &c, error);
                        if (r < 0)
                                return r;
                }
                r = remote_send_request(&c, cr, method, target, body);
                if (r >= 0)
                        r = remote_read_response(&c, resp, cr->client.interrupt_fd, timeout_ms, ebuf, sizeof(ebuf));
                if (r >= 0) {
                        *conn = c;
                        return 0;
                }
                remote_connection_close(&c, false);
                if (reused && retry && attempt == 0 && !resp->received && (r == -EPIPE || r == -ECONNRESET))
                        continue;   /* the gateway had closed the idle connection */

                if (r == -EINTR)
                        return client_error_set(error, r, CLIENT_ERROR_OTHER, "Interrupted");
                if (r == -EACCES)
                        return client_error_set(error, r, CLIENT_ERROR_ACCESS_DENIED,
                                                "The gateway refused the client certificate (%s)", ebuf);
                if (r == -EPIPE)
                        return client_error_set(error, r, CLIENT_ERROR_UNREACHABLE,
                                                "%s: the gateway closed the connection", what);
                return client_error_set(error, r, r == -ETIMEDOUT || r == -ECONNRESET ? CLIENT_ERROR_UNREACHABLE :
                                        CLIENT_ERROR_OTHER, "%s: %s%s%m", what, *ebuf ? ebuf : "", *ebuf ? ": " : "");
        }
}

/* One request, the whole response read. On an HTTP status other than expected the error is set from the
 * body. Starting a job (POST /v1/jobs) is never sent twice. */
static int remote_request(ClientRemote *cr, const char *method, const char *target, const char *body,
                          unsigned expected, int timeout_ms, const char *what, RemoteResponse *ret,
                          ClientError *error) {
        RemoteConnection c = { .fd = -EBADF };
        bool retry = !(streq(method, "POST") && streq(target, "/v1/jobs"));
        int r;

        remote_response_init(ret, -EBADF);
        r = remote_exchange(cr, method, target, body, retry, timeout_ms, what, &c, ret, error);
        if (r < 0)
                return r;
        remote_connection_release(cr, &c, ret);
        if (ret->status != expected)
                return remote_status_error(ret, what, error);
        return 0;
}

/* The JSON body of a successful response. */
static int remote_json(RemoteResponse *r, const char *what, json_object **ret, ClientError *error) {
        json_object *o;

        o = r->body ? json_tokener_parse(r->body) : NULL;
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return client_error_set(error, -EBADMSG, CLIENT_ERROR_OTHER, "%s: malformed answer from the gateway",
                                        what);
        }
        *ret = o;
        return 0;
}

/* ---- operations ---------------------------------------------------------------------------------------- */

static int remote_job_request(Client *c, const char *method, const char *id, const char *suffix,
                              unsigned expected, int timeout_ms, const char *what, json_object **ret,
                              ClientError *error) {
        ClientRemote *cr = c->userdata;
        RemoteResponse resp;
        char target[128];
        int r;

        if (!job_ref_is_valid(id))
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID, "Invalid job id '%s'", id);
        (void) snprintf(target, sizeof(target), "/v1/jobs/%s%s", id, suffix);
        r = remote_request(cr, method, target, NULL, expected, timeout_ms, what, &resp, error);
        if (r >= 0 && ret)
                r = remote_json(&resp, what, ret, error);
        remote_response_done(&resp);
        return r;
}

static int remote_input_start(ClientRemote *cr, const char *id, int fd, ClientError *error);

static int client_remote_start(Client *c, const StartRequest *req, char **ret_id, ClientError *error) {
        _cleanup_(json_object_putp) json_object *o = NULL, *job = NULL;
        ClientRemote *cr = c->userdata;
        json_object *id;
        RemoteResponse resp;
        int r;

        r = http_job_request_to_json(req, &o);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Out of memory");

        r = remote_request(cr, "POST", "/v1/jobs",
                           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                           201, REMOTE_NO_TIMEOUT, "Failed to start the job", &resp, error);
        if (r >= 0)
                r = remote_json(&resp, "Failed to start the job", &job, error);
        remote_response_done(&resp);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(job, "id", &id) || !json_object_is_type(id, json_type_string))
                return client_error_set(error, -EBADMSG, CLIENT_ERROR_OTHER, "The gateway's answer has no job id");
        *ret_id = strdup(json_object_get_string(id));
        if (!*ret_id)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        if (req->stdin_kind == START_STDIN_STREAM)
                return remote_input_start(cr, *ret_id, req->stdin_fd, error);
        return 0;
}

/* ---- stdin (start -i, run -i): the body of POST /v1/jobs/{id}/input, chunked, from our fd 0 to its EOF ---- */

typedef struct RemoteInput {
        ClientRemote *cr;   /* a reference */
        char target[80];
        int fd;             /* what is sent: a copy of the request's stdin_fd */
} RemoteInput;

/* One chunk per read(2): size line, data, CRLF in one TLS write. */
static int remote_input_send(RemoteConnection *c, int fd) {
        static char buf[64 * 1024 + 16];
        const size_t head = 10;   /* up to 8 hex digits and CRLF, right-aligned before the data */

        for (;;) {
                ssize_t n = read(fd, buf + head, sizeof(buf) - head - 2);
                char size[16];
                int k;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return remote_write(c, "0\r\n\r\n", 5);
                k = snprintf(size, sizeof(size), "%zx\r\n", (size_t) n);
                memcpy(buf + head - k, size, (size_t) k);
                memcpy(buf + head + n, "\r\n", 2);
                k = remote_write(c, buf + head - k, (size_t) k + (size_t) n + 2);
                if (k < 0)
                        return k;
        }
}

static void *remote_input_thread(void *userdata) {
        RemoteInput *in = userdata;
        ClientRemote *cr = in->cr;
        RemoteConnection c = { .fd = -EBADF };
        _cleanup_(client_error_done) ClientError e = {};
        RemoteResponse resp;
        _cleanup_(freep) char *head = NULL;
        char ebuf[512];
        int r;

        remote_response_init(&resp, -EBADF);
        r = remote_connect(cr, &c, &e);
        if (r >= 0 && asprintf(&head, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: telerun/" TELEWORKER_VERSION
                               "\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                               in->target, cr->host_header, cr->port) < 0)
                r = -ENOMEM;
        if (r >= 0)
                r = remote_write(&c, head, strlen(head));
        /* A write that fails may be the gateway answering early (the job went away): its answer says why. */
        if (r >= 0)
                r = remote_input_send(&c, in->fd);
        if (c.ssl && remote_read_response(&c, &resp, -EBADF, REMOTE_NO_TIMEOUT, ebuf, sizeof(ebuf)) >= 0)
                r = resp.status == 200 ? 0 : remote_status_error(&resp, "Failed to send the job's input", &e);
        if (r < 0)
                (void) snprintf(cr->input_message, sizeof(cr->input_message), "%s",
                                e.message ?: "Failed to send the job's input");
        cr->input_error = r;
        remote_connection_close(&c, r >= 0);
        remote_response_done(&resp);
        client_remote_unref(cr);
        safe_close(in->fd);
        free(in);
        OPENSSL_thread_stop();
        return NULL;
}

static int remote_input_start(ClientRemote *cr, const char *id, int fd, ClientError *error) {
        RemoteInput *in = new0(RemoteInput, 1);
        sigset_t all, old;
        int r;

        if (!in)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        in->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (in->fd < 0) {
                free(in);
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER, "Failed to duplicate stdin: %m");
        }
        (void) snprintf(in->target, sizeof(in->target), "/v1/jobs/%s/input", id);
        in->cr = client_remote_ref(cr);
        /* The thread must not take signals meant for telerun's signalfd. */
        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&cr->input_thread, NULL, remote_input_thread, in);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                client_remote_unref(cr);
                safe_close(in->fd);
                free(in);
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to start the input thread: %m");
        }
        cr->input_running = true;
        return 0;
}

static int client_remote_input_wait(Client *c, ClientError *error) {
        ClientRemote *cr = c->userdata;

        if (!cr->input_running)
                return 0;
        (void) pthread_join(cr->input_thread, NULL);
        cr->input_running = false;
        if (cr->input_error < 0)
                return client_error_set(error, cr->input_error, CLIENT_ERROR_OTHER, "%s", cr->input_message);
        return 0;
}

static int client_remote_stop(Client *c, const char *id, ClientError *error) {
        char suffix[48] = "/stop";

        if (c->stop_grace_usec != UINT64_MAX)
                (void) snprintf(suffix, sizeof(suffix), "/stop?time=%" PRIu64, c->stop_grace_usec / 1000000);
        return remote_job_request(c, "POST", id, suffix, 200, REMOTE_NO_TIMEOUT, "Failed to stop the job", NULL,
                                  error);
}

static int client_remote_remove(Client *c, const char *id, char **ret_id, ClientError *error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v;
        int r;

        r = remote_job_request(c, "DELETE", id, "", 200, REMOTE_REPLY_TIMEOUT_MS, "Failed to remove the job", &o,
                               error);
        if (r < 0 || !ret_id)
                return r;
        if (!json_object_object_get_ex(o, "id", &v) || !json_object_is_type(v, json_type_string))
                return client_error_set(error, -EBADMSG, CLIENT_ERROR_OTHER, "The gateway's answer has no job id");
        *ret_id = strdup(json_object_get_string(v));
        return *ret_id ? 0 : client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
}

static int client_remote_kill(Client *c, const char *id, int sig, ClientError *error) {
        char suffix[32];

        (void) snprintf(suffix, sizeof(suffix), "/kill?signal=%d", sig);
        return remote_job_request(c, "POST", id, suffix, 200, REMOTE_REPLY_TIMEOUT_MS, "Failed to signal the job",
                                  NULL, error);
}

static int client_remote_get_job(Client *c, const char *id, json_object **ret, ClientError *error) {
        return remote_job_request(c, "GET", id, "", 200, REMOTE_REPLY_TIMEOUT_MS, "Failed to get the job", ret,
                                  error);
}

static int client_remote_wait(Client *c, const char *id, json_object **ret, ClientError *error) {
        return remote_job_request(c, "GET", id, "?wait=true", 200, REMOTE_NO_TIMEOUT, "Failed to wait for the job",
                                  ret, error);
}

/* GET /v1/jobs page by page (docs/http.md): "next" is the cursor of the following page, null after the last. */
/* "state=…&since=…&owner=…&last=…&" for the filter, "" without one: what every page's query starts with.
 * Names and states are [A-Za-z0-9._@,-]: nothing to escape. */
static char *remote_list_query(const JobListFilter *f) {
        char states[JOB_LIST_FILTER_STATES_MAX], since[32] = "", last[24] = "", *q = NULL;

        if (!f)
                return strdup("");
        if (f->since_usec)
                (void) snprintf(since, sizeof(since), "since=%" PRIu64 "&", f->since_usec / 1000000);
        if (f->last)
                (void) snprintf(last, sizeof(last), "last=%" PRIu32 "&", f->last);
        if (asprintf(&q, "%s%s%s%s%s%s%s%s", f->states ? "state=" : "",
                     job_list_filter_format_states(f->states, states, sizeof(states)), f->states ? "&" : "", since,
                     f->owner ? "owner=" : "", f->owner ?: "", f->owner ? "&" : "", last) < 0)
                return NULL;
        return q;
}

static int client_remote_list(Client *c, json_object **ret, ClientError *error) {
        _cleanup_(json_object_putp) json_object *all = NULL;
        _cleanup_(freep) char *query = remote_list_query(c->list_filter), *target = NULL;
        ClientRemote *cr = c->userdata;
        int r;

        all = json_object_new_array();
        if (query && asprintf(&target, "/v1/jobs%s%.*s", *query ? "?" : "", (int) (*query ? strlen(query) - 1 : 0),
                              query) < 0)
                target = NULL;
        if (!all || !query || !target)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Failed to list jobs: %m");
        while (target) {
                _cleanup_(json_object_putp) json_object *o = NULL;
                json_object *jobs, *next = NULL;
                RemoteResponse resp;
                size_t n;

                r = remote_request(cr, "GET", target, NULL, 200, REMOTE_REPLY_TIMEOUT_MS, "Failed to list jobs",
                                   &resp, error);
                if (r >= 0)
                        r = remote_json(&resp, "Failed to list jobs", &o, error);
                remote_response_done(&resp);
                if (r < 0)
                        return r;
                if (!json_object_object_get_ex(o, "jobs", &jobs) || !json_object_is_type(jobs, json_type_array))
                        return client_error_set(error, -EBADMSG, CLIENT_ERROR_OTHER,
                                                "The gateway's answer has no job list");
                n = json_object_array_length(jobs);
                for (size_t i = 0; i < n; i++)
                        if (json_object_array_add(all, json_object_get(json_object_array_get_idx(jobs, i))) < 0)
                                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Failed to list jobs: %m");
                /* A gateway from before paging sends no "next": its one answer was the whole list. */
                target = mfree(target);
                if (json_object_object_get_ex(o, "next", &next) && json_object_is_type(next, json_type_string)) {
                        if (n == 0 || strspn(json_object_get_string(next), "0123456789abcdef-") !=
                                              strlen(json_object_get_string(next)))
                                return client_error_set(error, -EBADMSG, CLIENT_ERROR_OTHER,
                                                        "The gateway's answer has a malformed \"next\"");
                        if (asprintf(&target, "/v1/jobs?%scursor=%s", query, json_object_get_string(next)) < 0)
                                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER,
                                                        "Failed to list jobs: %m");
                }
        }
        *ret = TAKE_PTR(all);
        return 0;
}

typedef struct RemoteStream {
        ClientRemote *cr;   /* a reference */
        RemoteConnection conn;
        RemoteResponse resp;
        int fd;   /* our end of the socketpair */
        bool follow;
} RemoteStream;

/* Waits until the stream's connection has something to read: 1; or the reader closed its end: 0. */
static int remote_stream_wait(RemoteStream *s) {
        struct pollfd pfd[2] = {
                { .fd = s->conn.fd, .events = POLLIN },
                { .fd = s->fd, .events = 0 },   /* POLLHUP: the reader is gone */
        };

        if (SSL_has_pending(s->conn.ssl))
                return 1;
        for (;;) {
                /* No timeout: a followed job may print nothing for hours; the gateway keeps such a
                 * stream open, and closes it (we see EOF) when it goes away. */
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (pfd[1].revents & (POLLHUP | POLLERR))
                        return 0;
                if (pfd[0].revents)
                        return 1;
        }
}

static void *remote_stream_thread(void *userdata) {
        RemoteStream *s = userdata;
        char buf[65536];

        /* The headers (and any body bytes that came with them) were handled by open_output(). */
        while (!s->resp.http.complete) {
                size_t n = 0;

                if (remote_stream_wait(s) <= 0) {
                        s->resp.stream_error = -EPIPE;
                        break;
                }
                ERR_clear_error();
                if (SSL_read_ex(s->conn.ssl, buf, sizeof(buf), &n) != 1) {
                        if (SSL_get_error(s->conn.ssl, 0) == SSL_ERROR_WANT_READ)
                                continue;   /* a record without data, or SO_RCVTIMEO mid-record */
                        break;
                }
                if (remote_response_feed(&s->resp, buf, n) < 0 || s->resp.http.complete)
                        break;
        }
        if (!s->resp.http.complete && s->resp.stream_error == 0 && !s->follow)
                /* The reader sees EOF; say that it is not the end of the output. (A follower finds out by itself
                 * and resumes: follow.h.) */
                fprintf(stderr, "telerun: the output stream from the gateway was cut off\n");
        ERR_clear_error();
        /* The connection first, then EOF for the reader: its next request (run's wait) finds it idle. */
        remote_connection_release(s->cr, &s->conn, s->resp.http.complete ? &s->resp : NULL);
        safe_close(s->fd);
        remote_response_done(&s->resp);
        client_remote_unref(s->cr);
        free(s);
        OPENSSL_thread_stop();
        return NULL;
}

/* GET target (an output route): a detached thread streams the body into the socket pair whose other end is
 * *ret_fd. *ret_offset (if not NULL): the X-Teleworker-Offset the gateway said, else offset. */
static int remote_open_stream(Client *c, const char *target, bool follow, uint64_t offset, int *ret_fd,
                              uint64_t *ret_offset, ClientError *error) {
        ClientRemote *cr = c->userdata;
        RemoteStream *s;
        char said[32];
        int sp[2], r;
        sigset_t all, old;
        pthread_attr_t attr;
        pthread_t thread;

        s = new0(RemoteStream, 1);
        if (!s)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        s->conn.fd = -EBADF;
        s->follow = follow;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                free(s);
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER, "Failed to create a socket pair: %m");
        }
        s->fd = sp[1];
        /* The body of a 200 goes to the socket pair from the first byte (also the bytes read together with
         * the headers); any other status's body (an error's JSON) is buffered. */
        s->resp.stream_fd = sp[1];

        r = remote_exchange(cr, "GET", target, NULL, true, REMOTE_REPLY_TIMEOUT_MS, "Failed to open the job's output",
                            &s->conn, &s->resp, error);
        if (r >= 0 && s->resp.status != 200) {
                r = remote_status_error(&s->resp, "Failed to open the job's output", error);
                /* A gateway from before the streams: it knows none of their parameters. */
                if (ret_offset && s->resp.status == 400 && error && error->message &&
                    strstr(error->message, "Unknown query parameter"))
                        r = client_error_set(error, -EOPNOTSUPP, CLIENT_ERROR_OTHER,
                                             "The gateway keeps no separate streams");
                remote_connection_release(cr, &s->conn, &s->resp);
        }
        if (r < 0)
                goto fail;
        if (ret_offset) {
                *ret_offset = offset;
                if (http_response_header(&s->resp.http, "x-teleworker-offset", said, sizeof(said)) &&
                    parse_uint64(said, ret_offset) < 0) {
                        r = client_error_set(error, -EBADMSG, CLIENT_ERROR_OTHER, "The gateway sent a bad "
                                             "X-Teleworker-Offset");
                        remote_connection_close(&s->conn, false);
                        goto fail;
                }
        }

        /* The thread must not take signals meant for telerun's signalfd. */
        s->cr = client_remote_ref(cr);
        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        (void) pthread_attr_init(&attr);
        (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = -pthread_create(&thread, &attr, remote_stream_thread, s);
        (void) pthread_attr_destroy(&attr);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                client_remote_unref(cr);
                r = client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to start the output thread: %m");
                goto fail;
        }
        *ret_fd = sp[0];
        return 0;

fail:
        remote_connection_close(&s->conn, false);
        remote_response_done(&s->resp);
        safe_close(s->fd);
        safe_close(sp[0]);
        free(s);
        return r;
}

static int client_remote_resize(Client *c, const char *id, uint16_t rows, uint16_t cols, ClientError *error) {
        char suffix[64];

        (void) snprintf(suffix, sizeof(suffix), "/resize?rows=%u&cols=%u", rows, cols);
        return remote_job_request(c, "POST", id, suffix, 200, REMOTE_REPLY_TIMEOUT_MS,
                                  "Failed to resize the job's terminal", NULL, error);
}

static int client_remote_open_output(Client *c, const char *id, uint64_t offset, bool follow, int *ret_fd,
                                     ClientError *error) {
        char target[160];

        if (!job_ref_is_valid(id))
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID, "Invalid job id '%s'", id);
        (void) snprintf(target, sizeof(target), "/v1/jobs/%s/output?offset=%" PRIu64 "%s", id, offset,
                        follow ? "&follow=true" : "");
        return remote_open_stream(c, target, follow, offset, ret_fd, NULL, error);
}

/* The same options as query parameters (docs/http.md): times as Unix seconds with microseconds. */
static int client_remote_open_output_ex(Client *c, const char *id, const BusOutputOptions *o, int *ret_fd,
                                        uint64_t *ret_offset, ClientError *error) {
        char target[512];
        size_t n;

        if (!job_ref_is_valid(id))
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID, "Invalid job id '%s'", id);
        n = (size_t) snprintf(target, sizeof(target), "/v1/jobs/%s/output?offset=%" PRIu64 "%s%s%s%s%s", id,
                              o->offset, o->follow ? "&follow=true" : "", o->framed ? "&framed=true" : "",
                              o->timestamps ? "&timestamps=true" : "", o->stream ? "&stream=" : "",
                              o->stream ?: "");
        if (o->set & OUTPUT_OPT_SINCE)
                n += (size_t) snprintf(target + n, sizeof(target) - n, "&since=%" PRIu64 ".%06" PRIu64,
                                       o->since / 1000000, o->since % 1000000);
        if (o->set & OUTPUT_OPT_UNTIL)
                n += (size_t) snprintf(target + n, sizeof(target) - n, "&until=%" PRIu64 ".%06" PRIu64,
                                       o->until / 1000000, o->until % 1000000);
        if (o->set & OUTPUT_OPT_TAIL)
                (void) snprintf(target + n, sizeof(target) - n, "&tail=%" PRIu64, o->tail);
        return remote_open_stream(c, target, o->follow, o->offset, ret_fd, ret_offset, error);
}

static void client_remote_free(Client *c) {
        ClientRemote *cr = c->userdata;

        /* An input still streaming (run: the job ended first) holds its own reference. */
        if (cr->input_running)
                (void) pthread_detach(cr->input_thread);
        client_remote_unref(cr);
}

static const ClientOps client_remote_ops = {
        .name = "remote",
        .start = client_remote_start,
        .stop = client_remote_stop,
        .get_job = client_remote_get_job,
        .list = client_remote_list,
        .wait = client_remote_wait,
        .open_output = client_remote_open_output,
        .input_wait = client_remote_input_wait,
        .resize = client_remote_resize,
        .open_output_ex = client_remote_open_output_ex,
        .remove = client_remote_remove,
        .kill = client_remote_kill,
        .free = client_remote_free,
};

int client_remote_new(const ClientRemoteConfig *config, Client **ret, ClientError *error) {
        ClientRemote *cr;
        char err[1024];
        int r;

        if (!config->addr)
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID, "No gateway address given");
        if (!config->cert || !config->key || !config->cacert)
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID,
                                        "A remote gateway needs --cert, --key and --cacert");
        cr = new0(ClientRemote, 1);
        if (!cr)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        client_init(&cr->client, &client_remote_ops, cr);
        (void) pthread_mutex_init(&cr->lock, NULL);
        cr->n_ref = 1;
        cr->idle.fd = -EBADF;

        r = remote_parse_addr(config->addr, &cr->host, &cr->port);
        if (r < 0) {
                client_remote_free(&cr->client);
                return client_error_set(error, r, CLIENT_ERROR_INVALID,
                                        "Invalid gateway address '%s' (HOST:PORT or [IPv6]:PORT expected)",
                                        config->addr);
        }
        if (strchr(cr->host, ':'))
                r = asprintf(&cr->host_header, "[%s]", cr->host);
        else
                r = asprintf(&cr->host_header, "%s", cr->host);
        if (r < 0) {
                cr->host_header = NULL;
                client_remote_free(&cr->client);
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        }
        r = tls_client_ctx_new(config->cert, config->key, config->cacert, &cr->ctx, err, sizeof(err));
        if (r < 0) {
                client_remote_free(&cr->client);
                return client_error_set(error, r, CLIENT_ERROR_INVALID, "%s", err);
        }
        /* Read-ahead into a larger buffer: an output stream arrives in several records per recv(2) instead
         * of two recv(2)s per record (header, then the rest). */
        SSL_CTX_set_read_ahead(cr->ctx, 1);
        SSL_CTX_set_default_read_buffer_len(cr->ctx, REMOTE_READ_BUFFER);
        *ret = &cr->client;
        return 0;
}
