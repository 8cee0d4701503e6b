/* SPDX-License-Identifier: MIT */
/* util.c - small helpers shared by every layer. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/log.h"
#include "shared/util.h"

int parse_uint64(const char *s, uint64_t *ret) {
        char *end = NULL;
        unsigned long long v;

        if (!s || !*s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                char c;
                unsigned shift;
        } suffixes[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
        char *end = NULL;
        unsigned long long v;
        unsigned shift = 0;

        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(suffixes); i++)
                        if (toupper((unsigned char) *end) == suffixes[i].c)
                                break;
                if (i < ELEMENTSOF(suffixes)) {
                        shift = suffixes[i].shift;
                        end++;
                        if (*end == 'i')
                                end++;
                }
                if (*end == 'B')
                        end++;
                if (*end)
                        return -EINVAL;
        }
        if (shift > 0 && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = (uint64_t) v << shift;
        return 0;
}

int parse_cpu_quota(const char *s, uint64_t *ret) {
        char *end = NULL;
        double v;

        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno == ERANGE)
                return -ERANGE;
        if (streq(end, "%"))
                v /= 100.0;
        else if (*end)
                return -EINVAL;
        if (v <= 0 || v > 1024.0)
                return -ERANGE;
        *ret = (uint64_t) (v * (double) USEC_PER_SEC + 0.5);
        return 0;
}

const char *format_size(char *buf, size_t n, uint64_t bytes) {
        static const char units[] = "KMGTPE";
        double v = (double) bytes;
        int i = -1;

        while (v >= 1024.0 && i < (int) sizeof(units) - 2) {
                v /= 1024.0;
                i++;
        }
        if (i < 0)
                snprintf(buf, n, "%" PRIu64 "B", bytes);
        else if (bytes % (UINT64_C(1) << (10 * (i + 1))) == 0)
                /* an exact multiple reads as it is written in a limit: "100M", the same 104857600 */
                snprintf(buf, n, "%" PRIu64 "%c", bytes >> (10 * (i + 1)), units[i]);
        else
                snprintf(buf, n, "%.1f%c", v, units[i]);
        return buf;
}

static const char hexchars[] = "0123456789abcdef";

int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

static bool is_dash_position(size_t i) {
        return i == 8 || i == 13 || i == 18 || i == 23;
}

int job_id_generate(char ret[static JOB_ID_STRING_MAX]) {
        uint8_t b[16];
        size_t k = 0;
        ssize_t n;

        n = getrandom(b, sizeof(b), 0);
        if (n < 0)
                return -errno;
        if ((size_t) n != sizeof(b))
                return -EIO;
        b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
        b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
        for (size_t i = 0; i < 36; i++) {
                if (is_dash_position(i)) {
                        ret[i] = '-';
                        continue;
                }
                ret[i] = hexchars[(k % 2 == 0) ? b[k / 2] >> 4 : b[k / 2] & 0xf];
                k++;
        }
        ret[36] = 0;
        return 0;
}

bool job_id_is_valid(const char *id) {
        if (!id || strlen(id) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                if (is_dash_position(i)) {
                        if (id[i] != '-')
                                return false;
                } else if (unhexchar(id[i]) < 0)
                        return false;
        }
        return true;
}

int job_id_to_hex(const char *id, char ret[static JOB_ID_HEX_MAX]) {
        size_t k = 0;

        if (!job_id_is_valid(id))
                return -EINVAL;
        for (size_t i = 0; i < 36; i++)
                if (!is_dash_position(i))
                        ret[k++] = (char) tolower((unsigned char) id[i]);
        ret[k] = 0;
        return 0;
}

int job_id_from_hex(const char *hex, char ret[static JOB_ID_STRING_MAX]) {
        size_t k = 0;

        if (!hex || strlen(hex) != 32)
                return -EINVAL;
        for (size_t i = 0; i < 36; i++) {
                if (is_dash_position(i)) {
                        ret[i] = '-';
                        continue;
                }
                if (unhexchar(hex[k]) < 0)
                        return -EINVAL;
                ret[i] = (char) tolower((unsigned char) hex[k++]);
        }
        ret[36] = 0;
        return 0;
}

uint64_t now_usec(int clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

const char *format_timestamp(char *buf, size_t n, uint64_t realtime_usec) {
        time_t sec = (time_t) (realtime_usec / USEC_PER_SEC);
        struct tm tm;
        char tmp[24];

        if (!gmtime_r(&sec, &tm) || strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
                snprintf(buf, n, "@%" PRIu64, realtime_usec);
                return buf;
        }
        snprintf(buf, n, "%s.%06uZ", tmp, (unsigned) (realtime_usec % USEC_PER_SEC));
        return buf;
}

int fd_nonblock(int fd, bool nonblock) {
        int flags, nflags;

        flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return -errno;
        nflags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
        if (nflags == flags)
                return 0;
        return fcntl(fd, F_SETFL, nflags) < 0 ? -errno : 0;
}

int loop_write(int fd, const void *buf, size_t n) {
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

size_t strv_length(char * const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

char **strv_copy(char * const *l) {
        size_t n = strv_length(l);
        char **c = new0(char *, n + 1);

        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i])
                        return strv_free(c);
        }
        return c;
}

static int check_executable(const char *p) {
        struct stat st;

        if (stat(p, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                return -EACCES;
        return 0;
}

int find_executable(const char *name, const char *path, const char *cwd, char **ret) {
        _cleanup_(freep) char *buf = NULL;
        int r, last = -ENOENT;

        if (!name || !*name)
                return -EINVAL;
        if (strchr(name, '/')) {
                if (name[0] == '/')
                        buf = strdup(name);
                else if (asprintf(&buf, "%s/%s", cwd && *cwd ? cwd : "/", name) < 0)
                        buf = NULL;
                if (!buf)
                        return -ENOMEM;
                r = check_executable(buf);
                if (r < 0)
                        return r == -EISDIR ? -EACCES : r;
                *ret = TAKE_PTR(buf);
                return 0;
        }
        for (const char *p = path ? path : ""; *p;) {
                size_t len = strcspn(p, ":");

                if (len > 0 && p[0] == '/') {
                        free(buf);
                        if (asprintf(&buf, "%.*s/%s", (int) len, p, name) < 0) {
                                buf = NULL;
                                return -ENOMEM;
                        }
                        r = check_executable(buf);
                        if (r == 0) {
                                *ret = TAKE_PTR(buf);
                                return 0;
                        }
                        if (r == -EACCES)
                                last = r;
                }
                p += len;
                if (*p == ':')
                        p++;
        }
        return last;
}

char *str_escape(const char *s, size_t max) {
        size_t n = s ? strnlen(s, max) : 0;
        char *e = malloc(n * 4 + 4), *o = e;

        if (!e)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f || c == '\\')
                        o += sprintf(o, "\\x%02x", c);
                else
                        *o++ = (char) c;
        }
        if (s && s[n])
                o = stpcpy(o, "...");
        *o = 0;
        return e;
}

char *memdup_str(const void *p, size_t n) {
        char *s = malloc(n + 1);

        if (!s)
                return NULL;
        memcpy(s, p, n);
        s[n] = 0;
        return s;
}
