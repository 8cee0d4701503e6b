/* SPDX-License-Identifier: MIT */
/* telerun-completion-gen.c - writes telerun's bash, zsh and fish completions from the one option table
 * (telerun-options.c) into a template (cli/completion/): every @NAME@ of the template is replaced by what
 * the table says. Run at build time; `list` prints "VERB OPTION" pairs for the tests.
 *
 *   telerun-completion-gen bash|zsh|fish TEMPLATE OUTPUT
 *   telerun-completion-gen list */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "telerun-options.h"

static bool verb_takes(TelerunVerb v, TelerunOption o) {
        return telerun_options[o].verbs & VERB_BIT(v);
}

static bool is_global(TelerunOption o) {
        return telerun_options[o].verbs == VERBS_GLOBAL;
}

/* Verbs a user types (not VERB_NONE). */
#define FOREACH_VERB(v) for (TelerunVerb v = VERB_NONE + 1; v < _VERB_MAX; v++)

/* --- bash ------------------------------------------------------------------------------------------ */

static void bash_verbs(FILE *f) {
        FOREACH_VERB(v)
                fprintf(f, "%s%s", v > VERB_NONE + 1 ? " " : "", telerun_verbs[v].name);
}

static void bash_global_options(FILE *f) {
        bool first = true;
        for (TelerunOption o = 0; o < _OPT_MAX; o++)
                if (is_global(o)) {
                        fprintf(f, "%s--%s", first ? "" : " ", telerun_options[o].name);
                        first = false;
                }
}

/* An alternation of the options that take a separate argument (|-separated: a bash or fish regex, a bash
 * case pattern, a zsh pattern in parentheses). */
static void bash_with_arg(FILE *f, bool global_only) {
        bool first = true;
        for (TelerunOption o = 0; o < _OPT_MAX; o++) {
                const TelerunOptionInfo *i = &telerun_options[o];
                if (i->has_arg != required_argument || (global_only && !is_global(o)))
                        continue;
                fprintf(f, "%s--%s", first ? "" : "|", i->name);
                if (i->short_name)
                        fprintf(f, "|-%c", i->short_name);
                first = false;
        }
}

/* case arms on $prev: what the argument of each option completes to. */
static void bash_arg_cases(FILE *f) {
        for (TelerunOption o = 0; o < _OPT_MAX; o++) {
                const TelerunOptionInfo *i = &telerun_options[o];
                if (i->has_arg != required_argument)
                        continue;
                fprintf(f, "                --%s", i->name);
                if (i->short_name)
                        fprintf(f, "|-%c", i->short_name);
                fputs(")\n", f);
                switch (i->complete) {
                case COMPLETE_FILE:
                        fputs("                        compopt -o filenames 2>/dev/null\n"
                              "                        COMPREPLY=($(compgen -f -- \"$cur\"))\n", f);
                        break;
                case COMPLETE_DIR:
                        fputs("                        compopt -o filenames 2>/dev/null\n"
                              "                        COMPREPLY=($(compgen -d -- \"$cur\"))\n", f);
                        break;
                case COMPLETE_WORDS:
                        fprintf(f, "                        COMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n", i->words);
                        break;
                case COMPLETE_REMOTE:
                        fputs("                        COMPREPLY=($(compgen -W \"local $(__telerun_remotes)\" -- \"$cur\"))\n", f);
                        break;
                default:
                        break;
                }
                fputs("                        return ;;\n", f);
        }
}

/* case arms on $cur for --option=VALUE of options with an optional argument. */
static void bash_optional_cases(FILE *f) {
        for (TelerunOption o = 0; o < _OPT_MAX; o++) {
                const TelerunOptionInfo *i = &telerun_options[o];
                if (i->has_arg != optional_argument || i->complete != COMPLETE_WORDS)
                        continue;
                fprintf(f, "                --%s=*)\n"
                           "                        COMPREPLY=($(compgen -P '--%s=' -W '%s' -- \"${cur#*=}\"))\n"
                           "                        return ;;\n",
                        i->name, i->name, i->words);
        }
}

