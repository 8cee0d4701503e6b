/* SPDX-License-Identifier: MIT */
/* persist.c - nothing lost across a restart or crash of teleworkerd.
 *
 * Each job has a record, <state>/jobs/<id>.json, rewritten (to a temporary file, then renamed) on every
 * state change; never fsync()ed on the event loop: a restart of the daemon is not a crash of the kernel,
 * and the page cache survives the former. The two fds the daemon reads a running job through — the read
 * end of its output pipe and its end of the reaper's control socket — are also handed to systemd's file
 * descriptor store (FDSTORE=1, FDNAME=out-<hex> / ctl-<hex>). While the daemon is down the job keeps
 * writing into the pipe and blocks when it is full (nothing is lost, nothing is buffered without bound),
 * and the reaper's exit report waits in the socket. The reaper keeps a write end of the pipe until it is
 * released, so systemd never sees the pipe hang up (and drop it) while bytes are still in it. On start,
 * the records are read back, the fds come back through sd_listen_fds_with_names(), and each running job
 * is adopted: its spool is reopened at its end, its control socket watched, its reaper watched through a
 * pidfd (it is no longer our child). systemd drops the store on `systemctl stop`; then the fds come from
 * the reaper itself, which kept copies and waits on EXEC_HANDOVER_DIR/<id>.sock (job_adopt). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "errors.h"
#include "job-record.h"
#include "exec-protocol.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"

static int fdname(char *buf, size_t n, const char *kind, const Job *j) {
        char hex[JOB_ID_HEX_MAX];
        int r = job_id_to_hex(j->id, hex);

        if (r < 0)
                return r;
        snprintf(buf, n, "%s-%s", kind, hex);
        return 0;
}

int manager_fdstore_add(Manager *m, int fd, const char *kind, const Job *j) {
        char name[64], msg[128];

        if (!m->fdstore || fd < 0 || fdname(name, sizeof(name), kind, j) < 0)
                return 0;
        snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
        return sd_pid_notify_with_fds(0, false, msg, &fd, 1);
}

void manager_fdstore_remove(Manager *m, const char *kind, const Job *j) {
        char name[64], msg[128];

        if (!m->fdstore || fdname(name, sizeof(name), kind, j) < 0)
                return;
        snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
        (void) sd_pid_notify(0, false, msg);
}

static char *job_record_path(const Job *j) {
        char *p;

        return asprintf(&p, "%s/%s" JOB_RECORD_SUFFIX, j->manager->jobs_dir, j->id) < 0 ? NULL : p;
}

void job_remove_record(Job *j) {
        _cleanup_(freep) char *p = job_record_path(j);

        if (p)
                (void) unlink(p);
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
                .isolation = j->isolation,
        };
        memcpy(r->id, j->id, sizeof(r->id));
}

int job_save(Job *j) {
        _cleanup_(freep) char *text = NULL, *path = NULL, *tmp = NULL;
        JobRecord rec;
        int fd, r;

        job_to_record(j, &rec);
        r = job_record_to_json(&rec, &text);
        if (r < 0)
                return r;
        path = job_record_path(j);
        if (!path || asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return log_warning_errno(-errno, "Failed to write the record of job %s", j->id);
        r = loop_write(fd, text, strlen(text));
        safe_close(fd);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return log_warning_errno(r, "Failed to write the record of job %s", j->id);
        }
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Loading */

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
        *ret = j;
        return 0;
}

/* Reads and parses one record file (at most JOB_RECORD_MAX bytes). */
static int read_record(const char *path, JobRecord *ret) {
        _cleanup_(freep) char *text = NULL;
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        text = malloc(JOB_RECORD_MAX + 1);
        if (!text) {
                safe_close(fd);
                return -ENOMEM;
        }
        n = read(fd, text, JOB_RECORD_MAX + 1);
        safe_close(fd);
        if (n < 0)
                return -errno;
        return job_record_from_json(text, (size_t) n, ret);
}

