/* SPDX-License-Identifier: MIT */
/* telerun.c - the teleworker CLI: start/run/status/logs/stop/list/wait over the system bus or a gateway.
 *
 * Commands only see the Client interface (client.h): job objects as JSON (bus-json.h), an fd for output,
 * and categorized errors; which transport serves them is decided once, in client_open(). */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "copy.h"
#include "follow.h"
#include "format.h"
#include "shared/macro.h"
#include "telerun.h"
#include "terminal.h"
#include "shared/util.h"

/* logs --tail reads the output backwards in growing chunks, never holding more than this. */
#define TAIL_CHUNK_MIN (64U * 1024U)
#define TAIL_CHUNK_MAX (4U * 1024U * 1024U)

/* Whether telerun reported a failure of its own, and the worker's error if it was one: run, wait and start -f
 * then exit 125-127 instead of a code a job could exit with. */
static bool reported = false;
static const ApiError *reported_api = NULL;

int telerun_report(ClientError *e) {
        fprintf(stderr, "telerun: %s\n", e->message ? e->message : "unknown error");
        if (!reported)
                reported_api = e->api;
        reported = true;
        return telerun_exit_from_error(e->kind);
}

static int report(ClientError *e) {
        return telerun_report(e);
}

static int report_errno(int r, const char *what) {
        errno = -r;
        fprintf(stderr, "telerun: %s: %m\n", what);
        reported = true;
        return TELERUN_EXIT_FAILURE;
}

/* Remote mode lives in its own module (libcurl, OpenSSL; cli/meson.build says why), loaded here and
 * only here: from beside the executable in a build tree, else from the package's module directory. (Not
 * "$ORIGIN/..." in dlopen(): that is the directory of the caller of dlopen(), which is the sanitizer
 * runtime when one intercepts it.) Never unloaded: the client's operations are its code until telerun
 * exits. */
static void *remote_module_open(void) {
        _cleanup_(freep) char *exe = NULL, *beside = NULL;
        const char *slash;
        void *module;

        exe = realpath("/proc/self/exe", NULL);
        slash = exe ? strrchr(exe, '/') : NULL;
        if (slash && asprintf(&beside, "%.*s/%s", (int) (slash - exe), exe, TELERUN_REMOTE_MODULE) >= 0 &&
            access(beside, F_OK) >= 0) {
                module = dlopen(beside, RTLD_NOW | RTLD_LOCAL);
                if (module)
                        return module;
        }
        return dlopen(TELERUN_MODULE_DIR "/" TELERUN_REMOTE_MODULE, RTLD_NOW | RTLD_LOCAL);
}

static int client_remote_load(const ClientRemoteConfig *config, Client **ret, ClientError *e) {
        int (*remote_new)(const ClientRemoteConfig *config, Client **ret, ClientError *error);
        void *module;

        module = remote_module_open();
        if (!module)
                return client_error_set(e, -ENOENT, CLIENT_ERROR_OTHER, "Remote mode is not available: %s",
                                        dlerror());
        remote_new = (int (*)(const ClientRemoteConfig *, Client **, ClientError *)) dlsym(module,
                                                                                          "client_remote_new");
        if (!remote_new)
                return client_error_set(e, -ENOENT, CLIENT_ERROR_OTHER,
                                        "Remote mode is not available: %s has no client_remote_new()",
                                        TELERUN_REMOTE_MODULE);
        return remote_new(config, ret, e);
}

/* Returns 0, or the exit code after reporting the error. */
static int client_open(Client **ret) {
        _cleanup_(client_error_done) ClientError e = {};
        int r;

        if (arg_addr) {
                ClientRemoteConfig config = {
                        .addr = arg_addr,
                        .cert = arg_cert,
                        .key = arg_key,
                        .cacert = arg_cacert,
                };

                r = client_remote_load(&config, ret, &e);
        } else
                r = client_bus_new(ret, &e);
        if (r < 0)
                return report(&e);
        return 0;
}