static void bash_verb_options(FILE *f) {
        FOREACH_VERB(v) {
                fprintf(f, "                %s) opts='", telerun_verbs[v].name);
                bool first = true;
                for (TelerunOption o = 0; o < _OPT_MAX; o++)
                        if (verb_takes(v, o)) {
                                fprintf(f, "%s--%s", first ? "" : " ", telerun_options[o].name);
                                first = false;
                        }
                fputs("' ;;\n", f);
        }
}

static void bash_verbs_taking(FILE *f, TelerunComplete kind) {
        fputc(' ', f);
        FOREACH_VERB(v)
                if (telerun_verbs[v].args == kind)
                        fprintf(f, "%s ", telerun_verbs[v].name);
}

/* --- zsh ------------------------------------------------------------------------------------------- */

/* A description inside '...' of an _arguments spec: quotes closed and reopened, brackets and colons
 * escaped. */
static void zsh_escape(FILE *f, const char *s) {
        for (; *s; s++)
                if (*s == '\'')
                        fputs("'\\''", f);
                else if (strchr("[]:\\", *s))
                        fprintf(f, "\\%c", *s);
                else
                        fputc(*s, f);
}

static void zsh_action(FILE *f, const TelerunOptionInfo *i) {
        fputc(':', f);
        zsh_escape(f, i->arg ?: "value");
        fputc(':', f);
        switch (i->complete) {
        case COMPLETE_FILE:
                fputs("_files", f);
                break;
        case COMPLETE_DIR:
                fputs("_files -/", f);
                break;
        case COMPLETE_WORDS:
                fprintf(f, "(%s)", i->words);
                break;
        case COMPLETE_REMOTE:
                fputs("__telerun_remotes", f);
                break;
        default:
                fputs(" ", f);
        }
}

/* One _arguments spec per line, each ending with eol (" \\" inside a command, "" in an array). */
static void zsh_spec(FILE *f, const TelerunOptionInfo *i, bool shrt, const char *eol) {
        fputs("                        '", f);
        if (shrt)
                fprintf(f, "-%c%s", i->short_name, i->has_arg == required_argument ? "+" : "");
        else
                fprintf(f, "--%s%s", i->name, i->has_arg == required_argument ? "=" :
                                              i->has_arg == optional_argument ? "=-" : "");
        fputc('[', f);
        zsh_escape(f, i->summary);
        fputc(']', f);
        if (i->has_arg == required_argument)
                zsh_action(f, i);
        else if (i->has_arg == optional_argument) {
                fputc(':', f);
                zsh_action(f, i);
        }
        fprintf(f, "'%s\n", eol);
}

static void zsh_specs(FILE *f, TelerunVerb v, const char *eol) {
        for (TelerunOption o = 0; o < _OPT_MAX; o++) {
                const TelerunOptionInfo *i = &telerun_options[o];
                if (v == VERB_NONE ? !is_global(o) : (is_global(o) || !verb_takes(v, o)))
                        continue;
                zsh_spec(f, i, false, eol);
                if (i->short_name)
                        zsh_spec(f, i, true, eol);
        }
}

static void zsh_verbs(FILE *f) {
        FOREACH_VERB(v) {
                fprintf(f, "                '%s:", telerun_verbs[v].name);
                zsh_escape(f, telerun_verbs[v].summary);
                fputs("'\n", f);
        }
}

static void zsh_verb_cases(FILE *f) {
        FOREACH_VERB(v) {
                fprintf(f, "                %s)\n                        _arguments -s -S : $global_opts \\\n",
                        telerun_verbs[v].name);
                zsh_specs(f, v, " \\");
                switch (telerun_verbs[v].args) {
                case COMPLETE_JOB:
                        fputs("                        '*:job id:__telerun_job_ids'", f);
                        break;
                case COMPLETE_COMMAND:
                        fputs("                        '*::command:_normal'", f);
                        break;
                case COMPLETE_REMOTE_CMD:
                        fputs("                        '1:subcommand:(add use ls rm)' '*:remote:__telerun_remotes'", f);
                        break;
                default:
                        fputs("                        ", f);
                        break;
                }
                fputs(" && ret=0 ;;\n", f);
        }
}

