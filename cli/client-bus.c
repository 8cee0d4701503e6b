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

#include "bus-json.h"
#include "client.h"
#include "macro.h"
#include "util.h"

#define WORKER_SERVICE "org.teleworker.worker1"
#define WORKER_PATH "/org/teleworker/worker1"
#define WORKER_MANAGER "org.teleworker.worker1.Manager"

/* Start waits for systemd to create the scope, Stop for the job to die, Wait for the job to end: none of
 * them has a natural upper bound, so they never time out on our side. Quick calls keep sd-bus's default. */
#define CALL_TIMEOUT_INFINITY UINT64_MAX
#define CALL_TIMEOUT_DEFAULT 0

typedef struct ClientBus {
        Client client;
        sd_bus *bus;
} ClientBus;

static const struct {
        const char *name;
        ClientErrorKind kind;
} error_map[] = {
        { "org.teleworker.worker1.Error.NoSuchJob",                 CLIENT_ERROR_NOT_FOUND },
        { "org.freedesktop.DBus.Error.AccessDenied",                CLIENT_ERROR_ACCESS_DENIED },
        { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", CLIENT_ERROR_ACCESS_DENIED },
        { "org.freedesktop.DBus.Error.InvalidArgs",                 CLIENT_ERROR_INVALID },
        { "org.teleworker.worker1.Error.ExecutableNotFound",        CLIENT_ERROR_INVALID },
        { "org.teleworker.worker1.Error.LimitExceeded",             CLIENT_ERROR_INVALID },
        { "org.freedesktop.DBus.Error.ServiceUnknown",              CLIENT_ERROR_UNREACHABLE },
        { "org.freedesktop.DBus.Error.NameHasNoOwner",              CLIENT_ERROR_UNREACHABLE },
        { "org.freedesktop.DBus.Error.NoServer",                    CLIENT_ERROR_UNREACHABLE },
        { "org.freedesktop.DBus.Error.NoReply",                     CLIENT_ERROR_UNREACHABLE },
        { "org.freedesktop.DBus.Error.Timeout",                     CLIENT_ERROR_UNREACHABLE },
        { "org.freedesktop.DBus.Error.Disconnected",                CLIENT_ERROR_UNREACHABLE },
};

static ClientErrorKind bus_error_kind(const sd_bus_error *e, int r) {
        if (sd_bus_error_is_set(e)) {
                for (size_t i = 0; i < ELEMENTSOF(error_map); i++)
                        if (sd_bus_error_has_name(e, error_map[i].name))
                                return error_map[i].kind;
                if (strncmp(e->name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0)
                        return CLIENT_ERROR_UNREACHABLE; /* bus activation of the worker failed */
                return CLIENT_ERROR_OTHER;
        }

        switch (r) {
        case -ECONNREFUSED:
        case -ECONNRESET:
        case -ENOTCONN:
        case -ETIMEDOUT:
        case -EPIPE:
        case -ESHUTDOWN:
        case -ENOENT:
                return CLIENT_ERROR_UNREACHABLE;
        default:
                return CLIENT_ERROR_OTHER;
        }
}

/* The D-Bus error's own message when there is one: the worker words its errors for users. */
static int bus_error_to_client(const sd_bus_error *e, int r, const char *what, ClientError *error) {
        ClientErrorKind kind = bus_error_kind(e, r);

        if (sd_bus_error_is_set(e) && e->message && *e->message)
                return client_error_set(error, r, kind, "%s", e->message);
        if (sd_bus_error_is_set(e))
                return client_error_set(error, r, kind, "%s: %s", what, e->name);
        return client_error_set(error, r, kind, "%s: %m", what);
}

typedef struct PendingCall {
        bool done;
        sd_bus_message *reply;
        sd_bus_error error;
} PendingCall;

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PendingCall *p = userdata;

        p->done = true;
        if (sd_bus_message_is_method_error(reply, NULL))
                (void) sd_bus_error_copy(&p->error, sd_bus_message_get_error(reply));
        else
                p->reply = sd_bus_message_ref(reply);
        return 0;
}

/* sd_bus_call(), but giving up with -EINTR when the interrupt fd turns readable. */
static int bus_call_interruptible(ClientBus *cb, sd_bus_message *m, uint64_t timeout, sd_bus_error *ret_error,
                                  sd_bus_message **ret) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        PendingCall p = { .error = SD_BUS_ERROR_NULL };
        int r;

        r = sd_bus_call_async(cb->bus, &slot, m, on_reply, &p, timeout);
        if (r < 0)
                return r;

        while (!p.done) {
                struct pollfd pfd[2];
                uint64_t until;
                int timeout_ms = -1;

                r = sd_bus_process(cb->bus, NULL);
                if (r < 0)
                        goto fail;
                if (r > 0)
                        continue;

                r = sd_bus_get_events(cb->bus);
                if (r < 0)
                        goto fail;
                pfd[0] = (struct pollfd) { .fd = sd_bus_get_fd(cb->bus), .events = (short) r };
                pfd[1] = (struct pollfd) { .fd = cb->client.interrupt_fd, .events = POLLIN };

                r = sd_bus_get_timeout(cb->bus, &until);
                if (r < 0)
                        goto fail;
                if (until != UINT64_MAX) {
                        uint64_t now = now_usec(CLOCK_MONOTONIC);

                        timeout_ms = until <= now ? 0 :
                                     (int) MIN((until - now + 999) / 1000, (uint64_t) INT_MAX);
                }

                if (poll(pfd, 2, timeout_ms) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (pfd[1].revents != 0) {
                        r = -EINTR;
                        goto fail;
                }
        }

        if (sd_bus_error_is_set(&p.error)) {
                r = -sd_bus_error_get_errno(&p.error);
                (void) sd_bus_error_move(ret_error, &p.error);
                return r < 0 ? r : -EIO;
        }
        if (ret)
                *ret = p.reply;
        else
                sd_bus_message_unref(p.reply);
        return 1;

fail:
        sd_bus_error_free(&p.error);
        sd_bus_message_unref(p.reply);
        return r;
}

static int bus_call(ClientBus *cb, sd_bus_message *m, uint64_t timeout, const char *what,
                    sd_bus_message **ret, ClientError *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if (timeout == CALL_TIMEOUT_INFINITY && cb->client.interrupt_fd >= 0)
                r = bus_call_interruptible(cb, m, timeout, &e, ret);
        else
                r = sd_bus_call(cb->bus, m, timeout, &e, ret);
        if (r == -EINTR)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Interrupted");
        if (r < 0)
                return bus_error_to_client(&e, r, what, error);
        return 0;
}

static int new_call(ClientBus *cb, const char *method, sd_bus_message **ret, ClientError *error) {
        int r;

        r = sd_bus_message_new_method_call(cb->bus, ret, WORKER_SERVICE, WORKER_PATH, WORKER_MANAGER, method);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to create %s call: %m", method);
        return 0;
}

static int bad_reply(ClientError *error, int r, const char *method) {
        return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to parse the reply to %s: %m", method);
}

static int client_bus_start(Client *c, const ClientStartRequest *req, char **ret_id, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
        const struct {
                const char *key;
                uint64_t value;
        } options[] = {
                { "CPUQuotaPerSecUSec",  req->cpu_quota_per_sec_usec },
                { "MemoryMax",           req->memory_max },
                { "IOReadBandwidthMax",  req->io_read_bandwidth_max },
                { "IOWriteBandwidthMax", req->io_write_bandwidth_max },
                { "TasksMax",            req->tasks_max },
                { "RuntimeMaxUSec",      req->runtime_max_usec },
        };
        const struct {
                const char *key;
                ClientFlag value;
        } flags[] = {
                { "PrivateNetwork", req->private_network },
                { "PrivatePID",     req->private_pid },
                { "PrivateTmp",     req->private_tmp },
                { "ProtectSystem",  req->protect_system },
        };
        const char *id, *path;
        char *copy;
        int r;

        r = new_call(cb, "Start", &m, error);
        if (r < 0)
                return r;

        r = sd_bus_message_append_strv(m, req->argv);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, req->env);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", req->cwd ? req->cwd : "");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(options); i++)
                if (options[i].value != 0)
                        r = sd_bus_message_append(m, "{sv}", options[i].key, "t", options[i].value);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(flags); i++)
                if (flags[i].value != CLIENT_FLAG_DEFAULT)
                        r = sd_bus_message_append(m, "{sv}", flags[i].key, "b", flags[i].value == CLIENT_FLAG_YES);
        if (r >= 0 && req->profile)
                r = sd_bus_message_append(m, "{sv}", "Profile", "s", req->profile);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the Start call: %m");

        r = bus_call(cb, m, CALL_TIMEOUT_INFINITY, "Failed to start the job", &reply, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0)
                return bad_reply(error, r, "Start");

        copy = strdup(id);
        if (!copy)
                return client_error_set(error, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");
        *ret_id = copy;
        return 0;
}

