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

        if (*fd > EXEC_STDIN_FD)
                return 0;
        moved = fcntl(*fd, F_DUPFD_CLOEXEC, EXEC_STDIN_FD + 1);
        if (moved < 0)
                return -errno;
        safe_close(*fd);
        *fd = moved;
        return 0;
}

/* teleworker-exec's command line; args has room for 16. */
static void reaper_args(const ReaperSpawn *s, char *uid_s, char *gid_s, char *tty_s, char **args) {
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
        if (s->tty_rows > 0)
                args[n++] = tty_s;
        assert(n < 16);
        args[n] = NULL;
}

int reaper_spawn(ReaperSpawn *s, pid_t *ret_pid, int *ret_pidfd) {
        char uid_s[16], gid_s[16], tty_s[32], *args[16];
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        pid_t pid;
        int r, pidfd;

        if ((r = fd_move_above_targets(&s->out_write_fd)) < 0 || (r = fd_move_above_targets(&s->control_fd)) < 0 ||
            (r = fd_move_above_targets(&s->spec_fd)) < 0 || (r = fd_move_above_targets(&s->out_read_fd)) < 0 ||
            (r = fd_move_above_targets(&s->err_write_fd)) < 0 || (r = fd_move_above_targets(&s->err_read_fd)) < 0 ||
            (s->stdin_fd >= 0 && (r = fd_move_above_targets(&s->stdin_fd)) < 0))
                return r;
        snprintf(uid_s, sizeof(uid_s), "%u", (unsigned) s->uid);
        snprintf(gid_s, sizeof(gid_s), "%u", (unsigned) s->gid);
        snprintf(tty_s, sizeof(tty_s), "--tty=%ux%u", s->tty_rows, s->tty_cols);
        reaper_args(s, uid_s, gid_s, tty_s, args);

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
        /* Passed through untouched: only the job's child uses it, as the job's user (exec-protocol.h). */
        if (s->stdin_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, s->stdin_fd, EXEC_STDIN_FD);

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

/* One datagram; an fd that came with it in *ret_fd (-EBADF: none; more than one: all closed, -EBADF). */
static ssize_t reaper_recv(int fd, ReaperBuffer *buf, int *ret_fd) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        struct iovec iov = { .iov_base = &buf->u, .iov_len = sizeof(buf->u) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        ssize_t n;

        *ret_fd = -EBADF;
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
                size_t k = c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS ?
                           (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;

                for (size_t i = 0; i < k; i++) {
                        int got;

                        memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (*ret_fd < 0 && k == 1)
                                *ret_fd = got;
                        else
                                safe_close(got);
                }
        }
        return n;
}

int reaper_read_message(int fd, ReaperBuffer *buf, ReaperMessage *ret) {
        for (;;) {
                int passed_fd;
                ssize_t n = reaper_recv(fd, buf, &passed_fd);
                ExecMessage msg;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0)
                        return -EPIPE; /* the reaper closed its end: it is exiting */
                if (n < (ssize_t) sizeof(msg) || (passed_fd >= 0 && buf->u.msg.type != EXEC_MSG_TERMINAL)) {
                        safe_close(passed_fd);
                        continue;
                }
                msg = buf->u.msg;
                *ret = (ReaperMessage) { .type = msg.type, .code = msg.code, .value = msg.value, .fd = passed_fd };
                if (msg.type == EXEC_MSG_EXECUTABLE) {
                        if (msg.value < 0 || (size_t) n != sizeof(msg) + (size_t) msg.value)
                                continue;
                        ret->path = buf->u.buf + sizeof(msg);
                        ret->path_len = (size_t) msg.value;
                        return 1;
                }
                if (n != (ssize_t) sizeof(msg)) {
                        safe_close(passed_fd);
                        continue;
                }
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
