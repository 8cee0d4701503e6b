/* SPDX-License-Identifier: MIT */
/* exec-spec.c - serializer and strict parser of the job spec teleworkerd hands to teleworker-exec. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/exec-spec.h"
#include "shared/macro.h"

#define MAGIC_LEN 4
#define HEADER_SIZE (MAGIC_LEN + 4 * sizeof(uint32_t))

static char **strv_free_n(char **l) {
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
        return NULL;
}

void exec_spec_done(ExecSpec *s) {
        s->argv = strv_free_n(s->argv);
        s->env = strv_free_n(s->env);
        s->allow = strv_free_n(s->allow);
        free(s->cwd);
        free(s->home);
        s->cwd = s->home = NULL;
}

static size_t strv_len(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

static bool env_entry_ok(const char *e, size_t len) {
        const char *eq = memchr(e, '=', len);

        return eq && eq != e;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Writing */

typedef struct Writer {
        char *buf;
        size_t size, used;
} Writer;

static int writer_put(Writer *w, const void *p, size_t n) {
        if (n > EXEC_SPEC_SIZE_MAX - w->used)
                return -E2BIG;
        if (w->used + n > w->size) {
                size_t size = MAX(w->size * 2, w->used + n);
                char *b = realloc(w->buf, MIN(size, (size_t) EXEC_SPEC_SIZE_MAX));
                if (!b)
                        return -ENOMEM;
                w->buf = b;
                w->size = MIN(size, (size_t) EXEC_SPEC_SIZE_MAX);
        }
        memcpy(w->buf + w->used, p, n);
        w->used += n;
        return 0;
}

static int writer_u32(Writer *w, uint32_t v) {
        return writer_put(w, &v, sizeof(v));
}

static int writer_string(Writer *w, const char *s) {
        size_t n = strlen(s);
        int r;

        if (n > EXEC_SPEC_STRING_MAX)
                return -E2BIG;
        r = writer_u32(w, (uint32_t) n);
        return r < 0 ? r : writer_put(w, s, n);
}

