/* SPDX-License-Identifier: MIT */
/* client-remote.c - telerun's remote backend: a teleworker-gateway over HTTPS with mTLS (docs/http.md).
 *
 * Each operation is one blocking request made with libcurl (remote-http.c: TLS 1.3, the client certificate,
 * proxies from the environment, errors mapped by the API's table, a job start never sent twice). The
 * connection is kept alive in an idle libcurl handle between requests: a full mutual-auth handshake costs more
 * than a request, and `run` makes three (start, output, wait).
 *
 * open_output() must hand out a plain fd: a detached thread owns the streaming transfer (its handle) and
 * libcurl writes the body into one end of a socketpair, blocking when the reader is slow; the caller reads the
 * other. When the stream is complete the thread puts its handle (with the connection) back in the idle slot
 * *before* closing its end, so the caller's next request (run's wait) finds it. When the caller closes its end
 * first the thread ends (its send fails with EPIPE, or its poll sees the hangup). All signals are blocked in
 * that thread, so telerun's signalfd keeps seeing them. The thread holds a reference on the ClientRemote, which
 * the last of the caller and the threads frees. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "client.h"
#include "remote-attach.h"
#include "remote-http.h"
#include "shared/job-ref.h"
#include "shared/macro.h"
#include "shared/util.h"
#include "transport/http-job.h"

typedef struct ClientRemote {
        Client client;
        RemoteHttp http;

        /* Shared with the output threads. */
        pthread_mutex_t lock;
        unsigned n_ref;

        /* start -i: the thread that streams our stdin to POST /v1/jobs/{id}/input (main thread only). */
        pthread_t input_thread;
        bool input_running;
        int input_error;         /* its result: 0 or -errno (after the join) */
        char input_message[256];

        /* start -it: the job's stdin waits for its output to be followed, and both then go on one Upgrade'd
         * connection (POST …/attach, remote-attach.c) rather than POST …/input and GET …/output. */
        char *attach_id;
        int attach_fd;           /* a copy of the request's stdin_fd; -EBADF: nothing waits */
} ClientRemote;

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
        remote_http_done(&cr->http);
        free(cr->attach_id);
        safe_close(cr->attach_fd);
        pthread_mutex_destroy(&cr->lock);
        free(cr);
}

static int client_remote_request(ClientRemote *cr, const char *method, const char *target, const char *body,
                                 unsigned expected, int timeout_ms, const char *what, RemoteResponse *ret,
                                 ClientError *error) {
        return remote_request(&cr->http, cr->client.interrupt_fd, method, target, body, expected, timeout_ms, what,
                              ret, error);
}

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
        r = client_remote_request(cr, method, target, NULL, expected, timeout_ms, what, &resp, error);
        if (r >= 0 && ret)
                r = remote_json(&resp, what, ret, error);
        remote_response_done(&resp);
        return r;
}

static int remote_input_start(ClientRemote *cr, const char *id, int fd, ClientError *error);
static int remote_attach_defer(ClientRemote *cr, const char *id, int fd, ClientError *error);

