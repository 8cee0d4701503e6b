/* SPDX-License-Identifier: MIT */
/* client-bus.c - telerun's local backend: org.teleworker.worker1.Manager on the system bus (docs/dbus.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "shared/api.h"
#include "bus/bus-json.h"
#include "bus/bus-start.h"
#include "client.h"
#include "shared/macro.h"
#include "shared/util.h"

#define WORKER_SERVICE TW_BUS_NAME
#define WORKER_PATH TW_BUS_PATH
#define WORKER_MANAGER TW_BUS_INTERFACE_MANAGER

/* Start waits for systemd to create the scope, Stop for the job to die, Wait for the job to end: none of
 * them has a natural upper bound, so they never time out on our side. Quick calls keep sd-bus's default. */
#define CALL_TIMEOUT_INFINITY UINT64_MAX
#define CALL_TIMEOUT_DEFAULT 0

/* A method call on its way: sent, its reply not processed yet. */
typedef struct PendingCall {
        sd_bus_slot *slot;
        bool done;
        sd_bus_message *reply;
        sd_bus_error error;
} PendingCall;

typedef struct ClientBus {
        Client client;
        sd_bus *bus;
        /* The Wait that start_follow() sent ahead for job wait_id (NULL: none). */
        char *wait_id;
        PendingCall wait_call;
} ClientBus;

static ClientErrorKind bus_error_kind(const sd_bus_error *e, int r) {
        const ApiError *a;

        if (sd_bus_error_is_set(e)) {
                a = api_error_from_name(e->name);
                return a ? (ClientErrorKind) a->cli_class : CLIENT_ERROR_OTHER;
        }
        return api_errno_is_unreachable(r) ? CLIENT_ERROR_UNREACHABLE : CLIENT_ERROR_OTHER;
}

/* The D-Bus error's own message when there is one: the worker words its errors for users. */
static int bus_error_to_client(const sd_bus_error *e, int r, const char *what, ClientError *error) {
        ClientErrorKind kind = bus_error_kind(e, r);

        if (sd_bus_error_is_set(e) && e->message && *e->message)
                r = client_error_set(error, r, kind, "%s", e->message);
        else if (sd_bus_error_is_set(e))
                r = client_error_set(error, r, kind, "%s: %s", what, e->name);
        else
                return client_error_set(error, r, kind, "%s: %m", what);
        if (error)
                error->api = api_error_from_name(e->name);
        return r;
}

static void pending_call_done(PendingCall *p) {
        p->slot = sd_bus_slot_unref(p->slot);
        p->reply = sd_bus_message_unref(p->reply);
        sd_bus_error_free(&p->error);
        p->done = false;
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PendingCall *p = userdata;

        p->done = true;
        if (sd_bus_message_is_method_error(reply, NULL))
                (void) sd_bus_error_copy(&p->error, sd_bus_message_get_error(reply));
        else
                p->reply = sd_bus_message_ref(reply);
        return 0;
}

/* Sends m without waiting for anything: not for the reply, and not for the bus's Hello either, which a
 * synchronous sd_bus_call() would wait for first (one round trip through the bus daemon less). */
static int bus_call_begin(ClientBus *cb, sd_bus_message *m, uint64_t timeout, PendingCall *p) {
        *p = (PendingCall) { .error = SD_BUS_ERROR_NULL };
        return sd_bus_call_async(cb->bus, &p->slot, m, on_reply, p, timeout);
}

/* Processes the bus until p's reply is in; gives up with -EINTR when interruptible and the interrupt fd
 * turns readable (p stays pending then, to be finished later). Returns 1 with *ret (if not NULL) the reply,
 * or a negative errno with ret_error set from an error reply. */
