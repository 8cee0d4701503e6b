/* SPDX-License-Identifier: MIT */
/* bus-json.h - the one JSON representation of a job, built from the D-Bus job properties (a{sv}).
 *
 * Used by `telerun --json` and by the HTTP gateway, so both print the same objects. The shape (every key is
 * always present, in this order, whatever order or subset the a{sv} had):
 *
 *   {"id": s, "owner": s, "user": s, "argv": [s...], "executable": s, "state": s,
 *    "reason": s|null            ("" -> null: not ended),
 *    "exit_code": int|null       (-1 -> null),
 *    "exit_signal": int|null     (0 -> null),
 *    "signal": "SIGKILL"|null    (the name of exit_signal),
 *    "submitted_at", "started_at", "ended_at": "2026-11-23T18:30:00.123456Z"|null   (0 -> null),
 *    "unit": s, "output_size": int, "output_dropped": int, "profile": s, "slice": s,
 *    "limits": {"cpu_quota_per_sec_usec", "memory_max", "io_read_bandwidth_max", "io_write_bandwidth_max",
 *               "tasks_max"}: int|null    (UINT64_MAX = no limit -> null), "runtime_max_usec": int|null (0 -> null),
 *    "usage": {"memory_current", "memory_peak", "cpu_usage_nsec", "io_read_bytes", "io_write_bytes"}: int|null
 *               (key absent from the a{sv}, or UINT64_MAX -> null: unavailable),
 *    "isolation": {"private_pid", "private_tmp", "private_network", "protect_system"}: bool|null}
 *
 * A key missing from the a{sv} is null in the JSON ("argv": []). Unknown keys are skipped; a known key with a
 * different D-Bus type is -EBADMSG, so is a dictionary of more than BUS_JOB_PROPS_MAX entries. */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#define BUS_JOB_PROPS_MAX 256U

/* Reads one a{sv} of job properties at m's current read position (the message is left after it) and
 * returns a new JSON object. 0 on success, -EBADMSG on a malformed dictionary, other negative errno. */
int bus_job_props_to_json(sd_bus_message *m, json_object **ret);

/* Reads one aa{sv} (List) and returns a JSON array of such objects, in message order. */
int bus_job_list_to_json(sd_bus_message *m, json_object **ret);
/* The same, appending the objects to an existing JSON array (the pages of ListPage, one after another). */
int bus_job_list_append_json(sd_bus_message *m, json_object *array);

/* "SIGKILL" for 9, "SIGRTMIN+3" for real-time signals; NULL when out of range. */
const char *bus_json_signal_name(int sig);

static inline void json_object_putp(json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}
