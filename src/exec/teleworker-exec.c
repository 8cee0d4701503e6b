/* SPDX-License-Identifier: MIT */
/* teleworker-exec - the first process of every job's scope: waits to be placed in the scope, forks the job
 * (which drops to the job's account, resolves and execs it), and reaps it, so the job's exit status is known
 * from inside the scope. Small and single-purpose: the daemon spawns it with posix_spawn (vfork speed) instead
 * of forking itself. See exec-protocol.h for the conversation with teleworkerd.
 *
 * usage: teleworker-exec --uid UID --gid GID [--user NAME] [--no-new-privs] [--private-pid] [--private-tmp]
 *                        [--private-network] [--protect-system]
 *
 * It runs as root, so nothing a caller chose reaches it as code-steering input: the daemon gives it a fixed
 * environment (PATH, and the daemon's own sanitizer options) and a command line of the daemon's own choosing
 * (ids and flags, the account name from the user database; parsed strictly). The job's argv, environment,
 * working directory and the policy's allow-list arrive as data on EXEC_SPEC_FD (a sealed memfd, exec-spec.h)
 * and are used only in the job's child after the credentials are dropped:
 *   setgroups/initgroups, setresgid, setresuid (verified: the ids are what we asked, root cannot be regained),
 *   PR_SET_NO_NEW_PRIVS with --no-new-privs (remote principals' jobs), then as the job's user
 *   chdir(cwd, or the home directory, or "/"), the PATH lookup of argv[0], the allow-list (fnmatch on the
 *   resolved path), execve(path, argv, env).
 * Whether a path exists is therefore only ever learnt with the job user's own rights. The child reports each
 * step's failure (or the resolved path) on an O_CLOEXEC pipe; EOF without a failure means execve succeeded,
 * and only then does the reaper tell the daemon EXEC_MSG_STARTED.
 *
 * The reaper also holds a copy of the output's read end (fd 5; fd 6 for stderr). If its control socket closes without the
 * daemon's RELEASE (systemd dropped the daemon's fds on `systemctl stop`), it waits on
 * /run/teleworker/reapers/<--job-id>.sock and hands a new control socket and that read end to the next
 * daemon (root only), then repeats its reports: the job's output and exit status outlive the stop.
 *
 * Isolation (set up as root in the forked child, before it drops privileges; none of it uses caller data):
 *   --private-pid      the child is PID 1 of a new PID namespace with its own /proc; it runs the job as
 *                      PID 2, forwards termination signals to it, reaps orphans, and reports the job's
 *                      own wait status (a namespace's init cannot die by a signal it sends itself)
 *   --private-tmp      new mount namespace, empty tmpfs on /tmp, /var/tmp and /dev/shm
 *   --private-network  new network namespace: only the loopback interface, brought up
 *   --protect-system   /usr, /boot, /efi and /etc read-only (bind mounts)
 * And --tty=ROWSxCOLS: the job's child, as the job's user, opens a pseudo-terminal and relays it (exec-tty.c).
 *
 * Over 700 lines, on purpose: this is the one program that runs as root with a caller's job in hand, and
 * an auditor should read every line that does, from the options to execve(), top to bottom in one file.
 * The parser of the untrusted part (the job spec) is already apart (exec-spec.c, unit-tested and fuzzed);
 * what is left is the isolation, the credential drop, the child's reports and the reaper's loop with the
 * handover, which share the fds and the state of one process. */
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
#include <poll.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "exec/exec-protocol.h"
#include "shared/job-ref.h"
#include "exec/exec-spec.h"
#include "exec/exec-tty.h"
#include "shared/macro.h"
#include "shared/util.h"

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
                int r = mount_tmpfs("/tmp");
                if (r >= 0)
                        r = mount_tmpfs("/var/tmp");
                /* POSIX shared memory is a tmp directory too: without this, jobs meet in the host's. */
                if (r >= 0)
                        r = mount_tmpfs("/dev/shm");
                if (r < 0)
                        return r;
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
/* EXEC_STDIN_FD is the job's stdin (set once, before the fork). Without it that number may be any other fd. */
static bool has_stdin;
/* --tty=ROWSxCOLS: the job gets a pseudo-terminal of that size (exec-tty.c), opened as the job's user. */
static unsigned short tty_rows, tty_cols;
/* With --tty: the relay sends the pty master here (the child's end, [1]); the reaper passes it on. */
static int tty_socket[2] = { -EBADF, -EBADF };

