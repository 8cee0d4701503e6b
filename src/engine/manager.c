/* SPDX-License-Identifier: MIT */
/* manager.c - the job engine: spawn the reaper, put it in a transient scope, release it, learn the end.
 *
 * A job's life, and why each step is where it is:
 *  1. posix_spawn() teleworker-exec (the reaper) with the stdout and stderr pipes on fds 1 and 2, a control
 *     socket on fd 3 and the job spec (argv, env, cwd, allow-list: a sealed memfd) on fd 4, in a fixed environment of our
 *     own: the reaper is root, and nothing the caller sent may steer it (LD_PRELOAD...). posix_spawn is
 *     vfork-fast whatever the daemon's size; the reaper blocks before running anything.
 *  2. StartTransientUnit("teleworker-<id>.scope", PIDs=[reaper], limits...) asynchronously, then wait for
 *     the JobRemoved signal of that unit (the PID is only moved when systemd runs the start job).
 *  3. Result "done": send GO. The reaper forks the job, which drops privileges, then resolves its cwd and
 *     argv[0] as the job's user and execs — inside the scope. Start answers once execve succeeded, or with
 *     the error of the step that failed (a refused job is discarded, as if refused up front).
 *     Anything else, or no answer in time: close the control socket; the reaper exits without running
 *     anything. No job ever runs outside its scope.
 *  4. The reaper reports the job's wait status, then stays in the scope until we close the socket, so the
 *     cgroup's counters (OOM kills, usage) are read before systemd collects the scope.
 *  5. Stop = StopUnit: systemd sends SIGTERM to every process of the scope and SIGKILL after
 *     TimeoutStopUSec (our grace period), and its stop job ends when the scope is empty.
 *
 * The rooms around it, none of which knows the manager: request.c (a Start checked and resolved against the
 * policy), reaper.c (spawn and control protocol), scope.c (systemd calls and signals, through the bounded
 * queue of sdcall.c), persist.c + job-record.c (records), fdstore.c and handover.c (fds across restarts);
 * manager-load.c (adoption at start) and caps.c (shares) are the manager's own.
 *
 * Over 700 lines, on purpose: what is left is the job table and one state machine — waiters, the end of a
 * job, refusals, stop, the reaper's and systemd's events, retention — whose transitions call each other
 * (a start failure fires waiters, releases the reaper, finishes a stop); split further, each file would
 * need the others' static functions through manager-internal.h. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/cgroup.h"
#include "core/config.h"
#include "engine/errors.h"
#include "teleworker-build.h"
#include "exec/exec-protocol.h"
#include "exec/exec-spec.h"
#include "engine/fdstore.h"
#include "engine/job-journal.h"
#include "shared/macro.h"
#include "shared/log.h"
#include "shared/hashmap.h"
#include "engine/manager-internal.h"
#include "engine/reaper.h"
#include "engine/request.h"
#include "engine/scope.h"

#define SLICE "teleworker.slice"

static void job_fire(Job *j, WaitKind kind, const sd_bus_error *error);
static int on_reaper_exit(sd_event_source *s, const siginfo_t *si, void *userdata);
static void job_release_reaper(Job *j);
static void job_finish_stop(Job *j, const sd_bus_error *error);

/* ---------------------------------------------------------------------------------------------------- */
/* Accessors */

const char *job_id(const Job *j) { return j->id; }
const char *job_owner(const Job *j) { return j->owner; }
const char *job_user(const Job *j) { return j->user; }
const char *job_unit(const Job *j) { return j->unit; }
const char *job_executable(const Job *j) { return j->executable; }
char **job_argv(const Job *j) { return j->argv; }
uint64_t job_seq(const Job *j) { return j->seq; }
JobState job_state(const Job *j) { return j->state; }
JobReason job_reason(const Job *j) { return j->reason; }
int job_exit_code(const Job *j) { return j->exit_code; }
int job_exit_signal(const Job *j) { return j->exit_signal; }
uint64_t job_submitted_at(const Job *j) { return j->submitted_at; }
uint64_t job_started_at(const Job *j) { return j->started_at; }
uint64_t job_ended_at(const Job *j) { return j->ended_at; }
const JobLimits *job_limits(const Job *j) { return &j->limits; }
const JobIsolation *job_isolation(const Job *j) { return &j->isolation; }
const char *job_profile(const Job *j) { return j->profile; }
const char *job_name(const Job *j) { return j->name; }
const char *job_slice(const Job *j) { return j->slice; }
uint64_t job_runtime_max_usec(const Job *j) { return j->runtime_max_usec; }
OutputStore *job_output(Job *j) { return j->output; }

uint64_t job_output_dropped(Job *j) {
        return j->output_dropped_before + (j->output ? output_store_dropped(j->output) : 0);
}

int job_output_error(Job *j) {
        return j->output_error_before ?: output_store_error(j->output);
}

void job_usage(Job *j, JobUsage *ret) {
        if (job_state_is_final(j->state) || j->state == JOB_SUBMITTED) {
                *ret = j->final_usage;
                return;
        }
        cgroup_read_usage(&j->cgroup, ret);
}

const Config *manager_config(Manager *m) {
        return m->config;
}

void manager_set_removed_handler(Manager *m, job_changed_handler_t h, void *userdata) {
        m->removed = h;
        m->removed_userdata = userdata;
}

void manager_set_changed_handler(Manager *m, job_changed_handler_t h, void *userdata) {
        m->changed = h;
        m->changed_userdata = userdata;
}

Job *manager_find_job(Manager *m, const char *id) {
        Job *j = hashmap_get(m->jobs_by_id, id);

        return j && !j->discarded ? j : NULL;
}

Job *manager_next_job(Manager *m, Job *prev) {
        Job *j = prev ? prev->next : m->jobs_head;

        while (j && j->discarded)
                j = j->next;
        return j;
}

unsigned manager_n_jobs(Manager *m) {
        return m->n_jobs;
}

