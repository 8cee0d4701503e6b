/* SPDX-License-Identifier: MIT */
/* bus-methods.c - the Manager and Remote interfaces (docs/dbus.md): authorize, validate, act, and reply now
 * or from the engine's callback (Start, Stop, Wait). The Remote methods are the Manager's with a principal
 * in front; both tables point at the same functions. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/api.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "bus/bus-internal.h"

/* ---------------------------------------------------------------------------------------------------- */
/* Deferred replies */

static void reply_error_or(sd_bus_message *msg, const sd_bus_error *error) {
        if (error)
                (void) sd_bus_reply_method_error(msg, error);
}

/* A Start or StartWithOutput call waiting for its job to run. */
typedef struct StartCall {
        Manager *manager;
        sd_bus_message *msg;
        int output_fd; /* StartWithOutput: the job's output, followed from offset 0; else -EBADF */
} StartCall;

static StartCall *start_call_free(StartCall *c) {
        if (!c)
                return NULL;
        sd_bus_message_unref(c->msg);
        safe_close(c->output_fd);
        free(c);
        return NULL;
}
DEFINE_FREE_FUNC(StartCall, start_call_free);

static void on_job_started(Job *j, const sd_bus_error *error, void *userdata) {
        _cleanup_(start_call_freep) StartCall *c = userdata;
        _cleanup_(freep) char *path = NULL;
        int r;

        if (error) {
                reply_error_or(c->msg, error);
                return;
        }
        if (bus_job_object_path(j, &path) < 0) {
                (void) sd_bus_reply_method_errno(c->msg, ENOMEM, NULL);
                return;
        }
        if (c->output_fd < 0) {
                (void) sd_bus_reply_method_return(c->msg, "so", job_id(j), path);
                return;
        }
        r = sd_bus_reply_method_return(c->msg, "soh", job_id(j), path, c->output_fd);
        if (r < 0) {
                /* The caller would not learn of a job it asked to follow: it must not run on without it. */
                (void) sd_bus_reply_method_errnof(c->msg, r, "Failed to hand out the output of job %s: %m",
                                                  job_id(j));
                (void) manager_stop_job(c->manager, j, NULL, NULL);
        }
}

static void on_job_stopped(Job *j, const sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata;

        if (error)
                reply_error_or(msg, error);
        else
                (void) sd_bus_reply_method_return(msg, NULL);
}

