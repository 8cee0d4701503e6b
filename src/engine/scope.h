/* SPDX-License-Identifier: MIT */
/* scope.h - the systemd side of jobs: transient scopes started and stopped, limits on a principal's slice,
 * and systemd's JobRemoved/UnitRemoved signals of teleworker-* units.
 *
 * No manager and no job here: a unit is its name, and what to do with an answer is the caller's handler. Every
 * call that waits for systemd's answer goes through the bounded queue (sdcall.h). The signal matches are in
 * place before the first call is sent, so that no JobRemoved is missed. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "core/job.h"
#include "shared/macro.h"
#include "engine/sdcall.h"

typedef struct ScopeSystem ScopeSystem;

typedef struct ScopeEvents {
        /* A systemd job of a teleworker-* unit ended: its object path and result ("done", "failed"...). */
        void (*job_removed)(const char *unit, const char *job_path, const char *result, void *userdata);
        /* A teleworker-* unit was unloaded. */
        void (*unit_removed)(const char *unit, void *userdata);
} ScopeEvents;

typedef struct ScopeSpec {
        const char *unit;
        const char *slice;
        const char *description;
        pid_t pid;                  /* the scope's first process */
        const JobLimits *limits;
        uint64_t stop_grace_usec;   /* TimeoutStopUSec: SIGTERM, then SIGKILL after it */
        const char *io_device;      /* the block device the IO limits apply to (a path on it) */
} ScopeSpec;

/* Subscribes to systemd's signals on bus; max_in_flight bounds the calls waiting for an answer (0: default). */
int scope_system_new(sd_bus *bus, sd_event *e, unsigned max_in_flight, const ScopeEvents *events, void *userdata,
                     ScopeSystem **ret);
ScopeSystem *scope_system_free(ScopeSystem *s);
DEFINE_FREE_FUNC(ScopeSystem, scope_system_free);

/* StartTransientUnit for spec (job mode "fail"); handler gets the reply, the scope is up at JobRemoved. */
int scope_start(ScopeSystem *s, const ScopeSpec *spec, uint64_t timeout_usec, sdcall_handler_t handler,
                void *userdata, SdCall **ret);
/* SetUnitProperties on slice (runtime): accounting, and every non-zero limit of l as the cap of the sum. */
int scope_set_slice_limits(ScopeSystem *s, const char *slice, const JobLimits *l, const char *io_device,
                           uint64_t timeout_usec, sdcall_handler_t handler, void *userdata, SdCall **ret);
/* KillUnit(unit, "all", sig): sig to every process of the scope. */
int scope_kill(ScopeSystem *s, const char *unit, int sig, sdcall_handler_t handler, void *userdata, SdCall **ret);
/* StopUnit(unit, "replace"); the reply carries systemd's stop job path, done at its JobRemoved. */
int scope_stop(ScopeSystem *s, const char *unit, sdcall_handler_t handler, void *userdata, SdCall **ret);
