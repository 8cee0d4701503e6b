/* SPDX-License-Identifier: MIT */
/* fuzz-json-job.c - the POST /v1/jobs body decoder on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "http-job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HttpJobRequest j = {};
        HttpError e = {};
        int r;

        if (size > HTTP_BODY_MAX)
                return 0;
        r = http_job_request_parse((const char *) data, size, &j, &e);
        if (r >= 0) {
                /* What passes is what the D-Bus call will carry: a non-empty argv of C strings. */
                if (!j.argv || !j.argv[0] || !j.env || !j.cwd)
                        __builtin_trap();
        } else if (r == -EINVAL && (e.status == 0 || !e.code || strlen(e.message) >= sizeof(e.message)))
                __builtin_trap();
        http_job_request_done(&j);
        return 0;
}
