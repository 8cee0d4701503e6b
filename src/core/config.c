/* SPDX-License-Identifier: MIT */
/* config.c - JSON policy file: strict keys, sizes with suffixes, clear errors, defaults built in. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/authz.h"
#include "core/config.h"
#include "core/dynuser.h"
#include "core/json-keys.h"
#include "shared/macro.h"
#include "shared/util.h"

#define CONFIG_FILE_MAX (1024 * 1024)

int config_init_defaults(Config *c) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

        *c = (Config) {
                .stop_grace_usec = 10 * USEC_PER_SEC,
                .start_timeout_usec = 30 * USEC_PER_SEC,
                .output_max_bytes = UINT64_C(1) << 30,
                .max_jobs = 10000,
                .retention_usec = 7 * 24 * 3600 * USEC_PER_SEC,
                .spool_max_bytes = UINT64_C(16) << 30,
                .dynamic_uid_min = DYNUSER_UID_MIN_DEFAULT,
                .dynamic_uid_max = DYNUSER_UID_MAX_DEFAULT,
                .default_limits = {
                        .cpu_quota_per_sec_usec = USEC_PER_SEC,
                        .memory_max = UINT64_C(512) << 20,
                        .io_read_bandwidth_max = UINT64_C(10) << 20,
                        .io_write_bandwidth_max = UINT64_C(10) << 20,
                        .tasks_max = 512,
                },
                .max_limits = {
                        .cpu_quota_per_sec_usec = (uint64_t) (ncpu > 0 ? ncpu : 1) * USEC_PER_SEC,
                        .memory_max = UINT64_C(1024) << 20,
                        .io_read_bandwidth_max = UINT64_C(100) << 20,
                        .io_write_bandwidth_max = UINT64_C(100) << 20,
                        .tasks_max = 1024,
                },
        };
        c->admin_group = strdup("teleworker-admin");
        c->gateway_user = strdup("teleworker-gw");
        if (!c->admin_group || !c->gateway_user) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(Config *c) {
        free(c->admin_group);
        free(c->gateway_user);
        free(c->io_device);
        for (size_t i = 0; i < c->n_principals; i++) {
                free(c->principals[i].principal);
                free(c->principals[i].account);
                free(c->principals[i].profile);
                strv_free(c->principals[i].allow);
        }
        free(c->principals);
        for (size_t i = 0; i < c->n_profiles; i++)
                free(c->profiles[i].name);
        free(c->profiles);
        *c = (Config) {};
}

_printf_(2, 3) static int config_error(char *err, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, CONFIG_ERROR_MAX, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* A non-negative integer, or a string parsed by parse (sizes "512M", quotas "150%"). json-c clamps an
 * integer beyond int64 to INT64_MAX without a word: that value is refused, so no overflow passes. */
static int config_read_number(json_object *v, int (*parse)(const char *, uint64_t *), uint64_t *ret) {
        if (json_object_is_type(v, json_type_int)) {
                int64_t i = json_object_get_int64(v);
                if (i < 0 || i == INT64_MAX)
                        return -ERANGE;
                *ret = (uint64_t) i;
                return 0;
        }
        if (json_object_is_type(v, json_type_string) && parse)
                return parse(json_object_get_string(v), ret);
        return -EINVAL;
}

static int config_read_string(json_object *v, const char *key, char **target, char *err) {
        char *s;

        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
                return config_error(err, "\"%s\" must be a non-empty string", key);
        s = strdup(json_object_get_string(v));
        if (!s)
                return -ENOMEM;
        free(*target);
        *target = s;
        return 0;
}

static int config_read_limits(json_object *obj, const char *key, JobLimits *l, char *err) {
        if (!json_object_is_type(obj, json_type_object))
                return config_error(err, "\"%s\" must be an object", key);
        json_object_object_foreach(obj, name, v) {
                JobLimitField f = job_limit_from_name(name);
                uint64_t n;
                int r;

                if (f == _JOB_LIMIT_MAX)
                        return config_error(err, "unknown limit \"%s\" in \"%s\"", name, key);
                if (json_object_is_type(v, json_type_string))
                        r = job_limit_parse(f, json_object_get_string(v), &n);
                else
                        r = config_read_number(v, NULL, &n);
                if (r < 0 || n == 0)
                        return config_error(err, "\"%s\".\"%s\": expected a positive number%s, or \"infinity\"", key,
                                            name,
                                            f == JOB_LIMIT_CPU ? " (µs per second) or a percentage like \"150%\"" :
                                            f == JOB_LIMIT_TASKS ? "" : " of bytes, or a size like \"512M\"");
                *job_limits_field(l, f) = n;
        }
        return 0;
}

