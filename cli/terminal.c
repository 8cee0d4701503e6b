/* SPDX-License-Identifier: MIT */
/* terminal.c - raw mode for telerun's terminal during `run -t`, restored on every way out: return from main()
 * and exit() (atexit), and the fatal signals a user or a bug may raise (the handler restores, then re-raises
 * with the default action). SIGKILL leaves it raw, as it does for every program: `stty sane` or `reset`. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "shared/util.h"
#include "terminal.h"

static struct termios saved;
static int saved_fd = -1;

void terminal_size(int fd, uint16_t *ret_rows, uint16_t *ret_cols) {
        struct winsize ws = {};

        if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0) {
                ws.ws_row = 24;
                ws.ws_col = 80;
        }
        *ret_rows = ws.ws_row;
        *ret_cols = ws.ws_col;
}

void terminal_restore(void) {
        if (saved_fd < 0)
                return;
        (void) tcsetattr(saved_fd, TCSADRAIN, &saved);
        saved_fd = -1;
}

static void on_fatal_signal(int sig) {
        int e = errno;

        terminal_restore();   /* tcsetattr() is async-signal-safe */
        (void) signal(sig, SIG_DFL);
        (void) raise(sig);
        errno = e;
}

int terminal_raw_begin(int fd) {
        static const int fatal[] = { SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGQUIT };
        struct sigaction sa = { .sa_handler = on_fatal_signal, .sa_flags = SA_RESETHAND };
        static bool registered;
        struct termios raw;

        if (tcgetattr(fd, &saved) < 0)
                return -errno;
        raw = saved;
        /* cfmakeraw() without its output part: the job's pty already sends "\r\n", and our own messages on
         * stderr keep their line starts. */
        raw.c_iflag &= ~(tcflag_t) (IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        raw.c_lflag &= ~(tcflag_t) (ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        raw.c_cflag &= ~(tcflag_t) (CSIZE | PARENB);
        raw.c_cflag |= CS8;
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
                return -errno;
        saved_fd = fd;
        if (!registered) {
                registered = true;
                (void) atexit(terminal_restore);
                for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
                        (void) sigaction(fatal[i], &sa, NULL);
        }
        return 0;
}

typedef struct ResizeForward {
        Client *client;
        char *id;
        int fd;
} ResizeForward;

static void *terminal_resize_thread(void *userdata) {
        ResizeForward *f = userdata;
        sigset_t winch;
        int sig;

        sigemptyset(&winch);
        sigaddset(&winch, SIGWINCH);
        for (;;) {
                ClientError e = {};
                uint16_t rows, cols;

                if (sigwait(&winch, &sig) != 0)
                        continue;
                terminal_size(f->fd, &rows, &cols);
                /* A failed resize (the job just ended) is not worth a word in the middle of its output. */
                (void) f->client->ops->resize(f->client, f->id, rows, cols, &e);
                client_error_done(&e);
        }
        return NULL;
}

int terminal_forward_resizes(Client *c, const char *id, int fd) {
        ResizeForward *f;
        sigset_t winch;
        int r;

        if (!c->ops->resize)
                return -EOPNOTSUPP;
        f = calloc(1, sizeof(*f));
        if (!f || !(f->id = strdup(id))) {
                free(f);
                return -ENOMEM;
        }
        f->client = c;
        f->fd = fd;
        sigemptyset(&winch);
        sigaddset(&winch, SIGWINCH);
        (void) pthread_sigmask(SIG_BLOCK, &winch, NULL);
        /* The thread takes SIGWINCH only (sigwait), nothing meant for the main thread. */
        r = client_thread_start(terminal_resize_thread, f);
        if (r < 0) {
                free(f->id);
                free(f);
        }
        return r;
}

static char detach_job[64];

void terminal_input_set_job(const char *id) {
        (void) snprintf(detach_job, sizeof(detach_job), "%s", id);
}

static _Noreturn void terminal_detach(void) {
        terminal_restore();
        if (detach_job[0])
                fprintf(stderr, "\ntelerun: detached; job %s keeps running (telerun attach %s, telerun stop %s)\n",
                        detach_job, detach_job, detach_job);
        else
                fprintf(stderr, "\ntelerun: detached\n");
        _exit(0);
}

typedef struct InputPump {
        int from, to;
} InputPump;

static void *terminal_input_thread(void *userdata) {
        InputPump p = *(InputPump *) userdata;
        char buf[4096];

        free(userdata);
        for (;;) {
                ssize_t n = read(p.from, buf, sizeof(buf));
                char *key;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                key = memchr(buf, TERMINAL_DETACH_KEY, (size_t) n);
                if (key && loop_write(p.to, buf, (size_t) (key - buf)) >= 0)
                        terminal_detach();
                if (loop_write(p.to, buf, (size_t) n) < 0)
                        break;   /* the job closed its stdin */
        }
        (void) close(p.to);   /* EOF for the job */
        return NULL;
}

int terminal_input_to(int fd, int to) {
        InputPump *p = malloc(sizeof(*p));
        int r;

        if (!p)
                return -ENOMEM;
        *p = (InputPump) { .from = fd, .to = to };
        r = client_thread_start(terminal_input_thread, p);
        if (r < 0)
                free(p);
        return r;
}

int terminal_session_begin(Client *c, const char *id, int input_fd) {
        int r;

        if (input_fd >= 0) {
                r = isatty(STDIN_FILENO) ? terminal_raw_begin(STDIN_FILENO) : 0;
                if (r < 0)
                        fprintf(stderr, "telerun: cannot put the terminal in raw mode (%s): keys are sent a line "
                                "at a time, ^C stops the job\n", strerror(-r));
                terminal_input_set_job(id);
                r = terminal_input_to(STDIN_FILENO, input_fd);
                if (r < 0) {
                        (void) close(input_fd);
                        return r;
                }
        }
        if (isatty(STDOUT_FILENO) || isatty(STDIN_FILENO))
                (void) terminal_forward_resizes(c, id, isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDIN_FILENO);
        return 0;
}
