/* SPDX-License-Identifier: MIT */
/* manager-load.c - the manager's side of nothing lost across a restart or crash of teleworkerd: its jobs to
 * and from their records, and the adoption of running jobs at start. Part of the manager (it includes
 * manager-internal.h, as manager.c does); the modules it uses know no manager: persist.c (record files),
 * job-record.c (their format), fdstore.c (systemd's fd store), handover.c (a reaper's copies).
 *
 * The two fds the daemon reads a running job through — the read end of its output pipe and its end of the
 * reaper's control socket — are in systemd's file descriptor store. While the daemon is down the job keeps
 * writing into the pipe and blocks when it is full (nothing is lost, nothing is buffered without bound), and
 * the reaper's exit report waits in the socket. The reaper keeps a write end of the pipe until it is
 * released, so systemd never sees the pipe hang up (and drop it) while bytes are still in it. On start, the
 * records are read back, the fds come back through sd_listen_fds_with_names(), and each running job is
 * adopted: its spool is reopened at its end, its control socket watched, its reaper watched through a pidfd
 * (it is no longer our child). systemd drops the store on `systemctl stop`; then the fds come from the reaper
 * itself, which kept copies and waits on EXEC_HANDOVER_DIR/<id>.sock (job_adopt). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/errors.h"
#include "engine/fdstore.h"
#include "engine/handover.h"
#include "engine/job-record.h"
#include "shared/job-ref.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "engine/manager-internal.h"
#include "engine/persist.h"

int manager_fdstore_add(Manager *m, int fd, const char *kind, const Job *j) {
        return fdstore_add(m->fdstore, fd, kind, j->id);
}

void manager_fdstore_remove(Manager *m, const char *kind, const Job *j) {
        fdstore_remove(m->fdstore, kind, j->id);
}

/* The record of j, borrowing j's strings (not to be passed to job_record_done()). */
static void job_to_record(Job *j, JobRecord *r) {
        *r = (JobRecord) {
                .unit = j->unit, .owner = j->owner, .user = j->user, .executable = j->executable, .cwd = j->cwd,
                .argv = j->argv, .uid = j->uid, .gid = j->gid, .limits = j->limits,
                .state = j->state, .reason = j->reason, .exit_code = j->exit_code, .exit_signal = j->exit_signal,
                .submitted_at = j->submitted_at, .started_at = j->started_at, .ended_at = j->ended_at,
                .reaper_pid = j->reaper_pid, .main_pid = j->main_pid, .go_sent = j->go_sent, .causes = j->causes,
                .oom_kills_at_start = j->oom_kills_at_start, .usage = j->final_usage,
                .output_dropped = job_output_dropped(j), .output_error = job_output_error(j),
                .profile = j->profile, .slice = j->slice, .runtime_max_usec = j->runtime_max_usec,
                .isolation = j->isolation, .name = j->name, .stdin_kind = j->stdin_kind, .tty_rows = j->tty_rows,
                .tty_cols = j->tty_cols,
        };
        memcpy(r->id, j->id, sizeof(r->id));
}

int job_save(Job *j) {
        JobRecord rec;

        job_to_record(j, &rec);
        return persist_save(j->manager->jobs_dir, &rec);
}

void job_remove_record(Job *j) {
        persist_remove(j->manager->jobs_dir, j->id);
}