static Job *manager_find_job_by_unit(Manager *m, const char *unit) {
        return hashmap_get(m->jobs_by_unit, unit);
}

void job_changed(Job *j) {
        if (j->discarded)
                return;
        /* The record is the truth a restarted daemon starts from: write it on every change. */
        (void) job_save(j);
        if (j->manager->changed)
                j->manager->changed(j, j->manager->changed_userdata);
        manager_status_changed(j->manager);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Lifetime */

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        j->start_call = sdcall_free(j->start_call);
        j->stop_call = sdcall_free(j->stop_call);
        j->control_source = sd_event_source_disable_unref(j->control_source);
        j->reaper_source = sd_event_source_disable_unref(j->reaper_source);
        j->reaper_pidfd_source = sd_event_source_disable_unref(j->reaper_pidfd_source);
        j->start_timer = sd_event_source_disable_unref(j->start_timer);
        j->runtime_timer = sd_event_source_disable_unref(j->runtime_timer);
        j->slice_call = sdcall_free(j->slice_call);
        free(j->profile);
        free(j->name);
        free(j->slice);
        safe_close(j->control_fd);
        safe_close(j->reaper_pidfd);
        safe_close(j->input_fd);
        safe_close(j->tty_fd);
        output_store_free(j->output);
        cgroup_paths_done(&j->cgroup);
        free(j->unit);
        free(j->owner);
        free(j->user);
        free(j->executable);
        free(j->cwd);
        free(j->stop_job_path);
        sd_bus_error_free(&j->refusal);
        strv_free(j->argv);
        while (j->waiters) {
                JobWaiter *w = j->waiters;
                j->waiters = w->next;
                free(w);
        }
        free(j);
        return NULL;
}

/* An empty job of m: no fds, nothing linked yet. */
Job *job_alloc(Manager *m) {
        Job *j = new0(Job, 1);

        if (!j)
                return NULL;
        j->manager = m;
        j->control_fd = -EBADF;
        j->reaper_pidfd = -EBADF;
        j->input_fd = -EBADF;
        j->tty_fd = -EBADF;
        j->isolation = JOB_ISOLATION_UNSET;
        return j;
}

int job_link(Manager *m, Job *j) {
        int r;

        assert(!j->prev && !j->next && m->jobs_head != j);
        r = hashmap_put(m->jobs_by_id, j->id, j);
        if (r < 0)
                return r;
        r = hashmap_put(m->jobs_by_unit, j->unit, j);
        if (r < 0) {
                (void) hashmap_remove(m->jobs_by_id, j->id);
                return r;
        }
        j->prev = m->jobs_tail;
        if (m->jobs_tail)
                m->jobs_tail->next = j;
        else
                m->jobs_head = j;
        m->jobs_tail = j;
        m->n_jobs++;
        j->seq = ++m->last_seq;
        return 0;
}

static void manager_unlink_job(Manager *m, Job *j) {
        Job *by_id = hashmap_remove(m->jobs_by_id, j->id), *by_unit = hashmap_remove(m->jobs_by_unit, j->unit);

        assert(by_id == j && by_unit == j && m->n_jobs > 0);
        (void) by_id;
        (void) by_unit;
        if (j->prev)
                j->prev->next = j->next;
        else
                m->jobs_head = j->next;
        if (j->next)
                j->next->prev = j->prev;
        else
                m->jobs_tail = j->prev;
        j->prev = j->next = NULL;
        m->n_jobs--;
}

void manager_announce_removed(Manager *m, Job *j) {
        if (!m->removed || j->removed_announced)
                return;
        j->removed_announced = true;
        m->removed(j, m->removed_userdata);
}

/* Removes the job's record and its output. Pending callbacks learn that it went away. */
void manager_remove_job(Manager *m, Job *j) {
        static const char *const spool_suffixes[] = { ".out", ".out.idx", ".out.idx.corrupt" };
        sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(TW_ERROR_NO_SUCH_JOB, "The job was removed.");
        char *path = NULL;

        job_fire(j, WAIT_STARTED, &e);
        job_fire(j, WAIT_ENDED, &e);
        job_fire(j, WAIT_STOPPED, &e);
        manager_announce_removed(m, j);
        manager_unlink_job(m, j);
        job_remove_record(j);
        /* The spool, its stream index, and an index refused at a load and moved aside. */
        for (size_t i = 0; i < ELEMENTSOF(spool_suffixes); i++)
                if (asprintf(&path, "%s/%s%s", m->spool_dir, j->id, spool_suffixes[i]) >= 0) {
                        (void) unlink(path);
                        free(path);
                }
        job_free(j);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->jobs_head) {
                Job *j = m->jobs_head;
                sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(TW_ERROR_SHUTTING_DOWN, "The daemon is shutting down.");

                job_fire(j, WAIT_STARTED, &e);
                job_fire(j, WAIT_ENDED, &e);
                job_fire(j, WAIT_STOPPED, &e);
                manager_unlink_job(m, j);
                job_free(j);
        }
        sd_event_source_disable_unref(m->retention_timer);
        sd_event_source_disable_unref(m->spool_check);
        sd_event_source_disable_unref(m->status_timer);
        scope_system_free(m->scopes);
        hashmap_free(m->jobs_by_id);
        hashmap_free(m->jobs_by_unit);
        sd_bus_unref(m->bus);
        sd_event_unref(m->event);
        free(m->state_dir);
        free(m->spool_dir);
        free(m->jobs_dir);
        free(m->exec_path);
        strv_free(m->exec_env);
        free(m);
        return NULL;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Waiters */

static int job_add_waiter(Job *j, WaitKind kind, job_callback_t cb, void *userdata) {
        JobWaiter *w, **tail;

        if (!cb)
                return 0;
        w = new0(JobWaiter, 1);
        if (!w)
                return -ENOMEM;
        *w = (JobWaiter) { .kind = kind, .cb = cb, .userdata = userdata };
        for (tail = &j->waiters; *tail; tail = &(*tail)->next)
                ;
        *tail = w;
        return 0;
}

