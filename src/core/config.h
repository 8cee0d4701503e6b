/* SPDX-License-Identifier: MIT */
/* config.h - the daemon's policy and defaults, read from /etc/teleworker/teleworker.json. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "core/job.h"

/* A named set of limits a job may ask for ("Profile" option) or a principal gets by default. */
typedef struct ConfigProfile {
        char *name;
        JobLimits limits;          /* 0 fields: the global default_limits */
        uint64_t runtime_max_usec; /* 0: no run-time limit */
} ConfigProfile;

/* Policy for one principal, or for every principal without an entry of its own ("*"). */
typedef struct ConfigPrincipal {
        char *principal;
        char *account;      /* remote principals' jobs run as this account (local callers: themselves); unset: a
                             * dynamic user of its own (dynuser.h) */
        char *profile;      /* default profile of its jobs */
        unsigned max_jobs;  /* concurrent (not ended) jobs; 0 = no cap */
        char **allow;       /* executables it may run (fnmatch patterns on the resolved path); NULL = any */
        int network;        /* -1 unset (inherit "*"), 0 loopback only, 1 the host's network */
        JobLimits slice_limits; /* caps on the sum of its jobs (its teleworker-<name>.slice); 0 = none */
        /* Shares of what all principals share (0 = inherit "*", then the built-in default); administrators
         * are not held to them (see Config.max_readers for their reserve). */
        unsigned max_retained_jobs; /* its jobs in the table, running and ended */
        unsigned max_readers;       /* its open output readers (OpenOutput fds, the gateway's followers) */
        uint64_t max_spool_bytes;   /* output of its jobs kept on disk */
        int profile_locked;     /* -1 unset; 1: its jobs may not pick another profile nor exceed its limits */
        int isolation_optional; /* -1 unset; 1: its remote jobs may turn PrivatePID/PrivateTmp off */
        bool remote_system_account; /* a certificate may name this system account (root, uid < 1000) */
} ConfigPrincipal;

/* What a principal may do, all entries merged: its own, then "*", then the built-in defaults. */
typedef struct PrincipalPolicy {
        const char *account;           /* NULL: remote jobs run as the principal's dynamic user */
        bool named;                    /* the policy has an entry of this very name (not just "*") */
        bool profile_locked;
        bool isolation_optional;
        bool remote_system_account;    /* only from the principal's own entry, never from "*" */
        const ConfigProfile *profile;
        unsigned max_jobs;
        char **allow;
        bool network;
        JobLimits slice_limits;
        unsigned max_retained_jobs;
        unsigned max_readers;
        uint64_t max_spool_bytes;
} PrincipalPolicy;

/* Built-in shares of a principal without "max_*" keys of its own or in "*". */
#define CONFIG_PRINCIPAL_MAX_JOBS 64
#define CONFIG_PRINCIPAL_MAX_RETAINED_JOBS 1000
#define CONFIG_PRINCIPAL_MAX_READERS 256
#define CONFIG_PRINCIPAL_MAX_SPOOL_BYTES (UINT64_C(4) << 30)

typedef struct Config {
        char *admin_group;       /* members (and root) administer every job */
        char *gateway_user;      /* the only uid allowed to assert remote principals */
        uid_t dynamic_uid_min;   /* remote principals without an account get a uid of this range */
        uid_t dynamic_uid_max;
        ConfigPrincipal *principals;
        size_t n_principals;
        ConfigProfile *profiles;
        size_t n_profiles;
        char *io_device;         /* NULL: the block device behind the state directory */
        uint64_t stop_grace_usec;
        uint64_t start_timeout_usec;
        uint64_t output_max_bytes;
        unsigned max_jobs;       /* jobs kept in the table (running and ended) */
        uint64_t retention_usec; /* ended jobs (and their output) are removed this long after they ended */
        JobLimits default_limits;
        JobLimits max_limits;
        uint64_t spool_max_bytes; /* all jobs' output together; the oldest ended jobs go first */
        unsigned max_readers;     /* open readers of all non-administrators together; 0 = derived from the
                                   * daemon's RLIMIT_NOFILE (it is also clamped to that, minus a reserve that
                                   * only administrators can use) */
        /* What administrators may ask for, per field (0: max_limits applies to them too). "infinity" here
         * lets them lift a limit that stays capped for everyone else. */
        JobLimits admin_max_limits;
} Config;

#define CONFIG_ERROR_MAX 256

/* Built-in defaults: 1 CPU, 512 MiB, 10 MiB/s read and write, 512 tasks; maximums 2x the defaults for memory
 * and tasks, every CPU of the machine, 100 MiB/s IO; 10 s stop grace; 1 GiB output cap. Sizes are powers of
 * 1024 everywhere (systemd's convention, and what parse_size() reads): "100M" is the built-in maximum. */
int config_init_defaults(Config *c);
/* Loads path over the defaults. A missing file (-ENOENT) leaves the defaults. On a parse or validation
 * error returns -EINVAL and describes it in err. Unknown keys are errors: a typo never passes silently. */
int config_load(Config *c, const char *path, char err[static CONFIG_ERROR_MAX]);
int config_load_string(Config *c, const char *text, char err[static CONFIG_ERROR_MAX]);
void config_done(Config *c);

/* The ceiling a job's limits are checked against: max_limits, with admin_max_limits over it for an
 * administrator. JOB_LIMIT_INFINITY in a field = no ceiling. */
void config_max_limits(const Config *c, bool admin, JobLimits *ret);
/* Checks the policy's accounts against the user database (config_load checks only names): none may be
 * root (uid 0), the gateway_user's uid or a uid of the dynamic range. -EINVAL with err set. */
int config_check_accounts(const Config *c, char err[static CONFIG_ERROR_MAX]);

/* The account a remote principal's jobs run as; NULL: its own dynamic user. */
const char *config_remote_account(const Config *c, const char *principal);
/* The merged policy of a principal. */
void config_principal_policy(const Config *c, const char *principal, PrincipalPolicy *ret);
const ConfigProfile *config_find_profile(const Config *c, const char *name);
/* Whether the policy lets path be executed (allow-list of fnmatch patterns; NULL = anything). */
bool config_executable_allowed(char **allow, const char *path);