/* A job of m from its record, taking the record's strings. */
static int job_from_record(Manager *m, JobRecord *rec, Job **ret) {
        Job *j = job_alloc(m);

        if (!j)
                return -ENOMEM;
        memcpy(j->id, rec->id, sizeof(j->id));
        j->unit = TAKE_PTR(rec->unit);
        j->owner = TAKE_PTR(rec->owner);
        j->user = TAKE_PTR(rec->user);
        j->executable = TAKE_PTR(rec->executable);
        j->cwd = TAKE_PTR(rec->cwd);
        j->argv = TAKE_PTR(rec->argv);
        j->profile = TAKE_PTR(rec->profile);
        j->slice = TAKE_PTR(rec->slice);
        /* A name that is not one (an edited record) is dropped, not trusted into a lookup. */
        if (rec->name && job_name_is_valid(rec->name))
                j->name = TAKE_PTR(rec->name);
        j->uid = rec->uid;
        j->gid = rec->gid;
        j->limits = rec->limits;
        j->state = rec->state;
        j->reason = rec->reason;
        j->exit_code = rec->exit_code;
        j->exit_signal = rec->exit_signal;
        j->submitted_at = rec->submitted_at;
        j->started_at = rec->started_at;
        j->ended_at = rec->ended_at;
        j->reaper_pid = rec->reaper_pid;
        j->main_pid = rec->main_pid;
        j->go_sent = rec->go_sent;
        j->causes = rec->causes;
        j->stop_requested = j->causes & JOB_END_CAUSE_STOP;
        j->oom_kills_at_start = rec->oom_kills_at_start;
        j->final_usage = rec->usage;
        j->output_dropped_before = rec->output_dropped;
        j->output_error_before = rec->output_error;
        j->runtime_max_usec = rec->runtime_max_usec;
        j->isolation = rec->isolation;
        /* What the job's stdin and terminal were, for its status (the fds themselves are not kept). */
        j->stdin_kind = rec->stdin_kind > 0 && rec->stdin_kind < _START_STDIN_MAX ? (StartStdin) rec->stdin_kind :
                        START_STDIN_NULL;
        if (rec->tty_rows > 0 && rec->tty_cols > 0 && rec->tty_rows <= START_TTY_SIZE_MAX &&
            rec->tty_cols <= START_TTY_SIZE_MAX) {
                j->tty_rows = (uint16_t) rec->tty_rows;
                j->tty_cols = (uint16_t) rec->tty_cols;
        }
        *ret = j;
        return 0;
}

static bool manager_has_job(const char *id, void *userdata) {
        return hashmap_get(((Manager *) userdata)->jobs_by_id, id) != NULL;
}

int manager_read_records(Manager *m, Job ***ret, size_t *ret_n) {
        JobRecord *records = NULL;
        Job **jobs;
        size_t n = 0;
        int r;

        r = persist_read_all(m->jobs_dir, manager_has_job, m, &records, &n);
        if (r < 0)
                return r;
        jobs = new0(Job *, n + 1);
        for (size_t i = 0; jobs && i < n; i++)
                if (job_from_record(m, &records[i], &jobs[i]) < 0) {
                        for (size_t k = 0; k < i; k++)
                                job_free(jobs[k]);
                        jobs = mfree(jobs);
                }
        persist_records_free(records, n);
        if (!jobs)
                return -ENOMEM;
        *ret = jobs;
        *ret_n = n;
        return 0;
}