/* A note on stderr when a followed job did not simply exit: its exit status alone (137) hides why. */
static void note_abnormal_end(json_object *job) {
        const char *reason = job_json_string(job, "reason"), *signame = job_json_string(job, "signal");

        if (!reason || streq(reason, "exited"))
                return;
        if (signame)
                fprintf(stderr, "telerun: job %s ended: %s (%s)\n", job_json_string(job, "id"), reason,
                        signame);
        else
                fprintf(stderr, "telerun: job %s ended: %s\n", job_json_string(job, "id"), reason);
}

/* Blocks the signals that mean "stop" for `run` and returns a signalfd for them, so that no Ctrl-C is lost
 * between Start and the first poll, and none interrupts a D-Bus call halfway. */
static int interrupt_setup(sigset_t *ret_old) {
        static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
        sigset_t mask;
        int fd;

        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                struct sigaction sa;

                /* An ignored signal stays ignored: `nohup telerun run ...` must survive the hangup. (A blocked
                 * signal is queued even when ignored, so the signalfd would see it.) */
                if (sigaction(signals[i], NULL, &sa) >= 0 && sa.sa_handler == SIG_IGN)
                        continue;
                sigaddset(&mask, signals[i]);
        }
        if (sigprocmask(SIG_BLOCK, &mask, ret_old) < 0)
                return -errno;
        fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0) {
                int r = -errno;
                (void) sigprocmask(SIG_SETMASK, ret_old, NULL);
                return r;
        }
        return fd;
}

/* Streams the job's output from offset (run: its start; attach: its end) until it is complete, waits for the
 * end, returns the job's exit status. output_fd: the output followed from offset, if start_follow() handed
 * it out already (taken over), else -EBADF. With interrupt_fd (run), Ctrl-C / SIGTERM / SIGHUP or a closed
 * stdout stop the job; without (start -f, attach), they only end telerun. Across a restart of the worker the
 * output resumes where it was (follow.h); telerun gives up, and says so, only when the worker stays away
 * longer than --reconnect-timeout. */
int telerun_follow_job(Client *c, const char *id, uint64_t offset, int output_fd, int interrupt_fd,
                       const sigset_t *old_mask) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(json_object_putp) json_object *job = NULL;
        _cleanup_(closep) int fd = output_fd;
        FollowRetry retry = follow_retry_init(arg_reconnect_timeout_usec, interrupt_fd);
        FollowStreams streams = {}, *fs = NULL;
        bool stdout_gone;
        int r;

        /* The job's stdout to ours, its stderr to ours, in frames, where the worker keeps them apart (an fd
         * handed out already is the merged stream). */
        if (fd < 0 && c->ops->open_output_ex) {
                demux_init(&streams.demux, TELERUN_STREAM_STDOUT | TELERUN_STREAM_STDERR, false);
                fs = &streams;
        }
        r = follow_output_streams(c, id, &fd, &offset, &retry, fs, true, &e);
        if (r == -EINTR || (r == -EPIPE && interrupt_fd >= 0))
                goto stop;
        if (r == -EPIPE)
                return TELERUN_EXIT_PIPE;
        if (r < 0) {
                int k = report(&e);

                /* run promises that the job does not outlive telerun; best effort. */
                if (interrupt_fd >= 0) {
                        client_error_done(&e);
                        (void) c->ops->stop(c, id, &e);
                }
                return k;
        }

        c->interrupt_fd = interrupt_fd;
        r = follow_wait(c, id, &retry, &job, &e);
        if (r == -EINTR)
                goto stop;
        if (r < 0)
                return report(&e);
        note_abnormal_end(job);
        follow_note_dropped(job);
        return job_exit_status(job);

stop:
        stdout_gone = r == -EPIPE;
        if (r == -EINTR) {
                struct signalfd_siginfo si;

                (void) read(interrupt_fd, &si, sizeof(si));
                fprintf(stderr, "telerun: stopping job %s\n", id);
        }
        /* From here on, another Ctrl-C ends telerun at once; the stop request is already on its way. */
        c->interrupt_fd = -EBADF;
        (void) sigprocmask(SIG_SETMASK, old_mask, NULL);
        client_error_done(&e);

        r = c->ops->stop(c, id, &e);
        if (r < 0)
                return report(&e);

        /* The job's last words (its SIGTERM handler may print), unless stdout is gone. */
        retry = follow_retry_init(arg_reconnect_timeout_usec, -EBADF);
        if (!stdout_gone)
                (void) follow_output_streams(c, id, &fd, &offset, &retry, fs, true, &e);
        client_error_done(&e);

        r = follow_wait(c, id, &retry, &job, &e);
        if (r < 0)
                return report(&e);
        if (!stdout_gone) {
                note_abnormal_end(job);
                follow_note_dropped(job);
        }
        return job_exit_status(job);
}