/* Detaches the waiters of one kind first, so callbacks may register new ones or look at the job. */
static void job_fire(Job *j, WaitKind kind, const sd_bus_error *error) {
        JobWaiter *fire = NULL, **ftail = &fire, **p = &j->waiters;

        while (*p) {
                JobWaiter *w = *p;
                if (w->kind == kind) {
                        *p = w->next;
                        w->next = NULL;
                        *ftail = w;
                        ftail = &w->next;
                } else
                        p = &w->next;
        }
        while (fire) {
                JobWaiter *w = fire;
                fire = w->next;
                w->cb(j, error, w->userdata);
                free(w);
        }
}

void manager_cancel_callbacks(Manager *m, void *userdata) {
        for (Job *j = m->jobs_head; j; j = j->next) {
                JobWaiter **p = &j->waiters;
                while (*p) {
                        JobWaiter *w = *p;
                        if (w->userdata == userdata) {
                                *p = w->next;
                                free(w);
                        } else
                                p = &w->next;
                }
        }
}

/* ---------------------------------------------------------------------------------------------------- */
/* Ending */

/* The job has ended (main process gone or never started): record it, let the reaper go, tell everyone. */
void job_set_end(Job *j, JobState state, JobReason reason, int exit_code, int exit_signal) {
        int output_error;

        if (job_state_is_final(j->state))
                return;
        /* Past the cap the store drains in pauses: what the job wrote before it ended is counted now. */
        output_store_flush(j->output);
        output_error = job_output_error(j);
        j->state = state;
        j->reason = reason;
        j->exit_code = exit_code;
        j->exit_signal = exit_signal;
        j->ended_at = now_usec(CLOCK_REALTIME);
        metrics_count_ended(&j->manager->metrics, state, reason, j->started_at > 0);
        if (output_error < 0)
                log_warning_errno(output_error,
                                  "Job %s: output capture stopped at byte %" PRIu64 " on a spool write error "
                                  "(%" PRIu64 " bytes dropped so far)",
                                  j->id, output_store_size(j->output), job_output_dropped(j));
        j->start_timer = sd_event_source_disable_unref(j->start_timer);
        j->runtime_timer = sd_event_source_disable_unref(j->runtime_timer);
        j->start_call = sdcall_free(j->start_call);
        job_terminal_release(j); /* the input and the terminal: nobody reads them any more */
        job_release_reaper(j);
        job_changed(j);
        if (!j->discarded)
                job_journal_ended(j);
        manager_schedule_spool_check(j->manager);
        job_fire(j, WAIT_ENDED, NULL);
        if (!j->stop_pending)
                job_finish_stop(j, NULL);
}

void job_start_failed(Job *j, const char *name, const char *message) {
        sd_bus_error e = SD_BUS_ERROR_NULL;

        if (job_state_is_final(j->state))
                return;
        (void) sd_bus_error_setf(&e, name, "Job %s did not start: %s", j->id, message);
        /* Fire the start waiters first: their error is the reason; the end waiters see a failed job. */
        job_fire(j, WAIT_STARTED, &e);
        sd_bus_error_free(&e);
        job_set_end(j, j->stop_requested ? JOB_KILLED : JOB_FAILED,
                    j->stop_requested ? JOB_REASON_STOPPED : JOB_REASON_START_FAILED, -1, 0);
}

/* Start's answer for a refused job, once systemd has unloaded its scope (or after REFUSAL_WAIT_USEC): a
 * caller who lists units after the error finds nothing left, as for a refusal up front. */
#define REFUSAL_WAIT_USEC (5 * USEC_PER_SEC)

static void job_answer_refusal(Job *j) {
        if (!sd_bus_error_is_set(&j->refusal))
                return;
        j->start_timer = sd_event_source_disable_unref(j->start_timer);
        job_fire(j, WAIT_STARTED, &j->refusal);
        sd_bus_error_free(&j->refusal);
        if (j->reaper_pid == 0 && !j->reaper_source && !j->reaper_pidfd_source)
                manager_remove_job(j->manager, j);
}

static int on_refusal_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        job_answer_refusal(userdata);
        return 0;
}

/* The job's child could not enter its cwd, find, be allowed or exec its executable (as the job's user).
 * Start answers with the same error it gives for what it refuses up front, and the job goes the way of
 * a refused one: hidden at once, its record removed, freed once its reaper and its scope have left. */
static void job_refuse(Job *j, const char *name, const char *message) {
        if (job_state_is_final(j->state))
                return;
        j->discarded = true;
        job_remove_record(j);
        if (sd_bus_error_set(&j->refusal, name, message) < 0 && !sd_bus_error_is_set(&j->refusal))
                (void) sd_bus_error_set_const(&j->refusal, name, "The job could not be started.");
        job_set_end(j, JOB_FAILED, JOB_REASON_START_FAILED, -1, 0);
        if (sd_event_add_time_relative(j->manager->event, &j->start_timer, CLOCK_MONOTONIC, REFUSAL_WAIT_USEC, 0,
                                       on_refusal_timeout, j) < 0)
                job_answer_refusal(j);
}

/* Not found (telerun run exits 127) or found but not executable by the job's account (126), as a shell tells
 * them apart. */
static const char *exec_error_name(int error) {
        return error == ENOENT || error == ENOTDIR ? TW_ERROR_EXECUTABLE_NOT_FOUND : TW_ERROR_NOT_EXECUTABLE;
}

/* A step of the job's child failed before execve succeeded. The messages depend only on the request and
 * the errno the job's user got, so they tell no more than the user could learn by trying. */
