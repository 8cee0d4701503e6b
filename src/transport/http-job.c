/* SPDX-License-Identifier: MIT */
/* http-job.c - decoding of the POST /v1/jobs body. Everything a client sends is checked here for shape and
 * type; what it means (policy, paths, limits against the maximums) is the daemon's call. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/json-keys.h"
#include "shared/job-ref.h"
#include "transport/http-job.h"
#include "shared/macro.h"
#include "shared/util.h"

#define HTTP_JSON_DEPTH 8

/* How each limit is written in JSON besides a positive integer of its base unit (the keys are
 * start_limit_json_key()'s). */
static const struct {
        int (*parse)(const char *s, uint64_t *ret);
        const char *what;
} http_job_limits[_JOB_LIMIT_MAX] = {
        [JOB_LIMIT_CPU] = { parse_cpu_quota, "a percentage like \"150%\" or a positive integer of µs per s" },
        [JOB_LIMIT_MEMORY] = { parse_size, "a size like \"256M\" or a positive integer" },
        [JOB_LIMIT_IO_READ] = { parse_size, "a size like \"10M\" or a positive integer" },
        [JOB_LIMIT_IO_WRITE] = { parse_size, "a size like \"10M\" or a positive integer" },
        [JOB_LIMIT_TASKS] = { parse_uint64, "a positive integer" },
};

/* A JSON string as a C string: NUL bytes inside it would silently cut it, so they are refused. */
static int http_json_string(json_object *o, const char *what, const char **ret, HttpError *e) {
        const char *s = NULL;

        if (!json_object_is_type(o, json_type_string))
                return http_error_set(e, 400, "invalid-request", "'%s' must be a string.", what);
        s = json_object_get_string(o);
        if (!s || strlen(s) != (size_t) json_object_get_string_len(o))
                return http_error_set(e, 400, "invalid-request", "'%s' must not contain NUL characters.", what);
        *ret = s;
        return 0;
}

static int http_job_parse_argv(json_object *a, StartRequest *r, HttpError *e) {
        size_t n;

        if (!json_object_is_type(a, json_type_array))
                return http_error_set(e, 400, "invalid-request", "'argv' must be an array of strings.");
        n = json_object_array_length(a);
        if (n == 0)
                return http_error_set(e, 400, "invalid-request", "'argv' must not be empty.");
        if (n > JOB_ARGV_MAX)
                return http_error_set(e, 400, "invalid-request", "'argv' has more than %u entries.",
                                      JOB_ARGV_MAX);
        r->argv = new0(char *, n + 1);
        if (!r->argv)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *s = NULL;

                if (http_json_string(json_object_array_get_idx(a, i), "argv[]", &s, e) < 0)
                        return -EINVAL;
                if (i == 0 && s[0] == 0)
                        return http_error_set(e, 400, "invalid-request", "'argv[0]' must not be empty.");
                r->argv[i] = strdup(s);
                if (!r->argv[i])
                        return -ENOMEM;
        }
        return 0;
}

static bool http_env_key_is_valid(const char *k, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (k[i] == '=')
                        return false;
        return true;
}

static int http_job_parse_env(json_object *o, StartRequest *r, HttpError *e) {
        size_t n, k = 0;

        if (json_object_is_type(o, json_type_array)) {
                n = json_object_array_length(o);
                if (n > JOB_ENV_MAX)
                        goto too_many;
                r->env = new0(char *, n + 1);
                if (!r->env)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        const char *s = NULL, *eq;

                        if (http_json_string(json_object_array_get_idx(o, i), "env[]", &s, e) < 0)
                                return -EINVAL;
                        eq = strchr(s, '=');
                        if (!eq || eq == s)
                                return http_error_set(e, 400, "invalid-request",
                                                      "'env' entries must have the form KEY=VALUE.");
                        r->env[k] = strdup(s);
                        if (!r->env[k])
                                return -ENOMEM;
                        k++;
                }
                return 0;
        }
        if (json_object_is_type(o, json_type_object)) {
                n = (size_t) json_object_object_length(o);
                if (n > JOB_ENV_MAX)
                        goto too_many;
                r->env = new0(char *, n + 1);
                if (!r->env)
                        return -ENOMEM;
                json_object_object_foreach(o, key, val) {
                        const char *s = NULL;

                        if (!http_env_key_is_valid(key, strlen(key)))
                                return http_error_set(e, 400, "invalid-request",
                                                      "'env' keys must be non-empty and contain no '='.");
                        if (http_json_string(val, "env{}", &s, e) < 0)
                                return -EINVAL;
                        if (asprintf(&r->env[k], "%s=%s", key, s) < 0) {
                                r->env[k] = NULL;
                                return -ENOMEM;
                        }
                        k++;
                }
                return 0;
        }
        return http_error_set(e, 400, "invalid-request",
                              "'env' must be an object of strings or an array of \"KEY=VALUE\" strings.");
