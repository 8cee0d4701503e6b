/* SPDX-License-Identifier: MIT */
/* manager-lifecycle.c - Remove and Kill (docs/dbus.md): a job's record and output removed before retention
 * would, and a signal to a running job's main process through its reaper. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/manager-internal.h"
#include "engine/reaper.h"
#include "shared/api.h"
#include "shared/job-ref.h"

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
