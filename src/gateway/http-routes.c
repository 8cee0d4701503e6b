/* SPDX-License-Identifier: MIT */
/* http-routes.c - the /v1 API's routes as one table (method, path, query parameters, statuses) and the
 * router that reads it. docs/openapi.yaml describes the same table; test-openapi checks the two agree, so a
 * route added here without its document (or the reverse) fails the unit suite. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/authz.h"
#include "core/list-filter.h"
#include "gateway/http.h"
#include "shared/job-ref.h"
#include "shared/macro.h"
#include "shared/util.h"

/* Statuses every route can answer besides its own: a malformed query or an unexpected body (400), the
 * connection's limits (429), the gateway's own failure (500). Parser-level ones (405, 413, 505) belong to
 * paths and connections, not to an operation; docs/openapi.yaml says so in its description. */
#define COMMON 400, 429, 500
/* Routes that call teleworkerd also answer 503 when it is away. */
#define DAEMON COMMON, 503

static const HttpRouteDef http_routes[] = {
        { HTTP_ROUTE_JOBS_LIST, HTTP_GET, "/v1/jobs", { "cursor", "limit", "state", "since", "owner", "last" },
          { 200, 403, DAEMON } },
        { HTTP_ROUTE_JOBS_START, HTTP_POST, "/v1/jobs", {}, { 201, 403, 409, DAEMON } },
        { HTTP_ROUTE_JOB_GET, HTTP_GET, "/v1/jobs/{id}", { "wait" }, { 200, 403, 404, 409, DAEMON } },
        { HTTP_ROUTE_JOB_DELETE, HTTP_DELETE, "/v1/jobs/{id}", {}, { 200, 403, 404, 409, DAEMON } },
        { HTTP_ROUTE_JOB_STOP, HTTP_POST, "/v1/jobs/{id}/stop", { "time" }, { 200, 403, 404, 409, DAEMON } },
        { HTTP_ROUTE_JOB_KILL, HTTP_POST, "/v1/jobs/{id}/kill", { "signal" }, { 200, 403, 404, 409, DAEMON } },
        { HTTP_ROUTE_JOB_INPUT, HTTP_POST, "/v1/jobs/{id}/input", {}, { 200, 403, 404, 409, DAEMON } },
        { HTTP_ROUTE_JOB_ATTACH, HTTP_POST, "/v1/jobs/{id}/attach", { "offset" }, { 101, 403, 404, 409, DAEMON } },
        { HTTP_ROUTE_JOB_RESIZE, HTTP_POST, "/v1/jobs/{id}/resize", { "rows", "cols" },
          { 200, 403, 404, 409, DAEMON } },
        { HTTP_ROUTE_JOB_OUTPUT, HTTP_GET, "/v1/jobs/{id}/output",
          { "offset", "follow", "stream", "since", "until", "tail", "framed", "timestamps" },
          { 200, 403, 404, 409, DAEMON } },
        { HTTP_ROUTE_EVENTS, HTTP_GET, "/v1/events", {}, { 200, DAEMON } },
        { HTTP_ROUTE_VERSION, HTTP_GET, "/v1/version", {}, { 200, COMMON } },
        { HTTP_ROUTE_METRICS, HTTP_GET, "/v1/metrics", {}, { 200, 403, DAEMON } },
};

const HttpRouteDef *http_route_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(http_routes);
        return http_routes;
}

static const char *const http_route_names[_HTTP_ROUTE_MAX] = {
        [HTTP_ROUTE_JOBS_LIST] = "list",
        [HTTP_ROUTE_JOBS_START] = "start",
        [HTTP_ROUTE_JOB_GET] = "status",
        [HTTP_ROUTE_JOB_STOP] = "stop",
        [HTTP_ROUTE_JOB_OUTPUT] = "output",
        [HTTP_ROUTE_EVENTS] = "events",
        [HTTP_ROUTE_VERSION] = "version",
        [HTTP_ROUTE_METRICS] = "metrics",
        [HTTP_ROUTE_JOB_DELETE] = "remove",
        [HTTP_ROUTE_JOB_KILL] = "kill",
        [HTTP_ROUTE_JOB_INPUT] = "input",
        [HTTP_ROUTE_JOB_RESIZE] = "resize",
        [HTTP_ROUTE_JOB_ATTACH] = "attach",
};

