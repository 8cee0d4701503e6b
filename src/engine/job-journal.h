/* SPDX-License-Identifier: MIT */
/* job-journal.h - what the journal and systemd learn of jobs: one structured entry when a job starts and one
 * when it ends (MESSAGE_IDs below, explained in units/teleworker.catalog), and STATUS= for
 * `systemctl status teleworkerd` ("N running, M kept"). */
#pragma once

#include <stddef.h>

#include "engine/manager.h"

/* Keep in step with units/teleworker.catalog (test-journal checks both against the entries). */
#define JOB_JOURNAL_MESSAGE_STARTED "2c48e7c670f441b4b87e4ea54260004b"
#define JOB_JOURNAL_MESSAGE_ENDED "d12ef34a5aa949528c17625e39128e79"
/* TELEWORKER_COMMAND: the command line, escaped, at most this many bytes of it. */
#define JOB_JOURNAL_COMMAND_MAX 1024U

/* argv as one line for a log: arguments with a space or a quote in single quotes, control bytes escaped,
 * cut with "..." past max bytes. Always NUL-terminated (size > 4). */
void job_journal_format_command(char *const *argv, char *buf, size_t size);

void job_journal_started(Job *j);
void job_journal_ended(Job *j);

/* STATUS= soon (at most once a second), if the counts changed. */
void manager_status_changed(Manager *m);
/* STATUS= now (with extra, e.g. "READY=1", in the same message). */
void manager_status_notify(Manager *m, const char *extra);
