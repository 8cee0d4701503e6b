/* SPDX-License-Identifier: MIT */
/* input.c - a job's stdin (docs/design.md, "stdin and terminals"): /dev/null, the caller's own fd, or a pipe
 * whose write end the daemon keeps until one caller takes it (OpenInput; a terminal's is copied to every
 * caller, so a job can be reattached). The daemon never reads a byte of
 * it: the fd goes to the reaper, which passes it on to the job's child, which makes it fd 0 only after it
 * has dropped to the job's account. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "engine/errors.h"
#include "engine/fdstore.h"
#include "shared/macro.h"
#include "engine/manager-internal.h"
#include "engine/request.h"

int job_stdin_prepare(Job *j, const JobRequest *req, int *ret_fd, sd_bus_error *error) {
        int fds[2], r;

        *ret_fd = -EBADF;
        j->stdin_kind = req->stdin_kind;
        j->tty_rows = req->tty_rows;
        j->tty_cols = req->tty_cols;
        switch (req->stdin_kind) {
        case START_STDIN_NULL:
                return 0;
        case START_STDIN_FD:
                r = request_check_stdin_fd(req->stdin_fd, error);
                if (r < 0)
                        return r;
                /* Our own copy: the message that brought it goes away before the reaper is spawned. */
                *ret_fd = fcntl(req->stdin_fd, F_DUPFD_CLOEXEC, 3);
                return *ret_fd < 0 ? -errno : 0;
        case START_STDIN_STREAM:
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return -errno;
                j->input_fd = safe_close(j->input_fd);
                j->input_fd = fds[1];
                *ret_fd = fds[0];
                return 0;
        default:
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS, "Unknown StandardInput kind.");
        }
}

int manager_open_input(Manager *m, Job *j, int *ret_fd, sd_bus_error *error) {
        (void) m;
        if (j->stdin_kind != START_STDIN_STREAM)
                return sd_bus_error_setf(error, TW_ERROR_NO_INPUT,
                                         "Job %s was not started with StandardInput 'stream' (-i).", j->id);
        if (job_state_is_final(j->state))
                return sd_bus_error_setf(error, TW_ERROR_NO_INPUT, "Job %s has ended: it reads no more input.",
                                         j->id);
        if (j->input_fd < 0)
                return sd_bus_error_setf(error, TW_ERROR_NO_INPUT,
                                         "The input of job %s was opened already (one writer per job).", j->id);
        /* A terminal ends its input only with ^D, never by a writer going away: each attacher gets a copy and
         * the daemon keeps its own until the job ends (so a detach leaves a job something to reattach to).
         * The copy is the caller's once sent, so nothing per attach stays with the daemon. */
        if (job_tty(j)) {
                *ret_fd = fcntl(j->input_fd, F_DUPFD_CLOEXEC, 3);
                return *ret_fd < 0 ? sd_bus_error_set_errnof(error, errno, "Failed to copy the input of job %s: %m",
                                                             j->id)
                                   : 0;
        }
        /* Handed over, not copied: from now on the job reads EOF when the caller closes its end. */
        *ret_fd = TAKE_FD(j->input_fd);
        return 0;
}

StartStdin job_stdin(const Job *j) {
        return j->stdin_kind;
}

bool job_tty(const Job *j) {
        return j->tty_rows > 0;
}

/* A pty master is a character device 5:2 (/dev/ptmx) on every devpts mount. */
static bool job_terminal_check(const Job *j, int fd) {
        struct stat st;

        return j->tty_rows > 0 && j->tty_fd < 0 && fstat(fd, &st) >= 0 && S_ISCHR(st.st_mode) &&
               major(st.st_rdev) == 5 && minor(st.st_rdev) == 2;
}

void job_set_terminal(Job *j, int fd) {
        if (!job_terminal_check(j, fd)) {
                safe_close(fd);
                return;
        }
        j->tty_fd = fd;
        /* Now that the job runs on its terminal: the master and the input survive a restart of ours (the
         * store's copies; a terminal's input has no end to lose, unlike a plain stream's). */
        (void) manager_fdstore_add(j->manager, j->tty_fd, "tty", j);
        if (j->stdin_kind == START_STDIN_STREAM)
                (void) manager_fdstore_add(j->manager, j->input_fd, "in", j);
}

void job_terminal_adopt(Job *j, FdStore *fds) {
        int tty = fdstore_take(fds, "tty", j->id), in = fdstore_take(fds, "in", j->id);

        /* Checked again: the store is ours, but its names say nothing of what a job record asks for. */
        if (tty >= 0 && job_terminal_check(j, tty))
                j->tty_fd = tty;
        else
                safe_close(tty);
        if (in >= 0 && job_tty(j) && j->stdin_kind == START_STDIN_STREAM && j->input_fd < 0)
                j->input_fd = in;
        else
                safe_close(in);
}

void job_terminal_release(Job *j) {
        if (j->tty_fd >= 0)
                manager_fdstore_remove(j->manager, "tty", j);
        if (j->input_fd >= 0 && job_tty(j))
                manager_fdstore_remove(j->manager, "in", j);
        j->input_fd = safe_close(j->input_fd);
        j->tty_fd = safe_close(j->tty_fd);
}

int manager_resize_job(Manager *m, Job *j, uint16_t rows, uint16_t cols, sd_bus_error *error) {
        struct winsize ws = { .ws_row = rows, .ws_col = cols };

        (void) m;
        if (rows == 0 || cols == 0 || rows > START_TTY_SIZE_MAX || cols > START_TTY_SIZE_MAX)
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Terminal size %ux%u is out of range (1 to %u rows and columns).", rows, cols,
                                         START_TTY_SIZE_MAX);
        if (j->tty_fd < 0)
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Job %s has no terminal to resize%s.", j->id,
                                         j->tty_rows > 0 ? " (it ended, or the daemon restarted without its fd store)" : "");
        if (ioctl(j->tty_fd, TIOCSWINSZ, &ws) < 0)
                return sd_bus_error_set_errnof(error, errno, "Failed to resize the terminal of job %s: %m", j->id);
        return 0;
}
