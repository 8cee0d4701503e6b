/* SPDX-License-Identifier: MIT */
/* bus-job.c - the Job objects (/org/teleworker/worker1/job/<hex>): found by path, enumerated for the
 * caller's own jobs, their properties and methods under the same checks as the Manager's methods with an id. */
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

int bus_job_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *error) {
        BusApi *a = userdata;
        char id[JOB_ID_STRING_MAX];
        const char *hex;
        Job *j = NULL;

        if (strncmp(path, TW_BUS_JOB_PATH_PREFIX "/", strlen(TW_BUS_JOB_PATH_PREFIX) + 1) != 0)
                return 0;
        hex = path + strlen(TW_BUS_JOB_PATH_PREFIX) + 1;
        if (job_id_from_hex(hex, id) < 0)
                return 0;
        j = manager_find_job(a->manager, id);
        if (!j)
                return 0;
        *found = j;
        return 1;
}

/* Calls on a Job object: the same checks as the Manager methods with an id argument. Methods may ask polkit
 * (1: asked, the call comes back); property getters cannot wait: polkit was asked for their message before
 * dispatch (bus_polkit_filter()), and its answer is in the message's cached principal. */
static int job_object_authorize(BusApi *a, sd_bus_message *msg, Job *j, AuthzOp op, bool ask_polkit,
                                sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        int r;

        if (!msg)
                return 0; /* emitting a signal, not answering a caller */
        if (!ask_polkit) {
                const Principal *cached;

                /* A getter: one of many for the same message (GetAll, GetManagedObjects). */
                r = bus_message_principal(a, msg, &cached, error);
                if (r < 0)
                        return r;
                if (authz_check(cached, op, job_owner(j)) < 0)
                        return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                                 "Access to job %s denied: it belongs to another user.",
                                                 job_id(j));
                return 0;
        }
        r = bus_local_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        if (authz_check(&p, op, job_owner(j)) < 0) {
                r = bus_polkit_admin(a, msg, &p);
                if (r > 0)
                        return r;
        }
        if (authz_check(&p, op, job_owner(j)) < 0)
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "Access to job %s denied: it belongs to another user.", job_id(j));
        return 0;
}

BusApi *bus_api_of(sd_bus *bus);

static int property_get_job(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        JobUsage u;
        int r;

        r = job_object_authorize(bus_api_of(bus), sd_bus_get_current_message(bus), j, AUTHZ_VIEW, false, error);
        if (r < 0)
                return r;
        /* An unavailable counter reads UINT64_MAX here, systemd's own "unset": a property must have a value. */
        job_usage(j, &u);
        return bus_job_append_value(reply, j, property, &u);
}

static int job_method_forward(sd_bus_message *msg, Job *j, AuthzOp op, sd_bus_error *error) {
        return job_object_authorize(bus_api_of(sd_bus_message_get_bus(msg)), msg, j, op, true, error);
}

static int job_method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = job_method_forward(msg, userdata, AUTHZ_STOP, error);
        return r != 0 ? r : bus_defer_stop(bus_api_of(sd_bus_message_get_bus(msg)), msg, userdata, error);
}

static int job_method_wait(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = job_method_forward(msg, userdata, AUTHZ_VIEW, error);
        return r != 0 ? r : bus_defer_wait(bus_api_of(sd_bus_message_get_bus(msg)), msg, userdata);
}

static int job_method_read_output(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = job_method_forward(msg, userdata, AUTHZ_VIEW, error);
        return r != 0 ? r : bus_reply_read_output(msg, userdata, error);
}

static int job_method_read_output_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = job_method_forward(msg, userdata, AUTHZ_VIEW, error);
        return r != 0 ? r : bus_reply_read_output_ex(msg, userdata, error);
}

static int job_method_open_output(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        BusApi *a = bus_api_of(sd_bus_message_get_bus(msg));
        int r;

        r = job_method_forward(msg, userdata, AUTHZ_VIEW, error);
        if (r != 0)
                return r;
        r = bus_local_principal(a, msg, &p, error);    /* the reader is charged to the caller */
        if (r < 0)
                return r;
        return bus_reply_open_output(a, msg, &p, userdata, error);
}

int bus_job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        BusApi *a = userdata;
        _cleanup_(strv_freep) char **l = NULL;
        sd_bus_message *msg = sd_bus_get_current_message(bus);
        const Principal *p = NULL;
        size_t n = 0;
        int r;

        if (msg) {
                /* the message's cached principal: polkit's manage-all is in it (bus_polkit_filter()) */
                r = bus_message_principal(a, msg, &p, error);
                if (r < 0)
                        return r;
                r = bus_managed_objects_check(a, msg, p, error);
                if (r < 0)
                        return r;
        }
        l = new0(char *, manager_n_jobs(a->manager) + 1);
        if (!l)
                return -ENOMEM;
        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j)) {
                if (p && !authz_can_see(p, job_owner(j)))
                        continue;
                r = bus_job_object_path(j, &l[n]);
                if (r < 0)
                        return r;
                n++;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

#define JOB_PROPERTY(name, sig) \
        SD_BUS_PROPERTY(name, sig, property_get_job, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION)

const sd_bus_vtable bus_job_vtable[] = {
        SD_BUS_VTABLE_START(0),
#define X(name, signature) JOB_PROPERTY(name, signature),
        JOB_PROPERTIES(X)
#undef X
        SD_BUS_METHOD("Stop", "", "", job_method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Wait", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", props), job_method_wait,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutput", SD_BUS_ARGS("t", offset, "t", max),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), job_method_read_output,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenOutput", SD_BUS_ARGS("t", offset, "b", follow), SD_BUS_RESULT("h", fd),
                                job_method_open_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReadOutputEx", SD_BUS_ARGS("a{sv}", options),
                                SD_BUS_RESULT("ay", data, "t", next, "b", eof), job_method_read_output_ex,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
