/* SPDX-License-Identifier: MIT */
/* http-error.h - an HTTP error as a response states it (status, short code, text): what the gateway's request
 * parser and the one JSON mapping of a job request (http-job.c, shared with telerun --addr) report. */
#pragma once

#include "shared/macro.h"

#define HTTP_ERROR_MESSAGE_MAX 256

/* What goes wrong with a request, as the response will say it: status, short code, human text. A status of
 * 0 means "no error". code points to a static string. */
typedef struct HttpError {
        unsigned status;
        const char *code;
        const char *allow;   /* for 405: the Allow header value (static) */
        char message[HTTP_ERROR_MESSAGE_MAX];
} HttpError;

/* Sets e and returns -EINVAL. */
_printf_(4, 5) int http_error_set(HttpError *e, unsigned status, const char *code, const char *fmt, ...);
