/* SPDX-License-Identifier: MIT */
/* fdstore.c - running jobs' fds in systemd's file descriptor store (fdstore.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "engine/fdstore.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"

static int fdstore_name(char *buf, size_t n, const char *kind, const char *job_id) {
        char hex[JOB_ID_HEX_MAX];
        int r = job_id_to_hex(job_id, hex);

        if (r < 0)
                return r;
        snprintf(buf, n, "%s-%s", kind, hex);
        return 0;
}

int fdstore_add(bool enabled, int fd, const char *kind, const char *job_id) {
        char name[64], msg[128];

        if (!enabled || fd < 0 || fdstore_name(name, sizeof(name), kind, job_id) < 0)
                return 0;
        snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
        return sd_pid_notify_with_fds(0, false, msg, &fd, 1);
}

void fdstore_remove(bool enabled, const char *kind, const char *job_id) {
        char name[64], msg[128];

        if (!enabled || fdstore_name(name, sizeof(name), kind, job_id) < 0)
                return;
        snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
        (void) sd_pid_notify(0, false, msg);
}

int fdstore_listen(FdStore *s) {
        *s = (FdStore) {};
        s->n = sd_listen_fds_with_names(true, &s->names);
        if (s->n < 0) {
                log_warning_errno(s->n, "Cannot read the stored file descriptors");
                s->n = 0;
        }
        if (s->n == 0)
                return 0;
        s->fds = new0(int, s->n);
        if (!s->fds) {
                fdstore_done(s);
                return -ENOMEM;
        }
        for (int i = 0; i < s->n; i++) {
                s->fds[i] = SD_LISTEN_FDS_START + i;
                (void) fcntl(s->fds[i], F_SETFD, FD_CLOEXEC);
        }
        return 0;
}

int fdstore_take(FdStore *s, const char *kind, const char *job_id) {
        char name[64];

        if (fdstore_name(name, sizeof(name), kind, job_id) < 0)
                return -EBADF;
        for (int i = 0; s->fds && i < s->n; i++)
                if (s->fds[i] >= 0 && s->names && s->names[i] && streq(s->names[i], name))
                        return TAKE_FD(s->fds[i]);
        return -EBADF;
}

void fdstore_drop_unclaimed(FdStore *s) {
        for (int i = 0; s->fds && i < s->n; i++) {
                char msg[300];

                if (s->fds[i] < 0)
                        continue;
                if (s->names && s->names[i]) {
                        snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", s->names[i]);
                        (void) sd_pid_notify(0, false, msg);
                }
                s->fds[i] = safe_close(s->fds[i]);
        }
        fdstore_done(s);
}

void fdstore_done(FdStore *s) {
        for (int i = 0; s->names && i < s->n; i++)
                free(s->names[i]);
        s->names = mfree(s->names);
        s->fds = mfree(s->fds);
        s->n = 0;
}

/* Whether systemd keeps fds for us: our own service has FileDescriptorStoreMax= > 0. Asked once, at start
 * (systemd 252 does not announce it in $FDSTORE yet). */
bool fdstore_available(sd_bus *bus) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        uint32_t max = 0;
        int r;

        if (!getenv("NOTIFY_SOCKET"))
                return false;
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnitByPID", &e, &reply, "u", (uint32_t) getpid());
        if (r >= 0 && sd_bus_message_read(reply, "o", &path) >= 0)
                r = sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", path,
                                                "org.freedesktop.systemd1.Service", "FileDescriptorStoreMax", &e,
                                                'u', &max);
        sd_bus_error_free(&e);
        if (r < 0 || max == 0)
                log_warning("No file descriptor store (FileDescriptorStoreMax=0): running jobs lose their output "
                            "and exit status if teleworkerd restarts.");
        return r >= 0 && max > 0;
}
