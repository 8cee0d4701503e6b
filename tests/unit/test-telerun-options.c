/* SPDX-License-Identifier: MIT */
/* test-telerun-options - the one option table (cli/telerun-options.c) against what is written by hand: the
 * man page's option and command lists (docs/man/telerun.1: every .TP/.TQ entry), `telerun --help`, and the
 * getopt tables built from it. */
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "telerun-options.h"

/* The tags of the man page's .TP/.TQ entries (the line after each), in roff: "\-\-env" etc. */
static GPtrArray *man_tags(const char *section) {
        g_autofree char *path = g_build_filename(TEST_SOURCE_ROOT, "docs", "man", "telerun.1", NULL), *text = NULL;
        GPtrArray *tags = g_ptr_array_new_with_free_func(g_free);
        g_auto(GStrv) lines = NULL;
        bool in_section = section == NULL;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l && l[1]; l++) {
                if (g_str_has_prefix(*l, ".SH "))
                        in_section = section == NULL || g_str_equal(*l + 4, section);
                if (in_section && (g_str_equal(*l, ".TP") || g_str_equal(*l, ".TQ")))
                        g_ptr_array_add(tags, g_strdup(l[1]));
        }
        return tags;
}

/* The command a COMMANDS tag names: its second word, without roff's quotes (".BI \"remote add\" ..."). */
static char *tag_command(const char *tag) {
        g_auto(GStrv) words = g_strsplit(tag, " ", 3);

        if (!words[0] || !words[1])
                return g_strdup("");
        return g_strdup(words[1][0] == '"' ? words[1] + 1 : words[1]);
}

/* The long options of a tag line: every "\-\-name" (roff's escaped dashes) in it. */
static void add_options(GHashTable *set, const char *line) {
        for (const char *p = strstr(line, "\\-\\-"); p; p = strstr(p, "\\-\\-")) {
                GString *name = g_string_new(NULL);
                p += 4;
                for (;;) {
                        if (g_str_has_prefix(p, "\\-")) {
                                g_string_append_c(name, '-');
                                p += 2;
                        } else if (g_ascii_isalnum(*p)) {
                                g_string_append_c(name, *p++);
                        } else
                                break;
                }
                if (name->len > 0)
                        g_hash_table_add(set, g_string_free(name, false));
                else
                        g_string_free(name, true);
        }
}

static void test_man_options(void) {
        g_autoptr(GPtrArray) tags = man_tags(NULL);
        g_autoptr(GHashTable) man = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        GHashTableIter it;
        gpointer key;

        for (guint i = 0; i < tags->len; i++)
                add_options(man, tags->pdata[i]);
        for (TelerunOption o = 0; o < _OPT_MAX; o++)
                if (!g_hash_table_contains(man, telerun_options[o].name))
                        g_error("--%s is in the option table but not in docs/man/telerun.1's option lists",
                                telerun_options[o].name);
        g_hash_table_iter_init(&it, man);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
                bool found = false;
                for (TelerunOption o = 0; o < _OPT_MAX; o++)
                        found = found || g_str_equal(telerun_options[o].name, key);
                if (!found)
                        g_error("docs/man/telerun.1 lists --%s, which the option table does not have", (char *) key);
        }
}

static void test_man_commands(void) {
        g_autoptr(GPtrArray) tags = man_tags("COMMANDS");

        g_assert_cmpuint(tags->len, >, 0);
        for (TelerunVerb v = VERB_NONE + 1; v < _VERB_MAX; v++) {
                bool found = false;
                for (guint i = 0; i < tags->len && !found; i++) {
                        g_autofree char *c = tag_command(tags->pdata[i]);
                        found = g_str_equal(c, telerun_verbs[v].name);
                }
                if (!found)
                        g_error("command '%s' is not under COMMANDS in docs/man/telerun.1", telerun_verbs[v].name);
        }
        for (guint i = 0; i < tags->len; i++) {
                g_autofree char *c = tag_command(tags->pdata[i]);
                bool found = false;
                for (TelerunVerb v = VERB_NONE + 1; v < _VERB_MAX; v++)
                        found = found || g_str_equal(c, telerun_verbs[v].name);
                if (!found)
                        g_error("docs/man/telerun.1 has the command '%s', which the table does not", (char *) tags->pdata[i]);
        }
}