static int verb_start(Client *c) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(freep) char *id = NULL, *cwd = NULL;
        _cleanup_(closep) int interrupt_fd = -EBADF, output_fd = -EBADF, input_fd = -EBADF;
        StartRequest req = {
                .argv = arg_args,
                .env = arg_env,
                .cwd = arg_cwd,
                .limits = {
                        .cpu_quota_per_sec_usec = arg_cpu_quota,
                        .memory_max = arg_memory_max,
                        .io_read_bandwidth_max = arg_io_read_max,
                        .io_write_bandwidth_max = arg_io_write_max,
                        .tasks_max = arg_tasks_max,
                },
                .profile = arg_profile,
                .name = arg_name,
                .runtime_max_usec = arg_timeout_usec,
                .isolation = {
                        .private_pid = arg_private_pid,
                        .private_tmp = arg_private_tmp,
                        .private_network = arg_private_network,
                        .protect_system = arg_protect_system,
                },
                /* Locally the fd itself goes to the worker; a remote worker streams it (POST …/input). */
                .stdin_kind = !arg_stdin ? START_STDIN_NULL : arg_addr ? START_STDIN_STREAM : START_STDIN_FD,
                .stdin_fd = STDIN_FILENO,
        };
        /* -it on a terminal: our keys reach the job through its stdin stream, which a thread of ours feeds,
         * watching for the detach key (the job never reads our terminal itself); the worker keeps the stream
         * open past our end, so that `telerun attach` can type into it again. */
        bool session_keys = arg_tty && arg_stdin && arg_verb == VERB_RUN && isatty(STDIN_FILENO);
        sigset_t old_mask;
        int r;

        sigemptyset(&old_mask);
        if (arg_tty)   /* the job's terminal starts at the size of ours */
                terminal_size(isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDIN_FILENO, &req.tty_rows, &req.tty_cols);
        if (session_keys) {
                req.stdin_kind = START_STDIN_STREAM;
                req.stdin_fd = -EBADF;
        }
        if (!req.cwd) {
                if (arg_addr)
                        req.cwd = ""; /* our directory means nothing on the gateway's host */
                else {
                        cwd = getcwd(NULL, 0);
                        if (!cwd) {
                                fprintf(stderr, "telerun: cannot determine the current directory (%m), "
                                        "the job starts in the account's home directory\n");
                                req.cwd = "";
                        } else
                                req.cwd = cwd;
                }
        }

        if (arg_verb == VERB_RUN) {
                /* A closed stdout shows as EPIPE (main() ignores SIGPIPE) and stops the job, like the local
                 * pipeline would. */
                interrupt_fd = interrupt_setup(&old_mask);
                if (interrupt_fd < 0)
                        return report_errno(interrupt_fd, "Failed to set up signal handling");
        }

        /* Following: the job and its output in one go where the transport can; but that is the merged stream,
         * so not where the streams can be kept apart. */
        if ((arg_verb == VERB_RUN || arg_follow) && c->ops->start_follow && !c->ops->open_output_ex)
                r = c->ops->start_follow(c, &req, &id, &output_fd, &e);
        else
                r = c->ops->start(c, &req, &id, &e);
        if (r < 0)
                return report(&e);
        /* -it: our keys go to the job as they are typed (^C too), our terminal raw until every way out
         * (terminal.c); -t: our window's size is the job's terminal's, as it changes (SIGWINCH -> Resize). The
         * session of `telerun attach` too. */
        if (arg_tty && arg_verb == VERB_RUN) {
                if (session_keys) {
                        r = c->ops->open_input ? c->ops->open_input(c, id, &input_fd, &e) :
                                client_error_set(&e, -EOPNOTSUPP, CLIENT_ERROR_OTHER, "This worker takes no keys");
                        if (r < 0) {
                                int k = report(&e);

                                client_error_done(&e);
                                (void) c->ops->stop(c, id, &e);   /* run: the job does not outlive telerun */
                                return k;
                        }
                }
                r = terminal_session_begin(c, id, TAKE_FD(input_fd));
                if (r < 0)
                        return report_errno(r, "Failed to relay the terminal's input");
        }

        if (arg_verb == VERB_START) {
                /* With --follow stdout carries the job's output alone, so the id goes to stderr. */
                FILE *f = arg_follow ? stderr : stdout;

                if (arg_json != JSON_OFF) {
                        _cleanup_(json_object_putp) json_object *o = NULL;
                        json_object *v = NULL;

                        o = json_object_new_object();
                        v = json_object_new_string(id);
                        if (!o || !v || json_object_object_add(o, "id", v) < 0) {
                                json_object_put(v);
                                return report_errno(-ENOMEM, "Failed to format the job id");
                        }
                        print_json(f, o, arg_json);
                } else if (arg_follow)
                        fprintf(f, "telerun: job %s\n", id);
                else
                        fprintf(f, "%s\n", id);
                /* Remotely our stdin is streamed by the backend: the job gets it whole before we go. */
                if (!arg_follow && req.stdin_kind == START_STDIN_STREAM && c->ops->input_wait &&
                    c->ops->input_wait(c, &e) < 0)
                        return report(&e);
                if (!arg_follow)
                        return TELERUN_EXIT_OK;
                fflush(f);
        }

        return telerun_follow_job(c, id, 0, TAKE_FD(output_fd), interrupt_fd, &old_mask);
}

