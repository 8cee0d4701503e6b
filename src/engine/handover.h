/* SPDX-License-Identifier: MIT */
/* handover.h - fds a running job's reaper kept for a daemon that lost them (exec-protocol.h, "handover").
 *
 * systemd drops its fd store on `systemctl stop`: the reaper of each running job then waits on
 * EXEC_HANDOVER_DIR/<id>.sock with copies of the job's control socket and output pipe. No manager here: a job
 * is its id, and the caller says which ids it runs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* The control socket and output pipes from the reaper of job id (reaper_pid > 0: only that process may answer;
 * 0: any root process), trying to connect up to tries times 20 ms apart. *ret_err is -EBADF from a reaper that
 * has no stderr pipe of its own (spawned by a daemon from before the streams were kept apart). */
int handover_reclaim_fds(const char *id, pid_t reaper_pid, unsigned tries, int *ret_ctl, int *ret_out, int *ret_err);
/* Releases every reaper waiting there for a job is_running() says the daemon does not run, so that it ends
 * with its job instead of waiting; removes socket files nobody listens on. */
void handover_release_strays(bool (*is_running)(const char *id, void *userdata), void *userdata);
