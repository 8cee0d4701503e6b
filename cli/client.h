/* SPDX-License-Identifier: MIT */
/* client.h - the transport behind telerun's commands: local D-Bus (client-bus.c) or a remote gateway over
 * mTLS (client-remote.c).
 *
 * Commands see only this: job objects in the JSON format of src/bus/bus-json.h, a file descriptor that
 * yields a job's output, and errors with a category and a one-line message. A backend fills in ClientOps;
 * every operation returns 0 or a negative errno and, on failure, sets *error (client_error_set()).
 *
 * Ownership: returned JSON objects and fds belong to the caller; requests are borrowed for the call. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "shared/api.h"
#include "bus/bus-json.h"   /* the job object format, json_object_putp() */
#include "bus/bus-output-options.h" /* what a reader of the output asks for: streams, frames, times, lines */
#include "shared/macro.h"
#include "core/list-filter.h"
#include "core/start-request.h" /* what start asks for: one model with the gateway and the daemon */

/* The classes of the API's one error table (api.h): a worker's error maps onto them the same way on both
 * backends. */
typedef enum ClientErrorKind {
        CLIENT_ERROR_OTHER = API_ERROR_CLASS_OTHER,
        CLIENT_ERROR_NOT_FOUND = API_ERROR_CLASS_NOT_FOUND,         /* no such job (or no output) */
        CLIENT_ERROR_ACCESS_DENIED = API_ERROR_CLASS_ACCESS_DENIED, /* not the owner and not an administrator */
        CLIENT_ERROR_INVALID = API_ERROR_CLASS_INVALID,   /* the worker refused the arguments (id, env, limits...) */
        CLIENT_ERROR_UNREACHABLE = API_ERROR_CLASS_UNREACHABLE, /* no worker: bus/gateway down, connection lost */
        _CLIENT_ERROR_KIND_MAX = _API_ERROR_CLASS_MAX,
} ClientErrorKind;

typedef struct ClientError {
        ClientErrorKind kind;
        char *message; /* one line, without "telerun: " */
        const ApiError *api; /* the worker's error, when it was one the API knows (api.h); else NULL */
} ClientError;

typedef struct Client Client;

typedef struct ClientOps {
        const char *name;
        /* Returns the new job's id (malloc'ed). */
        int (*start)(Client *c, const StartRequest *req, char **ret_id, ClientError *error);
        /* Returns once the job has ended; an ended job is not an error. */
        int (*stop)(Client *c, const char *id, ClientError *error);
        int (*get_job)(Client *c, const char *id, json_object **ret, ClientError *error);
        /* A JSON array of job objects, oldest first. */
        int (*list)(Client *c, json_object **ret, ClientError *error);
        /* Blocks until the job has ended, then returns its final object. */
        int (*wait)(Client *c, const char *id, json_object **ret, ClientError *error);
        /* A readable, O_CLOEXEC fd that yields the output from offset, then EOF: at the size the output had
         * at the call, or with follow once the output is complete. Any kind of fd (pipe, socket, file): a
         * backend that gets the bytes some other way may hand out the read end of a pipe it feeds. */
        int (*open_output)(Client *c, const char *id, uint64_t offset, bool follow, int *ret_fd,
                           ClientError *error);
        /* Optional (NULL: start, then open_output(id, 0, follow)): start, and the output followed from its
         * first byte, in as few round trips as the transport allows. The backend may also ask for the job's
         * end right away, so that the wait() that follows the copy has its answer at hand. */
        int (*start_follow)(Client *c, const StartRequest *req, char **ret_id, int *ret_fd,
                            ClientError *error);
        /* Optional: 1 when the job's output is complete and offset is its end, 0 when there is more to come
         * (the worker's own answer; a follower's stream also ends when the worker goes away). NULL: the caller
         * decides from get_job(). */
        int (*output_complete)(Client *c, const char *id, uint64_t offset, ClientError *error);
        /* Optional: blocks until the job's stdin (a StartRequest with START_STDIN_STREAM) is sent whole, or the
         * job closed it; 0, or <0 with error set. NULL: a backend whose start hands the job its stdin fd. */
        int (*input_wait)(Client *c, ClientError *error);
        /* Optional: sets the size of the job's terminal. Called from telerun's SIGWINCH thread, concurrently
         * with the other operations: the backend makes the call on a connection of its own. */
        int (*resize)(Client *c, const char *id, uint16_t rows, uint16_t cols, ClientError *error);
        /* Optional: open_output with reader options (streams, frames, since/until, tail; docs/dbus.md
         * OpenOutputEx). *ret_offset: where the reader starts in the merged stream. -EOPNOTSUPP (error set)
         * when the worker has no such call (then only the merged stream: open_output). */
        int (*open_output_ex)(Client *c, const char *id, const BusOutputOptions *o, int *ret_fd, uint64_t *ret_offset,
                              ClientError *error);
        /* Removes an ended job's record and output; *ret_id (if not NULL) gets the id a prefix stood for. */
        int (*remove)(Client *c, const char *id, char **ret_id, ClientError *error);
        /* Sends sig (job_signal_allowed()) to the running job's main process. */
        int (*kill)(Client *c, const char *id, int sig, ClientError *error);
        /* Optional: a writable, O_CLOEXEC fd whose bytes reach the stdin of job id (started with StandardInput
         * "stream"; a job with a terminal hands one out on every call: run -it, attach). Remotely the bytes go
         * up with the next open_output(id, offset, follow), on one connection (POST …/attach?offset=). */
        int (*open_input)(Client *c, const char *id, int *ret_fd, ClientError *error);
        void (*free)(Client *c);
} ClientOps;