const char *http_route_to_string(HttpRouteId id) {
        if ((unsigned) id >= _HTTP_ROUTE_MAX)
                return NULL;
        return http_route_names[id];
}

/* ---- query parameters ---------------------------------------------------------------------------------- */

static int http_query_bool(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        bool *dst = streq(key, "wait") ? &r->wait : &r->follow;

        if (http_parse_bool(value, dst) < 0)
                return http_error_set(e, 400, "bad-request", "Query parameter '%s' must be true or false.", key);
        return 0;
}

static int http_query_offset(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        if (parse_uint64(value, &r->offset) < 0)
                return http_error_set(e, 400, "bad-request", "Query parameter 'offset' must be a byte offset.");
        return 0;
}

static int http_query_cursor(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        if (strlen(value) >= sizeof(r->cursor))
                return http_error_set(e, 400, "bad-request", "Query parameter 'cursor' is not a cursor of this "
                                      "gateway.");
        strcpy(r->cursor, value);
        return 0;
}

static int http_query_limit(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        uint64_t v;

        if (parse_uint64(value, &v) < 0 || v > UINT32_MAX)
                return http_error_set(e, 400, "bad-request", "Query parameter 'limit' must be a number of jobs.");
        r->limit = (uint32_t) v;
        return 0;
}

/* stop's ?time=SEC: the grace period of this stop (StopWithTimeoutAs). */
static int http_query_time(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        uint64_t sec;

        if (parse_uint64(value, &sec) < 0 || sec > 100 * 365 * 24 * 3600ULL)
                return http_error_set(e, 400, "bad-request", "Query parameter 'time' must be seconds.");
        r->stop_usec = sec * USEC_PER_SEC;
        return 0;
}

static int http_query_signal(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        if (job_signal_from_string(value, &r->signal) < 0)
                return http_error_set(e, 400, "bad-request", "Query parameter 'signal' must be HUP, INT, QUIT, KILL, "
                                      "USR1, USR2 or TERM (or its number).");
        return 0;
}

/* resize's rows and cols: both required (http_route() checks), 0 is not a size. */
static int http_query_size(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        bool rows = streq(key, "rows");
        uint64_t v;

        if (parse_uint64(value, &v) < 0 || v == 0 || v > UINT16_MAX)
                return http_error_set(e, 400, "bad-request", "Query parameter '%s' must be a number of %s.", key,
                                      rows ? "rows" : "columns");
        *(rows ? &r->rows : &r->cols) = (uint16_t) v;
        return 0;
}

/* The output route's stream, since, until, tail, framed and timestamps (http-output.c); the table has already
 * refused a repeat. */
static int http_query_output(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        int k = http_output_query_param(&r->output, key, value, e);

        return k < 0 ? k : 0;
}

/* The list's filters (state, since, owner, last): any of them makes the call ListFilteredAs. */
static int http_query_list_filter(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        uint64_t v;

        r->filtered = true;
        if (streq(key, "state")) {
                if (job_list_filter_parse_states(value, &r->states) < 0)
                        return http_error_set(e, 400, "bad-request", "Query parameter 'state' must be a comma-"
                                              "separated list of submitted, running, success, failed, killed.");
        } else if (streq(key, "since")) {
                if (parse_uint64(value, &v) < 0 || v > UINT64_MAX / USEC_PER_SEC)
                        return http_error_set(e, 400, "bad-request", "Query parameter 'since' must be UNIX seconds.");
                r->since_usec = v * USEC_PER_SEC;
        } else if (streq(key, "owner")) {
                if (strlen(value) >= sizeof(r->owner) || !principal_name_is_valid(value))
                        return http_error_set(e, 400, "bad-request", "Query parameter 'owner' must be a user name.");
                strcpy(r->owner, value);
        } else {
                if (parse_uint64(value, &v) < 0 || v == 0 || v > UINT32_MAX)
                        return http_error_set(e, 400, "bad-request", "Query parameter 'last' must be a number of "
                                              "jobs.");
                r->last = (uint32_t) v;
        }
        return 0;
}