static int bus_call_finish(ClientBus *cb, PendingCall *p, bool interruptible, sd_bus_error *ret_error,
                           sd_bus_message **ret) {
        int r;

        while (!p->done) {
                struct pollfd pfd[2];
                uint64_t until;
                int timeout_ms = -1;

                r = sd_bus_process(cb->bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;

                r = sd_bus_get_events(cb->bus);
                if (r < 0)
                        return r;
                pfd[0] = (struct pollfd) { .fd = sd_bus_get_fd(cb->bus), .events = (short) r };
                pfd[1] = (struct pollfd) { .fd = interruptible ? cb->client.interrupt_fd : -EBADF,
                                           .events = POLLIN };

                r = sd_bus_get_timeout(cb->bus, &until);
                if (r < 0)
                        return r;
                if (until != UINT64_MAX) {
                        uint64_t now = now_usec(CLOCK_MONOTONIC);

                        timeout_ms = until <= now ? 0 :
                                     (int) MIN((until - now + 999) / 1000, (uint64_t) INT_MAX);
                }

                if (poll(pfd, 2, timeout_ms) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (pfd[1].revents != 0)
                        return -EINTR;
        }

        if (sd_bus_error_is_set(&p->error)) {
                r = -sd_bus_error_get_errno(&p->error);
                (void) sd_bus_error_move(ret_error, &p->error);
                pending_call_done(p);
                return r < 0 ? r : -EIO;
        }
        if (ret)
                *ret = TAKE_PTR(p->reply);
        pending_call_done(p);
        return 1;
}

static int bus_result(int r, const sd_bus_error *e, const char *what, ClientError *error) {
        if (r == -EINTR)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Interrupted");
        if (r < 0)
                return bus_error_to_client(e, r, what, error);
        return 0;
}

/* Calls with an infinite timeout (Start, Stop, Wait) give up when the interrupt fd turns readable. */
static int bus_call(ClientBus *cb, sd_bus_message *m, uint64_t timeout, const char *what,
                    sd_bus_message **ret, ClientError *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        PendingCall p;
        int r;

        r = bus_call_begin(cb, m, timeout, &p);
        if (r >= 0) {
                r = bus_call_finish(cb, &p, timeout == CALL_TIMEOUT_INFINITY, &e, ret);
                pending_call_done(&p); /* also when interrupted: nobody will ask for this one again */
        }
        return bus_result(r, &e, what, error);
}

static int new_call(ClientBus *cb, const char *method, sd_bus_message **ret, ClientError *error) {
        int r;

        /* The bus itself went away (dbus-daemon restarted): a new connection, the pending Wait is lost. */
        if (sd_bus_is_open(cb->bus) <= 0) {
                pending_call_done(&cb->wait_call);
                cb->wait_id = mfree(cb->wait_id);
                cb->bus = sd_bus_flush_close_unref(cb->bus);
                r = sd_bus_open_system(&cb->bus);
                if (r < 0)
                        return client_error_set(error, r, CLIENT_ERROR_UNREACHABLE,
                                                "Failed to connect to the system bus: %m");
        }

        r = sd_bus_message_new_method_call(cb->bus, ret, WORKER_SERVICE, WORKER_PATH, WORKER_MANAGER, method);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to create %s call: %m", method);
        return 0;
}

static int bad_reply(ClientError *error, int r, const char *method) {
        return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to parse the reply to %s: %m", method);
}

/* Start or StartWithOutput: the same arguments. */
static int new_start_call(ClientBus *cb, const char *method, const StartRequest *req, sd_bus_message **ret,
                          ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = new_call(cb, method, &m, error);
        if (r < 0)
                return r;
        r = bus_append_start_request(m, req);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the %s call: %m", method);
        *ret = TAKE_PTR(m);
        return 0;
}

static int reply_read_id(sd_bus_message *reply, const char *method, char **ret_id, ClientError *error) {
        const char *id, *path;
        char *copy;
        int r;

        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0)
                return bad_reply(error, r, method);
        copy = strdup(id);
        if (!copy)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        *ret_id = copy;
        return 0;
}

static int client_bus_start(Client *c, const StartRequest *req, char **ret_id, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
        int r;

        r = new_start_call(cb, "Start", req, &m, error);
        if (r < 0)
                return r;
        r = bus_call(cb, m, CALL_TIMEOUT_INFINITY, "Failed to start the job", &reply, error);
        if (r < 0)
                return r;
        return reply_read_id(reply, "Start", ret_id, error);
}

/* Sends Wait(id) now; client_bus_wait(id) collects the reply. The job's end then reaches us while its output
 * is still being copied, instead of one more round trip through the bus daemon after that. */
static void wait_ahead(ClientBus *cb, const char *id) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        if (cb->wait_id || new_call(cb, "Wait", &m, NULL) < 0 || sd_bus_message_append(m, "s", id) < 0)
                return;
        cb->wait_id = strdup(id);
        if (!cb->wait_id)
                return;
        if (bus_call_begin(cb, m, CALL_TIMEOUT_INFINITY, &cb->wait_call) < 0 ||
            /* out of the write queue: nobody processes the bus while the output is copied */
            sd_bus_flush(cb->bus) < 0) {
                pending_call_done(&cb->wait_call);
                cb->wait_id = mfree(cb->wait_id);
        }
}

