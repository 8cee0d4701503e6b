/* SPDX-License-Identifier: MIT */
/* job-journal.c - a job's start and end as journal entries, and the daemon's STATUS= (job-journal.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>

#include "engine/job-journal.h"
#include "engine/manager-internal.h"
#include "shared/log.h"

#define STATUS_INTERVAL_USEC USEC_PER_SEC

void job_journal_format_command(char *const *argv, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = 0;
        for (char *const *a = argv; a && *a; a++) {
                _cleanup_(freep) char *e = str_escape(*a, size);
                bool quote = !**a || strpbrk(*a, " \t'\"$\\") != NULL;
                int n;

                if (!e)
                        break;
                n = snprintf(buf + used, size - used, "%s%s%s%s", used ? " " : "", quote ? "'" : "", e,
                             quote ? "'" : "");
                if (n < 0 || (size_t) n >= size - used) {
                        /* Cut: end on "..." so a reader sees the line is not whole. */
                        memcpy(buf + size - 4, "...", 4);
                        return;
                }
                used += (size_t) n;
        }
}

static void usage_field(char *buf, size_t size, const char *name, uint64_t v) {
        if (v == JOB_USAGE_UNAVAILABLE)
                (void) snprintf(buf, size, "%s=", name);
        else
                (void) snprintf(buf, size, "%s=%" PRIu64, name, v);
}

/* The fields both entries share: what `journalctl -u teleworker-<id>.scope` and TELEWORKER_JOB_ID= match. */
static void job_journal_log(Job *j, const char *message_id, bool ended) {
        char command[JOB_JOURNAL_COMMAND_MAX + 32], f_id[64], f_unit[300], f_owner[300], f_user[300],
                f_state[64], f_reason[64], f_exit[64], f_signal[64], f_cpu[64], f_mem[64], f_ior[64], f_iow[64],
                f_profile[300], f_msgid[64], cmd[JOB_JOURNAL_COMMAND_MAX];
        char *fields[LOG_FIELDS_MAX];
        size_t n = 0;
        JobUsage u;

        job_journal_format_command(j->argv, cmd, sizeof(cmd));
        (void) snprintf(f_msgid, sizeof(f_msgid), "MESSAGE_ID=%s", message_id);
        (void) snprintf(f_id, sizeof(f_id), "TELEWORKER_JOB_ID=%s", j->id);
        (void) snprintf(f_unit, sizeof(f_unit), "OBJECT_SYSTEMD_UNIT=%s", j->unit);
        (void) snprintf(f_owner, sizeof(f_owner), "TELEWORKER_OWNER=%s", j->owner);
        (void) snprintf(f_user, sizeof(f_user), "TELEWORKER_ACCOUNT=%s", j->user);
        (void) snprintf(f_profile, sizeof(f_profile), "TELEWORKER_PROFILE=%s", j->profile ? j->profile : "");
        (void) snprintf(command, sizeof(command), "TELEWORKER_COMMAND=%s", cmd);
        (void) snprintf(f_state, sizeof(f_state), "TELEWORKER_STATE=%s", job_state_to_string(j->state));
        fields[n++] = f_msgid;
        fields[n++] = f_id;
        fields[n++] = f_unit;
        fields[n++] = f_owner;
        fields[n++] = f_user;
        fields[n++] = f_profile;
        fields[n++] = command;
        fields[n++] = f_state;
        if (ended) {
                job_usage(j, &u);
                (void) snprintf(f_reason, sizeof(f_reason), "TELEWORKER_REASON=%s", job_reason_to_string(j->reason));
                (void) snprintf(f_exit, sizeof(f_exit), "TELEWORKER_EXIT_CODE=%d", j->exit_code);
                (void) snprintf(f_signal, sizeof(f_signal), "TELEWORKER_EXIT_SIGNAL=%d", j->exit_signal);
                usage_field(f_cpu, sizeof(f_cpu), "TELEWORKER_CPU_USAGE_NSEC", u.cpu_usage_nsec);
                usage_field(f_mem, sizeof(f_mem), "TELEWORKER_MEMORY_PEAK", u.memory_peak);
                usage_field(f_ior, sizeof(f_ior), "TELEWORKER_IO_READ_BYTES", u.io_read_bytes);
                usage_field(f_iow, sizeof(f_iow), "TELEWORKER_IO_WRITE_BYTES", u.io_write_bytes);
                fields[n++] = f_reason;
                fields[n++] = f_exit;
                fields[n++] = f_signal;
                fields[n++] = f_cpu;
                fields[n++] = f_mem;
                fields[n++] = f_ior;
                fields[n++] = f_iow;
        }
        fields[n] = NULL;

        if (!ended)
                log_struct(LOG_INFO, fields, "Job %s of %s started as %s: %s", j->id, j->owner, j->user, cmd);
        else if (j->state == JOB_SUCCESS)
                log_struct(LOG_INFO, fields, "Job %s of %s succeeded.", j->id, j->owner);
        else if (j->reason == JOB_REASON_EXITED)
                log_struct(LOG_NOTICE, fields, "Job %s of %s failed: exit code %d.", j->id, j->owner, j->exit_code);
        else if (j->exit_signal > 0)
                log_struct(LOG_NOTICE, fields, "Job %s of %s %s (%s): signal %s.", j->id, j->owner,
                           job_state_to_string(j->state), job_reason_to_string(j->reason), sigabbrev_np(j->exit_signal) ?: "?");
        else
                log_struct(LOG_NOTICE, fields, "Job %s of %s %s (%s).", j->id, j->owner, job_state_to_string(j->state),
                           job_reason_to_string(j->reason));
}

void job_journal_started(Job *j) {
        job_journal_log(j, JOB_JOURNAL_MESSAGE_STARTED, false);
}

void job_journal_ended(Job *j) {
        job_journal_log(j, JOB_JOURNAL_MESSAGE_ENDED, true);
}

void manager_status_notify(Manager *m, const char *extra) {
        unsigned running = 0, kept = 0;
        char status[64], msg[128];

        for (Job *j = manager_next_job(m, NULL); j; j = manager_next_job(m, j))
                if (job_state_is_final(j->state))
                        kept++;
                else
                        running++;
        (void) snprintf(status, sizeof(status), "STATUS=%u running, %u kept", running, kept);
        if (!extra && streq(status, m->status_last))
                return;
        (void) snprintf(msg, sizeof(msg), "%s%s%s", extra ?: "", extra ? "\n" : "", status);
        (void) sd_notify(false, msg);
        (void) snprintf(m->status_last, sizeof(m->status_last), "%s", status);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_status_notify(userdata, NULL);
        return 0;
}

void manager_status_changed(Manager *m) {
        int r;

        /* One walk of the table a second at most, however fast jobs come and go. */
        if (m->status_timer) {
                int enabled = SD_EVENT_OFF;
                (void) sd_event_source_get_enabled(m->status_timer, &enabled);
                if (enabled != SD_EVENT_OFF)
                        return;
                r = sd_event_source_set_time_relative(m->status_timer, STATUS_INTERVAL_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->status_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC,
                                               0, on_status_timer, m);
        if (r < 0)
                log_debug("Cannot schedule the status update: %s", strerror(-r));
}