static int client_bus_stop(Client *c, const char *id, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        ClientBus *cb = c->userdata;
        int r;

        r = new_call(cb, "Stop", &m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", id);
        if (r < 0)
                return client_error_set(error, r, CLIENT_ERROR_OTHER, "Failed to build the Stop call: %m");
        return bus_call(cb, m, CALL_TIMEOUT_INFINITY, "Failed to stop the job", NULL, error);
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
        return call_job_props(c->userdata, "Wait", CALL_TIMEOUT_INFINITY, id, ret, error);
}

static int client_bus_list(Client *c, json_object **ret, ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
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

static int client_bus_open_output(Client *c, const char *id, uint64_t offset, bool follow, int *ret_fd,
                                  ClientError *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        ClientBus *cb = c->userdata;
        int r, fd;

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

        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return bad_reply(error, r, "OpenOutput");

        /* The message owns the fd it carries: take a copy that outlives it. */
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return client_error_set(error, -errno, CLIENT_ERROR_OTHER,
                                        "Failed to duplicate the output fd: %m");
        *ret_fd = fd;
        return 0;
}

static void client_bus_free(Client *c) {
        ClientBus *cb = c->userdata;

        sd_bus_flush_close_unref(cb->bus);
        free(cb);
}

static const ClientOps client_bus_ops = {
        .name = "bus",
        .start = client_bus_start,
        .stop = client_bus_stop,
        .get_job = client_bus_get_job,
        .list = client_bus_list,
        .wait = client_bus_wait,
        .open_output = client_bus_open_output,
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
