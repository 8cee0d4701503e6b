/* SPDX-License-Identifier: MIT */
/* telerun-attach.c - `telerun attach ID`: type into a running terminal job again after a detach, as `docker
 * attach` does. The session is run -it's (terminal.c: raw keys, ^], SIGWINCH -> Resize; telerun.c: the output
 * to its end, the job's status) without the start: the worker hands every attacher a copy of a terminal job's
 * input (OpenInput), and the output is shown from its current end (new output only). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "client.h"
#include "shared/macro.h"
#include "telerun.h"
#include "terminal.h"

/* Why job can not be attached to (NULL: it can): refused before anything is opened, in words that say what
 * to use instead. */
static const char *attach_refusal(json_object *job) {
        const char *stdin_kind = job_json_string(job, "stdin");
        json_object *tty = NULL;

        if (!json_object_object_get_ex(job, "tty", &tty) || !json_object_get_boolean(tty))
                return "has no terminal (it was not started with -t)";
        if (job_json_string(job, "reason"))   /* null until the job has ended (bus-json.h) */
                return "has ended";
        if (!stdin_kind || !streq(stdin_kind, "stream"))
                return "has no input to type into (it was started with -t alone, or -it off a terminal)";
        return NULL;
}

int verb_attach(Client *c) {
        _cleanup_(client_error_done) ClientError e = {};
        _cleanup_(json_object_putp) json_object *job = NULL;
        _cleanup_(closep) int input_fd = -EBADF;
        const char *id, *why;
        uint64_t size = 0;
        int r;

        /* The whole id from here on: a prefix or a name resolves once, to the job checked here. */
        r = c->ops->get_job(c, arg_args[0], &job, &e);
        if (r < 0)
                return telerun_report(&e);
        id = job_json_string(job, "id");
        if (!id) {
                client_error_set(&e, -EBADMSG, CLIENT_ERROR_OTHER, "The worker's answer has no job id");
                return telerun_report(&e);
        }
        why = attach_refusal(job);
        if (why) {
                client_error_set(&e, -EINVAL, CLIENT_ERROR_INVALID, "Cannot attach to job %s: it %s; "
                                 "telerun logs %s shows its output", id, why, id);
                return telerun_report(&e);
        }
        (void) job_json_uint64(job, "output_size", &size);

        if (!c->ops->open_input)
                r = client_error_set(&e, -EOPNOTSUPP, CLIENT_ERROR_OTHER, "This worker cannot attach");
        else
                r = c->ops->open_input(c, id, &input_fd, &e);
        if (r < 0)
                return telerun_report(&e);

        /* The size once now (a reattach from another window), then as it changes. A job that has the same
         * size already is not signalled (the kernel sends SIGWINCH only on a change). */
        if (c->ops->resize && (isatty(STDOUT_FILENO) || isatty(STDIN_FILENO))) {
                _cleanup_(client_error_done) ClientError re = {};
                uint16_t rows, cols;

                terminal_size(isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDIN_FILENO, &rows, &cols);
                (void) c->ops->resize(c, id, rows, cols, &re);
        }
        r = terminal_session_begin(c, id, TAKE_FD(input_fd));
        if (r < 0) {
                client_error_set(&e, r, CLIENT_ERROR_OTHER, "Failed to relay the terminal's input: %m");
                return telerun_report(&e);
        }
        /* A shell waiting at its prompt prints nothing new: the prompt was before our offset. */
        fprintf(stderr, "telerun: attached to job %s; press Enter if you see no prompt, ^] to detach\n", id);
        return telerun_follow_job(c, id, size, -EBADF, -EBADF, NULL);
}