/* --- fish ------------------------------------------------------------------------------------------ */

static void fish_escape(FILE *f, const char *s) {
        fputc('\'', f);
        for (; *s; s++) {
                if (*s == '\'' || *s == '\\')
                        fputc('\\', f);
                fputc(*s, f);
        }
        fputc('\'', f);
}

static void fish_verbs(FILE *f) {
        FOREACH_VERB(v) {
                fprintf(f, "complete -c telerun -n \"not __fish_seen_subcommand_from $__telerun_verbs\" -a %s -d ",
                        telerun_verbs[v].name);
                fish_escape(f, telerun_verbs[v].summary);
                fputc('\n', f);
        }
}

static void fish_options(FILE *f) {
        for (TelerunOption o = 0; o < _OPT_MAX; o++) {
                const TelerunOptionInfo *i = &telerun_options[o];

                fputs("complete -c telerun", f);
                if (!is_global(o)) {
                        fputs(" -n '__fish_seen_subcommand_from", f);
                        FOREACH_VERB(v)
                                if (verb_takes(v, o))
                                        fprintf(f, " %s", telerun_verbs[v].name);
                        fputc('\'', f);
                }
                fprintf(f, " -l %s", i->name);
                if (i->short_name)
                        fprintf(f, " -s %c", i->short_name);
                if (i->has_arg == required_argument)
                        switch (i->complete) {
                        case COMPLETE_FILE:
                                fputs(" -r -F", f);
                                break;
                        case COMPLETE_DIR:
                                fputs(" -x -a '(__fish_complete_directories)'", f);
                                break;
                        case COMPLETE_WORDS:
                                fprintf(f, " -x -a '%s'", i->words);
                                break;
                        case COMPLETE_REMOTE:
                                fputs(" -x -a 'local (__telerun_remotes)'", f);
                                break;
                        default:
                                fputs(" -x", f);
                        }
                fputs(" -d ", f);
                fish_escape(f, i->summary);
                fputc('\n', f);
        }
}

static void fish_verbs_taking(FILE *f, TelerunComplete kind) {
        FOREACH_VERB(v)
                if (telerun_verbs[v].args == kind)
                        fprintf(f, " %s", telerun_verbs[v].name);
}

/* --- templates ------------------------------------------------------------------------------------- */

static void generate(FILE *f, const char *shell, const char *name) {
        if (streq(name, "VERBS"))
                bash_verbs(f);
        else if (streq(name, "GLOBAL_OPTIONS"))
                bash_global_options(f);
        else if (streq(name, "WITH_ARG"))
                bash_with_arg(f, false);
        else if (streq(name, "GLOBAL_WITH_ARG"))
                bash_with_arg(f, true);
        else if (streq(name, "ARG_CASES"))
                bash_arg_cases(f);
        else if (streq(name, "OPTIONAL_ARG_CASES"))
                bash_optional_cases(f);
        else if (streq(name, "VERB_OPTIONS"))
                bash_verb_options(f);
        else if (streq(name, "JOB_VERBS"))
                (streq(shell, "fish") ? fish_verbs_taking : bash_verbs_taking)(f, COMPLETE_JOB);
        else if (streq(name, "REMOTE_CMD_VERBS"))
                (streq(shell, "fish") ? fish_verbs_taking : bash_verbs_taking)(f, COMPLETE_REMOTE_CMD);
        else if (streq(name, "COMMAND_VERBS"))
                (streq(shell, "fish") ? fish_verbs_taking : bash_verbs_taking)(f, COMPLETE_COMMAND);
        else if (streq(name, "ZSH_GLOBAL_SPECS"))
                zsh_specs(f, VERB_NONE, "");
        else if (streq(name, "ZSH_VERBS"))
                zsh_verbs(f);
        else if (streq(name, "ZSH_VERB_CASES"))
                zsh_verb_cases(f);
        else if (streq(name, "FISH_VERBS"))
                fish_verbs(f);
        else if (streq(name, "FISH_VERB_LIST"))
                for (TelerunComplete k = 0; k < _COMPLETE_MAX; k++)
                        fish_verbs_taking(f, k);
        else if (streq(name, "FISH_OPTIONS"))
                fish_options(f);
        else {
                fprintf(stderr, "telerun-completion-gen: unknown @%s@ in the %s template\n", name, shell);
                exit(EXIT_FAILURE); /* main()'s atexit handler removes the half-written output */
        }
}