static void job_child_failed(Job *j, int stage, int error) {
        _cleanup_(freep) char *exe = str_escape(j->executable ? j->executable : "?", 256);
        _cleanup_(freep) char *cwd = str_escape(j->cwd ? j->cwd : "?", 256);
        const char *where = j->executable && !strchr(j->executable, '/') ? " (looked up in PATH)" : "";
        char msg[1024];

        switch (stage) {
        case EXEC_STAGE_CWD:
                snprintf(msg, sizeof(msg), "The working directory '%s' cannot be used: %s.", cwd ? cwd : "?",
                         strerror(error));
                job_refuse(j, TW_ERROR_INVALID_ARGS, msg);
                return;
        case EXEC_STAGE_LOOKUP:
                snprintf(msg, sizeof(msg), "%s: '%s'%s", error == ENOENT || error == ENOTDIR ? "No such executable" :
                         "Not an executable file, or not accessible", exe ? exe : "?", where);
                job_refuse(j, exec_error_name(error), msg);
                return;
        case EXEC_STAGE_DENIED:
                snprintf(msg, sizeof(msg), "The policy does not allow '%s' to run %s.", j->owner, exe ? exe : "?");
                job_refuse(j, TW_ERROR_ACCESS_DENIED, msg);
                return;
        case EXEC_STAGE_EXEC:
                snprintf(msg, sizeof(msg), "Cannot execute '%s': %s.", exe ? exe : "?", strerror(error));
                job_refuse(j, error == E2BIG ? TW_ERROR_INVALID_ARGS : exec_error_name(error), msg);
                return;
        default:
                snprintf(msg, sizeof(msg), "could not set up the job's process: %s", strerror(error));
                job_start_failed(j, TW_ERROR_START_FAILED, msg);
        }
}

/* Reads the scope's counters while the reaper still holds it, then classifies the end. */
static void job_exited(Job *j, int code, int status) {
        unsigned causes = j->causes;
        uint64_t ooms;
        JobEnd end;

        if (job_state_is_final(j->state))
                return;
        if (!(code == CLD_EXITED && status == 0) && cgroup_read_oom_kills(&j->cgroup, &ooms) == 0 && ooms > j->oom_kills_at_start)
                causes |= JOB_END_CAUSE_OOM;
        cgroup_read_usage(&j->cgroup, &j->final_usage);
        end = job_end_classify(code, status, causes);
        job_set_end(j, end.state, end.reason, end.exit_code, end.exit_signal);
}

static void job_release_reaper(Job *j) {
        j->control_source = sd_event_source_disable_unref(j->control_source);
        if (j->control_fd >= 0) {
                reaper_release(j->control_fd);
                manager_fdstore_remove(j->manager, "ctl", j);
        }
        j->control_fd = safe_close(j->control_fd);
}

static void job_finish_stop(Job *j, const sd_bus_error *error) {
        j->stop_pending = false;
        if (!job_state_is_final(j->state) && !error)
                return; /* the job's end comes next and finishes the stop */
        job_fire(j, WAIT_STOPPED, error);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Events from the reaper */

static void job_send_go(Job *j) {
        if (reaper_send_go(j->control_fd) < 0) {
                job_start_failed(j, TW_ERROR_START_FAILED, "the job's reaper process went away");
                return;
        }
        j->go_sent = true;
        j->start_timer = sd_event_source_disable_unref(j->start_timer);
}

/* The run-time limit is the daemon's own timer rather than the scope's RuntimeMaxSec=: the daemon then
 * knows the end was a timeout, and the stop follows the same SIGTERM, grace, SIGKILL path as Stop. */
static int on_runtime_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        j->runtime_timer = sd_event_source_disable_unref(j->runtime_timer);
        if (job_state_is_final(j->state))
                return 0;
        j->causes |= JOB_END_CAUSE_TIMEOUT;
        (void) manager_stop_job(j->manager, j, NULL, NULL);
        return 0;
}

int job_arm_runtime_timer(Job *j) {
        uint64_t deadline, now = now_usec(CLOCK_REALTIME);

        /* Beyond the bound (a record of an older version): no deadline rather than one that wrapped. */
        if (j->runtime_max_usec == 0 || j->runtime_max_usec > JOB_RUNTIME_USEC_MAX || j->runtime_timer)
                return 0;
        deadline = j->started_at + j->runtime_max_usec;
        return sd_event_add_time_relative(j->manager->event, &j->runtime_timer, CLOCK_MONOTONIC,
                                          deadline > now ? deadline - now : 0, 10 * USEC_PER_MSEC,
                                          on_runtime_timeout, j);
}

static void job_on_started(Job *j, pid_t pid) {
        int r;

        j->main_pid = pid;
        /* Without the paths, usage reads "unavailable"; the job itself is fine. */
        r = cgroup_paths_from_pid(j->reaper_pid, j->unit, &j->cgroup);
        if (r < 0 || cgroup_read_oom_kills(&j->cgroup, &j->oom_kills_at_start) < 0)
                j->oom_kills_at_start = 0;
        j->state = JOB_RUNNING;
        j->started_at = now_usec(CLOCK_REALTIME);
        metrics_count_started(&j->manager->metrics,
                              j->started_at > j->submitted_at ? j->started_at - j->submitted_at : 0);
        (void) job_arm_runtime_timer(j);
        job_changed(j);
        job_journal_started(j);
        job_fire(j, WAIT_STARTED, NULL);
}

/* EXEC_MSG_EXECUTABLE: the path argv[0] resolved to, as the job's user saw it. */
static void job_set_executable(Job *j, const char *path, size_t len) {
        char *p;

        if (len == 0 || len > EXEC_PATH_MAX || memchr(path, 0, len))
                return;
        p = strndup(path, len);
        if (!p)
                return;
        free(j->executable);
        j->executable = p;
}

