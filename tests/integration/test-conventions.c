/* SPDX-License-Identifier: MIT */
/* test-conventions - issue 16's conventions on the real daemon and gateway: named remotes (telerun remote
 * add/use/ls/rm, --remote) against a real teleworker-gateway, and the job object's keys in docs/cli.md's
 * table and docs/http.md's example against real `telerun status --json` and `GET /v1/jobs/{id}` output. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb-client.h"
#include "tb-gateway.h"
#include "test-client.h"

#define GW_UNIT "teleworker-gateway-conventions.service"
#define GW_PORT 18461

static char *build_dir, *source_dir, *config_home;
static TbGateway gateway;

typedef struct Out {
        char *out, *err;
        int status;
} Out;

static void out_clear(Out *o) {
        g_free(o->out);
        g_free(o->err);
}

/* telerun ARGS... as root with XDG_CONFIG_HOME=config_home; NULL-terminated. */
static Out telerun(const char *first, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_auto(GStrv) env = g_get_environ();
        g_autoptr(GError) error = NULL;
        Out o = {};
        va_list ap;
        int ws;

        g_ptr_array_add(argv, g_build_filename(build_dir, "cli", "telerun", NULL));
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(argv, g_strdup(a));
        va_end(ap);
        g_ptr_array_add(argv, NULL);
        env = g_environ_setenv(env, "XDG_CONFIG_HOME", config_home, true);
        env = g_environ_unsetenv(env, "TELERUN_ADDR");
        env = g_environ_unsetenv(env, "TELERUN_REMOTE");
        g_assert_true(g_spawn_sync("/", (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, &o.out, &o.err, &ws,
                                   &error));
        g_assert_true(WIFEXITED(ws));
        o.status = WEXITSTATUS(ws);
        g_test_message("telerun %s ... -> %d\nstdout: %s\nstderr: %s", first, o.status, o.out, o.err);
        return o;
}

/* The owners of the jobs `telerun [ARGS] list --json` shows. */
static bool list_has_owner(const char *remote, const char *owner) {
        Out o = remote ? telerun("--remote", remote, "list", "-a", "--json", NULL) : telerun("list", "-a", "--json", NULL);
        json_object *a = json_tokener_parse(o.out);
        bool found = false;

        g_assert_cmpint(o.status, ==, 0);
        g_assert_nonnull(a);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *v;
                if (json_object_object_get_ex(json_object_array_get_idx(a, i), "owner", &v) &&
                    g_str_equal(json_object_get_string(v), owner))
                        found = true;
        }
        json_object_put(a);
        out_clear(&o);
        return found;
}

