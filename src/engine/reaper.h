/* SPDX-License-Identifier: MIT */
/* reaper.h - the job's reaper, teleworker-exec: spawning it and speaking its control protocol
 * (exec-protocol.h). No manager and no job here: the spawn takes what the helper's command line and fds need;
 * the control socket gives typed, checked messages.
 *
 * The reaper is the scope's first process: it waits (blocked) until the daemon says GO once systemd put it
 * in its scope, then runs the job as its user and reports STARTED, FAILED or EXITED. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "exec/exec-protocol.h"
#include "engine/manager.h"

typedef struct ReaperSpawn {
        const char *exec_path;  /* teleworker-exec */
        char **exec_env;        /* its whole environment: fixed, never a caller's */
        uid_t uid;
        gid_t gid;
        const char *user;       /* for initgroups(); NULL: no supplementary groups (a dynamic user) */
        const char *job_id;
        bool no_new_privs;
        JobIsolation isolation;
        int out_write_fd;       /* the job's stdout */
        int out_read_fd;        /* a copy of the pipe's read end the reaper keeps for a next daemon */
        int err_write_fd;       /* the job's stderr: its own pipe */
        int err_read_fd;        /* a copy of that pipe's read end, kept likewise */
        int control_fd;         /* the reaper's end of the control socket */
        int spec_fd;            /* the sealed memfd of the job's spec (exec-spec.h) */
        int stdin_fd;           /* the job's stdin (EXEC_STDIN_FD), or -EBADF: /dev/null */
        unsigned tty_rows, tty_cols; /* --tty=ROWSxCOLS (0: no terminal) */
} ReaperSpawn;

/* Spawns the reaper; *ret_pidfd watches it (race-free: our unreaped child). The fds in s may be moved to
 * other numbers (posix_spawn's dup2 order). On failure nothing is left running. */
int reaper_spawn(ReaperSpawn *s, pid_t *ret_pid, int *ret_pidfd);

typedef struct ReaperMessage {
        int type;               /* EXEC_MSG_* */
        int code;
        int value;
        const char *path;       /* EXEC_MSG_EXECUTABLE: the resolved path (not NUL-terminated), path_len bytes */
        size_t path_len;
        int fd;                 /* EXEC_MSG_TERMINAL: the pty master, the caller's to close; else -EBADF */
} ReaperMessage;

typedef struct ReaperBuffer {
        union {
                ExecMessage msg;
                char buf[sizeof(ExecMessage) + EXEC_PATH_MAX];
        } u;
} ReaperBuffer;

/* The next well-formed message from the control socket into *ret (pointing into buf): 1; 0 when none is
 * waiting (EAGAIN); -EPIPE when the reaper closed its end. Malformed datagrams are skipped. */
int reaper_read_message(int fd, ReaperBuffer *buf, ReaperMessage *ret);
/* GO: the job may run. 0, or -EPIPE when the reaper is gone. */
int reaper_send_go(int fd);
/* KILL: the reaper sends sig to the job's main process. 0, or -EPIPE when the reaper is gone. */
int reaper_send_kill(int fd, int sig);
/* RELEASE, then shuts the socket down (whoever else holds a copy): the reaper stops waiting for us. */
void reaper_release(int fd);
