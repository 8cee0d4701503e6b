/* SPDX-License-Identifier: MIT */
/* remote-attach.c - the Upgrade of POST /v1/jobs/{id}/attach and the relay of its raw stream (remote-attach.h).
 *
 * libcurl (7.88) cannot relay after a 101, so it only connects (CURLOPT_CONNECT_ONLY); the request head goes
 * out with curl_easy_send(), the answer's head is read with curl_easy_recv() into a bounded buffer and parsed
 * by http_upgrade_head_parse() (src/transport: unit tests and a fuzz target, these are untrusted bytes). The
 * relay polls the connection's socket, the input and the reader of the output; TLS may hold decrypted bytes
 * the socket's poll does not show, so every wakeup drains curl_easy_recv() until CURLE_AGAIN. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "remote-attach.h"
#include "shared/macro.h"
#include "shared/util.h"
#include "teleworker-build.h"

#define ATTACH_BODY_MAX (64U * 1024U)    /* a refusal's JSON body */

static const char attach_what[] = "Failed to attach to the job";

RemoteAttach *remote_attach_free(RemoteAttach *a) {
        if (!a)
                return NULL;
        remote_handle_free(a->handle);
        free(a);
        return NULL;
}

/* Waits until the socket has events or interrupt_fd is readable: 1, 0 on the deadline, -EINTR. */
static int attach_wait(RemoteAttach *a, short events, int interrupt_fd, uint64_t deadline) {
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = a->socket, .events = events },
                        { .fd = interrupt_fd, .events = POLLIN },
                };
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                int k;

                if (now >= deadline)
                        return 0;
                k = poll(p, interrupt_fd >= 0 ? 2 : 1, (int) MIN((deadline - now) / 1000 + 1, (uint64_t) 1000));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (interrupt_fd >= 0 && p[1].revents)
                        return -EINTR;
                if (p[0].revents)
                        return 1;
        }
}

/* Sends all of data (the request head). */
static int attach_send_all(RemoteAttach *a, const char *data, size_t n, int interrupt_fd, uint64_t deadline) {
        while (n > 0) {
                size_t sent = 0;
                CURLcode code = curl_easy_send(a->handle->easy, data, n, &sent);
                int r;

                if (code == CURLE_AGAIN) {
                        r = attach_wait(a, POLLOUT, interrupt_fd, deadline);
                        if (r <= 0)
                                return r == 0 ? -ETIMEDOUT : r;
                        continue;
                }
                if (code != CURLE_OK)
                        return -ECONNRESET;
                data += sent;
                n -= sent;
        }
        return 0;
}

/* Reads into buf (size bytes at most, *n already there) at least one more byte: 1, or 0 at the end of the
 * connection, <0 on error, -ETIMEDOUT at the deadline. */
static int attach_recv_some(RemoteAttach *a, char *buf, size_t size, size_t *n, int interrupt_fd,
                            uint64_t deadline) {
        for (;;) {
                size_t got = 0;
                CURLcode code = curl_easy_recv(a->handle->easy, buf + *n, size - *n, &got);
                int r;

                if (code == CURLE_AGAIN) {
                        r = attach_wait(a, POLLIN, interrupt_fd, deadline);
                        if (r <= 0)
                                return r == 0 ? -ETIMEDOUT : r;
                        continue;
                }
                if (code != CURLE_OK)
                        return -ECONNRESET;
                *n += got;
                return got > 0;
        }
}

/* A refusal: its JSON body (Content-Length, or to the end of the connection) read within bounds, and the error
 * as every request's. */
static int attach_refused(RemoteAttach *a, const HttpUpgradeHead *head, int interrupt_fd, uint64_t deadline,
                          ClientError *error) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        size_t want = head->content_length >= 0 ? (size_t) MIN((uint64_t) head->content_length,
                                                                (uint64_t) ATTACH_BODY_MAX) : ATTACH_BODY_MAX;
        size_t n = a->n_early;
        RemoteResponse resp;
        json_object *code;
        char *body;
        int r = 1;

        remote_response_init(&resp, -EBADF);
        body = malloc(ATTACH_BODY_MAX + 1);
        if (!body)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "%s: out of memory", attach_what);
        memcpy(body, a->early, MIN(n, (size_t) ATTACH_BODY_MAX));
        n = MIN(n, want);
        while (n < want && r > 0)
                r = attach_recv_some(a, body, want, &n, interrupt_fd, deadline);
        body[n] = 0;
        resp.status = head->status;
        resp.body = body;
        resp.size = n;
        r = remote_status_error(&resp, attach_what, error);
        /* A gateway from before attach: its parser refuses every Upgrade ("400 bad-request": a current one never
         * says that to our well-formed request), or it knows no such route ("404 not-found", not a job's
         * "no-such-job"). */
        o = IN_SET(head->status, 400, 404) ? json_tokener_parse(body) : NULL;
        if (o && json_object_object_get_ex(o, "error", &code) && json_object_is_type(code, json_type_string) &&
            streq(json_object_get_string(code), head->status == 400 ? "bad-request" : "not-found"))
                r = -ENOPROTOOPT;
        remote_response_done(&resp);
        return r;
}