static void on_job_waited(Job *j, const sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata, *reply = NULL;

        if (error) {
                reply_error_or(msg, error);
                return;
        }
        if (sd_bus_message_new_method_return(msg, &reply) < 0 || bus_append_job_props(reply, j) < 0)
                (void) sd_bus_reply_method_errno(msg, ENOMEM, NULL);
        else
                (void) sd_bus_send(NULL, reply, NULL);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Methods */

/* The engine's JobRequest has the StartRequest's fields, one by one (until the two are one type). */
static JobRequest job_request_from_start(const StartRequest *s) {
        return (JobRequest) {
                .argv = s->argv,
                .env = s->env,
                .cwd = s->cwd,
                .limits = s->limits,
                .profile = s->profile,
                .runtime_max_usec = s->runtime_max_usec,
                .name = s->name,
                .isolation = {
                        .private_pid = s->isolation.private_pid,
                        .private_tmp = s->isolation.private_tmp,
                        .private_network = s->isolation.private_network,
                        .protect_system = s->isolation.protect_system,
                },
                .stdin_kind = s->stdin_kind,
                .stdin_fd = s->stdin_fd,
                .tty_rows = s->tty_rows,
                .tty_cols = s->tty_cols,
        };
}

/* A local caller (not root) that asks for the network its policy entry does not give: polkit's
 * org.teleworker.worker1.network may give it. 1: polkit was asked, the call comes back. */
static int bus_start_network(BusApi *a, sd_bus_message *msg, Principal *p, const JobRequest *req) {
        PrincipalPolicy policy;
        bool granted = false;
        int r;

        if (p->remote || p->uid == 0 || req->isolation.private_network != 0)
                return 0;
        config_principal_policy(manager_config(a->manager), p->name, &policy);
        if (policy.network)
                return 0;
        r = bus_polkit_check(a, msg, BUS_POLKIT_NETWORK, &granted);
        if (r > 0)
                return r;
        p->network = granted;
        return 0;
}

/* Start, StartAs and StartWithOutput: the same arguments; the last also hands out the job's output. */
static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(bus_start_request_done) StartRequest sreq = { .isolation = START_ISOLATION_UNSET };
        _cleanup_(start_call_freep) StartCall *c = NULL;
        JobRequest req;
        bool with_output = sd_bus_message_is_method_call(msg, TW_BUS_INTERFACE_MANAGER,
                                                         "StartWithOutput") > 0;
        Job *j = NULL;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = bus_read_start_request(msg, &sreq, error);
        if (r < 0)
                return r;
        /* The gateway's fds are its own, not its clients': a remote job's stdin is a stream (OpenInputAs). */
        if (sreq.stdin_kind == START_STDIN_FD && p.remote)
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS,
                                        "StandardInput cannot be an fd for a remote principal: use 'stream' and "
                                        "OpenInputAs.");
        req = job_request_from_start(&sreq);
        r = bus_start_network(a, msg, &p, &req);
        if (r > 0)
                return r;

        if (with_output) {
                /* Refused readers refuse the call before a job exists (not a job started, then stopped). */
                r = manager_check_readers(a->manager, &p, error);
                if (r < 0)
                        return r;
        }

        c = new0(StartCall, 1);
        if (!c)
                return -ENOMEM;
        c->manager = a->manager;
        c->msg = sd_bus_message_ref(msg);
        c->output_fd = -EBADF;
        r = manager_start_job(a->manager, &p, &req, on_job_started, c, &j, error);
        if (r < 0) {
                if (j)
                        manager_cancel_callbacks(a->manager, c);
                return r;
        }

        if (with_output) {
                /* Opened before the job is released: the reader replays from the first byte whenever the
                 * caller gets to it. Without its output the caller would have a job it cannot follow, which
                 * StartWithOutput promises never to leave behind. */
                r = manager_open_output(a->manager, &p, j, 0, true, &c->output_fd, error);
                if (r < 0) {
                        manager_cancel_callbacks(a->manager, c);
                        (void) manager_stop_job(a->manager, j, NULL, NULL);
                        return r;
                }
        }
        TAKE_PTR(c); /* on_job_started() owns it now */
        return 1;
}

int bus_defer_stop(BusApi *a, sd_bus_message *msg, Job *j, sd_bus_error *error) {
        int r;

        r = manager_stop_job(a->manager, j, on_job_stopped, sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return sd_bus_error_set_errnof(error, r, "Failed to stop job %s: %m", job_id(j));
        }
        return 1;
}

int bus_defer_wait(BusApi *a, sd_bus_message *msg, Job *j) {
        int r;

        r = manager_wait_job(a->manager, j, on_job_waited, sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_STOP, &j, error);
        return r != 0 ? r : bus_defer_stop(a, msg, j, error);
}

/* StopWithTimeout, StopWithTimeoutAs: Stop with a grace period of its own (at most the configured one). */
static int method_stop_with_timeout(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        uint64_t grace;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_STOP, &j, error);
        if (r != 0)
                return r;
        r = sd_bus_message_read(msg, "t", &grace);
        if (r < 0)
                return r;
        r = manager_stop_job_grace(a->manager, j, grace, on_job_stopped, sd_bus_message_ref(msg));
        if (r < 0) {
                sd_bus_message_unref(msg);
                return sd_bus_error_set_errnof(error, r, "Failed to stop job %s: %m", job_id(j));
        }
        return 1;
}

static int method_wait(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_VIEW, &j, error);
        return r != 0 ? r : bus_defer_wait(a, msg, j);
}