static int tail_offset(Client *c, const char *id, uint64_t size, uint64_t lines, uint64_t *ret,
                       ClientError *e) {
        _cleanup_(freep) uint8_t *buf = NULL;
        uint64_t end = size, chunk = TAIL_CHUNK_MIN, count = 0;
        int r;

        if (lines == 0) {
                *ret = size;
                return 0;
        }

        buf = malloc(TAIL_CHUNK_MAX);
        if (!buf)
                return client_error_set(e, -ENOMEM, CLIENT_ERROR_OTHER, "Out of memory");

        while (end > 0) {
                _cleanup_(closep) int fd = -EBADF;
                uint64_t len = MIN(chunk, end), start = end - len;
                int64_t n;

                r = c->ops->open_output(c, id, start, false, &fd, e);
                if (r < 0)
                        return r;
                n = read_full(fd, buf, len);
                if (n < 0)
                        return client_error_set(e, (int) n, CLIENT_ERROR_OTHER,
                                                "Failed to read the output: %m");
                if (tail_scan(buf, (size_t) n, start, size, lines, &count, ret))
                        return 0;
                end = start;
                chunk = MIN(chunk * 4, (uint64_t) TAIL_CHUNK_MAX);
        }

        *ret = 0;
        return 0;
}

/* The dropped-bytes notice after the output: the job's current record (for a follower, its final one). */
static void logs_note_dropped(Client *c, const char *id, FollowRetry *retry) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(json_object_putp) json_object *job = NULL;

        if (follow_get_job(c, id, retry, &job, &e) >= 0)
                follow_note_dropped(job);
}

/* Where logs starts: the worker resolves --tail (counted in the streams shown), --since and --offset into an
 * offset of the merged stream, which the reader then starts from (and a follower resumes from). */
static int logs_start_offset(Client *c, const char *id, uint64_t *ret, ClientError *e) {
        _cleanup_(closep) int fd = -EBADF;
        BusOutputOptions q = { .set = OUTPUT_OPT_OFFSET, .offset = arg_offset };

        if (arg_tail == UINT64_MAX && arg_since == UINT64_MAX) {
                *ret = arg_offset;
                return 0;
        }
        if (arg_tail != UINT64_MAX) {
                q.set |= OUTPUT_OPT_TAIL | OUTPUT_OPT_STREAM;
                q.tail = arg_tail;
                q.stream = arg_streams == TELERUN_STREAM_STDOUT ? "stdout" :
                           arg_streams == TELERUN_STREAM_STDERR ? "stderr" : "both";
        }
        if (arg_since != UINT64_MAX) {
                q.set |= OUTPUT_OPT_SINCE;
                q.since = arg_since;
        }
        return c->ops->open_output_ex(c, id, &q, &fd, ret, e);
}