/* since is the list's filter (UNIX seconds) on /v1/jobs and a time of the output (RFC 3339 too) on output. */
static int http_query_since(const char *key, const char *value, HttpRoute *r, HttpError *e) {
        return r->id == HTTP_ROUTE_JOB_OUTPUT ? http_query_output(key, value, r, e) :
                                                 http_query_list_filter(key, value, r, e);
}

/* Every query parameter any route takes, and its parser; a route's row says which it takes. */
static const struct {
        const char *name;
        int (*parse)(const char *key, const char *value, HttpRoute *r, HttpError *e);
} http_query_params[] = {
        { "wait", http_query_bool },
        { "follow", http_query_bool },
        { "offset", http_query_offset },
        { "cursor", http_query_cursor },
        { "limit", http_query_limit },
        { "state", http_query_list_filter },
        { "since", http_query_since },
        { "owner", http_query_list_filter },
        { "last", http_query_list_filter },
        { "time", http_query_time },
        { "signal", http_query_signal },
        { "stream", http_query_output },
        { "until", http_query_output },
        { "tail", http_query_output },
        { "framed", http_query_output },
        { "timestamps", http_query_output },
        { "rows", http_query_size },
        { "cols", http_query_size },
};

static int http_query_index(const HttpRouteDef *d, const char *key) {
        for (size_t i = 0; i < HTTP_ROUTE_QUERY_MAX && d->query[i]; i++)
                if (streq(d->query[i], key))
                        return (int) i;
        return -ENOENT;
}

static int http_route_query(const HttpRouteDef *d, HttpRoute *r, const char *query, HttpError *e) {
        bool seen[HTTP_ROUTE_QUERY_MAX] = {};
        char key[32], value[64];
        const char *p = query;
        int k, i;

        while ((k = http_query_next(&p, key, sizeof(key), value, sizeof(value))) > 0) {
                i = http_query_index(d, key);
                if (i < 0) {
                        _cleanup_(freep) char *k_esc = str_escape(key, 31);

                        return http_error_set(e, 400, "bad-request", "Unknown query parameter '%s'.",
                                              k_esc ?: "?");
                }
                if (seen[i])
                        return http_error_set(e, 400, "bad-request", "Query parameter '%s' given twice.", key);
                seen[i] = true;
                for (size_t q = 0; q < ELEMENTSOF(http_query_params); q++)
                        if (streq(http_query_params[q].name, key) &&
                            http_query_params[q].parse(key, value, r, e) < 0)
                                return -EINVAL;
        }
        if (k < 0)
                return http_error_set(e, 400, "bad-request", "Malformed query string.");
        return 0;
}

/* ---- paths ---------------------------------------------------------------------------------------------- */

typedef enum HttpPathMatch {
        HTTP_PATH_NO,
        HTTP_PATH_YES,
        HTTP_PATH_BAD_ID,    /* the shape matches, the {id} segment is too long to be an id */
} HttpPathMatch;

/* Matches path against a pattern; "{id}" takes one non-empty segment, copied to job_id when it fits. */
static HttpPathMatch http_path_match(const char *pattern, const char *path, char job_id[static JOB_ID_STRING_MAX]) {
        bool bad = false;

        while (*pattern && *path) {
                if (strncmp(pattern, "{id}", 4) == 0) {
                        size_t n = strcspn(path, "/");

                        if (n == 0)
                                return HTTP_PATH_NO;
                        if (n >= JOB_ID_STRING_MAX)
                                bad = true;
                        else {
                                memcpy(job_id, path, n);
                                job_id[n] = 0;
                        }
                        pattern += 4;
                        path += n;
                        continue;
                }
                if (*pattern != *path)
                        return HTTP_PATH_NO;
                pattern++;
                path++;
        }
        if (*pattern || *path)
                return HTTP_PATH_NO;
        return bad ? HTTP_PATH_BAD_ID : HTTP_PATH_YES;
}

