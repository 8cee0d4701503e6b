/* SPDX-License-Identifier: MIT */
/* userdb-proto.h - the io.systemd.UserDatabase Varlink interface (systemd's docs/USER_GROUP_API.md) over a
 * DynUserTable: GetUserRecord, GetGroupRecord, GetMemberships. nss-systemd asks every socket in
 * /run/systemd/userdb/, so `id`, `whoami` and `ps` inside a job resolve its dynamic user.
 *
 * Transport-free: one request message in (without its NUL terminator), the reply bytes out. Requests are
 * untrusted (any local process may connect): bounded size and nesting, strict types, every refusal a
 * Varlink error or -EBADMSG (the caller closes the connection). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dynuser.h"

#define USERDB_SERVICE "org.teleworker.DynamicUser"
#define USERDB_SOCKET_DIR "/run/systemd/userdb"
#define USERDB_MESSAGE_MAX (16 * 1024) /* a request is a few hundred bytes; nss-systemd's are < 200 */
#define USERDB_NAME_MAX 256

typedef enum UserdbMethod {
        USERDB_GET_USER_RECORD,
        USERDB_GET_GROUP_RECORD,
        USERDB_GET_MEMBERSHIPS,
        _USERDB_METHOD_MAX,
        USERDB_METHOD_UNKNOWN = -1,
} UserdbMethod;

typedef struct UserdbRequest {
        UserdbMethod method;
        char *method_name;
        bool more, oneway;
        bool has_id;
        uint32_t id;      /* uid or gid */
        char *name;       /* userName, or groupName of GetGroupRecord */
        char *group_name; /* GetMemberships only */
        char *service;
        const char *error;     /* set when the call is refused: the Varlink error name */
        char *error_parameter; /* InvalidParameter's "parameter" */
} UserdbRequest;

/* 0 with ret filled (ret->error set when the call must be answered with an error), -EBADMSG when msg is
 * not a Varlink call (not JSON, not an object, no method, too large or deep), -ENOMEM. */
int userdb_request_parse(const char *msg, size_t len, UserdbRequest *ret);
void userdb_request_done(UserdbRequest *r);

/* The complete answer to one request (each reply message NUL-terminated; empty for oneway calls) in a
 * malloc()ed *ret of *ret_len bytes. -EBADMSG: close the connection. */
int userdb_handle(const DynUserTable *t, const char *msg, size_t len, char **ret, size_t *ret_len);
