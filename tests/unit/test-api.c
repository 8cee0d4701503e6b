/* SPDX-License-Identifier: MIT */
/* test-api - the API's one error table (src/shared/api.c): consistent in itself, the same class whichever
 * transport a telerun hears an error through, and every name and code documented. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "shared/api.h"
#include "shared/macro.h"

static const ApiError *table(unsigned *n) {
        const ApiError *t = api_error_table(n);

        g_assert_cmpuint(*n, >, 0);
        return t;
}

/* Every entry is whole, and a lookup by its name finds it (no earlier entry shadows it). */
static void test_table_entries(void) {
        unsigned n;
        const ApiError *t = table(&n);

        for (unsigned i = 0; i < n; i++) {
                const ApiError *e = &t[i];

                g_assert_nonnull(e->name);
                g_assert_cmpint(e->errno_value, >, 0);
                g_assert_cmpuint(e->http_status, >=, 400);
                g_assert_cmpuint(e->http_status, <=, 599);
                g_assert_nonnull(e->http_code);
                g_assert_cmpuint(strlen(e->http_code), >, 0);
                g_assert_cmpint(e->cli_class, >=, 0);
                g_assert_cmpint(e->cli_class, <, _API_ERROR_CLASS_MAX);
                if (!g_str_has_suffix(e->name, "."))
                        g_assert_true(api_error_from_name(e->name) == e);
        }
        g_assert_null(api_error_from_name(NULL));
        g_assert_null(api_error_from_name("org.freedesktop.DBus.Error.UnknownMethod"));
        g_assert_null(api_error_from_name(TW_ERROR_PREFIX));
        g_assert_null(api_error_from_name(TW_ERROR_PREFIX "NoSuchJobs"));
}

/* The names the daemon sets are each in the table, with the classes docs/cli.md promises. */
static void test_names(void) {
        static const struct {
                const char *name;
                unsigned status;
                ApiErrorClass class;
        } cases[] = {
                { TW_ERROR_NO_SUCH_JOB, 404, API_ERROR_CLASS_NOT_FOUND },
                { TW_ERROR_NO_OUTPUT, 404, API_ERROR_CLASS_NOT_FOUND },
                { TW_ERROR_EXECUTABLE_NOT_FOUND, 400, API_ERROR_CLASS_INVALID },
                { TW_ERROR_LIMIT_EXCEEDED, 400, API_ERROR_CLASS_INVALID },
                { TW_ERROR_INVALID_ARGS, 400, API_ERROR_CLASS_INVALID },
                { TW_ERROR_ACCESS_DENIED, 403, API_ERROR_CLASS_ACCESS_DENIED },
                { TW_ERROR_START_FAILED, 500, API_ERROR_CLASS_OTHER },
                { TW_ERROR_STOP_FAILED, 500, API_ERROR_CLASS_OTHER },
                { TW_ERROR_TOO_MANY_JOBS, 429, API_ERROR_CLASS_OTHER },
                { TW_ERROR_TOO_MANY_READERS, 429, API_ERROR_CLASS_OTHER },
                { TW_ERROR_SHUTTING_DOWN, 503, API_ERROR_CLASS_UNREACHABLE },
                { TW_ERROR_LIMITS_EXCEEDED, 503, API_ERROR_CLASS_UNREACHABLE },
                { "org.freedesktop.DBus.Error.ServiceUnknown", 503, API_ERROR_CLASS_UNREACHABLE },
                { "org.freedesktop.DBus.Error.Spawn.ChildExited", 503, API_ERROR_CLASS_UNREACHABLE },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                const ApiError *e = api_error_from_name(cases[i].name);

                g_assert_nonnull(e);
                g_assert_cmpuint(e->http_status, ==, cases[i].status);
                g_assert_cmpint(e->cli_class, ==, cases[i].class);
        }
}

/* A remote telerun sees only the gateway's status and code: it must land in the class a local telerun
 * gets from the D-Bus name itself, for every entry (LimitExceeded once was "invalid" at one and "other" at
 * the other). Entries that share a code must therefore share status and class. */
