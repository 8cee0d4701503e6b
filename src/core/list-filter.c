/* SPDX-License-Identifier: MIT */
/* list-filter.c - a listing's filter (list-filter.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/list-filter.h"
#include "shared/macro.h"

int job_list_filter_parse_states(const char *csv, unsigned *ret) {
        unsigned mask = 0;
        const char *p = csv;

        if (!csv || !*csv || strnlen(csv, JOB_LIST_FILTER_STATES_MAX) >= JOB_LIST_FILTER_STATES_MAX)
                return -EINVAL;
        for (;;) {
                size_t n = strcspn(p, ",");
                char name[16];
                JobState s;

                if (n == 0 || n >= sizeof(name))
                        return -EINVAL;
                memcpy(name, p, n);
                name[n] = 0;
                s = job_state_from_string(name);
                if (s < 0 || (mask & (1U << s)))
                        return -EINVAL;
                mask |= 1U << s;
                if (!p[n])
                        break;
                p += n + 1;
        }
        *ret = mask;
        return 0;
}

const char *job_list_filter_format_states(unsigned states, char *buf, size_t n) {
        size_t used = 0;

        buf[0] = 0;
        for (JobState s = 0; s < _JOB_STATE_MAX; s++)
                if (states & (1U << s)) {
                        int k = snprintf(buf + used, n - used, "%s%s", used ? "," : "", job_state_to_string(s));
                        if (k < 0 || (size_t) k >= n - used)
                                break;
                        used += (size_t) k;
                }
        return buf;
}

bool job_list_filter_match(const JobListFilter *f, JobState state, uint64_t submitted_at, const char *owner) {
        if (!f)
                return true;
        if (f->states && (state < 0 || !(f->states & (1U << state))))
                return false;
        if (submitted_at < f->since_usec)
                return false;
        return !f->owner || streq(f->owner, owner);
}