static ConfigPrincipal *config_principal_get(Config *c, const char *name) {
        ConfigPrincipal *a;

        for (size_t i = 0; i < c->n_principals; i++)
                if (streq(c->principals[i].principal, name))
                        return &c->principals[i];
        a = realloc(c->principals, (c->n_principals + 1) * sizeof(*a));
        if (!a)
                return NULL;
        c->principals = a;
        a = &c->principals[c->n_principals];
        *a = (ConfigPrincipal) { .principal = strdup(name), .network = -1, .profile_locked = -1,
                                 .isolation_optional = -1 };
        if (!a->principal)
                return NULL;
        c->n_principals++;
        return a;
}

static bool principal_key_is_valid(const char *name) {
        return streq(name, "*") || principal_name_is_valid(name);
}

static int config_read_accounts(Config *c, json_object *obj, char *err) {
        if (!json_object_is_type(obj, json_type_object))
                return config_error(err, "\"remote_accounts\" must be an object of principal: account");
        json_object_object_foreach(obj, name, v) {
                ConfigPrincipal *p;

                if (!principal_key_is_valid(name))
                        return config_error(err, "\"remote_accounts\": invalid principal name");
                if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
                        return config_error(err, "\"remote_accounts\".\"%s\" must be an account name", name);
                p = config_principal_get(c, name);
                if (!p)
                        return -ENOMEM;
                free(p->account);
                p->account = strdup(json_object_get_string(v));
                if (!p->account)
                        return -ENOMEM;
        }
        return 0;
}

static int config_read_seconds(json_object *v, const char *key, uint64_t *ret, char *err) {
        double d;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return config_error(err, "\"%s\" must be a number of seconds", key);
        d = json_object_get_double(v);
        if (!(d > 0 && d <= 86400.0 * 365))
                return config_error(err, "\"%s\" must be between 0 and one year", key);
        *ret = (uint64_t) (d * (double) USEC_PER_SEC);
        return 0;
}

