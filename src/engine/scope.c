/* SPDX-License-Identifier: MIT */
/* scope.c - the systemd side of jobs: scopes, slice limits, JobRemoved/UnitRemoved (scope.h). */
#include <errno.h>
#include <string.h>

#include "engine/scope.h"

#define UNIT_PREFIX "teleworker-"

struct ScopeSystem {
        sd_bus *bus;
        SdCallQueue *calls;
        sd_bus_slot *job_removed_slot;
        sd_bus_slot *unit_removed_slot;
        ScopeEvents events;
        void *userdata;
};

static int on_job_removed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        ScopeSystem *s = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(msg, "uoss", &id, &path, &unit, &result) < 0 ||
            strncmp(unit, UNIT_PREFIX, strlen(UNIT_PREFIX)) != 0)
                return 0;
        if (s->events.job_removed)
                s->events.job_removed(unit, path, result, s->userdata);
        return 0;
}

static int on_unit_removed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        ScopeSystem *s = userdata;
        const char *unit;

        if (sd_bus_message_read(msg, "s", &unit) < 0 || strncmp(unit, UNIT_PREFIX, strlen(UNIT_PREFIX)) != 0)
                return 0;
        if (s->events.unit_removed)
                s->events.unit_removed(unit, s->userdata);
        return 0;
}

