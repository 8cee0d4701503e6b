/* SPDX-License-Identifier: MIT */
/* job.c - job states, reasons and limits: the one table each transport reads its strings from. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "core/job.h"
#include "shared/macro.h"
#include "shared/util.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_SUBMITTED] = "submitted",
        [JOB_RUNNING] = "running",
        [JOB_SUCCESS] = "success",
        [JOB_FAILED] = "failed",
        [JOB_KILLED] = "killed",
};

static const char *const job_reason_table[_JOB_REASON_MAX] = {
        [JOB_REASON_NONE] = "",
        [JOB_REASON_EXITED] = "exited",
        [JOB_REASON_SIGNAL] = "signal",
        [JOB_REASON_STOPPED] = "stopped",
        [JOB_REASON_OOM_KILL] = "oom-kill",
        [JOB_REASON_TIMEOUT] = "timeout",
        [JOB_REASON_START_FAILED] = "start-failed",
};

static const char *const job_limit_table[_JOB_LIMIT_MAX] = {
        [JOB_LIMIT_CPU] = "CPUQuotaPerSecUSec",
        [JOB_LIMIT_MEMORY] = "MemoryMax",
        [JOB_LIMIT_IO_READ] = "IOReadBandwidthMax",
        [JOB_LIMIT_IO_WRITE] = "IOWriteBandwidthMax",
        [JOB_LIMIT_TASKS] = "TasksMax",
};

static int table_lookup(const char *const *table, int n, const char *s) {
        if (!s)
                return -1;
        for (int i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return i;
        return -1;
}

const char *job_state_to_string(JobState s) {
        return s >= 0 && s < _JOB_STATE_MAX ? job_state_table[s] : NULL;
}

JobState job_state_from_string(const char *s) {
        return (JobState) table_lookup(job_state_table, _JOB_STATE_MAX, s);
}

const char *job_reason_to_string(JobReason r) {
        return r >= 0 && r < _JOB_REASON_MAX ? job_reason_table[r] : NULL;
}

JobReason job_reason_from_string(const char *s) {
        return (JobReason) table_lookup(job_reason_table, _JOB_REASON_MAX, s);
}

bool job_state_is_final(JobState s) {
        return s == JOB_SUCCESS || s == JOB_FAILED || s == JOB_KILLED;
}

const char *job_limit_name(JobLimitField f) {
        return f < _JOB_LIMIT_MAX ? job_limit_table[f] : NULL;
}

JobLimitField job_limit_from_name(const char *name) {
        int i = table_lookup(job_limit_table, _JOB_LIMIT_MAX, name);
        return i < 0 ? _JOB_LIMIT_MAX : (JobLimitField) i;
}

uint64_t *job_limits_field(JobLimits *l, JobLimitField f) {
        switch (f) {
        case JOB_LIMIT_CPU:
                return &l->cpu_quota_per_sec_usec;
        case JOB_LIMIT_MEMORY:
                return &l->memory_max;
        case JOB_LIMIT_IO_READ:
                return &l->io_read_bandwidth_max;
        case JOB_LIMIT_IO_WRITE:
                return &l->io_write_bandwidth_max;
        case JOB_LIMIT_TASKS:
                return &l->tasks_max;
        default:
                return NULL;
        }
}

uint64_t job_limits_get(const JobLimits *l, JobLimitField f) {
        return *job_limits_field((JobLimits *) l, f);
}

int job_limit_parse(JobLimitField f, const char *s, uint64_t *ret) {
        uint64_t v;
        int r;

        if (!s || f >= _JOB_LIMIT_MAX)
                return -EINVAL;
        if (streq(s, "infinity")) {
                *ret = JOB_LIMIT_INFINITY;
                return 0;
        }
        r = f == JOB_LIMIT_CPU ? parse_cpu_quota(s, &v) : f == JOB_LIMIT_TASKS ? parse_uint64(s, &v) : parse_size(s, &v);
        if (r < 0)
                return r;
        if (v == 0)
                return -ERANGE;
        *ret = v;
        return 0;
}

void job_limits_apply_defaults(JobLimits *l, const JobLimits *def) {
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++) {
                uint64_t *v = job_limits_field(l, f);
                if (*v == 0)
                        *v = job_limits_get(def, f);
        }
}

/* Below these a job cannot even start: the reaper shares the scope's memory and task budget. */
static const uint64_t job_limit_min[_JOB_LIMIT_MAX] = {
        [JOB_LIMIT_CPU] = 10000,               /* 1 % of a CPU */
        [JOB_LIMIT_MEMORY] = UINT64_C(4) << 20, /* 4 MiB */
        [JOB_LIMIT_IO_READ] = 1024,
        [JOB_LIMIT_IO_WRITE] = 1024,
        [JOB_LIMIT_TASKS] = 2,
};

uint64_t job_limit_minimum(JobLimitField f) {
        return f < _JOB_LIMIT_MAX ? job_limit_min[f] : 0;
}

int job_limits_check(const JobLimits *l, const JobLimits *max, JobLimitField *ret_field) {
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++) {
                uint64_t m = job_limits_get(max, f), v = job_limits_get(l, f);
                if (v != 0 && v < job_limit_min[f]) {
                        if (ret_field)
                                *ret_field = f;
                        return -ERANGE;
                }
                if (m > 0 && v > m) {
                        if (ret_field)
                                *ret_field = f;
                        return -E2BIG;
                }
        }
        return 0;
}

void job_usage_reset(JobUsage *u) {
        u->memory_current = u->memory_peak = u->cpu_usage_nsec = JOB_USAGE_UNAVAILABLE;
        u->io_read_bytes = u->io_write_bytes = JOB_USAGE_UNAVAILABLE;
}

JobEnd job_end_classify(int code, int status, unsigned causes) {
        JobEnd e = { .exit_code = -1, .exit_signal = 0 };

        /* An OOM kill in the scope that made the job fail is the reason, whichever process it hit. */
        if (code == CLD_EXITED && status != 0 && (causes & JOB_END_CAUSE_OOM)) {
                e.exit_code = status;
                e.state = JOB_FAILED;
                e.reason = JOB_REASON_OOM_KILL;
                return e;
        }
        if (code == CLD_EXITED) {
                e.exit_code = status;
                e.state = status == 0 ? JOB_SUCCESS : JOB_FAILED;
                e.reason = JOB_REASON_EXITED;
                /* A job that handled our SIGTERM and exited was still stopped by us. */
                if (causes & JOB_END_CAUSE_TIMEOUT) {
                        e.state = JOB_KILLED;
                        e.reason = JOB_REASON_TIMEOUT;
                } else if (causes & JOB_END_CAUSE_STOP) {
                        e.state = JOB_KILLED;
                        e.reason = JOB_REASON_STOPPED;
                }
                return e;
        }

        e.exit_signal = status;
        if (causes & JOB_END_CAUSE_OOM) {
                e.state = JOB_FAILED;
                e.reason = JOB_REASON_OOM_KILL;
        } else if (causes & JOB_END_CAUSE_TIMEOUT) {
                e.state = JOB_KILLED;
                e.reason = JOB_REASON_TIMEOUT;
        } else if (causes & JOB_END_CAUSE_STOP) {
                e.state = JOB_KILLED;
                e.reason = JOB_REASON_STOPPED;
        } else {
                e.state = JOB_FAILED;
                e.reason = JOB_REASON_SIGNAL;
        }
        return e;
}
