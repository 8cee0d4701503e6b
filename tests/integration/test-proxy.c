/* SPDX-License-Identifier: MIT */
/* test-proxy - telerun's remote client on libcurl (issue 16) against a real teleworker-gateway and daemon:
 * through a real CONNECT proxy (tinyproxy, started here with its own configuration and log) from HTTPS_PROXY
 * and https_proxy, bypassed for NO_PROXY, a clear error for an unreachable proxy; an encrypted client key with
 * TELERUN_KEY_PASSPHRASE, and clear errors without it or with a wrong one; a `run` after the gateway
 * closed the kept connection (short --idle-timeout) starts exactly one job; Ctrl-C stops a remote run. */
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb-client.h"
#include "tb-gateway.h"
#include "test-client.h"

#define GW_UNIT "teleworker-gateway-proxy.service"
#define GW_PORT 18472
#define PROXY_PORT 18473
#define DEAD_PORT 18474       /* nothing listens there */

static char *build_dir, *tmp_dir, *proxy_log;
static TbGateway gateway;
static GPid proxy_pid;

typedef struct Out {
        char *out, *err;
        int status;
} Out;

static void out_clear(Out *o) {
        g_free(o->out);
        g_free(o->err);
}

/* telerun --addr … --cert KEY's cert --key key … ARGS (NULL-terminated) with env_set ("NAME=VALUE", NULL-
 * terminated, may be NULL) added to an environment without any proxy or passphrase variable. */
static Out telerun_env(const char *const *env_set, const char *key, const char *first, ...) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_auto(GStrv) env = g_get_environ();
        g_autoptr(GError) error = NULL;
        const char *unset[] = { "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
                                "TELERUN_KEY_PASSPHRASE", "TELERUN_ADDR", "TELERUN_REMOTE" };
        Out o = {};
        va_list ap;
        int ws;

        g_ptr_array_add(argv, g_build_filename(build_dir, "cli", "telerun", NULL));
        g_ptr_array_add(argv, g_strdup("--addr"));
        g_ptr_array_add(argv, g_strdup_printf("127.0.0.1:%d", GW_PORT));
        g_ptr_array_add(argv, g_strdup("--cert"));
        g_ptr_array_add(argv, test_cert_path("alice.crt"));
        g_ptr_array_add(argv, g_strdup("--key"));
        g_ptr_array_add(argv, key ? g_strdup(key) : test_cert_path("alice.key"));
        g_ptr_array_add(argv, g_strdup("--cacert"));
        g_ptr_array_add(argv, test_cert_path("ca.crt"));
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(argv, g_strdup(a));
        va_end(ap);
        g_ptr_array_add(argv, NULL);
        for (size_t i = 0; i < G_N_ELEMENTS(unset); i++)
                env = g_environ_unsetenv(env, unset[i]);
        for (const char *const *e = env_set; e && *e; e++) {
                g_auto(GStrv) kv = g_strsplit(*e, "=", 2);
                env = g_environ_setenv(env, kv[0], kv[1], true);
        }
        /* stdin is /dev/null: no terminal to ask a passphrase on */
        g_assert_true(g_spawn_sync("/", (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, &o.out, &o.err, &ws,
                                   &error));
        g_assert_true(WIFEXITED(ws));
        o.status = WEXITSTATUS(ws);
        g_test_message("telerun %s ... -> %d\nstdout: %s\nstderr: %s", first, o.status, o.out, o.err);
        return o;
}

static char *proxy_log_read(void) {
        char *s = NULL;

        if (!g_file_get_contents(proxy_log, &s, NULL, NULL))
                s = g_strdup("");
        return s;
}

static bool port_accepts(uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        g_assert_cmpint(fd, >=, 0);
        ok = connect(fd, (struct sockaddr *) &a, sizeof(a)) == 0;
        close(fd);
        return ok;
}

/* tinyproxy in the foreground, allowed to CONNECT to the gateway's port only, logging every request. */
static void proxy_start(void) {
        g_autofree char *conf = g_build_filename(tmp_dir, "tinyproxy.conf", NULL), *text = NULL;
        g_autoptr(GError) error = NULL;
        char *argv[] = { (char *) "tinyproxy", (char *) "-d", (char *) "-c", conf, NULL };

        text = g_strdup_printf("Port %d\nListen 127.0.0.1\nTimeout 60\nLogFile \"%s\"\nLogLevel Info\n"
                               "MaxClients 16\nAllow 127.0.0.1\nConnectPort %d\n", PROXY_PORT, proxy_log, GW_PORT);
        g_assert_true(g_file_set_contents(conf, text, -1, NULL));
        g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                                    G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &proxy_pid, &error));
        for (unsigned i = 0; !port_accepts(PROXY_PORT); i++) {
                g_assert_cmpuint(i, <, 500 * tb_slowdown());
                g_usleep(20 * 1000);
        }
}

