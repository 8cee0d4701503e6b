/* SPDX-License-Identifier: MIT */
/* test-remotes - telerun's named remotes: the file's parser and its bounds, the atomic 0600 write, the path
 * from $XDG_CONFIG_HOME/$HOME, and which remote a command line resolves to (parse_argv()). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remotes.h"
#include "telerun.h"

#define GOOD "# c\ncurrent = prod\n\n[prod]\naddr = w:8443\ncert = /a.crt\nkey = /a.key\ncacert = /ca.crt\n" \
             "[dev]\n  addr=127.0.0.1:1  \ncert=/c\nkey=/k\n"

static int parse(const char *text, Remotes *r, char *err) {
        return remotes_parse(text, strlen(text), r, err);
}

static void test_parse(void) {
        char err[REMOTES_ERROR_MAX] = "";
        Remotes r = {};

        g_assert_cmpint(parse(GOOD, &r, err), ==, 0);
        g_assert_cmpuint(r.n, ==, 2);
        g_assert_cmpstr(r.current, ==, "prod");
        g_assert_cmpstr(r.items[0].addr, ==, "w:8443");
        g_assert_cmpstr(r.items[0].cacert, ==, "/ca.crt");
        g_assert_cmpstr(r.items[1].name, ==, "dev");
        g_assert_cmpstr(r.items[1].addr, ==, "127.0.0.1:1");
        g_assert_null(r.items[1].cacert);
        remotes_done(&r);

        g_assert_cmpint(parse("", &r, err), ==, 0);
        g_assert_cmpuint(r.n, ==, 0);
        g_assert_null(r.current);
        remotes_done(&r);
}

static void expect_error(const char *text, const char *message) {
        char err[REMOTES_ERROR_MAX] = "";
        Remotes r = {};

        g_assert_cmpint(parse(text, &r, err), <, 0);
        g_test_message("%s -> %s", text, err);
        g_assert_nonnull(strstr(err, message));
        g_assert_cmpuint(r.n, ==, 0);
}

static void test_errors(void) {
        expect_error("[a]\naddr = h\n", "remote 'a' lacks cert");
        expect_error("current = x\n[a]\naddr = h\ncert = c\nkey = k\n", "current remote 'x' is not defined");
        expect_error("[a]\naddr = h\naddr = h\n", "line 3: 'addr' given twice");
        expect_error("[a]\nport = 1\n", "line 2: unknown key 'port'");
        expect_error("addr = h\n", "line 1: only 'current'");
        expect_error("[a\n", "line 1: expected [NAME]");
        expect_error("[local]\n", "invalid remote name 'local'");
        expect_error("[-x]\n", "invalid remote name");
        expect_error("[a b]\n", "invalid remote name");
        expect_error("[a]\n[a]\n", "line 2: remote 'a' defined twice");
        expect_error("[a]\nnovalue\n", "line 2: expected KEY = VALUE");
        expect_error("[a]\naddr =\n", "line 2: empty value");
        expect_error("[a]\naddr = h\x01\n", "line 2: control character");
        expect_error("[a]\naddr = h\0x\n", "lacks"); /* strlen stops at the NUL: the rest is not seen */
}

static void test_bounds(void) {
        char err[REMOTES_ERROR_MAX] = "";
        g_autoptr(GString) s = g_string_new(NULL);
        g_autofree char *big = NULL, *longv = NULL, *name = NULL, *xs = g_strnfill(REMOTES_VALUE_MAX + 1, 'x');
        Remotes r = {};

        for (unsigned i = 0; i <= REMOTES_MAX; i++)
                g_string_append_printf(s, "[r%u]\naddr = h\ncert = c\nkey = k\n", i);
        g_assert_cmpint(remotes_parse(s->str, s->len, &r, err), ==, -E2BIG);
        g_assert_nonnull(strstr(err, "more than 64 remotes"));
        /* exactly REMOTES_MAX is fine */
        g_string_truncate(s, 0);
        for (unsigned i = 0; i < REMOTES_MAX; i++)
                g_string_append_printf(s, "[r%u]\naddr = h\ncert = c\nkey = k\n", i);
        g_assert_cmpint(remotes_parse(s->str, s->len, &r, err), ==, 0);
        g_assert_cmpuint(r.n, ==, REMOTES_MAX);
        remotes_done(&r);

        big = g_strnfill(REMOTES_FILE_MAX + 1, '#');
        g_assert_cmpint(remotes_parse(big, strlen(big), &r, err), ==, -E2BIG);
        longv = g_strdup_printf("[a]\naddr = %s\n", xs);
        expect_error(longv, "longer than 4096");
        name = g_strnfill(REMOTES_NAME_MAX + 1, 'n');
        g_assert_false(remote_name_is_valid(name));
        name[REMOTES_NAME_MAX] = 0;
        g_assert_true(remote_name_is_valid(name));
}

