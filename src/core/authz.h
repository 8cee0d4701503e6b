/* SPDX-License-Identifier: MIT */
/* authz.h - who may do what to which job: the one policy check both transports call. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define UID_INVALID ((uid_t) -1)

/* The party a request acts for. Local: a D-Bus caller's user (uid set). Remote: a certificate's CN, as
 * asserted by the gateway (uid UID_INVALID). */
typedef struct Principal {
        char *name;
        uid_t uid;
        bool admin;
        bool remote;
        bool network;   /* polkit's org.teleworker.worker1.network: the network although the policy says no */
} Principal;

typedef enum AuthzOp {
        AUTHZ_VIEW,   /* status, output, wait */
        AUTHZ_STOP,
        _AUTHZ_OP_MAX,
} AuthzOp;

void principal_done(Principal *p);

/* 0 if p may perform op on a job owned by owner, -EACCES otherwise. */
int authz_check(const Principal *p, AuthzOp op, const char *owner);
/* Whether p sees the job in a listing: the same rule as AUTHZ_VIEW. */
bool authz_can_see(const Principal *p, const char *owner);

/* A principal name that may name a job owner: 1..64 bytes of [A-Za-z0-9._@-], not starting with '-'.
 * Certificate CNs and user names outside this set are refused, so they never reach logs or paths raw. */
bool principal_name_is_valid(const char *name);