static int on_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Job *j = userdata;

        for (;;) {
                ReaperBuffer buf;
                ReaperMessage msg;
                int r = reaper_read_message(fd, &buf, &msg);

                if (r == 0)
                        return 0;
                if (r < 0) {
                        /* The reaper closed its end: it is exiting; its exit event says how. */
                        j->control_source = sd_event_source_disable_unref(j->control_source);
                        return 0;
                }
                switch (msg.type) {
                case EXEC_MSG_EXECUTABLE:
                        if (j->state == JOB_SUBMITTED)
                                job_set_executable(j, msg.path, msg.path_len);
                        break;
                case EXEC_MSG_STARTED:
                        if (j->state == JOB_SUBMITTED && j->go_sent)
                                job_on_started(j, (pid_t) msg.value);
                        break;
                case EXEC_MSG_FAILED:
                        if (j->state == JOB_SUBMITTED && j->go_sent)
                                job_child_failed(j, msg.code, msg.value);
                        return 0;
                case EXEC_MSG_EXITED:
                        if (j->state == JOB_RUNNING)
                                job_exited(j, msg.code, msg.value);
                        return 0;
                case EXEC_MSG_TERMINAL:
                        job_set_terminal(j, msg.fd);
                        break;
                default:
                        break;
                }
        }
}

static int on_reaper_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Job *j = userdata;

        if (s)
                j->reaper_source = sd_event_source_disable_unref(j->reaper_source);
        /* A report may still sit in the control socket: read it first. */
        if (j->control_source)
                (void) on_control(j->control_source, j->control_fd, EPOLLIN, j);
        j->reaper_pid = 0;
        if (j->discarded) {
                /* Removed now, unless Start's answer still waits for systemd to unload the scope. */
                if (!sd_bus_error_is_set(&j->refusal))
                        manager_remove_job(j->manager, j);
                return 0;
        }
        if (job_state_is_final(j->state))
                return 0;
        if (j->state == JOB_SUBMITTED) {
                job_start_failed(j, TW_ERROR_START_FAILED, "the job's reaper process exited before the job started");
                return 0;
        }
        /* The reaper died before it could report (SIGKILL of the whole scope at the end of the grace period,
         * or the kernel's OOM killer): the job's main process shared that fate. */
        job_exited(j, CLD_KILLED, si->si_code == CLD_EXITED ? SIGKILL : si->si_status);
        return 0;
}

/* The reaper of a job adopted after a daemon restart is not our child: its pidfd only says it is gone. */
static int on_reaper_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Job *j = userdata;
        siginfo_t si = { .si_code = CLD_KILLED, .si_status = SIGKILL };

        j->reaper_pidfd_source = sd_event_source_disable_unref(j->reaper_pidfd_source);
        j->reaper_pidfd = safe_close(j->reaper_pidfd);
        j->reaper_source = NULL;
        return on_reaper_exit(NULL, &si, j);
}

int job_watch_reaper_pidfd(Job *j, int pidfd) {
        int r;

        r = sd_event_add_io(j->manager->event, &j->reaper_pidfd_source, pidfd, EPOLLIN, on_reaper_pidfd, j);
        if (r < 0)
                return r;
        j->reaper_pidfd = pidfd;
        /* After the control socket: a report that is there must be read before the reaper's end. */
        (void) sd_event_source_set_priority(j->reaper_pidfd_source, SD_EVENT_PRIORITY_NORMAL + 1);
        return 0;
}

static int on_start_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;
        char msg[128];

        snprintf(msg, sizeof(msg), "systemd did not set up the scope within %" PRIu64 " ms",
                 j->manager->config->start_timeout_usec / USEC_PER_MSEC);
        job_start_failed(j, TW_ERROR_START_FAILED, msg);
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* systemd */

static void on_job_removed(const char *unit, const char *path, const char *result, void *userdata) {
        Manager *m = userdata;
        Job *j = manager_find_job_by_unit(m, unit);

        if (!j)
                return;

        if (j->stop_job_path && streq(path, j->stop_job_path)) {
                j->stop_job_path = mfree(j->stop_job_path);
                job_finish_stop(j, NULL);
                return;
        }
        if (j->state != JOB_SUBMITTED || j->go_sent || j->control_fd < 0)
                return;
        if (streq(result, "done"))
                job_send_go(j);
        else {
                char m2[160];
                snprintf(m2, sizeof(m2), "systemd's start job for %s finished with result '%s'", unit, result);
                job_start_failed(j, TW_ERROR_START_FAILED, m2);
        }
}

static void on_unit_removed(const char *unit, void *userdata) {
        Job *j = manager_find_job_by_unit(userdata, unit);

        if (j && j->discarded)
                job_answer_refusal(j);
}

static void on_start_reply(SdCall *c, sd_bus_message *reply, const sd_bus_error *e, void *userdata) {
        Job *j = userdata;

        j->start_call = sdcall_free(j->start_call);
        if (e) {
                char msg[512];
                snprintf(msg, sizeof(msg), "systemd refused the scope: %s", e->message ? e->message : e->name);
                job_start_failed(j, TW_ERROR_START_FAILED, msg);
        }
        /* On success the JobRemoved signal of the unit tells whether the scope came up. */
}

static void on_slice_reply(SdCall *c, sd_bus_message *reply, const sd_bus_error *e, void *userdata) {
        Job *j = userdata;

        j->slice_call = sdcall_free(j->slice_call);
        if (e) {
                char msg[512];
                /* The user's cap could not be put in place: better no job than an uncapped one. */
                snprintf(msg, sizeof(msg), "systemd refused the limits of %s: %s", j->slice,
                         e->message ? e->message : e->name);
                job_start_failed(j, TW_ERROR_START_FAILED, msg);
        }
}