/* logs where the worker keeps the streams apart: frames of both, shown as asked. -EOPNOTSUPP (nothing said
 * yet) when it does not. */
static int verb_logs_streams(Client *c) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(closep) int fd = -EBADF;
        FollowRetry retry = follow_retry_init(arg_reconnect_timeout_usec, -EBADF);
        FollowStreams fs = {};
        const char *id = arg_args[0];
        uint64_t offset;
        int r;

        r = logs_start_offset(c, id, &offset, &e);
        if (r == -EOPNOTSUPP)
                return r;
        if (r < 0)
                return report(&e);
        demux_init(&fs.demux, arg_streams ?: TELERUN_STREAM_STDOUT | TELERUN_STREAM_STDERR, arg_timestamps);
        if (arg_until != UINT64_MAX) {
                fs.options.set |= OUTPUT_OPT_UNTIL;
                fs.options.until = arg_until;
        }
        fs.options.set |= arg_timestamps ? OUTPUT_OPT_TIMESTAMPS : 0;
        fs.options.timestamps = arg_timestamps;

        if (!arg_follow)
                retry.timeout_usec = 0;
        r = follow_output_streams(c, id, &fd, &offset, &retry, &fs, arg_follow, &e);
        if (r == -EPIPE)
                return TELERUN_EXIT_PIPE;
        if (r < 0)
                return report(&e);
        retry.timeout_usec = arg_follow ? retry.timeout_usec : 0;
        logs_note_dropped(c, id, &retry);
        return TELERUN_EXIT_OK;
}

static int verb_logs(Client *c) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(closep) int fd = -EBADF;
        FollowRetry retry = follow_retry_init(arg_reconnect_timeout_usec, -EBADF);
        const char *id = arg_args[0];
        uint64_t offset = arg_offset;
        int r;

        if (c->ops->open_output_ex) {
                r = verb_logs_streams(c);
                if (r != -EOPNOTSUPP)
                        return r;
        }
        if (arg_streams || arg_since != UINT64_MAX || arg_until != UINT64_MAX || arg_timestamps)
                return report_errno(-EOPNOTSUPP, "The worker keeps no separate streams nor times: --stdout, "
                                    "--stderr, --since, --until and --timestamps need a newer one");

        if (arg_tail != UINT64_MAX) {
                _cleanup_(json_object_putp) json_object *job = NULL;
                uint64_t size = 0;

                r = c->ops->get_job(c, id, &job, &e);
                if (r < 0)
                        return report(&e);
                (void) job_json_uint64(job, "output_size", &size);
                r = tail_offset(c, id, size, arg_tail, &offset, &e);
                if (r < 0)
                        return report(&e);
        }

        if (arg_follow) {
                /* The first open is not retried: a wrong id or a worker that is not there is said at once. */
                r = c->ops->open_output(c, id, offset, true, &fd, &e);
                if (r < 0)
                        return report(&e);
                r = follow_output(c, id, &fd, &offset, &retry, &e);
                if (r == -EPIPE)
                        return TELERUN_EXIT_PIPE;
                if (r < 0)
                        return report(&e);
                logs_note_dropped(c, id, &retry);
                return TELERUN_EXIT_OK;
        }

        r = c->ops->open_output(c, id, offset, false, &fd, &e);
        if (r < 0)
                return report(&e);
        fflush(stdout);
        r = copy_stream(fd, STDOUT_FILENO, -EBADF, NULL);
        if (r == -EPIPE)
                return TELERUN_EXIT_PIPE;
        if (r < 0)
                return report_errno(r, "Failed to copy the job's output");
        retry.timeout_usec = 0;
        logs_note_dropped(c, id, &retry);
        return TELERUN_EXIT_OK;
}

static int verb_status(Client *c) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(json_object_putp) json_object *job = NULL;
        int r;

        r = c->ops->get_job(c, arg_args[0], &job, &e);
        if (r < 0)
                return report(&e);
        if (arg_json != JSON_OFF)
                print_json(stdout, job, arg_json);
        else
                print_job_status(stdout, job, now_usec(CLOCK_REALTIME));
        return TELERUN_EXIT_OK;
}

