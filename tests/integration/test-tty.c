/* SPDX-License-Identifier: MIT */
/* test-tty - jobs on a pseudo-terminal against the real teleworkerd (docs/design.md, "stdin and terminals"):
 * `telerun run -t -- tty` is on /dev/pts/N, of the caller's size; an interactive shell driven under tmux
 * (`telerun run -it -- sh`): its prompt, the echo of what is typed, the terminal's size, ^C interrupting a
 * command of the job (not telerun), exit, and the caller's terminal as it was before (`stty -g`: the termios settings, whatever the size). The same
 * remotely through teleworker-gateway (stdin as a stream). */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb-client.h"
#include "tb-shell.h"

#define GW_UNIT "teleworker-gateway-tty.service"
#define GW_PORT 18448

/* telerun's remote options, or NULL (locally, as tbuser1). */
static char *remote_options;

static TbResult shell(const char *script) {
        return tb_shell(TELERUN_PATH, remote_options, script);
}

static bool matches(const char *s, const char *pattern) {
        regex_t re;
        bool m;

        g_assert_cmpint(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), ==, 0);
        m = regexec(&re, s, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
}

/* The job's stdin, stdout and stderr are one terminal of the caller's size (24 x 80 off a terminal); its
 * output is kept (one stream) with the terminal's line ends. */
static void test_tty_name(void) {
        TbResult r = shell("$T run -t -- sh -c 'tty; tty <&2; stty size; test -t 0 && echo stdin-is-a-tty'");

        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(matches(r.out, "^/dev/pts/[0-9]+\r$"));
        g_assert_true(matches(r.out, "^24 80\r$"));
        g_assert_nonnull(strstr(r.out, "stdin-is-a-tty\r\n"));
        tb_result_clear(&r);

        /* Without -t: no terminal. */
        r = shell("$T run -- sh -c 'tty; true'");
        g_assert_cmpstr(r.out, ==, "not a tty\n");
        tb_result_clear(&r);

        /* The job's exit status and signal come through the relay unchanged. */
        r = shell("$T run -t -- sh -c 'exit 7'");
        g_assert_cmpint(r.status, ==, 7);
        tb_result_clear(&r);
        r = shell("$T run -t -- sh -c 'kill -TERM $$'");
        g_assert_cmpint(r.status, ==, 128 + 15);
        tb_result_clear(&r);

        /* The status says so. */
        r = shell("id=$($T start -t -- true) && $T wait $id >/dev/null && $T status --json $id");
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, "\"tty\":true"));
        g_assert_nonnull(strstr(r.out, "\"stdin\":\"null\""));
        tb_result_clear(&r);
}

/* ---- an interactive session under tmux ---- */

typedef struct Tmux {
        char *dir;      /* tbuser1's: the tmux socket, stty's outputs */
        char *socket;
} Tmux;

/* tmux as the one who runs telerun: tbuser1 locally, root remotely (the test certificates are root's). */
static TbResult tmux(const Tmux *t, const char *args) {
        g_autofree char *cmd = g_strdup_printf("tmux -S %s %s", t->socket, args);

        return shell(cmd);
}

static char *tmux_capture(const Tmux *t) {
        TbResult r = tmux(t, "capture-pane -p -J -S -100");
        char *out = g_steal_pointer(&r.out);

        tb_result_clear(&r);
        return out;
}

/* Waits until the pane shows needle (the pane is read as tmux renders it), within 20 s x slowdown. */
static char *tmux_wait_for(const Tmux *t, const char *needle) {
        unsigned rounds = 200 * tb_slowdown();

        for (unsigned i = 0; i < rounds; i++) {
                char *screen = tmux_capture(t);

                if (strstr(screen, needle))
                        return screen;
                g_free(screen);
                g_usleep(100 * 1000);
        }
        g_error("the pane never showed '%s'", needle);
}

static void send_keys(const Tmux *t, const char *keys) {
        g_autofree char *args = g_strdup_printf("send-keys -t tty %s", keys);
        TbResult r = tmux(t, args);

        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
}