static int method_get_job(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_VIEW, &j, error);
        if (r != 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = bus_append_job_props(reply, j);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* List cursors: "<instance>-<seq>", the last job of the page. Opaque to callers (docs/dbus.md). */
int bus_list_cursor_parse(const char *cursor, uint64_t instance, uint64_t *ret_seq) {
        size_t len = cursor ? strlen(cursor) : 0;

        if (len == 0) {
                *ret_seq = 0;
                return 0;
        }
        /* 16 hex digits, '-', 1 to 19 decimal digits (strtoull alone would take signs and spaces too). */
        if (len < 18 || len > 16 + 1 + 19 || cursor[16] != '-' || strspn(cursor, "0123456789abcdef") != 16 ||
            strspn(cursor + 17, "0123456789") != len - 17)
                return -EINVAL;
        if (strtoull(cursor, NULL, 16) != instance)
                return -ESTALE;
        *ret_seq = strtoull(cursor + 17, NULL, 10);
        return 0;
}

static int list_cursor_parse(BusApi *a, const char *cursor, uint64_t *ret, sd_bus_error *error) {
        int r = bus_list_cursor_parse(cursor, a->instance, ret);

        if (r == -ESTALE)
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS,
                                        "The cursor is from an earlier run of teleworkerd: list again from \"\".");
        if (r < 0)
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS,
                                        "Malformed cursor: pass \"\" or the 'next' of the previous page.");
        return 0;
}

/* Appends the jobs p may see that come after seq "after", oldest first, as long as at most max_jobs (0: any
 * number) and at most budget bytes of them fit. Returns 1 and the last job appended in *ret_last when visible
 * jobs are left over, 0 when the listing is complete. */
static int bus_append_job_list(BusApi *a, sd_bus_message *reply, const Principal *p, uint64_t after,
                               uint32_t max_jobs, size_t budget, const JobListFilter *f, Job **ret_last) {
        uint64_t skip = after == 0 ? bus_list_skip(a, p, f) : 0;
        size_t used = 0;
        uint32_t n = 0;
        Job *last = NULL;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j)) {
                size_t size;

                if (job_seq(j) <= after || !bus_list_visible(p, f, j))
                        continue;
                if (skip > 0) {
                        skip--; /* older than the newest f->last */
                        continue;
                }
                size = bus_job_props_size_max(j);
                if ((max_jobs > 0 && n >= max_jobs) || (n > 0 && used + size > budget)) {
                        *ret_last = last;
                        r = sd_bus_message_close_container(reply);
                        return r < 0 ? r : 1;
                }
                r = bus_append_job_props(reply, j);
                if (r < 0)
                        return r;
                used += size;
                last = j;
                n++;
        }
        *ret_last = last;
        r = sd_bus_message_close_container(reply);
        return r < 0 ? r : 0;
}

/* List and ListAs: every job the caller may see in one reply, as long as that reply is sure to stay far below
 * the bus's message size limit; a larger listing is LimitsExceeded (ListPage gives it page by page), never a
 * reply that makes the bus drop the daemon. */
