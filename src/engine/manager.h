/* SPDX-License-Identifier: MIT */
/* manager.h - the job engine: starts argv in a transient systemd scope with limits, captures its output,
 * learns how it ended, stops it. Transport-neutral: callers (the D-Bus API) pass a Principal and get
 * results through callbacks; errors come as sd_bus_error names from errors.h with a clear message.
 *
 * Ownership: the Manager owns every Job. A Job outlives the calls that refer to it; callbacks registered
 * on a job are called exactly once (with an error if the job or the manager goes away first). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "core/authz.h"
#include "core/config.h"
#include "core/dynuser.h"
#include "core/job.h"
#include "core/start-request.h"
#include "engine/output.h"
#include "shared/macro.h"
#include "engine/output.h"
#include "shared/util.h"

typedef struct Manager Manager;
typedef struct Job Job;

/* Per-job namespaces, set up by teleworker-exec before the job execs: a tri-state each (-1 = default). */
typedef struct JobIsolation {
        int private_pid;     /* own PID namespace, /proc remounted (default yes) */
        int private_tmp;     /* own mount namespace with empty /tmp and /var/tmp (default yes) */
        int private_network; /* own network namespace with only loopback (default: unless the policy allows
                              * the network) */
        int protect_system;  /* /usr, /boot, /efi, /etc read-only (default no) */
} JobIsolation;

#define JOB_ISOLATION_UNSET ((JobIsolation) { -1, -1, -1, -1 })

/* What a caller may ask to run (docs/dbus.md, "Bounds"): every reply that carries a job's command line must
 * stay far below the bus's maximum message size (32 MiB on the system bus), whatever was stored. */
#define JOB_ARGV_MAX 4096U
#define JOB_ENV_MAX 1024U
/* One argument or environment entry, its NUL included: the kernel's MAX_ARG_STRLEN (32 pages of 4 KiB). */
#define JOB_ARG_BYTES_MAX (128U * 1024U)
/* argv and env together, each string with its NUL. */
#define JOB_REQUEST_BYTES_MAX (1024U * 1024U)
/* RuntimeMaxUSec: UINT64_MAX is "no limit"; anything else at most 100 years, so that no deadline overflows. */
#define JOB_RUNTIME_USEC_INFINITY UINT64_MAX
#define JOB_RUNTIME_USEC_MAX (UINT64_C(100) * 366 * 24 * 3600 * 1000000)

typedef struct JobRequest {
        char **argv;
        char **env;      /* KEY=VALUE, may be NULL */
        const char *cwd; /* NULL or "" = the account's home */
        JobLimits limits;
        const char *profile;       /* NULL: the principal's profile */
        uint64_t runtime_max_usec; /* 0: the profile's */
        JobIsolation isolation;    /* -1 fields: the defaults (docs/design.md, "Isolation") */
        const char *name;          /* NULL: none; else unique among the owner's jobs (JobNameInUse) */
        StartStdin stdin_kind;     /* START_STDIN_NULL (0): /dev/null */
        int stdin_fd;              /* START_STDIN_FD: the caller's fd, borrowed (checked by the engine) */
        uint16_t tty_rows, tty_cols; /* a pseudo-terminal (teleworker-exec --tty); 0: none */
} JobRequest;

/* error is NULL on success, else the reason (name and message set). */
typedef void (*job_callback_t)(Job *j, const sd_bus_error *error, void *userdata);
/* Every state change (for D-Bus signals). */
typedef void (*job_changed_handler_t)(Job *j, void *userdata);

