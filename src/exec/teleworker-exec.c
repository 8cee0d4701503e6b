/* SPDX-License-Identifier: MIT */
/* teleworker-exec - the first process of every job's scope: waits to be placed in the scope, forks the job
 * (which drops to the job's account and execs), and reaps it, so the job's exit status is known from inside
 * the scope. Small and single-purpose: the daemon spawns it with posix_spawn (vfork speed) instead of
 * forking itself. See exec-protocol.h for the conversation with teleworkerd.
 *
 * usage: teleworker-exec --uid UID --gid GID [--user NAME] [--cwd DIR] -- EXECUTABLE ARGV0 [ARGS...]
 * The job's environment is this process's environment. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-protocol.h"
#include "macro.h"

static int send_message(uint8_t type, int32_t code, int32_t value) {
        ExecMessage m = { .type = type, .code = code, .value = value };

        for (;;) {
                ssize_t n = send(EXEC_CONTROL_FD, &m, sizeof(m), MSG_NOSIGNAL);
                if (n == (ssize_t) sizeof(m))
                        return 0;
                if (n < 0 && errno == EINTR)
                        continue;
                return n < 0 ? -errno : -EIO;
        }
}

static int wait_for_go(void) {
        ExecMessage m;

        for (;;) {
                ssize_t n = recv(EXEC_CONTROL_FD, &m, sizeof(m), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == (ssize_t) sizeof(m) && m.type == EXEC_MSG_GO)
                        return 0;
                return -ECANCELED;
        }
}

/* Until the daemon closes its end (every copy of it: systemd's fd store may hold one). */
static void wait_for_release(void) {
        ExecMessage m;

        for (;;) {
                ssize_t n = recv(EXEC_CONTROL_FD, &m, sizeof(m), 0);
                if (n == 0 || (n < 0 && errno != EINTR))
                        return;
        }
}

_noreturn_ static void child_fail(int status, const char *what, const char *arg) {
        int e = errno;

        (void) send_message(EXEC_MSG_FAILED, 0, e);
        dprintf(STDERR_FILENO, "teleworker-exec: %s '%s': %s\n", what, arg, strerror(e));
        _exit(status);
}

_noreturn_ static void run_child(uid_t uid, gid_t gid, const char *user, const char *cwd, const char *exe,
                                 char **argv) {
        sigset_t none;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);

        /* Its own session: no terminal, and stop signals from the scope reach it like any other process. */
        (void) setsid();

        if (getuid() != uid || getgid() != gid) {
                if ((user ? initgroups(user, gid) : setgroups(0, NULL)) < 0)
                        child_fail(EXEC_EXIT_SETUP, "cannot set groups for", user ? user : "(none)");
                if (setresgid(gid, gid, gid) < 0)
                        child_fail(EXEC_EXIT_SETUP, "cannot switch to group", user ? user : "(gid)");
                if (setresuid(uid, uid, uid) < 0)
                        child_fail(EXEC_EXIT_SETUP, "cannot switch to user", user ? user : "(uid)");
        }
        if (cwd && chdir(cwd) < 0)
                child_fail(EXEC_EXIT_SETUP, "cannot change to directory", cwd);
        (void) close(EXEC_CONTROL_FD);

        execv(exe, argv);
        child_fail(errno == ENOENT ? EXEC_EXIT_NOTFOUND : EXEC_EXIT_NOEXEC, "cannot execute", exe);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "uid", required_argument, NULL, 'u' },
                { "gid", required_argument, NULL, 'g' },
                { "user", required_argument, NULL, 'U' },
                { "cwd", required_argument, NULL, 'C' },
                {},
        };
        const char *user = NULL, *cwd = NULL;
        long uid = -1, gid = -1;
        siginfo_t si = {};
        pid_t pid;
        int c, hold;

        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0) {
                switch (c) {
                case 'u':
                        uid = strtol(optarg, NULL, 10);
                        break;
                case 'g':
                        gid = strtol(optarg, NULL, 10);
                        break;
                case 'U':
                        user = optarg;
                        break;
                case 'C':
                        cwd = optarg;
                        break;
                default:
                        return EXIT_FAILURE;
                }
        }
        if (uid < 0 || gid < 0 || argc - optind < 2) {
                fprintf(stderr, "usage: teleworker-exec --uid UID --gid GID [--user NAME] [--cwd DIR] -- EXE ARGV...\n");
                return EXIT_FAILURE;
        }

        /* The daemon going away before GO must not leave a job behind. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);

        /* Stopping the scope signals every process in it; the reaper outlives the job to report on it. */
        (void) signal(SIGTERM, SIG_IGN);
        (void) signal(SIGINT, SIG_IGN);
        (void) signal(SIGHUP, SIG_IGN);
        (void) signal(SIGPIPE, SIG_IGN);

        if (wait_for_go() < 0)
                return EXIT_FAILURE;

        /* From here the job runs: it must survive a daemon restart, so no parent-death signal any more. */
        (void) prctl(PR_SET_PDEATHSIG, 0);

        pid = fork();
        if (pid < 0) {
                (void) send_message(EXEC_MSG_FAILED, 0, errno);
                return EXIT_FAILURE;
        }
        if (pid == 0)
                run_child((uid_t) uid, (gid_t) gid, user, cwd, argv[optind], argv + optind + 1);

        /* The reaper keeps one write end of the output pipe until the daemon releases it: while the
         * daemon is down (restart, crash) systemd's fd store holds the read end, and must never see the
         * pipe hang up with bytes still in it. After the release the stream ends when the job's last
         * writer closes it. */
        hold = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        (void) dup2(STDIN_FILENO, STDOUT_FILENO);
        (void) dup2(STDIN_FILENO, STDERR_FILENO);
        (void) send_message(EXEC_MSG_STARTED, 0, (int32_t) pid);

        for (;;) {
                if (waitid(P_PID, (id_t) pid, &si, WEXITED) == 0)
                        break;
                if (errno != EINTR)
                        return EXIT_FAILURE;
        }
        (void) send_message(EXEC_MSG_EXITED, si.si_code, si.si_status);

        /* The job is over: a stop of the scope may now end the reaper too. */
        (void) signal(SIGTERM, SIG_DFL);
        wait_for_release();
        if (hold >= 0)
                (void) close(hold);
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}
