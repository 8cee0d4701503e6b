/* SPDX-License-Identifier: MIT */
/* request.c - what a Start asks for, checked and resolved against the policy before any job exists: bounds of
 * argv and environment, limits, profile lock, isolation, the account a job runs as, its slice and its
 * environment (request.h). No manager and no job: the policy, the principal and the request in, an answer
 * (or the refusal, as an sd_bus_error) out. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "engine/errors.h"
#include "exec/exec-spec.h"
#include "shared/macro.h"
#include "engine/request.h"
#include "shared/util.h"

static bool request_env_entry_is_valid(const char *e) {
        const char *eq = strchr(e, '=');

        if (!eq || eq == e || strlen(e) > 32 * 1024)
                return false;
        for (const char *p = e; p < eq; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return !(e[0] >= '0' && e[0] <= '9');
}

static const char *strv_env_get(char **env, const char *key) {
        size_t n = strlen(key);

        for (char **e = env; e && *e; e++)
                if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

/* The job's environment: the account's basics, overridden by what the caller asked for. */
char **request_build_env(const struct passwd *pw, char **req) {
        const char *defaults[][2] = {
                { "PATH", EXEC_DEFAULT_PATH }, { "HOME", pw->pw_dir },         { "USER", pw->pw_name },
                { "LOGNAME", pw->pw_name }, { "SHELL", pw->pw_shell }, { "LANG", "C.UTF-8" },
        };
        size_t n = 0, nreq = strv_length(req);
        char **env = new0(char *, ELEMENTSOF(defaults) + nreq + 1);

        if (!env)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
                if (strv_env_get(req, defaults[i][0]) || !defaults[i][1])
                        continue;
                if (asprintf(&env[n], "%s=%s", defaults[i][0], defaults[i][1]) < 0) {
                        env[n] = NULL;
                        return strv_free(env);
                }
                n++;
        }
        for (size_t i = 0; i < nreq; i++) {
                /* Later duplicates win, as in a shell. */
                bool dup = false;
                size_t klen = strcspn(req[i], "=");
                for (size_t k = i + 1; k < nreq; k++)
                        if (strncmp(req[k], req[i], klen + 1) == 0)
                                dup = true;
                if (dup)
                        continue;
                env[n] = strdup(req[i]);
                if (!env[n])
                        return strv_free(env);
                n++;
        }
        return env;
}

/* A remote principal without an account in the policy runs as its own dynamic user: allocated (and
 * persisted) on its first job, the same uid ever after, a group of the same number, no home. */
static int request_dynamic_account(const Config *c, DynUserTable *users, const Principal *p, struct passwd *ret,
                                   sd_bus_error *error) {
        const DynUser *u;
        int r;

        if (!users)
                return sd_bus_error_setf(error, TW_ERROR_START_FAILED,
                                         "Remote principal '%s' has no account and dynamic users are unavailable.",
                                         p->name);
        r = dynuser_acquire(users, p->name, c->dynamic_uid_min, c->dynamic_uid_max, dynuser_taken_nss,
                            NULL, &u);
        if (r == -ENOSPC)
                return sd_bus_error_setf(error, TW_ERROR_START_FAILED,
                                         "No free uid left in the dynamic range %u-%u for '%s'.",
                                         (unsigned) c->dynamic_uid_min, (unsigned) c->dynamic_uid_max, p->name);
        if (r == -EADDRINUSE)
                return sd_bus_error_setf(error, TW_ERROR_START_FAILED,
                                         "The dynamic uid of '%s' now belongs to an account of the host; its "
                                         "jobs are refused until that is resolved.", p->name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to allocate a dynamic user for '%s': %m", p->name);
        *ret = (struct passwd) {
                .pw_name = (char *) u->name,
                .pw_uid = u->uid,
                .pw_gid = (gid_t) u->uid,
                .pw_dir = (char *) "/",
                .pw_shell = (char *) "/usr/sbin/nologin",
        };
        return 0;
}

/* A mapped account must not be one that acts for others (config_check_accounts() said so at load, but
 * the user database may have changed since). */
static bool request_account_forbidden(const Config *c, DynUserTable *users, uid_t uid) {
        struct passwd *gw = c->gateway_user ? getpwnam(c->gateway_user) : NULL;

        return uid == 0 || (gw && gw->pw_uid == uid) || (uid >= c->dynamic_uid_min && uid <= c->dynamic_uid_max) ||
               dynuser_by_uid(users, uid);
}

int request_resolve_account(const Config *c, DynUserTable *users, const Principal *p, struct passwd *dyn,
                            struct passwd **ret_pw, sd_bus_error *error) {
        struct passwd *pw;
        int r;

        errno = 0;
        if (p->remote && !config_remote_account(c, p->name)) {
                r = request_dynamic_account(c, users, p, dyn, error);
                if (r < 0)
                        return r;
                pw = dyn;
        } else if (p->remote) {
                const char *account = config_remote_account(c, p->name);
                pw = getpwnam(account);
                if (!pw)
                        return sd_bus_error_setf(error, TW_ERROR_START_FAILED,
                                                 "The account '%s' that remote jobs of '%s' run as does not exist.",
                                                 account, p->name);
                if (request_account_forbidden(c, users, pw->pw_uid))
                        return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                                 "Remote jobs may not run as '%s' (uid %u is root's, the gateway's "
                                                 "or a dynamic user's; '%s' maps to it).", account,
                                                 (unsigned) pw->pw_uid, p->name);
        } else {
                pw = getpwuid(p->uid);
                if (!pw)
                        return sd_bus_error_setf(error, TW_ERROR_START_FAILED, "No user account for uid %u.",
                                                 (unsigned) p->uid);
        }
        *ret_pw = pw;
        return 0;
}

