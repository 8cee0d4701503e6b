/* SPDX-License-Identifier: MIT */
/* tb-gateway.c - the gateway as a testbed service and a stoppable mTLS HTTP client (tests/integration). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>

#include "tb-gateway.h"
#include "test-client.h"

/* ---- the service --------------------------------------------------------------------------------------- */

static int run_cmd(const char *const *argv, char **ret_out) {
        g_autoptr(GError) error = NULL;
        g_autofree char *err = NULL;
        int status = 0;

        g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, ret_out, &err, &status, &error);
        g_assert_no_error(error);
        if (err && *err)
                g_test_message("%s: %s", argv[0], g_strstrip(err));
        return status;
}

char *tb_unit_property(const char *unit, const char *property) {
        const char *argv[] = { "systemctl", "show", "-P", property, unit, NULL };
        char *out = NULL;

        (void) run_cmd(argv, &out);
        return g_strstrip(out ? out : g_strdup(""));
}

pid_t tb_unit_main_pid(const char *unit) {
        g_autofree char *s = tb_unit_property(unit, "MainPID");

        return (pid_t) g_ascii_strtoll(s, NULL, 10);
}

/* The service reads copies owned by its account. (teleworker-gateway.service uses LoadCredential=; in the
 * namespace testbed a User= service cannot read its credentials directory.) */
static char *gateway_certs(void) {
        char *gwdir = g_build_filename(test_certs_dir(), "gateway", NULL);
        const char *names[] = { "server.crt", "server.key", "ca.crt" };

        if (g_file_test(gwdir, G_FILE_TEST_IS_DIR))
                return gwdir;
        g_assert_cmpint(g_mkdir_with_parents(gwdir, 0700), ==, 0);
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *from = test_cert_path(names[i]), *to = g_build_filename(gwdir, names[i], NULL);
                g_autofree char *data = NULL;
                gsize size;

                g_assert_true(g_file_get_contents(from, &data, &size, NULL));
                g_assert_true(g_file_set_contents(to, data, (gssize) size, NULL));
        }
        {
                const char *argv[] = { "chown", "-R", "teleworker-gw:teleworker-gw", gwdir, NULL };

                g_assert_true(g_spawn_check_wait_status(run_cmd(argv, NULL), NULL));
        }
        /* The service must be able to reach it: the certificate directory itself is 0700 root. */
        g_assert_cmpint(chmod(test_certs_dir(), 0711), ==, 0);
        return gwdir;
}

bool tb_gateway_try_start(TbGateway *gw, const char *build_dir, const char *unit, uint16_t port,
                          const char *const *extra_args, const char *const *properties) {
        g_autofree char *exe = g_build_filename(build_dir, "src", "gateway", "teleworker-gateway", NULL);
        g_autofree char *gwdir = gateway_certs();
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        const char *vars[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
        const char *fixed[] = { "systemd-run", "--quiet", "-p", "Type=notify", "-p", "User=teleworker-gw",
                                "-p", "Group=teleworker-gw", "-p", "NoNewPrivileges=yes", "-p", "TimeoutStopSec=90" };

        g_assert_true(g_file_test(exe, G_FILE_TEST_IS_EXECUTABLE));
        *gw = (TbGateway) { .unit = g_strdup(unit), .port = port };
        {
                const char *stop[] = { "systemctl", "stop", unit, NULL }, *reset[] = { "systemctl", "reset-failed", unit, NULL };

                (void) run_cmd(stop, NULL);
                (void) run_cmd(reset, NULL);
        }

        for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
                g_ptr_array_add(argv, g_strdup(fixed[i]));
        g_ptr_array_add(argv, g_strdup_printf("--unit=%s", unit));
        for (const char *const *p = properties; p && *p; p++) {
                g_ptr_array_add(argv, g_strdup("-p"));
                g_ptr_array_add(argv, g_strdup(*p));
        }
        for (size_t i = 0; i < G_N_ELEMENTS(vars); i++)
                if (getenv(vars[i]))
                        g_ptr_array_add(argv, g_strdup_printf("--setenv=%s=%s", vars[i], getenv(vars[i])));
        g_ptr_array_add(argv, g_strdup("--"));
        g_ptr_array_add(argv, g_strdup(exe));
        g_ptr_array_add(argv, g_strdup_printf("--listen=127.0.0.1:%u", port));
        g_ptr_array_add(argv, g_strdup_printf("--cert=%s/server.crt", gwdir));
        g_ptr_array_add(argv, g_strdup_printf("--key=%s/server.key", gwdir));
        g_ptr_array_add(argv, g_strdup_printf("--ca=%s/ca.crt", gwdir));
        for (const char *const *a = extra_args; a && *a; a++)
                g_ptr_array_add(argv, g_strdup(*a));
        g_ptr_array_add(argv, NULL);
        if (!g_spawn_check_wait_status(run_cmd((const char *const *) argv->pdata, NULL), NULL)) {
                const char *journal[] = { "journalctl", "--no-pager", "-o", "cat", "-u", unit, NULL };
                g_autofree char *text = NULL;

                (void) run_cmd(journal, &text);
                g_test_message("the gateway %s did not start:\n%s", unit, text ?: "");
                g_free(gw->unit);
                *gw = (TbGateway) {};
                return false;
        }
        gw->pid = tb_unit_main_pid(unit);
        g_assert_cmpint(gw->pid, >, 0);
        return true;
}

void tb_gateway_start(TbGateway *gw, const char *build_dir, const char *unit, uint16_t port,
                      const char *const *extra_args, const char *const *properties) {
        if (!tb_gateway_try_start(gw, build_dir, unit, port, extra_args, properties))
                g_error("the gateway %s did not start", unit);
}

void tb_gateway_stop(TbGateway *gw) {
        const char *stop[] = { "systemctl", "stop", gw->unit, NULL };
        g_autofree char *result = NULL;

        if (!gw->unit)
                return;
        (void) run_cmd(stop, NULL);
        result = tb_unit_property(gw->unit, "Result");
        if (!g_str_equal(result, "success")) {
                const char *journal[] = { "journalctl", "--no-pager", "-o", "cat", "-u", gw->unit, NULL };
                g_autofree char *text = NULL;

                (void) run_cmd(journal, &text);
                g_printerr("%s\n", text);
                g_error("the gateway %s ended with result '%s'", gw->unit, result);
        }
        g_free(gw->unit);
        *gw = (TbGateway) {};
}
