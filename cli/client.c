/* SPDX-License-Identifier: MIT */
/* client.c - transport-independent parts of the client interface: errors and destruction. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "client.h"

Client *client_free(Client *c) {
        if (!c)
                return NULL;
        if (c->ops && c->ops->free)
                c->ops->free(c);
        else
                free(c);
        return NULL;
}

int client_error_set(ClientError *error, int r, ClientErrorKind kind, const char *format, ...) {
        va_list ap;

        if (r >= 0)
                r = -EIO;
        if (!error)
                return r;

        free(error->message);
        error->message = NULL;
        error->kind = kind >= 0 && kind < _CLIENT_ERROR_KIND_MAX ? kind : CLIENT_ERROR_OTHER;
        error->api = NULL;

        /* %m in format refers to r. */
        errno = -r;
        va_start(ap, format);
        if (vasprintf(&error->message, format, ap) < 0)
                error->message = NULL;
        va_end(ap);
        return r;
}

void client_error_done(ClientError *error) {
        if (!error)
                return;
        free(error->message);
        error->message = NULL;
        error->kind = CLIENT_ERROR_OTHER;
        error->api = NULL;
}

const char *client_error_kind_to_string(ClientErrorKind k) {
        static const char *const table[_CLIENT_ERROR_KIND_MAX] = {
                [CLIENT_ERROR_OTHER] = "other",
                [CLIENT_ERROR_NOT_FOUND] = "not-found",
                [CLIENT_ERROR_ACCESS_DENIED] = "access-denied",
                [CLIENT_ERROR_INVALID] = "invalid",
                [CLIENT_ERROR_UNREACHABLE] = "unreachable",
        };

        return k >= 0 && k < _CLIENT_ERROR_KIND_MAX ? table[k] : NULL;
}

int client_thread_start(void *(*fn)(void *), void *arg) {
        pthread_attr_t attr;
        pthread_t thread;
        sigset_t all, old;
        int r;

        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        (void) pthread_attr_init(&attr);
        (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = -pthread_create(&thread, &attr, fn, arg);
        (void) pthread_attr_destroy(&attr);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}
