/* SPDX-License-Identifier: MIT */
/* test-openapi - docs/openapi.yaml (as JSON, converted at build time) and the gateway's route table
 * (src/gateway/http-routes.c) describe the same API: every route, method, query parameter and status of
 * one is in the other. A failure lists each difference on its own line, saying which side lacks what. */
#include <glib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "gateway/http.h"
#include "shared/macro.h"

#define JOB "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10"

static json_object *load_doc(void) {
        json_object *doc = json_object_from_file(TEST_OPENAPI_JSON);

        g_assert_nonnull(doc);
        return doc;
}

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;

        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* A parameter, its "$ref" to #/components/parameters/ followed. */
static json_object *resolve_parameter(json_object *doc, json_object *p) {
        json_object *ref = get(p, "$ref");
        const char *prefix = "#/components/parameters/";

        if (!ref)
                return p;
        if (!g_str_has_prefix(json_object_get_string(ref), prefix))
                return NULL;
        return get(get(get(doc, "components"), "parameters"), json_object_get_string(ref) + strlen(prefix));
}

static bool parameters_have(json_object *doc, json_object *params, const char *name) {
        size_t n = params ? json_object_array_length(params) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *p = resolve_parameter(doc, json_object_array_get_idx(params, i));

                if (p && g_strcmp0(json_object_get_string(get(p, "in")), "query") == 0 &&
                    g_strcmp0(json_object_get_string(get(p, "name")), name) == 0)
                        return true;
        }
        return false;
}

static bool row_has_query(const HttpRouteDef *d, const char *name) {
        for (size_t i = 0; i < HTTP_ROUTE_QUERY_MAX && d->query[i]; i++)
                if (g_strcmp0(d->query[i], name) == 0)
                        return true;
        return false;
}

static bool row_has_status(const HttpRouteDef *d, unsigned status) {
        for (size_t i = 0; i < HTTP_ROUTE_STATUS_MAX && d->statuses[i]; i++)
                if (d->statuses[i] == status)
                        return true;
        return false;
}

static const HttpRouteDef *table_find(const char *method, const char *path) {
        size_t n;
        const HttpRouteDef *t = http_route_table(&n);

        for (size_t i = 0; i < n; i++)
                if (strcasecmp(http_method_str(t[i].method), method) == 0 && g_strcmp0(t[i].path, path) == 0)
                        return &t[i];
        return NULL;
}

/* The router's side: each row in the document, with its query parameters and statuses. */
static void check_table_in_doc(json_object *doc, GString *diff) {
        json_object *paths = get(doc, "paths");
        size_t n;
        const HttpRouteDef *t = http_route_table(&n);

        for (size_t i = 0; i < n; i++) {
                const char *m = http_method_str(t[i].method);
                g_autofree char *lower = g_ascii_strdown(m, -1);
                json_object *path = get(paths, t[i].path), *op = get(path, lower), *responses = get(op, "responses");

                if (!op) {
                        g_string_append_printf(diff, "docs/openapi.yaml lacks the operation %s %s\n", m, t[i].path);
                        continue;
                }
                for (size_t q = 0; q < HTTP_ROUTE_QUERY_MAX && t[i].query[q]; q++)
                        if (!parameters_have(doc, get(op, "parameters"), t[i].query[q]) &&
                            !parameters_have(doc, get(path, "parameters"), t[i].query[q]))
                                g_string_append_printf(diff, "docs/openapi.yaml: %s %s lacks the query parameter "
                                                       "'%s'\n", m, t[i].path, t[i].query[q]);
                for (size_t s = 0; s < HTTP_ROUTE_STATUS_MAX && t[i].statuses[s]; s++) {
                        char key[8];

                        g_snprintf(key, sizeof(key), "%u", t[i].statuses[s]);
                        if (!get(responses, key))
                                g_string_append_printf(diff, "docs/openapi.yaml: %s %s lacks the response %s\n", m,
                                                       t[i].path, key);
                }
        }
}

