/* SPDX-License-Identifier: MIT */
/* remote-http.h - telerun's HTTP requests to a teleworker-gateway, on libcurl (remote-http.c). Part of the
 * remote module (cli/meson.build): nothing here is linked into telerun itself.
 *
 * A RemoteHandle is a libcurl easy handle in a multi handle of its own: the multi holds the connection cache
 * (so the connection is kept between requests), and lets a transfer be driven with curl_multi_poll() on one
 * more fd (telerun's interrupt fd; an output stream's socket pair). One handle is kept idle in the
 * RemoteHttp between requests; a handle is used by one thread at a time and handed over with the lock. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "client.h"

#define REMOTE_REPLY_TIMEOUT_MS 120000          /* quick requests: no byte for this long is a failure */
#define REMOTE_NO_TIMEOUT -1                     /* wait, stop: as long as it takes */

typedef struct RemoteHandle {
        CURLM *multi;
        CURL *easy;
        char errbuf[CURL_ERROR_SIZE];
} RemoteHandle;

typedef struct RemoteHttp {
        char *base;             /* "https://HOST:PORT" */
        char *addr;             /* as given, for messages */
        char *cert, *key, *cacert;
        char *passphrase;       /* of an encrypted key, else NULL */
        struct curl_slist *headers, *headers_json, *headers_upload;

        pthread_mutex_t lock;
        RemoteHandle *idle;     /* kept for the next request, with its connection (NULL: none) */
} RemoteHttp;

typedef struct RemoteResponse {
        long status;            /* once the head arrived (0: not yet) */
        bool head_done;
        char *body;             /* the buffered body, NUL-terminated (NULL: none) */
        size_t size;
        bool too_big;
        char offset[32];        /* X-Teleworker-Offset ("": none) */

        /* Output streaming: a 200's body goes to stream_fd instead. Until the streaming thread owns the
         * transfer, the first body bytes pause it (the caller has not started reading). */
        int stream_fd;
        bool streaming;
        int stream_error;
} RemoteResponse;

int remote_http_init(RemoteHttp *h, const ClientRemoteConfig *config, ClientError *error);
void remote_http_done(RemoteHttp *h);

RemoteHandle *remote_handle_take(RemoteHttp *h);
void remote_handle_release(RemoteHttp *h, RemoteHandle *handle);
void remote_handle_free(RemoteHandle *handle);

void remote_response_init(RemoteResponse *r, int stream_fd);
void remote_response_done(RemoteResponse *r);

/* Sets up handle for one request (method "GET", "POST", "DELETE"; body: JSON or NULL) and adds it to its multi.
 * A POST to /v1/jobs (a job start) always goes on a new connection: never resent (see the design note). */
int remote_transfer_begin(RemoteHttp *h, RemoteHandle *handle, const char *method, const char *target,
                          const char *body, int timeout_ms, RemoteResponse *resp);
/* Drives the transfer: 1 done (*ret_code its result), 0 the head came (until_head; -ETIMEDOUT if it did not
 * within REMOTE_REPLY_TIMEOUT_MS), -EINTR extra_fd became readable (telerun's interrupt; an output reader's
 * hangup), else -errno. */
int remote_transfer_drive(RemoteHandle *handle, const RemoteResponse *resp, int extra_fd, bool until_head,
                          CURLcode *ret_code);
/* Ends the transfer (done or not: an unfinished one's connection is closed). */
void remote_transfer_end(RemoteHandle *handle);

/* The error for a failed transfer (code, and the handle's error buffer), or for a non-success status. */
int remote_curl_error(RemoteHttp *h, RemoteHandle *handle, CURLcode code, const char *what, ClientError *error);
int remote_status_error(const RemoteResponse *r, const char *what, ClientError *error);

/* One request, the whole response read into ret (remote_response_done() it). An HTTP status other than
 * expected is an error, set from the gateway's JSON body (api.h's table). */
int remote_request(RemoteHttp *h, int interrupt_fd, const char *method, const char *target, const char *body,
                   unsigned expected, int timeout_ms, const char *what, RemoteResponse *ret, ClientError *error);
/* A connection to the gateway for target's host, then nothing (CURLOPT_CONNECT_ONLY): TCP, the proxy's CONNECT
 * tunnel and TLS as for every request; the caller speaks on it with curl_easy_send()/curl_easy_recv() on
 * (*ret)->easy, polling *ret_socket, and frees it with remote_handle_free(). Blocks for the connection (at most
 * the connect timeout). 0, or <0 with error set. */
int remote_connect_only(RemoteHttp *h, const char *target, const char *what, RemoteHandle **ret,
                        curl_socket_t *ret_socket, ClientError *error);
/* POST target with fd's bytes to its EOF as a chunked body (the job's stdin: POST /v1/jobs/{id}/input), on a
 * handle of its own; blocks this thread until the gateway answered: 0 (200), or <0 with error set. */
int remote_upload(RemoteHttp *h, const char *target, int fd, const char *what, ClientError *error);