/* One argv or env string: the kernel refuses longer ones at exec (E2BIG); the caller learns it here. */
static int request_check_arg(const char *what, size_t i, const char *s, size_t *total, sd_bus_error *error) {
        size_t len = strnlen(s, JOB_ARG_BYTES_MAX);

        if (len >= JOB_ARG_BYTES_MAX)
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "%s %zu is too long (at most %u bytes with its NUL, the kernel's "
                                         "MAX_ARG_STRLEN).", what, i, JOB_ARG_BYTES_MAX);
        *total += len + 1;
        return 0;
}

int request_validate(const JobRequest *req, sd_bus_error *error) {
        size_t total = 0, n = strv_length(req->argv), i = 0;
        int r;

        if (n == 0 || !req->argv[0][0])
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS, "The command line is empty.");
        if (n > JOB_ARGV_MAX)
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Too many arguments (%zu, at most %u).", n,
                                         JOB_ARGV_MAX);
        for (i = 0; i < n; i++) {
                r = request_check_arg("Argument", i, req->argv[i], &total, error);
                if (r < 0)
                        return r;
        }
        if (strv_length(req->env) > JOB_ENV_MAX)
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS, "Too many environment entries (at most %u).",
                                         JOB_ENV_MAX);
        i = 0;
        for (char **e = req->env; e && *e; e++, i++) {
                if (!request_env_entry_is_valid(*e)) {
                        _cleanup_(freep) char *esc = str_escape(*e, 64);
                        return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                                 "Invalid environment entry '%s': expected NAME=VALUE.",
                                                 esc ? esc : "?");
                }
                r = request_check_arg("Environment entry", i, *e, &total, error);
                if (r < 0)
                        return r;
        }
        if (total > JOB_REQUEST_BYTES_MAX)
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Command line and environment are too large (%zu bytes, at most %u).",
                                         total, JOB_REQUEST_BYTES_MAX);
        if (req->cwd && *req->cwd && req->cwd[0] != '/')
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS, "The working directory must be an absolute path.");
        if (req->runtime_max_usec > JOB_RUNTIME_USEC_MAX && req->runtime_max_usec != JOB_RUNTIME_USEC_INFINITY)
                return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                         "RuntimeMaxUSec %" PRIu64 " is beyond 100 years; %" PRIu64
                                         " (UINT64_MAX) means no limit.", req->runtime_max_usec, UINT64_MAX);
        return 0;
}

/* teleworker-<principal>.slice, below teleworker.slice ('-' is the hierarchy separator of slice names, so
 * the name is escaped the way systemd escapes unit names: every byte but [A-Za-z0-9_.] as \xNN). */
int request_slice_name(const char *principal, char **ret) {
        size_t n = strlen(principal);
        char *s = malloc(strlen("teleworker-.slice") + n * 4 + 1), *o;

        if (!s)
                return -ENOMEM;
        o = stpcpy(s, "teleworker-");
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) principal[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    (c == '.' && i > 0))
                        *o++ = (char) c;
                else
                        o += sprintf(o, "\\x%02x", c);
        }
        strcpy(o, ".slice");
        *ret = s;
        return 0;
}

/* Remote principals share the host with each other: their jobs always get their own PID namespace (no
 * /proc of another tenant's processes, no signals across) and their own /tmp, /var/tmp and /dev/shm,
 * unless the policy lets that principal turn them off ("isolation_optional"). */