static int job_start_scope(Job *j) {
        Manager *m = j->manager;
        _cleanup_(freep) char *description = NULL;
        const char *io_device = m->config->io_device ? m->config->io_device : m->state_dir;
        ScopeSpec spec;
        int r;

        if (asprintf(&description, "teleworker job %s for %s: %s", j->id, j->owner, j->executable) < 0)
                return -ENOMEM;
        /* Caps on the sum of a principal's jobs go on its slice, before the scope is started in it. */
        if (j->slice_limits_set) {
                r = scope_set_slice_limits(m->scopes, j->slice, &j->slice_limits, io_device,
                                           m->config->start_timeout_usec, on_slice_reply, j, &j->slice_call);
                if (r < 0)
                        return r;
        }
        spec = (ScopeSpec) {
                .unit = j->unit,
                .slice = j->slice,
                .description = description,
                .pid = j->reaper_pid,
                .limits = &j->limits,
                .stop_grace_usec = m->config->stop_grace_usec,
                .io_device = io_device,
        };
        r = scope_start(m->scopes, &spec, m->config->start_timeout_usec, on_start_reply, j, &j->start_call);
        if (r < 0)
                return r;
        return sd_event_add_time_relative(m->event, &j->start_timer, CLOCK_MONOTONIC,
                                          m->config->start_timeout_usec, 0, on_start_timeout, j);
}

static void on_stop_reply(SdCall *c, sd_bus_message *reply, const sd_bus_error *e, void *userdata) {
        Job *j = userdata;
        const char *path;

        j->stop_call = sdcall_free(j->stop_call);
        if (e) {
                /* Not loaded any more: the scope is already gone, which is what a stop wants. */
                if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit"))
                        job_finish_stop(j, NULL);
                else {
                        sd_bus_error err = SD_BUS_ERROR_NULL;
                        (void) sd_bus_error_setf(&err, TW_ERROR_STOP_FAILED, "systemd could not stop %s: %s",
                                                 j->unit, e->message ? e->message : e->name);
                        job_finish_stop(j, &err);
                        sd_bus_error_free(&err);
                }
                return;
        }
        if (sd_bus_message_read(reply, "o", &path) < 0 || !(j->stop_job_path = strdup(path)))
                job_finish_stop(j, NULL);
}

int manager_stop_job(Manager *m, Job *j, job_callback_t done, void *userdata) {
        int r;

        r = job_add_waiter(j, WAIT_STOPPED, done, userdata);
        if (r < 0)
                return r;
        if (j->stop_pending)
                return 0;

        if (!job_state_is_final(j->state))
                j->causes |= JOB_END_CAUSE_STOP;
        j->stop_requested = true;
        if (j->state == JOB_SUBMITTED && !j->go_sent) {
                /* Not released yet: closing the control socket makes the reaper exit without running
                 * anything; a scope systemd may already have made empties and is collected. */
                job_start_failed(j, TW_ERROR_START_FAILED, "stopped before it started");
                return 0;
        }

        j->stop_pending = true;
        r = scope_stop(m->scopes, j->unit, on_stop_reply, j, &j->stop_call);
        if (r < 0) {
                j->stop_pending = false;
                return r;
        }
        return 0;
}

int manager_wait_job(Manager *m, Job *j, job_callback_t done, void *userdata) {
        if (job_state_is_final(j->state)) {
                done(j, NULL, userdata);
                return 0;
        }
        return job_add_waiter(j, WAIT_ENDED, done, userdata);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Starting */

static int job_spawn_reaper(Job *j, int *spec_fd, int *stdin_fd) {
        Manager *m = j->manager;
        _cleanup_(close_pairp) int out[2] = { -EBADF, -EBADF }, err[2] = { -EBADF, -EBADF };
        _cleanup_(close_pairp) int ctl[2] = { -EBADF, -EBADF };
        _cleanup_(freep) char *spool = NULL;
        _cleanup_(closep) int out_read_copy = -EBADF, err_read_copy = -EBADF;
        ReaperSpawn spawn;
        pid_t pid;
        int r, pidfd;

        /* stdout and stderr apart, into one spool in arrival order (docs/design.md, "Two streams, one order"). */
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                return -errno;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
                return -errno;

        if (asprintf(&spool, "%s/%s.out", m->spool_dir, j->id) < 0)
                return -ENOMEM;
        out_read_copy = fcntl(out[0], F_DUPFD_CLOEXEC, 3);
        if (out_read_copy < 0)
                return -errno;
        err_read_copy = fcntl(err[0], F_DUPFD_CLOEXEC, 3);
        if (err_read_copy < 0)
                return -errno;
        int inputs[_OUTPUT_STREAM_MAX] = { -EBADF, TAKE_FD(out[0]), TAKE_FD(err[0]) };
        r = output_store_new_streams(m->event, spool, inputs, m->config->output_max_bytes, &j->output);
        if (r < 0)
                return r;

        spawn = (ReaperSpawn) {
                .exec_path = m->exec_path,
                .exec_env = m->exec_env,
                .uid = j->uid,
                .gid = j->gid,
                .user = dynuser_by_uid(m->dynamic_users, j->uid) ? NULL : j->user,
                .job_id = j->id,
                .no_new_privs = j->no_new_privs,
                .isolation = j->isolation,
                .out_write_fd = out[1],
                .out_read_fd = out_read_copy,
                .err_write_fd = err[1],
                .err_read_fd = err_read_copy,
                .control_fd = ctl[1],
                .spec_fd = *spec_fd,
                .stdin_fd = *stdin_fd,
                .tty_rows = j->tty_rows,
                .tty_cols = j->tty_cols,
        };
        r = reaper_spawn(&spawn, &pid, &pidfd);
        /* The fds may have moved: ours are the (possibly new) numbers, whatever happened. */
        out[1] = spawn.out_write_fd;
        out_read_copy = spawn.out_read_fd;
        err[1] = spawn.err_write_fd;
        err_read_copy = spawn.err_read_fd;
        ctl[1] = spawn.control_fd;
        *spec_fd = spawn.spec_fd;
        *stdin_fd = spawn.stdin_fd;
        if (r < 0)
                return r;
        j->reaper_pid = pid;

        r = sd_event_add_child_pidfd(m->event, &j->reaper_source, pidfd, WEXITED, on_reaper_exit, j);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                safe_close(pidfd);
                return r;
        }
        /* Not child_process_own: a job (and its reaper) must outlive the daemon. */
        (void) sd_event_source_set_child_pidfd_own(j->reaper_source, true);

        j->control_fd = TAKE_FD(ctl[0]);
        r = job_watch_control(j);
        if (r < 0)
                return r;

        /* Both ends the daemon reads survive its restarts in systemd's fd store: the job keeps writing
         * (and blocks once the pipe is full), and its exit report waits in the socket. */
        (void) manager_fdstore_add(m, j->control_fd, "ctl", j);
        (void) manager_fdstore_add(m, out_read_copy, "out", j);
        (void) manager_fdstore_add(m, err_read_copy, "err", j);
        return 0;
}