static void test_format_round_trip(void) {
        char err[REMOTES_ERROR_MAX] = "";
        Remotes r = {}, back = {};
        g_autofree char *text = NULL;

        g_assert_cmpint(parse(GOOD, &r, err), ==, 0);
        g_assert_cmpint(remotes_add(&r, &(Remote) { .name = "prod", .addr = "x", .cert = "c", .key = "k" }), ==, -EEXIST);
        g_assert_cmpint(remotes_add(&r, &(Remote) { .name = "third", .addr = "x:1", .cert = "/c", .key = "/k" }), ==, 0);
        g_assert_cmpint(remotes_remove(&r, "prod"), ==, 0);
        g_assert_null(r.current); /* it was the current one */
        g_assert_cmpint(remotes_remove(&r, "prod"), ==, -ENOENT);
        text = remotes_format(&r);
        g_assert_cmpint(parse(text, &back, err), ==, 0);
        g_assert_cmpuint(back.n, ==, 2);
        g_assert_cmpstr(back.items[0].name, ==, "dev");
        g_assert_cmpstr(back.items[1].name, ==, "third");
        g_assert_cmpstr(back.items[1].addr, ==, "x:1");
        remotes_done(&r);
        remotes_done(&back);
}

static void test_save_load(void) {
        g_autofree char *dir = g_dir_make_tmp("test-remotes-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "a", "telerun", "remotes", NULL), *parent = NULL, *rm = NULL;
        char err[REMOTES_ERROR_MAX] = "";
        Remotes r = {}, back = {};
        struct stat st;

        g_assert_cmpint(remotes_load(path, &r, err), ==, 0); /* missing: empty */
        g_assert_cmpuint(r.n, ==, 0);
        g_assert_cmpint(parse(GOOD, &r, err), ==, 0);
        g_assert_cmpint(remotes_save(path, &r), ==, 0);
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 07777, ==, 0600);
        parent = g_path_get_dirname(path);
        g_assert_cmpint(stat(parent, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 07777, ==, 0700);
        g_assert_cmpint(remotes_load(path, &back, err), ==, 0);
        g_assert_cmpuint(back.n, ==, 2);
        g_assert_cmpstr(back.current, ==, "prod");
        remotes_done(&back);
        /* saved again over the old one: no temporary file left beside it */
        g_assert_cmpint(remotes_save(path, &r), ==, 0);
        {
                g_autoptr(GDir) d = g_dir_open(parent, 0, NULL);
                const char *e;
                unsigned n = 0;
                while ((e = g_dir_read_name(d)))
                        n++;
                g_assert_cmpuint(n, ==, 1);
        }
        remotes_done(&r);
        g_assert_true(g_file_set_contents(path, "[broken\n", -1, NULL));
        g_assert_cmpint(remotes_load(path, &r, err), ==, -EINVAL);
        g_assert_nonnull(strstr(err, "line 1"));
        rm = g_strdup_printf("rm -rf '%s'", dir);
        g_assert_cmpint(system(rm), ==, 0);
}

static void test_path(void) {
        g_autofree char *p = NULL;

        g_setenv("XDG_CONFIG_HOME", "/x/cfg", true);
        g_setenv("HOME", "/home/u", true);
        g_assert_cmpint(remotes_path(&p), ==, 0);
        g_assert_cmpstr(p, ==, "/x/cfg/telerun/remotes");
        g_clear_pointer(&p, g_free);
        g_setenv("XDG_CONFIG_HOME", "relative", true); /* invalid per the spec: ignored */
        g_assert_cmpint(remotes_path(&p), ==, 0);
        g_assert_cmpstr(p, ==, "/home/u/.config/telerun/remotes");
        g_clear_pointer(&p, g_free);
        g_unsetenv("XDG_CONFIG_HOME");
        g_unsetenv("HOME");
        g_assert_cmpint(remotes_path(&p), ==, -ENOENT);
}

/* parse_argv() on a NULL-terminated list (copied: getopt permutes). */
static int parse_args(const char *first, ...) {
        static char *argv[32];
        static char storage[32][256];
        int argc = 0;
        va_list ap;

        telerun_args_reset();
        argv[argc] = strcpy(storage[argc], "telerun");
        argc++;
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                argv[argc] = strcpy(storage[argc], a), argc++;
        va_end(ap);
        argv[argc] = NULL;
        return parse_argv(argc, argv);
}

static void test_resolve(void) {
        g_autofree char *dir = g_dir_make_tmp("test-remotes-XXXXXX", NULL), *path = NULL, *rm = NULL;
        char err[REMOTES_ERROR_MAX] = "";
        Remotes r = {};

        g_setenv("XDG_CONFIG_HOME", dir, true);
        g_unsetenv("TELERUN_ADDR");
        g_unsetenv("TELERUN_REMOTE");
        g_unsetenv("TELERUN_CACERT");
        /* no file: local */
        g_assert_cmpint(parse_args("list", NULL), ==, 1);
        g_assert_null(arg_addr);

        path = g_build_filename(dir, "telerun", "remotes", NULL);
        g_assert_cmpint(parse(GOOD, &r, err), ==, 0);
        g_assert_cmpint(remotes_save(path, &r), ==, 0);
        remotes_done(&r);

        /* the current one (prod) */
        g_assert_cmpint(parse_args("list", NULL), ==, 1);
        g_assert_cmpstr(arg_addr, ==, "w:8443");
        g_assert_cmpstr(arg_cert, ==, "/a.crt");
        g_assert_cmpstr(arg_key, ==, "/a.key");
        g_assert_cmpstr(arg_cacert, ==, "/ca.crt");
        /* --remote, with the command line's --cacert winning over none stored */
        g_assert_cmpint(parse_args("--remote", "dev", "--cacert", "/mine.crt", "status", "8c1f0e9e-4a36-4f0b-9a51-2a3c8f4b7d10",
                                   NULL), ==, 1);
        g_assert_cmpstr(arg_addr, ==, "127.0.0.1:1");
        g_assert_cmpstr(arg_cert, ==, "/c");
        g_assert_cmpstr(arg_cacert, ==, "/mine.crt");
        /* after the verb too */
        g_assert_cmpint(parse_args("list", "--remote=dev", NULL), ==, 1);
        g_assert_cmpstr(arg_addr, ==, "127.0.0.1:1");
        /* local, whatever is current */
        g_assert_cmpint(parse_args("--remote", "local", "list", NULL), ==, 1);
        g_assert_null(arg_addr);
        /* $TELERUN_REMOTE; and $TELERUN_ADDR beats the current one */
        g_setenv("TELERUN_REMOTE", "dev", true);
        g_assert_cmpint(parse_args("list", NULL), ==, 1);
        g_assert_cmpstr(arg_addr, ==, "127.0.0.1:1");
        g_unsetenv("TELERUN_REMOTE");
        g_setenv("TELERUN_ADDR", "env:1", true);
        g_assert_cmpint(parse_args("list", NULL), ==, 1);
        g_assert_cmpstr(arg_addr, ==, "env:1");
        g_unsetenv("TELERUN_ADDR");
        /* an explicit address: no remote */
        g_assert_cmpint(parse_args("--addr", "cmd:1", "--cert", "/x", "--key", "/y", "list", NULL), ==, 1);
        g_assert_cmpstr(arg_addr, ==, "cmd:1");
        g_assert_cmpstr(arg_cert, ==, "/x");
        /* errors */
        g_assert_cmpint(parse_args("--remote", "nope", "list", NULL), ==, -EINVAL);
        g_assert_cmpint(parse_args("--remote", "dev", "--addr", "h:1", "list", NULL), ==, -EINVAL);
        /* a broken file is an error (it may name the current remote: no silent fallback to the bus) unless an
         * address or "local" was given; a file that cannot be opened is no file */
        g_assert_true(g_file_set_contents(path, "[broken\n", -1, NULL));
        g_assert_cmpint(parse_args("list", NULL), ==, -EINVAL);
        g_assert_cmpint(parse_args("--remote", "dev", "list", NULL), ==, -EINVAL);
        g_assert_cmpint(parse_args("--remote", "local", "list", NULL), ==, 1);
        g_assert_null(arg_addr);
        g_assert_cmpint(parse_args("--addr", "h:1", "list", NULL), ==, 1);
        g_assert_cmpint(chmod(path, 0), ==, 0);
        if (access(path, R_OK) < 0) { /* not as root, who reads it anyway */
                g_assert_cmpint(parse_args("list", NULL), ==, 1);
                g_assert_null(arg_addr);
        }
        g_assert_cmpint(unlink(path), ==, 0);
        g_assert_cmpint(mkdir(path, 0700), ==, 0); /* a directory in its place: EISDIR on read */
        g_assert_cmpint(parse_args("list", NULL), ==, -EINVAL);
        g_assert_cmpint(rmdir(path), ==, 0);
        g_setenv("XDG_CONFIG_HOME", "/proc/self/status", true); /* ENOTDIR: no file */
        g_assert_cmpint(parse_args("list", NULL), ==, 1);
        g_assert_null(arg_addr);

        telerun_args_reset();
        rm = g_strdup_printf("rm -rf '%s'", dir);
        g_assert_cmpint(system(rm), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/remotes/parse", test_parse);
        g_test_add_func("/remotes/errors", test_errors);
        g_test_add_func("/remotes/bounds", test_bounds);
        g_test_add_func("/remotes/format-round-trip", test_format_round_trip);
        g_test_add_func("/remotes/save-load", test_save_load);
        g_test_add_func("/remotes/path", test_path);
        g_test_add_func("/remotes/resolve", test_resolve);
        return g_test_run();
}
