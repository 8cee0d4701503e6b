/* SPDX-License-Identifier: MIT */
/* exec-protocol.h - what teleworkerd and teleworker-exec (the per-job reaper) say over the control socket.
 *
 * The daemon posix_spawn()s teleworker-exec with a fixed environment, fd 0 = /dev/null, fd 1 = the job's
 * stdout pipe, fd 2 = its stderr pipe, fd 3 = one end of a SOCK_SEQPACKET socketpair and fd 4 = the job spec (a sealed memfd,
 * exec-spec.h: argv, env, cwd, allow-list as data). The reaper parses the spec, then waits for EXEC_MSG_GO,
 * which the daemon sends only once systemd has put the reaper into the job's scope; then it forks the job,
 * which drops privileges and only then resolves cwd and argv[0] and execs. The reaper reports
 * EXEC_MSG_EXECUTABLE (the resolved path) and EXEC_MSG_STARTED once execve succeeded, or EXEC_MSG_FAILED with
 * the step that failed; when the job's main process ends, EXEC_MSG_EXITED. It stays in the scope until the
 * daemon closes the socket, so the scope (and its cgroup counters: OOM kills, memory peak, CPU time) still
 * exists while the daemon reads how the job ended. EOF before EXEC_MSG_GO means "do not run": the reaper
 * exits without executing anything.
 *
 * The daemon releases the reaper with EXEC_MSG_RELEASE, then shuts the socket down. EOF without a release
 * means the daemon's end went away for good (systemd drops its fd store on `systemctl stop`): the reaper
 * then listens on EXEC_HANDOVER_DIR/<job id>.sock (root only), where the next daemon connects and gets
 * EXEC_MSG_HANDOVER with three fds (SCM_RIGHTS): its end of a new control socket and the read ends of the
 * stdout and stderr pipes, which the reaper keeps copies of (fds EXEC_OUTPUT_READ_FD, EXEC_ERROR_READ_FD) so
 * the job never sees its output hang up.
 * A job's stdin is /dev/null unless fd EXEC_STDIN_FD is open at the start (the caller's fd, or the read end
 * of a pipe whose write end the daemon hands out once).
 * Until released, the reaper sends its reports (STARTED or FAILED, and EXITED) again after each handover;
 * the daemon ignores what it already knows. */
#pragma once

#include <stdint.h>

#define EXEC_CONTROL_FD 3
#define EXEC_OUTPUT_READ_FD 5
/* The stderr pipe's read end, kept like fd 5 (fd 2 is then the stderr pipe's write end, apart from fd 1). A
 * reaper spawned without it (by a daemon from before the streams were kept apart) hands over two fds. */
#define EXEC_ERROR_READ_FD 6
/* The job's stdin, when the caller gave one (StandardInput): present only then. The reaper (root) neither
 * reads it nor keeps it: the job's child dup2()s it onto fd 0 once it has dropped to the job's account, and
 * the reaper closes its copy after the fork. Kept well above the other fds, the highest target of the spawn. */
#define EXEC_STDIN_FD 9
#define EXEC_HANDOVER_DIR "/run/teleworker/reapers"

enum {
        EXEC_MSG_GO = 'G',
        EXEC_MSG_EXECUTABLE = 'E', /* value: length of the resolved path that follows the header (no NUL) */
        EXEC_MSG_STARTED = 'S',    /* value: pid of the job's main process; execve has succeeded */
        EXEC_MSG_EXITED = 'X',     /* code: CLD_EXITED / CLD_KILLED / CLD_DUMPED, value: exit status or signal */
        EXEC_MSG_FAILED = 'F',     /* code: ExecStage that failed before execve succeeded, value: errno */
        EXEC_MSG_RELEASE = 'R',    /* daemon → reaper: the reports are read, the reaper may go */
        EXEC_MSG_KILL = 'K',       /* daemon → reaper: value: a signal for the job's main process (Kill) */
        EXEC_MSG_HANDOVER = 'H',   /* reaper → a new daemon, on the handover socket: fds [control, output(, stderr)] */
        EXEC_MSG_TERMINAL = 'T',   /* reaper → daemon, before STARTED: the job's pty master (SCM_RIGHTS), for
                                    * TIOCSWINSZ only (--tty; the relay opened it as the job's user) */
};

/* The steps of the job's child before it runs the job. The daemon turns a failure into Start's error:
 * CWD into InvalidArgs, LOOKUP and EXEC into ExecutableNotFound, DENIED into AccessDenied, SETUP into
 * StartFailed. Every step after SETUP runs with the job's credentials only. */
typedef enum ExecStage {
        EXEC_STAGE_SETUP = 1,  /* namespaces, mounts, groups, ids (as root, on no caller data) */
        EXEC_STAGE_CWD = 2,    /* chdir to the requested working directory */
        EXEC_STAGE_LOOKUP = 3, /* argv[0] not found, or not an executable file */
        EXEC_STAGE_DENIED = 4, /* the resolved path is not in the policy's allow-list */
        EXEC_STAGE_EXEC = 5,   /* execve itself failed */
} ExecStage;

typedef struct ExecMessage {
        uint8_t type;
        uint8_t pad[3];
        int32_t code;
        int32_t value;
} ExecMessage;

/* The longest resolved path the reaper reports (longer ones fail the lookup with ENAMETOOLONG). */
#define EXEC_PATH_MAX 4096

/* Exit statuses of the job's child when it could not execute the job (as shells do). */
#define EXEC_EXIT_SETUP 125   /* user, groups or working directory could not be set */
#define EXEC_EXIT_NOEXEC 126  /* found but not executable */
#define EXEC_EXIT_NOTFOUND 127
