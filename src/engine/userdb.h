/* SPDX-License-Identifier: MIT */
/* userdb.h - teleworkerd's Varlink userdb service (/run/systemd/userdb/org.teleworker.DynamicUser): makes
 * remote principals' dynamic users resolvable by name through nss-systemd, served from the daemon's
 * sd-event loop. Bounded: USERDB_CONNECTIONS_MAX connections, USERDB_MESSAGE_MAX bytes per request, an idle
 * timeout; a client that stops reading stops being read from.
 *
 * Ownership: the server borrows the table (it must outlive the server). */
#pragma once

#include <systemd/sd-event.h>

#include "core/dynuser.h"
#include "shared/macro.h"

#define USERDB_CONNECTIONS_MAX 64
#define USERDB_IDLE_USEC (10 * USEC_PER_SEC)

typedef struct UserdbServer UserdbServer;

/* Binds dir/org.teleworker.DynamicUser (dir is created 0755 if missing; a stale socket is replaced). */
int userdb_server_new(sd_event *e, const DynUserTable *t, const char *dir, UserdbServer **ret);
/* Closes every connection and removes the socket. */
UserdbServer *userdb_server_free(UserdbServer *s);
DEFINE_FREE_FUNC(UserdbServer, userdb_server_free);
unsigned userdb_server_connections(const UserdbServer *s);
