/* SPDX-License-Identifier: MIT */
/* request.h - resolving a Start request against the policy (request.c): pure checks and builders, each
 * answering 0 or <0 with error set to the refusal Start gives (names from errors.h). */
#pragma once

#include <pwd.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "core/authz.h"
#include "core/config.h"
#include "core/dynuser.h"
#include "engine/manager.h"

/* Bounds of argv and environment (JOB_ARGV_MAX, JOB_ENV_MAX, JOB_ARG_BYTES_MAX, JOB_REQUEST_BYTES_MAX), NAME=VALUE
 * entries, an absolute cwd, RuntimeMaxUSec. */
int request_validate(const JobRequest *req, sd_bus_error *error);
/* Limits within what the host allows (max_limits; admin_max_limits over it for an administrator). */
int request_check_limits(const Config *c, const JobLimits *l, bool admin, sd_bus_error *error);
/* With "profile_locked": no other profile, no limit above the profile's. */
int request_check_profile_lock(const Config *c, const PrincipalPolicy *policy, const JobRequest *req,
                               sd_bus_error *error);
/* The namespaces the job gets (req's -1 fields: the defaults), refused where the policy does not allow. */
int request_check_isolation(const PrincipalPolicy *policy, bool remote, const JobIsolation *req, JobIsolation *ret,
                            sd_bus_error *error);
/* The account a job of p runs as: p's own (local), the policy's mapping, or p's dynamic user from users (NULL:
 * none available), then in *dyn. *ret_pw points into getpw*()'s static buffer or to dyn. */
int request_resolve_account(const Config *c, DynUserTable *users, const Principal *p, struct passwd *dyn,
                            struct passwd **ret_pw, sd_bus_error *error);
/* A caller's StandardInput fd (docs/dbus.md): a pipe, socket, regular file, terminal or /dev/null, open for
 * reading; learnt from fstat() and the fd's flags alone, never by reading it. */
int request_check_stdin_fd(int fd, sd_bus_error *error);
/* teleworker-<principal, escaped>.slice */
int request_slice_name(const char *principal, char **ret);
/* The job's environment: the account's basics, overridden by req (later duplicates win). NULL: no memory. */
char **request_build_env(const struct passwd *pw, char **req);
