/* SPDX-License-Identifier: MIT */
/* exec-protocol.h - what teleworkerd and teleworker-exec (the per-job reaper) say over the control socket.
 *
 * The daemon posix_spawn()s teleworker-exec with fd 0 = /dev/null, fds 1 and 2 = the job's output pipe and
 * fd 3 = one end of a SOCK_SEQPACKET socketpair. The reaper waits for EXEC_MSG_GO, which the daemon sends
 * only once systemd has put the reaper into the job's scope; then it forks the job (which drops privileges
 * and execs), reports EXEC_MSG_STARTED and, when the job's main process ends, EXEC_MSG_EXITED. It stays in
 * the scope until the daemon closes the socket, so the scope (and its cgroup counters: OOM kills, memory
 * peak, CPU time) still exists while the daemon reads how the job ended. EOF before EXEC_MSG_GO means "do
 * not run": the reaper exits without executing anything. */
#pragma once

#include <stdint.h>

#define EXEC_CONTROL_FD 3

enum {
        EXEC_MSG_GO = 'G',
        EXEC_MSG_STARTED = 'S', /* value: pid of the job's main process */
        EXEC_MSG_EXITED = 'X',  /* code: CLD_EXITED / CLD_KILLED / CLD_DUMPED, value: exit status or signal */
        EXEC_MSG_FAILED = 'F',  /* value: errno of a setup step that failed before exec (message on stderr) */
};

typedef struct ExecMessage {
        uint8_t type;
        uint8_t pad[3];
        int32_t code;
        int32_t value;
} ExecMessage;

/* Exit statuses of the job's main process when teleworker-exec could not execute it (as shells do). */
#define EXEC_EXIT_SETUP 125   /* user, groups or working directory could not be set */
#define EXEC_EXIT_NOEXEC 126  /* found but not executable */
#define EXEC_EXIT_NOTFOUND 127