static int client_bus_start_follow(Client *c, const StartRequest *req, char **ret_id, int *ret_fd,
                                   ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(freep) char *id = NULL;
        _cleanup_(closep) int fd = -EBADF;
        ClientBus *cb = c->userdata;
        PendingCall p;
        const char *s, *path;
        int r, reply_fd;

        /* One round trip: the job and its output (docs/dbus.md). */
        r = new_start_call(cb, "StartWithOutput", req, &m, error);
        if (r < 0)
                return r;
        r = bus_call_begin(cb, m, CALL_TIMEOUT_INFINITY, &p);
        if (r >= 0)
                r = bus_call_finish(cb, &p, false, &e, &reply);
        pending_call_done(&p);
        if (r < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                /* A worker from before StartWithOutput: nothing was started, do it in two steps. */
                r = client_bus_start(c, req, &id, error);
                if (r < 0)
                        return r;
                r = c->ops->open_output(c, id, 0, true, &fd, error);
                if (r < 0)
                        return r;
        } else if (r < 0)
                return bus_result(r, &e, "Failed to start the job", error);
        else {
                r = sd_bus_message_read(reply, "soh", &s, &path, &reply_fd);
                if (r < 0)
                        return bad_reply(error, r, "StartWithOutput");
                id = strdup(s);
                if (!id)
                        return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
                /* The message owns the fd it carries: take a copy that outlives it. */
                fd = fcntl(reply_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return client_error_set(error, -errno, CLIENT_ERROR_OTHER,
                                                "Failed to duplicate the output fd: %m");
        }

        wait_ahead(cb, id);
        *ret_id = TAKE_PTR(id);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int client_bus_stop(Client *c, const char *id, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        ClientBus *cb = c->userdata;
        int r;

        r = new_call(cb, c->stop_grace_usec != UINT64_MAX ? "StopWithTimeout" : "Stop", &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", id);
        if (r >= 0 && c->stop_grace_usec != UINT64_MAX)
                r = sd_bus_message_append(m, "t", c->stop_grace_usec);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the Stop call: %m");
        return bus_call(cb, m, CALL_TIMEOUT_INFINITY, "Failed to stop the job", NULL, error);
}

static int client_bus_remove(Client *c, const char *id, char **ret_id, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
        const char *removed;
        int r;

        r = new_call(cb, "Remove", &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", id);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the Remove call: %m");
        r = bus_call(cb, m, 0, "Failed to remove the job", &reply, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &removed);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to parse the reply to Remove: %m");
        if (ret_id && !(*ret_id = strdup(removed)))
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        return 0;
}

static int client_bus_kill(Client *c, const char *id, int sig, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        ClientBus *cb = c->userdata;
        int r;

        r = new_call(cb, "Kill", &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "si", id, (int32_t) sig);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the Kill call: %m");
        return bus_call(cb, m, 0, "Failed to signal the job", NULL, error);
}

/* GetJob and Wait: s id -> a{sv}. */
static int call_job_props(ClientBus *cb, const char *method, uint64_t timeout, const char *id,
                          json_object **ret, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = new_call(cb, method, &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", id);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the %s call: %m",
                                        method);

        r = bus_call(cb, m, timeout,
                     streq(method, "Wait") ? "Failed to wait for the job" : "Failed to get the job", &reply,
                     error);
        if (r < 0)
                return r;

        r = bus_job_props_to_json(reply, ret);
        if (r < 0)
                return bad_reply(error, r, method);
        return 0;
}

static int client_bus_get_job(Client *c, const char *id, json_object **ret, ClientError *error) {
        return call_job_props(c->userdata, "GetJob", CALL_TIMEOUT_DEFAULT, id, ret, error);
}

static int client_bus_wait(Client *c, const char *id, json_object **ret, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        ClientBus *cb = c->userdata;
        int r;

        if (!cb->wait_id || !streq(cb->wait_id, id))
                return call_job_props(cb, "Wait", CALL_TIMEOUT_INFINITY, id, ret, error);

        /* The Wait that start_follow() sent: its reply may well be here already. Interrupted, it stays
         * pending for the next wait(). */
        r = bus_call_finish(cb, &cb->wait_call, true, &e, &reply);
        if (r != -EINTR) {
                pending_call_done(&cb->wait_call);
                cb->wait_id = mfree(cb->wait_id);
        }
        if (r < 0)
                return bus_result(r, &e, "Failed to wait for the job", error);
        r = bus_job_props_to_json(reply, ret);
        if (r < 0)
                return bad_reply(error, r, "Wait");
        return 0;
}

/* The jobs with List, for a worker from before ListPage (one reply: fine for the small tables it allowed). */
static int client_bus_list_whole(ClientBus *cb, json_object **ret, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = new_call(cb, "List", &m, error);
        if (r < 0)
                return r;
        r = bus_call(cb, m, CALL_TIMEOUT_DEFAULT, "Failed to list jobs", &reply, error);
        if (r < 0)
                return r;
        r = bus_job_list_to_json(reply, ret);
        if (r < 0)
                return bad_reply(error, r, "List");
        return 0;
}

/* Page by page (docs/dbus.md, ListPage): every reply stays well below the bus's message size limit. */
static int client_bus_list(Client *c, json_object **ret, ClientError *error) {
        _cleanup_(json_object_putp) json_object *jobs = NULL;
        _cleanup_(freep) char *cursor = strdup("");
        ClientBus *cb = c->userdata;
        int r;

        jobs = json_object_new_array();
        if (!jobs || !cursor)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Failed to list jobs: %m");
        do {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                const char *next;
                PendingCall p;

                r = new_call(cb, c->list_filter ? "ListFiltered" : "ListPage", &m, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "su", cursor, (uint32_t) 0);
                if (r >= 0 && c->list_filter)
                        r = bus_append_list_filter(m, c->list_filter);
                if (r < 0)
                        return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to create ListPage call: %m");
                r = bus_call_begin(cb, m, CALL_TIMEOUT_DEFAULT, &p);
                if (r >= 0)
                        r = bus_call_finish(cb, &p, false, &e, &reply);
                pending_call_done(&p);
                if (r < 0 && !*cursor && !c->list_filter && sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_METHOD))
                        return client_bus_list_whole(cb, ret, error);
                if (r < 0)
                        return bus_result(r, &e, "Failed to list jobs", error);
                r = bus_job_list_append_json(reply, jobs);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "s", &next);
                if (r >= 0 && *next && streq(next, cursor))
                        r = -EBADMSG; /* the same page again: it would never end */
                if (r < 0)
                        return bad_reply(error, r, "ListPage");
                free(cursor);
                cursor = strdup(next);
                if (!cursor)
                        return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Failed to list jobs: %m");
        } while (*cursor);
        *ret = TAKE_PTR(jobs);
        return 0;
}

/* A reply's one fd ("h"): the message owns the fd it carries, so a copy that outlives it. */
static int reply_take_fd(sd_bus_message *reply, const char *method, int *ret_fd, ClientError *error) {
        int r, fd;

        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return bad_reply(error, r, method);
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER,
                                        "Failed to duplicate the fd of %s: %m", method);
        *ret_fd = fd;
        return 0;
}