static void test_through_proxy(void) {
        g_autofree char *connect = g_strdup_printf("CONNECT 127.0.0.1:%d", GW_PORT), *before = NULL, *after = NULL;
        g_autofree char *proxy = g_strdup_printf("HTTPS_PROXY=http://127.0.0.1:%d", PROXY_PORT);
        g_autofree char *proxy_lower = g_strdup_printf("https_proxy=http://127.0.0.1:%d", PROXY_PORT);
        g_autofree char *dead = g_strdup_printf("HTTPS_PROXY=http://127.0.0.1:%d", DEAD_PORT);
        Out o;

        /* HTTPS_PROXY: the tunnel goes through the proxy, which logs the CONNECT. */
        before = proxy_log_read();
        g_assert_null(strstr(before, connect));
        o = telerun_env((const char *[]) { proxy, NULL }, NULL, "run", "--", "echo", "hi", NULL);
        g_assert_cmpint(o.status, ==, 0);
        g_assert_cmpstr(o.out, ==, "hi\n");
        out_clear(&o);
        after = proxy_log_read();
        g_assert_nonnull(strstr(after, connect));

        /* https_proxy, as curl and wget read it, too. */
        g_free(before);
        before = g_steal_pointer(&after);
        o = telerun_env((const char *[]) { proxy_lower, NULL }, NULL, "list", NULL);
        g_assert_cmpint(o.status, ==, 0);
        out_clear(&o);
        after = proxy_log_read();
        g_assert_cmpuint(strlen(after), >, strlen(before));
        g_assert_nonnull(strstr(after + strlen(before), connect));

        /* NO_PROXY: straight to the gateway, the proxy sees nothing. */
        g_free(before);
        before = g_steal_pointer(&after);
        o = telerun_env((const char *[]) { proxy, "NO_PROXY=127.0.0.1", NULL }, NULL, "run", "--", "echo", "hi", NULL);
        g_assert_cmpint(o.status, ==, 0);
        g_assert_cmpstr(o.out, ==, "hi\n");
        out_clear(&o);
        after = proxy_log_read();
        g_assert_cmpstr(after, ==, before);

        /* A proxy that is not there: telerun's failure (125), and the error names the proxy. */
        o = telerun_env((const char *[]) { dead, NULL }, NULL, "run", "--", "echo", "hi", NULL);
        g_assert_cmpint(o.status, ==, 125);
        g_assert_cmpstr(o.out, ==, "");
        g_assert_nonnull(strstr(o.err, "proxy"));
        g_assert_nonnull(strstr(o.err, "Failed to start the job"));
        out_clear(&o);
}

static void test_encrypted_key(void) {
        g_autofree char *plain = test_cert_path("alice.key"), *enc = g_build_filename(tmp_dir, "alice-enc.key", NULL);
        g_autofree char *cmd = g_strdup_printf("openssl pkey -in '%s' -aes256 -passout pass:sesame -out '%s'", plain,
                                               enc);
        Out o;

        g_assert_cmpint(system(cmd), ==, 0);
        o = telerun_env((const char *[]) { "TELERUN_KEY_PASSPHRASE=sesame", NULL }, enc, "run", "--", "echo", "hi",
                        NULL);
        g_assert_cmpint(o.status, ==, 0);
        g_assert_cmpstr(o.out, ==, "hi\n");
        out_clear(&o);

        /* Without a passphrase, and no terminal to ask on. */
        o = telerun_env(NULL, enc, "run", "--", "echo", "hi", NULL);
        g_assert_cmpint(o.status, ==, 125);
        g_assert_nonnull(strstr(o.err, "is encrypted: set TELERUN_KEY_PASSPHRASE"));
        out_clear(&o);

        o = telerun_env((const char *[]) { "TELERUN_KEY_PASSPHRASE=wrong", NULL }, enc, "list", NULL);
        g_assert_cmpint(o.status, ==, 2);   /* a usage error, as a bad --key is */
        g_assert_nonnull(strstr(o.err, "Wrong passphrase for the key"));
        out_clear(&o);
}

static size_t alice_jobs(void) {
        Out o = telerun_env(NULL, NULL, "list", "-a", "--json", NULL);
        json_object *a = json_tokener_parse(o.out);
        size_t n;

        g_assert_cmpint(o.status, ==, 0);
        g_assert_nonnull(a);
        n = json_object_array_length(a);
        json_object_put(a);
        out_clear(&o);
        return n;
}