static void interactive_session(void) {
        Tmux t = {};
        g_autofree char *before = NULL, *after = NULL, *screen = NULL, *start = NULL, *typed = NULL;
        g_autofree char *b_path = NULL, *a_path = NULL;
        TbResult r;

        t.dir = g_strdup("/tmp/tw-tty-XXXXXX");
        g_assert_nonnull(g_mkdtemp_full(t.dir, 0700));
        if (!remote_options)
                g_assert_cmpint(chown(t.dir, TB_UID_USER1, TB_UID_USER1), ==, 0);
        t.socket = g_strdup_printf("%s/tmux.sock", t.dir);
        b_path = g_strdup_printf("%s/before", t.dir);
        a_path = g_strdup_printf("%s/after", t.dir);

        /* A 100 x 30 terminal running bash; telerun starts from there. */
        start = g_strdup_printf("new-session -d -s tty -x 100 -y 30 'env -i PATH=/usr/bin:/bin TERM=xterm "
                                "HOME=/tmp bash --norc --noprofile'");
        r = tmux(&t, start);
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        typed = g_strdup_printf("'stty -g > %s; %s %s run -it -e PS1=job-\\prompt: -- sh -i; stty -g > %s; "
                                "echo session-o\\ver' Enter", b_path, TELERUN_PATH,
                                remote_options ? remote_options : "", a_path);
        send_keys(&t, typed);
        /* (the typed line says job-\prompt: the prompt shows only once the job's shell printed it) */
        g_free(tmux_wait_for(&t, "job-prompt:"));

        /* The echo comes from the job's terminal (ours is raw), the output from the job. */
        send_keys(&t, "'echo he''llo-from-job' Enter");
        g_free(tmux_wait_for(&t, "\nhello-from-job"));

        /* Its terminal has the size of ours. */
        send_keys(&t, "'stty size' Enter");
        g_free(tmux_wait_for(&t, "\n30 100"));

        /* A resize of ours reaches it (SIGWINCH -> Resize -> TIOCSWINSZ on its master). */
        r = tmux(&t, "resize-window -t tty -x 90 -y 25");
        g_assert_cmpint(r.status, ==, 0);
        tb_result_clear(&r);
        for (unsigned i = 0; i < 100 * tb_slowdown(); i++) {
                send_keys(&t, "'stty size' Enter");
                screen = tmux_wait_for(&t, "job-prompt:stty size");
                if (strstr(screen, "\n25 90"))
                        break;
                g_clear_pointer(&screen, g_free);
                g_usleep(100 * 1000);
        }
        g_assert_nonnull(screen);
        g_clear_pointer(&screen, g_free);

        /* ^C reaches the job as a byte: its terminal interrupts the sleep, the shell prompts again, telerun
         * stays (the session goes on). */
        send_keys(&t, "'sleep 100; echo not-interrupted' Enter");
        g_usleep(500 * 1000);
        send_keys(&t, "C-c");
        send_keys(&t, "'echo still-''here' Enter");
        screen = tmux_wait_for(&t, "\nstill-here");
        g_assert_null(strstr(screen, "\nnot-interrupted"));   /* only in the echo of the command */
        g_clear_pointer(&screen, g_free);

        /* exit ends the job, then telerun; the caller's terminal is as it was. */
        send_keys(&t, "'exit' Enter");
        g_free(tmux_wait_for(&t, "\nsession-over"));
        g_assert_true(g_file_get_contents(b_path, &before, NULL, NULL));
        g_assert_true(g_file_get_contents(a_path, &after, NULL, NULL));
        g_assert_cmpstr(before, ==, after);

        /* ^] detaches: telerun ends (its terminal restored), the job runs on until it is stopped. */
        g_free(typed);
        g_free(a_path);
        a_path = g_strdup_printf("%s/after-detach", t.dir);
        typed = g_strdup_printf("'%s %s run -it -e PS1=second-\\prompt: -- sh -i; stty -g > %s' Enter", TELERUN_PATH,
                                remote_options ? remote_options : "", a_path);
        send_keys(&t, typed);
        g_free(tmux_wait_for(&t, "second-prompt:"));
        send_keys(&t, "C-]");
        screen = tmux_wait_for(&t, "keeps running (telerun logs");
        {
                const char *p = strstr(screen, "telerun: detached; job ");
                g_autofree char *id = NULL, *check = NULL;
                TbResult s;

                g_assert_nonnull(p);
                id = g_strndup(p + strlen("telerun: detached; job "), 36);
                check = g_strdup_printf("$T status --json %s && $T stop %s", id, id);
                s = shell(check);
                g_assert_cmpint(s.status, ==, 0);
                g_assert_nonnull(strstr(s.out, "\"running\""));
                tb_result_clear(&s);
        }
        g_clear_pointer(&screen, g_free);
        g_clear_pointer(&after, g_free);
        for (unsigned i = 0; i < 100 * tb_slowdown() && !after; i++) {
                g_usleep(100 * 1000);
                if (!g_file_get_contents(a_path, &after, NULL, NULL) || !strchr(after, '\n'))
                        g_clear_pointer(&after, g_free);
        }
        g_assert_cmpstr(before, ==, after);

        r = tmux(&t, "kill-server");
        tb_result_clear(&r);
        g_free(start);
        start = g_strdup_printf("rm -rf %s", t.dir);
        r = shell(start);
        tb_result_clear(&r);
        g_free(t.dir);
        g_free(t.socket);
}