static int client_bus_open_output(Client *c, const char *id, uint64_t offset, bool follow, int *ret_fd,
                                  ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
        int r;

        r = new_call(cb, "OpenOutput", &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "stb", id, offset, (int) follow);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER,
                                        "Failed to build the OpenOutput call: %m");
        r = bus_call(cb, m, CALL_TIMEOUT_DEFAULT, "Failed to open the job's output", &reply, error);
        if (r < 0)
                return r;

        return reply_take_fd(reply, "OpenOutput", ret_fd, error);
}

/* OpenInput(id) -> h: the write end of the job's stdin (a copy of the worker's for a job with a terminal). */
static int client_bus_open_input(Client *c, const char *id, int *ret_fd, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
        int r;

        r = new_call(cb, "OpenInput", &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", id);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER,
                                        "Failed to build the OpenInput call: %m");
        r = bus_call(cb, m, CALL_TIMEOUT_DEFAULT, "Failed to open the job's input", &reply, error);
        if (r < 0)
                return r;
        return reply_take_fd(reply, "OpenInput", ret_fd, error);
}

/* OpenOutputEx(id, options) -> (h fd, t offset). A worker from before it says UnknownMethod (EBADR). */
static int client_bus_open_output_ex(Client *c, const char *id, const BusOutputOptions *o, int *ret_fd,
                                     uint64_t *ret_offset, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
        uint64_t offset;
        int r, fd;

        r = new_call(cb, "OpenOutputEx", &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", id);
        if (r >= 0)
                r = bus_append_output_options(m, o);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the OpenOutputEx call: %m");
        r = bus_call(cb, m, CALL_TIMEOUT_DEFAULT, "Failed to open the job's output", &reply, error);
        if (r == -EBADR)
                return client_error_set(error, -EOPNOTSUPP, CLIENT_ERROR_OTHER,
                                        "The worker keeps no separate streams (no OpenOutputEx)");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "ht", &fd, &offset);
        if (r < 0)
                return bad_reply(error, r, "OpenOutputEx");
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER, "Failed to duplicate the output fd: %m");
        *ret_fd = fd;
        *ret_offset = offset;
        return 0;
}

