/* SPDX-License-Identifier: MIT */
/* remotes.c - telerun's named remotes file (remotes.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remotes.h"
#include "shared/macro.h"
#include "shared/util.h"

static void remote_done(Remote *x) {
        free(x->name);
        free(x->addr);
        free(x->cert);
        free(x->key);
        free(x->cacert);
        *x = (Remote) {};
}

void remotes_done(Remotes *r) {
        for (size_t i = 0; i < r->n; i++)
                remote_done(&r->items[i]);
        free(r->items);
        free(r->current);
        *r = (Remotes) {};
}

bool remote_name_is_valid(const char *name) {
        size_t n;

        if (!name || !*name || *name == '.' || *name == '-' || streq(name, REMOTES_LOCAL))
                return false;
        n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
        return name[n] == 0 && n <= REMOTES_NAME_MAX;
}

static int parse_error(char *err, unsigned line, int r, const char *fmt, ...) _printf_(4, 5);
static int parse_error(char *err, unsigned line, int r, const char *fmt, ...) {
        char msg[REMOTES_ERROR_MAX - 32];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (line > 0)
                (void) snprintf(err, REMOTES_ERROR_MAX, "line %u: %s", line, msg);
        else
                (void) snprintf(err, REMOTES_ERROR_MAX, "%s", msg);
        return r;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* [start, end) without blanks around it. */
static void strip(const char **start, const char **end) {
        while (*start < *end && is_blank(**start))
                (*start)++;
        while (*end > *start && is_blank((*end)[-1]))
                (*end)--;
}

static char **remote_field(Remote *x, const char *key, size_t n) {
#define FIELD(name) if (n == strlen(#name) && memcmp(key, #name, n) == 0) return &x->name
        FIELD(addr);
        FIELD(cert);
        FIELD(key);
        FIELD(cacert);
#undef FIELD
        return NULL;
}

static int remotes_check(Remotes *r, char *err) {
        for (size_t i = 0; i < r->n; i++) {
                Remote *x = &r->items[i];
                if (!x->addr || !x->cert || !x->key)
                        return parse_error(err, 0, -EINVAL, "remote '%s' lacks %s", x->name,
                                           !x->addr ? "addr" : !x->cert ? "cert" : "key");
        }
        if (r->current && !remotes_find(r, r->current))
                return parse_error(err, 0, -EINVAL, "current remote '%s' is not defined", r->current);
        return 0;
}

int remotes_parse(const char *text, size_t size, Remotes *ret, char err[static REMOTES_ERROR_MAX]) {
        _cleanup_(remotes_done) Remotes r = {};
        const char *p = text, *end = text + size;
        Remote *section = NULL;
        unsigned line = 0;
        int k;

        if (size > REMOTES_FILE_MAX)
                return parse_error(err, 0, -E2BIG, "file larger than %u bytes", REMOTES_FILE_MAX);
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)) ?: end, *s = p, *e = eol, *eq;

                line++;
                p = eol < end ? eol + 1 : end;
                for (const char *c = s; c < e; c++)
                        if ((unsigned char) *c < 0x20 && *c != '\t')
                                return parse_error(err, line, -EINVAL, "control character");
                strip(&s, &e);
                if (s == e || *s == '#')
                        continue;
                if (*s == '[') {
                        char name[REMOTES_NAME_MAX + 1];
                        if (e[-1] != ']' || (size_t) (e - s - 2) > REMOTES_NAME_MAX)
                                return parse_error(err, line, -EINVAL, "expected [NAME]");
                        memcpy(name, s + 1, (size_t) (e - s - 2));
                        name[e - s - 2] = 0;
                        if (!remote_name_is_valid(name))
                                return parse_error(err, line, -EINVAL, "invalid remote name '%s'", name);
                        if (remotes_find(&r, name))
                                return parse_error(err, line, -EINVAL, "remote '%s' defined twice", name);
                        k = remotes_add(&r, &(Remote) { .name = name });
                        if (k == -E2BIG)
                                return parse_error(err, line, k, "more than %u remotes", REMOTES_MAX);
                        if (k < 0)
                                return parse_error(err, line, k, "out of memory");
                        section = &r.items[r.n - 1];
                        continue;
                }
                eq = memchr(s, '=', (size_t) (e - s));
                if (!eq)
                        return parse_error(err, line, -EINVAL, "expected KEY = VALUE");
                const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
                strip(&ks, &ke);
                strip(&vs, &ve);
                if (vs == ve || (size_t) (ve - vs) > REMOTES_VALUE_MAX)
                        return parse_error(err, line, -EINVAL, "empty value or longer than %u bytes", REMOTES_VALUE_MAX);
                char **field;
                if (!section) {
                        if ((size_t) (ke - ks) != strlen("current") || memcmp(ks, "current", 7) != 0)
                                return parse_error(err, line, -EINVAL, "only 'current' comes before the first [NAME]");
                        field = &r.current;
                } else {
                        field = remote_field(section, ks, (size_t) (ke - ks));
                        if (!field)
                                return parse_error(err, line, -EINVAL, "unknown key '%.*s' (addr, cert, key, cacert)",
                                                   (int) MIN(ke - ks, 64), ks);
                }
                if (*field)
                        return parse_error(err, line, -EINVAL, "'%.*s' given twice", (int) MIN(ke - ks, 64), ks);
                *field = memdup_str(vs, (size_t) (ve - vs));
                if (!*field)
                        return parse_error(err, line, -ENOMEM, "out of memory");
        }
        k = remotes_check(&r, err);
        if (k < 0)
                return k;
        *ret = r;
        r = (Remotes) {};
        return 0;
}

