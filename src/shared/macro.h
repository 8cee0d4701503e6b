/* SPDX-License-Identifier: MIT */
/* macro.h - small cleanup and ownership helpers (libsystemd does not export systemd's own). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

#define new0(t, n) ((t *) calloc((n), sizeof(t)))
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

/* x is one of the (int) values listed. */
#define IN_SET(x, ...)                                                  \
        ({                                                              \
                const int _v_ = (int) (x);                              \
                const int _a_[] = { __VA_ARGS__ };                      \
                bool _f_ = false;                                       \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_a_); _i_++)      \
                        if (_a_[_i_] == _v_)                            \
                                _f_ = true;                             \
                _f_;                                                    \
        })

/* Hand a pointer (or fd) out of a cleanup scope: the variable is reset so the cleanup does nothing. */
#define TAKE_PTR(p)                              \
        ({                                       \
                __typeof__(p) _p_ = (p);         \
                (p) = NULL;                      \
                _p_;                             \
        })
#define TAKE_FD(fd)                              \
        ({                                       \
                int _fd_ = (fd);                 \
                (fd) = -EBADF;                   \
                _fd_;                            \
        })

/* Declares type_freep(type **p) for _cleanup_(), given type *func(type *) that returns NULL. */
#define DEFINE_FREE_FUNC(type, func)                      \
        static inline void func##p(type **p) {            \
                if (*p)                                   \
                        *p = func(*p);                    \
        }

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}

/* Closes fd if it is one, keeps errno, returns -EBADF so "fd = safe_close(fd);" reads naturally. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}

static inline void close_pair(int p[2]) {
        p[0] = safe_close(p[0]);
        p[1] = safe_close(p[1]);
}

static inline void close_pairp(int (*p)[2]) {
        close_pair(*p);
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

#define streq(a, b) (strcmp((a), (b)) == 0)

static inline void strv_free_contents(char **l) {
        for (char **i = l; i && *i; i++)
                free(*i);
}

static inline char **strv_free(char **l) {
        strv_free_contents(l);
        free(l);
        return NULL;
}
DEFINE_FREE_FUNC(char *, strv_free);

#define RET_NERRNO(expr)                         \
        ({                                       \
                __typeof__(expr) _r_ = (expr);   \
                _r_ < 0 ? -errno : _r_;          \
        })