/* The gateway closes kept connections after 1 s idle (its --idle-timeout); a run after that starts one job. */
static void test_one_start(void) {
        size_t before = alice_jobs();
        Out o;

        g_usleep(1500 * 1000);
        o = telerun_env(NULL, NULL, "run", "--", "/bin/true", NULL);
        g_assert_cmpint(o.status, ==, 0);
        out_clear(&o);
        g_assert_cmpuint(alice_jobs(), ==, before + 1);
}

/* Ctrl-C stops a remote run (docs/cli.md): the stop request goes out while the output thread holds its own
 * handle, and the rest of the output and the wait follow on the kept one. Through the proxy, to have the
 * stream's thread and the stop's request on two tunnels. */
static void test_interrupt(void) {
        g_autofree char *addr = g_strdup_printf("127.0.0.1:%d", GW_PORT), *crt = test_cert_path("alice.crt"),
                        *key = test_cert_path("alice.key"), *ca = test_cert_path("ca.crt");
        g_autofree char *telerun = g_build_filename(build_dir, "cli", "telerun", NULL);
        g_autofree char *proxy = g_strdup_printf("http://127.0.0.1:%d", PROXY_PORT);
        char *argv[] = { telerun, (char *) "--addr", addr, (char *) "--cert", crt, (char *) "--key", key,
                         (char *) "--cacert", ca, (char *) "run", (char *) "--", (char *) "sh", (char *) "-c",
                         (char *) "trap 'echo bye; exit 3' TERM; echo started; while :; do sleep 0.1; done", NULL };
        g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "HTTPS_PROXY", proxy, true);
        g_autoptr(GError) error = NULL;
        g_autoptr(GString) out = g_string_new(NULL);
        char buf[256];
        int out_fd, ws = 0;
        ssize_t n;
        GPid pid;

        env = g_environ_unsetenv(env, "NO_PROXY");
        env = g_environ_unsetenv(env, "no_proxy");
        g_assert_true(g_spawn_async_with_pipes("/", argv, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL,
                                               &out_fd, NULL, &error));
        while (!strstr(out->str, "started\n") && (n = read(out_fd, buf, sizeof(buf))) > 0)
                g_string_append_len(out, buf, n);
        g_assert_nonnull(strstr(out->str, "started\n"));
        g_assert_cmpint(kill(pid, SIGINT), ==, 0);
        while ((n = read(out_fd, buf, sizeof(buf))) > 0)
                g_string_append_len(out, buf, n);
        close(out_fd);
        g_assert_cmpint(waitpid(pid, &ws, 0), ==, pid);
        g_spawn_close_pid(pid);
        /* The job's TERM handler's last words, and its exit status. */
        g_assert_cmpstr(out->str, ==, "started\nbye\n");
        g_assert_true(WIFEXITED(ws));
        g_assert_cmpint(WEXITSTATUS(ws), ==, 3);
}

int main(int argc, char **argv) {
        const char *gw_args[] = { "--idle-timeout=1s", NULL };
        sd_bus *bus;
        int r;

        g_test_init(&argc, &argv, NULL);
        bus = tb_bus_as(0);
        if (!tb_daemon_present(bus))
                return 77;
        sd_bus_unref(bus);
        g_autofree char *tinyproxy = g_find_program_in_path("tinyproxy");
        if (!tinyproxy) {
                printf("1..0 # SKIP tinyproxy is not installed\n");
                return 77;
        }
        build_dir = g_strdup(getenv("TELEWORKER_TEST_BUILD_DIR"));
        g_assert_nonnull(build_dir);
        tmp_dir = g_dir_make_tmp("test-proxy-XXXXXX", NULL);
        g_assert_nonnull(tmp_dir);
        proxy_log = g_build_filename(tmp_dir, "tinyproxy.log", NULL);

        (void) test_certs_dir();
        tb_gateway_start(&gateway, build_dir, GW_UNIT, GW_PORT, gw_args, NULL);
        proxy_start();

        g_test_add_func("/proxy/connect", test_through_proxy);
        g_test_add_func("/proxy/encrypted-key", test_encrypted_key);
        g_test_add_func("/proxy/one-start", test_one_start);
        g_test_add_func("/proxy/interrupt", test_interrupt);
        r = g_test_run();

        (void) kill(proxy_pid, SIGTERM);
        (void) waitpid(proxy_pid, NULL, 0);
        g_spawn_close_pid(proxy_pid);
        tb_gateway_stop(&gateway);
        test_certs_cleanup();
        test_rm_rf(tmp_dir);
        g_free(proxy_log);
        g_free(tmp_dir);
        g_free(build_dir);
        return r;
}
