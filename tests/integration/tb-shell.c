/* SPDX-License-Identifier: MIT */
/* tb-shell.c - see tb-shell.h. */
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb-client.h"
#include "tb-shell.h"

static void drop_to_user1(gpointer data) {
        if (setgroups(0, NULL) < 0 || setresgid(TB_UID_USER1, TB_UID_USER1, TB_UID_USER1) < 0 ||
            setresuid(TB_UID_USER1, TB_UID_USER1, TB_UID_USER1) < 0)
                _exit(126);
}

TbResult tb_shell(const char *telerun, const char *remote_options, const char *script) {
        const char *argv[] = { "/bin/bash", "-c", script, NULL };
        g_autofree char *t = g_strdup_printf("T=%s %s", telerun, remote_options ? remote_options : "");
        const char *envp[] = { t, "PATH=/usr/bin:/bin", "TERM=xterm", "HOME=/tmp", NULL };
        GError *error = NULL;
        TbResult r = {};
        int ws;

        g_assert_true(g_spawn_sync("/tmp", (char **) argv, (char **) envp, G_SPAWN_DEFAULT,
                                   remote_options ? NULL : drop_to_user1, NULL, &r.out, &r.err, &ws, &error));
        g_assert_true(WIFEXITED(ws));
        r.status = WEXITSTATUS(ws);
        g_test_message("%s -> %d\nstdout: %.3000s\nstderr: %.2000s", script, r.status, r.out, r.err);
        return r;
}

char *tb_shell_gateway_up(TbGateway *gw, const char *unit, uint16_t port) {
        const char *build_dir = g_getenv("TELEWORKER_TEST_BUILD_DIR");
        g_autofree char *crt = NULL, *key = NULL, *ca = NULL;

        g_assert_nonnull(build_dir);
        (void) test_certs_dir();
        crt = test_cert_path("alice.crt");
        key = test_cert_path("alice.key");
        ca = test_cert_path("ca.crt");
        tb_gateway_start(gw, build_dir, unit, port, NULL, NULL);
        return g_strdup_printf("--addr 127.0.0.1:%u --cert %s --key %s --cacert %s", port, crt, key, ca);
}

void tb_shell_gateway_down(TbGateway *gw) {
        tb_gateway_stop(gw);
        test_certs_cleanup();
}
