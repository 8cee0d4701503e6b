/* SPDX-License-Identifier: MIT */
/* userdb.c - the Varlink socket of the dynamic users: NUL-terminated JSON requests in, replies out
 * (userdb-proto.c answers), one connection = one small state machine on the event loop.
 *
 * A connection reads until a request is complete, answers it, and reads the next one only when the answer
 * has been written: the output buffer holds one answer at most, and a client that does not read cannot make
 * us buffer more. Requests larger than USERDB_MESSAGE_MAX, malformed ones and idle connections are
 * closed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/log.h"
#include "core/userdb-proto.h"
#include "engine/userdb.h"
#include "shared/util.h"

typedef struct UserdbConn UserdbConn;

struct UserdbServer {
        sd_event *event;
        const DynUserTable *table;
        char *path;
        int fd;
        bool bound; /* the socket file is ours to remove */
        sd_event_source *accept_source;
        UserdbConn *conns;
        unsigned n_conns;
};

struct UserdbConn {
        UserdbServer *server;
        UserdbConn *prev, *next;
        int fd;
        sd_event_source *io_source;
        sd_event_source *idle_source;
        char in[USERDB_MESSAGE_MAX + 1];
        size_t in_len;
        char *out;
        size_t out_len, out_done;
};

static UserdbConn *userdb_conn_free(UserdbConn *c) {
        UserdbServer *s;

        if (!c)
                return NULL;
        s = c->server;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_conns--;
        sd_event_source_disable_unref(c->io_source);
        sd_event_source_disable_unref(c->idle_source);
        safe_close(c->fd);
        free(c->out);
        free(c);
        return NULL;
}

static int userdb_conn_flush(UserdbConn *c) {
        while (c->out_done < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                c->out_done += (size_t) n;
        }
        c->out = mfree(c->out);
        c->out_len = c->out_done = 0;
        return 0;
}

/* Answers complete requests until one leaves output unwritten. <0: close the connection. */
static int userdb_conn_process(UserdbConn *c) {
        char *nul;
        int r;

        while (!c->out && (nul = memchr(c->in, 0, c->in_len))) {
                size_t len = (size_t) (nul - c->in);

                r = userdb_handle(c->server->table, c->in, len, &c->out, &c->out_len);
                if (r < 0)
                        return r;
                memmove(c->in, nul + 1, c->in_len - len - 1);
                c->in_len -= len + 1;
                r = userdb_conn_flush(c);
                if (r < 0)
                        return r;
        }
        if (!c->out && c->in_len > USERDB_MESSAGE_MAX)
                return -EMSGSIZE;
        return sd_event_source_set_io_events(c->io_source, c->out ? EPOLLOUT : EPOLLIN);
}

static int on_conn_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        UserdbConn *c = userdata;
        int r = 0;

        if (c->out) {
                r = userdb_conn_flush(c);
        } else if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
                if (n == 0)
                        r = -ECONNRESET;
                else if (n < 0)
                        r = errno == EAGAIN || errno == EINTR ? 0 : -errno;
                else
                        c->in_len += (size_t) n;
        }
        if (r >= 0)
                r = userdb_conn_process(c);
        if (r >= 0)
                r = sd_event_source_set_time_relative(c->idle_source, USERDB_IDLE_USEC);
        if (r < 0) {
                if (r != -ECONNRESET)
                        log_debug("userdb: closing a connection: %s", strerror(-r));
                userdb_conn_free(c);
        }
        return 0;
}

static int on_conn_idle(sd_event_source *es, uint64_t usec, void *userdata) {
        userdb_conn_free(userdata);
        return 0;
}

static int userdb_conn_new(UserdbServer *s, int fd) {
        UserdbConn *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(fd);
                return -ENOMEM;
        }
        *c = (UserdbConn) { .server = s, .fd = fd, .next = s->conns };
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        r = sd_event_add_io(s->event, &c->io_source, fd, EPOLLIN, on_conn_io, c);
        if (r >= 0)
                r = sd_event_add_time_relative(s->event, &c->idle_source, CLOCK_MONOTONIC, USERDB_IDLE_USEC, 0,
                                               on_conn_idle, c);
        if (r < 0)
                userdb_conn_free(c);
        return r;
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        UserdbServer *s = userdata;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0; /* EAGAIN, a client gone, EMFILE: nothing to do but wait for the next one */
        /* Full: refuse at once; nss-systemd then answers from the other sources (the job sees a number
         * instead of a name) instead of waiting for its timeout. */
        if (s->n_conns >= USERDB_CONNECTIONS_MAX) {
                safe_close(cfd);
                return 0;
        }
        (void) userdb_conn_new(s, cfd);
        return 0;
}

UserdbServer *userdb_server_free(UserdbServer *s) {
        if (!s)
                return NULL;
        while (s->conns)
                userdb_conn_free(s->conns);
        sd_event_source_disable_unref(s->accept_source);
        safe_close(s->fd);
        if (s->bound)
                (void) unlink(s->path);
        free(s->path);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

unsigned userdb_server_connections(const UserdbServer *s) {
        return s ? s->n_conns : 0;
}

int userdb_server_new(sd_event *e, const DynUserTable *t, const char *dir, UserdbServer **ret) {
        _cleanup_(userdb_server_freep) UserdbServer *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        s = new0(UserdbServer, 1);
        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        s->event = sd_event_ref(e);
        s->table = t;
        if (asprintf(&s->path, "%s/%s", dir, USERDB_SERVICE) < 0) {
                s->path = NULL;
                return -ENOMEM;
        }
        if (strlen(s->path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, s->path);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0)
                return -errno;
        (void) unlink(s->path);
        if (bind(s->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        s->bound = true;
        /* Every process resolves names: the socket is for everyone, the answers are public records. */
        if (chmod(s->path, 0666) < 0 || listen(s->fd, SOMAXCONN) < 0)
                return -errno;
        r = sd_event_add_io(e, &s->accept_source, s->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