static size_t terminal_width(void) {
        struct winsize ws = {};
        const char *e;
        uint64_t v;

        if (!isatty(STDOUT_FILENO))
                return 0;
        e = getenv("COLUMNS");
        if (e && parse_uint64(e, &v) >= 0 && v > 0 && v < 10000)
                return (size_t) v;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 80;
}

static int verb_list(Client *c) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(json_object_putp) json_object *jobs = NULL;
        int r;
        JobListFilter filter;

        c->list_filter = telerun_list_filter(&filter);

        r = c->ops->list(c, &jobs, &e);
        if (r < 0)
                return report(&e);

        if (arg_json != JSON_OFF)
                print_json(stdout, jobs, arg_json);
        else if (arg_quiet) {
                size_t n = json_object_array_length(jobs);

                for (size_t i = 0; i < n; i++) {
                        const char *id = job_json_string(json_object_array_get_idx(jobs, i), "id");
                        if (id)
                                printf("%s\n", id);
                }
        } else
                print_job_table(stdout, jobs, terminal_width(), arg_legend);
        return TELERUN_EXIT_OK;
}

static int verb_stop(Client *c) {
        int ret = TELERUN_EXIT_OK;

        c->stop_grace_usec = arg_stop_time_usec;
        for (char **id = arg_args; *id; id++) {
                _cleanup_(client_error_done) ClientError e = {};
                int r;

                r = c->ops->stop(c, *id, &e);
                if (r < 0) {
                        int k = report(&e);
                        if (ret == TELERUN_EXIT_OK)
                                ret = k;
                }
        }
        return ret;
}

static int run(int argc, char *argv[]) {
        _cleanup_(client_freep) Client *c = NULL;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? (telerun_verb_is_job_status() ? TELERUN_EXIT_JOB_FAILED : TELERUN_EXIT_USAGE) :
                               TELERUN_EXIT_OK;
        if (arg_verb == VERB_REMOTE)
                return telerun_remote_verb(); /* the remotes file only: no worker */

        r = client_open(&c);
        if (r != 0)
                return telerun_verb_is_job_status() ? TELERUN_EXIT_JOB_FAILED : r;

        switch (arg_verb) {
        case VERB_START:
        case VERB_RUN:
                return verb_start(c);
        case VERB_STATUS:
                return verb_status(c);
        case VERB_LOGS:
                return verb_logs(c);
        case VERB_STOP:
                return verb_stop(c);
        case VERB_LIST:
                return verb_list(c);
        case VERB_WAIT:
                return verb_wait(c);
        case VERB_RM:
                return verb_rm(c);
        case VERB_KILL:
                return verb_kill(c);
        case VERB_ATTACH:
                return verb_attach(c);
        default:
                return TELERUN_EXIT_USAGE;
        }
}

/* Whether stdout is a pipe or socket whose reader went away (an earlier write failed with EPIPE, which errno no
 * longer says by the time main() looks). */
static bool stdout_reader_gone(void) {
        struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

        return poll(&p, 1, 0) > 0 && (p.revents & POLLERR);
}

int main(int argc, char *argv[]) {
        int r;

        /* A reader of our stdout that goes away (`telerun logs ID | head`) is EPIPE on the write, never a
         * signal whatever disposition we inherited: telerun then ends quietly with TELERUN_EXIT_PIPE, the
         * status a shell reports for `cat` killed by SIGPIPE (run stops its job first). */
        (void) signal(SIGPIPE, SIG_IGN);

        r = run(argc, argv);
        /* run, wait, start -f: the job's status, or 125-127 when telerun did not get one (docs/cli.md). */
        if (reported && telerun_verb_is_job_status())
                r = telerun_job_failure_exit(reported_api);
        telerun_args_reset();

        errno = 0;
        if (fflush(stdout) != 0 || ferror(stdout)) {
                if (errno == EPIPE || stdout_reader_gone())
                        return r == TELERUN_EXIT_OK ? TELERUN_EXIT_PIPE : r;
                fprintf(stderr, "telerun: failed to write to standard output\n");
                if (r == TELERUN_EXIT_OK)
                        r = TELERUN_EXIT_FAILURE;
        }
        return r;
}