static int client_remote_start(Client *c, const StartRequest *req, char **ret_id, ClientError *error) {
        _cleanup_(json_object_putp) json_object *o = NULL, *job = NULL;
        ClientRemote *cr = c->userdata;
        json_object *id;
        RemoteResponse resp;
        int r;

        r = http_job_request_to_json(req, &o);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Out of memory");

        r = client_remote_request(cr, "POST", "/v1/jobs",
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
        /* No fd: the caller asks for the input itself (open_input, run -it). */
        if (req->stdin_kind == START_STDIN_STREAM && req->tty_rows > 0)
                return req->stdin_fd >= 0 ? remote_attach_defer(cr, *ret_id, req->stdin_fd, error) : 0;
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

static void *remote_input_thread(void *userdata) {
        RemoteInput *in = userdata;
        ClientRemote *cr = in->cr;
        _cleanup_(client_error_done) ClientError e = {};
        int r;

        r = remote_upload(&cr->http, in->target, in->fd, "Failed to send the job's input", &e);
        if (r < 0)
                (void) snprintf(cr->input_message, sizeof(cr->input_message), "%s",
                                e.message ?: "Failed to send the job's input");
        cr->input_error = r;
        client_remote_unref(cr);
        safe_close(in->fd);
        free(in);
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

/* The terminal job's input that waits for an attach: sent as a request body after all (start -it without
 * following, or a gateway without attach). */
static int remote_attach_give_up(ClientRemote *cr, ClientError *error) {
        _cleanup_(closep) int fd = TAKE_FD(cr->attach_fd);
        _cleanup_(freep) char *id = TAKE_PTR(cr->attach_id);

        return remote_input_start(cr, id, fd, error);
}

static int client_remote_input_wait(Client *c, ClientError *error) {
        ClientRemote *cr = c->userdata;
        int r;

        if (cr->attach_id) {
                r = remote_attach_give_up(cr, error);
                if (r < 0)
                        return r;
        }
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

                r = client_remote_request(cr, "GET", target, NULL, 200, REMOTE_REPLY_TIMEOUT_MS, "Failed to list jobs",
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
        RemoteHandle *handle;
        RemoteResponse resp;
        int fd;   /* our end of the socketpair */
        bool follow;
} RemoteStream;

static void *remote_stream_thread(void *userdata) {
        RemoteStream *s = userdata;
        CURLcode code = CURLE_OK;
        bool complete;
        int r;

        /* The transfer was paused at its first body byte: from here the writes block on the reader. */
        s->resp.streaming = true;
        (void) curl_easy_pause(s->handle->easy, CURLPAUSE_CONT);
        /* No timeout: a followed job may print nothing for hours; the gateway keeps such a stream open, and
         * closes it (we see EOF) when it goes away. Our end turns readable when the reader hangs up. */
        r = remote_transfer_drive(s->handle, &s->resp, s->fd, false, &code);
        complete = r == 1 && code == CURLE_OK;
        if (!complete && s->resp.stream_error == 0 && r != -EINTR && !s->follow)
                /* The reader sees EOF; say that it is not the end of the output. (A follower finds out by itself
                 * and resumes: follow.h.) */
                fprintf(stderr, "telerun: the output stream from the gateway was cut off\n");
        remote_transfer_end(s->handle);
        /* The handle first, then EOF for the reader: its next request (run's wait) finds the connection. An
         * unfinished transfer's connection was closed: nothing worth keeping. */
        if (complete)
                remote_handle_release(&s->cr->http, s->handle);
        else
                remote_handle_free(s->handle);
        safe_close(s->fd);
        remote_response_done(&s->resp);
        client_remote_unref(s->cr);
        free(s);
        return NULL;
}

/* Sends GET target and reads up to the head of the answer: 0 a 200 whose body is to be streamed, 1 a 200 that is
 * complete already (an empty body), else the error. */
static int remote_stream_open(ClientRemote *cr, RemoteStream *s, const char *target, bool want_offset,
                              ClientError *error) {
        static const char what[] = "Failed to open the job's output";
        CURLcode code = CURLE_OK;
        int r;

        s->handle = remote_handle_take(&cr->http);
        if (!s->handle)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        /* No speed limit: a followed job may print nothing for hours (the head's deadline is the drive's). */
        r = remote_transfer_begin(&cr->http, s->handle, "GET", target, NULL, REMOTE_NO_TIMEOUT, &s->resp);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "%s: %m", what);
        /* A 200 stops at its head (its body waits for the thread); anything else is read whole. */
        r = remote_transfer_drive(s->handle, &s->resp, cr->client.interrupt_fd, true, &code);
        if (r == -EINTR)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Interrupted");
        if (r < 0)
                return client_error_set(error, r, r == -ETIMEDOUT ? CLIENT_ERROR_UNREACHABLE : CLIENT_ERROR_OTHER,
                                        "%s: %m", what);
        if (r == 1 && code != CURLE_OK)
                return remote_curl_error(&cr->http, s->handle, code, what, error);
        if (s->resp.status != 200) {
                r = remote_status_error(&s->resp, what, error);
                /* A gateway from before the streams: it knows none of their parameters. */
                if (want_offset && s->resp.status == 400 && error && error->message &&
                    strstr(error->message, "Unknown query parameter"))
                        r = client_error_set(error, -EOPNOTSUPP, CLIENT_ERROR_OTHER,
                                             "The gateway keeps no separate streams");
                return r;
        }
        return r;
}

/* GET target (an output route): a detached thread streams the body into the socket pair whose other end is
 * *ret_fd. *ret_offset (if not NULL): the X-Teleworker-Offset the gateway said, else offset. */
static int remote_open_stream(Client *c, const char *target, bool follow, uint64_t offset, int *ret_fd,
                              uint64_t *ret_offset, ClientError *error) {
        ClientRemote *cr = c->userdata;
        RemoteStream *s;
        int sp[2], r;

        s = new0(RemoteStream, 1);
        if (!s)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        s->follow = follow;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                free(s);
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER, "Failed to create a socket pair: %m");
        }
        s->fd = sp[1];
        remote_response_init(&s->resp, sp[1]);

        r = remote_stream_open(cr, s, target, ret_offset, error);
        if (r >= 0 && ret_offset) {
                *ret_offset = offset;
                if (s->resp.offset[0] && parse_uint64(s->resp.offset, ret_offset) < 0)
                        r = client_error_set(error, -EBADMSG, CLIENT_ERROR_OTHER, "The gateway sent a bad "
                                             "X-Teleworker-Offset");
        }
        if (r != 0) {
                /* An error, or a body complete already: no thread; the reader sees EOF. */
                if (s->handle)
                        remote_transfer_end(s->handle);
                remote_handle_release(&cr->http, TAKE_PTR(s->handle));
                remote_response_done(&s->resp);
                safe_close(s->fd);
                free(s);
                if (r < 0) {
                        safe_close(sp[0]);
                        return r;
                }
                *ret_fd = sp[0];
                return 0;
        }

        s->cr = client_remote_ref(cr);
        r = client_thread_start(remote_stream_thread, s);
        if (r < 0) {
                client_remote_unref(cr);
                remote_transfer_end(s->handle);
                remote_handle_free(s->handle);
                remote_response_done(&s->resp);
                safe_close(s->fd);
                safe_close(sp[0]);
                free(s);
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to start the output thread: %m");
        }
        *ret_fd = sp[0];
        return 0;
}

/* ---- a terminal job's stdin and output on one connection (POST …/attach) ---- */

static int remote_attach_defer(ClientRemote *cr, const char *id, int fd, ClientError *error) {
        cr->attach_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (cr->attach_fd < 0)
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER, "Failed to duplicate stdin: %m");
        cr->attach_id = strdup(id);
        if (!cr->attach_id) {
                cr->attach_fd = safe_close(cr->attach_fd);
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        }
        return 0;
}

