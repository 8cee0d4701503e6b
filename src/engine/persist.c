/* SPDX-License-Identifier: MIT */
/* persist.c - job records on disk (persist.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "engine/persist.h"
#include "shared/util.h"

static char *record_path(const char *jobs_dir, const char *id) {
        char *p;

        return asprintf(&p, "%s/%s" JOB_RECORD_SUFFIX, jobs_dir, id) < 0 ? NULL : p;
}

void persist_remove(const char *jobs_dir, const char *id) {
        _cleanup_(freep) char *p = record_path(jobs_dir, id);

        if (p)
                (void) unlink(p);
}

int persist_save(const char *jobs_dir, const JobRecord *rec) {
        _cleanup_(freep) char *text = NULL, *path = NULL, *tmp = NULL;
        int fd, r;

        r = job_record_to_json(rec, &text);
        if (r < 0)
                return r;
        path = record_path(jobs_dir, rec->id);
        if (!path || asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return log_warning_errno(-errno, "Failed to write the record of job %s", rec->id);
        r = loop_write(fd, text, strlen(text));
        safe_close(fd);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return log_warning_errno(r, "Failed to write the record of job %s", rec->id);
        }
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

static int record_compare_name(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* A record and its place in file name order. */
typedef struct Loaded {
        JobRecord rec;
        size_t index;
} Loaded;

static int loaded_compare_id(const void *a, const void *b) {
        const Loaded *x = a, *y = b;
        int c = strcmp(x->rec.id, y->rec.id);

        return c ? c : x->index < y->index ? -1 : x->index > y->index;
}

static int loaded_compare_submitted(const void *a, const void *b) {
        const Loaded *x = a, *y = b;

        if (x->rec.submitted_at != y->rec.submitted_at)
                return x->rec.submitted_at < y->rec.submitted_at ? -1 : 1;
        return strcmp(x->rec.id, y->rec.id);
}

/* Keeps the first of each id (in file name order) that the caller does not know. */
static size_t loaded_drop_duplicates(Loaded *l, size_t n, bool (*known)(const char *id, void *userdata),
                                     void *userdata) {
        size_t kept = 0;

        qsort(l, n, sizeof(Loaded), loaded_compare_id);
        for (size_t i = 0; i < n; i++) {
                if ((kept > 0 && streq(l[kept - 1].rec.id, l[i].rec.id)) || (known && known(l[i].rec.id, userdata))) {
                        log_warning("Ignoring a second job record for job %s.", l[i].rec.id);
                        job_record_done(&l[i].rec);
                        continue;
                }
                l[kept++] = l[i];
        }
        return kept;
}

static bool is_record_name(const char *name) {
        size_t len = strlen(name), s = strlen(JOB_RECORD_SUFFIX);

        return len > s && streq(name + len - s, JOB_RECORD_SUFFIX);
}

/* Reads one record into l[*n]; a bad one is moved aside. Only -ENOMEM is returned. */
static int load_one(const char *jobs_dir, const char *name, Loaded *l, size_t *n) {
        _cleanup_(freep) char *path = NULL, *bad = NULL;
        int r;

        if (asprintf(&path, "%s/%s", jobs_dir, name) < 0)
                return -ENOMEM;
        r = read_record(path, &l[*n].rec);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                l[*n].index = *n;
                (*n)++;
                return 0;
        }
        log_warning_errno(r, "Ignoring the job record %s (moved aside as .corrupt)", path);
        if (asprintf(&bad, "%s.corrupt", path) >= 0)
                (void) rename(path, bad);
        return 0;
}

void persist_records_free(JobRecord *records, size_t n) {
        for (size_t i = 0; i < n; i++)
                job_record_done(&records[i]);
        free(records);
}

int persist_read_all(const char *jobs_dir, bool (*known)(const char *id, void *userdata), void *userdata,
                     JobRecord **ret, size_t *ret_n) {
        struct dirent **entries = NULL;
        Loaded *loaded = NULL;
        JobRecord *records;
        size_t n_loaded = 0;
        int n, r = 0;

        n = scandir(jobs_dir, &entries, NULL, record_compare_name);
        if (n < 0)
                return errno == ENOENT ? (*ret = NULL, *ret_n = 0, 0) : -errno;
        loaded = new0(Loaded, (size_t) n + 1);
        if (!loaded)
                r = -ENOMEM;
        for (int i = 0; r >= 0 && i < n; i++)
                if (is_record_name(entries[i]->d_name))
                        r = load_one(jobs_dir, entries[i]->d_name, loaded, &n_loaded);
        for (int i = 0; i < n; i++)
                free(entries[i]);
        free(entries);
        if (r >= 0) {
                n_loaded = loaded_drop_duplicates(loaded, n_loaded, known, userdata);
                /* Submission order, as before the restart. */
                qsort(loaded, n_loaded, sizeof(Loaded), loaded_compare_submitted);
        }
        records = r >= 0 ? new0(JobRecord, n_loaded + 1) : NULL;
        if (!records) {
                for (size_t i = 0; i < n_loaded; i++)
                        job_record_done(&loaded[i].rec);
                free(loaded);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_loaded; i++)
                records[i] = loaded[i].rec;
        free(loaded);
        *ret = records;
        *ret_n = n_loaded;
        return 0;
}
