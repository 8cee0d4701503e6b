/* SPDX-License-Identifier: MIT */
/* teleworker-exec - the first process of every job's scope: waits to be placed in the scope, forks the job
 * (which drops to the job's account and execs), and reaps it, so the job's exit status is known from inside
 * the scope. Small and single-purpose: the daemon spawns it with posix_spawn (vfork speed) instead of
 * forking itself. See exec-protocol.h for the conversation with teleworkerd.
 *
 * usage: teleworker-exec --uid UID --gid GID [--user NAME] [--cwd DIR] [--private-pid] [--private-tmp]
 *                        [--private-network] [--protect-system] -- EXECUTABLE ARGV0 [ARGS...]
 * The job's environment is this process's environment.
 *
 * Isolation (set up as root in the forked child, before it drops privileges):
 *   --private-pid      the child is PID 1 of a new PID namespace with its own /proc; it runs the job as
 *                      PID 2, forwards termination signals to it, reaps orphans, and reports the job's
 *                      own wait status (a namespace's init cannot die by a signal it sends itself)
 *   --private-tmp      new mount namespace, empty tmpfs on /tmp and /var/tmp
 *   --private-network  new network namespace: only the loopback interface, brought up
 *   --protect-system   /usr, /boot, /efi and /etc read-only (bind mounts) */
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
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "exec-protocol.h"
#include "macro.h"

typedef struct Isolation {
        bool private_pid, private_tmp, private_network, protect_system;
} Isolation;

static int loopback_up(void) {
        struct ifreq ifr = { .ifr_name = "lo" };
        int fd, r = 0;

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        else if (!(ifr.ifr_flags & IFF_UP)) {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        r = -errno;
        }
        (void) close(fd);
        return r;
}

static int mount_tmpfs(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        return mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0 ? -errno : 0;
}

static int bind_read_only(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return 0;
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
                return -errno;
        return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0 ? -errno : 0;
}

/* In the child, still root; for --private-pid the child is already PID 1 of its namespace. */
static int setup_isolation(const Isolation *iso, const char **ret_what) {
        int flags = 0;

        if (iso->private_pid || iso->private_tmp || iso->protect_system)
                flags |= CLONE_NEWNS;
        if (iso->private_network)
                flags |= CLONE_NEWNET;
        if (flags == 0)
                return 0;
        *ret_what = "create namespaces";
        if (unshare(flags) < 0)
                return -errno;
        if (flags & CLONE_NEWNS) {
                /* Nothing we mount may propagate back to the host. */
                *ret_what = "make mounts private";
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        return -errno;
        }
        if (iso->private_tmp) {
                *ret_what = "mount a private /tmp";
                if (mount_tmpfs("/tmp") < 0 || mount_tmpfs("/var/tmp") < 0)
                        return -errno;
        }
        if (iso->protect_system) {
                static const char *const dirs[] = { "/usr", "/boot", "/efi", "/etc" };
                *ret_what = "make system directories read-only";
                for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                        int r = bind_read_only(dirs[i]);
                        if (r < 0)
                                return r;
                }
        }
        if (iso->private_pid) {
                *ret_what = "mount /proc for the new PID namespace";
                if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        return -errno;
        }
        if (iso->private_network) {
                int r;
                *ret_what = "bring up the loopback interface";
                r = loopback_up();
                if (r < 0)
                        return r;
        }
        return 0;
}

static volatile sig_atomic_t forward_to;

static void on_forward_signal(int sig) {
        if (forward_to > 0)
                (void) kill(forward_to, sig);
}

/* PID 1 of a job's PID namespace: runs the job as its child, passes termination signals on, reaps every
 * orphan, and reports the job's own status through status_fd. When it returns, the kernel ends whatever
 * is left in the namespace. */
_noreturn_ static void run_pid_namespace_init(int status_fd, void (*run_job)(void *), void *userdata) {
        static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
        struct sigaction sa = { .sa_handler = on_forward_signal, .sa_flags = SA_RESTART };
        siginfo_t si;
        pid_t job;

        for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
                (void) sigaction(forwarded[i], &sa, NULL);
        job = fork();
        if (job < 0)
                _exit(EXEC_EXIT_SETUP);
        if (job == 0) {
                sigset_t none;
                sigemptyset(&none);
                for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
                        (void) signal(forwarded[i], SIG_DFL);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                (void) close(status_fd);
                run_job(userdata);
        }
        forward_to = job;
        (void) close(EXEC_CONTROL_FD);
        for (;;) {
                memset(&si, 0, sizeof(si));
                if (waitid(P_ALL, 0, &si, WEXITED) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(EXEC_EXIT_SETUP);
                }
                if (si.si_pid == job)
                        break;
        }
        (void) !write(status_fd, &si, sizeof(si));
        _exit(si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status);
}

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