static void on_forward_signal(int sig) {
        if (forward_to > 0)
                (void) kill(forward_to, sig);
}

/* PID 1 of a job's PID namespace: runs the job as its child, passes termination signals on, reaps every
 * orphan, and reports the job's own status through status_fd. When it returns, the kernel ends whatever
 * is left in the namespace. */
_noreturn_ static void run_pid_namespace_init(int status_fd, int report_fd, void (*run_job)(void *), void *userdata) {
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
        if (has_stdin)
                (void) close(EXEC_STDIN_FD); /* the job's alone */
        if (tty_socket[1] >= 0)
                (void) close(tty_socket[1]); /* the relay's */
        /* Only the job's copy may keep the report pipe open: its execve closes it, and that EOF means "started". */
        (void) close(report_fd);
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

/* EXEC_MSG_EXECUTABLE: the header, then the path, in one datagram. */
static void send_executable(const char *path, size_t len) {
        struct {
                ExecMessage m;
                char path[EXEC_PATH_MAX];
        } buf = { .m = { .type = EXEC_MSG_EXECUTABLE, .value = (int32_t) len } };

        memcpy(buf.path, path, len);
        while (send(EXEC_CONTROL_FD, &buf, sizeof(ExecMessage) + len, MSG_NOSIGNAL) < 0 && errno == EINTR)
                ;
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

/* ---------------------------------------------------------------------------------------------------- */
/* The job's child → the reaper: a CLOEXEC pipe of ChildReport records (a path record carries len bytes). */

enum { REPORT_PATH = 1, REPORT_FAILED = 2 };

typedef struct ChildReport {
        uint32_t kind;
        int32_t stage;
        int32_t error;
        uint32_t len;
} ChildReport;

typedef struct Child {
        uid_t uid;
        gid_t gid;
        const char *user;
        bool no_new_privs;
        const ExecSpec *spec;
        int report_fd;
} Child;

static void child_report(const Child *c, const ChildReport *rep, const char *path) {
        (void) loop_write(c->report_fd, rep, sizeof(*rep));
        if (path)
                (void) loop_write(c->report_fd, path, rep->len);
}

_noreturn_ static void child_fail(const Child *c, ExecStage stage, int error, const char *what, const char *arg) {
        ChildReport rep = { .kind = REPORT_FAILED, .stage = stage, .error = error };

        child_report(c, &rep, NULL);
        /* Only the set-up steps, which use no caller data, leave a word in the output: the other failures
         * are the caller's Start error. */
        if (stage == EXEC_STAGE_SETUP)
                dprintf(STDERR_FILENO, "teleworker-exec: %s '%s': %s\n", what, arg, strerror(error));
        _exit(stage == EXEC_STAGE_LOOKUP || stage == EXEC_STAGE_EXEC ?
              (error == ENOENT ? EXEC_EXIT_NOTFOUND : EXEC_EXIT_NOEXEC) : EXEC_EXIT_SETUP);
}

/* Drops to the job's account and proves it: every id is the target, and root cannot be taken back. */
static int drop_privileges(const Child *c, const char **ret_what) {
        uid_t ru, eu, su;
        gid_t rg, eg, sg;

        /* Not dumpable while it still holds root's memory (the spec, the reaper's state): the job's user
         * cannot ptrace or read it; execve makes the job itself dumpable again as usual. */
        (void) prctl(PR_SET_DUMPABLE, 0);
        *ret_what = "cannot set groups for";
        if ((c->user ? initgroups(c->user, c->gid) : setgroups(0, NULL)) < 0)
                return -errno;
        *ret_what = "cannot switch to group of";
        if (setresgid(c->gid, c->gid, c->gid) < 0)
                return -errno;
        *ret_what = "cannot switch to user";
        if (setresuid(c->uid, c->uid, c->uid) < 0)
                return -errno;
        *ret_what = "credentials did not drop for";
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                return -errno;
        if (ru != c->uid || eu != c->uid || su != c->uid || rg != c->gid || eg != c->gid || sg != c->gid)
                return -EPERM;
        if (c->uid != 0 && (setresuid(0, 0, 0) == 0 || setegid(0) == 0))
                return -EPERM;
        if (c->no_new_privs) {
                *ret_what = "cannot set no_new_privs for";
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        return -errno;
        }
        return 0;
}

static const char *env_get(char *const *env, const char *key) {
        size_t n = strlen(key);

        for (char *const *e = env; e && *e; e++)
                if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

/* The working directory, as the job's user: the requested one, or home if it can be entered, or "/". */
static const char *enter_cwd(const Child *c) {
        const ExecSpec *s = c->spec;

        if (s->cwd[0]) {
                if (chdir(s->cwd) < 0)
                        child_fail(c, EXEC_STAGE_CWD, errno, "cannot change to directory", s->cwd);
                return s->cwd;
        }
        if (s->home[0] == '/' && chdir(s->home) == 0)
                return s->home;
        if (chdir("/") < 0)
                child_fail(c, EXEC_STAGE_CWD, errno, "cannot change to directory", "/");
        return "/";
}

/* The job itself: drop to the account, then — with the job's rights only — change directory, resolve
 * argv[0], check the allow-list, exec. */
_noreturn_ static void run_job(void *userdata) {
        const Child *c = userdata;
        const ExecSpec *s = c->spec;
        _cleanup_(freep) char *exe = NULL;
        const char *what = NULL, *cwd, *path;
        ChildReport rep = { .kind = REPORT_PATH };
        int r;

        r = drop_privileges(c, &what);
        if (r < 0)
                child_fail(c, EXEC_STAGE_SETUP, -r, what, c->user ? c->user : "(uid)");
        (void) close(EXEC_CONTROL_FD);
        /* The caller's stdin becomes the job's only now, with the job's rights: no root process ever read
         * from it. (dup2() clears FD_CLOEXEC on fd 0.) */
        if (has_stdin && (dup2(EXEC_STDIN_FD, STDIN_FILENO) < 0 || close(EXEC_STDIN_FD) < 0))
                child_fail(c, EXEC_STAGE_SETUP, errno, "cannot set up the standard input of", "the job");
        if (tty_rows > 0) {
                r = exec_tty_start(tty_rows, tty_cols, c->report_fd, tty_socket[1]);
                if (r < 0)
                        child_fail(c, EXEC_STAGE_SETUP, -r, "cannot open a terminal for", "the job");
        }

        cwd = enter_cwd(c);
        path = env_get(s->env, "PATH");
        r = find_executable(s->argv[0], path ? path : EXEC_DEFAULT_PATH, cwd, &exe);
        if (r >= 0 && strlen(exe) > EXEC_PATH_MAX)
                r = -ENAMETOOLONG;
        if (r < 0)
                child_fail(c, EXEC_STAGE_LOOKUP, -r, "cannot find", s->argv[0]);

        rep.len = (uint32_t) strlen(exe);
        child_report(c, &rep, exe);
        if (!exec_spec_allowed(s->allow, exe))
                child_fail(c, EXEC_STAGE_DENIED, EPERM, "not allowed", exe);

        execve(exe, s->argv, s->env);
        child_fail(c, EXEC_STAGE_EXEC, errno, "cannot execute", exe);
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
        /* Only the reaper keeps the output's read end (for a handover); the job and its init must not. */
        (void) close(EXEC_OUTPUT_READ_FD);
        (void) close(EXEC_ERROR_READ_FD);

        r = setup_isolation(iso, &what);
        if (r < 0)
                child_fail(c, EXEC_STAGE_SETUP, -r, "cannot", what);
        if (iso->private_pid)
                run_pid_namespace_init(status_fd, c->report_fd, run_job, (void *) c);
        if (status_fd >= 0)
                (void) close(status_fd);
        run_job((void *) c);
}

/* Reads the child's reports until its execve (or its exit) closes the pipe. Returns 0 when the job runs,
 * else the failed stage's report in *ret_failed. Bounded: one path of at most EXEC_PATH_MAX bytes. */
static int read_child_reports(int fd, ChildReport *ret_failed) {
        char path[EXEC_PATH_MAX];
        ChildReport rep;

        for (;;) {
                ssize_t n = read(fd, &rep, sizeof(rep));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t) sizeof(rep))
                        return 0; /* EOF: execve closed the pipe (or the child died: its exit tells) */
                if (rep.kind == REPORT_FAILED) {
                        *ret_failed = rep;
                        return -1;
                }
                if (rep.kind != REPORT_PATH || rep.len == 0 || rep.len > sizeof(path))
                        continue;
                if (read(fd, path, rep.len) != (ssize_t) rep.len)
                        return 0;
                send_executable(path, rep.len);
        }
}

static int parse_options(int argc, char **argv, uid_t *uid, gid_t *gid, const char **user, const char **job_id,
                         bool *nnp, Isolation *iso) {
        static const struct option options[] = {
                { "uid", required_argument, NULL, 'u' },
                { "gid", required_argument, NULL, 'g' },
                { "user", required_argument, NULL, 'U' },
                { "no-new-privs", no_argument, NULL, 'n' },
                { "job-id", required_argument, NULL, 'j' },
                { "private-pid", no_argument, NULL, 'P' },
                { "private-tmp", no_argument, NULL, 'T' },
                { "private-network", no_argument, NULL, 'N' },
                { "protect-system", no_argument, NULL, 'S' },
                { "tty", required_argument, NULL, 't' },
                {},
        };
        bool have_uid = false, have_gid = false;
        uint32_t id;
        int c;

        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0) {
                switch (c) {
                case 'u':
                case 'g':
                        if (exec_parse_id(optarg, &id) < 0) {
                                fprintf(stderr, "teleworker-exec: invalid %s '%s'\n", c == 'u' ? "uid" : "gid", optarg);
                                return -EINVAL;
                        }
                        if (c == 'u')
                                *uid = id, have_uid = true;
                        else
                                *gid = id, have_gid = true;
                        break;
                case 'U':
                        *user = optarg;
                        break;
                case 'n':
                        *nnp = true;
                        break;
                case 'j':
                        /* It names the handover socket: a UUID, nothing that could walk a path. */
                        if (!job_id_is_valid(optarg) || strlen(optarg) != JOB_ID_STRING_MAX - 1) {
                                fprintf(stderr, "teleworker-exec: invalid job id '%s'\n", optarg);
                                return -EINVAL;
                        }
                        *job_id = optarg;
                        break;
                case 'P':
                        iso->private_pid = true;
                        break;
                case 'T':
                        iso->private_tmp = true;
                        break;
                case 'N':
                        iso->private_network = true;
                        break;
                case 'S':
                        iso->protect_system = true;
                        break;
                case 't':
                        if (exec_tty_parse_size(optarg, &tty_rows, &tty_cols) < 0) {
                                fprintf(stderr, "teleworker-exec: invalid terminal size '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (!have_uid || !have_gid || optind != argc) {
                fprintf(stderr, "usage: teleworker-exec --uid UID --gid GID [--user NAME] [--job-id ID] [--no-new-privs] "
                                "[--private-pid] [--private-tmp] [--private-network] [--protect-system] "
                                "(job spec on fd %d)\n", EXEC_SPEC_FD);
                return -EINVAL;
        }
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* After the fork: report, reap, and outlive a daemon that went away for good (see exec-protocol.h). */

typedef struct Reaper {
        pid_t pid;
        int pidfd;          /* the job's child; -EBADF: polled every 100 ms instead */
        int status_fd;      /* with --private-pid: how the job itself ended */
        int listen_fd;      /* the handover socket while no daemon holds our control socket */
        const char *job_id;
        bool control_live, released, child_done, exec_ok;
        ChildReport failed;
        siginfo_t si;
} Reaper;

static void reaper_send_reports(Reaper *r) {
        if (!r->control_live)
                return;
        if (r->exec_ok)
                (void) send_message(EXEC_MSG_STARTED, 0, (int32_t) r->pid);
        else
                (void) send_message(EXEC_MSG_FAILED, r->failed.stage, r->failed.error);
        if (r->child_done)
                (void) send_message(EXEC_MSG_EXITED, r->si.si_code, r->si.si_status);
}

static void reaper_child_exited(Reaper *r) {
        siginfo_t si = {}, inner;

        if (waitid(P_PID, (id_t) r->pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return;
        /* With a PID namespace, its init reports how the job itself ended. */
        if (r->status_fd >= 0 && read(r->status_fd, &inner, sizeof(inner)) == (ssize_t) sizeof(inner))
                si = inner;
        r->si = si;
        r->child_done = true;
        if (r->control_live)
                (void) send_message(EXEC_MSG_EXITED, si.si_code, si.si_status);
        /* The job is over: a stop of the scope may now end the reaper too. */
        (void) signal(SIGTERM, SIG_DFL);
}

static void handover_address(const char *job_id, struct sockaddr_un *ret) {
        *ret = (struct sockaddr_un) { .sun_family = AF_UNIX };
        snprintf(ret->sun_path, sizeof(ret->sun_path), "%s/%s.sock", EXEC_HANDOVER_DIR, job_id);
}

static int handover_listen(const char *job_id) {
        struct sockaddr_un sa;
        int fd;

        if (!job_id)
                return -EBADF;
        handover_address(job_id, &sa);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(sa.sun_path);
        (void) umask(0077);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
                int r = -errno;
                (void) close(fd);
                return r;
        }
        return fd;
}

static void handover_unlisten(Reaper *r) {
        struct sockaddr_un sa;

        r->listen_fd = safe_close(r->listen_fd);
        handover_address(r->job_id, &sa);
        (void) unlink(sa.sun_path);
}

/* Kill: the job's main process (its init with a PID namespace, which forwards what Kill allows), never after it
 * was reaped (its pid may be someone else's by then). */
static void reaper_kill_job(const Reaper *r, int sig) {
        if (r->pid > 0 && !r->child_done && job_signal_allowed(sig))
                (void) kill(r->pid, sig);
}

/* The daemon's end is gone: without a release, it went away for good and the next one will ask. */
static void reaper_read_control(Reaper *r) {
        unsigned resets = 0;

        for (;;) {
                ExecMessage m;
                ssize_t n = recv(EXEC_CONTROL_FD, &m, sizeof(m), MSG_DONTWAIT);

                if (n < 0 && (errno == EINTR || (errno == ECONNRESET && resets++ == 0)))
                        /* ECONNRESET: the daemon closed with our reports unread. The kernel says so once,
                         * before what is still queued for us (a release, then the end): read on. */
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n == (ssize_t) sizeof(m) && m.type == EXEC_MSG_RELEASE)
                        r->released = true;
                if (n == (ssize_t) sizeof(m) && m.type == EXEC_MSG_KILL)
                        reaper_kill_job(r, m.value);
                if (n > 0)
                        continue;
                break;
        }
        /* Keep fd 3 taken (by /dev/null) so a handed-over socket gets it back. */
        (void) dup3(STDIN_FILENO, EXEC_CONTROL_FD, O_CLOEXEC);
        r->control_live = false;
        if (!r->released)
                r->listen_fd = handover_listen(r->job_id);
}

/* A daemon asks for the job: hand it a new control socket and the output's read end. Root only. */
static void reaper_handover(Reaper *r) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(3 * sizeof(int))];
        } control = {};
        ExecMessage m = { .type = EXEC_MSG_HANDOVER };
        struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct cmsghdr *c;
        int conn, pair[2], fds[3];
        size_t n_fds = fcntl(EXEC_ERROR_READ_FD, F_GETFD) >= 0 ? 3 : 2;

        conn = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0)
                return;
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
                (void) close(conn);
                return;
        }
        /* Gone before the answer: whoever got it finds no socket left (and a failure listens anew). */
        handover_unlisten(r);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
                (void) close(conn);
                r->listen_fd = handover_listen(r->job_id);
                return;
        }
        fds[0] = pair[0];
        fds[1] = EXEC_OUTPUT_READ_FD;
        fds[2] = EXEC_ERROR_READ_FD;
        mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
        if (sendmsg(conn, &mh, MSG_NOSIGNAL) != (ssize_t) sizeof(m) || dup3(pair[1], EXEC_CONTROL_FD, O_CLOEXEC) < 0) {
                (void) close(pair[0]);
                (void) close(pair[1]);
                (void) close(conn);
                r->listen_fd = handover_listen(r->job_id);
                return;
        }
        (void) close(pair[0]);
        (void) close(pair[1]);
        (void) close(conn);
        r->control_live = true;
        reaper_send_reports(r);
}

