/* SPDX-License-Identifier: MIT */
/* bus-api.h - teleworkerd's D-Bus API on top of the job engine (docs/dbus.md). */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"
#include "manager.h"

typedef struct BusApi BusApi;

/* Registers the Manager, Remote and Job objects on bus. One BusApi per process. */
int bus_api_new(sd_bus *bus, Manager *m, BusApi **ret);
BusApi *bus_api_free(BusApi *a);
DEFINE_FREE_FUNC(BusApi, bus_api_free);
/* Takes org.teleworker.worker1 (after the objects exist, so no call finds them missing). */
int bus_api_request_name(BusApi *a);

/* Appends the a{sv} of a job's properties (docs/dbus.md): the one serialization of a job. */
int bus_append_job_props(sd_bus_message *m, Job *j);
int bus_job_object_path(const Job *j, char **ret);
/* Decodes Start's a{sv} options into req (limits, profile, run-time limit, isolation): untrusted input,
 * every key and type checked, errors in error. req->profile borrows from msg. */
int bus_read_start_options(sd_bus_message *msg, JobRequest *req, sd_bus_error *error);
