/* SPDX-License-Identifier: MIT */
/* http-error.c - setting an HttpError. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "transport/http-error.h"

int http_error_set(HttpError *e, unsigned status, const char *code, const char *fmt, ...) {
        va_list ap;

        e->status = status;
        e->code = code;
        e->allow = NULL;
        va_start(ap, fmt);
        (void) vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return -EINVAL;
}