typedef struct Child {
        uid_t uid;
        gid_t gid;
        const char *user, *cwd, *exe;
        char **argv;
} Child;

/* The job itself: drop to the account, change directory, exec. */
_noreturn_ static void run_job(void *userdata) {
        const Child *c = userdata;

        if (getuid() != c->uid || getgid() != c->gid) {
                if ((c->user ? initgroups(c->user, c->gid) : setgroups(0, NULL)) < 0)
                        child_fail(EXEC_EXIT_SETUP, "cannot set groups for", c->user ? c->user : "(none)");
                if (setresgid(c->gid, c->gid, c->gid) < 0)
                        child_fail(EXEC_EXIT_SETUP, "cannot switch to group", c->user ? c->user : "(gid)");
                if (setresuid(c->uid, c->uid, c->uid) < 0)
                        child_fail(EXEC_EXIT_SETUP, "cannot switch to user", c->user ? c->user : "(uid)");
        }
        if (c->cwd && chdir(c->cwd) < 0)
                child_fail(EXEC_EXIT_SETUP, "cannot change to directory", c->cwd);
        (void) close(EXEC_CONTROL_FD);

        execv(c->exe, c->argv);
        child_fail(errno == ENOENT ? EXEC_EXIT_NOTFOUND : EXEC_EXIT_NOEXEC, "cannot execute", c->exe);
}

_noreturn_ static void run_child(const Child *c, const Isolation *iso, int status_fd) {
        const char *what = "set up isolation";
        sigset_t none;
        int r;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);

        /* Its own session: no terminal, and stop signals from the scope reach it like any other process. */
        (void) setsid();

        r = setup_isolation(iso, &what);
        if (r < 0) {
                errno = -r;
                child_fail(EXEC_EXIT_SETUP, "cannot", what);
        }
        if (iso->private_pid)
                run_pid_namespace_init(status_fd, run_job, (void *) c);
        if (status_fd >= 0)
                (void) close(status_fd);
        run_job((void *) c);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "uid", required_argument, NULL, 'u' },
                { "gid", required_argument, NULL, 'g' },
                { "user", required_argument, NULL, 'U' },
                { "cwd", required_argument, NULL, 'C' },
                { "private-pid", no_argument, NULL, 'P' },
                { "private-tmp", no_argument, NULL, 'T' },
                { "private-network", no_argument, NULL, 'N' },
                { "protect-system", no_argument, NULL, 'S' },
                {},
        };
        const char *user = NULL, *cwd = NULL;
        long uid = -1, gid = -1;
        siginfo_t si = {}, inner;
        Isolation iso = {};
        int status_pipe[2] = { -EBADF, -EBADF };
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
                case 'P':
                        iso.private_pid = true;
                        break;
                case 'T':
                        iso.private_tmp = true;
                        break;
                case 'N':
                        iso.private_network = true;
                        break;
                case 'S':
                        iso.protect_system = true;
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

        if (iso.private_pid) {
                /* The next child is PID 1 of a new namespace; it tells us the job's own status. */
                if (pipe2(status_pipe, O_CLOEXEC) < 0 || unshare(CLONE_NEWPID) < 0) {
                        (void) send_message(EXEC_MSG_FAILED, 0, errno);
                        fprintf(stderr, "teleworker-exec: cannot create a PID namespace: %m\n");
                        return EXEC_EXIT_SETUP;
                }
        }
        pid = fork();
        if (pid < 0) {
                (void) send_message(EXEC_MSG_FAILED, 0, errno);
                return EXIT_FAILURE;
        }
        if (pid == 0) {
                const Child child = { (uid_t) uid, (gid_t) gid, user, cwd, argv[optind], argv + optind + 1 };
                if (status_pipe[0] >= 0)
                        (void) close(status_pipe[0]);
                run_child(&child, &iso, status_pipe[1]);
        }
        if (status_pipe[1] >= 0) {
                (void) close(status_pipe[1]);
                status_pipe[1] = -EBADF;
        }

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
        /* With a PID namespace, its init reports how the job itself ended. */
        if (status_pipe[0] >= 0 && read(status_pipe[0], &inner, sizeof(inner)) == (ssize_t) sizeof(inner))
                si = inner;
        (void) send_message(EXEC_MSG_EXITED, si.si_code, si.si_status);

        /* The job is over: a stop of the scope may now end the reaper too. */
        (void) signal(SIGTERM, SIG_DFL);
        wait_for_release();
        if (hold >= 0)
                (void) close(hold);
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}
