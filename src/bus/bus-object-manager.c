/* SPDX-License-Identifier: MIT */
/* bus-object-manager.c - org.freedesktop.DBus.ObjectManager at /org/teleworker/worker1 (docs/dbus.md).
 *
 * sd-bus answers GetManagedObjects from the node enumerator (bus-job.c), which lists only the jobs the
 * caller may see, and the Job objects' property getters, which check again. Two things are ours:
 *
 * - the bound: a job's properties reach ~1.1 MiB (its argv), so GetManagedObjects of many jobs could outgrow
 *   the bus's message limit and make the bus drop the daemon. Above LIST_REPLY_BYTES_MAX the call is
 *   LimitsExceeded, as List is (ListPage pages).
 * - the signals: sd-bus's own InterfacesAdded carries every property, and signals on the system bus go to
 *   whoever the bus policy lets listen. Ours carry the object path and the interface name with no
 *   properties, like JobStateChanged (id and path); a client that may see the job asks GetAll.
 *
 * A GetManagedObjects or GetAll calls a getter per property of each job; the caller's principal is looked
 * up once per message (bus_message_principal()), not per property. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/api.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "bus/bus-internal.h"

int bus_object_manager_add(BusApi *a) {
        return sd_bus_add_object_manager(a->bus, &a->object_manager_slot, TW_BUS_PATH);
}

void bus_message_principal_done(BusApi *a) {
        a->principal_msg = sd_bus_message_unref(a->principal_msg);
        principal_done(&a->principal_cached);
}

int bus_message_principal(BusApi *a, sd_bus_message *msg, const Principal **ret, sd_bus_error *error) {
        int r;

        /* The reference keeps the address from being reused by another message while it is cached. */
        if (a->principal_msg != msg) {
                bus_message_principal_done(a);
                r = bus_local_principal(a, msg, &a->principal_cached, error);
                if (r < 0)
                        return r;
                a->principal_msg = sd_bus_message_ref(msg);
        }
        *ret = &a->principal_cached;
        return 0;
}

int bus_managed_objects_check(BusApi *a, sd_bus_message *msg, const Principal *p, sd_bus_error *error) {
        size_t total = 0;

        if (!sd_bus_message_is_method_call(msg, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"))
                return 0;
        for (Job *j = manager_next_job(a->manager, NULL); j; j = manager_next_job(a->manager, j))
                if (authz_can_see(p, job_owner(j))) {
                        total += bus_job_props_size_max(j);
                        if (total > LIST_REPLY_BYTES_MAX)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                         "The managed objects are more than one reply may hold "
                                                         "(%u MiB): use ListPage.",
                                                         LIST_REPLY_BYTES_MAX / 1024 / 1024);
                }
        return 0;
}

static void bus_emit_job_interfaces(BusApi *a, Job *j, bool added) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(freep) char *path = NULL;
        int r;

        r = bus_job_object_path(j, &path);
        if (r >= 0)
                r = sd_bus_message_new_signal(a->bus, &m, TW_BUS_PATH, "org.freedesktop.DBus.ObjectManager",
                                              added ? "InterfacesAdded" : "InterfacesRemoved");
        if (r >= 0)
                r = sd_bus_message_append(m, "o", path);
        if (r >= 0 && added)
                /* The interface, without its properties (see above). */
                r = sd_bus_message_append(m, "a{sa{sv}}", 1, TW_BUS_INTERFACE_JOB, 0);
        else if (r >= 0)
                r = sd_bus_message_append(m, "as", 1, TW_BUS_INTERFACE_JOB);
        if (r >= 0)
                r = sd_bus_send(a->bus, m, NULL);
        if (r < 0)
                log_debug("Failed to emit Interfaces%s for job %s: %s", added ? "Added" : "Removed", job_id(j),
                          strerror(-r));
}

void bus_emit_job_added(BusApi *a, Job *j) {
        bus_emit_job_interfaces(a, j, true);
}

void bus_emit_job_removed(Job *j, void *userdata) {
        bus_emit_job_interfaces(userdata, j, false);
}