static void test_interactive(void) {
        interactive_session();
}

/* Resize: only a job with a terminal has one to resize, only its owner may, and only to a sane size. */
static void test_resize_refused(void) {
        sd_bus *bus = tb_bus_as(TB_UID_USER1), *other = tb_bus_as(TB_UID_USER2);
        const char *argv[] = { "/bin/sleep", "30", NULL };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *id = NULL;

        g_assert_cmpint(tb_start(bus, argv, NULL, &id, NULL), >=, 0);
        g_assert_cmpint(sd_bus_call_method(bus, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Manager", "Resize", &e, NULL, "sqq", id, 10, 10),
                        <, 0);
        g_test_message("%s: %s", e.name, e.message);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
        g_assert_nonnull(strstr(e.message, "no terminal"));
        sd_bus_error_free(&e);
        g_assert_cmpint(sd_bus_call_method(other, "org.teleworker.worker1", "/org/teleworker/worker1",
                                           "org.teleworker.worker1.Manager", "Resize", &e, NULL, "sqq", id, 10, 10),
                        <, 0);
        g_assert_cmpstr(e.name, ==, "org.freedesktop.DBus.Error.AccessDenied");
        sd_bus_error_free(&e);
        g_assert_cmpint(tb_stop(bus, id, NULL), >=, 0);
        sd_bus_unref(bus);
        sd_bus_unref(other);
}

/* ---- remotely ---- */

static TbGateway gateway;

static void gateway_up(void) {
        remote_options = tb_shell_gateway_up(&gateway, GW_UNIT, GW_PORT);
}

/* The same session through the gateway: keys go up the stdin stream, ^C as a byte, resizes as POST …/resize. */
static void test_remote_interactive(void) {
        interactive_session();
}

static void test_remote_tty_name(void) {
        TbResult r = shell("$T run -t -- sh -c 'tty; stty size'");

        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(matches(r.out, "^/dev/pts/[0-9]+\r$"));
        g_assert_true(matches(r.out, "^24 80\r$"));
        tb_result_clear(&r);
}

static void gateway_down(void) {
        tb_shell_gateway_down(&gateway);
        g_clear_pointer(&remote_options, g_free);
}

int main(int argc, char **argv) {
        sd_bus *bus;

        g_test_init(&argc, &argv, NULL);
        bus = tb_bus_as(0);
        if (!tb_daemon_present(bus)) {
                sd_bus_flush_close_unref(bus);
                g_test_skip("teleworkerd is not running");
                return g_test_run();
        }
        sd_bus_flush_close_unref(bus);
        g_test_add_func("/tty/name", test_tty_name);
        g_test_add_func("/tty/interactive", test_interactive);
        g_test_add_func("/tty/resize-refused", test_resize_refused);
        g_test_add_func("/tty/remote/up", gateway_up);
        g_test_add_func("/tty/remote/name", test_remote_tty_name);
        g_test_add_func("/tty/remote/interactive", test_remote_interactive);
        g_test_add_func("/tty/remote/down", gateway_down);
        return g_test_run();
}
