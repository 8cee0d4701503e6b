/* SPDX-License-Identifier: MIT */
/* manager-metrics.c - the manager's side of the metrics (engine/metrics.c formats them): a snapshot of the
 * job table, the spool and the daemon's fds, taken when scraped. Walks the table once (10,000 jobs at most)
 * and the spool directory once; no caller input. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/macro.h"
#include "engine/manager-internal.h"

/* Entries of a directory (minus . and ..), and with sizes the disk space of its regular files. */
static int dir_usage(const char *path, uint64_t *ret_entries, uint64_t *ret_bytes) {
        struct dirent *de;
        uint64_t n = 0, bytes = 0;
        DIR *d;

        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                n++;
                if (ret_bytes && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                        bytes += (uint64_t) st.st_blocks * 512;
        }
        closedir(d);
        *ret_entries = n;
        if (ret_bytes)
                *ret_bytes = bytes;
        return 0;
}

static void manager_metrics_gauges(Manager *m, MetricsGauges *g) {
        struct rlimit rl;
        uint64_t entries;

        for (Job *j = m->jobs_head; j; j = j->next) {
                if (j->discarded)
                        continue;
                g->output_kept_bytes += j->output ? output_store_size(j->output) : 0;
                g->output_dropped_bytes += job_output_dropped(j);
        }
        (void) dir_usage(m->spool_dir, &entries, &g->spool_bytes);
        g->readers = m->readers_users.n_readers + m->readers_admins.n_readers;
        /* The directory's own fd is among the entries listed. */
        if (dir_usage("/proc/self/fd", &entries, NULL) == 0)
                g->open_fds = entries > 0 ? entries - 1 : 0;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
                g->max_fds = rl.rlim_cur;
}

int manager_metrics_text(Manager *m, char **ret) {
        _cleanup_(freep) MetricsJob *jobs = NULL;
        MetricsGauges g = {};
        size_t n = 0;

        jobs = new0(MetricsJob, MAX(m->n_jobs, 1U));
        if (!jobs)
                return -ENOMEM;
        for (Job *j = m->jobs_head; j && n < m->n_jobs; j = j->next)
                if (!j->discarded) /* refused after the fact: as if never there */
                        jobs[n++] = (MetricsJob) { .principal = j->owner ?: "", .state = j->state };
        manager_metrics_gauges(m, &g);
        return metrics_format(&m->metrics, &g, jobs, n, ret);
}
