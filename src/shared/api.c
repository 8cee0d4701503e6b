/* SPDX-License-Identifier: MIT */
/* api.c - the one classification of the API's errors (api.h): D-Bus name -> errno, HTTP, telerun's exit. */
#include <errno.h>
#include <string.h>

#include "shared/api.h"
#include "shared/macro.h"

#define UNAVAILABLE(n, e) { "org.freedesktop.DBus.Error." n, e, 503, "daemon-unavailable", API_ERROR_CLASS_UNREACHABLE }

/* The freedesktop names' errnos are sd-bus's own (sd_bus_error_get_errno()). A 503 is "try again": the
 * gateway adds Retry-After and words the message itself (the bus's text is not written for its clients).
 * Where entries share an HTTP code, the first one's errno is what a remote telerun reports. */
static const ApiError api_errors[] = {
        { TW_ERROR_ACCESS_DENIED, EACCES, 403, "access-denied", API_ERROR_CLASS_ACCESS_DENIED },
        { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", EACCES, 403, "access-denied",
          API_ERROR_CLASS_ACCESS_DENIED },
        { TW_ERROR_INVALID_ARGS, EINVAL, 400, "invalid-argument", API_ERROR_CLASS_INVALID },
        { TW_ERROR_NO_SUCH_JOB, ENOENT, 404, "no-such-job", API_ERROR_CLASS_NOT_FOUND },
        { TW_ERROR_NO_OUTPUT, ENODATA, 404, "no-output", API_ERROR_CLASS_NOT_FOUND },
        /* OpenInput: no stdin stream, or it was handed out already, or the job ended. */
        { TW_ERROR_NO_INPUT, EPIPE, 409, "no-input", API_ERROR_CLASS_INVALID },
        { TW_ERROR_EXECUTABLE_NOT_FOUND, ENOEXEC, 400, "executable-not-found", API_ERROR_CLASS_INVALID },
        { TW_ERROR_LIMIT_EXCEEDED, ERANGE, 400, "limit-exceeded", API_ERROR_CLASS_INVALID },
        { TW_ERROR_START_FAILED, EIO, 500, "start-failed", API_ERROR_CLASS_OTHER },
        { TW_ERROR_STOP_FAILED, EIO, 500, "stop-failed", API_ERROR_CLASS_OTHER },
        { TW_ERROR_TOO_MANY_JOBS, EUSERS, 429, "too-many-jobs", API_ERROR_CLASS_OTHER },
        { TW_ERROR_TOO_MANY_READERS, EMFILE, 429, "too-many-readers", API_ERROR_CLASS_OTHER },
        { TW_ERROR_AMBIGUOUS_JOB, ENOTUNIQ, 409, "ambiguous-job", API_ERROR_CLASS_INVALID },
        { TW_ERROR_NOT_EXECUTABLE, EACCES, 400, "not-executable", API_ERROR_CLASS_INVALID },
        { TW_ERROR_JOB_RUNNING, EBUSY, 409, "job-running", API_ERROR_CLASS_OTHER },
        { TW_ERROR_JOB_NOT_RUNNING, ESRCH, 409, "job-not-running", API_ERROR_CLASS_OTHER },
        { TW_ERROR_JOB_NAME_IN_USE, EADDRINUSE, 409, "name-in-use", API_ERROR_CLASS_INVALID },
        UNAVAILABLE("ServiceUnknown", EHOSTUNREACH),
        UNAVAILABLE("NameHasNoOwner", ENXIO),
        UNAVAILABLE("NoReply", ETIMEDOUT),
        UNAVAILABLE("Timeout", ETIMEDOUT),
        UNAVAILABLE("TimedOut", ETIMEDOUT),
        UNAVAILABLE("Disconnected", ECONNRESET),
        UNAVAILABLE("NoServer", EHOSTDOWN),
        /* The bus's own limits (too many pending calls); the daemon's List too big for one reply also, which
         * neither the gateway nor telerun calls (they page with ListPage). */
        UNAVAILABLE("LimitsExceeded", ENOBUFS),
        UNAVAILABLE("NoMemory", ENOMEM),
        /* Bus activation of the worker failed (a family of names). */
        UNAVAILABLE("Spawn.", ENOEXEC),
        /* The daemon answers a call it cannot finish because it is stopping: it will be back. */
        { TW_ERROR_SHUTTING_DOWN, ESHUTDOWN, 503, "daemon-unavailable", API_ERROR_CLASS_UNREACHABLE },
};

static bool api_error_matches(const ApiError *e, const char *name) {
        size_t n = strlen(e->name);

        if (n > 0 && e->name[n - 1] == '.')
                return strncmp(name, e->name, n) == 0 && name[n];
        return streq(name, e->name);
}

const ApiError *api_error_from_name(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(api_errors); i++)
                if (api_error_matches(&api_errors[i], name))
                        return &api_errors[i];
        return NULL;
}

const ApiError *api_error_from_http_code(const char *code) {
        if (!code)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(api_errors); i++)
                if (streq(code, api_errors[i].http_code))
                        return &api_errors[i];
        return NULL;
}

const ApiError *api_error_table(unsigned *ret_n) {
        *ret_n = ELEMENTSOF(api_errors);
        return api_errors;
}

bool api_errno_is_unreachable(int r) {
        switch (-r) {
        case ENOTCONN:
        case ECONNRESET:
        case ECONNREFUSED:
        case ENOENT:      /* no bus socket */
        case EACCES:      /* the bus socket refused us */
        case EHOSTDOWN:
        case ETIMEDOUT:
        case EPIPE:
        case ESHUTDOWN:
        case ENOMEDIUM:   /* sd-bus: the connection was closed */
                return true;
        default:
                return false;
        }
}

ApiErrorClass api_error_class_from_http(unsigned status, const char *code, int *ret_errno) {
        static const struct {
                unsigned status;
                ApiErrorClass class;
                int errno_value;
        } by_status[] = {
                { 400, API_ERROR_CLASS_INVALID, EINVAL },
                { 413, API_ERROR_CLASS_INVALID, EINVAL },
                { 401, API_ERROR_CLASS_ACCESS_DENIED, EACCES },
                { 403, API_ERROR_CLASS_ACCESS_DENIED, EACCES },
                { 404, API_ERROR_CLASS_NOT_FOUND, ENOENT },
                { 502, API_ERROR_CLASS_UNREACHABLE, EHOSTUNREACH },
                { 503, API_ERROR_CLASS_UNREACHABLE, EHOSTUNREACH },
                { 504, API_ERROR_CLASS_UNREACHABLE, EHOSTUNREACH },
        };
        const ApiError *e = api_error_from_http_code(code);

        /* A code with another status than ours is not ours (an older or a foreign gateway). */
        if (e && e->http_status == status) {
                *ret_errno = -e->errno_value;
                return e->cli_class;
        }
        for (size_t i = 0; i < ELEMENTSOF(by_status); i++)
                if (by_status[i].status == status) {
                        *ret_errno = -by_status[i].errno_value;
                        return by_status[i].class;
                }
        *ret_errno = -EIO;
        return API_ERROR_CLASS_OTHER;
}
