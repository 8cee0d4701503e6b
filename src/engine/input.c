/* SPDX-License-Identifier: MIT */
/* input.c - a job's stdin (docs/design.md, "stdin and terminals"): /dev/null, the caller's own fd, or a pipe
 * whose write end the daemon keeps until one caller takes it (OpenInput). The daemon never reads a byte of
 * it: the fd goes to the reaper, which passes it on to the job's child, which makes it fd 0 only after it
 * has dropped to the job's account. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "engine/errors.h"
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
