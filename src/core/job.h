/* SPDX-License-Identifier: MIT */
/* job.h - the job model shared by every layer: states, end reasons, limits, usage, and how an exit is read. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef enum JobState {
        JOB_SUBMITTED,
        JOB_RUNNING,
        JOB_SUCCESS,
        JOB_FAILED,
        JOB_KILLED,
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -1,
} JobState;

typedef enum JobReason {
        JOB_REASON_NONE,
        JOB_REASON_EXITED,
        JOB_REASON_SIGNAL,
        JOB_REASON_STOPPED,
        JOB_REASON_OOM_KILL,
        JOB_REASON_TIMEOUT,
        JOB_REASON_START_FAILED,
        _JOB_REASON_MAX,
        _JOB_REASON_INVALID = -1,
} JobReason;

const char *job_state_to_string(JobState s);
JobState job_state_from_string(const char *s);
const char *job_reason_to_string(JobReason r);
JobReason job_reason_from_string(const char *s);
bool job_state_is_final(JobState s);

/* The limits put on a job's scope. 0 = not set (filled from the profile). */
typedef struct JobLimits {
        uint64_t cpu_quota_per_sec_usec;
        uint64_t memory_max;
        uint64_t io_read_bandwidth_max;
        uint64_t io_write_bandwidth_max;
        uint64_t tasks_max;
} JobLimits;

typedef enum JobLimitField {
        JOB_LIMIT_CPU,
        JOB_LIMIT_MEMORY,
        JOB_LIMIT_IO_READ,
        JOB_LIMIT_IO_WRITE,
        JOB_LIMIT_TASKS,
        _JOB_LIMIT_MAX,
} JobLimitField;

/* D-Bus names of the limits ("MemoryMax"...), one table for every transport. */
const char *job_limit_name(JobLimitField f);
JobLimitField job_limit_from_name(const char *name);
uint64_t *job_limits_field(JobLimits *l, JobLimitField f);
uint64_t job_limits_get(const JobLimits *l, JobLimitField f);

/* JOB_LIMIT_INFINITY in a limit: no limit (systemd's "infinity"); in a maximum: no ceiling. */
#define JOB_LIMIT_INFINITY UINT64_MAX

/* Parses a limit as the policy file and telerun write it: "infinity", or for CPUQuotaPerSecUSec µs per second
 * or a percentage ("150%"), for TasksMax a count, for the others a size with K, M, G, T = powers of 1024
 * ("100M" = 104857600). 0 is refused (-ERANGE): an unset limit is an absent key. -EINVAL when malformed. */
int job_limit_parse(JobLimitField f, const char *s, uint64_t *ret);

/* Fills unset fields of l from def. */
void job_limits_apply_defaults(JobLimits *l, const JobLimits *def);
uint64_t job_limit_minimum(JobLimitField f);
/* -E2BIG with *ret_field set when a field exceeds max (0 in max = no maximum), -ERANGE when a set field is
 * below the minimum a job needs to start. */
int job_limits_check(const JobLimits *l, const JobLimits *max, JobLimitField *ret_field);

#define JOB_USAGE_UNAVAILABLE UINT64_MAX

typedef struct JobUsage {
        uint64_t memory_current;
        uint64_t memory_peak;
        uint64_t cpu_usage_nsec;
        uint64_t io_read_bytes;
        uint64_t io_write_bytes;
} JobUsage;

void job_usage_reset(JobUsage *u);

/* How a job ended, given the main process's wait status (si_code CLD_EXITED/KILLED/DUMPED and si_status)
 * and what the daemon knows: it stopped the job, the run time ran out, the kernel OOM-killed in the scope. */
typedef struct JobEnd {
        JobState state;
        JobReason reason;
        int exit_code;   /* -1 unless exited */
        int exit_signal; /* 0 unless killed by a signal */
} JobEnd;

typedef enum JobEndCause {
        JOB_END_CAUSE_NONE = 0,
        JOB_END_CAUSE_STOP = 1 << 0,
        JOB_END_CAUSE_TIMEOUT = 1 << 1,
        JOB_END_CAUSE_OOM = 1 << 2,
} JobEndCause;

JobEnd job_end_classify(int code, int status, unsigned causes);
