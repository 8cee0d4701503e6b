/* SPDX-License-Identifier: MIT */
/* test-log - the logger's journal encoding (src/shared/log.c), the job entries' command line
 * (src/engine/job-journal.c), and the catalog: it compiles with journalctl and names the ids of the header. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "engine/job-journal.h"
#include "shared/log.h"

static void test_field_names(void) {
        g_assert_true(log_field_name_is_valid("MESSAGE=x"));
        g_assert_true(log_field_name_is_valid("TELEWORKER_JOB_ID="));
        g_assert_false(log_field_name_is_valid("_UID=0"));      /* journald's own */
        g_assert_false(log_field_name_is_valid("message=x"));
        g_assert_false(log_field_name_is_valid("1ABC=x"));
        g_assert_false(log_field_name_is_valid("=x"));
        g_assert_false(log_field_name_is_valid("NOEQUALS"));
        g_assert_false(log_field_name_is_valid("A B=x"));
        g_autofree char *long_name = g_strnfill(65, 'A');
        g_autofree char *f = g_strconcat(long_name, "=x", NULL);
        g_assert_false(log_field_name_is_valid(f));
        g_assert_true(log_field_name_is_valid(f + 1)); /* 64 letters: the most journald takes */
}

static void test_encode(void) {
        char *fields[] = { "MESSAGE=hello", "MULTI=a\nb", NULL };
        char *bad[] = { "MESSAGE=x", "_PID=1", NULL };
        const char expect[] = "MESSAGE=hello\nMULTI\n\x03\0\0\0\0\0\0\0a\nb\n";
        char buf[64];
        ssize_t n;

        n = log_journal_encode(fields, buf, sizeof(buf));
        g_assert_cmpint(n, ==, sizeof(expect) - 1);
        g_assert_cmpmem(buf, (size_t) n, expect, sizeof(expect) - 1);
        /* exactly the room it needs, and one byte less */
        g_assert_cmpint(log_journal_encode(fields, buf, sizeof(expect) - 1), ==, sizeof(expect) - 1);
        g_assert_cmpint(log_journal_encode(fields, buf, sizeof(expect) - 2), ==, -ENOBUFS);
        g_assert_cmpint(log_journal_encode(bad, buf, sizeof(buf)), ==, -EINVAL);
        g_assert_cmpint(log_journal_encode(NULL, buf, sizeof(buf)), ==, 0);
}

static void test_command(void) {
        char *argv[] = { "/bin/sh", "-c", "echo hi; exit 3", "", "a\nb", "it's", NULL };
        char buf[JOB_JOURNAL_COMMAND_MAX], small[16];
        g_autofree char *big = g_strnfill(5000, 'x');
        char *long_argv[] = { "cmd", big, NULL };

        job_journal_format_command(argv, buf, sizeof(buf));
        g_assert_cmpstr(buf, ==, "/bin/sh -c 'echo hi; exit 3' '' a\\x0ab 'it's'");
        job_journal_format_command(long_argv, buf, sizeof(buf));
        g_assert_cmpuint(strlen(buf), ==, sizeof(buf) - 1);
        g_assert_true(g_str_has_prefix(buf, "cmd xxx"));
        g_assert_true(g_str_has_suffix(buf, "..."));
        job_journal_format_command(argv, small, sizeof(small));
        g_assert_cmpstr(small, ==, "/bin/sh -c '...");
        job_journal_format_command(NULL, small, sizeof(small));
        g_assert_cmpstr(small, ==, "");
}

/* journalctl --update-catalog compiles units/teleworker.catalog into a root of our own; --dump-catalog shows
 * each id's text: both ids of job-journal.h are in it, with their subjects. */
static void test_catalog(void) {
        g_autofree char *root = g_dir_make_tmp("test-log-XXXXXX", NULL), *dir = NULL, *src = NULL, *dst = NULL;
        g_autofree char *contents = NULL, *rm = NULL;
        g_autoptr(GError) error = NULL;
        const char *ids[] = { JOB_JOURNAL_MESSAGE_STARTED, JOB_JOURNAL_MESSAGE_ENDED };
        int status;

        g_autofree char *journalctl = g_find_program_in_path("journalctl");

        if (!journalctl) {
                g_test_skip("no journalctl");
                return;
        }
        dir = g_build_filename(root, "usr/lib/systemd/catalog", NULL);
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        src = g_build_filename(TEST_SOURCE_ROOT, "units", "teleworker.catalog", NULL);
        dst = g_build_filename(dir, "teleworker.catalog", NULL);
        g_assert_true(g_file_get_contents(src, &contents, NULL, NULL));
        g_assert_true(g_file_set_contents(dst, contents, -1, NULL));

        const char *update[] = { "journalctl", "--root", root, "--update-catalog", NULL };
        g_assert_true(g_spawn_sync(NULL, (char **) update, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                                   &status, &error));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
                const char *dump[] = { "journalctl", "--root", root, "--dump-catalog", ids[i], NULL };
                g_autofree char *o = NULL;
                g_assert_true(g_spawn_sync(NULL, (char **) dump, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &o, NULL,
                                           &status, &error));
                g_assert_true(g_spawn_check_wait_status(status, NULL));
                g_test_message("%s", o);
                g_assert_nonnull(strstr(o, ids[i]));
                g_assert_nonnull(strstr(o, "Subject: Job @TELEWORKER_JOB_ID@"));
                g_assert_nonnull(strstr(o, "@OBJECT_SYSTEMD_UNIT@"));
        }
        rm = g_strdup_printf("rm -rf '%s'", root);
        g_assert_cmpint(system(rm), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/log/field-names", test_field_names);
        g_test_add_func("/log/encode", test_encode);
        g_test_add_func("/log/job-command", test_command);
        g_test_add_func("/log/catalog", test_catalog);
        return g_test_run();
}