static int method_list(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Job *last = NULL;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = bus_polkit_admin_to_list(a, msg, &p);   /* every job, or the caller's own */
        if (r > 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = bus_append_job_list(a, reply, &p, 0, 0, LIST_REPLY_BYTES_MAX, NULL, &last);
        if (r < 0)
                return r;
        if (r > 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "The job list is larger than one reply may be (%u MiB): use ListPage.",
                                         LIST_REPLY_BYTES_MAX / 1024 / 1024);
        return sd_bus_send(NULL, reply, NULL);
}

/* ListPage and ListPageAs: the jobs after cursor ("" = from the oldest), at most max of them (0 = as many as
 * fit in LIST_PAGE_BYTES_MAX), and the cursor of the next page ("" = that was the last). ListFiltered and
 * ListFilteredAs: the same with a filter (bus-lifecycle.c). */
static int method_list_page(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(msg);
        bool filtered = streq(member, "ListFiltered") || streq(member, "ListFilteredAs");
        JobListFilter filter = {};
        BusApi *a = userdata;
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char next[64] = "";
        const char *cursor;
        uint64_t after = 0;
        uint32_t max;
        Job *last = NULL;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "su", &cursor, &max);
        if (r < 0)
                return r;
        if (filtered) {
                r = bus_read_list_filter(msg, &filter, error);
                if (r < 0)
                        return r;
        }
        r = bus_list_authorize(a, msg, &p, filtered ? &filter : NULL, error);   /* every job, or the caller's own */
        if (r != 0)
                return r;
        r = list_cursor_parse(a, cursor, &after, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = bus_append_job_list(a, reply, &p, after, max, LIST_PAGE_BYTES_MAX, filtered ? &filter : NULL, &last);
        if (r < 0)
                return r;
        if (r > 0)
                (void) snprintf(next, sizeof(next), "%016" PRIx64 "-%" PRIu64, a->instance, job_seq(last));
        r = sd_bus_message_append(reply, "s", next);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ReadOutput and OpenOutput, after the job was found and the caller authorized: the "t offset, t max" or
 * "t offset, b follow" arguments are next in msg. Shared by the Manager, Remote and Job objects. */
int bus_reply_read_output(sd_bus_message *msg, Job *j, sd_bus_error *error) {
        uint64_t offset, max;
        int r;

        r = sd_bus_message_read(msg, "tt", &offset, &max);
        if (r < 0)
                return r;
        return bus_reply_output_bytes(msg, j, OUTPUT_SELECT_BOTH, offset, max, error);
}

/* The per-job cap stays (a job's readers are one store's list); per principal and in total, the manager
 * counts them (manager_open_output()). */
int bus_reply_open_output(BusApi *a, sd_bus_message *msg, const Principal *p, Job *j, sd_bus_error *error) {
        _cleanup_(closep) int fd = -EBADF;
        OutputStore *o = job_output(j);
        uint64_t offset;
        int follow, r;

        r = sd_bus_message_read(msg, "tb", &offset, &follow);
        if (r < 0)
                return r;
        if (o && output_store_n_readers(o) >= READERS_PER_JOB_MAX)
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_READERS,
                                         "Job %s already has %d readers, the most it may have.", job_id(j),
                                         READERS_PER_JOB_MAX);
        r = manager_open_output(a->manager, p, j, offset, follow, &fd, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "h", fd);
}

static int method_read_output(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_VIEW, &j, error);
        if (r != 0)
                return r;
        return bus_reply_read_output(msg, j, error);
}

static int method_open_output(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_principal_job(a, msg, AUTHZ_VIEW, &p, &j, error);
        if (r != 0)
                return r;
        return bus_reply_open_output(a, msg, &p, j, error);
}

/* OpenInput(As): stdin of a job started with StandardInput "stream", to its owner (or an administrator). */
static int method_open_input(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(closep) int fd = -EBADF;
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_STOP, &j, error);
        if (r != 0)
                return r;   /* an error, or polkit was asked: the call comes back */
        r = manager_open_input(a->manager, j, &fd, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "h", fd);
}

