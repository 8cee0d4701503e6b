/* SPDX-License-Identifier: MIT */
/* config.h - the daemon's policy and defaults, read from /etc/teleworker/teleworker.json. */
#pragma once

#include <stdint.h>

#include "job.h"

typedef struct ConfigAccount {
        char *principal;
        char *account;
} ConfigAccount;

typedef struct Config {
        char *admin_group;       /* members (and root) administer every job */
        char *gateway_user;      /* the only uid allowed to assert remote principals */
        char *remote_user;       /* account remote principals' jobs run as, unless mapped */
        ConfigAccount *accounts; /* principal -> account for remote principals */
        size_t n_accounts;
        char *io_device;         /* NULL: the block device behind the state directory */
        uint64_t stop_grace_usec;
        uint64_t start_timeout_usec;
        uint64_t output_max_bytes;
        unsigned max_jobs;       /* jobs kept in the table (running and ended) */
        uint64_t retention_usec; /* ended jobs (and their output) are removed this long after they ended */
        JobLimits default_limits;
        JobLimits max_limits;
} Config;

#define CONFIG_ERROR_MAX 256

/* Built-in defaults: 1 CPU, 512 MiB, 10 MB/s read and write, 512 tasks; maximums 2x the defaults for memory
 * and tasks, every CPU of the machine, 100 MB/s IO; 10 s stop grace; 1 GiB output cap. */
int config_init_defaults(Config *c);
/* Loads path over the defaults. A missing file (-ENOENT) leaves the defaults. On a parse or validation
 * error returns -EINVAL and describes it in err. Unknown keys are errors: a typo never passes silently. */
int config_load(Config *c, const char *path, char err[static CONFIG_ERROR_MAX]);
int config_load_string(Config *c, const char *text, char err[static CONFIG_ERROR_MAX]);
void config_done(Config *c);

/* The account a remote principal's jobs run as. */
const char *config_remote_account(const Config *c, const char *principal);