static void test_named_remotes(void) {
        g_autofree char *addr = g_strdup_printf("127.0.0.1:%d", GW_PORT), *crt = test_cert_path("alice.crt"),
                        *key = test_cert_path("alice.key"), *ca = test_cert_path("ca.crt"), *file = NULL;
        struct stat st;
        Out o;

        /* add: stored with mode 0600, --cacert kept */
        o = telerun("remote", "add", "gw", "--addr", addr, "--cert", crt, "--key", key, "--cacert", ca, NULL);
        g_assert_cmpint(o.status, ==, 0);
        out_clear(&o);
        file = g_build_filename(config_home, "telerun", "remotes", NULL);
        g_assert_cmpint(stat(file, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 07777, ==, 0600);
        o = telerun("remote", "add", "gw", "--addr", addr, "--cert", crt, "--key", key, NULL);
        g_assert_cmpint(o.status, ==, 2); /* exists */
        out_clear(&o);

        /* --remote NAME: no --cert/--key/--cacert needed; the job runs as alice through the gateway */
        o = telerun("--remote", "gw", "run", "--", "/bin/sh", "-c", "echo via remote; exit 3", NULL);
        g_assert_cmpstr(o.out, ==, "via remote\n");
        g_assert_cmpint(o.status, ==, 3);
        out_clear(&o);
        g_assert_true(list_has_owner("gw", "alice"));

        /* use: the default of every command; ls marks it; --remote local is the bus again */
        o = telerun("remote", "use", "gw", NULL);
        g_assert_cmpint(o.status, ==, 0);
        out_clear(&o);
        o = telerun("remote", "ls", NULL);
        g_assert_nonnull(strstr(o.out, "gw"));
        g_assert_true(g_regex_match_simple("^gw +\\* +127\\.0\\.0\\.1:18461$", o.out, G_REGEX_MULTILINE, 0));
        out_clear(&o);
        o = telerun("remote", "ls", "-q", NULL);
        g_assert_cmpstr(o.out, ==, "gw\n");
        out_clear(&o);
        /* --json: local first, then gw, current, with the absolute paths stored */
        o = telerun("remote", "ls", "--json", NULL);
        g_assert_cmpint(o.status, ==, 0);
        {
                json_object *all = json_tokener_parse(o.out), *x, *v;
                g_assert_nonnull(all);
                g_assert_cmpuint(json_object_array_length(all), ==, 2);
                x = json_object_array_get_idx(all, 0);
                g_assert_true(json_object_object_get_ex(x, "name", &v));
                g_assert_cmpstr(json_object_get_string(v), ==, "local");
                g_assert_true(json_object_object_get_ex(x, "current", &v));
                g_assert_false(json_object_get_boolean(v));
                g_assert_true(json_object_object_get_ex(x, "addr", &v));
                g_assert_null(v);
                x = json_object_array_get_idx(all, 1);
                g_assert_true(json_object_object_get_ex(x, "name", &v));
                g_assert_cmpstr(json_object_get_string(v), ==, "gw");
                g_assert_true(json_object_object_get_ex(x, "current", &v));
                g_assert_true(json_object_get_boolean(v));
                g_assert_true(json_object_object_get_ex(x, "addr", &v));
                g_assert_cmpstr(json_object_get_string(v), ==, addr);
                g_assert_true(json_object_object_get_ex(x, "cacert", &v));
                g_autofree char *ca_abs = realpath(ca, NULL);   /* stored as an absolute path */
                g_assert_cmpstr(json_object_get_string(v), ==, ca_abs);
                json_object_put(all);
        }
        out_clear(&o);
        o = telerun("start", "--", "/bin/true", NULL); /* through the gateway: alice's job */
        g_assert_cmpint(o.status, ==, 0);
        {
                g_autofree char *id = g_strstrip(g_strdup(o.out));
                Out s = telerun("--remote", "local", "status", "--json", id, NULL);
                json_object *j = json_tokener_parse(s.out), *v;
                g_assert_cmpint(s.status, ==, 0);
                g_assert_true(json_object_object_get_ex(j, "owner", &v));
                g_assert_cmpstr(json_object_get_string(v), ==, "alice");
                json_object_put(j);
                out_clear(&s);
        }
        out_clear(&o);
        /* the remote is alice's view: root's own jobs are not in it, but they are locally */
        g_assert_true(list_has_owner(NULL, "alice"));
        g_assert_false(list_has_owner(NULL, "root"));
        g_assert_true(list_has_owner("local", "alice")); /* root sees every job locally, alice's too */

        /* the command line's --cacert wins over the stored one: a wrong CA fails the handshake */
        o = telerun("--cacert", crt, "list", NULL);
        g_assert_cmpint(o.status, !=, 0);
        out_clear(&o);
        /* unknown names; --remote with --addr */
        o = telerun("--remote", "nope", "list", NULL);
        g_assert_cmpint(o.status, ==, 2);
        g_assert_nonnull(strstr(o.err, "no remote named 'nope'"));
        out_clear(&o);
        o = telerun("--remote", "gw", "--addr", addr, "list", NULL);
        g_assert_cmpint(o.status, ==, 2);
        out_clear(&o);

        /* use local, rm: back to the bus */
        o = telerun("remote", "rm", "gw", NULL);
        g_assert_cmpint(o.status, ==, 0);
        out_clear(&o);
        o = telerun("remote", "ls", "-q", NULL);
        g_assert_cmpstr(o.out, ==, "");
        out_clear(&o);
        o = telerun("remote", "rm", "gw", NULL);
        g_assert_cmpint(o.status, ==, 3);
        out_clear(&o);
        o = telerun("list", "--quiet", NULL);
        g_assert_cmpint(o.status, ==, 0); /* local again: root sees every job */
        out_clear(&o);
}

/* A JSON object's keys, depth first, nested ones as "parent.key", in document order. */
static void flatten(json_object *o, const char *prefix, GPtrArray *keys) {
        json_object_object_foreach(o, k, v) {
                g_autofree char *name = prefix ? g_strdup_printf("%s.%s", prefix, k) : g_strdup(k);
                g_ptr_array_add(keys, g_strdup(name));
                if (json_object_is_type(v, json_type_object))
                        flatten(v, name, keys);
        }
}

static char *join(GPtrArray *a) {
        g_ptr_array_add(a, NULL);
        char *s = g_strjoinv(" ", (char **) a->pdata);
        g_ptr_array_remove_index(a, a->len - 1);
        return s;
}

/* Not inlined: gcc 12 at -O3 then takes the pointers into the returned text for pointers to read_doc()'s
 * local variable (-Wdangling-pointer, a false positive that the release build turns into an error). */
__attribute__((noinline)) static char *read_doc(const char *name) {
        g_autofree char *path = g_build_filename(source_dir, "docs", name, NULL);
        char *text = NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        return text;
}

/* docs/cli.md: the first column's `key`s of the table after "Every key is always present", in order. */
static GPtrArray *cli_md_keys(void) {
        g_autofree char *text = read_doc("cli.md");
        GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
        const char *p = strstr(text, "Every key is always present");
        g_auto(GStrv) lines = NULL;
        bool table = false;

        g_assert_nonnull(p);
        lines = g_strsplit(p, "\n", -1);
        for (char **l = lines + 1; *l; l++) {
                g_auto(GStrv) cells = NULL;
                if (!g_str_has_prefix(*l, "|")) {
                        if (table)
                                break;
                        continue;
                }
                table = true;
                cells = g_strsplit(*l, "|", 3);
                /* `a`, `b`: each backquoted name of the first cell */
                for (const char *c = strchr(cells[1], '`'); c; c = strchr(c, '`')) {
                        const char *e = strchr(c + 1, '`');
                        if (!e)
                                break;
                        g_ptr_array_add(keys, g_strndup(c + 1, (size_t) (e - c - 1)));
                        c = e + 1;
                }
        }
        return keys;
}

/* docs/http.md: the job object of the first ```json block after "Job objects are exactly". */
static json_object *http_md_example(void) {
        g_autofree char *text = read_doc("http.md");
        const char *p = strstr(text, "Job objects are exactly"), *s, *e;
        g_autofree char *json = NULL;

        g_assert_nonnull(p);
        s = strstr(p, "```json\n");
        g_assert_nonnull(s);
        s += strlen("```json\n");
        e = strstr(s, "```");
        g_assert_nonnull(e);
        json = g_strndup(s, (size_t) (e - s));
        return json_tokener_parse(json);
}

static void test_docs_json_keys(void) {
        g_autoptr(GPtrArray) real_keys = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) http_keys = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) example_keys = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) doc_keys = cli_md_keys();
        g_autofree char *id = NULL, *target = NULL, *crt = test_cert_path("alice.crt"), *key = test_cert_path("alice.key"),
                        *ca = test_cert_path("ca.crt");
        g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        json_object *job, *example, *remote_job;
        TestClient cl;
        TestResponse r;
        Out o;

        /* a job that has ended: every key there is has its final value (output_error null, reason set) */
        o = telerun("--remote", "local", "start", "--", "/bin/sh", "-c", "echo x", NULL);
        g_assert_cmpint(o.status, ==, 0);
        id = g_strstrip(g_strdup(o.out));
        out_clear(&o);
        o = telerun("--remote", "local", "wait", id, NULL);
        out_clear(&o);
        o = telerun("--remote", "local", "status", "--json", id, NULL);
        g_assert_cmpint(o.status, ==, 0);
        job = json_tokener_parse(o.out);
        g_assert_nonnull(job);
        out_clear(&o);
        flatten(job, NULL, real_keys);
        a = join(real_keys);
        b = join(doc_keys);
        g_test_message("telerun status --json: %s\ndocs/cli.md: %s", a, b);
        g_assert_cmpstr(b, ==, a);

        /* the gateway's GET /v1/jobs/{id} (alice's job) and docs/http.md's example */
        o = telerun("--addr", "127.0.0.1:18461", "--cert", crt, "--key", key, "--cacert", ca,
                    "run", "--", "/bin/echo", "hello", NULL);
        g_assert_cmpint(o.status, ==, 0);
        out_clear(&o);
        o = telerun("--addr", "127.0.0.1:18461", "--cert", crt, "--key", key, "--cacert", ca,
                    "list", "-a", "--quiet", NULL);
        g_assert_cmpint(o.status, ==, 0);
        {
                g_auto(GStrv) ids = g_strsplit(g_strstrip(o.out), "\n", -1);
                target = g_strdup_printf("/v1/jobs/%s", ids[g_strv_length(ids) - 1]);
        }
        out_clear(&o);
        g_assert_cmpint(test_client_connect(&cl, GW_PORT, crt, key, 0), ==, 1);
        g_assert_cmpint(test_client_call(&cl, "GET", target, NULL, &r, 60000), ==, 0);
        g_assert_cmpuint(r.status, ==, 200);
        remote_job = json_tokener_parse(r.body->str);
        g_assert_nonnull(remote_job);
        flatten(remote_job, NULL, http_keys);
        example = http_md_example();
        g_assert_nonnull(example);
        flatten(example, NULL, example_keys);
        c = join(http_keys);
        d = join(example_keys);
        g_test_message("GET %s: %s\ndocs/http.md: %s", target, c, d);
        g_assert_cmpstr(d, ==, c);
        g_assert_cmpstr(c, ==, a); /* one job object for both */
        test_response_done(&r);
        test_client_close(&cl);
        json_object_put(job);
        json_object_put(remote_job);
        json_object_put(example);
}

int main(int argc, char **argv) {
        sd_bus *bus;
        int r;

        g_test_init(&argc, &argv, NULL);
        bus = tb_bus_as(0);
        if (!tb_daemon_present(bus))
                return 77;
        sd_bus_unref(bus);
        build_dir = g_strdup(getenv("TELEWORKER_TEST_BUILD_DIR"));
        source_dir = g_strdup(getenv("TELEWORKER_TEST_SOURCE_DIR"));
        g_assert_nonnull(build_dir);
        g_assert_nonnull(source_dir);
        config_home = g_dir_make_tmp("test-conventions-XXXXXX", NULL);
        g_assert_nonnull(config_home);

        (void) test_certs_dir();
        tb_gateway_start(&gateway, build_dir, GW_UNIT, GW_PORT, NULL, NULL);

        g_test_add_func("/conventions/named-remotes", test_named_remotes);
        g_test_add_func("/conventions/docs-json-keys", test_docs_json_keys);
        r = g_test_run();

        tb_gateway_stop(&gateway);
        test_certs_cleanup();
        test_rm_rf(config_home);
        g_free(config_home);
        g_free(build_dir);
        g_free(source_dir);
        return r;
}
