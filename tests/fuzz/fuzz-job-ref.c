/* SPDX-License-Identifier: MIT */
/* fuzz-job-ref - a job reference and a signal as an untrusted caller sends them (a D-Bus id argument, the
 * gateway's path segment and ?signal=): job_ref_classify() and job_signal_from_string() accept only what they
 * document, refuse the rest with -EINVAL, and never read past the string. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/job-ref.h"
#include "shared/util.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s;
        int k, sig = -1;

        if (size > 128)
                return 0;
        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;

        k = job_ref_classify(s);
        if (k != JOB_REF_ID && k != JOB_REF_PREFIX && k != -EINVAL)
                abort();
        if (k == JOB_REF_ID && !job_id_is_valid(s))
                abort();
        /* a prefix is the start of some id: it extends to a valid one */
        if (k == JOB_REF_PREFIX) {
                char id[JOB_ID_STRING_MAX] = "00000000-0000-0000-0000-000000000000";

                if (strlen(s) >= JOB_ID_STRING_MAX - 1)
                        abort();
                memcpy(id, s, strlen(s));
                if (!job_id_is_valid(id) || !job_id_has_prefix(id, s))
                        abort();
        }

        k = job_signal_from_string(s, &sig);
        if (k != 0 && k != -EINVAL)
                abort();
        if (k == 0 && (!job_signal_allowed(sig) || !job_signal_to_string(sig)))
                abort();
        free(s);
        return 0;
}
