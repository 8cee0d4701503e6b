/* SPDX-License-Identifier: MIT */
/* manager-internal.h - the job engine's own structures, shared by the manager's files only (manager.c,
 * manager-load.c, caps.c, manager-metrics.c). The modules below the manager (sdcall, persist, job-record, fdstore, handover,
 * cgroup) never include it. */
#pragma once

#include "engine/cgroup.h"
#include "shared/hashmap.h"
#include "engine/manager.h"
#include "engine/metrics.h"
#include "engine/scope.h"
#include "engine/sdcall.h"

typedef enum WaitKind {
        WAIT_STARTED,
        WAIT_ENDED,
        WAIT_STOPPED,
} WaitKind;

typedef struct JobWaiter JobWaiter;
typedef struct PrincipalReaders PrincipalReaders;
struct JobWaiter {
        JobWaiter *next;
        WaitKind kind;
        job_callback_t cb;
        void *userdata;
};

struct Job {
        Manager *manager;
        Job *prev, *next;
        uint64_t seq; /* job_seq() */

        char id[JOB_ID_STRING_MAX];
        char *unit;
        char *owner;
        char *user;
        char *executable;
        char *cwd;
        char **argv;
        uid_t uid;
        gid_t gid;
        JobLimits limits;
        JobIsolation isolation;
        char *profile;
        char *slice;
        char *name;        /* NULL: none */
        uint64_t runtime_max_usec;
        sd_event_source *runtime_timer;
        SdCall *slice_call;
        JobLimits slice_limits;
        bool slice_limits_set;

        JobState state;
        JobReason reason;
        int exit_code;
        int exit_signal;
        uint64_t submitted_at, started_at, ended_at;
        JobUsage final_usage;

        CgroupPaths cgroup;
        uint64_t oom_kills_at_start;
        pid_t reaper_pid;
        pid_t main_pid;
        int control_fd;
        sd_event_source *control_source;
        sd_event_source *reaper_source;
        sd_event_source *start_timer;
        SdCall *start_call;
        SdCall *stop_call;
        char *stop_job_path;
        int reaper_pidfd;          /* after a daemon restart the reaper is no longer our child */
        sd_event_source *reaper_pidfd_source;
        bool go_sent;
        bool stop_requested;
        bool stop_pending; /* a StopUnit call or its job is under way */
        bool no_new_privs; /* the job runs with PR_SET_NO_NEW_PRIVS (remote principals' jobs) */
        bool discarded;    /* refused after the fact (cwd, executable, allow-list): hidden, freed once
                            * its reaper is gone, as if Start had refused it up front */
        sd_bus_error refusal; /* Start's answer for a discarded job, held until systemd unloaded its scope */
        bool removed_announced; /* the removed handler ran (Remove of a job whose reaper is still finishing) */
        unsigned causes;

        StartStdin stdin_kind;
        int input_fd;      /* START_STDIN_STREAM: the pipe's write end until OpenInput takes it; else -EBADF */
        uint16_t tty_rows, tty_cols; /* the job's terminal (0: none) */
        int tty_fd;        /* its pty master, for TIOCSWINSZ only (never read or written); -EBADF: none */

        OutputStore *output;
        uint64_t output_dropped_before; /* dropped by earlier runs of the daemon (the store counts its own) */
        int output_error_before;        /* spool write failure (negative errno) of an earlier run, or 0 */
        JobWaiter *waiters;
};

struct Manager {
        sd_event *event;
        sd_bus *bus;
        ScopeSystem *scopes;        /* systemd: scopes, slices, its signals, the bounded call queue */
        const Config *config;
        char *state_dir;
        char *spool_dir;
        char *jobs_dir;
        char *exec_path;
        char **exec_env;            /* the helper's whole environment: fixed, never the caller's */
        Job *jobs_head, *jobs_tail; /* submission order */
        Hashmap *jobs_by_id, *jobs_by_unit; /* every linked job, discarded ones too */
        unsigned n_jobs;
        uint64_t last_seq;          /* the seq of the newest job linked */
        job_changed_handler_t changed;
        void *changed_userdata;
        job_changed_handler_t removed;   /* a job leaves the table (D-Bus InterfacesRemoved) */
        void *removed_userdata;
        bool fdstore;               /* running under systemd with a file descriptor store */
        sd_event_source *retention_timer;

