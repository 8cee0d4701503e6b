/* SPDX-License-Identifier: MIT */
/* telerun-lifecycle.c - telerun's rm, kill and wait (several jobs, or the first to end): the commands that
 * act on a list of jobs, each named by its id or a unique prefix (docs/cli.md). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "follow.h"
#include "format.h"
#include "shared/job-ref.h"
#include "shared/macro.h"
#include "shared/util.h"
#include "telerun.h"

/* --any polls the jobs' states, from every 50 ms up to every second: a CLI's wait, not the daemon's. */
#define WAIT_ANY_POLL_MIN_MS 50
#define WAIT_ANY_POLL_MAX_MS 1000

/* The first failure's exit code wins; later ones are reported too. */
static void keep_first(int *ret, int k) {
        if (*ret == TELERUN_EXIT_OK)
                *ret = k;
}

/* rm -f: a running job is stopped (its scope gone) before it is removed. */
static int rm_one(Client *c, const char *id, bool force, ClientError *e) {
        _cleanup_(freep) char *removed = NULL;
        int r;

        r = c->ops->remove(c, id, &removed, e);
        if (r < 0 && force && e->api && streq(e->api->name, TW_ERROR_JOB_RUNNING)) {
                client_error_done(e);
                r = c->ops->stop(c, id, e);
                if (r >= 0)
                        r = c->ops->remove(c, id, &removed, e);
        }
        if (r < 0)
                return r;
        printf("%s\n", removed);
        return 0;
}

int verb_rm(Client *c) {
        int ret = TELERUN_EXIT_OK;

        c->stop_grace_usec = arg_stop_time_usec;
        for (char **id = arg_args; *id; id++) {
                _cleanup_(client_error_done) ClientError e = {};

                if (rm_one(c, *id, arg_force || arg_follow, &e) < 0)
                        keep_first(&ret, telerun_report(&e));
        }
        return ret;
}

int verb_kill(Client *c) {
        int ret = TELERUN_EXIT_OK;

        for (char **id = arg_args; *id; id++) {
                _cleanup_(client_error_done) ClientError e = {};

                if (c->ops->kill(c, *id, arg_signal, &e) < 0)
                        keep_first(&ret, telerun_report(&e));
        }
        return ret;
}

static void wait_print(json_object *job) {
        if (arg_json != JSON_OFF)
                print_json(stdout, job, arg_json);
        else
                print_job_summary(stdout, job);
}

static bool job_json_ended(json_object *job) {
        const char *state = job_json_string(job, "state");

        return state && !streq(state, "submitted") && !streq(state, "running");
}

/* --any: the first job to end (in the order given when several have), by polling their states. */
static int wait_any(Client *c) {
        int delay = WAIT_ANY_POLL_MIN_MS;

        for (;;) {
                for (char **id = arg_args; *id; id++) {
                        _cleanup_(client_error_done) ClientError e = {};
                        _cleanup_(json_object_putp) json_object *job = NULL;
                        FollowRetry retry = follow_retry_init(arg_reconnect_timeout_usec, -EBADF);

                        if (follow_get_job(c, *id, &retry, &job, &e) < 0)
                                return telerun_report(&e);
                        if (job_json_ended(job)) {
                                wait_print(job);
                                return job_exit_status(job);
                        }
                }
                (void) poll(NULL, 0, delay);
                delay = MIN(delay * 2, WAIT_ANY_POLL_MAX_MS);
        }
}

/* Every job, in the order given; the exit status is the last one's (as the shell's wait), 125 if any
 * could not be waited for. */
int verb_wait(Client *c) {
        int ret = TELERUN_EXIT_OK, last = TELERUN_EXIT_OK;

        if (arg_any)
                return wait_any(c);
        for (char **id = arg_args; *id; id++) {
                _cleanup_(client_error_done) ClientError e = {};
                _cleanup_(json_object_putp) json_object *job = NULL;
                FollowRetry retry = follow_retry_init(arg_reconnect_timeout_usec, -EBADF);

                if (follow_wait(c, *id, &retry, &job, &e) < 0) {
                        keep_first(&ret, telerun_report(&e));
                        continue;
                }
                wait_print(job);
                last = job_exit_status(job);
        }
        return ret != TELERUN_EXIT_OK ? ret : last;
}
