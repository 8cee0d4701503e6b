/* SPDX-License-Identifier: MIT */
/* fuzz-job-ref - a job reference and a signal as an untrusted caller sends them (a D-Bus id argument, the
 * gateway's path segment, ?signal= and ?state=): job_ref_classify(), job_signal_from_string() and
 * job_list_filter_parse_states() accept only what they document, refuse the rest with -EINVAL, and never read
 * past the string. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/list-filter.h"
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

        /* a name is never an id or a prefix, and stays in its character set */
        if (job_name_is_valid(s) && (job_ref_classify(s) >= 0 || strlen(s) > JOB_NAME_MAX ||
                                     strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                                             strlen(s)))
                abort();

        k = job_signal_from_string(s, &sig);
        if (k != 0 && k != -EINVAL)
                abort();
        if (k == 0 && (!job_signal_allowed(sig) || !job_signal_to_string(sig)))
                abort();
        /* a state list: accepted ones print back to the same set */
        {
                char buf[JOB_LIST_FILTER_STATES_MAX];
                unsigned m = 0, again = 0;

                k = job_list_filter_parse_states(s, &m);
                if (k != 0 && k != -EINVAL)
                        abort();
                if (k == 0 && (m == 0 || m >= (1U << _JOB_STATE_MAX) ||
                               job_list_filter_parse_states(job_list_filter_format_states(m, buf, sizeof(buf)),
                                                            &again) != 0 || again != m))
                        abort();
        }
        free(s);
        return 0;
}