static int writer_strv(Writer *w, char *const *l) {
        for (size_t i = 0; l && l[i]; i++) {
                int r = writer_string(w, l[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int exec_spec_serialize(const ExecSpec *s, char **ret, size_t *ret_size) {
        size_t nargv = strv_len(s->argv), nenv = strv_len(s->env), nallow = strv_len(s->allow);
        const char *cwd = s->cwd ? s->cwd : "", *home = s->home ? s->home : "";
        Writer w = {};
        int r;

        if (nargv == 0 || !s->argv[0][0] || nargv > EXEC_SPEC_ARGV_MAX || nenv > EXEC_SPEC_ENV_MAX ||
            nallow > EXEC_SPEC_ALLOW_MAX || (cwd[0] && cwd[0] != '/'))
                return -EINVAL;
        for (size_t i = 0; i < nenv; i++)
                if (!env_entry_ok(s->env[i], strlen(s->env[i])))
                        return -EINVAL;

        r = writer_put(&w, EXEC_SPEC_MAGIC, MAGIC_LEN);
        if (r >= 0)
                r = writer_u32(&w, s->allow ? EXEC_SPEC_HAS_ALLOW : 0);
        if (r >= 0)
                r = writer_u32(&w, (uint32_t) nargv);
        if (r >= 0)
                r = writer_u32(&w, (uint32_t) nenv);
        if (r >= 0)
                r = writer_u32(&w, (uint32_t) nallow);
        if (r >= 0)
                r = writer_string(&w, cwd);
        if (r >= 0)
                r = writer_string(&w, home);
        if (r >= 0)
                r = writer_strv(&w, s->argv);
        if (r >= 0)
                r = writer_strv(&w, s->env);
        if (r >= 0)
                r = writer_strv(&w, s->allow);
        if (r < 0) {
                free(w.buf);
                return r == -E2BIG ? -EINVAL : r;
        }
        *ret = w.buf;
        *ret_size = w.used;
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Reading */

typedef struct Reader {
        const uint8_t *p;
        size_t left;
        const char *error;
} Reader;

static int reader_fail(Reader *r, const char *why) {
        r->error = why;
        return -EBADMSG;
}

static int reader_u32(Reader *r, uint32_t *ret) {
        if (r->left < sizeof(uint32_t))
                return reader_fail(r, "truncated");
        memcpy(ret, r->p, sizeof(uint32_t));
        r->p += sizeof(uint32_t);
        r->left -= sizeof(uint32_t);
        return 0;
}

static int reader_string(Reader *r, char **ret, size_t *ret_len) {
        uint32_t n;
        char *s;
        int k;

        k = reader_u32(r, &n);
        if (k < 0)
                return k;
        if (n > EXEC_SPEC_STRING_MAX)
                return reader_fail(r, "string too long");
        if (n > r->left)
                return reader_fail(r, "truncated string");
        if (memchr(r->p, 0, n))
                return reader_fail(r, "NUL byte inside a string");
        /* Not strndup(): the string is not NUL-terminated in the buffer, and strndup may look past n. */
        s = malloc((size_t) n + 1);
        if (!s)
                return -ENOMEM;
        memcpy(s, r->p, n);
        s[n] = 0;
        r->p += n;
        r->left -= n;
        *ret = s;
        if (ret_len)
                *ret_len = n;
        return 0;
}

/* count strings into a new NULL-terminated list; env entries must look like NAME=VALUE. */
static int reader_strv(Reader *r, uint32_t count, bool env, char ***ret) {
        char **l = calloc((size_t) count + 1, sizeof(char *));
        int k;

        if (!l)
                return -ENOMEM;
        for (uint32_t i = 0; i < count; i++) {
                size_t len;
                k = reader_string(r, &l[i], &len);
                if (k < 0) {
                        strv_free_n(l);
                        return k;
                }
                if (env && !env_entry_ok(l[i], len)) {
                        strv_free_n(l);
                        return reader_fail(r, "environment entry without NAME=");
                }
        }
        *ret = l;
        return 0;
}

static int reader_header(Reader *r, uint32_t *flags, uint32_t *nargv, uint32_t *nenv, uint32_t *nallow) {
        int k;

        if (r->left < HEADER_SIZE || memcmp(r->p, EXEC_SPEC_MAGIC, MAGIC_LEN) != 0)
                return reader_fail(r, "not a job spec (bad magic)");
        r->p += MAGIC_LEN;
        r->left -= MAGIC_LEN;
        if ((k = reader_u32(r, flags)) < 0 || (k = reader_u32(r, nargv)) < 0 || (k = reader_u32(r, nenv)) < 0 ||
            (k = reader_u32(r, nallow)) < 0)
                return k;
        if (*flags & ~(uint32_t) _EXEC_SPEC_FLAGS_ALL)
                return reader_fail(r, "unknown flags");
        if (*nargv == 0)
                return reader_fail(r, "empty command line");
        if (*nargv > EXEC_SPEC_ARGV_MAX)
                return reader_fail(r, "too many arguments");
        if (*nenv > EXEC_SPEC_ENV_MAX)
                return reader_fail(r, "too many environment entries");
        if (*nallow > EXEC_SPEC_ALLOW_MAX)
                return reader_fail(r, "too many allow patterns");
        if (*nallow > 0 && !(*flags & EXEC_SPEC_HAS_ALLOW))
                return reader_fail(r, "allow patterns without the allow flag");
        /* Each string takes at least its length word: refuse counts the buffer cannot hold before
         * allocating for them. */
        if ((uint64_t) (2 + *nargv + *nenv + *nallow) * sizeof(uint32_t) > r->left)
                return reader_fail(r, "truncated");
        return 0;
}

int exec_spec_parse(const void *buf, size_t size, ExecSpec *ret, const char **ret_error) {
        Reader r = { .p = buf, .left = size };
        ExecSpec s = {};
        uint32_t flags, nargv, nenv, nallow;
        int k;

        if (size > EXEC_SPEC_SIZE_MAX) {
                *ret_error = "too large";
                return -EBADMSG;
        }
        k = reader_header(&r, &flags, &nargv, &nenv, &nallow);
        if (k >= 0)
                k = reader_string(&r, &s.cwd, NULL);
        if (k >= 0 && s.cwd[0] && s.cwd[0] != '/')
                k = reader_fail(&r, "working directory not absolute");
        if (k >= 0)
                k = reader_string(&r, &s.home, NULL);
        if (k >= 0)
                k = reader_strv(&r, nargv, false, &s.argv);
        if (k >= 0 && !s.argv[0][0])
                k = reader_fail(&r, "empty executable name");
        if (k >= 0)
                k = reader_strv(&r, nenv, true, &s.env);
        if (k >= 0 && (flags & EXEC_SPEC_HAS_ALLOW))
                k = reader_strv(&r, nallow, false, &s.allow);
        if (k >= 0 && r.left > 0)
                k = reader_fail(&r, "trailing bytes");
        if (k < 0) {
                exec_spec_done(&s);
                *ret_error = k == -EBADMSG ? r.error : "out of memory";
                return k;
        }
        *ret = s;
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Over a memfd */

#define REQUIRED_SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

int exec_spec_to_memfd(const ExecSpec *s, int *ret_fd) {
        char *buf = NULL;
        size_t size = 0, done = 0;
        int fd, r;

        r = exec_spec_serialize(s, &buf, &size);
        if (r < 0)
                return r;
        fd = memfd_create("teleworker-job-spec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) {
                r = -errno;
                free(buf);
                return r;
        }
        while (done < size) {
                ssize_t n = write(fd, buf + done, size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        break;
                }
                done += (size_t) n;
        }
        free(buf);
        if (r >= 0 && fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
                r = -errno;
        if (r < 0) {
                (void) close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int exec_spec_from_fd(int fd, ExecSpec *ret, const char **ret_error) {
        struct stat st;
        void *map;
        int seals, r;

        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || (seals & REQUIRED_SEALS) != REQUIRED_SEALS) {
                *ret_error = "the job spec is not a sealed memfd";
                return -EBADMSG;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size <= 0 || (uint64_t) st.st_size > EXEC_SPEC_SIZE_MAX) {
                *ret_error = "the job spec has an impossible size";
                return -EBADMSG;
        }
        /* Sealed: the size and the bytes cannot change under the parser. */
        map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
                return -errno;
        r = exec_spec_parse(map, (size_t) st.st_size, ret, ret_error);
        (void) munmap(map, (size_t) st.st_size);
        return r;
}

bool exec_spec_allowed(char *const *allow, const char *path) {
        if (!allow)
                return true;
        for (char *const *a = allow; *a; a++)
                if (fnmatch(*a, path, FNM_PATHNAME) == 0)
                        return true;
        return false;
}

int exec_parse_id(const char *s, uint32_t *ret) {
        uint64_t v = 0;

        if (!s || !*s || strlen(s) > 10 || (s[0] == '0' && s[1]))
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (v >= UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}
