/* SPDX-License-Identifier: MIT */
/* remote-attach.h - telerun's side of POST /v1/jobs/{id}/attach (docs/http.md, "Attach"): an HTTP/1.1 Upgrade
 * to a raw duplex stream with a job's terminal, on a libcurl connection that stops after the handshake
 * (CURLOPT_CONNECT_ONLY: the same TLS, certificate and proxy as every request), spoken with
 * curl_easy_send()/curl_easy_recv(). Part of the remote module. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "remote-http.h"
#include "shared/macro.h"
#include "transport/http-upgrade.h"

typedef struct RemoteAttach {
        RemoteHandle *handle;
        curl_socket_t socket;
        char early[HTTP_UPGRADE_HEAD_MAX];   /* the head as read, then the stream's first bytes that came with it */
        size_t n_early;
} RemoteAttach;

/* Connects, sends the request (from offset of the job's output), reads the answer's head. 0: switched, *ret
 * the stream. -ENOPROTOOPT: the gateway is from before attach (it refuses Upgrades with 400
 * bad-request, or knows no such route: 404 not-found; error set too). Else <0 with error
 * set from the gateway's JSON answer, as for every request. interrupt_fd (may be -EBADF): readable = give up
 * (-EINTR). */
int remote_attach_open(RemoteHttp *h, const char *id, uint64_t offset, int interrupt_fd, RemoteAttach **ret,
                       ClientError *error);
/* Relays until the stream ends: in_fd's bytes to the job (in_fd's EOF only stops reading it: a terminal's
 * end of input is ^D, not a closed connection), the job's output to out_fd (blocking writes: a slow reader
 * holds the gateway back). Ends when the gateway closes the stream (the job's output is complete, or the
 * connection broke), or out_fd's reader hangs up. Closes neither fd. */
void remote_attach_relay(RemoteAttach *a, int in_fd, int out_fd);
RemoteAttach *remote_attach_free(RemoteAttach *a);
DEFINE_FREE_FUNC(RemoteAttach, remote_attach_free);
