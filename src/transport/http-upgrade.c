/* SPDX-License-Identifier: MIT */
/* http-upgrade.c - token lists of Connection/Upgrade, and the head of an Upgrade's answer (http-upgrade.h). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "transport/http-upgrade.h"

static bool http_is_ows(char c) {
        return c == ' ' || c == '\t';
}

bool http_header_has_token(const char *value, size_t n, const char *token) {
        size_t t = strlen(token), i = 0;

        while (i < n) {
                size_t start, end;

                while (i < n && (http_is_ows(value[i]) || value[i] == ','))
                        i++;
                start = i;
                while (i < n && value[i] != ',')
                        i++;
                end = i;
                while (end > start && http_is_ows(value[end - 1]))
                        end--;
                if (end - start == t && strncasecmp(value + start, token, t) == 0)
                        return true;
        }
        return false;
}

/* One header line (without its CRLF) of the head into ret. */
static int http_upgrade_header(const char *line, size_t n, HttpUpgradeHead *ret, bool *conn, bool *upg) {
        const char *colon = memchr(line, ':', n);
        const char *v;
        size_t name, vn;

        if (!colon || colon == line)
                return -EBADMSG;
        name = (size_t) (colon - line);
        if (memchr(line, ' ', name) || memchr(line, '\t', name))
                return -EBADMSG;
        v = colon + 1;
        vn = n - name - 1;
        if (name == strlen("Connection") && strncasecmp(line, "Connection", name) == 0)
                *conn = *conn || http_header_has_token(v, vn, "upgrade");
        else if (name == strlen("Upgrade") && strncasecmp(line, "Upgrade", name) == 0)
                *upg = *upg || http_header_has_token(v, vn, HTTP_UPGRADE_PROTOCOL);
        else if (name == strlen("Content-Length") && strncasecmp(line, "Content-Length", name) == 0) {
                int64_t len = 0;
                size_t i = 0;

                while (i < vn && http_is_ows(v[i]))
                        i++;
                if (i == vn || ret->content_length >= 0)
                        return -EBADMSG;   /* empty, or a second one */
                for (; i < vn && v[i] >= '0' && v[i] <= '9'; i++) {
                        if (len > (INT64_MAX - 9) / 10)
                                return -EBADMSG;
                        len = len * 10 + (v[i] - '0');
                }
                while (i < vn && http_is_ows(v[i]))
                        i++;
                if (i != vn)
                        return -EBADMSG;
                ret->content_length = len;
        }
        return 0;
}

int http_upgrade_head_parse(const char *buf, size_t size, HttpUpgradeHead *ret) {
        HttpUpgradeHead h = { .content_length = -1 };
        bool conn = false, upg = false;
        const char *p, *end = NULL;
        size_t limit = size < HTTP_UPGRADE_HEAD_MAX ? size : HTTP_UPGRADE_HEAD_MAX;
        int r;

        /* The status line first, so that what is not HTTP fails at once rather than at the size limit. */
        if (limit >= 5 && strncmp(buf, "HTTP/", 5) != 0)
                return -EBADMSG;
        if (limit < 5 && strncmp(buf, "HTTP/", limit) != 0)
                return -EBADMSG;
        for (size_t i = 0; i + 3 < limit && !end; i++)
                if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
                        end = buf + i + 2;   /* the start of the empty line */
        if (!end)
                return size >= HTTP_UPGRADE_HEAD_MAX ? -E2BIG : 0;
        h.head_size = (size_t) (end - buf) + 2;

        /* "HTTP/1.1 101 Switching Protocols": version, a space, three digits, then a space or the line's end. */
        p = memchr(buf, '\r', (size_t) (end - buf));
        if (!p || p - buf < 12 || memchr(buf, '\n', (size_t) (p - buf)) || strncmp(buf, "HTTP/1.", 7) != 0 ||
            buf[7] < '0' || buf[7] > '9' || buf[8] != ' ' || buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' ||
            buf[11] > '9' || (p - buf > 12 && buf[12] != ' '))
                return -EBADMSG;
        h.status = (unsigned) ((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0'));

        for (p += 2; p < end;) {
                const char *eol = memchr(p, '\r', (size_t) (end - p));

                if (!eol || eol[1] != '\n')
                        return -EBADMSG;
                if (memchr(p, '\n', (size_t) (eol - p)) || memchr(p, 0, (size_t) (eol - p)))
                        return -EBADMSG;
                r = http_upgrade_header(p, (size_t) (eol - p), &h, &conn, &upg);
                if (r < 0)
                        return r;
                p = eol + 2;
        }
        h.upgrade = conn && upg;
        *ret = h;
        return 1;
}
