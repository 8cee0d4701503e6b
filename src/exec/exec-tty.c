/* SPDX-License-Identifier: MIT */
/* exec-tty.c - a job's pseudo-terminal (docs/design.md, "stdin and terminals"). Runs in the job's child
 * after it dropped to the job's account, never as root: the pty is opened by the job's user (so its slave
 * belongs to that user), and the bytes that flow through it are touched only by a process of that user.
 *
 * exec_tty_start() splits the child in two:
 *   - the job (returned to): its own session with the slave as controlling terminal on fds 0, 1 and 2;
 *   - the relay (never returns): copies fd 0 (the job's stdin as the daemon gave it: the caller's fd, a
 *     stream pipe, or /dev/null) into the master and the master into fd 1 (the job's output pipe, so the
 *     output path is the one of every job: one stream, the stdout one), until the terminal hangs up; then
 *     it waits for the job and ends the way the job ended (its exit code, or the same signal), so that the
 *     reaper, whose child the relay is, reports the job's own end.
 * The relay ignores SIGTERM, SIGINT, SIGHUP and SIGQUIT: a stop signals the whole scope, and the relay must
 * outlive the job to pass its last bytes on. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "exec/exec-tty.h"
#include "shared/macro.h"
#include "shared/util.h"

#define EXEC_TTY_BUFFER (16 * 1024)

int exec_tty_parse_size(const char *s, unsigned short *ret_rows, unsigned short *ret_cols) {
        unsigned long rows, cols;
        char *end = NULL;

        errno = 0;
        rows = strtoul(s, &end, 10);
        if (errno || end == s || *end != 'x' || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        s = end + 1;
        cols = strtoul(s, &end, 10);
        if (errno || end == s || *end || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        if (rows == 0 || cols == 0 || rows > EXEC_TTY_SIZE_MAX || cols > EXEC_TTY_SIZE_MAX)
                return -ERANGE;
        *ret_rows = (unsigned short) rows;
        *ret_cols = (unsigned short) cols;
        return 0;
}

/* Copies what one read gives from `from` to `to`. 1: moved some; 0: EOF or hang-up of `from`; <0: error. */
static int exec_tty_copy(int from, int to) {
        char buf[EXEC_TTY_BUFFER];
        ssize_t n;

        do
                n = read(from, buf, sizeof(buf));
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EIO)
                return 0;   /* the master's read after the last slave closed */
        if (n < 0)
                return -errno;
        if (n == 0)
                return 0;
        return loop_write(to, buf, (size_t) n) < 0 ? -EPIPE : 1;
}

/* The relay: both directions until the terminal hangs up, then the job's end as its own. */
_noreturn_ static void exec_tty_relay(int master, pid_t job) {
        bool input_open = true;
        siginfo_t si = {};
        struct rlimit no_core = {};

        for (int sig = SIGHUP; sig <= SIGQUIT; sig++)
                (void) signal(sig, SIG_IGN);
        (void) signal(SIGTERM, SIG_IGN);
        (void) signal(SIGPIPE, SIG_IGN);

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = master, .events = POLLIN },
                        { .fd = input_open ? STDIN_FILENO : -1, .events = POLLIN },
                };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents && exec_tty_copy(STDIN_FILENO, master) <= 0)
                        input_open = false;   /* the caller's input ended: the terminal stays */
                if (p[0].revents && exec_tty_copy(master, STDOUT_FILENO) <= 0)
                        break;                /* every holder of the slave closed it */
        }
        (void) close(master);
        (void) close(STDOUT_FILENO);
        while (waitid(P_PID, (id_t) job, &si, WEXITED) < 0 && errno == EINTR)
                ;
        if (si.si_code == CLD_EXITED)
                _exit(si.si_status);
        /* The job's signal is ours, without a core of the relay. */
        (void) setrlimit(RLIMIT_CORE, &no_core);
        (void) signal(si.si_status, SIG_DFL);
        (void) kill(getpid(), si.si_status);
        _exit(128 + si.si_status);
}

int exec_tty_send_fd(int sock, int fd) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        char byte = 'T';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int exec_tty_recv_fd(int sock) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct cmsghdr *c;
        ssize_t n;
        int fd;

        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        c = CMSG_FIRSTHDR(&mh);
        if (n != 1 || !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EPIPE;
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
}

int exec_tty_start(unsigned short rows, unsigned short cols, int report_fd, int master_fd_socket) {
        struct winsize ws = { .ws_row = rows, .ws_col = cols };
        char name[64];
        int master, slave;
        pid_t pid;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return -errno;
        if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0 ||
            ioctl(master, TIOCSWINSZ, &ws) < 0) {
                int r = -errno;
                (void) close(master);
                return r;
        }
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
                int r = -errno;
                (void) close(master);
                return r;
        }
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                (void) close(master);
                (void) close(slave);
                return r;
        }
        if (pid > 0) {
                /* Only the job reports (its execve closes the report pipe: "started"). */
                (void) close(report_fd);
                (void) close(slave);
                /* A copy of the master for the daemon's TIOCSWINSZ (resizes); without it, none. */
                if (master_fd_socket >= 0) {
                        (void) exec_tty_send_fd(master_fd_socket, master);
                        (void) close(master_fd_socket);
                }
                exec_tty_relay(master, pid);
        }
        (void) close(master);
        if (master_fd_socket >= 0)
                (void) close(master_fd_socket);
        /* A session of its own, the terminal its controlling one: job control and ^C work as on a login. */
        (void) setsid();
        if (ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, STDIN_FILENO) < 0 || dup2(slave, STDOUT_FILENO) < 0 ||
            dup2(slave, STDERR_FILENO) < 0)
                return -errno;
        (void) close(slave);
        return 0;
}
