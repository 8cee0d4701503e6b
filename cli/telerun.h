/* SPDX-License-Identifier: MIT */
/* telerun.h - telerun's command line: verbs, options (arg_* globals, as in systemd's run.c) and exit codes.
 * parse_argv() lives in telerun-args.c, apart from main(), so the unit tests can drive it. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "format.h"

/* Exit codes scripts can rely on (docs/cli.md). run, wait and start --follow exit with the job's own
 * status instead once the job has ended, and with TELERUN_EXIT_JOB_* for their own failures, as docker run,
 * env and timeout do. */
typedef enum TelerunExit {
        TELERUN_EXIT_OK = 0,
        TELERUN_EXIT_FAILURE = 1,
        TELERUN_EXIT_USAGE = 2,
        TELERUN_EXIT_NOT_FOUND = 3,
        TELERUN_EXIT_ACCESS_DENIED = 4,
        TELERUN_EXIT_UNREACHABLE = 5,
        TELERUN_EXIT_JOB_FAILED = 125,     /* run, wait, start -f: telerun or the worker failed */
        TELERUN_EXIT_JOB_NOEXEC = 126,     /* run, start -f: the command was found but cannot be executed */
        TELERUN_EXIT_JOB_NOTFOUND = 127,   /* run, start -f: the command was not found */
        TELERUN_EXIT_PIPE = 128 + 13, /* stdout's reader went away: quiet, like a pipeline's `cat` (SIGPIPE) */
} TelerunExit;

typedef enum TelerunVerb {
        VERB_NONE,
        VERB_START,
        VERB_RUN,
        VERB_STATUS,
        VERB_LOGS,
        VERB_STOP,
        VERB_LIST,
        VERB_WAIT,
        VERB_HELP,
        VERB_REMOTE,
        VERB_RM,
        VERB_KILL,
        VERB_ATTACH,
        _VERB_MAX,
} TelerunVerb;

extern TelerunVerb arg_verb;
extern char **arg_args;          /* positional arguments after the verb (borrowed from argv) */
extern bool arg_follow;
extern char **arg_env;           /* KEY=VALUE strings borrowed from argv; the array is ours */
extern const char *arg_cwd;      /* NULL = the caller's cwd locally, the account's home remotely */
extern uint64_t arg_cpu_quota;   /* 0 = not given */
extern uint64_t arg_memory_max;
extern uint64_t arg_io_read_max;
extern uint64_t arg_io_write_max;
extern uint64_t arg_tasks_max;
extern const char *arg_profile;      /* NULL = the principal's profile */
extern uint64_t arg_timeout_usec;    /* 0 = none requested */
#define TELERUN_RECONNECT_TIMEOUT_DEFAULT (30 * UINT64_C(1000000))
extern uint64_t arg_reconnect_timeout_usec; /* followers and wait: how long the worker may stay away; 0 = no retry */
extern int arg_private_network, arg_private_pid, arg_private_tmp, arg_protect_system; /* -1: not given */
extern bool arg_stdin; /* -i: the job reads telerun's stdin */
extern bool arg_tty;   /* -t: the job runs on a pseudo-terminal */
extern uint64_t arg_offset;
extern uint64_t arg_tail;        /* UINT64_MAX = not given */
#define TELERUN_STREAM_STDOUT (1u << 1)  /* the bits of the stream ids (stdout 1, stderr 2) */
#define TELERUN_STREAM_STDERR (1u << 2)
extern unsigned arg_streams;     /* logs --stdout/--stderr; 0 = both */
extern uint64_t arg_since;       /* µs since the epoch; UINT64_MAX = not given */
extern uint64_t arg_until;
extern bool arg_timestamps;
extern JsonMode arg_json;
extern bool arg_quiet;
extern bool arg_legend;
extern bool arg_force;           /* rm: stop running jobs first (-f, --force) */
extern int arg_signal;           /* kill: the signal (default SIGTERM) */
extern bool arg_any;             /* wait: until the first of the jobs ends */
extern const char *arg_name;     /* start, run: --name */
extern uint64_t arg_stop_time_usec; /* stop, rm -f: --time SEC; UINT64_MAX = the worker's grace */
extern bool arg_all;             /* list: every state (default: submitted and running jobs) */
extern unsigned arg_states;      /* list --state: 1 << JobState each; 0 = not given */
extern const char *arg_owner;    /* list --owner */
extern const char *arg_addr;     /* remote mode when set */
extern const char *arg_cert;
extern const char *arg_key;
extern const char *arg_cacert;
extern const char *arg_remote;   /* --remote NAME (telerun-remote-cmd.c resolves it into arg_addr...) */

/* Parses argv into the arg_* globals (environment: TELERUN_ADDR, TELERUN_CERT, TELERUN_KEY,
 * TELERUN_CACERT). Returns 1 to go on, 0 when done (--help, --version printed), -EINVAL on a usage error
 * (already reported on stderr). */
int parse_argv(int argc, char *argv[]);
/* Back to the defaults; frees what parse_argv() allocated. */
void telerun_args_reset(void);

void telerun_help(void);
const char *verb_to_string(TelerunVerb v);

int telerun_exit_from_error(ClientErrorKind kind);

/* telerun-remote-cmd.c: `telerun remote add|use|ls|rm` (an exit code), and the remote a command talks to:
 * --remote NAME, else $TELERUN_REMOTE, else (unless an address was given on the command line or in
 * $TELERUN_ADDR) the current one; it fills arg_addr and the cert/key/cacert not given on the command
 * line. Returns 1 when a remote or "local" was chosen, 0 when none, -EINVAL (reported) for an unknown name. */
int telerun_remote_verb(void);
int telerun_resolve_remote(bool addr_given);
void telerun_remotes_reset(void);
/* Whether the verb exits with a job's status (run, wait, start -f), so its own failures are 125-127. */
bool telerun_verb_is_job_status(void);
/* The exit code of such a verb's own failure: 127 (ExecutableNotFound), 126 (NotExecutable), else 125. */
int telerun_job_failure_exit(const ApiError *api);

/* telerun.c: reports e on stderr and returns its exit code (remembered for the 125-127 of job verbs). */
int telerun_report(ClientError *e);
/* telerun.c: run's and attach's end of a session: the output of job id from offset to its end, then the job's
 * exit status (or 125-127). With interrupt_fd (run), Ctrl-C / SIGTERM / SIGHUP stop the job. */
int telerun_follow_job(Client *c, const char *id, uint64_t offset, int output_fd, int interrupt_fd,
                       const sigset_t *old_mask);
/* telerun-attach.c */
int verb_attach(Client *c);
/* telerun-lifecycle.c */
int verb_rm(Client *c);
int verb_kill(Client *c);
int verb_wait(Client *c);
/* The filter `list` asks the worker for (arg_all, arg_states, arg_since, arg_owner, -n N). NULL: none,
 * every job (-a alone). */
const JobListFilter *telerun_list_filter(JobListFilter *buf);
