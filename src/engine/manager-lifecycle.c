/* SPDX-License-Identifier: MIT */
/* manager-lifecycle.c - Remove, Kill and a stop with its own grace (docs/dbus.md): a job's record and output
 * removed before retention would, a signal to a running job's main process through its reaper, a shorter
 * TimeoutStopUSec for one stop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/manager-internal.h"
#include "engine/reaper.h"
#include "shared/api.h"
#include "shared/job-ref.h"
#include "shared/log.h"

int manager_delete_job(Manager *m, Job *j, sd_bus_error *error) {
        _cleanup_(freep) char *spool = NULL;

        if (!job_state_is_final(j->state))
                return sd_bus_error_setf(error, TW_ERROR_JOB_RUNNING,
                                         "Job %s has not ended: stop it first (telerun rm -f stops it).", j->id);
        if (job_removable(j)) {
                manager_remove_job(m, j);
                return 0;
        }
        /* Ended, but its reaper (or a stop of its scope) is still finishing: the job is gone for callers now,
         * its record and output on disk too, and the table lets go of it once the reaper is gone (as for a
         * job refused after the fact). */
        job_remove_record(j);
        if (asprintf(&spool, "%s/%s.out", m->spool_dir, j->id) >= 0)
                (void) unlink(spool);
        j->discarded = true;
        manager_announce_removed(m, j);   /* its object is gone now, not when the table lets go */
        return 0;
}

int manager_kill_job(Manager *m, Job *j, int sig, sd_bus_error *error) {
        if (!job_signal_allowed(sig))
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Signal %d cannot be sent to a job: use HUP, INT, QUIT, KILL, USR1, "
                                         "USR2 or TERM.", sig);
        if (j->state != JOB_RUNNING)
                return sd_bus_error_setf(error, TW_ERROR_JOB_NOT_RUNNING, "Job %s is not running.", j->id);
        if (j->control_fd < 0 || reaper_send_kill(j->control_fd, sig) < 0)
                return sd_bus_error_setf(error, TW_ERROR_JOB_NOT_RUNNING,
                                         "Job %s cannot be signalled now (its reaper is not connected).", j->id);
        return 0;
}

/* A stop with its own grace period: StopUnit as always (SIGTERM now, SIGKILL after the configured grace), and
 * SIGKILL to the whole scope from our own timer once the shorter grace is over, what systemd would do at the
 * end of its own (systemd does not take a new TimeoutStopUSec for a scope that runs). The job is found again
 * by id when the timer fires: it may have ended or been removed meanwhile. */
typedef struct GraceKill {
        Manager *manager;
        char id[JOB_ID_STRING_MAX];
} GraceKill;

static void on_grace_kill_reply(SdCall *c, sd_bus_message *reply, const sd_bus_error *e, void *userdata) {
        /* The scope may be gone already: that is what the SIGKILL was for. */
        if (e)
                log_debug("SIGKILL at the end of a job's grace period failed: %s", e->message ?: e->name);
        sdcall_free(c);
}

static int on_grace_over(sd_event_source *s, uint64_t usec, void *userdata) {
        GraceKill *g = userdata;
        Job *j = manager_find_job(g->manager, g->id);
        SdCall *call = NULL;

        if (j && !job_state_is_final(j->state))
                (void) scope_kill(g->manager->scopes, j->unit, SIGKILL, on_grace_kill_reply, NULL, &call);
        return 0;
}

int manager_stop_job_grace(Manager *m, Job *j, uint64_t grace_usec, job_callback_t done, void *userdata) {
        _cleanup_(freep) GraceKill *g = NULL;
        sd_event_source *timer = NULL;
        int r;

        r = manager_stop_job(m, j, done, userdata);
        if (r < 0 || grace_usec >= m->config->stop_grace_usec || job_state_is_final(j->state))
                return r;
        /* From here the stop is under way: a timer that cannot be set leaves the configured grace. */
        g = new0(GraceKill, 1);
        if (!g)
                return 0;
        g->manager = m;
        memcpy(g->id, j->id, sizeof(g->id));
        r = sd_event_add_time_relative(m->event, &timer, CLOCK_MONOTONIC, grace_usec, 0, on_grace_over, g);
        if (r < 0) {
                log_debug("Job %s: no timer for its grace period: %s", j->id, strerror(-r));
                return 0;
        }
        /* The loop owns the timer, the timer its state: nothing is left behind if the daemon exits first. */
        (void) sd_event_source_set_destroy_callback(timer, free);
        (void) sd_event_source_set_floating(timer, true);
        sd_event_source_unref(timer);
        TAKE_PTR(g);
        return 0;
}

int manager_check_name(Manager *m, const Principal *p, const char *name, sd_bus_error *error) {
        if (!name)
                return 0;
        for (Job *j = manager_next_job(m, NULL); j; j = manager_next_job(m, j))
                if (j->name && streq(j->name, name) && streq(j->owner, p->name))
                        return sd_bus_error_setf(error, TW_ERROR_JOB_NAME_IN_USE,
                                                 "You have a job named '%s' already (%s): remove it first, or pick "
                                                 "another name.", name, j->id);
        return 0;
}