char *remotes_format(const Remotes *r) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        fputs("# telerun's named remotes: telerun remote add|use|ls|rm (docs/cli.md)\n", f);
        if (r->current)
                fprintf(f, "current = %s\n", r->current);
        for (size_t i = 0; i < r->n; i++) {
                const Remote *x = &r->items[i];
                fprintf(f, "\n[%s]\naddr = %s\ncert = %s\nkey = %s\n", x->name, x->addr, x->cert, x->key);
                if (x->cacert)
                        fprintf(f, "cacert = %s\n", x->cacert);
        }
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

Remote *remotes_find(const Remotes *r, const char *name) {
        for (size_t i = 0; i < r->n; i++)
                if (streq(r->items[i].name, name))
                        return &r->items[i];
        return NULL;
}

static int strdup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

int remotes_add(Remotes *r, const Remote *remote) {
        Remote x = {};
        Remote *items;

        if (remotes_find(r, remote->name))
                return -EEXIST;
        if (r->n >= REMOTES_MAX)
                return -E2BIG;
        if (strdup_or_null(remote->name, &x.name) < 0 || strdup_or_null(remote->addr, &x.addr) < 0 ||
            strdup_or_null(remote->cert, &x.cert) < 0 || strdup_or_null(remote->key, &x.key) < 0 ||
            strdup_or_null(remote->cacert, &x.cacert) < 0) {
                remote_done(&x);
                return -ENOMEM;
        }
        items = realloc(r->items, (r->n + 1) * sizeof(Remote));
        if (!items) {
                remote_done(&x);
                return -ENOMEM;
        }
        r->items = items;
        r->items[r->n++] = x;
        return 0;
}

int remotes_remove(Remotes *r, const char *name) {
        Remote *x = remotes_find(r, name);

        if (!x)
                return -ENOENT;
        if (r->current && streq(r->current, name))
                r->current = mfree(r->current);
        remote_done(x);
        memmove(x, x + 1, (size_t) (r->items + r->n - (x + 1)) * sizeof(Remote));
        r->n--;
        return 0;
}

int remotes_path(char **ret) {
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        int n;

        /* The XDG base directory spec: a relative $XDG_CONFIG_HOME is invalid and ignored. */
        if (xdg && xdg[0] == '/')
                n = asprintf(ret, "%s/telerun/remotes", xdg);
        else if (home && home[0] == '/')
                n = asprintf(ret, "%s/.config/telerun/remotes", home);
        else
                return -ENOENT;
        return n < 0 ? -ENOMEM : 0;
}

int remotes_load(const char *path, Remotes *ret, char err[static REMOTES_ERROR_MAX]) {
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret = (Remotes) {};
                        return 0;
                }
                return parse_error(err, 0, -errno, "cannot open %s: %m", path);
        }
        text = malloc(REMOTES_FILE_MAX + 1);
        if (!text) {
                close(fd);
                return parse_error(err, 0, -ENOMEM, "out of memory");
        }
        /* One byte past the bound tells a file that is too long. */
        while (size <= REMOTES_FILE_MAX && (n = read(fd, text + size, REMOTES_FILE_MAX + 1 - size)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        close(fd);
                        return parse_error(err, 0, r, "cannot read %s: %s", path, strerror(-r));
                }
                size += (size_t) n;
        }
        close(fd);
        return remotes_parse(text, size, ret, err);
}

static int mkdir_parents(const char *path) {
        _cleanup_(freep) char *dir = strdup(path);
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = 0;
        if (mkdir(dir, 0700) == 0 || errno == EEXIST)
                return 0;
        if (errno != ENOENT)
                return -errno;
        int r = mkdir_parents(dir);
        if (r < 0)
                return r;
        return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

int remotes_save(const char *path, const Remotes *r) {
        _cleanup_(freep) char *text = remotes_format(r), *tmp = NULL;
        int fd, k;

        if (!text)
                return -ENOMEM;
        k = mkdir_parents(path);
        if (k < 0)
                return k;
        if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
        if (fd < 0)
                return -errno;
        k = fchmod(fd, 0600) < 0 ? -errno : 0;
        if (k >= 0)
                k = loop_write(fd, text, strlen(text));
        if (k >= 0 && fsync(fd) < 0)
                k = -errno;
        if (close(fd) < 0 && k >= 0)
                k = -errno;
        if (k >= 0 && rename(tmp, path) < 0)
                k = -errno;
        if (k < 0)
                (void) unlink(tmp);
        return k;
}
