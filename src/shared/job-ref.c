/* SPDX-License-Identifier: MIT */
/* job-ref.c - job references and signal names (job-ref.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "shared/job-ref.h"
#include "shared/macro.h"
#include "shared/util.h"

static bool is_dash_position(size_t i) {
        return i == 8 || i == 13 || i == 18 || i == 23;
}

int job_ref_classify(const char *ref) {
        size_t len, hex = 0;

        if (!ref)
                return -EINVAL;
        len = strnlen(ref, JOB_ID_STRING_MAX);
        if (len == 0 || len >= JOB_ID_STRING_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (is_dash_position(i) ? ref[i] != '-' : unhexchar(ref[i]) < 0)
                        return -EINVAL;
                hex += !is_dash_position(i);
        }
        if (job_id_is_valid(ref))
                return JOB_REF_ID;
        return hex >= JOB_REF_PREFIX_MIN ? JOB_REF_PREFIX : -EINVAL;
}

bool job_id_has_prefix(const char *id, const char *prefix) {
        size_t n = strlen(prefix);

        return strlen(id) >= n && strncasecmp(id, prefix, n) == 0;
}

bool job_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strnlen(name, JOB_NAME_MAX + 1);
        if (n == 0 || n > JOB_NAME_MAX || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", name[0]))
                return false;
        if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
                return false;
        return job_ref_classify(name) < 0 && !job_id_is_valid(name);
}

bool job_ref_is_valid(const char *ref) {
        return job_ref_classify(ref) >= 0 || job_name_is_valid(ref);
}

static const struct {
        int sig;
        const char *name;
} job_signals[] = {
        { SIGHUP, "HUP" },
        { SIGINT, "INT" },
        { SIGQUIT, "QUIT" },
        { SIGKILL, "KILL" },
        { SIGUSR1, "USR1" },
        { SIGUSR2, "USR2" },
        { SIGTERM, "TERM" },
};

bool job_signal_allowed(int sig) {
        return job_signal_to_string(sig) != NULL;
}

const char *job_signal_to_string(int sig) {
        for (size_t i = 0; i < ELEMENTSOF(job_signals); i++)
                if (job_signals[i].sig == sig)
                        return job_signals[i].name;
        return NULL;
}

int job_signal_from_string(const char *s, int *ret) {
        size_t len;

        if (!s)
                return -EINVAL;
        len = strnlen(s, 16);
        if (len == 0 || len >= 16)
                return -EINVAL;
        if (strspn(s, "0123456789") == len) {
                int v = 0;

                if (s[0] == '0' || len > 2)
                        return -EINVAL;
                for (size_t i = 0; i < len; i++)
                        v = v * 10 + (s[i] - '0');
                if (!job_signal_allowed(v))
                        return -EINVAL;
                *ret = v;
                return 0;
        }
        if (strncmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < ELEMENTSOF(job_signals); i++)
                if (streq(s, job_signals[i].name)) {
                        *ret = job_signals[i].sig;
                        return 0;
                }
        return -EINVAL;
}
