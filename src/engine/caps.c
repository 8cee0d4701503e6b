/* SPDX-License-Identifier: MIT */
/* caps.c - what one principal may hold of what every principal shares: running and retained jobs, spool
 * bytes, open output readers; and the reserve of each that only administrators can use (docs/design.md,
 * "Caps").
 *
 * Counting. Jobs and spool bytes are counted by walking the table at each Start (10,000 jobs at most: a few
 * microseconds, and nothing to keep in step). Readers come and go without the manager (a client closes its
 * fd, a snapshot reaches its end), so they are counted as they go by the output store: each reader is
 * charged to its principal's OutputCharge, whose parent is the users' or the administrators' total. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "engine/errors.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "engine/manager-internal.h"

/* The share of each shared resource that only administrators can use: 1/16 of it, at least 1. */
#define CAPS_ADMIN_RESERVE(n) MAX((n) / 16, 1u)
/* RLIMIT_NOFILE of an unlimited process, for the arithmetic */
#define CAPS_NOFILE_MAX 2000000u
/* fds of every job in the table (its spool and its stream index), of a running job beyond those (its stdout
 * and stderr pipes, the reaper's socket and pidfd: 4 measured, and /dev/null while dropping), and of the daemon
 * besides jobs and readers (13 measured: bus, event loop...) */
#define CAPS_FDS_PER_JOB 2u
#define CAPS_FDS_PER_RUNNING_JOB 5u
#define CAPS_FDS_BASE 32u

struct PrincipalReaders {
        OutputCharge charge;    /* first: release() gets it back as the whole */
        Manager *manager;
        PrincipalReaders *prev, *next;
        bool admin;
        char name[];
};

typedef struct PrincipalUsage {
        unsigned running, retained;
        uint64_t spool;
} PrincipalUsage;

/* Read at each check, not once: an operator may change it at run time (prlimit --nofile). */
static unsigned manager_nofile(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 1024;
        return (unsigned) MIN(rl.rlim_cur, (rlim_t) CAPS_NOFILE_MAX);
}

/* Every reader together: half of RLIMIT_NOFILE (each holds an fd here; jobs and the rest need the other
 * half). */
static unsigned manager_readers_max(void) {
        return manager_nofile() / 2;
}

/* What the daemon holds in fds, estimated from what it counts: a pipe per reader, a spool per job in the
 * table, a few more per running job, and the rest of the process (bus, event loop, fd store...). */
static unsigned manager_fds_estimate(Manager *m) {
        unsigned running = 0;

        for (Job *j = m->jobs_head; j; j = j->next)
                running += !job_state_is_final(j->state);
        return CAPS_FDS_BASE + m->readers_users.n_readers + m->readers_admins.n_readers +
               m->n_jobs * CAPS_FDS_PER_JOB + running * CAPS_FDS_PER_RUNNING_JOB;
}

/* Whether a non-administrator may take more fds (one more job or reader): the last 1/16 of RLIMIT_NOFILE
 * stays for administrators, whatever mix of jobs and readers users hold. */
static bool manager_fds_left_for_users(Manager *m, unsigned more) {
        unsigned nofile = manager_nofile();

        return manager_fds_estimate(m) + more < nofile - CAPS_ADMIN_RESERVE(nofile);
}

/* What every non-administrator together may open: the policy's max_readers (0 = all it can), never more than
 * the budget minus the administrators' reserve. */
static unsigned manager_readers_users_max(Manager *m) {
        unsigned all = manager_readers_max(), users = all - MIN(CAPS_ADMIN_RESERVE(all), all);

        return m->config->max_readers > 0 ? MIN(m->config->max_readers, users) : users;
}

/* Jobs in the table that non-administrators may fill; the rest is kept for administrators. */
static unsigned manager_jobs_users_max(Manager *m) {
        unsigned n = m->config->max_jobs;

        return n - MIN(CAPS_ADMIN_RESERVE(n), n - 1);
}

static uint64_t job_spool_bytes(Job *j) {
        return j->output ? output_store_disk_size(j->output) : 0;
}

static uint64_t manager_spool_bytes(Manager *m) {
        uint64_t n = 0;

        for (Job *j = m->jobs_head; j; j = j->next)
                n += job_spool_bytes(j);
        return n;
}

/* Over the global spool cap, the oldest ended jobs go first, whole (record and output), as when the table is
 * full. Running jobs never go: their output is bounded by output_max_bytes each. */
void manager_evict_spool(Manager *m) {
        uint64_t total = manager_spool_bytes(m);

        for (Job *j = m->jobs_head, *next; j && total > m->config->spool_max_bytes; j = next) {
                next = j->next;
                if (!job_removable(j))
                        continue;
                total -= job_spool_bytes(j);
                log_debug("Job %s removed: the spool holds more than spool_max_bytes, oldest ended jobs go first.",
                          j->id);
                manager_remove_job(m, j);
        }
}