/* The pty master the relay sent (a job with --tty), passed on to the daemon before STARTED and not kept: the
 * reaper never reads or writes it. A relay that failed first sends none (EOF). */
static void reaper_pass_terminal(Reaper *r) {
        ExecMessage m = { .type = EXEC_MSG_TERMINAL };
        int fd;

        (void) close(tty_socket[1]);
        fd = r->exec_ok ? exec_tty_recv_fd(tty_socket[0]) : -EPIPE;
        (void) close(tty_socket[0]);
        if (fd < 0)
                return;
        if (r->control_live) {
                struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int))];
                } control = {};
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof(control) };
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
                (void) sendmsg(EXEC_CONTROL_FD, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        (void) close(fd);
}

/* Until the job's child is reaped and the daemon released us. */
static void reaper_loop(Reaper *r) {
        while (!(r->child_done && r->released)) {
                struct pollfd p[3];
                int n = 0, i_ctl = -1, i_child = -1, i_listen = -1;

                if (r->control_live) {
                        i_ctl = n;
                        p[n++] = (struct pollfd) { .fd = EXEC_CONTROL_FD, .events = POLLIN };
                }
                if (!r->child_done && r->pidfd >= 0) {
                        i_child = n;
                        p[n++] = (struct pollfd) { .fd = r->pidfd, .events = POLLIN };
                }
                if (r->listen_fd >= 0) {
                        i_listen = n;
                        p[n++] = (struct pollfd) { .fd = r->listen_fd, .events = POLLIN };
                }
                if (n == 0 && r->child_done)
                        return; /* no daemon, none to come (no handover socket): nobody to report to */
                if (poll(p, (nfds_t) n, r->pidfd < 0 && !r->child_done ? 100 : -1) < 0 && errno != EINTR)
                        return;
                if (!r->child_done && (r->pidfd < 0 || (i_child >= 0 && p[i_child].revents)))
                        reaper_child_exited(r);
                if (i_ctl >= 0 && p[i_ctl].revents)
                        reaper_read_control(r);
                if (i_listen >= 0 && p[i_listen].revents)
                        reaper_handover(r);
        }
}

