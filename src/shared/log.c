/* SPDX-License-Identifier: MIT */
/* log.c - the one logger (log.h): stderr lines, or journal entries in journald's native protocol. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>

#include "shared/log.h"

#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"
#define LOG_LINE_MAX 2048

static int log_max_level = 6;
static int log_journal_fd = -EBADF;

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

/* stderr is the journal's stream when JOURNAL_STREAM names its device and inode (systemd sets it for a
 * service whose stderr it connected there; a child that inherited the variable but not the fd must not
 * count). Read once: neither changes under a running daemon. */
static bool log_to_journal(void) {
        static int journal = -1;
        unsigned long long dev, ino;
        const char *e;
        struct stat st;

        if (journal >= 0)
                return journal;
        e = getenv("JOURNAL_STREAM");
        journal = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
                  (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
        return journal;
}

bool log_field_name_is_valid(const char *field) {
        size_t n = 0;

        /* journald's rule: A-Z, 0-9 and '_', not starting with '_' (its own trusted fields) or a digit. */
        if (!field || field[0] == '_' || (field[0] >= '0' && field[0] <= '9'))
                return false;
        for (; field[n] && field[n] != '='; n++)
                if (!((field[n] >= 'A' && field[n] <= 'Z') || (field[n] >= '0' && field[n] <= '9') || field[n] == '_'))
                        return false;
        return n > 0 && n <= LOG_FIELD_NAME_MAX && field[n] == '=';
}

/* Native protocol: "NAME=value\n", or for a value with a newline "NAME\n" + its length (64-bit little
 * endian) + value + "\n". */
ssize_t log_journal_encode(char *const *fields, char *buf, size_t size) {
        size_t used = 0;

        for (char *const *f = fields; f && *f; f++) {
                const char *eq = strchr(*f, '='), *value;
                size_t name_len, value_len, need;
                bool binary;

                if (!log_field_name_is_valid(*f))
                        return -EINVAL;
                name_len = (size_t) (eq - *f);
                value = eq + 1;
                value_len = strlen(value);
                binary = memchr(value, '\n', value_len) != NULL;
                need = name_len + 1 + (binary ? 8 : 0) + value_len + 1;
                if (need > size - used)
                        return -ENOBUFS;
                if (!binary) {
                        memcpy(buf + used, *f, name_len + 1 + value_len);
                        used += name_len + 1 + value_len;
                } else {
                        uint64_t le = value_len;
                        memcpy(buf + used, *f, name_len);
                        used += name_len;
                        buf[used++] = '\n';
                        for (unsigned i = 0; i < 8; i++, le >>= 8)
                                buf[used++] = (char) (le & 0xff);
                        memcpy(buf + used, value, value_len);
                        used += value_len;
                }
                buf[used++] = '\n';
        }
        return (ssize_t) used;
}

static int log_journal_send(char *const *fields) {
        static const struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = LOG_JOURNAL_SOCKET };
        char buf[LOG_ENTRY_MAX];
        ssize_t n;

        n = log_journal_encode(fields, buf, sizeof(buf));
        if (n < 0)
                return (int) n;
        if (log_journal_fd < 0) {
                log_journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (log_journal_fd < 0)
                        return -errno;
        }
        /* Never wait for journald: a full socket buffer loses this entry to stderr, not the event loop. */
        if (sendto(log_journal_fd, buf, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT, (const struct sockaddr *) &sa,
                   sizeof(sa)) < 0)
                return -errno;
        return 0;
}

static void log_stderr(int level, const char *line, int error) {
        /* One write per line, so that lines of concurrent writers do not interleave; a longer one is cut. */
        if (log_to_journal())
                (void) fprintf(stderr, "<%d>%s%s%s\n", level, line, error > 0 ? ": " : "", error > 0 ? strerror(error) : "");
        else
                (void) fprintf(stderr, "%s: %s%s%s\n", program_invocation_short_name, line, error > 0 ? ": " : "",
                               error > 0 ? strerror(error) : "");
}

/* The message, then the journal (with the fields) or stderr (the message alone). */
__attribute__((format(printf, 4, 0)))
static int log_dispatch(int level, int error, char *const *fields, const char *fmt, va_list ap) {
        char line[LOG_LINE_MAX], message[LOG_LINE_MAX + 64], priority[16], errno_field[32], ident[64];
        char *all[LOG_FIELDS_MAX + 6];
        int saved_errno = errno, k;
        size_t n = 0;

        k = vsnprintf(line, sizeof(line), fmt, ap); /* first: %m is the caller's errno */
        if (k < 0)
                line[0] = 0;
        if (!log_to_journal()) {
                log_stderr(level, line, error);
                errno = saved_errno;
                return -error;
        }
        (void) snprintf(message, sizeof(message), "MESSAGE=%s%s%s", line, error > 0 ? ": " : "",
                        error > 0 ? strerror(error) : "");
        (void) snprintf(priority, sizeof(priority), "PRIORITY=%d", level);
        all[n++] = message;
        all[n++] = priority;
        if (error > 0) {
                (void) snprintf(errno_field, sizeof(errno_field), "ERRNO=%d", error);
                all[n++] = errno_field;
        }
        /* SYSLOG_IDENTIFIER: journald otherwise names native entries after the process's comm only. */
        (void) snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", program_invocation_short_name);
        all[n++] = ident;
        for (char *const *f = fields; f && *f && n < ELEMENTSOF(all) - 1; f++)
                all[n++] = *f;
        all[n] = NULL;
        if (log_journal_send(all) < 0)
                log_stderr(level, line, error);
        errno = saved_errno; /* logging never changes what the caller sees */
        return -error;
}

int log_internal(int level, int error, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_dispatch(level, error, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int log_struct_internal(int level, char *const *fields, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_dispatch(level, 0, fields, fmt, ap);
        va_end(ap);
        return r;
}