static void test_transports_agree(void) {
        unsigned n;
        const ApiError *t = table(&n);

        for (unsigned i = 0; i < n; i++) {
                const ApiError *by_code = api_error_from_http_code(t[i].http_code);
                int r = 0;

                g_assert_nonnull(by_code);
                g_assert_cmpuint(by_code->http_status, ==, t[i].http_status);
                g_assert_cmpint(by_code->cli_class, ==, t[i].cli_class);
                g_assert_cmpint(api_error_class_from_http(t[i].http_status, t[i].http_code, &r), ==, t[i].cli_class);
                g_assert_cmpint(r, ==, -by_code->errno_value);
        }
}

/* Codes the table does not know (the gateway's own), or a known code with another status: by status. */
static void test_http_fallback(void) {
        static const struct {
                unsigned status;
                const char *code;
                ApiErrorClass class;
                int r;
        } cases[] = {
                { 400, "bad-request", API_ERROR_CLASS_INVALID, -EINVAL },
                { 400, NULL, API_ERROR_CLASS_INVALID, -EINVAL },
                { 413, "body-too-large", API_ERROR_CLASS_INVALID, -EINVAL },
                { 401, NULL, API_ERROR_CLASS_ACCESS_DENIED, -EACCES },
                { 403, "whatever", API_ERROR_CLASS_ACCESS_DENIED, -EACCES },
                { 404, "not-found", API_ERROR_CLASS_NOT_FOUND, -ENOENT },
                { 429, "too-many-requests", API_ERROR_CLASS_OTHER, -EIO },
                { 429, "too-many-jobs", API_ERROR_CLASS_OTHER, -EUSERS },
                { 500, "internal-error", API_ERROR_CLASS_OTHER, -EIO },
                { 500, "no-such-job", API_ERROR_CLASS_OTHER, -EIO },
                { 502, NULL, API_ERROR_CLASS_UNREACHABLE, -EHOSTUNREACH },
                { 503, "daemon-unavailable", API_ERROR_CLASS_UNREACHABLE, -EHOSTUNREACH },
                { 504, NULL, API_ERROR_CLASS_UNREACHABLE, -EHOSTUNREACH },
                { 505, "http-version-not-supported", API_ERROR_CLASS_OTHER, -EIO },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                int r = 0;

                g_assert_cmpint(api_error_class_from_http(cases[i].status, cases[i].code, &r), ==, cases[i].class);
                g_assert_cmpint(r, ==, cases[i].r);
        }
}

static void test_unreachable(void) {
        g_assert_true(api_errno_is_unreachable(-ENOTCONN));
        g_assert_true(api_errno_is_unreachable(-ECONNREFUSED));
        g_assert_true(api_errno_is_unreachable(-ENOENT));
        g_assert_false(api_errno_is_unreachable(-ENOMEM));
        g_assert_false(api_errno_is_unreachable(-EIO));
        g_assert_false(api_errno_is_unreachable(0));
}

static char *read_doc(const char *name) {
        g_autofree char *path = g_build_filename(TEST_SOURCE_ROOT, "docs", name, NULL);
        char *text = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        return text;
}

/* Every error name is in docs/dbus.md's table, every code in docs/http.md's with its status. */
static void test_documented(void) {
        g_autofree char *dbus = read_doc("dbus.md"), *http = read_doc("http.md");
        unsigned n;
        const ApiError *t = table(&n);

        for (unsigned i = 0; i < n; i++) {
                g_autofree char *name = NULL, *row = NULL;

                name = g_strdup_printf("`%s", t[i].name);
                if (!strstr(dbus, name) && !strstr(http, name))
                        g_error("%s is not documented in docs/dbus.md", t[i].name);
                row = g_strdup_printf("| %u | `%s` |", t[i].http_status, t[i].http_code);
                if (!strstr(http, row))
                        g_error("docs/http.md has no row \"%s\"", row);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/api/table/entries", test_table_entries);
        g_test_add_func("/api/table/names", test_names);
        g_test_add_func("/api/transports-agree", test_transports_agree);
        g_test_add_func("/api/http-fallback", test_http_fallback);
        g_test_add_func("/api/unreachable", test_unreachable);
        g_test_add_func("/api/documented", test_documented);
        return g_test_run();
}
