/* SPDX-License-Identifier: MIT */
/* cgroup.h - where a job's scope lives in each cgroup hierarchy, and what its counters say.
 *
 * Read straight from cgroupfs rather than from the unit's D-Bus properties: no round trip per status call,
 * values that stay readable while the per-job reaper holds the scope after the job ended, and one place
 * that knows both layouts (cgroup v2, and the hybrid v1 layout where CPU time is only in the unified
 * hierarchy's cpu.stat). A controller is used only where the process really sits in the scope's own
 * cgroup there: in a parent cgroup its counters would be someone else's. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "core/job.h"

typedef struct CgroupPaths {
        char *unified; /* cgroup2 directory (v2, or the hybrid layout's unified hierarchy) */
        char *memory;  /* v1 memory controller directory */
        char *cpuacct; /* v1 cpuacct directory */
        char *blkio;   /* v1 blkio directory */
        bool v2;       /* the unified hierarchy has the controllers */
} CgroupPaths;

/* Fills paths from /proc/PID/cgroup, keeping only directories whose last component is scope_name. */
int cgroup_paths_from_pid(pid_t pid, const char *scope_name, CgroupPaths *ret);
void cgroup_paths_done(CgroupPaths *p);

/* Reads what is available; unavailable counters stay JOB_USAGE_UNAVAILABLE. */
void cgroup_read_usage(const CgroupPaths *p, JobUsage *u);
/* Number of OOM kills in the cgroup (v2 memory.events, v1 memory.oom_control); -ENODATA if unknown. */
int cgroup_read_oom_kills(const CgroupPaths *p, uint64_t *ret);
/* The parsers, exposed for the unit tests: value of "key N" lines in a flat-keyed file's text. */
int cgroup_parse_keyed(const char *text, const char *key, uint64_t *ret);
/* Sums "rbytes="/"wbytes=" over the devices of an io.stat text, or "Read"/"Write" of blkio's io_service_bytes. */
int cgroup_parse_io(const char *text, bool v2, uint64_t *ret_read, uint64_t *ret_write);