int remote_attach_open(RemoteHttp *h, const char *id, uint64_t offset, int interrupt_fd, RemoteAttach **ret,
                       ClientError *error) {
        _cleanup_(remote_attach_freep) RemoteAttach *a = NULL;
        _cleanup_(freep) char *target = NULL, *request = NULL;
        uint64_t deadline;
        HttpUpgradeHead head = {};
        int r;

        a = new0(RemoteAttach, 1);
        if (!a || asprintf(&target, "/v1/jobs/%s/attach?offset=%" PRIu64, id, offset) < 0 ||
            asprintf(&request, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: telerun/" TELEWORKER_VERSION "\r\n"
                     "Connection: Upgrade\r\nUpgrade: " HTTP_UPGRADE_PROTOCOL "\r\nContent-Length: 0\r\n\r\n",
                     target, h->addr) < 0)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "%s: out of memory", attach_what);
        r = remote_connect_only(h, target, attach_what, &a->handle, &a->socket, error);
        if (r < 0)
                return r;

        deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t) REMOTE_REPLY_TIMEOUT_MS * 1000;
        r = attach_send_all(a, request, strlen(request), interrupt_fd, deadline);
        /* The head, bounded; what came after it is the stream's (or a refusal's body). */
        while (r >= 0) {
                r = http_upgrade_head_parse(a->early, a->n_early, &head);
                if (r != 0)
                        break;
                r = attach_recv_some(a, a->early, sizeof(a->early), &a->n_early, interrupt_fd, deadline);
                if (r == 0)
                        r = -ECONNRESET;
        }
        if (r == -EINTR)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Interrupted");
        if (r == -EBADMSG || r == -E2BIG)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "%s: malformed answer from the gateway",
                                        attach_what);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_UNREACHABLE, "%s: %m", attach_what);
        a->n_early -= head.head_size;
        memmove(a->early, a->early + head.head_size, a->n_early);
        if (head.status != 101)
                return attach_refused(a, &head, interrupt_fd, deadline, error);
        if (!head.upgrade)
                return client_error_set(error, -EBADMSG, CLIENT_ERROR_OTHER, "%s: the gateway switched to another "
                                        "protocol than \"" HTTP_UPGRADE_PROTOCOL "\"", attach_what);
        *ret = TAKE_PTR(a);
        return 0;
}

/* What TLS has decrypted, to out_fd: 0 when drained, 1 at the stream's end, <0 on error. */
static int attach_drain(RemoteAttach *a, int out_fd) {
        char buf[16384];

        for (;;) {
                size_t got = 0;
                CURLcode code = curl_easy_recv(a->handle->easy, buf, sizeof(buf), &got);

                if (code == CURLE_AGAIN)
                        return 0;
                if (code != CURLE_OK)
                        return -ECONNRESET;
                if (got == 0)
                        return 1;
                if (loop_write(out_fd, buf, got) < 0)
                        return -EPIPE;
        }
}

void remote_attach_relay(RemoteAttach *a, int in_fd, int out_fd) {
        char in[4096];
        size_t in_start = 0, in_end = 0;
        bool in_open = in_fd >= 0;

        if (a->n_early > 0 && loop_write(out_fd, a->early, a->n_early) < 0)
                return;
        for (;;) {
                struct pollfd p[3] = {
                        { .fd = a->socket, .events = POLLIN | (in_end > in_start ? POLLOUT : 0) },
                        /* Keys are read only once the last ones went: the gateway's pace is ours. */
                        { .fd = in_open && in_end == in_start ? in_fd : -1, .events = POLLIN },
                        { .fd = out_fd, .events = POLLIN },   /* readable: the reader hung up */
                };

                if (attach_drain(a, out_fd) != 0)
                        return;
                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (p[2].revents)
                        return;
                if (p[1].revents) {
                        ssize_t n = read(in_fd, in, sizeof(in));

                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0)
                                in_open = false;
                        else {
                                in_start = 0;
                                in_end = (size_t) n;
                        }
                }
                while (in_end > in_start) {
                        size_t sent = 0;
                        CURLcode code = curl_easy_send(a->handle->easy, in + in_start, in_end - in_start, &sent);

                        if (code == CURLE_AGAIN)
                                break;
                        if (code != CURLE_OK)
                                return;
                        in_start += sent;
                }
        }
}
