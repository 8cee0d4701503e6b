/* SPDX-License-Identifier: MIT */
/* persist.h - job records on disk, <jobs_dir>/<id>.json (job-record.h is their format).
 *
 * No manager here: records in, records out. A record is rewritten (to a temporary file, then renamed) on every
 * state change of its job, never fsync()ed on the event loop (a restart of the daemon is not a crash of the
 * kernel, and the page cache survives the former). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "engine/job-record.h"

#define JOB_RECORD_SUFFIX ".json"

int persist_save(const char *jobs_dir, const JobRecord *r);
void persist_remove(const char *jobs_dir, const char *id);

/* Every record under jobs_dir, one per id, oldest submitted first. Of records with the same id the first in
 * file name order wins (a record copied by hand, say; the others stay on disk for the operator), and none is
 * returned whose id known() says the caller has already. A record that cannot be read or parsed is moved
 * aside as .corrupt. -ENOMEM and nothing when any could not be read for want of memory (so that nothing is
 * taken for stale that was only not read). */
int persist_read_all(const char *jobs_dir, bool (*known)(const char *id, void *userdata), void *userdata,
                     JobRecord **ret, size_t *ret_n);
void persist_records_free(JobRecord *records, size_t n);