int job_watch_control(Job *j) {
        int r;

        r = sd_event_add_io(j->manager->event, &j->control_source, j->control_fd, EPOLLIN, on_control, j);
        if (r < 0)
                return r;
        /* Before the job's own end: the exit report must be read before the reaper's exit is handled. */
        (void) sd_event_source_set_priority(j->control_source, SD_EVENT_PRIORITY_NORMAL - 1);
        return 0;
}

void manager_set_dynamic_users(Manager *m, DynUserTable *t) {
        m->dynamic_users = t;
}

DynUserTable *manager_dynamic_users(Manager *m) {
        return m->dynamic_users;
}

bool job_removable(const Job *j) {
        return job_state_is_final(j->state) && !j->stop_pending && !j->reaper_source && !j->reaper_pidfd_source;
}

/* Keeps the table bounded: ended jobs older than retention_sec go, and the oldest ended jobs go first when
 * the table is full. Their records and output go with them. */
static void manager_apply_retention(Manager *m) {
        uint64_t now = now_usec(CLOCK_REALTIME);

        for (Job *j = m->jobs_head, *next; j; j = next) {
                next = j->next;
                if (job_removable(j) && j->ended_at + m->config->retention_usec < now)
                        manager_remove_job(m, j);
        }
        for (Job *j = m->jobs_head, *next; j && m->n_jobs >= m->config->max_jobs; j = next) {
                next = j->next;
                if (job_removable(j))
                        manager_remove_job(m, j);
        }
        manager_evict_spool(m);
}

static int on_retention_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_apply_retention(m);
        return sd_event_source_set_time_relative(s, MIN(m->config->retention_usec, 3600 * USEC_PER_SEC));
}

int manager_start_job(Manager *m, const Principal *p, const JobRequest *req, job_callback_t done, void *userdata,
                      Job **ret, sd_bus_error *error) {
        _cleanup_(job_freep) Job *j = NULL;
        _cleanup_(strv_freep) char **env = NULL;
        _cleanup_(closep) int spec_fd = -EBADF, stdin_fd = -EBADF;
        const ConfigProfile *profile;
        PrincipalPolicy policy;
        ExecSpec spec;
        Job *job;
        struct passwd *pw = NULL, dyn = {};
        int r;

        r = request_validate(req, error);
        if (r < 0)
                return r;

        manager_apply_retention(m);
        r = manager_check_name(m, p, req->name, error);
        if (r < 0)
                return r;

        j = job_alloc(m);
        if (!j)
                return -ENOMEM;
        if (req->name && !(j->name = strdup(req->name)))
                return -ENOMEM;
        j->exit_code = -1;
        j->state = JOB_SUBMITTED;
        j->submitted_at = now_usec(CLOCK_REALTIME);
        job_usage_reset(&j->final_usage);

        config_principal_policy(m->config, p->name, &policy);
        r = request_check_profile_lock(m->config, &policy, req, error);
        if (r < 0)
                return r;
        profile = policy.profile;
        if (req->profile && *req->profile) {
                profile = config_find_profile(m->config, req->profile);
                if (!profile && !streq(req->profile, "default"))
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Unknown profile '%s'.", req->profile);
        }
        j->profile = strdup(profile ? profile->name : "default");
        if (!j->profile)
                return -ENOMEM;
        j->limits = req->limits;
        if (profile)
                job_limits_apply_defaults(&j->limits, &profile->limits);
        job_limits_apply_defaults(&j->limits, &m->config->default_limits);
        r = request_check_limits(m->config, &j->limits, p->admin, error);
        if (r < 0)
                return r;
        j->runtime_max_usec = req->runtime_max_usec ? req->runtime_max_usec : profile ? profile->runtime_max_usec : 0;
        if (j->runtime_max_usec == JOB_RUNTIME_USEC_INFINITY)
                j->runtime_max_usec = 0; /* asked for no limit: the job's record says "none" */

        if (p->network)
                policy.network = true;   /* polkit gave this call the network (bus-polkit.c) */
        r = request_check_isolation(&policy, p->remote, &req->isolation, &j->isolation, error);
        if (r < 0)
                return r;
        r = manager_check_caps(m, p, &policy, error);
        if (r < 0)
                return r;
        r = request_slice_name(p->name, &j->slice);
        if (r < 0)
                return r;
        j->slice_limits = policy.slice_limits;
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++)
                if (job_limits_get(&policy.slice_limits, f))
                        j->slice_limits_set = true;

        r = request_resolve_account(m->config, m->dynamic_users, p, &dyn, &pw, error);
        if (r < 0)
                return r;
        j->uid = pw->pw_uid;
        j->gid = pw->pw_gid;
        j->user = strdup(pw->pw_name);
        if (!j->user)
                return -ENOMEM;

        /* The working directory and argv[0] are not looked at here: as root, that would tell the caller
         * whether root-only paths exist. The job's child resolves them (and applies the allow-list) after
         * it dropped to the job's account; until it reports the resolved path, the executable is argv[0],
         * and the record's cwd the requested one or the home directory it tries first. */
        j->cwd = strdup(req->cwd && *req->cwd ? req->cwd : pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/");
        j->executable = strdup(req->argv[0]);
        env = request_build_env(pw, req->env);
        if (!j->cwd || !j->executable || !env)
                return -ENOMEM;
        spec = (ExecSpec) {
                .argv = req->argv,
                .env = env,
                .allow = policy.allow,
                .cwd = req->cwd ? (char *) req->cwd : (char *) "",
                .home = pw->pw_dir ? pw->pw_dir : (char *) "",
        };
        r = exec_spec_to_memfd(&spec, &spec_fd);
        if (r == -EINVAL)
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS, "The command line or environment is malformed.");
        if (r < 0)
                return sd_bus_error_setf(error, TW_ERROR_START_FAILED, "Failed to pass the job to its process: %s",
                                         strerror(-r));
        /* Remote principals' jobs never gain privileges (setuid binaries, file capabilities). */
        j->no_new_privs = p->remote;
        r = job_stdin_prepare(j, req, &stdin_fd, error);
        if (r < 0)
                return r;

        r = job_id_generate(j->id);
        if (r < 0)
                return r;
        if (asprintf(&j->unit, "teleworker-%s.scope", j->id) < 0) {
                j->unit = NULL;
                return -ENOMEM;
        }
        j->argv = strv_copy(req->argv);
        j->owner = strdup(p->name);
        if (!j->argv || !j->owner)
                return -ENOMEM;

        /* In the table before the reaper exists: linking can fail (no memory), a spawned reaper must not. */
        r = job_link(m, j);
        if (r < 0)
                return r;
        r = job_spawn_reaper(j, &spec_fd, &stdin_fd);
        if (r < 0) {
                manager_unlink_job(m, j);
                return sd_bus_error_setf(error, TW_ERROR_START_FAILED, "Failed to spawn the job's process: %s",
                                         strerror(-r));
        }

        /* From here on the manager owns the job: a failure is recorded as failed/start-failed, and the
         * reaper's exit is still waited for. */
        job = TAKE_PTR(j);
        if (ret)
                *ret = job;

        r = job_start_scope(job);
        if (r < 0) {
                char msg[256];
                snprintf(msg, sizeof(msg), "failed to ask systemd for a scope: %s", strerror(-r));
                job_start_failed(job, TW_ERROR_START_FAILED, msg);
                return sd_bus_error_setf(error, TW_ERROR_START_FAILED, "Job %s did not start: %s", job->id, msg);
        }
        r = job_add_waiter(job, WAIT_STARTED, done, userdata);
        if (r < 0)
                return r;
        job_changed(job);
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_(freep) char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* The helper's environment: a fixed PATH, and the daemon's own sanitizer options (so a sanitized build's
 * helper reports like the daemon). Never anything from a caller: glibc obeys LD_PRELOAD, LD_AUDIT,
 * LD_LIBRARY_PATH, GCONV_PATH... in a process that is not setuid, and the helper runs as root. */
