/* SPDX-License-Identifier: MIT */
/* dynuser.h - one uid (and a group of the same number) per remote principal, allocated from a reserved
 * range and kept in the state directory, so a principal's files and processes stay its own across daemon
 * restarts and no two principals ever share an account (docs/design.md, "Remote principals' accounts").
 *
 * Ownership: the table owns its entries; lookups return borrowed pointers valid until the table is freed.
 * Never logs above debug. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shared/macro.h"

/* Default range: inside the 65536…524287 block that systemd's UIDS-GIDS.md lists as unused (above
 * DynamicUser='s 61184…65519, nobody and the 16-bit -1; below the 524288… container ranges) and below
 * 100000, where shadow's useradd starts handing out /etc/subuid ranges for rootless containers. */
#define DYNUSER_UID_MIN_DEFAULT 80000u
#define DYNUSER_UID_MAX_DEFAULT 89999u
/* A configured range must not reach into these (config.c refuses it at load). */
#define DYNUSER_SYSTEMD_DYNAMIC_MIN 61184u
#define DYNUSER_SYSTEMD_CONTAINER_MIN 524288u

#define DYNUSER_NAME_MAX 32 /* "tw-" + 28 bytes, or "tw_<uid>"; with the NUL */

typedef struct DynUser {
        char *principal;
        char name[DYNUSER_NAME_MAX];
        uid_t uid; /* the gid is the same number */
} DynUser;

typedef struct DynUserTable DynUserTable;

/* Whether the host's user or group database (without our own service: see teleworkerd.c) already has
 * uid/gid n or the name: a number or name that exists there is never handed out. Returns 1 taken, 0 free,
 * <0 on lookup errors (then nothing is allocated). */
typedef int (*dynuser_taken_t)(uid_t n, const char *name, void *userdata);
/* The real check: getpwuid, getgrgid, getpwnam, getgrnam. */
int dynuser_taken_nss(uid_t n, const char *name, void *userdata);

/* Loads every entry of dir (created 0700 if missing). Malformed entries are skipped (and counted in
 * *ret_skipped when not NULL): a broken file never stops the daemon, and its uid stays unused. */
int dynuser_table_load(const char *dir, DynUserTable **ret, unsigned *ret_skipped);
DynUserTable *dynuser_table_free(DynUserTable *t);
DEFINE_FREE_FUNC(DynUserTable, dynuser_table_free);

/* The principal's entry, allocated (uid from [min, max], persisted with an atomic rename before it is
 * returned) if it has none yet. -ENOSPC when the range is full, -EINVAL for an invalid principal,
 * -EADDRINUSE when the host's database has meanwhile got an account or group with the entry's number
 * (then the principal's jobs are refused until an administrator resolves it). */
int dynuser_acquire(DynUserTable *t, const char *principal, uid_t min, uid_t max, dynuser_taken_t taken,
                    void *userdata, const DynUser **ret);

const DynUser *dynuser_by_uid(const DynUserTable *t, uid_t uid);
const DynUser *dynuser_by_name(const DynUserTable *t, const char *name);
const DynUser *dynuser_by_principal(const DynUserTable *t, const char *principal);
/* One persisted entry, "<uid> <name>\n" (exposed for tests). */
int dynuser_parse_line(const char *text, uid_t *ret_uid, char ret_name[static DYNUSER_NAME_MAX]);
/* Iteration in allocation order: i from 0 until NULL. */
const DynUser *dynuser_at(const DynUserTable *t, size_t i);
size_t dynuser_count(const DynUserTable *t);

/* "tw-<principal>" when that is a portable user name (lowercase [a-z0-9_-], at most 31 bytes), else
 * "tw_<uid>" (no principal can produce a name with "tw_", so the two forms never collide). */
void dynuser_name_for(const char *principal, uid_t uid, char ret[static DYNUSER_NAME_MAX]);
/* Whether name is of the form the table hands out ("tw-..." or "tw_..."): such names may not be mapped
 * as a principal's account in the policy. */
bool dynuser_name_is_reserved(const char *name);