static int on_spool_check(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_evict_spool(userdata);
        return 0;
}

void manager_schedule_spool_check(Manager *m) {
        int r;

        if (!m->spool_check) {
                r = sd_event_add_time_relative(m->event, &m->spool_check, CLOCK_MONOTONIC, 0, 0, on_spool_check, m);
                if (r < 0)
                        return;         /* the next Start and the hourly check still apply it */
                (void) sd_event_source_set_description(m->spool_check, "spool-check");
                return;
        }
        (void) sd_event_source_set_time_relative(m->spool_check, 0);
        (void) sd_event_source_set_enabled(m->spool_check, SD_EVENT_ONESHOT);
}

/* Removes the oldest ended jobs (owner's only, or anyone's with owner NULL) while over() says so; forget()
 * takes each one out of the caller's counts before it goes, so the whole walk is linear. */
static void manager_evict_oldest(Manager *m, const char *owner, bool (*over)(Manager *m, void *userdata),
                                 void (*forget)(Job *j, void *userdata), void *userdata) {
        for (Job *j = m->jobs_head, *next; j && over(m, userdata); j = next) {
                next = j->next;
                if (!job_removable(j) || (owner && !streq(j->owner, owner)))
                        continue;
                forget(j, userdata);
                manager_remove_job(m, j);
        }
}

static void manager_principal_usage(Manager *m, const char *owner, PrincipalUsage *ret) {
        *ret = (PrincipalUsage) {};
        for (Job *j = m->jobs_head; j; j = j->next) {
                if (!streq(j->owner, owner))
                        continue;
                ret->retained++;
                ret->running += !job_state_is_final(j->state);
                ret->spool += job_spool_bytes(j);
        }
}

typedef struct OwnerCaps {
        const PrincipalPolicy *policy;
        PrincipalUsage usage;
} OwnerCaps;

static bool owner_over(Manager *m, void *userdata) {
        OwnerCaps *c = userdata;

        return c->usage.retained >= c->policy->max_retained_jobs || c->usage.spool >= c->policy->max_spool_bytes;
}

static void owner_forget(Job *j, void *userdata) {
        OwnerCaps *c = userdata;

        c->usage.retained--;
        c->usage.spool -= job_spool_bytes(j);
}

static bool table_over(Manager *m, void *userdata) {
        return m->n_jobs >= *(unsigned *) userdata;
}

static void table_forget(Job *j, void *userdata) {
}

static bool spool_over(Manager *m, void *userdata) {
        return *(uint64_t *) userdata >= m->config->spool_max_bytes;
}

static void spool_forget(Job *j, void *userdata) {
        *(uint64_t *) userdata -= job_spool_bytes(j);
}

/* Before a Start: makes room by removing ended jobs (the principal's own for its shares, anyone's for the
 * table and the spool), then refuses if there is still none. Administrators are held to the whole table only,
 * so they can always start a job whatever users hold. */
int manager_check_caps(Manager *m, const Principal *p, const PrincipalPolicy *policy, sd_bus_error *error) {
        unsigned table = p->admin ? m->config->max_jobs : manager_jobs_users_max(m);
        OwnerCaps own = { .policy = policy };
        uint64_t spool;

        if (!p->admin) {
                manager_principal_usage(m, p->name, &own.usage);
                if (own.usage.running >= policy->max_jobs)
                        return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_JOBS,
                                                 "'%s' already runs %u jobs, the most the policy allows "
                                                 "(max_jobs).", p->name, own.usage.running);
                manager_evict_oldest(m, p->name, owner_over, owner_forget, &own);
                if (own.usage.retained >= policy->max_retained_jobs)
                        return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_JOBS,
                                                 "'%s' holds %u jobs that have not ended, the most the policy "
                                                 "allows (max_retained_jobs).", p->name, own.usage.retained);
                if (own.usage.spool >= policy->max_spool_bytes)
                        return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                                 "The running jobs of '%s' hold %" PRIu64 " bytes of output and "
                                                 "index, the most the policy allows (max_spool_bytes).", p->name,
                                                 own.usage.spool);
        }

        manager_evict_oldest(m, NULL, table_over, table_forget, &table);
        if (m->n_jobs >= table)
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_JOBS,
                                         "The job table is full (%u jobs, none ended yet%s).", m->n_jobs,
                                         p->admin ? "" : "; the rest is kept for administrators");
        if (!p->admin && !manager_fds_left_for_users(m, 1 + CAPS_FDS_PER_RUNNING_JOB))
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_JOBS,
                                         "The daemon holds about %u of its %u file descriptors in jobs and output "
                                         "readers; the rest is kept for administrators.",
                                         manager_fds_estimate(m), manager_nofile());
        spool = manager_spool_bytes(m);
        manager_evict_oldest(m, NULL, spool_over, spool_forget, &spool);
        if (!p->admin && spool >= m->config->spool_max_bytes)
                return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                         "The spool is full: running jobs hold %" PRIu64 " bytes of output and "
                                         "index (spool_max_bytes).", spool);
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Readers */

