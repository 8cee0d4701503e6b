/* SPDX-License-Identifier: MIT */
/* handover.c - taking back the fds a reaper kept for the daemon (handover.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "exec/exec-protocol.h"
#include "engine/handover.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"

/* systemd drops its fd store on `systemctl stop`: the reaper of each running job then waits on
 * EXEC_HANDOVER_DIR/<id>.sock with copies of both fds (exec-protocol.h). Only that reaper may answer: the
 * peer must be root and the reaper's PID (checked through a pidfd held on it). Bounded: the reaper
 * answers at once; a second at most for one that is only just noticing it lost us. */
int handover_reclaim_fds(const char *id, pid_t reaper_pid, unsigned tries, int *ret_ctl, int *ret_out, int *ret_err) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(3 * sizeof(int))];
        } control = {};
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = 1 };
        ExecMessage msg = {};
        struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct cmsghdr *c;
        _cleanup_(closep) int fd = -EBADF;
        int fds[3] = { -EBADF, -EBADF, -EBADF };
        size_t n_fds;
        ssize_t n;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", EXEC_HANDOVER_DIR, id);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (int i = 0; connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0; i++) {
                if ((unsigned) i + 1 >= tries || (errno != ENOENT && errno != ECONNREFUSED))
                        return -errno;
                (void) usleep(20 * 1000);
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        if (cred.uid != 0 || (reaper_pid > 0 && cred.pid != reaper_pid))
                return -EPERM;
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                return -EBADMSG;
        if (c->cmsg_len == CMSG_LEN(2 * sizeof(int)))
                n_fds = 2;
        else if (c->cmsg_len == CMSG_LEN(3 * sizeof(int)))
                n_fds = 3;
        else
                return -EBADMSG;
        memcpy(fds, CMSG_DATA(c), n_fds * sizeof(int));
        if (n != (ssize_t) sizeof(msg) || msg.type != EXEC_MSG_HANDOVER) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return -EBADMSG;
        }
        *ret_ctl = fds[0];
        *ret_out = fds[1];
        *ret_err = fds[2];
        return 0;
}

/* Reapers waiting for a daemon that has no running job for them (its record is gone, or it was refused
 * and discarded just before a stop): release them, so they end with their job instead of waiting. */
void handover_release_strays(bool (*is_running)(const char *id, void *userdata), void *userdata) {
        DIR *d = opendir(EXEC_HANDOVER_DIR);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                char id[JOB_ID_STRING_MAX], path[sizeof(EXEC_HANDOVER_DIR) + 64];
                ExecMessage release = { .type = EXEC_MSG_RELEASE };
                size_t len = strlen(de->d_name);
                int ctl = -EBADF, out = -EBADF, err = -EBADF;

                if (len != JOB_ID_STRING_MAX - 1 + strlen(".sock") || !streq(de->d_name + JOB_ID_STRING_MAX - 1, ".sock"))
                        continue;
                memcpy(id, de->d_name, JOB_ID_STRING_MAX - 1);
                id[JOB_ID_STRING_MAX - 1] = 0;
                if (!job_id_is_valid(id) || is_running(id, userdata))
                        continue;
                if (handover_reclaim_fds(id, 0, 1, &ctl, &out, &err) < 0) {
                        /* Nobody listens: a socket file left by a reaper that is gone. */
                        snprintf(path, sizeof(path), "%s/%s", EXEC_HANDOVER_DIR, de->d_name);
                        (void) unlink(path);
                        continue;
                }
                (void) send(ctl, &release, sizeof(release), MSG_NOSIGNAL | MSG_DONTWAIT);
                (void) shutdown(ctl, SHUT_RDWR);
                safe_close(ctl);
                safe_close(out);
                safe_close(err);
                log_info("Released the reaper of job %s, which this daemon does not run.", id);
        }
        if (d)
                (void) closedir(d);
}