        /* Open output readers (docs/design.md, "Caps"): a charge per principal that holds any, whose parent
         * is the users' or the administrators' total. */
        PrincipalReaders *readers;
        OutputCharge readers_users, readers_admins;
        sd_event_source *spool_check; /* one-shot: the spool cap, soon after a job ended */
        DynUserTable *dynamic_users; /* not owned: remote principals' own uids (teleworkerd owns it) */
        Metrics metrics;             /* counters since the daemon started (manager-metrics.c reads them) */
        sd_event_source *status_timer; /* job-journal.c: STATUS= at most once a second */
        char status_last[64];          /* the STATUS= sent last */
};


/* manager.c */
Job *job_alloc(Manager *m);
/* Into the table (last) and its indexes: -ENOMEM, or -EEXIST for an id or unit already there. */
int job_link(Manager *m, Job *j);
void job_changed(Job *j);
void job_set_end(Job *j, JobState state, JobReason reason, int exit_code, int exit_signal);
void job_start_failed(Job *j, const char *name, const char *message);
int job_watch_control(Job *j);
int job_watch_reaper_pidfd(Job *j, int pidfd);
int job_arm_runtime_timer(Job *j);
Job *job_free(Job *j);
DEFINE_FREE_FUNC(Job, job_free);
bool job_removable(const Job *j);
/* manager-lifecycle.c: 0 when name (NULL: none) names none of p's jobs, else JobNameInUse in error. */
int manager_check_name(Manager *m, const Principal *p, const char *name, sd_bus_error *error);
void manager_remove_job(Manager *m, Job *j);
/* Runs the removed handler (InterfacesRemoved) once per job: when the job leaves callers' view. */
void manager_announce_removed(Manager *m, Job *j);

/* input.c: the job's stdin. The fd the reaper passes to the job (EXEC_STDIN_FD) in *ret_fd, or -EBADF for
 * /dev/null; a pipe's write end kept in j->input_fd for OpenInput. */
int job_stdin_prepare(Job *j, const JobRequest *req, int *ret_fd, sd_bus_error *error);
/* The pty master the reaper passed (EXEC_MSG_TERMINAL): kept if it is one and the job asked for a terminal;
 * takes fd either way. Kept, it goes to systemd's fd store ("tty-<id>"), and so does the input stream of a
 * job with a terminal ("in-<id>"): a restart keeps resize and reattach. */
void job_set_terminal(Job *j, int fd);
/* After a restart (a running job's adoption): takes both back from the store. */
typedef struct FdStore FdStore;
void job_terminal_adopt(Job *j, FdStore *fds);
/* The job ended: both closed, and out of the store. */
void job_terminal_release(Job *j);

/* caps.c: per-principal shares and administrators' reserves (docs/design.md, "Caps"). */
void manager_evict_spool(Manager *m);
/* Checks the spool cap from the event loop soon (a job just ended: its output is final; not at once, the
 * caller may be inside a walk of the table). */
void manager_schedule_spool_check(Manager *m);
/* Makes room for a new job of p (removing ended jobs) or refuses it, error set. */
int manager_check_caps(Manager *m, const Principal *p, const PrincipalPolicy *policy, sd_bus_error *error);

/* manager-load.c: jobs to and from their records (persist.c), the fds kept in systemd's fd store, adoption. */
int job_save(Job *j);
void job_remove_record(Job *j);
int manager_fdstore_add(Manager *m, int fd, const char *kind, const Job *j);
void manager_fdstore_remove(Manager *m, const char *kind, const Job *j);
int manager_load_jobs(Manager *m);
/* The records of jobs_dir as unlinked jobs, one per id, oldest first; -ENOMEM and nothing when any could
 * not be read for want of memory (manager_load_jobs() then leaves the fd store alone). */
int manager_read_records(Manager *m, Job ***ret, size_t *ret_n);