static int config_read_profiles(Config *c, json_object *obj, char *err) {
        if (!json_object_is_type(obj, json_type_object))
                return config_error(err, "\"profiles\" must be an object of name: limits");
        json_object_object_foreach(obj, name, v) {
                ConfigProfile *p;
                json_object *rt;
                int r;

                if (!principal_name_is_valid(name))
                        return config_error(err, "\"profiles\": invalid profile name");
                if (config_find_profile(c, name))
                        return config_error(err, "\"profiles\": duplicate profile \"%s\"", name);
                p = realloc(c->profiles, (c->n_profiles + 1) * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                c->profiles = p;
                p = &c->profiles[c->n_profiles];
                *p = (ConfigProfile) { .name = strdup(name) };
                if (!p->name)
                        return -ENOMEM;
                c->n_profiles++;
                if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "RuntimeMaxSec", &rt)) {
                        char key[96];
                        snprintf(key, sizeof(key), "profiles.%s.RuntimeMaxSec", name);
                        r = config_read_seconds(rt, key, &p->runtime_max_usec, err);
                        if (r < 0)
                                return r;
                        json_object_object_del(v, "RuntimeMaxSec");
                }
                r = config_read_limits(v, name, &p->limits, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The per-principal shares (max_retained_jobs, max_readers, max_spool_bytes): whether key is one. */
static bool config_principal_cap(const char *key) {
        return streq(key, "max_retained_jobs") || streq(key, "max_readers") || streq(key, "max_spool_bytes");
}

static int config_read_principal_cap(ConfigPrincipal *p, const char *name, const char *key, json_object *v,
                                     char *err) {
        uint64_t n;

        if (streq(key, "max_spool_bytes")) {
                if (config_read_number(v, parse_size, &n) < 0 || n == 0)
                        return config_error(err, "\"%s\".\"%s\" must be a positive size like \"4G\"", name, key);
                p->max_spool_bytes = n;
                return 0;
        }
        if (config_read_number(v, NULL, &n) < 0 || n == 0 || n > 1000000)
                return config_error(err, "\"%s\".\"%s\" must be 1..1000000", name, key);
        if (streq(key, "max_readers"))
                p->max_readers = (unsigned) n;
        else
                p->max_retained_jobs = (unsigned) n;
        return 0;
}

static int config_read_principals(Config *c, json_object *obj, char *err) {
        if (!json_object_is_type(obj, json_type_object))
                return config_error(err, "\"principals\" must be an object of name: policy");
        json_object_object_foreach(obj, name, v) {
                ConfigPrincipal *p;
                int r = 0;

                if (!principal_key_is_valid(name))
                        return config_error(err, "\"principals\": invalid principal name");
                if (!json_object_is_type(v, json_type_object))
                        return config_error(err, "\"principals\".\"%s\" must be an object", name);
                p = config_principal_get(c, name);
                if (!p)
                        return -ENOMEM;
                json_object_object_foreach(v, key, val) {
                        if (streq(key, "account"))
                                r = config_read_string(val, key, &p->account, err);
                        else if (streq(key, "profile"))
                                r = config_read_string(val, key, &p->profile, err);
                        else if (streq(key, "max_jobs")) {
                                uint64_t n;
                                if (config_read_number(val, NULL, &n) < 0 || n > 100000)
                                        r = config_error(err, "\"%s\".\"max_jobs\" must be 0..100000", name);
                                else
                                        p->max_jobs = (unsigned) n;
                        } else if (streq(key, "network") || streq(key, "profile_locked") ||
                                   streq(key, "isolation_optional")) {
                                if (!json_object_is_type(val, json_type_boolean))
                                        r = config_error(err, "\"%s\".\"%s\" must be true or false", name, key);
                                else
                                        *(streq(key, "network") ? &p->network :
                                          streq(key, "profile_locked") ? &p->profile_locked :
                                          &p->isolation_optional) = json_object_get_boolean(val);
                        } else if (streq(key, "allow")) {
                                size_t n;
                                if (!json_object_is_type(val, json_type_array))
                                        return config_error(err, "\"%s\".\"allow\" must be a list of paths", name);
                                n = json_object_array_length(val);
                                strv_free(p->allow);
                                p->allow = new0(char *, n + 1);
                                if (!p->allow)
                                        return -ENOMEM;
                                for (size_t i = 0; i < n; i++) {
                                        json_object *e = json_object_array_get_idx(val, i);
                                        if (!json_object_is_type(e, json_type_string) ||
                                            json_object_get_string(e)[0] != '/')
                                                return config_error(err, "\"%s\".\"allow\": entries must be absolute "
                                                                    "paths or patterns", name);
                                        p->allow[i] = strdup(json_object_get_string(e));
                                        if (!p->allow[i])
                                                return -ENOMEM;
                                }
                        } else if (streq(key, "remote_system_account")) {
                                if (!json_object_is_type(val, json_type_boolean))
                                        r = config_error(err, "\"%s\".\"%s\" must be true or false", name, key);
                                else if (streq(name, "*"))
                                        r = config_error(err, "\"*\".\"%s\": system accounts can be allowed as "
                                                         "remote principals only one by one", key);
                                else
                                        p->remote_system_account = json_object_get_boolean(val);
                        } else if (streq(key, "slice_limits"))
                                r = config_read_limits(val, key, &p->slice_limits, err);
                        else if (config_principal_cap(key))
                                r = config_read_principal_cap(p, name, key, val, err);
                        else
                                r = config_error(err, "\"principals\".\"%s\": unknown key \"%s\"", name, key);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Names only (no user database here: the fuzzer and the unit tests load policies too); the numbers are
 * checked by config_check_accounts() in the daemon. A remote principal's account must never be one that
 * could act for others: root, the gateway's (its jobs could call Remote as anyone), or a dynamic user's. */
static int config_check_account_names(Config *c, char *err) {
        for (size_t i = 0; i < c->n_principals; i++) {
                const ConfigPrincipal *p = &c->principals[i];

                if (!p->account)
                        continue;
                if (streq(p->principal, "*"))
                        return config_error(err, "\"*\" may not have an account: every remote principal would share "
                                            "it; map principals one by one");
                if (streq(p->account, "root"))
                        return config_error(err, "principal \"%s\": remote jobs may not run as root", p->principal);
                if (c->gateway_user && streq(p->account, c->gateway_user))
                        return config_error(err, "principal \"%s\": the account may not be the gateway_user \"%s\" "
                                            "(its jobs could act for any remote principal)", p->principal,
                                            c->gateway_user);
                if (dynuser_name_is_reserved(p->account))
                        return config_error(err, "principal \"%s\": \"%s\" is a name of the dynamic users",
                                            p->principal, p->account);
        }
        return 0;
}

static bool config_range_overlaps(uint64_t min, uint64_t max, uint64_t lo, uint64_t hi) {
        return min <= hi && lo <= max;
}

static int config_check_dynamic_range(Config *c, char *err) {
        uint64_t min = c->dynamic_uid_min, max = c->dynamic_uid_max;

        if (min > max)
                return config_error(err, "\"dynamic_uid_min\" is above \"dynamic_uid_max\"");
        if (min < 1000 || max >= UINT64_C(0x80000000) ||
            config_range_overlaps(min, max, 60001, 65535) ||
            config_range_overlaps(min, max, DYNUSER_SYSTEMD_CONTAINER_MIN, UINT64_C(1879048191)))
                return config_error(err, "the dynamic uid range %" PRIu64 "-%" PRIu64 " overlaps a range reserved "
                                    "by the system (below 1000, systemd's 60001-65535 or containers' 524288-"
                                    "1879048191, or 2^31 and above)", min, max);
        return 0;
}

static int config_read_uid(json_object *v, const char *key, uid_t *ret, char *err) {
        uint64_t n;

        if (!json_object_is_type(v, json_type_int) || config_read_number(v, NULL, &n) < 0 || n >= UINT32_MAX)
                return config_error(err, "\"%s\" must be a uid (an integer 0..4294967294)", key);
        *ret = (uid_t) n;
        return 0;
}

static int config_check_references(Config *c, char *err) {
        int r;

        r = config_check_account_names(c, err);
        if (r < 0)
                return r;
        r = config_check_dynamic_range(c, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_principals; i++)
                if (c->principals[i].profile && !streq(c->principals[i].profile, "default") &&
                    !config_find_profile(c, c->principals[i].profile))
                        return config_error(err, "principal \"%s\" uses the unknown profile \"%s\"",
                                            c->principals[i].principal, c->principals[i].profile);
        for (size_t i = 0; i < c->n_profiles; i++) {
                JobLimits l = c->profiles[i].limits;
                JobLimitField f;
                job_limits_apply_defaults(&l, &c->default_limits);
                if (job_limits_check(&l, &c->max_limits, &f) < 0)
                        return config_error(err, "profile \"%s\": %s is outside the allowed range", c->profiles[i].name,
                                            job_limit_name(f));
        }
        return 0;
}

static int config_apply(Config *c, json_object *root, char *err) {
        int r = 0;

        if (!json_object_is_type(root, json_type_object))
                return config_error(err, "the top level must be a JSON object");

        json_object_object_foreach(root, key, v) {
                if (streq(key, "admin_group"))
                        r = config_read_string(v, key, &c->admin_group, err);
                else if (streq(key, "gateway_user"))
                        r = config_read_string(v, key, &c->gateway_user, err);
                else if (streq(key, "remote_user"))
                        r = config_error(err, "\"remote_user\" is gone: remote principals now run under a dynamic "
                                         "user of their own; map one with \"principals\": {NAME: {\"account\": ...}}");
                else if (streq(key, "dynamic_uid_min"))
                        r = config_read_uid(v, key, &c->dynamic_uid_min, err);
                else if (streq(key, "dynamic_uid_max"))
                        r = config_read_uid(v, key, &c->dynamic_uid_max, err);
                else if (streq(key, "io_device"))
                        r = config_read_string(v, key, &c->io_device, err);
                else if (streq(key, "remote_accounts"))
                        r = config_read_accounts(c, v, err);
                else if (streq(key, "profiles"))
                        r = config_read_profiles(c, v, err);
                else if (streq(key, "principals"))
                        r = config_read_principals(c, v, err);
                else if (streq(key, "stop_grace_sec"))
                        r = config_read_seconds(v, key, &c->stop_grace_usec, err);
                else if (streq(key, "retention_sec"))
                        r = config_read_seconds(v, key, &c->retention_usec, err);
                else if (streq(key, "start_timeout_sec"))
                        r = config_read_seconds(v, key, &c->start_timeout_usec, err);
                else if (streq(key, "output_max_bytes")) {
                        if (config_read_number(v, parse_size, &c->output_max_bytes) < 0)
                                r = config_error(err, "\"output_max_bytes\" must be a size (0 = no cap)");
                } else if (streq(key, "max_jobs")) {
                        uint64_t n;
                        if (config_read_number(v, NULL, &n) < 0 || n == 0 || n > 1000000)
                                r = config_error(err, "\"max_jobs\" must be between 1 and 1000000");
                        else
                                c->max_jobs = (unsigned) n;
                } else if (streq(key, "spool_max_bytes")) {
                        if (config_read_number(v, parse_size, &c->spool_max_bytes) < 0 || c->spool_max_bytes == 0)
                                r = config_error(err, "\"spool_max_bytes\" must be a positive size like \"16G\"");
                } else if (streq(key, "max_readers")) {
                        uint64_t n;
                        if (config_read_number(v, NULL, &n) < 0 || n > 1000000)
                                r = config_error(err, "\"max_readers\" must be 0 (derived) to 1000000");
                        else
                                c->max_readers = (unsigned) n;
                } else if (streq(key, "default_limits"))
                        r = config_read_limits(v, key, &c->default_limits, err);
                else if (streq(key, "max_limits"))
                        r = config_read_limits(v, key, &c->max_limits, err);
                else if (streq(key, "admin_max_limits"))
                        r = config_read_limits(v, key, &c->admin_max_limits, err);
                else
                        r = config_error(err, "unknown key \"%s\"", key);
                if (r < 0)
                        return r;
        }

        JobLimitField f;
        r = config_check_references(c, err);
        if (r < 0)
                return r;
        if (job_limits_check(&c->default_limits, &c->max_limits, &f) < 0)
                return config_error(err, "default %s is outside the allowed range (above the maximum or below "
                                    "the minimum %" PRIu64 ")", job_limit_name(f), job_limit_minimum(f));
        return 0;
}

int config_load_string(Config *c, const char *text, char err[static CONFIG_ERROR_MAX]) {
        json_tokener *tok;
        json_object *root;
        size_t len = strlen(text);
        int r;

        if (len > CONFIG_FILE_MAX)
                return config_error(err, "file larger than %d bytes", CONFIG_FILE_MAX);
        tok = json_tokener_new_ex(32);
        if (!tok)
                return -ENOMEM;
        /* Strict JSON: no trailing commas or other leniencies that hide a half-edited file. */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, text, (int) len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) < len) {
                size_t end = json_tokener_get_parse_end(tok);
                enum json_tokener_error e = json_tokener_get_error(tok);
                int line = 1;

                for (size_t i = 0; i < end && i < len; i++)
                        line += text[i] == '\n';
                r = config_error(err, "JSON syntax error at line %d: %s", line,
                                 e == json_tokener_success ? "trailing data after the object" :
                                 e == json_tokener_continue ? "unexpected end of file" :
                                 json_tokener_error_desc(e));
                json_object_put(root);
                json_tokener_free(tok);
                return r;
        }
        json_tokener_free(tok);
        if (!json_keys_unique(text, len, root)) {
                json_object_put(root);
                return config_error(err, "an object has the same key twice");
        }
        r = config_apply(c, root, err);
        json_object_put(root);
        return r;
}

int config_load(Config *c, const char *path, char err[static CONFIG_ERROR_MAX]) {
        _cleanup_(freep) char *text = NULL;
        FILE *f;
        size_t n;

        err[0] = 0;
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return -ENOENT;
                return config_error(err, "cannot open: %s", strerror(errno));
        }
        text = malloc(CONFIG_FILE_MAX + 1);
        if (!text) {
                fclose(f);
                return -ENOMEM;
        }
        n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
        fclose(f);
        if (n > CONFIG_FILE_MAX)
                return config_error(err, "file larger than %d bytes", CONFIG_FILE_MAX);
        text[n] = 0;
        if (strlen(text) != n)
                return config_error(err, "file contains a NUL byte");
        return config_load_string(c, text, err);
}

static const ConfigPrincipal *config_find_principal(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_principals; i++)
                if (streq(c->principals[i].principal, name))
                        return &c->principals[i];
        return NULL;
}

const ConfigProfile *config_find_profile(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_profiles; i++)
                if (streq(c->profiles[i].name, name))
                        return &c->profiles[i];
        return NULL;
}

