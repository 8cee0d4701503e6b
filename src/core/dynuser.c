/* SPDX-License-Identifier: MIT */
/* dynuser.c - per-principal uids: allocation from a reserved range, persisted one file per principal.
 *
 * <dir>/p-<principal> holds "<uid> <name>\n". The "p-" prefix keeps principals such as "." or ".." from
 * naming anything but a plain file. A new entry is written to a temporary file, fsync()ed, renamed and the
 * directory fsync()ed before its uid is used: a uid that ran a job must never be handed to another
 * principal, even after a crash (its files may still exist). That is one synchronous write per new
 * principal, never per job. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/authz.h"
#include "core/dynuser.h"
#include "shared/util.h"

#define DYNUSER_FILE_PREFIX "p-"
#define DYNUSER_FILE_MAX 128
/* A principal file is one line; more than this many entries in the directory are not read (the range
 * limits a table to far fewer). */
#define DYNUSER_TABLE_MAX 1000000

struct DynUserTable {
        char *dir;
        DynUser **users; /* pointers: entries stay where they are while the table grows */
        size_t n_users;
};

static bool dynuser_name_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void dynuser_name_for(const char *principal, uid_t uid, char ret[static DYNUSER_NAME_MAX]) {
        size_t n = strlen(principal);
        bool ok = n > 0 && n <= DYNUSER_NAME_MAX - 1 - 3;

        for (size_t i = 0; ok && i < n; i++)
                ok = dynuser_name_char_ok(principal[i]);
        if (ok)
                snprintf(ret, DYNUSER_NAME_MAX, "tw-%s", principal);
        else
                snprintf(ret, DYNUSER_NAME_MAX, "tw_%" PRIu32, (uint32_t) uid);
}

bool dynuser_name_is_reserved(const char *name) {
        return name && (strncmp(name, "tw-", 3) == 0 || strncmp(name, "tw_", 3) == 0);
}

static bool dynuser_name_is_valid(const char *name) {
        size_t n = strlen(name);

        if (n < 4 || n >= DYNUSER_NAME_MAX || !dynuser_name_is_reserved(name))
                return false;
        for (size_t i = 3; i < n; i++)
                if (!dynuser_name_char_ok(name[i]))
                        return false;
        return true;
}

int dynuser_taken_nss(uid_t n, const char *name, void *userdata) {
        /* errno distinguishes "no such entry" (0, ENOENT, ESRCH...) from a failing source only loosely in
         * glibc; a hard failure of the lookup (EIO, ENOMEM) refuses the allocation rather than risk a
         * collision. */
        errno = 0;
        if (name) {
                if (getpwnam(name) || getgrnam(name))
                        return 1;
        } else if (getpwuid(n) || getgrgid((gid_t) n))
                return 1;
        if (errno == EIO || errno == ENOMEM || errno == EMFILE || errno == ENFILE)
                return -errno;
        return 0;
}

const DynUser *dynuser_by_uid(const DynUserTable *t, uid_t uid) {
        for (size_t i = 0; t && i < t->n_users; i++)
                if (t->users[i]->uid == uid)
                        return t->users[i];
        return NULL;
}

const DynUser *dynuser_by_name(const DynUserTable *t, const char *name) {
        for (size_t i = 0; t && name && i < t->n_users; i++)
                if (streq(t->users[i]->name, name))
                        return t->users[i];
        return NULL;
}

const DynUser *dynuser_by_principal(const DynUserTable *t, const char *principal) {
        for (size_t i = 0; t && principal && i < t->n_users; i++)
                if (streq(t->users[i]->principal, principal))
                        return t->users[i];
        return NULL;
}

const DynUser *dynuser_at(const DynUserTable *t, size_t i) {
        return t && i < t->n_users ? t->users[i] : NULL;
}

size_t dynuser_count(const DynUserTable *t) {
        return t ? t->n_users : 0;
}

DynUserTable *dynuser_table_free(DynUserTable *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_users; i++) {
                free(t->users[i]->principal);
                free(t->users[i]);
        }
        free(t->users);
        free(t->dir);
        free(t);
        return NULL;
}