static int expand(const char *shell, const char *template_path, const char *output_path) {
        char *text = NULL, *p;  /* p: where the copy is */
        size_t n = 0;
        FILE *in, *out;

        in = fopen(template_path, "re");
        if (!in || getdelim(&text, &n, 0, in) < 0) {
                fprintf(stderr, "telerun-completion-gen: cannot read %s: %m\n", template_path);
                return EXIT_FAILURE;
        }
        fclose(in);
        out = fopen(output_path, "we");
        if (!out) {
                fprintf(stderr, "telerun-completion-gen: cannot write %s: %m\n", output_path);
                return EXIT_FAILURE;
        }
        p = text;
        /* zsh reads "#compdef" on the first line only: the note goes after it */
        if (strncmp(p, "#compdef", 8) == 0) {
                size_t first = strcspn(p, "\n");
                fwrite(p, 1, first + (p[first] ? 1 : 0), out);
                p += first + (p[first] ? 1 : 0);
        }
        fprintf(out, "# Generated by telerun-completion-gen from %s and cli/telerun-options.c: edit those.\n",
                strrchr(template_path, '/') ? strrchr(template_path, '/') + 1 : template_path);
        while (*p) {
                char *at = strchr(p, '@'), *end, name[64];
                if (!at) {
                        fputs(p, out);
                        break;
                }
                end = strchr(at + 1, '@');
                if (!end || (size_t) (end - at - 1) >= sizeof(name) || strspn(at + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") !=
                                                                               (size_t) (end - at - 1) || end == at + 1) {
                        fwrite(p, 1, (size_t) (at - p) + 1, out); /* an '@' of the script itself */
                        p = at + 1;
                        continue;
                }
                fwrite(p, 1, (size_t) (at - p), out);
                memcpy(name, at + 1, (size_t) (end - at - 1));
                name[end - at - 1] = 0;
                generate(out, shell, name);
                p = end + 1;
        }
        free(text);
        if (fclose(out) != 0)
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}

static void list(void) {
        FOREACH_VERB(v)
                for (TelerunOption o = 0; o < _OPT_MAX; o++)
                        if (verb_takes(v, o))
                                printf("%s --%s\n", telerun_verbs[v].name, telerun_options[o].name);
}

static const char *output_path;

static void remove_output(void) {
        if (output_path)
                (void) unlink(output_path);
}

int main(int argc, char *argv[]) {
        if (argc == 2 && streq(argv[1], "list")) {
                list();
                return EXIT_SUCCESS;
        }
        if (argc == 4 && (streq(argv[1], "bash") || streq(argv[1], "zsh") || streq(argv[1], "fish"))) {
                output_path = argv[3];
                (void) atexit(remove_output);
                if (expand(argv[1], argv[2], argv[3]) != EXIT_SUCCESS)
                        return EXIT_FAILURE;
                output_path = NULL; /* done: keep it */
                return EXIT_SUCCESS;
        }
        fprintf(stderr, "usage: telerun-completion-gen bash|zsh|fish TEMPLATE OUTPUT | list\n");
        return EXIT_FAILURE;
}