static void test_help(void) {
        char path[] = "/tmp/test-telerun-options-XXXXXX";
        g_autofree char *text = NULL;
        int fd = mkostemp(path, O_CLOEXEC), saved;

        g_assert_cmpint(fd, >=, 0);
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        g_assert_cmpint(dup2(fd, STDOUT_FILENO), ==, STDOUT_FILENO);
        telerun_help();
        fflush(stdout);
        g_assert_cmpint(dup2(saved, STDOUT_FILENO), ==, STDOUT_FILENO);
        close(saved);
        close(fd);
        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        unlink(path);
        for (TelerunOption o = 0; o < _OPT_MAX; o++) {
                g_autofree char *opt = g_strdup_printf("--%s", telerun_options[o].name);
                const char *p = strstr(text, opt);
                /* the whole name: "--network" must not count for "--network-x" */
                while (p && (g_ascii_isalnum(p[strlen(opt)]) || p[strlen(opt)] == '-'))
                        p = strstr(p + 1, opt);
                if (!p)
                        g_error("telerun --help does not mention %s", opt);
                if (telerun_options[o].short_name) {
                        g_autofree char *s = g_strdup_printf("-%c, %s", telerun_options[o].short_name, opt);
                        if (!strstr(text, s))
                                g_error("telerun --help does not show %s", s);
                }
        }
        for (TelerunVerb v = VERB_NONE + 1; v < _VERB_MAX; v++)
                if (v != VERB_HELP) {
                        g_autofree char *s = g_strdup_printf("\n  %s ", telerun_verbs[v].name);
                        if (!strstr(text, s))
                                g_error("telerun --help does not list the command '%s'", telerun_verbs[v].name);
                }
}

static void test_getopt_tables(void) {
        const struct option *l = telerun_long_options();
        const char *s = telerun_short_options();

        for (TelerunOption o = 0; o < _OPT_MAX; o++) {
                const TelerunOptionInfo *i = &telerun_options[o];
                g_assert_nonnull(i->name);
                g_assert_nonnull(i->summary);
                g_assert_cmpstr(l[o].name, ==, i->name);
                g_assert_cmpint(l[o].has_arg, ==, i->has_arg);
                g_assert_true(i->verbs != 0);
                g_assert_true(i->complete != COMPLETE_WORDS || i->words);
                g_assert_true(i->has_arg == no_argument || i->arg);
                if (i->short_name) {
                        g_assert_cmpint(l[o].val, ==, i->short_name);
                        g_assert_nonnull(strchr(s, i->short_name));
                        g_assert_cmpint(telerun_option_from_short(i->short_name), ==, o);
                } else
                        g_assert_cmpint(l[o].val, ==, 0x100 + (int) o);
                for (TelerunOption p = o + 1; p < _OPT_MAX; p++) {
                        g_assert_cmpstr(telerun_options[p].name, !=, i->name);
                        g_assert_true(!i->short_name || telerun_options[p].short_name != i->short_name);
                }
        }
        g_assert_null(l[_OPT_MAX].name);
        /* the short option string: each short name once, with ':' exactly when it takes an argument */
        for (const char *c = s; *c; c++) {
                TelerunOption o;
                if (*c == ':')
                        continue;
                o = telerun_option_from_short(*c);
                g_assert_cmpint(o, <, _OPT_MAX);
                g_assert_cmpint(c[1] == ':', ==, telerun_options[o].has_arg != no_argument);
                g_assert_null(strchr(c + 1, *c));
        }
        g_assert_nonnull(strstr(s, "e:"));  /* -e takes an argument */
        g_assert_null(strstr(s, "h:"));     /* -h does not */
        for (TelerunVerb v = VERB_NONE + 1; v < _VERB_MAX; v++)
                g_assert_nonnull(telerun_verbs[v].name);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/telerun-options/man-options", test_man_options);
        g_test_add_func("/telerun-options/man-commands", test_man_commands);
        g_test_add_func("/telerun-options/help", test_help);
        g_test_add_func("/telerun-options/getopt-tables", test_getopt_tables);
        return g_test_run();
}
