/* SPDX-License-Identifier: MIT */
/* log.c - the one logger (log.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/log.h"

static int log_max_level = 6;

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

/* stderr is the journal's stream: systemd sets JOURNAL_STREAM for a service whose stderr it connected there.
 * Read once: the environment does not change under a running daemon. */
static bool log_to_journal(void) {
        static int journal = -1;

        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;
        return journal;
}

int log_internal(int level, int error, const char *fmt, ...) {
        char prefix[64], line[2048];
        int saved_errno = errno, n;
        va_list ap;

        if (log_to_journal())
                (void) snprintf(prefix, sizeof(prefix), "<%d>", level);
        else
                (void) snprintf(prefix, sizeof(prefix), "%s: ", program_invocation_short_name);
        errno = saved_errno;   /* for %m */
        va_start(ap, fmt);
        n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (n < 0)
                line[0] = 0;
        /* One write per line, so that lines of concurrent writers do not interleave; a longer one is cut. */
        if (error > 0)
                (void) fprintf(stderr, "%s%s: %s\n", prefix, line, strerror(error));
        else
                (void) fprintf(stderr, "%s%s\n", prefix, line);
        return -error;
}