/* system_bus is the bus systemd is reached on (also the bus of the API; the manager only makes calls). */
int manager_new(sd_event *e, sd_bus *system_bus, const Config *config, const char *state_dir, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_FREE_FUNC(Manager, manager_free);
void manager_set_changed_handler(Manager *m, job_changed_handler_t h, void *userdata);
/* Called as a job leaves the table (retention, removal), before it is freed. */
void manager_set_removed_handler(Manager *m, job_changed_handler_t h, void *userdata);
const Config *manager_config(Manager *m);
/* The table remote principals' uids come from (owned by the caller, outlives the manager). Without one,
 * remote principals that the policy maps to no account are refused. */
void manager_set_dynamic_users(Manager *m, DynUserTable *t);
DynUserTable *manager_dynamic_users(Manager *m);

/* Validates and starts; *ret gets the job (owned by the manager) as soon as it exists. done fires once the
 * job runs in its scope, or with the reason it could not start. Returns <0 with error set when the request
 * is refused up front (nothing was created then). */
int manager_start_job(Manager *m, const Principal *p, const JobRequest *req, job_callback_t done, void *userdata,
                      Job **ret, sd_bus_error *error);
/* Opens a reader of the job's output for p (output_store_open_reader()), counted against p's max_readers and
 * the daemon's shared reader budget (administrators are held only to the budget's hard end). Returns <0 with
 * error set (TooManyReaders, NoOutput for a job without output, InvalidArgs for an offset past the end). */
int manager_open_output(Manager *m, const Principal *p, Job *j, uint64_t offset, bool follow, int *ret_fd,
                        sd_bus_error *error);
/* The same with reader options (output.h): one stream, frames, an end. -ENODATA (NoOutput in error) when the
 * options need the job's stream index and it has none. */
int manager_open_output_ex(Manager *m, const Principal *p, Job *j, const OutputReaderOptions *o, int *ret_fd,
                           sd_bus_error *error);
/* Whether p may open one more reader now (the caps manager_open_output() applies): 0, or <0 with error set. */
int manager_check_readers(Manager *m, const Principal *p, sd_bus_error *error);
/* The write end of the job's stdin pipe (a job started with START_STDIN_STREAM), handed out once: NoInput when
 * the job has no such pipe, when it was handed out already, or when the job has ended. The job reads EOF once
 * every copy of it is closed. */
int manager_open_input(Manager *m, Job *j, int *ret_fd, sd_bus_error *error);
/* Sets the size of the job's terminal (TIOCSWINSZ on its master; the job's foreground process group gets
 * SIGWINCH). InvalidArgs for a job without one (or once it ended, or after a daemon restart: the master is
 * not kept across restarts) and for a size outside 1..START_TTY_SIZE_MAX. */
int manager_resize_job(Manager *m, Job *j, uint16_t rows, uint16_t cols, sd_bus_error *error);
/* Stops the job's whole scope (SIGTERM, SIGKILL after the grace period); done fires when the job has
 * ended and its scope is gone. Stopping an ended job is not an error (leftover processes are still
 * killed). */
int manager_stop_job(Manager *m, Job *j, job_callback_t done, void *userdata);
/* Removes an ended job's record and output now (manager-lifecycle.c): 0, or <0 with error set (JobRunning for a
 * job that has not ended). The job must not be used afterwards. */
int manager_delete_job(Manager *m, Job *j, sd_bus_error *error);
/* Sends sig to the running job's main process (through its reaper; with a PID namespace, through its init,
 * which forwards it): 0, or <0 with error set (InvalidArgs for a signal outside job_signal_allowed(),
 * JobNotRunning). */
int manager_kill_job(Manager *m, Job *j, int sig, sd_bus_error *error);
/* manager_stop_job() with a grace period of grace_usec for this stop (at most the configured one, which a
 * longer or UINT64_MAX grace_usec means): SIGKILL to the whole scope once it is over. */
int manager_stop_job_grace(Manager *m, Job *j, uint64_t grace_usec, job_callback_t done, void *userdata);
/* done fires when the job has ended (at once if it has). */
int manager_wait_job(Manager *m, Job *j, job_callback_t done, void *userdata);
/* Drops a pending callback registered with userdata (e.g. the caller went away). */
void manager_cancel_callbacks(Manager *m, void *userdata);

/* The daemon's metrics in Prometheus' text format (engine/metrics.h), bounded by METRICS_TEXT_MAX. */
int manager_metrics_text(Manager *m, char **ret);

Job *manager_find_job(Manager *m, const char *id);
/* Iteration in submission order: pass NULL for the first. */
Job *manager_next_job(Manager *m, Job *prev);
/* A job's place in the table: increases along manager_next_job(), never reused while the manager lives. */
uint64_t job_seq(const Job *j);
unsigned manager_n_jobs(Manager *m);

/* Read-only accessors. */
const char *job_id(const Job *j);
const char *job_owner(const Job *j);
const char *job_user(const Job *j);
const char *job_unit(const Job *j);
const char *job_executable(const Job *j);
char **job_argv(const Job *j);
JobState job_state(const Job *j);
JobReason job_reason(const Job *j);
int job_exit_code(const Job *j);
int job_exit_signal(const Job *j);
uint64_t job_submitted_at(const Job *j);
uint64_t job_started_at(const Job *j);
uint64_t job_ended_at(const Job *j);
const JobLimits *job_limits(const Job *j);
const JobIsolation *job_isolation(const Job *j);
StartStdin job_stdin(const Job *j);
bool job_tty(const Job *j);
const char *job_profile(const Job *j);
const char *job_name(const Job *j); /* NULL: none */
const char *job_slice(const Job *j);
uint64_t job_runtime_max_usec(const Job *j);
/* Current usage while the scope exists, the final one after the job ended. */
void job_usage(Job *j, JobUsage *ret);
OutputStore *job_output(Job *j);
/* Bytes discarded past the output cap (or lost to a spool write error), over every run of the daemon. */
uint64_t job_output_dropped(Job *j);
int job_output_error(Job *j);   /* negative errno: capture stopped at a spool write failure; 0: none */