typedef struct StoredFds {
        int *fds;
        char **names;
        int n;
} StoredFds;

/* Frees the table, leaving whatever fds it still holds open: in systemd's store, for the next start. */
static void stored_fds_done(StoredFds *s) {
        for (int i = 0; s->names && i < s->n; i++)
                free(s->names[i]);
        s->names = mfree(s->names);
        s->fds = mfree(s->fds);
        s->n = 0;
}

static int stored_fd_take(StoredFds *s, const char *kind, const Job *j) {
        char name[64];

        if (fdname(name, sizeof(name), kind, j) < 0)
                return -EBADF;
        for (int i = 0; i < s->n; i++)
                if (s->fds[i] >= 0 && s->names[i] && streq(s->names[i], name))
                        return TAKE_FD(s->fds[i]);
        return -EBADF;
}

/* systemd drops its fd store on `systemctl stop`: the reaper of each running job then waits on
 * EXEC_HANDOVER_DIR/<id>.sock with copies of both fds (exec-protocol.h). Only that reaper may answer: the
 * peer must be root and the reaper's PID (checked through a pidfd held on it). Bounded: the reaper
 * answers at once; a second at most for one that is only just noticing it lost us. */
static int reaper_reclaim_fds(const char *id, pid_t reaper_pid, unsigned tries, int *ret_ctl, int *ret_out) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control = {};
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = 1 };
        ExecMessage msg = {};
        struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct cmsghdr *c;
        _cleanup_(closep) int fd = -EBADF;
        int fds[2];
        ssize_t n;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", EXEC_HANDOVER_DIR, id);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (int i = 0; connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0; i++) {
                if ((unsigned) i + 1 >= tries || (errno != ENOENT && errno != ECONNREFUSED))
                        return -errno;
                (void) usleep(20 * 1000);
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        if (cred.uid != 0 || (reaper_pid > 0 && cred.pid != reaper_pid))
                return -EPERM;
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(fds)))
                return -EBADMSG;
        memcpy(fds, CMSG_DATA(c), sizeof(fds));
        if (n != (ssize_t) sizeof(msg) || msg.type != EXEC_MSG_HANDOVER) {
                safe_close(fds[0]);
                safe_close(fds[1]);
                return -EBADMSG;
        }
        *ret_ctl = fds[0];
        *ret_out = fds[1];
        return 0;
}

/* Reapers waiting for a daemon that has no running job for them (its record is gone, or it was refused
 * and discarded just before a stop): release them, so they end with their job instead of waiting. */
static void manager_release_stray_reapers(Manager *m) {
        DIR *d = opendir(EXEC_HANDOVER_DIR);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                char id[JOB_ID_STRING_MAX], path[sizeof(EXEC_HANDOVER_DIR) + 64];
                ExecMessage release = { .type = EXEC_MSG_RELEASE };
                size_t len = strlen(de->d_name);
                int ctl = -EBADF, out = -EBADF;
                Job *j;

                if (len != JOB_ID_STRING_MAX - 1 + strlen(".sock") || !streq(de->d_name + JOB_ID_STRING_MAX - 1, ".sock"))
                        continue;
                memcpy(id, de->d_name, JOB_ID_STRING_MAX - 1);
                id[JOB_ID_STRING_MAX - 1] = 0;
                j = manager_find_job(m, id);
                if (!job_id_is_valid(id) || (j && !job_state_is_final(j->state)))
                        continue;
                if (reaper_reclaim_fds(id, 0, 1, &ctl, &out) < 0) {
                        /* Nobody listens: a socket file left by a reaper that is gone. */
                        snprintf(path, sizeof(path), "%s/%s", EXEC_HANDOVER_DIR, de->d_name);
                        (void) unlink(path);
                        continue;
                }
                (void) send(ctl, &release, sizeof(release), MSG_NOSIGNAL | MSG_DONTWAIT);
                (void) shutdown(ctl, SHUT_RDWR);
                safe_close(ctl);
                safe_close(out);
                log_info("Released the reaper of job %s, which this daemon does not run.", id);
        }
        if (d)
                (void) closedir(d);
}