static void principal_readers_release(OutputCharge *c) {
        PrincipalReaders *pr = (PrincipalReaders *) c;
        Manager *m = pr->manager;

        if (pr->prev)
                pr->prev->next = pr->next;
        else
                m->readers = pr->next;
        if (pr->next)
                pr->next->prev = pr->prev;
        free(pr);
}

static PrincipalReaders *manager_find_readers(Manager *m, const char *name, bool admin) {
        for (PrincipalReaders *pr = m->readers; pr; pr = pr->next)
                if (pr->admin == admin && streq(pr->name, name))
                        return pr;
        return NULL;
}

static PrincipalReaders *manager_get_readers(Manager *m, const char *name, bool admin) {
        PrincipalReaders *pr = manager_find_readers(m, name, admin);
        size_t n = strlen(name);

        if (pr)
                return pr;
        pr = malloc(sizeof(*pr) + n + 1);
        if (!pr)
                return NULL;
        *pr = (PrincipalReaders) {
                .charge = {
                        .parent = admin ? &m->readers_admins : &m->readers_users,
                        .release = principal_readers_release,
                },
                .manager = m,
                .next = m->readers,
                .admin = admin,
        };
        memcpy(pr->name, name, n + 1);
        if (m->readers)
                m->readers->prev = pr;
        m->readers = pr;
        return pr;
}

int manager_check_readers(Manager *m, const Principal *p, sd_bus_error *error) {
        unsigned total = m->readers_users.n_readers + m->readers_admins.n_readers;
        PrincipalReaders *pr;
        PrincipalPolicy policy;

        if (total >= manager_readers_max())
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_READERS,
                                         "The daemon has %u output readers open, the most it can hold.", total);
        if (p->admin)
                return 0;

        config_principal_policy(m->config, p->name, &policy);
        pr = manager_find_readers(m, p->name, false);
        if (pr && pr->charge.n_readers >= policy.max_readers)
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_READERS,
                                         "'%s' has %u output readers open, the most the policy allows "
                                         "(max_readers); close one first.", p->name, pr->charge.n_readers);
        if (m->readers_users.n_readers >= manager_readers_users_max(m))
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_READERS,
                                         "Users have %u output readers open together, the most the daemon "
                                         "allows them; the rest is kept for administrators.",
                                         m->readers_users.n_readers);
        if (!manager_fds_left_for_users(m, 1))
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_READERS,
                                         "The daemon holds about %u of its %u file descriptors in jobs and output "
                                         "readers; the rest is kept for administrators.",
                                         manager_fds_estimate(m), manager_nofile());
        return 0;
}

int manager_open_output(Manager *m, const Principal *p, Job *j, uint64_t offset, bool follow, int *ret_fd,
                        sd_bus_error *error) {
        OutputReaderOptions o = { .offset = offset, .end = UINT64_MAX, .follow = follow, .select = OUTPUT_SELECT_BOTH };

        return manager_open_output_ex(m, p, j, &o, ret_fd, error);
}

int manager_open_output_ex(Manager *m, const Principal *p, Job *j, const OutputReaderOptions *o, int *ret_fd,
                           sd_bus_error *error) {
        PrincipalReaders *pr;
        int r;

        if (!j->output)
                return sd_bus_error_setf(error, TW_ERROR_NO_OUTPUT, "Job %s has no output.", j->id);
        if (o->offset > output_store_size(j->output))
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Offset %" PRIu64 " is past the end of the output (%" PRIu64 " bytes).",
                                         o->offset, output_store_size(j->output));
        r = manager_check_readers(m, p, error);
        if (r < 0)
                return r;

        pr = manager_get_readers(m, p->name, p->admin);
        if (!pr)
                return -ENOMEM;
        r = output_store_open_reader_ex(j->output, o, &pr->charge, ret_fd);
        if (pr->charge.n_readers == 0)  /* nothing was charged (EOF at once, or a failure) */
                principal_readers_release(&pr->charge);
        if (r == -ENODATA)
                return sd_bus_error_setf(error, TW_ERROR_NO_OUTPUT,
                                         "The output of job %s has no stream index: only the merged stream can be read.",
                                         j->id);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to open the output of job %s: %m", j->id);
        return 0;
}
