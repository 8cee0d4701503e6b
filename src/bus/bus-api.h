/* SPDX-License-Identifier: MIT */
/* bus-api.h - teleworkerd's D-Bus API on top of the job engine (docs/dbus.md). */
#pragma once

#include <systemd/sd-bus.h>

#include "shared/macro.h"
#include "engine/manager.h"

typedef struct BusApi BusApi;

/* Registers the Manager, Remote and Job objects on bus. One BusApi per process. */
int bus_api_new(sd_bus *bus, Manager *m, BusApi **ret);
BusApi *bus_api_free(BusApi *a);
DEFINE_FREE_FUNC(BusApi, bus_api_free);
/* Takes org.teleworker.worker1 (after the objects exist, so no call finds them missing). */
int bus_api_request_name(BusApi *a);
/* The vtable bus_api_new() registers for interface (TW_BUS_INTERFACE_*), NULL for another: what
 * tests/unit/test-bus-introspect.c compares with dbus/org.teleworker.worker1.xml. */
const sd_bus_vtable *bus_api_vtable(const char *interface);

/* Appends the a{sv} of a job's properties (docs/dbus.md): the one serialization of a job. */
int bus_append_job_props(sd_bus_message *m, Job *j);
int bus_job_object_path(const Job *j, char **ret);
/* An upper bound of the bytes bus_append_job_props() adds for j: what List pages are measured in. */
size_t bus_job_props_size_max(Job *j);
/* A ListPage cursor ("" = from the start: *ret_seq 0) of the daemon run `instance`: -EINVAL when malformed,
 * -ESTALE when it is another run's. */
int bus_list_cursor_parse(const char *cursor, uint64_t instance, uint64_t *ret_seq);