/* Puts a job that was running when the daemon went away back under watch. */
static void job_adopt(Manager *m, Job *j, FdStore *fds) {
        _cleanup_(freep) char *spool = NULL;
        int out_fd = fdstore_take(fds, "out", j->id), ctl_fd = fdstore_take(fds, "ctl", j->id), pidfd = -EBADF, r;
        int err_fd = fdstore_take(fds, "err", j->id);

        if (j->go_sent && j->reaper_pid > 0) {
                pidfd = (int) syscall(SYS_pidfd_open, j->reaper_pid, 0);
                /* The PID may have been reused: it is our reaper only if it is in the job's scope. */
                if (pidfd >= 0 && cgroup_paths_from_pid(j->reaper_pid, j->unit, &j->cgroup) >= 0 &&
                    !j->cgroup.unified && !j->cgroup.memory && !j->cgroup.cpuacct && !j->cgroup.blkio)
                        pidfd = safe_close(pidfd);
        }
        if (ctl_fd < 0 && out_fd < 0 && pidfd >= 0) {
                /* Not in systemd's store (a stop, not a restart): the reaper kept them for us. */
                r = handover_reclaim_fds(j->id, j->reaper_pid, 50, &ctl_fd, &out_fd, &err_fd);
                if (r < 0)
                        log_warning_errno(r, "Job %s: its reaper did not hand its fds back", j->id);
                else {
                        (void) manager_fdstore_add(m, ctl_fd, "ctl", j);
                        (void) manager_fdstore_add(m, out_fd, "out", j);
                        (void) manager_fdstore_add(m, err_fd, "err", j);
                        log_info("Job %s: its reaper handed back its output and control socket.", j->id);
                }
        }

        if (asprintf(&spool, "%s/%s.out", m->spool_dir, j->id) < 0)
                spool = NULL;
        if (spool) {
                /* The store dups them for itself; systemd keeps our copies until the stream is complete. A job
                 * started by a daemon from before the streams were kept apart has no "err": its one pipe is
                 * captured as stdout. */
                int copies[_OUTPUT_STREAM_MAX] = {
                        -EBADF,
                        out_fd >= 0 ? fcntl(out_fd, F_DUPFD_CLOEXEC, 3) : -EBADF,
                        err_fd >= 0 ? fcntl(err_fd, F_DUPFD_CLOEXEC, 3) : -EBADF,
                };
                r = output_store_open_streams(m->event, spool, copies, m->config->output_max_bytes, &j->output);
                if (r < 0)
                        log_warning_errno(r, "Job %s: cannot reopen its output %s", j->id, spool);
                else    /* capture stopped at that failure: what the job writes now is dropped, never spooled after a gap */
                        output_store_set_error(j->output, j->output_error_before);
        }
        safe_close(out_fd);
        safe_close(err_fd);

        if (!j->go_sent) {
                safe_close(ctl_fd);
                safe_close(pidfd);
                log_notice("Job %s: the daemon restarted before the job was released; it never ran.", j->id);
                j->control_fd = -EBADF;
                job_start_failed(j, TW_ERROR_START_FAILED, "the daemon restarted before the job started");
                return;
        }

        if (ctl_fd < 0) {
                safe_close(pidfd);
                /* The socket hung up while we were away: the reaper is gone and its report with it. */
                log_warning("Job %s: its reaper went away while the daemon was down; the exit status is lost.",
                            j->id);
                j->state = JOB_RUNNING;
                job_set_end(j, JOB_FAILED, JOB_REASON_SIGNAL, -1, SIGKILL);
                return;
        }
        j->control_fd = ctl_fd;
        job_terminal_adopt(j, fds);
        if (j->state == JOB_SUBMITTED)
                j->state = JOB_RUNNING; /* GO was sent: the job runs (or ran) */
        r = job_watch_control(j);
        if (r >= 0)
                r = job_arm_runtime_timer(j);
        if (r >= 0 && pidfd >= 0)
                r = job_watch_reaper_pidfd(j, pidfd);
        else
                safe_close(pidfd);
        if (r < 0)
                log_warning_errno(r, "Job %s: cannot watch it after the restart", j->id);
        /* Keep the fds in systemd's store (they are still there: sd_listen_fds does not take them out). */
        log_info("Job %s: adopted after a daemon restart (%s, reaper %d).", j->id, job_state_to_string(j->state),
                 (int) j->reaper_pid);
}

static bool manager_runs_job(const char *id, void *userdata) {
        Job *j = hashmap_get(((Manager *) userdata)->jobs_by_id, id);

        return j && !j->discarded && !job_state_is_final(j->state);
}

int manager_load_jobs(Manager *m) {
        FdStore fds = {};
        Job **loaded = NULL;
        size_t n_loaded = 0;
        int r;

        /* Records first: if they cannot be read, fail before touching the fd store, whose fds are then still
         * there for the next start (the unit fails and is restarted; systemd keeps the store meanwhile). */
        r = manager_read_records(m, &loaded, &n_loaded);
        if (r < 0)
                return log_error_errno(r, "Cannot read the job records in %s", m->jobs_dir);

        r = fdstore_listen(&fds);
        if (r < 0) {
                /* Left open and in the store: the next start finds them again. */
                for (size_t i = 0; i < n_loaded; i++)
                        job_free(loaded[i]);
                free(loaded);
                return log_error_errno(r, "Cannot take the stored file descriptors");
        }

        for (size_t i = 0; i < n_loaded; i++) {
                Job *j = loaded[i];

                r = job_link(m, j);
                if (r < 0) {
                        /* Out of memory (duplicates were dropped above): fail the start as a whole, the records
                         * and the fd store stay for the next one. */
                        for (size_t k = i; k < n_loaded; k++)
                                job_free(loaded[k]);
                        free(loaded);
                        fdstore_done(&fds);
                        return log_error_errno(r, "Cannot load the job records");
                }
                if (job_state_is_final(j->state)) {
                        _cleanup_(freep) char *spool = NULL;
                        if (asprintf(&spool, "%s/%s.out", m->spool_dir, j->id) >= 0 &&
                            output_store_open(m->event, spool, -EBADF, m->config->output_max_bytes, &j->output) < 0)
                                log_warning("Job %s: its output %s is missing.", j->id, spool);
                } else
                        job_adopt(m, j, &fds);
        }
        free(loaded);

        /* Whatever no job claimed is stale: out of systemd's store and closed. */
        fdstore_drop_unclaimed(&fds);
        handover_release_strays(manager_runs_job, m);
        if (n_loaded > 0)
                log_info("Loaded %zu job records.", n_loaded);
        return 0;
}