static char **manager_exec_env(void) {
        static const char *const passed[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
        char **env = new0(char *, ELEMENTSOF(passed) + 2);
        size_t n = 0;

        if (!env)
                return NULL;
        env[n] = strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
        if (!env[n++])
                return strv_free(env);
        for (size_t i = 0; i < ELEMENTSOF(passed); i++) {
                const char *v = getenv(passed[i]);
                if (!v)
                        continue;
                if (asprintf(&env[n], "%s=%s", passed[i], v) < 0) {
                        env[n] = NULL;
                        return strv_free(env);
                }
                n++;
        }
        return env;
}

static const ScopeEvents manager_scope_events = {
        .job_removed = on_job_removed,
        .unit_removed = on_unit_removed,
};

int manager_new(sd_event *e, sd_bus *system_bus, const Config *config, const char *state_dir, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *exec_path;
        int r;

        m = new0(Manager, 1);
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->bus = sd_bus_ref(system_bus);
        m->config = config;
        /* Ids in any case (the API accepts them so); units exactly as systemd spells them. */
        r = hashmap_new(HASHMAP_CASE_INSENSITIVE, &m->jobs_by_id);
        if (r < 0)
                return r;
        r = hashmap_new(0, &m->jobs_by_unit);
        if (r < 0)
                return r;
        exec_path = secure_getenv("TELEWORKER_EXEC_PATH");
        m->exec_path = strdup(exec_path && *exec_path ? exec_path : TELEWORKER_EXEC_PATH);
        m->state_dir = strdup(state_dir);
        m->exec_env = manager_exec_env();
        if (!m->exec_path || !m->state_dir || !m->exec_env || asprintf(&m->spool_dir, "%s/output", state_dir) < 0)
                return -ENOMEM;
        if (access(m->exec_path, X_OK) < 0)
                return -errno;
        r = mkdir_p(m->spool_dir, 0700);
        if (r < 0)
                return r;
        if (asprintf(&m->jobs_dir, "%s/jobs", state_dir) < 0)
                return -ENOMEM;
        r = mkdir_p(m->jobs_dir, 0700);
        if (r < 0)
                return r;
        /* Where reapers wait for us after systemd dropped our fds; without it jobs still run, but a
         * `systemctl stop` loses what they report. */
        r = mkdir_p(EXEC_HANDOVER_DIR, 0700);
        if (r < 0)
                log_warning_errno(r, "Cannot create %s; running jobs will not survive a stop of the daemon",
                                  EXEC_HANDOVER_DIR);

        r = scope_system_new(m->bus, m->event, SDCALL_IN_FLIGHT_DEFAULT, &manager_scope_events, m, &m->scopes);
        if (r < 0)
                return r;

        m->fdstore = fdstore_available(m->bus);
        r = manager_load_jobs(m);
        if (r < 0)
                return r;
        manager_apply_retention(m);
        r = sd_event_add_time_relative(m->event, &m->retention_timer, CLOCK_MONOTONIC,
                                       MIN(m->config->retention_usec, 3600 * USEC_PER_SEC), USEC_PER_SEC,
                                       on_retention_timer, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->retention_timer, SD_EVENT_ON);

        *ret = TAKE_PTR(m);
        return 0;
}
