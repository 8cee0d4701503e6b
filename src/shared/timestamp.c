/* SPDX-License-Identifier: MIT */
/* timestamp.c - Unix seconds, RFC 3339 and "5m ago" into µs since the epoch (timestamp.h). Every field is
 * checked for its range before the arithmetic, so no input overflows or is silently normalized (timegm()
 * would take February 31st). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "shared/timestamp.h"

#define USEC_PER_SEC_U64 UINT64_C(1000000)
#define TIMESTAMP_SEC_MAX UINT64_C(253402300799)       /* 9999-12-31T23:59:59Z */

/* Reads exactly n digits. */
static bool digits(const char **p, unsigned n, unsigned *ret) {
        unsigned v = 0;

        for (unsigned i = 0; i < n; i++) {
                char c = (*p)[i];
                if (c < '0' || c > '9')
                        return false;
                v = v * 10 + (unsigned) (c - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

/* An optional fraction ".ddd": µs, further digits cut (at most 9 read in all). */
static bool fraction(const char **p, uint64_t *ret_usec) {
        unsigned n = 0;
        uint64_t usec = 0, scale = 100000;

        *ret_usec = 0;
        if (**p != '.')
                return true;
        (*p)++;
        while (**p >= '0' && **p <= '9') {
                if (++n > 9)
                        return false;
                usec += (uint64_t) (**p - '0') * scale;
                scale /= 10;
                (*p)++;
        }
        *ret_usec = usec;
        return n > 0;
}

static bool leap(unsigned y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_unix(const char *s, uint64_t *ret) {
        uint64_t sec = 0, usec;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                sec = sec * 10 + (uint64_t) (*s - '0');
                if (sec > TIMESTAMP_SEC_MAX)
                        return -ERANGE;
        }
        if (!fraction(&s, &usec) || *s)
                return -EINVAL;
        *ret = sec * USEC_PER_SEC_U64 + usec;
        return 0;
}

static int parse_rfc3339(const char *s, uint64_t *ret) {
        static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        unsigned Y, M, D, h, m, sec, oh = 0, om = 0;
        struct tm tm = {};
        int64_t offset = 0;
        uint64_t usec;
        time_t t;

        if (!digits(&s, 4, &Y) || *s++ != '-' || !digits(&s, 2, &M) || *s++ != '-' || !digits(&s, 2, &D))
                return -EINVAL;
        if (*s != 'T' && *s != 't' && *s != ' ')
                return -EINVAL;
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &m) || *s++ != ':' || !digits(&s, 2, &sec) ||
            !fraction(&s, &usec))
                return -EINVAL;
        if (*s == 'Z' || *s == 'z')
                s++;
        else if (*s == '+' || *s == '-') {
                int sign = *s++ == '-' ? -1 : 1;

                if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (int64_t) (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (*s)
                return -EINVAL;
        /* 60: a leap second, taken as the next second's start (as time_t has none). */
        if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap(Y)) || h > 23 || m > 59 || sec > 60)
                return -EINVAL;

        tm = (struct tm) { .tm_year = (int) Y - 1900, .tm_mon = (int) M - 1, .tm_mday = (int) D,
                           .tm_hour = (int) h, .tm_min = (int) m, .tm_sec = (int) sec };
        t = timegm(&tm);
        if (t == (time_t) -1 || (int64_t) t - offset < 0)
                return -ERANGE;
        if ((uint64_t) ((int64_t) t - offset) > TIMESTAMP_SEC_MAX)
                return -ERANGE;
        *ret = (uint64_t) ((int64_t) t - offset) * USEC_PER_SEC_U64 + usec;
        return 0;
}

static int parse_relative(const char *s, uint64_t now_usec, uint64_t *ret) {
        uint64_t n = 0, unit;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                n = n * 10 + (uint64_t) (*p - '0');
                if (n > TIMESTAMP_SEC_MAX)
                        return -ERANGE;
        }
        if (p[0] == 0 || p[1] != 0)
                return -EINVAL;
        switch (*p) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return -EINVAL;
        }
        if (n > TIMESTAMP_SEC_MAX / unit || n * unit * USEC_PER_SEC_U64 > now_usec)
                return -ERANGE;
        *ret = now_usec - n * unit * USEC_PER_SEC_U64;
        return 0;
}

int timestamp_parse(const char *s, uint64_t now_usec, bool allow_relative, uint64_t *ret) {
        size_t len;

        if (!s || !ret)
                return -EINVAL;
        len = strnlen(s, TIMESTAMP_TEXT_MAX + 1);
        if (len == 0 || len > TIMESTAMP_TEXT_MAX)
                return -EINVAL;
        if (len >= 10 && s[4] == '-')
                return parse_rfc3339(s, ret);
        if (allow_relative && strchr("smhd", s[len - 1]))
                return parse_relative(s, now_usec, ret);
        return parse_unix(s, ret);
}
