/* SPDX-License-Identifier: MIT */
/* reaper.c - spawning the job's reaper and its control protocol (reaper.h). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/exec-spec.h"
#include "shared/macro.h"
#include "engine/reaper.h"

/* Moves *fd to a number above the ones the helper's fds are dup2()ed to: posix_spawn applies the file
 * actions in order, so a source fd that is itself a target (fds 1-6 are free after a restart with fds from
 * the fd store closed) would be overwritten before it is copied. */
static int fd_move_above_targets(int *fd) {
        int moved;

        if (*fd > EXEC_ERROR_READ_FD)
                return 0;
        moved = fcntl(*fd, F_DUPFD_CLOEXEC, EXEC_ERROR_READ_FD + 1);
        if (moved < 0)
                return -errno;
        safe_close(*fd);
        *fd = moved;
        return 0;
}

/* teleworker-exec's command line; args has room for 16. */
static void reaper_args(const ReaperSpawn *s, char *uid_s, char *gid_s, char **args) {
        size_t n = 0;

        args[n++] = (char *) "teleworker-exec";
        args[n++] = (char *) "--uid";
        args[n++] = uid_s;
        args[n++] = (char *) "--gid";
        args[n++] = gid_s;
        /* A dynamic user has no supplementary groups: without --user the helper sets none, and initgroups()
         * never asks our own userdb service through NSS from a root process. */
        if (s->user) {
                args[n++] = (char *) "--user";
                args[n++] = (char *) s->user;
        }
        args[n++] = (char *) "--job-id";
        args[n++] = (char *) s->job_id;
        if (s->no_new_privs)
                args[n++] = (char *) "--no-new-privs";
        if (s->isolation.private_pid > 0)
                args[n++] = (char *) "--private-pid";
        if (s->isolation.private_tmp > 0)
                args[n++] = (char *) "--private-tmp";
        if (s->isolation.private_network > 0)
                args[n++] = (char *) "--private-network";
        if (s->isolation.protect_system > 0)
                args[n++] = (char *) "--protect-system";
        assert(n < 16);
        args[n] = NULL;
}

int reaper_spawn(ReaperSpawn *s, pid_t *ret_pid, int *ret_pidfd) {
        char uid_s[16], gid_s[16], *args[16];
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        pid_t pid;
        int r, pidfd;

        if ((r = fd_move_above_targets(&s->out_write_fd)) < 0 || (r = fd_move_above_targets(&s->control_fd)) < 0 ||
            (r = fd_move_above_targets(&s->spec_fd)) < 0 || (r = fd_move_above_targets(&s->out_read_fd)) < 0 ||
            (r = fd_move_above_targets(&s->err_write_fd)) < 0 || (r = fd_move_above_targets(&s->err_read_fd)) < 0)
                return r;
        snprintf(uid_s, sizeof(uid_s), "%u", (unsigned) s->uid);
        snprintf(gid_s, sizeof(gid_s), "%u", (unsigned) s->gid);
        reaper_args(s, uid_s, gid_s, args);

        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, s->out_write_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, s->err_write_fd, STDERR_FILENO);
        posix_spawn_file_actions_adddup2(&fa, s->control_fd, EXEC_CONTROL_FD);
        posix_spawn_file_actions_adddup2(&fa, s->spec_fd, EXEC_SPEC_FD);
        /* The reaper keeps a copy of the read end: it hands it to the next daemon if systemd drops ours. */
        posix_spawn_file_actions_adddup2(&fa, s->out_read_fd, EXEC_OUTPUT_READ_FD);
        posix_spawn_file_actions_adddup2(&fa, s->err_read_fd, EXEC_ERROR_READ_FD);

        /* The helper is root: its environment is ours to choose, never the caller's (see manager_new). */
        r = posix_spawn(&pid, s->exec_path, &fa, &attr, args, s->exec_env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return -r;

        /* Our unreaped child: its PID cannot be reused before we wait for it, so pidfd_open is race-free. */
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
                r = -errno;
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        return 0;
}

int reaper_read_message(int fd, ReaperBuffer *buf, ReaperMessage *ret) {
        for (;;) {
                ssize_t n = recv(fd, &buf->u, sizeof(buf->u), MSG_DONTWAIT);
                ExecMessage msg;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0)
                        return -EPIPE; /* the reaper closed its end: it is exiting */
                if (n < (ssize_t) sizeof(msg))
                        continue;
                msg = buf->u.msg;
                *ret = (ReaperMessage) { .type = msg.type, .code = msg.code, .value = msg.value };
                if (msg.type == EXEC_MSG_EXECUTABLE) {
                        if (msg.value < 0 || (size_t) n != sizeof(msg) + (size_t) msg.value)
                                continue;
                        ret->path = buf->u.buf + sizeof(msg);
                        ret->path_len = (size_t) msg.value;
                        return 1;
                }
                if (n != (ssize_t) sizeof(msg))
                        continue;
                return 1;
        }
}

int reaper_send_go(int fd) {
        ExecMessage msg = { .type = EXEC_MSG_GO };

        if (send(fd, &msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) sizeof(msg))
                return -EPIPE;
        return 0;
}

int reaper_send_kill(int fd, int sig) {
        ExecMessage msg = { .type = EXEC_MSG_KILL, .value = sig };

        if (send(fd, &msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) sizeof(msg))
                return -EPIPE;
        return 0;
}

void reaper_release(int fd) {
        ExecMessage release = { .type = EXEC_MSG_RELEASE };

        /* Said, not only implied by the hang-up: a reaper that sees its socket close without it knows the
         * daemon went away for good and waits for the next one (exec-protocol.h). */
        (void) send(fd, &release, sizeof(release), MSG_NOSIGNAL | MSG_DONTWAIT);
        /* Shut the socket down, not just our fd: the reaper's recv() ends at once whoever else holds a copy.
         * systemd's copy goes with FDSTOREREMOVE, which a busy or hung manager handles late or never, and
         * until then a reaper that was never released would wait outside any scope. */
        (void) shutdown(fd, SHUT_RDWR);
}