static void check_op_in_table(json_object *doc, const char *path, json_object *params_path, const char *method,
                              json_object *op, GString *diff) {
        g_autofree char *upper = g_ascii_strup(method, -1);
        const HttpRouteDef *d = table_find(upper, path);
        json_object *params = get(op, "parameters");

        if (!d) {
                g_string_append_printf(diff, "src/gateway/http-routes.c lacks the route %s %s\n", upper, path);
                return;
        }
        for (int k = 0; k < 2; k++) {
                json_object *l = k == 0 ? params : params_path;
                size_t n = l ? json_object_array_length(l) : 0;

                for (size_t i = 0; i < n; i++) {
                        json_object *p = resolve_parameter(doc, json_object_array_get_idx(l, i));
                        const char *name = json_object_get_string(get(p, "name"));

                        if (!p) {
                                g_string_append_printf(diff, "docs/openapi.yaml: %s %s: a $ref that does not "
                                                       "resolve\n", upper, path);
                                continue;
                        }
                        if (g_strcmp0(json_object_get_string(get(p, "in")), "query") == 0 && !row_has_query(d, name))
                                g_string_append_printf(diff, "src/gateway/http-routes.c: %s %s does not take the "
                                                       "query parameter '%s'\n", upper, path, name);
                }
        }
        json_object_object_foreach(get(op, "responses"), status, v) {
                (void) v;
                if (!row_has_status(d, (unsigned) g_ascii_strtoull(status, NULL, 10)))
                        g_string_append_printf(diff, "src/gateway/http-routes.c: %s %s never answers %s\n", upper,
                                               path, status);
        }
}

/* The document's side: each operation a row of the table. */
static void check_doc_in_table(json_object *doc, GString *diff) {
        static const char *const methods[] = { "get", "put", "post", "delete", "options", "head", "patch", "trace" };

        json_object_object_foreach(get(doc, "paths"), path, item) {
                for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                        json_object *op = get(item, methods[i]);

                        if (op)
                                check_op_in_table(doc, path, get(item, "parameters"), methods[i], op, diff);
                }
        }
}

static void test_doc_matches_router(void) {
        json_object *doc = load_doc();
        g_autoptr(GString) diff = g_string_new(NULL);

        g_assert_cmpstr(json_object_get_string(get(doc, "openapi")), ==, "3.0.3");
        check_table_in_doc(doc, diff);
        check_doc_in_table(doc, diff);
        if (diff->len > 0) {
                g_test_message("docs/openapi.yaml and the router disagree:\n%s", diff->str);
                g_printerr("docs/openapi.yaml and the router disagree:\n%s", diff->str);
        }
        g_assert_cmpuint(diff->len, ==, 0);
        json_object_put(doc);
}

/* The table is what the router uses: each row routes to its id, each of its query parameters is known. */
static void test_table_is_the_router(void) {
        size_t n;
        const HttpRouteDef *t = http_route_table(&n);

        g_assert_cmpuint(n, >, 0);
        for (size_t i = 0; i < n; i++) {
                g_autoptr(GString) url = g_string_new(t[i].path);
                HttpRoute r = {};
                HttpError e = {};

                g_string_replace(url, "{id}", JOB, 0);
                if (http_route(t[i].method, url->str, url->len, &r, &e) < 0) {
                        /* A route with required parameters (resize's rows and cols): 400 without them, routed
                         * with all of them. */
                        g_autoptr(GString) full = g_string_new(url->str);

                        g_assert_cmpuint(e.status, ==, 400);
                        g_assert_nonnull(strstr(e.message, "needs"));
                        for (size_t q = 0; q < HTTP_ROUTE_QUERY_MAX && t[i].query[q]; q++)
                                g_string_append_printf(full, "%c%s=1", q == 0 ? '?' : '&', t[i].query[q]);
                        e = (HttpError) {};
                        g_assert_cmpint(http_route(t[i].method, full->str, full->len, &r, &e), ==, 0);
                }
                g_assert_cmpint(r.id, ==, t[i].id);
                g_assert_nonnull(http_route_to_string(t[i].id));
                for (size_t q = 0; q < HTTP_ROUTE_QUERY_MAX && t[i].query[q]; q++) {
                        g_autofree char *u = g_strdup_printf("%s?%s=%%00", url->str, t[i].query[q]);

                        /* A bad value of a known parameter: 400, but not "unknown". */
                        g_assert_cmpint(http_route(t[i].method, u, strlen(u), &r, &e), <, 0);
                        g_assert_null(strstr(e.message, "Unknown"));
                }
                g_autofree char *u = g_strdup_printf("%s?nosuchparameter=1", url->str);
                g_assert_cmpint(http_route(t[i].method, u, strlen(u), &r, &e), <, 0);
                g_assert_nonnull(strstr(e.message, "Unknown"));
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/openapi/doc-matches-router", test_doc_matches_router);
        g_test_add_func("/openapi/table-is-the-router", test_table_is_the_router);
        return g_test_run();
}