struct Client {
        const ClientOps *ops;
        void *userdata;   /* backend state */
        /* -EBADF, or an fd that turns readable when the user wants out (telerun's signalfd): the blocking
         * operations wait() and stop() then give up with -EINTR, leaving the job alone. Set by the caller. */
        int interrupt_fd;
        /* NULL, or which jobs list() returns (the worker filters: ListFiltered, GET /v1/jobs?state=…). Set by
         * the caller. */
        const JobListFilter *list_filter;
        /* stop()'s grace period (StopWithTimeout, POST …/stop?time=); UINT64_MAX: the worker's. Set by the caller. */
        uint64_t stop_grace_usec;
};

/* Every backend initializes its Client with this. */
static inline void client_init(Client *c, const ClientOps *ops, void *userdata) {
        c->ops = ops;
        c->userdata = userdata;
        c->interrupt_fd = -EBADF;
        c->list_filter = NULL;
        c->stop_grace_usec = UINT64_MAX;
}

/* What the global options --addr/--cert/--key/--cacert (or TELERUN_ADDR...) say. */
typedef struct ClientRemoteConfig {
        const char *addr;   /* HOST:PORT */
        const char *cert;   /* client certificate (PEM) */
        const char *key;    /* its private key (PEM) */
        const char *cacert; /* CA that signed the gateway's certificate (PEM) */
} ClientRemoteConfig;

/* The local worker on the system bus. */
int client_bus_new(Client **ret, ClientError *error);
/* A remote gateway. Implemented in client-remote.c. */
int client_remote_new(const ClientRemoteConfig *config, Client **ret, ClientError *error);

Client *client_free(Client *c);
DEFINE_FREE_FUNC(Client, client_free);

/* Sets *error (if error is not NULL) and returns r, which must be negative. */
int client_error_set(ClientError *error, int r, ClientErrorKind kind, const char *format, ...) _printf_(4, 5);
void client_error_done(ClientError *error);
const char *client_error_kind_to_string(ClientErrorKind k);

/* A detached thread that takes no signal meant for telerun's main thread (every signal blocked in it: the
 * signalfd and sigwait() see them). 0 or -errno. */
int client_thread_start(void *(*fn)(void *), void *arg);