void config_principal_policy(const Config *c, const char *principal, PrincipalPolicy *ret) {
        const ConfigPrincipal *own = config_find_principal(c, principal), *all = config_find_principal(c, "*");
        const ConfigPrincipal *layers[] = { own, all };
        const char *profile = NULL;

        *ret = (PrincipalPolicy) {
                .named = own != NULL,
                .remote_system_account = own && own->remote_system_account,
                .max_jobs = CONFIG_PRINCIPAL_MAX_JOBS,
                .max_retained_jobs = CONFIG_PRINCIPAL_MAX_RETAINED_JOBS,
                .max_readers = CONFIG_PRINCIPAL_MAX_READERS,
                .max_spool_bytes = CONFIG_PRINCIPAL_MAX_SPOOL_BYTES,
        };
        for (int i = (int) ELEMENTSOF(layers) - 1; i >= 0; i--) {
                const ConfigPrincipal *p = layers[i];
                if (!p)
                        continue;
                if (p->account)
                        ret->account = p->account;
                if (p->profile)
                        profile = p->profile;
                if (p->max_jobs)
                        ret->max_jobs = p->max_jobs;
                if (p->allow)
                        ret->allow = p->allow;
                if (p->network >= 0)
                        ret->network = p->network;
                if (p->max_retained_jobs)
                        ret->max_retained_jobs = p->max_retained_jobs;
                if (p->max_readers)
                        ret->max_readers = p->max_readers;
                if (p->max_spool_bytes)
                        ret->max_spool_bytes = p->max_spool_bytes;
                if (p->profile_locked >= 0)
                        ret->profile_locked = p->profile_locked;
                if (p->isolation_optional >= 0)
                        ret->isolation_optional = p->isolation_optional;
                for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++)
                        if (job_limits_get(&p->slice_limits, f))
                                *job_limits_field(&ret->slice_limits, f) = job_limits_get(&p->slice_limits, f);
        }
        ret->profile = profile ? config_find_profile(c, profile) : NULL;
}