int main(int argc, char **argv) {
        const char *user = NULL, *job_id = NULL, *spec_error = NULL;
        uid_t uid = 0;
        gid_t gid = 0;
        bool nnp = false;
        Isolation iso = {};
        ExecSpec spec = {};
        Reaper reaper = { .pidfd = -EBADF, .status_fd = -EBADF, .listen_fd = -EBADF, .control_live = true };
        int status_pipe[2] = { -EBADF, -EBADF }, report_pipe[2] = { -EBADF, -EBADF };
        pid_t pid;
        int hold, hold_err, r;

        if (parse_options(argc, argv, &uid, &gid, &user, &job_id, &nnp, &iso) < 0)
                return EXIT_FAILURE;
        reaper.job_id = job_id;
        /* The output's read end (for a handover) stays with the reaper alone. */
        (void) fcntl(EXEC_OUTPUT_READ_FD, F_SETFD, FD_CLOEXEC);
        (void) fcntl(EXEC_ERROR_READ_FD, F_SETFD, FD_CLOEXEC);
        /* The job's stdin, if the daemon gave one (every other fd of ours is closed at exec). */
        has_stdin = fcntl(EXEC_STDIN_FD, F_SETFD, FD_CLOEXEC) >= 0;
        r = exec_spec_from_fd(EXEC_SPEC_FD, &spec, &spec_error);
        (void) close(EXEC_SPEC_FD);
        if (r < 0) {
                fprintf(stderr, "teleworker-exec: invalid job spec: %s\n", r == -EBADMSG ? spec_error : strerror(-r));
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

        if (pipe2(report_pipe, O_CLOEXEC) < 0) {
                (void) send_message(EXEC_MSG_FAILED, EXEC_STAGE_SETUP, errno);
                return EXEC_EXIT_SETUP;
        }
        if (iso.private_pid) {
                /* The next child is PID 1 of a new namespace; it tells us the job's own status. */
                if (pipe2(status_pipe, O_CLOEXEC) < 0 || unshare(CLONE_NEWPID) < 0) {
                        (void) send_message(EXEC_MSG_FAILED, EXEC_STAGE_SETUP, errno);
                        fprintf(stderr, "teleworker-exec: cannot create a PID namespace: %m\n");
                        return EXEC_EXIT_SETUP;
                }
        }
        if (tty_rows > 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tty_socket) < 0) {
                (void) send_message(EXEC_MSG_FAILED, EXEC_STAGE_SETUP, errno);
                return EXEC_EXIT_SETUP;
        }
        pid = fork();
        if (pid < 0) {
                (void) send_message(EXEC_MSG_FAILED, EXEC_STAGE_SETUP, errno);
                return EXIT_FAILURE;
        }
        if (pid == 0) {
                const Child child = { uid, gid, user, nnp, &spec, report_pipe[1] };
                (void) close(report_pipe[0]);
                if (status_pipe[0] >= 0)
                        (void) close(status_pipe[0]);
                if (tty_socket[0] >= 0)
                        (void) close(tty_socket[0]);
                run_child(&child, &iso, status_pipe[1]);
        }
        if (status_pipe[1] >= 0)
                (void) close(status_pipe[1]);
        (void) close(report_pipe[1]);
        /* The job has its stdin: a copy here would keep a pipe's reader alive past the job. */
        if (has_stdin)
                (void) close(EXEC_STDIN_FD);
        exec_spec_done(&spec);
        reaper.pid = pid;
        reaper.status_fd = status_pipe[0];
        /* Our unreaped child: its PID cannot be reused before we wait for it. */
        reaper.pidfd = (int) syscall(SYS_pidfd_open, pid, 0);

        /* The reaper keeps one write end of the output pipe until the daemon releases it: while the
         * daemon is down (restart, crash) systemd's fd store holds the read end, and must never see the
         * pipe hang up with bytes still in it. After the release the stream ends when the job's last
         * writer closes it. */
        hold = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        hold_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        (void) dup2(STDIN_FILENO, STDOUT_FILENO);
        (void) dup2(STDIN_FILENO, STDERR_FILENO);

        /* "Started" only once execve succeeded: a job that could not be entered, found or run is a refusal. */
        reaper.exec_ok = read_child_reports(report_pipe[0], &reaper.failed) >= 0;
        (void) close(report_pipe[0]);
        if (tty_socket[0] >= 0)
                reaper_pass_terminal(&reaper);
        reaper_send_reports(&reaper);

        reaper_loop(&reaper);
        if (hold >= 0)
                (void) close(hold);
        if (hold_err >= 0)
                (void) close(hold_err);
        return reaper.si.si_code == CLD_EXITED ? reaper.si.si_status : 128 + reaper.si.si_status;
}