/* Puts a job that was running when the daemon went away back under watch. */
static void job_adopt(Manager *m, Job *j, StoredFds *fds) {
        _cleanup_(freep) char *spool = NULL;
        int out_fd = stored_fd_take(fds, "out", j), ctl_fd = stored_fd_take(fds, "ctl", j), pidfd = -EBADF, r;

        if (j->go_sent && j->reaper_pid > 0) {
                pidfd = (int) syscall(SYS_pidfd_open, j->reaper_pid, 0);
                /* The PID may have been reused: it is our reaper only if it is in the job's scope. */
                if (pidfd >= 0 && cgroup_paths_from_pid(j->reaper_pid, j->unit, &j->cgroup) >= 0 &&
                    !j->cgroup.unified && !j->cgroup.memory && !j->cgroup.cpuacct && !j->cgroup.blkio)
                        pidfd = safe_close(pidfd);
        }
        if (ctl_fd < 0 && out_fd < 0 && pidfd >= 0) {
                /* Not in systemd's store (a stop, not a restart): the reaper kept them for us. */
                r = reaper_reclaim_fds(j->id, j->reaper_pid, 50, &ctl_fd, &out_fd);
                if (r < 0)
                        log_warning_errno(r, "Job %s: its reaper did not hand its fds back", j->id);
                else {
                        (void) manager_fdstore_add(m, ctl_fd, "ctl", j);
                        (void) manager_fdstore_add(m, out_fd, "out", j);
                        log_info("Job %s: its reaper handed back its output and control socket.", j->id);
                }
        }

        if (asprintf(&spool, "%s/%s.out", m->spool_dir, j->id) < 0)
                spool = NULL;
        if (spool) {
                /* The store dups it for itself; systemd keeps our copy until the stream is complete. */
                int copy = out_fd >= 0 ? fcntl(out_fd, F_DUPFD_CLOEXEC, 3) : -EBADF;
                r = output_store_open(m->event, spool, copy, m->config->output_max_bytes, &j->output);
                if (r < 0)
                        log_warning_errno(r, "Job %s: cannot reopen its output %s", j->id, spool);
                else    /* capture stopped at that failure: what the job writes now is dropped, never spooled after a gap */
                        output_store_set_error(j->output, j->output_error_before);
        }
        safe_close(out_fd);

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

static int record_compare(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int job_compare_id(const void *a, const void *b) {
        return strcmp((*(Job *const *) a)->id, (*(Job *const *) b)->id);
}

static int job_compare_submitted(const void *a, const void *b) {
        const Job *x = *(Job *const *) a, *y = *(Job *const *) b;

        if (x->submitted_at != y->submitted_at)
                return x->submitted_at < y->submitted_at ? -1 : 1;
        return strcmp(x->id, y->id);
}

static void jobs_free_array(Job **jobs, size_t n) {
        for (size_t i = 0; i < n; i++)
                job_free(jobs[i]);
        free(jobs);
}

/* Drops every job whose id another loaded record (or a job already in the table) has: a record copied by
 * hand, say. The first record in file name order wins; the others stay on disk for the operator. */
static size_t jobs_drop_duplicates(Manager *m, Job **jobs, size_t n) {
        size_t kept = 0;

        qsort(jobs, n, sizeof(Job *), job_compare_id);
        for (size_t i = 0; i < n; i++) {
                if ((kept > 0 && streq(jobs[kept - 1]->id, jobs[i]->id)) || manager_find_job(m, jobs[i]->id)) {
                        log_warning("Ignoring a second job record for job %s.", jobs[i]->id);
                        job_free(jobs[i]);
                        continue;
                }
                jobs[kept++] = jobs[i];
        }
        return kept;
}

/* Reads every record under jobs_dir. A record that cannot be read or parsed is moved aside; running out of
 * memory fails the whole load, so that nothing is taken for stale that was only not read. */
int manager_read_records(Manager *m, Job ***ret, size_t *ret_n) {
        struct dirent **entries = NULL;
        Job **loaded = NULL;
        size_t n_loaded = 0;
        int n, r = 0;

        n = scandir(m->jobs_dir, &entries, NULL, record_compare);
        if (n < 0)
                return errno == ENOENT ? (*ret = NULL, *ret_n = 0, 0) : -errno;
        loaded = new0(Job *, (size_t) n + 1);
        if (!loaded)
                r = -ENOMEM;
        for (int i = 0; r >= 0 && i < n; i++) {
                const char *name = entries[i]->d_name;
                _cleanup_(freep) char *path = NULL;
                JobRecord rec;
                size_t len = strlen(name);
                Job *j = NULL;

                if (len <= strlen(JOB_RECORD_SUFFIX) || !streq(name + len - strlen(JOB_RECORD_SUFFIX), JOB_RECORD_SUFFIX))
                        continue;
                if (asprintf(&path, "%s/%s", m->jobs_dir, name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = read_record(path, &rec);
                if (r >= 0) {
                        r = job_from_record(m, &rec, &j);
                        job_record_done(&rec);
                }
                if (r == -ENOMEM)
                        break;
                if (r < 0) {
                        _cleanup_(freep) char *bad = NULL;
                        log_warning_errno(r, "Ignoring the job record %s (moved aside as .corrupt)", path);
                        if (asprintf(&bad, "%s.corrupt", path) >= 0)
                                (void) rename(path, bad);
                        r = 0;
                        continue;
                }
                loaded[n_loaded++] = j;
        }
        for (int i = 0; i < n; i++)
                free(entries[i]);
        free(entries);
        if (r < 0) {
                jobs_free_array(loaded, n_loaded);
                return r;
        }

        n_loaded = jobs_drop_duplicates(m, loaded, n_loaded);
        /* Submission order, as before the restart. */
        qsort(loaded, n_loaded, sizeof(Job *), job_compare_submitted);
        *ret = loaded;
        *ret_n = n_loaded;
        return 0;
}

int manager_load_jobs(Manager *m) {
        StoredFds fds = {};
        Job **loaded = NULL;
        size_t n_loaded = 0;
        int r;

        /* Records first: if they cannot be read, fail before touching the fd store, whose fds are then still
         * there for the next start (the unit fails and is restarted; systemd keeps the store meanwhile). */
        r = manager_read_records(m, &loaded, &n_loaded);
        if (r < 0)
                return log_error_errno(r, "Cannot read the job records in %s", m->jobs_dir);

        fds.n = sd_listen_fds_with_names(true, &fds.names);
        if (fds.n < 0) {
                log_warning_errno(fds.n, "Cannot read the stored file descriptors");
                fds.n = 0;
        }
        if (fds.n > 0) {
                fds.fds = new0(int, fds.n);
                if (!fds.fds) {
                        /* Leave them open and in the store: the next start finds them again. */
                        jobs_free_array(loaded, n_loaded);
                        return log_error_errno(-ENOMEM, "Cannot take the stored file descriptors");
                }
                for (int i = 0; i < fds.n; i++) {
                        fds.fds[i] = SD_LISTEN_FDS_START + i;
                        (void) fcntl(fds.fds[i], F_SETFD, FD_CLOEXEC);
                }
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
                        stored_fds_done(&fds);
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
        for (int i = 0; i < fds.n; i++) {
                if (fds.fds[i] >= 0) {
                        char msg[300];
                        snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", fds.names && fds.names[i] ? fds.names[i] : "");
                        if (fds.names && fds.names[i])
                                (void) sd_pid_notify(0, false, msg);
                        safe_close(fds.fds[i]);
                }
                if (fds.names)
                        free(fds.names[i]);
        }
        free(fds.names);
        free(fds.fds);
        manager_release_stray_reapers(m);
        if (n_loaded > 0)
                log_info("Loaded %zu job records.", n_loaded);
        return 0;
}