int request_check_isolation(const PrincipalPolicy *policy, bool remote, const JobIsolation *req, JobIsolation *ret,
                            sd_bus_error *error) {
        *ret = (JobIsolation) {
                .private_pid = req->private_pid >= 0 ? req->private_pid : 1,
                .private_tmp = req->private_tmp >= 0 ? req->private_tmp : 1,
                .private_network = req->private_network >= 0 ? req->private_network : !policy->network,
                .protect_system = req->protect_system >= 0 ? req->protect_system : 0,
        };
        if (!ret->private_network && !policy->network)
                return sd_bus_error_set(error, TW_ERROR_ACCESS_DENIED,
                                        "The policy does not allow this principal's jobs on the network "
                                        "(PrivateNetwork=false refused).");
        if (remote && !policy->isolation_optional && (!ret->private_pid || !ret->private_tmp))
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "Remote jobs always run with PrivatePID and PrivateTmp (%s=false refused; "
                                         "the policy's \"isolation_optional\" allows it).",
                                         !ret->private_pid ? "PrivatePID" : "PrivateTmp");
        return 0;
}

/* With "profile_locked" the principal's profile is a ceiling: no other profile, and no limit above the
 * profile's own (or the defaults, for the "default" profile). */
int request_check_profile_lock(const Config *c, const PrincipalPolicy *policy, const JobRequest *req,
                               sd_bus_error *error) {
        const char *own = policy->profile ? policy->profile->name : "default";
        const JobLimits *ceiling = policy->profile ? &policy->profile->limits : &c->default_limits;

        if (!policy->profile_locked)
                return 0;
        if (req->profile && *req->profile && !streq(req->profile, own))
                return sd_bus_error_setf(error, TW_ERROR_ACCESS_DENIED,
                                         "The policy locks this principal's jobs to the profile '%s' "
                                         "(Profile=%s refused).", own, req->profile);
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++) {
                uint64_t cap = job_limits_get(ceiling, f) ? job_limits_get(ceiling, f) :
                                                            job_limits_get(&c->default_limits, f);
                if (cap && job_limits_get(&req->limits, f) > cap)
                        return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                                 "%s=%" PRIu64 " is above %" PRIu64 ", the limit of the profile '%s' "
                                                 "this principal is locked to.", job_limit_name(f),
                                                 job_limits_get(&req->limits, f), cap, own);
        }
        if (policy->profile && policy->profile->runtime_max_usec &&
            req->runtime_max_usec > policy->profile->runtime_max_usec)
                return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                         "RuntimeMaxSec is above the profile '%s' this principal is locked to.", own);
        return 0;
}

int request_check_limits(const Config *c, const JobLimits *l, bool admin, sd_bus_error *error) {
        JobLimits max;
        JobLimitField f;
        int r;

        config_max_limits(c, admin, &max);
        r = job_limits_check(l, &max, &f);
        if (r == -E2BIG && job_limits_get(l, f) == JOB_LIMIT_INFINITY)
                return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                         "%s=infinity (no limit) is above the maximum %" PRIu64 " this host allows.",
                                         job_limit_name(f), job_limits_get(&max, f));
        if (r == -E2BIG)
                return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                         "%s=%" PRIu64 " is above the maximum %" PRIu64 " this host allows.",
                                         job_limit_name(f), job_limits_get(l, f), job_limits_get(&max, f));
        if (r == -ERANGE)
                return sd_bus_error_setf(error, TW_ERROR_LIMIT_EXCEEDED,
                                         "%s=%" PRIu64 " is below the minimum %" PRIu64 " a job needs.",
                                         job_limit_name(f), job_limits_get(l, f), job_limit_minimum(f));
        return r;
}


/* Terminals by their device numbers (Documentation/admin-guide/devices.txt): the virtual consoles and serial
 * lines (4), /dev/tty, /dev/console and /dev/ptmx (5), and the pseudo-terminal slaves (136-143). An ioctl
 * (isatty()) would ask the driver of whatever device the caller sent; fstat() asks nobody. */
static bool request_dev_is_tty(dev_t d) {
        return major(d) == 4 || major(d) == 5 || (major(d) >= 136 && major(d) <= 143);
}

static bool request_dev_is_null(dev_t d) {
        return major(d) == 1 && minor(d) == 3;
}

int request_check_stdin_fd(int fd, sd_bus_error *error) {
        struct stat st;
        int flags;

        if (fstat(fd, &st) < 0 || (flags = fcntl(fd, F_GETFL)) < 0)
                return sd_bus_error_set_errnof(error, errno, "Cannot inspect the StandardInput fd: %m");
        if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISREG(st.st_mode) &&
            !(S_ISCHR(st.st_mode) && (request_dev_is_tty(st.st_rdev) || request_dev_is_null(st.st_rdev))))
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS,
                                        "StandardInput must be a pipe, a socket, a regular file or a terminal.");
        /* O_PATH: a reference, not an open file: nobody could read from it. */
        if ((flags & O_PATH) || ((flags & O_ACCMODE) != O_RDONLY && (flags & O_ACCMODE) != O_RDWR))
                return sd_bus_error_set(error, TW_ERROR_INVALID_ARGS, "StandardInput is not open for reading.");
        return 0;
}