too_many:
        return http_error_set(e, 400, "invalid-request", "'env' has more than %u entries.", JOB_ENV_MAX);
}

/* A limit is a positive JSON integer in the base unit, or a string parsed by parser. */
static int http_job_parse_limit(json_object *v, const char *key, int (*parser)(const char *, uint64_t *),
                                const char *what, uint64_t *ret, HttpError *e) {
        uint64_t u = 0;

        if (json_object_is_type(v, json_type_int)) {
                if (json_object_get_int64(v) <= 0)
                        goto invalid;
                u = json_object_get_uint64(v);
        } else if (json_object_is_type(v, json_type_string)) {
                const char *s = NULL;

                if (http_json_string(v, key, &s, e) < 0)
                        return -EINVAL;
                if (parser(s, &u) < 0)
                        goto invalid;
        } else
                goto invalid;
        if (u == 0)
                goto invalid;
        *ret = u;
        return 0;
invalid:
        return http_error_set(e, 400, "invalid-request", "'limits.%s' must be %s.", key, what);
}

static int http_job_parse_limits(json_object *o, JobLimits *l, HttpError *e) {
        if (!json_object_is_type(o, json_type_object))
                return http_error_set(e, 400, "invalid-request", "'limits' must be an object.");

        json_object_object_foreach(o, key, v) {
                JobLimitField f = start_limit_from_json_key(key);
                int r;

                if (f == _JOB_LIMIT_MAX) {
                        _cleanup_(freep) char *k = str_escape(key, 64);

                        return http_error_set(e, 400, "invalid-request", "Unknown key 'limits.%s'.", k ?: "?");
                }
                r = http_job_parse_limit(v, key, http_job_limits[f].parse, http_job_limits[f].what,
                                         job_limits_field(l, f), e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int http_job_parse_isolation(json_object *o, StartIsolation *iso, HttpError *e) {
        if (!json_object_is_type(o, json_type_object))
                return http_error_set(e, 400, "invalid-request", "'isolation' must be an object.");
        json_object_object_foreach(o, key, v) {
                int *target = start_isolation_field(iso, start_isolation_from_json_key(key));

                if (!target) {
                        _cleanup_(freep) char *k = str_escape(key, 64);
                        return http_error_set(e, 400, "invalid-request", "Unknown key 'isolation.%s'.", k ?: "?");
                }
                if (!json_object_is_type(v, json_type_boolean))
                        return http_error_set(e, 400, "invalid-request", "'isolation.%s' must be true or false.", key);
                *target = json_object_get_boolean(v);
        }
        return 0;
}

static int http_job_parse_timeout(json_object *v, StartRequest *r, HttpError *e) {
        double sec;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return http_error_set(e, 400, "invalid-request", "'timeout_sec' must be a number of seconds.");
        sec = json_object_get_double(v);
        if (!(sec > 0) || sec > 365.0 * 24 * 3600)
                return http_error_set(e, 400, "invalid-request", "'timeout_sec' must be between 0 and one year.");
        r->runtime_max_usec = (uint64_t) (sec * 1e6);
        if (r->runtime_max_usec == 0)
                r->runtime_max_usec = 1;
        return 0;
}

/* "stdin": "null" (the default) or "stream" (POST …/input feeds it); an fd has no meaning over HTTP. */
static int http_job_parse_stdin(json_object *v, StartRequest *r, HttpError *e) {
        const char *s = NULL;
        StartStdin k;
        int n;

        n = http_json_string(v, "stdin", &s, e);
        if (n < 0)
                return n;
        k = start_stdin_from_string(s);
        if (k != START_STDIN_NULL && k != START_STDIN_STREAM)
                return http_error_set(e, 400, "invalid-request", "'stdin' must be \"null\" or \"stream\".");
        r->stdin_kind = k;
        return 0;
}

/* "tty": {"rows": R, "cols": C}, each 1..START_TTY_SIZE_MAX (Terminal). */
static int http_job_parse_tty(json_object *o, StartRequest *r, HttpError *e) {
        int64_t v[2] = {};

        if (!json_object_is_type(o, json_type_object))
                return http_error_set(e, 400, "invalid-request", "'tty' must be an object {\"rows\": R, \"cols\": C}.");
        json_object_object_foreach(o, key, val) {
                int i = streq(key, "rows") ? 0 : streq(key, "cols") ? 1 : -1;

                if (i < 0 || !json_object_is_type(val, json_type_int))
                        return http_error_set(e, 400, "invalid-request",
                                              "'tty' takes the integers \"rows\" and \"cols\" only.");
                v[i] = json_object_get_int64(val);
        }
        if (v[0] < 1 || v[1] < 1 || v[0] > START_TTY_SIZE_MAX || v[1] > START_TTY_SIZE_MAX)
                return http_error_set(e, 400, "invalid-request", "'tty' needs rows and cols from 1 to %u.",
                                      START_TTY_SIZE_MAX);
        r->tty_rows = (uint16_t) v[0];
        r->tty_cols = (uint16_t) v[1];
        return 0;
}

static int http_job_request_parse_object(json_object *root, StartRequest *r, HttpError *e) {
        int k;

        if (!json_object_is_type(root, json_type_object))
                return http_error_set(e, 400, "invalid-request", "The request body must be a JSON object.");

        json_object_object_foreach(root, key, v) {
                if (streq(key, "argv"))
                        k = http_job_parse_argv(v, r, e);
                else if (streq(key, "env"))
                        k = http_job_parse_env(v, r, e);
                else if (streq(key, "cwd")) {
                        const char *s = NULL;

                        k = http_json_string(v, "cwd", &s, e);
                        if (k >= 0) {
                                free((char *) r->cwd);
                                r->cwd = strdup(s);
                                if (!r->cwd)
                                        k = -ENOMEM;
                        }
                } else if (streq(key, "limits"))
                        k = http_job_parse_limits(v, &r->limits, e);
                else if (streq(key, "isolation"))
                        k = http_job_parse_isolation(v, &r->isolation, e);
                else if (streq(key, "timeout_sec"))
                        k = http_job_parse_timeout(v, r, e);
                else if (streq(key, "stdin"))
                        k = http_job_parse_stdin(v, r, e);
                else if (streq(key, "tty"))
                        k = http_job_parse_tty(v, r, e);
                else if (streq(key, "profile")) {
                        const char *s = NULL;

                        k = http_json_string(v, "profile", &s, e);
                        if (k >= 0 && !*s)
                                k = http_error_set(e, 400, "invalid-request", "'profile' must not be empty.");
                        if (k >= 0) {
                                free((char *) r->profile);
                                r->profile = strdup(s);
                                if (!r->profile)
                                        k = -ENOMEM;
                        }
                } else if (streq(key, "name")) {
                        const char *s = NULL;

                        k = http_json_string(v, "name", &s, e);
                        if (k >= 0 && !job_name_is_valid(s))
                                k = http_error_set(e, 400, "invalid-request", "'name' must be 1 to %d letters, "
                                                   "digits, '_', '.' or '-', start with a letter, and not "
                                                   "look like a job id.", JOB_NAME_MAX);
                        if (k >= 0) {
                                free((char *) r->name);
                                r->name = strdup(s);
                                if (!r->name)
                                        k = -ENOMEM;
                        }
                } else {
                        _cleanup_(freep) char *esc = str_escape(key, 64);

                        k = http_error_set(e, 400, "invalid-request", "Unknown key '%s'.", esc ?: "?");
                }
                if (k < 0)
                        return k;
        }
        if (!r->argv)
                return http_error_set(e, 400, "invalid-request", "'argv' is required.");
        if (!r->env) {
                r->env = new0(char *, 1);
                if (!r->env)
                        return -ENOMEM;
        }
        if (!r->cwd) {
                r->cwd = strdup("");
                if (!r->cwd)
                        return -ENOMEM;
        }
        return 0;
}

int http_job_request_parse(const char *body, size_t size, StartRequest *ret, HttpError *e) {
        _cleanup_(http_json_putp) json_object *root = NULL;
        StartRequest r = { .isolation = START_ISOLATION_UNSET };
        json_tokener *tok;
        enum json_tokener_error jerr;
        size_t used;
        int k;

        if (size == 0)
                return http_error_set(e, 400, "invalid-json", "The request body is empty; a JSON object is "
                                      "required.");
        if (size > INT32_MAX)
                return http_error_set(e, 413, "body-too-large", "The request body is too large.");

        tok = json_tokener_new_ex(HTTP_JSON_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, body, (int) size);
        jerr = json_tokener_get_error(tok);
        used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (jerr != json_tokener_success || !root) {
                if (jerr == json_tokener_continue)
                        return http_error_set(e, 400, "invalid-json", "The JSON body is truncated.");
                return http_error_set(e, 400, "invalid-json", "The body is not valid JSON: %s.",
                                      json_tokener_error_desc(jerr));
        }
        /* Whitespace may follow the value; anything else is refused (no concatenated documents). */
        for (size_t i = used; i < size; i++)
                if (!strchr(" \t\r\n", body[i]) || body[i] == 0)
                        return http_error_set(e, 400, "invalid-json", "Trailing data after the JSON value.");
        if (!json_keys_unique(body, used, root))
                return http_error_set(e, 400, "invalid-json", "An object of the body has the same key twice.");

        k = http_job_request_parse_object(root, &r, e);
        if (k < 0) {
                start_request_done(&r);
                return k;
        }
        *ret = r;
        return 0;
}

/* Takes v, also on failure (json-c keeps it only on success). */
static int http_json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int http_json_add_strv(json_object *o, const char *key, char **l) {
        json_object *a = json_object_new_array();
        int r;

        r = http_json_add(o, key, a);
        for (char **s = l; r >= 0 && s && *s; s++) {
                json_object *v = json_object_new_string(*s);

                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        r = -ENOMEM;
                }
        }
        return r;
}

/* Only what is given: the gateway then leaves the rest to the daemon's defaults, as a D-Bus caller would. */
static int http_job_options_to_json(const StartRequest *req, json_object *o) {
        json_object *limits = json_object_new_object(), *iso = NULL;
        int r;

        r = http_json_add(o, "limits", limits);
        for (JobLimitField f = 0; r >= 0 && f < _JOB_LIMIT_MAX; f++)
                if (job_limits_get(&req->limits, f) != 0)
                        r = http_json_add(limits, start_limit_json_key(f),
                                          json_object_new_uint64(job_limits_get(&req->limits, f)));
        if (r >= 0 && req->profile)
                r = http_json_add(o, "profile", json_object_new_string(req->profile));
        if (r >= 0 && req->name)
                r = http_json_add(o, "name", json_object_new_string(req->name));
        if (r >= 0 && req->runtime_max_usec != 0)
                r = http_json_add(o, "timeout_sec", json_object_new_double((double) req->runtime_max_usec / 1e6));
        if (r >= 0 && req->stdin_kind == START_STDIN_STREAM)
                r = http_json_add(o, "stdin", json_object_new_string(start_stdin_to_string(req->stdin_kind)));
        if (r >= 0 && req->tty_rows > 0) {
                json_object *tty = json_object_new_object();

                r = http_json_add(o, "tty", tty);
                if (r >= 0)
                        r = http_json_add(tty, "rows", json_object_new_int(req->tty_rows));
                if (r >= 0)
                        r = http_json_add(tty, "cols", json_object_new_int(req->tty_cols));
        }
        for (StartIsolationField f = 0; r >= 0 && f < _START_ISOLATION_MAX; f++) {
                int v = start_isolation_get(&req->isolation, f);

                if (v < 0)
                        continue;
                if (!iso) {
                        iso = json_object_new_object();
                        r = http_json_add(o, "isolation", iso);
                }
                if (r >= 0)
                        r = http_json_add(iso, start_isolation_json_key(f), json_object_new_boolean(v > 0));
        }
        return r;
}

int http_job_request_to_json(const StartRequest *req, json_object **ret) {
        _cleanup_(http_json_putp) json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = http_json_add_strv(o, "argv", req->argv);
        if (r >= 0)
                r = http_json_add_strv(o, "env", req->env);
        if (r >= 0)
                r = http_json_add(o, "cwd", json_object_new_string(req->cwd ?: ""));
        if (r >= 0)
                r = http_job_options_to_json(req, o);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}