static int dynuser_table_add(DynUserTable *t, const char *principal, uid_t uid, const char *name) {
        DynUser **a, *u;

        if (t->n_users >= DYNUSER_TABLE_MAX)
                return -ENOSPC;
        a = realloc(t->users, (t->n_users + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        t->users = a;
        u = new0(DynUser, 1);
        if (!u)
                return -ENOMEM;
        *u = (DynUser) { .principal = strdup(principal), .uid = uid };
        if (!u->principal) {
                free(u);
                return -ENOMEM;
        }
        snprintf(u->name, sizeof(u->name), "%s", name);
        t->users[t->n_users++] = u;
        return 0;
}

/* "<uid> <name>\n", nothing else: the uid a plain decimal (no sign, no spaces, no leading zeros), neither
 * 0 nor (uid_t) -1 nor 65535, the name of the form the table hands out. */
int dynuser_parse_line(const char *text, uid_t *ret_uid, char ret_name[static DYNUSER_NAME_MAX]) {
        const char *sp = strchr(text, ' '), *nl;
        char num[16];
        uint64_t v;
        size_t len;

        if (!sp || (size_t) (sp - text) >= sizeof(num) || sp == text || (text[0] == '0'))
                return -EINVAL;
        memcpy(num, text, (size_t) (sp - text));
        num[sp - text] = 0;
        if (parse_uint64(num, &v) < 0 || v == 0 || v >= UINT32_MAX || v == 65535)
                return -EINVAL;
        nl = strchr(sp + 1, '\n');
        if (!nl || nl[1] != 0)
                return -EINVAL;
        len = (size_t) (nl - sp - 1);
        if (len >= DYNUSER_NAME_MAX)
                return -EINVAL;
        memcpy(ret_name, sp + 1, len);
        ret_name[len] = 0;
        if (!dynuser_name_is_valid(ret_name))
                return -EINVAL;
        *ret_uid = (uid_t) v;
        return 0;
}

static int dynuser_load_one(DynUserTable *t, int dfd, const char *file) {
        const char *principal = file + strlen(DYNUSER_FILE_PREFIX);
        char buf[DYNUSER_FILE_MAX + 1], name[DYNUSER_NAME_MAX];
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;
        ssize_t n;
        uid_t uid;

        if (!principal_name_is_valid(principal))
                return -EINVAL;
        fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        n = read(fd, buf, DYNUSER_FILE_MAX + 1);
        if (n < 0)
                return -errno;
        if (n > DYNUSER_FILE_MAX)
                return -EFBIG;
        buf[n] = 0;
        if (strlen(buf) != (size_t) n || dynuser_parse_line(buf, &uid, name) < 0)
                return -EINVAL;
        /* Two files claiming one uid or name: neither may be trusted to be the only owner; the first read
         * keeps it, the other is skipped (and its principal gets a new uid when it next runs a job). */
        if (dynuser_by_uid(t, uid) || dynuser_by_name(t, name))
                return -EEXIST;
        return dynuser_table_add(t, principal, uid, name);
}

int dynuser_table_load(const char *dir, DynUserTable **ret, unsigned *ret_skipped) {
        _cleanup_(dynuser_table_freep) DynUserTable *t = NULL;
        unsigned skipped = 0;
        struct dirent *de;
        DIR *d;
        int r;

        t = new0(DynUserTable, 1);
        if (!t)
                return -ENOMEM;
        t->dir = strdup(dir);
        if (!t->dir)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        d = opendir(dir);
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                if (strncmp(de->d_name, DYNUSER_FILE_PREFIX, strlen(DYNUSER_FILE_PREFIX)) != 0)
                        continue;
                r = dynuser_load_one(t, dirfd(d), de->d_name);
                if (r == -ENOMEM) {
                        closedir(d);
                        return r;
                }
                if (r < 0)
                        skipped++;
        }
        r = -errno;
        closedir(d);
        if (r < 0)
                return r;
        if (ret_skipped)
                *ret_skipped = skipped;
        *ret = TAKE_PTR(t);
        return 0;
}

static int dynuser_persist(const DynUserTable *t, const char *principal, uid_t uid, const char *name) {
        _cleanup_(freep) char *tmp = NULL, *path = NULL;
        _cleanup_(closep) int dfd = -EBADF;
        char line[64];
        int fd, r = 0, n;

        n = snprintf(line, sizeof(line), "%" PRIu32 " %s\n", (uint32_t) uid, name);
        if (asprintf(&tmp, "%s/.%s%s.tmp", t->dir, DYNUSER_FILE_PREFIX, principal) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }
        if (asprintf(&path, "%s/%s%s", t->dir, DYNUSER_FILE_PREFIX, principal) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, line, (size_t) n);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        dfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return -errno;
        return 0;
}

/* FNV-1a: the first uid tried depends on the principal, so allocations spread over the range and a
 * principal whose entry was lost tends to get its old uid back. */
static uint32_t dynuser_hash(const char *s) {
        uint32_t h = 2166136261u;

        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 16777619u;
        return h;
}

/* A name for uid that neither the table nor the host has, or -EEXIST. */
static int dynuser_pick_name(const DynUserTable *t, const char *principal, uid_t uid, dynuser_taken_t taken,
                             void *userdata, char name[static DYNUSER_NAME_MAX]) {
        int r;

        dynuser_name_for(principal, uid, name);
        if (!dynuser_by_name(t, name)) {
                r = taken(uid, name, userdata);
                if (r <= 0)
                        return r;
        }
        snprintf(name, DYNUSER_NAME_MAX, "tw_%" PRIu32, (uint32_t) uid);
        if (dynuser_by_name(t, name))
                return -EEXIST;
        r = taken(uid, name, userdata);
        return r < 0 ? r : r > 0 ? -EEXIST : 0;
}

int dynuser_acquire(DynUserTable *t, const char *principal, uid_t min, uid_t max, dynuser_taken_t taken,
                    void *userdata, const DynUser **ret) {
        const DynUser *u = dynuser_by_principal(t, principal);
        char name[DYNUSER_NAME_MAX];
        uint64_t size;
        int r;

        if (u) {
                r = taken(u->uid, NULL, userdata);
                if (r < 0)
                        return r;
                if (r > 0)
                        return -EADDRINUSE;
                *ret = u;
                return 0;
        }
        if (!principal_name_is_valid(principal) || min == 0 || max < min || max >= UINT32_MAX)
                return -EINVAL;
        size = (uint64_t) max - min + 1;
        for (uint64_t i = 0, start = dynuser_hash(principal) % size; i < size; i++) {
                uid_t uid = (uid_t) (min + (start + i) % size);

                if (uid == 65534 || uid == 65535 || dynuser_by_uid(t, uid))
                        continue;
                r = taken(uid, NULL, userdata);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = dynuser_pick_name(t, principal, uid, taken, userdata, name);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        return r;
                r = dynuser_persist(t, principal, uid, name);
                if (r < 0)
                        return r;
                r = dynuser_table_add(t, principal, uid, name);
                if (r < 0)
                        return r;
                *ret = t->users[t->n_users - 1];
                return 0;
        }
        return -ENOSPC;
}
