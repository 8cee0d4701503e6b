/* SPDX-License-Identifier: MIT */
/* start-request.h - what a caller asks to run, one model for every front (docs/dbus.md, "Start"): telerun
 * builds it from its options, the gateway from a POST /v1/jobs body, and it goes on the wire as Start's
 * (as argv, as env, s cwd, a{sv} options) through one writer (src/bus/bus-start.c) and as JSON through one
 * mapping (src/transport/http-job.c: the gateway's reader and telerun --addr's writer). The option names of
 * both encodings are in the tables here.
 *
 * "Not given" is 0 for a limit and the run-time limit, -1 for an isolation flag, NULL for the profile: the
 * worker's defaults apply. The fields line up with the engine's JobRequest, which the daemon's a{sv}
 * reader fills (src/bus/bus-start.c, for bus-methods.c). */
#pragma once

#include <stdint.h>

#include "core/job.h"

typedef struct StartIsolation {
        int private_pid;     /* own PID namespace, /proc remounted */
        int private_tmp;     /* own /tmp and /var/tmp */
        int private_network; /* only loopback */
        int protect_system;  /* /usr, /boot, /efi, /etc read-only */
} StartIsolation;

#define START_ISOLATION_UNSET ((StartIsolation) { -1, -1, -1, -1 })

/* What the job reads on fd 0 (docs/design.md, "stdin and terminals"). Zero is /dev/null, as before the option
 * existed, so a zeroed request never hands out an fd 0 by mistake. */
typedef enum StartStdin {
        START_STDIN_NULL,   /* /dev/null */
        START_STDIN_FD,     /* the caller's fd (D-Bus fd passing, local callers only): stdin_fd */
        START_STDIN_STREAM, /* a pipe the worker creates; its write end is handed out once (OpenInput) */
        _START_STDIN_MAX,
} StartStdin;

/* "null", "fd", "stream"; NULL for an unknown kind. */
const char *start_stdin_to_string(StartStdin k);
/* _START_STDIN_MAX for an unknown name. */
StartStdin start_stdin_from_string(const char *s);

typedef struct StartRequest {
        char **argv;               /* non-empty */
        char **env;                /* KEY=VALUE, may be NULL */
        const char *cwd;           /* NULL or "" = the account's home directory */
        JobLimits limits;
        const char *profile;
        uint64_t runtime_max_usec; /* RuntimeMaxUSec */
        StartIsolation isolation;
        const char *name;          /* NULL: none (job_name_is_valid(); unique among the owner's jobs) */
        StartStdin stdin_kind;
        int stdin_fd;              /* START_STDIN_FD only: borrowed (the caller's, or the message's) */
        uint16_t tty_rows, tty_cols; /* a pseudo-terminal of this size; 0 x 0: none */
} StartRequest;

/* For a request that owns its strings (one decoded from JSON): frees them, leaves an empty request. */
void start_request_done(StartRequest *r);

typedef enum StartIsolationField {
        START_ISOLATION_PRIVATE_PID,
        START_ISOLATION_PRIVATE_TMP,
        START_ISOLATION_PRIVATE_NETWORK,
        START_ISOLATION_PROTECT_SYSTEM,
        _START_ISOLATION_MAX,
} StartIsolationField;

/* The D-Bus option ("PrivatePID") and the JSON key ("private_pid") of each isolation flag. */
const char *start_isolation_bus_name(StartIsolationField f);
const char *start_isolation_json_key(StartIsolationField f);
StartIsolationField start_isolation_from_bus_name(const char *name);
StartIsolationField start_isolation_from_json_key(const char *key);
/* NULL for _START_ISOLATION_MAX (an unknown name). */
int *start_isolation_field(StartIsolation *iso, StartIsolationField f);
int start_isolation_get(const StartIsolation *iso, StartIsolationField f);
/* The JSON key of each limit under "limits" ("cpu", "memory", ...); the D-Bus name is job_limit_name(). */
const char *start_limit_json_key(JobLimitField f);
JobLimitField start_limit_from_json_key(const char *key);

/* RuntimeMaxUSec: UINT64_MAX is "no limit"; anything else at most 100 years, so that no deadline overflows.
 * (src/engine/manager.h repeats these two until the engine's split; identical redefinitions are allowed.) */
#define JOB_RUNTIME_USEC_INFINITY UINT64_MAX
#define JOB_RUNTIME_USEC_MAX (UINT64_C(100) * 366 * 24 * 3600 * 1000000)

/* Start's other two options (besides the limits and the isolation flags). */
#define START_OPTION_RUNTIME_MAX "RuntimeMaxUSec"
#define START_OPTION_PROFILE "Profile"
#define START_OPTION_NAME "Name"
/* "h": the caller's fd (START_STDIN_FD); "s": "null" or "stream". */
#define START_OPTION_STANDARD_INPUT "StandardInput"
/* "(qq)" rows, columns: the job runs on a pseudo-terminal of that size (each 1..START_TTY_SIZE_MAX). */
#define START_OPTION_TERMINAL "Terminal"
#define START_TTY_SIZE_MAX 4096
