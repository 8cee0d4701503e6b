/* SPDX-License-Identifier: MIT */
/* bus-api.c - teleworkerd's D-Bus API (docs/dbus.md): authorize, validate, act, reply (or reply later).
 *
 * Manager and Job calls act for the sender (its effective uid's user name); Remote calls act for the
 * principal the gateway asserts, and only the gateway's uid may make them. Every job access goes through
 * authz_check(). Replies to Start, Stop and Wait are sent from the engine's callbacks.
 *
 * The files: bus-principal.c (who calls, and the job a call names), bus-methods.c (the Manager and Remote
 * methods), bus-job.c (the Job objects), bus-props.c (a job's properties); they share bus-internal.h. This
 * one registers them on the bus. */
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

const sd_bus_vtable *bus_api_vtable(const char *interface) {
        if (streq_ptr(interface, TW_BUS_INTERFACE_MANAGER))
                return bus_manager_vtable;
        if (streq_ptr(interface, TW_BUS_INTERFACE_REMOTE))
                return bus_remote_vtable;
        if (streq_ptr(interface, TW_BUS_INTERFACE_JOB))
                return bus_job_vtable;
        return NULL;
}

/* ---------------------------------------------------------------------------------------------------- */

/* sd-bus hands property getters the bus, not our state: one API per bus, found through the bus's slot. */
static BusApi *the_api;

BusApi *bus_api_of(sd_bus *bus) {
        return the_api;
}

static void on_job_changed(Job *j, void *userdata) {
        BusApi *a = userdata;
        _cleanup_(freep) char *path = NULL;

        if (bus_job_object_path(j, &path) < 0)
                return;
        if (job_state(j) == JOB_SUBMITTED)
                bus_emit_job_added(a, j);   /* a new job: its first change */
        (void) sd_bus_emit_signal(a->bus, TW_BUS_PATH, TW_BUS_INTERFACE_MANAGER, "JobStateChanged", "soss",
                                  job_id(j), path, job_state_to_string(job_state(j)),
                                  job_reason_to_string(job_reason(j)));
        (void) sd_bus_emit_properties_changed(a->bus, path, TW_BUS_INTERFACE_JOB, "State", "Reason", "ExitCode",
                                              "ExitSignal", "StartedAt", "EndedAt", NULL);
        bus_events_push(a->events, j);
}

BusApi *bus_api_free(BusApi *a) {
        if (!a)
                return NULL;
        manager_set_changed_handler(a->manager, NULL, NULL);
        manager_set_removed_handler(a->manager, NULL, NULL);
        sd_bus_slot_unref(a->manager_slot);
        sd_bus_slot_unref(a->remote_slot);
        sd_bus_slot_unref(a->job_slot);
        sd_bus_slot_unref(a->enumerator_slot);
        bus_events_free(a->events);
        bus_polkit_done(a);
        sd_bus_slot_unref(a->object_manager_slot);
        sd_bus_slot_unref(a->polkit_filter_slot);
        bus_message_principal_done(a);
        for (size_t i = 0; i < ELEMENTSOF(a->senders); i++)
                free(a->senders[i].name);
        sd_bus_unref(a->bus);
        if (the_api == a)
                the_api = NULL;
        free(a);
        return NULL;
}

int bus_api_new(sd_bus *bus, Manager *m, BusApi **ret) {
        _cleanup_(bus_api_freep) BusApi *a = NULL;
        int r;

        if (the_api)
                return -EBUSY;
        a = new0(BusApi, 1);
        if (!a)
                return -ENOMEM;
        a->bus = sd_bus_ref(bus);
        a->manager = m;
        a->instance = now_usec(CLOCK_REALTIME); /* differs between runs: enough to tell cursors apart */
        r = bus_events_new(a->instance, &a->events);
        if (r < 0)
                return r;

        r = sd_bus_add_object_vtable(bus, &a->manager_slot, TW_BUS_PATH, TW_BUS_INTERFACE_MANAGER, bus_manager_vtable,
                                     a);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, &a->remote_slot, TW_BUS_PATH, TW_BUS_INTERFACE_REMOTE, bus_remote_vtable, a);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, &a->job_slot, TW_BUS_JOB_PATH_PREFIX, TW_BUS_INTERFACE_JOB, bus_job_vtable,
                                       bus_job_object_find, a);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(bus, &a->enumerator_slot, TW_BUS_JOB_PATH_PREFIX, bus_job_node_enumerator, a);
        if (r < 0)
                return r;
        r = bus_object_manager_add(a);
        if (r < 0)
                return r;
        r = sd_bus_add_filter(bus, &a->polkit_filter_slot, bus_polkit_filter, a);
        if (r < 0)
                return r;
        manager_set_changed_handler(m, on_job_changed, a);
        manager_set_removed_handler(m, bus_emit_job_removed, a);
        the_api = a;
        *ret = TAKE_PTR(a);
        return 0;
}

int bus_api_request_name(BusApi *a) {
        return sd_bus_request_name(a->bus, TW_BUS_NAME, 0);
}
