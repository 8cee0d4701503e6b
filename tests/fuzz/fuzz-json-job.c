/* SPDX-License-Identifier: MIT */
/* fuzz-json-job.c - the POST /v1/jobs body decoder on arbitrary bytes; what it accepts, encoded again by
 * telerun's writer (http_job_request_to_json()), decodes to the same request. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "transport/http-job.h"
#include "gateway/http.h"
#include "shared/macro.h"

static bool strv_equal(char **a, char **b) {
        for (; a && *a && b && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !(a && *a) && !(b && *b);
}

/* One mapping both ways: the writer's body is one the reader takes, with nothing lost. The run-time limit
 * travels as seconds in a double: within a microsecond. */
static void check_round_trip(const StartRequest *a) {
        _cleanup_(http_json_putp) json_object *o = NULL;
        _cleanup_(start_request_done) StartRequest b = {};
        HttpError e = {};
        const char *body;

        if (http_job_request_to_json(a, &o) < 0)
                return; /* out of memory */
        body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!body || http_job_request_parse(body, strlen(body), &b, &e) < 0)
                __builtin_trap();
        if (!strv_equal(a->argv, b.argv) || !strv_equal(a->env, b.env) || !streq(a->cwd, b.cwd) ||
            !streq_ptr(a->profile, b.profile) || memcmp(&a->limits, &b.limits, sizeof(a->limits)) != 0 ||
            memcmp(&a->isolation, &b.isolation, sizeof(a->isolation)) != 0 ||
            (a->runtime_max_usec > b.runtime_max_usec ? a->runtime_max_usec - b.runtime_max_usec :
                                                        b.runtime_max_usec - a->runtime_max_usec) > 1)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(start_request_done) StartRequest j = {};
        HttpError e = {};
        int r;

        if (size > HTTP_BODY_MAX)
                return 0;
        r = http_job_request_parse((const char *) data, size, &j, &e);
        if (r >= 0) {
                /* What passes is what the D-Bus call will carry: a non-empty argv of C strings. */
                if (!j.argv || !j.argv[0] || !j.env || !j.cwd)
                        __builtin_trap();
                check_round_trip(&j);
        } else if (r == -EINVAL && (e.status == 0 || !e.code || strlen(e.message) >= sizeof(e.message)))
                __builtin_trap();
        return 0;
}
