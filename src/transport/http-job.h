/* SPDX-License-Identifier: MIT */
/* http-job.h - the JSON body of POST /v1/jobs, decoded and checked before anything reaches the daemon, and
 * encoded by telerun --addr: the one JSON mapping of a StartRequest (src/core/start-request.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "shared/api.h" /* JOB_ARGV_MAX, JOB_ENV_MAX: the daemon's bounds */
#include "transport/http-error.h"
#include "core/start-request.h"

static inline void http_json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

/* Decodes {"argv": [...], "env": {...} | [...], "cwd": "...", "limits": {...}, "profile": "...",
 * "timeout_sec": N, "isolation": {"private_pid": b, "private_tmp": b, "private_network": b, "protect_system": b}}. Unknown keys, wrong types,
 * embedded NUL bytes, invalid UTF-8, trailing garbage, an empty argv and malformed limits are refused with
 * -EINVAL and a 400 in e; -ENOMEM on allocation failure. */
int http_job_request_parse(const char *body, size_t size, StartRequest *ret, HttpError *e);
/* The same mapping the other way, for telerun --addr: the body that decodes to req (only what is given). */
int http_job_request_to_json(const StartRequest *req, json_object **ret);