typedef struct RemoteAttachRelay {
        ClientRemote *cr;   /* a reference: the handle's options point into cr->http */
        RemoteAttach *attach;
        int in_fd, out_fd;  /* the job's stdin (ours), our end of the socket pair */
} RemoteAttachRelay;

static void *remote_attach_thread(void *userdata) {
        RemoteAttachRelay *t = userdata;

        remote_attach_relay(t->attach, t->in_fd, t->out_fd);
        /* The connection first, then EOF for the reader (follow.c then asks for the job's end). */
        remote_attach_free(t->attach);
        safe_close(t->in_fd);
        safe_close(t->out_fd);
        client_remote_unref(t->cr);
        free(t);
        return NULL;
}

/* The Upgrade, then a thread relays: our keys up, the job's output into the socket pair whose other end is
 * *ret_fd (what follow.c reads, as any output stream). 0, 1 when the gateway has no attach (then nothing was
 * taken: the caller falls back to …/input and …/output), or <0 with error set. */
static int remote_attach_start(ClientRemote *cr, uint64_t offset, int *ret_fd, ClientError *error) {
        _cleanup_(remote_attach_freep) RemoteAttach *a = NULL;
        RemoteAttachRelay *t;
        int sp[2], r;

        r = remote_attach_open(&cr->http, cr->attach_id, offset, cr->client.interrupt_fd, &a, error);
        if (r == -ENOPROTOOPT) {
                client_error_done(error);
                return 1;
        }
        if (r < 0)
                return r;
        t = new0(RemoteAttachRelay, 1);
        if (!t)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                free(t);
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER, "Failed to create a socket pair: %m");
        }
        *t = (RemoteAttachRelay) {
                .cr = client_remote_ref(cr),
                .attach = TAKE_PTR(a),
                .in_fd = TAKE_FD(cr->attach_fd),
                .out_fd = sp[1],
        };
        cr->attach_id = mfree(cr->attach_id);
        r = client_thread_start(remote_attach_thread, t);
        if (r < 0) {
                client_remote_unref(cr);
                remote_attach_free(t->attach);
                safe_close(t->in_fd);
                safe_close(sp[1]);
                safe_close(sp[0]);
                free(t);
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to start the attach thread: %m");
        }
        *ret_fd = sp[0];
        return 0;
}

