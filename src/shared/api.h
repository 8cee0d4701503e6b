/* SPDX-License-Identifier: MIT */
/* api.h - the teleworker API contract, defined once: the bus name, object paths, interfaces, the error names
 * (docs/dbus.md, "Errors") and the one table that says what each error is on every transport: its errno, its
 * HTTP status and JSON "error" code (docs/http.md, "Errors") and telerun's exit class (docs/cli.md, "Exit
 * status"). The daemon sets these names, the gateway and both telerun backends classify by this table; the
 * bounds of a start request are here too, so that every front refuses what the daemon would.
 *
 * No D-Bus or OpenSSL types: every layer may include it. */
#pragma once

#include <stdbool.h>

#define TW_BUS_NAME "org.teleworker.worker1"
#define TW_BUS_PATH "/org/teleworker/worker1"
/* One object per job below it: TW_BUS_JOB_PATH_PREFIX "/" and the id's 32 hex digits. */
#define TW_BUS_JOB_PATH_PREFIX "/org/teleworker/worker1/job"
#define TW_BUS_INTERFACE_MANAGER "org.teleworker.worker1.Manager"
#define TW_BUS_INTERFACE_REMOTE "org.teleworker.worker1.Remote"
#define TW_BUS_INTERFACE_JOB "org.teleworker.worker1.Job"

#define TW_ERROR_PREFIX "org.teleworker.worker1.Error."
#define TW_ERROR_NO_SUCH_JOB TW_ERROR_PREFIX "NoSuchJob"
#define TW_ERROR_NO_OUTPUT TW_ERROR_PREFIX "NoOutput"
#define TW_ERROR_NO_INPUT TW_ERROR_PREFIX "NoInput"
#define TW_ERROR_EXECUTABLE_NOT_FOUND TW_ERROR_PREFIX "ExecutableNotFound"
#define TW_ERROR_LIMIT_EXCEEDED TW_ERROR_PREFIX "LimitExceeded"
#define TW_ERROR_START_FAILED TW_ERROR_PREFIX "StartFailed"
#define TW_ERROR_STOP_FAILED TW_ERROR_PREFIX "StopFailed"
#define TW_ERROR_SHUTTING_DOWN TW_ERROR_PREFIX "ShuttingDown"
#define TW_ERROR_TOO_MANY_JOBS TW_ERROR_PREFIX "TooManyJobs"
#define TW_ERROR_TOO_MANY_READERS TW_ERROR_PREFIX "TooManyReaders"
/* Lifecycle (docs/dbus.md): a job prefix that names more than one job, argv[0] found but not executable
 * (telerun run's 126 against 127 for ExecutableNotFound), Remove of a job that has not ended, Kill of a job
 * that does not run. */
#define TW_ERROR_AMBIGUOUS_JOB TW_ERROR_PREFIX "AmbiguousJob"
#define TW_ERROR_NOT_EXECUTABLE TW_ERROR_PREFIX "NotExecutable"
#define TW_ERROR_JOB_RUNNING TW_ERROR_PREFIX "JobRunning"
#define TW_ERROR_JOB_NOT_RUNNING TW_ERROR_PREFIX "JobNotRunning"
/* Start with a Name one of the owner's retained jobs has. */
#define TW_ERROR_JOB_NAME_IN_USE TW_ERROR_PREFIX "JobNameInUse"
#define TW_ERROR_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"
#define TW_ERROR_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
#define TW_ERROR_LIMITS_EXCEEDED "org.freedesktop.DBus.Error.LimitsExceeded"

/* What a caller may ask to run (docs/dbus.md, "Bounds"): every reply that carries a job's command line must
 * stay far below the bus's maximum message size (32 MiB on the system bus), whatever was stored. The
 * gateway and telerun refuse past these before anything reaches the daemon. (src/engine/manager.h still
 * repeats the identical definitions until the engine's split drops them: identical redefinitions are
 * allowed, a different value is a compile error.) */
#define JOB_ARGV_MAX 4096U
#define JOB_ENV_MAX 1024U
/* One argument or environment entry, its NUL included: the kernel's MAX_ARG_STRLEN (32 pages of 4 KiB). */
#define JOB_ARG_BYTES_MAX (128U * 1024U)
/* argv and env together, each string with its NUL. */
#define JOB_REQUEST_BYTES_MAX (1024U * 1024U)

/* telerun's classes of failure, each its own exit code (docs/cli.md, "Exit status"). */
typedef enum ApiErrorClass {
        API_ERROR_CLASS_OTHER,         /* exit 1 */
        API_ERROR_CLASS_NOT_FOUND,     /* exit 3: no such job (or no output) */
        API_ERROR_CLASS_ACCESS_DENIED, /* exit 4 */
        API_ERROR_CLASS_INVALID,       /* exit 2: the worker refused the arguments */
        API_ERROR_CLASS_UNREACHABLE,   /* exit 5: no worker, or it went away */
        _API_ERROR_CLASS_MAX,
} ApiErrorClass;

typedef struct ApiError {
        const char *name;       /* D-Bus error name; one ending in '.' names a family (a prefix) */
        int errno_value;        /* positive: what the error stands for as an errno */
        unsigned http_status;   /* the gateway's answer */
        const char *http_code;  /* the "error" of its JSON body */
        ApiErrorClass cli_class;
} ApiError;

/* The entry of a D-Bus error name, or NULL for one the API does not know (an internal error). */
const ApiError *api_error_from_name(const char *name);
/* The entry of an HTTP error code the gateway sent for a D-Bus error, or NULL (a gateway-only code such as
 * "bad-request", or an unknown one). */
const ApiError *api_error_from_http_code(const char *code);
/* Every entry, for the tests and the docs: *ret_n of them. */
const ApiError *api_error_table(unsigned *ret_n);

/* A local failure r < 0 of a D-Bus call, with no error reply: true when it means "no worker" (no bus, the
 * connection refused, reset or timed out): HTTP 503, telerun's exit 5. */
bool api_errno_is_unreachable(int r);
/* telerun's class of an HTTP error response, and the errno (negative) it stands for: by its "error" code
 * (NULL if none) when the table knows it with that status, else by the status alone (400/413 invalid,
 * 401/403 denied, 404 not found, 502-504 unreachable, anything else other). */
ApiErrorClass api_error_class_from_http(unsigned status, const char *code, int *ret_errno);
