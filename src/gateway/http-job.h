/* SPDX-License-Identifier: MIT */
/* http-job.h - the JSON body of POST /v1/jobs, decoded and checked before anything reaches the daemon. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "api.h" /* JOB_ARGV_MAX, JOB_ENV_MAX: the daemon's bounds */
#include "http.h"

static inline void http_json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

/* Limits as D-Bus Start options; a field is sent only when its has_ flag is set. */
typedef struct HttpJobLimits {
        bool has_cpu, has_memory, has_io_read, has_io_write, has_tasks;
        uint64_t cpu_usec;       /* CPUQuotaPerSecUSec */
        uint64_t memory;         /* MemoryMax */
        uint64_t io_read;        /* IOReadBandwidthMax */
        uint64_t io_write;       /* IOWriteBandwidthMax */
        uint64_t tasks;          /* TasksMax */
} HttpJobLimits;

/* Owns every string. */
typedef struct HttpJobRequest {
        char **argv;             /* NULL-terminated, at least one entry */
        char **env;              /* NULL-terminated "KEY=VALUE" list, possibly empty (never NULL after parse) */
        char *cwd;               /* "" when not given */
        HttpJobLimits limits;
        char *profile;           /* NULL when not given */
        uint64_t timeout_usec;   /* RuntimeMaxUSec; 0 when not given */
        int private_pid, private_tmp, private_network, protect_system; /* -1 when not given */
} HttpJobRequest;

void http_job_request_done(HttpJobRequest *r);

/* Decodes {"argv": [...], "env": {...} | [...], "cwd": "...", "limits": {...}, "profile": "...",
 * "timeout_sec": N, "isolation": {"private_pid": b, "private_tmp": b, "private_network": b, "protect_system": b}}. Unknown keys, wrong types,
 * embedded NUL bytes, invalid UTF-8, trailing garbage, an empty argv and malformed limits are refused with
 * -EINVAL and a 400 in e; -ENOMEM on allocation failure. */
int http_job_request_parse(const char *body, size_t size, HttpJobRequest *ret, HttpError *e);