/* The keys for a terminal job (run -it, attach): a pipe whose read end waits for the attach that the next
 * followed open_output() makes (remote_attach_start()), or, from a gateway without attach, goes up as the
 * body of POST …/input. */
static int client_remote_open_input(Client *c, const char *id, int *ret_fd, ClientError *error) {
        ClientRemote *cr = c->userdata;
        _cleanup_(closep) int read_fd = -EBADF;
        int fds[2], r;

        if (!job_ref_is_valid(id))
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID, "Invalid job id '%s'", id);
        if (cr->attach_id)
                return client_error_set(error, -EBUSY, CLIENT_ERROR_OTHER,
                                        "An input waits for its attach already");
        if (pipe2(fds, O_CLOEXEC) < 0)
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER, "Failed to create a pipe: %m");
        read_fd = fds[0];
        r = remote_attach_defer(cr, id, read_fd, error);
        if (r < 0) {
                safe_close(fds[1]);
                return r;
        }
        *ret_fd = fds[1];
        return 0;
}

static int client_remote_resize(Client *c, const char *id, uint16_t rows, uint16_t cols, ClientError *error) {
        char suffix[64];

        (void) snprintf(suffix, sizeof(suffix), "/resize?rows=%u&cols=%u", rows, cols);
        return remote_job_request(c, "POST", id, suffix, 200, REMOTE_REPLY_TIMEOUT_MS,
                                  "Failed to resize the job's terminal", NULL, error);
}

static int client_remote_open_output(Client *c, const char *id, uint64_t offset, bool follow, int *ret_fd,
                                     ClientError *error) {
        ClientRemote *cr = c->userdata;
        char target[160];
        int r;

        if (!job_ref_is_valid(id))
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID, "Invalid job id '%s'", id);
        /* run -it: the output followed, so the keys go with it. */
        if (cr->attach_id && follow && streq(cr->attach_id, id)) {
                r = remote_attach_start(cr, offset, ret_fd, error);
                if (r <= 0)
                        return r;
                r = remote_attach_give_up(cr, error);   /* an older gateway: …/input, then …/output */
                if (r < 0)
                        return r;
        }
        (void) snprintf(target, sizeof(target), "/v1/jobs/%s/output?offset=%" PRIu64 "%s", id, offset,
                        follow ? "&follow=true" : "");
        return remote_open_stream(c, target, follow, offset, ret_fd, NULL, error);
}

/* The same options as query parameters (docs/http.md): times as Unix seconds with microseconds. */
static int client_remote_open_output_ex(Client *c, const char *id, const BusOutputOptions *o, int *ret_fd,
                                        uint64_t *ret_offset, ClientError *error) {
        ClientRemote *cr = c->userdata;
        char target[512];
        size_t n;

        if (!job_ref_is_valid(id))
                return client_error_set(error, -EINVAL, CLIENT_ERROR_INVALID, "Invalid job id '%s'", id);
        /* A terminal is one stream: the caller takes the merged one (open_output), where the attach is. */
        if (cr->attach_id && streq(cr->attach_id, id))
                return client_error_set(error, -EOPNOTSUPP, CLIENT_ERROR_OTHER, "A terminal has one stream");
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
        .open_input = client_remote_open_input,
        .free = client_remote_free,
};


int client_remote_new(const ClientRemoteConfig *config, Client **ret, ClientError *error) {
        ClientRemote *cr;
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
        cr->attach_fd = -EBADF;
        (void) pthread_mutex_init(&cr->lock, NULL);
        cr->n_ref = 1;
        r = remote_http_init(&cr->http, config, error);
        if (r < 0) {
                client_remote_free(&cr->client);
                return r;
        }
        *ret = &cr->client;
        return 0;
}