/* 405 for a path that exists with other methods: Allow lists them. The strings are static: one per path. */
static int http_route_not_allowed(const char *pattern, HttpError *e) {
        static char allow[ELEMENTSOF(http_routes)][64];
        size_t slot = 0, n = 0;

        for (size_t i = 0; i < ELEMENTSOF(http_routes); i++)
                if (streq(http_routes[i].path, pattern)) {
                        slot = i;
                        break;
                }
        allow[slot][0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(http_routes) && n < sizeof(allow[slot]); i++)
                if (streq(http_routes[i].path, pattern))
                        n += (size_t) snprintf(allow[slot] + n, sizeof(allow[slot]) - n, "%s%s", n > 0 ? ", " : "",
                                               http_method_str(http_routes[i].method));
        http_error_set(e, 405, "method-not-allowed", "Use %s on %s.", allow[slot], pattern);
        e->allow = allow[slot];
        return -EINVAL;
}

int http_route(enum http_method method, const char *url, size_t url_size, HttpRoute *ret, HttpError *e) {
        struct http_parser_url u;
        char path[128], query[512] = "";
        const HttpRouteDef *found = NULL, *other = NULL;
        bool bad_id = false;
        HttpRoute r = {};
        size_t n;

        http_parser_url_init(&u);
        if (url_size == 0 || url[0] != '/' || http_parser_parse_url(url, url_size, 0, &u) != 0 ||
            !(u.field_set & (1 << UF_PATH)))
                return http_error_set(e, 400, "bad-request", "Malformed request target.");
        if (u.field_set & ((1 << UF_SCHEMA) | (1 << UF_HOST) | (1 << UF_USERINFO)))
                return http_error_set(e, 400, "bad-request", "Only origin-form request targets are accepted.");

        n = u.field_data[UF_PATH].len;
        if (n >= sizeof(path))
                return http_error_set(e, 404, "not-found", "No such resource.");
        memcpy(path, url + u.field_data[UF_PATH].off, n);
        path[n] = 0;
        if (u.field_set & (1 << UF_QUERY)) {
                n = u.field_data[UF_QUERY].len;
                if (n >= sizeof(query))
                        return http_error_set(e, 400, "bad-request", "The query string is too long.");
                memcpy(query, url + u.field_data[UF_QUERY].off, n);
                query[n] = 0;
        }

        for (size_t i = 0; i < ELEMENTSOF(http_routes) && !found; i++) {
                HttpPathMatch m = http_path_match(http_routes[i].path, path, r.job_id);

                if (m == HTTP_PATH_NO)
                        continue;
                bad_id = m == HTTP_PATH_BAD_ID;
                if (http_routes[i].method == method)
                        found = &http_routes[i];
                else if (!other)
                        other = &http_routes[i];
        }
        if (!found && !other)
                return http_error_set(e, 404, "not-found", "No such resource.");
        if (!found)
                return http_route_not_allowed(other->path, e);
        /* The path is right; a malformed id is the client's mistake, not a missing resource. */
        if (strstr(found->path, "{id}") && (bad_id || !job_ref_is_valid(r.job_id)))
                return http_error_set(e, 400, "invalid-job-id", "Malformed job id: a whole id, at least its first %d "
                                      "hex digits, or a job name.", JOB_REF_PREFIX_MIN);

        r.id = found->id;
        r.signal = SIGTERM;             /* kill without ?signal= */
        r.stop_usec = UINT64_MAX;       /* stop without ?time= */
        if (http_route_query(found, &r, query, e) < 0)
                return -EINVAL;
        if (r.id == HTTP_ROUTE_JOB_RESIZE && (r.rows == 0 || r.cols == 0))
                return http_error_set(e, 400, "bad-request", "A resize needs the query parameters rows and cols.");
        *ret = r;
        return 0;
}
