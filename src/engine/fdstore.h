/* SPDX-License-Identifier: MIT */
/* fdstore.h - the fds of running jobs kept in systemd's file descriptor store across restarts of the daemon.
 *
 * Each running job has three there, named <kind>-<id in hex> (FDSTORE=1, FDNAME=...): "out" and "err", the
 * read ends of its stdout and stderr pipes, and "ctl", the daemon's end of its reaper's control socket (a job
 * with a terminal two more: "tty", its pty master, and "in", its input stream's write end: input.c). At
 * start they come back through sd_listen_fds_with_names() into an FdStore table, each taken by the job it
 * belongs to; whatever no job takes is stale and dropped. No manager here: a job is its id. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct FdStore {
        int *fds;      /* -EBADF once taken */
        char **names;
        int n;
} FdStore;

/* Whether systemd keeps fds for us (our service has FileDescriptorStoreMax= > 0; asked on bus once, at
 * start, with a blocking call: systemd 252 does not announce it in $FDSTORE). Warns when it does not. */
bool fdstore_available(sd_bus *bus);

/* Hands fd (dup'ed by systemd) to the store; does nothing unless enabled (the service has a store). */
int fdstore_add(bool enabled, int fd, const char *kind, const char *job_id);
void fdstore_remove(bool enabled, const char *kind, const char *job_id);

/* The fds systemd passed at start (and unsets $LISTEN_FDS): 0, or -ENOMEM with the fds left open and in the
 * store for the next start. */
int fdstore_listen(FdStore *s);
/* The fd of that kind of the job, now the caller's; -EBADF when there is none. */
int fdstore_take(FdStore *s, const char *kind, const char *job_id);
/* Closes every fd no job took and removes it from systemd's store, then frees the table. */
void fdstore_drop_unclaimed(FdStore *s);
/* Frees the table and leaves the fds it still holds open (in systemd's store, for the next start). */
void fdstore_done(FdStore *s);