const char *config_remote_account(const Config *c, const char *principal) {
        PrincipalPolicy p;

        config_principal_policy(c, principal, &p);
        return p.account;
}

int config_check_accounts(const Config *c, char err[static CONFIG_ERROR_MAX]) {
        struct passwd *gw = c->gateway_user ? getpwnam(c->gateway_user) : NULL;
        uid_t gw_uid = gw ? gw->pw_uid : (uid_t) -1;

        for (size_t i = 0; i < c->n_principals; i++) {
                const ConfigPrincipal *p = &c->principals[i];
                struct passwd *pw;

                if (!p->account)
                        continue;
                pw = getpwnam(p->account);
                if (!pw)
                        continue; /* refused when a job is started: the account may be created later */
                if (pw->pw_uid == 0 || pw->pw_uid == gw_uid ||
                    (pw->pw_uid >= c->dynamic_uid_min && pw->pw_uid <= c->dynamic_uid_max))
                        return config_error(err, "principal \"%s\": account \"%s\" has uid %u, which is %s",
                                            p->principal, p->account, (unsigned) pw->pw_uid,
                                            pw->pw_uid == 0 ? "root's" : pw->pw_uid == gw_uid ?
                                            "the gateway_user's" : "in the dynamic uid range");
        }
        return 0;
}

bool config_executable_allowed(char **allow, const char *path) {
        if (!allow)
                return true;
        for (char **a = allow; *a; a++)
                if (fnmatch(*a, path, FNM_PATHNAME) == 0)
                        return true;
        return false;
}

void config_max_limits(const Config *c, bool admin, JobLimits *ret) {
        *ret = c->max_limits;
        if (!admin)
                return;
        for (JobLimitField f = 0; f < _JOB_LIMIT_MAX; f++)
                if (job_limits_get(&c->admin_max_limits, f) != 0)
                        *job_limits_field(ret, f) = job_limits_get(&c->admin_max_limits, f);
}