/* ReadOutput(id, offset, 0): no data, only whether the output is complete at offset ("eof"). */
static int client_bus_output_complete(Client *c, const char *id, uint64_t offset, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
        const void *data;
        size_t size;
        uint64_t next;
        int r, eof;

        r = new_call(cb, "ReadOutput", &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "stt", id, offset, UINT64_C(0));
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the ReadOutput call: %m");
        r = bus_call(cb, m, CALL_TIMEOUT_DEFAULT, "Failed to read the job's output", &reply, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(reply, 'y', &data, &size);
        if (r >= 0)
                r = sd_bus_message_read(reply, "tb", &next, &eof);
        if (r < 0)
                return bad_reply(error, r, "ReadOutput");
        return eof && next == offset;
}

static void client_bus_free(Client *c) {
        ClientBus *cb = c->userdata;

        pending_call_done(&cb->wait_call);
        free(cb->wait_id);
        sd_bus_flush_close_unref(cb->bus);
        free(cb);
}

/* On a connection of its own (see ClientOps.resize): resizes are rare, and sd-bus objects are not shared
 * between threads. */
static int client_bus_resize(Client *c, const char *id, uint16_t rows, uint16_t cols, ClientError *error) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, WORKER_SERVICE, WORKER_PATH, WORKER_MANAGER, "Resize", &e, NULL, "sqq", id,
                                       rows, cols);
        r = r < 0 ? bus_error_to_client(&e, r, "Failed to resize the job's terminal", error) : 0;
        sd_bus_error_free(&e);
        return r;
}

static const ClientOps client_bus_ops = {
        .name = "bus",
        .start = client_bus_start,
        .stop = client_bus_stop,
        .get_job = client_bus_get_job,
        .list = client_bus_list,
        .wait = client_bus_wait,
        .open_output = client_bus_open_output,
        .start_follow = client_bus_start_follow,
        .output_complete = client_bus_output_complete,
        .resize = client_bus_resize,
        .open_output_ex = client_bus_open_output_ex,
        .remove = client_bus_remove,
        .kill = client_bus_kill,
        .open_input = client_bus_open_input,
        .free = client_bus_free,
};

int client_bus_new(Client **ret, ClientError *error) {
        ClientBus *cb;
        int r;

        cb = new0(ClientBus, 1);
        if (!cb)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        client_init(&cb->client, &client_bus_ops, cb);

        r = sd_bus_open_system(&cb->bus);
        if (r < 0) {
                free(cb);
                return client_error_set(error, r, CLIENT_ERROR_UNREACHABLE,
                                        "Failed to connect to the system bus: %m");
        }

        *ret = &cb->client;
        return 0;
}