int scope_system_new(sd_bus *bus, sd_event *e, unsigned max_in_flight, const ScopeEvents *events, void *userdata,
                     ScopeSystem **ret) {
        _cleanup_(scope_system_freep) ScopeSystem *s = NULL;
        int r;

        s = new0(ScopeSystem, 1);
        if (!s)
                return -ENOMEM;
        s->bus = sd_bus_ref(bus);
        s->events = *events;
        s->userdata = userdata;
        r = sdcall_queue_new(bus, e, max_in_flight, &s->calls);
        if (r < 0)
                return r;
        /* The matches go out before any StartTransientUnit on this connection, so no JobRemoved is missed. */
        r = sd_bus_match_signal_async(bus, &s->job_removed_slot, "org.freedesktop.systemd1",
                                      "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "JobRemoved",
                                      on_job_removed, NULL, s);
        if (r < 0)
                return r;
        r = sd_bus_match_signal_async(bus, &s->unit_removed_slot, "org.freedesktop.systemd1",
                                      "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "UnitRemoved",
                                      on_unit_removed, NULL, s);
        if (r < 0)
                return r;
        /* No slot and no callback: sent with NO_REPLY_EXPECTED, nothing to wait for (and not counted by
         * dbus-daemon against the connection's pending replies). */
        r = sd_bus_call_method_async(bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

ScopeSystem *scope_system_free(ScopeSystem *s) {
        if (!s)
                return NULL;
        sd_bus_slot_unref(s->job_removed_slot);
        sd_bus_slot_unref(s->unit_removed_slot);
        sdcall_queue_free(s->calls);
        sd_bus_unref(s->bus);
        free(s);
        return NULL;
}

int scope_stop(ScopeSystem *s, const char *unit, sdcall_handler_t handler, void *userdata, SdCall **ret) {
        /* sd-bus's default timeout: the stop job is under way as soon as the call returns. */
        return sdcall_enqueue_manager(s->calls, "StopUnit", 0, handler, userdata, ret, "ss", unit, "replace");
}

int scope_kill(ScopeSystem *s, const char *unit, int sig, sdcall_handler_t handler, void *userdata, SdCall **ret) {
        return sdcall_enqueue_manager(s->calls, "KillUnit", 0, handler, userdata, ret, "ssi", unit, "all", (int32_t) sig);
}

static int scope_new_call(ScopeSystem *s, const char *method, sd_bus_message **ret) {
        return sd_bus_message_new_method_call(s->bus, ret, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                              "org.freedesktop.systemd1.Manager", method);
}

static int append_limits(sd_bus_message *msg, const JobLimits *l, const char *io_device) {
        int r;

        r = sd_bus_message_append(msg, "(sv)(sv)(sv)(sv)(sv)",
                                  "CPUAccounting", "b", 1,
                                  "MemoryAccounting", "b", 1,
                                  "IOAccounting", "b", 1,
                                  "TasksAccounting", "b", 1,
                                  "CPUQuotaPerSecUSec", "t", l->cpu_quota_per_sec_usec);
        if (r < 0)
                return r;
        /* No swap: past MemoryMax the job is OOM-killed instead of thrashing (cgroup v2; v1 ignores it). */
        r = sd_bus_message_append(msg, "(sv)(sv)(sv)", "MemoryMax", "t", l->memory_max,
                                  "MemorySwapMax", "t", (uint64_t) 0,
                                  "TasksMax", "t", l->tasks_max);
        if (r < 0)
                return r;
        return sd_bus_message_append(msg, "(sv)(sv)",
                                     "IOReadBandwidthMax", "a(st)", 1, io_device, l->io_read_bandwidth_max,
                                     "IOWriteBandwidthMax", "a(st)", 1, io_device, l->io_write_bandwidth_max);
}

/* Before the scope is started in it: the queue sends in order, systemd handles them in order. */
int scope_set_slice_limits(ScopeSystem *s, const char *slice, const JobLimits *l, const char *io_device,
                           uint64_t timeout_usec, sdcall_handler_t handler, void *userdata, SdCall **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        int r;

        r = scope_new_call(s, "SetUnitProperties", &msg);
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "sb", slice, 1);
        if (r >= 0)
                r = sd_bus_message_open_container(msg, 'a', "(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "(sv)(sv)(sv)(sv)", "CPUAccounting", "b", 1, "MemoryAccounting", "b", 1,
                                  "IOAccounting", "b", 1, "TasksAccounting", "b", 1);
        if (r >= 0 && l->cpu_quota_per_sec_usec)
                r = sd_bus_message_append(msg, "(sv)", "CPUQuotaPerSecUSec", "t", l->cpu_quota_per_sec_usec);
        if (r >= 0 && l->memory_max)
                r = sd_bus_message_append(msg, "(sv)", "MemoryMax", "t", l->memory_max);
        if (r >= 0 && l->tasks_max)
                r = sd_bus_message_append(msg, "(sv)", "TasksMax", "t", l->tasks_max);
        if (r >= 0 && l->io_read_bandwidth_max)
                r = sd_bus_message_append(msg, "(sv)", "IOReadBandwidthMax", "a(st)", 1, io_device,
                                          l->io_read_bandwidth_max);
        if (r >= 0 && l->io_write_bandwidth_max)
                r = sd_bus_message_append(msg, "(sv)", "IOWriteBandwidthMax", "a(st)", 1, io_device,
                                          l->io_write_bandwidth_max);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(msg);
        if (r < 0)
                return r;
        return sdcall_enqueue(s->calls, msg, timeout_usec, handler, userdata, ret);
}

int scope_start(ScopeSystem *s, const ScopeSpec *spec, uint64_t timeout_usec, sdcall_handler_t handler,
                void *userdata, SdCall **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        int r;

        r = scope_new_call(s, "StartTransientUnit", &msg);
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "ss", spec->unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(msg, 'a', "(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "(sv)(sv)(sv)(sv)(sv)(sv)",
                                  "Description", "s", spec->description,
                                  "Slice", "s", spec->slice,
                                  "PIDs", "au", 1, (uint32_t) spec->pid,
                                  "CollectMode", "s", "inactive-or-failed",
                                  "TimeoutStopUSec", "t", spec->stop_grace_usec,
                                  "OOMPolicy", "s", "continue");
        if (r < 0)
                return r;
        r = append_limits(msg, spec->limits, spec->io_device);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(msg);
        if (r < 0)
                return r;
        r = sd_bus_message_append(msg, "a(sa(sv))", 0);
        if (r < 0)
                return r;

        return sdcall_enqueue(s->calls, msg, timeout_usec, handler, userdata, ret);
}