/* Resize(As): the job's terminal size, to its owner (or an administrator). */
static int method_resize(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        uint16_t rows, cols;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_STOP, &j, error);
        if (r != 0)
                return r;
        r = sd_bus_message_read(msg, "qq", &rows, &cols);
        if (r < 0)
                return r;
        r = manager_resize_job(a->manager, j, rows, cols, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

const sd_bus_vtable bus_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_ARGS("as", argv, "as", env, "s", cwd, "a{sv}", options),
                                SD_BUS_RESULT("s", id, "o", job), method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartWithOutput",
                                SD_BUS_ARGS("as", argv, "as", env, "s", cwd, "a{sv}", options),
                                SD_BUS_RESULT("s", id, "o", job, "h", output), method_start,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetJob", SD_BUS_ARGS("s", id), SD_BUS_RESULT("a{sv}", props), method_get_job,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", jobs), method_list,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListPage", SD_BUS_ARGS("s", cursor, "u", max),
                                SD_BUS_RESULT("aa{sv}", jobs, "s", next), method_list_page,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Wait", SD_BUS_ARGS("s", id), SD_BUS_RESULT("a{sv}", props), method_wait,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutput", SD_BUS_ARGS("s", id, "t", offset, "t", max),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), method_read_output,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenOutput", SD_BUS_ARGS("s", id, "t", offset, "b", follow),
                                SD_BUS_RESULT("h", fd), method_open_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenInput", SD_BUS_ARGS("s", id), SD_BUS_RESULT("h", fd), method_open_input,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resize", SD_BUS_ARGS("s", id, "q", rows, "q", cols), SD_BUS_NO_RESULT,
                                method_resize, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMetrics", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", text), bus_method_get_metrics,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenOutputEx", SD_BUS_ARGS("s", id, "a{sv}", options),
                                SD_BUS_RESULT("h", fd, "t", offset), bus_method_open_output_ex,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopWithTimeout", SD_BUS_ARGS("s", id, "t", timeout_usec), SD_BUS_NO_RESULT,
                                method_stop_with_timeout, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListFiltered", SD_BUS_ARGS("s", cursor, "u", max, "a{sv}", filter),
                                SD_BUS_RESULT("aa{sv}", jobs, "s", next), method_list_page,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Remove", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", id), bus_method_remove,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("s", id, "i", signal), SD_BUS_NO_RESULT, bus_method_kill,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutputEx", SD_BUS_ARGS("s", id, "a{sv}", options),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), bus_method_read_output_ex,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("JobStateChanged", SD_BUS_ARGS("s", id, "o", job, "s", state, "s", reason), 0),
        SD_BUS_VTABLE_END,
};

const sd_bus_vtable bus_remote_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("StartAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "as", argv, "as", env, "s", cwd, "a{sv}",
                                            options),
                                SD_BUS_RESULT("s", id, "o", job), method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id), SD_BUS_NO_RESULT,
                                method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetJobAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id),
                                SD_BUS_RESULT("a{sv}", props), method_get_job, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListAs", SD_BUS_ARGS("s", principal, "b", admin), SD_BUS_RESULT("aa{sv}", jobs),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListPageAs", SD_BUS_ARGS("s", principal, "b", admin, "s", cursor, "u", max),
                                SD_BUS_RESULT("aa{sv}", jobs, "s", next), method_list_page,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("WaitAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id),
                                SD_BUS_RESULT("a{sv}", props), method_wait, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutputAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "s", id, "t", offset, "t", max),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), method_read_output,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenOutputAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "s", id, "t", offset, "b", follow),
                                SD_BUS_RESULT("h", fd), method_open_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("EventsAs", SD_BUS_ARGS("s", principal, "b", admin, "t", after),
                                SD_BUS_RESULT("a(tssssit)", events, "t", last, "b", reset), bus_method_events,
                                SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_METHOD_WITH_ARGS("OpenInputAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id),
                                SD_BUS_RESULT("h", fd), method_open_input, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResizeAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id, "q", rows, "q", cols),
                                SD_BUS_NO_RESULT, method_resize, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMetricsAs", SD_BUS_ARGS("s", principal, "b", admin), SD_BUS_RESULT("s", text),
                                bus_method_get_metrics, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenOutputExAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "s", id, "a{sv}", options),
                                SD_BUS_RESULT("h", fd, "t", offset), bus_method_open_output_ex,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopWithTimeoutAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "s", id, "t", timeout_usec), SD_BUS_NO_RESULT,
                                method_stop_with_timeout, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListFilteredAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "s", cursor, "u", max, "a{sv}", filter),
                                SD_BUS_RESULT("aa{sv}", jobs, "s", next), method_list_page,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id), SD_BUS_RESULT("s", id),
                                bus_method_remove, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("KillAs", SD_BUS_ARGS("s", principal, "b", admin, "s", id, "i", signal),
                                SD_BUS_NO_RESULT, bus_method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutputExAs",
                                SD_BUS_ARGS("s", principal, "b", admin, "s", id, "a{sv}", options),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), bus_method_read_output_ex,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
