/* SPDX-License-Identifier: MIT */
/* telerun-options.h - telerun's verbs and options, one row each (telerun-options.c): the parser
 * (telerun-args.c), `telerun --help`'s check, the bash, zsh and fish completions (generated at build time
 * by telerun-completion-gen.c) and the man page's check (test-telerun-args) all read this table.
 *
 * Adding an option: an OPT_ value below, its row in telerun_options[], and, unless it is a plain flag or
 * string the parser already knows how to store, its case in parse_options() (telerun-args.c); then its
 * entry in docs/man/telerun.1 and `telerun --help` (the unit tests fail until both list it). */
#pragma once

#include <getopt.h>

#include "telerun.h"

typedef enum TelerunOption {
        OPT_HELP,
        OPT_VERSION,
        OPT_ADDR,
        OPT_CERT,
        OPT_KEY,
        OPT_CACERT,
        OPT_JSON,
        OPT_FOLLOW,
        OPT_ENV,
        OPT_CWD,
        OPT_CPU,
        OPT_MEMORY,
        OPT_IO_READ,
        OPT_IO_WRITE,
        OPT_TASKS,
        OPT_PROFILE,
        OPT_TIMEOUT,
        OPT_NETWORK,
        OPT_NO_NETWORK,
        OPT_NO_PRIVATE_PID,
        OPT_NO_PRIVATE_TMP,
        OPT_PROTECT_SYSTEM,
        OPT_OFFSET,
        OPT_TAIL,
        OPT_QUIET,
        OPT_NO_LEGEND,
        OPT_RECONNECT_TIMEOUT,
        OPT_STDOUT,
        OPT_STDERR,
        OPT_SINCE,
        OPT_UNTIL,
        OPT_TIMESTAMPS,
        OPT_REMOTE,
        OPT_FORCE,
        OPT_SIGNAL,
        OPT_ANY,
        OPT_ALL,
        OPT_STATE,
        OPT_OWNER,
        OPT_TIME,
        OPT_NAME,
        OPT_INTERACTIVE,
        OPT_TTY,
        _OPT_MAX,
} TelerunOption;

/* What a completion offers for an option's argument, or for a verb's arguments. */
typedef enum TelerunComplete {
        COMPLETE_NONE,    /* free text: nothing to offer */
        COMPLETE_FILE,
        COMPLETE_DIR,
        COMPLETE_WORDS,   /* the row's words */
        COMPLETE_JOB,     /* job ids: `telerun list --quiet` */
        COMPLETE_COMMAND, /* a command line (start, run) */
        COMPLETE_REMOTE,  /* a named remote: `telerun remote ls --quiet` */
        COMPLETE_REMOTE_CMD, /* remote's subcommands and their names */
        _COMPLETE_MAX,
} TelerunComplete;

#define VERB_BIT(v) (1U << (v))
/* Accepted before the verb and with every verb. */
#define VERBS_GLOBAL (~0U)
#define VERBS_JOB_SPEC (VERB_BIT(VERB_START) | VERB_BIT(VERB_RUN))

typedef struct TelerunOptionInfo {
        const char *name;       /* the long name, without "--" */
        char short_name;        /* 0: none */
        int has_arg;            /* getopt's no_argument, required_argument, optional_argument */
        const char *arg;        /* the argument's name in help texts: "SIZE" */
        unsigned verbs;         /* VERB_BIT()s of the verbs that take it, or VERBS_GLOBAL */
        TelerunComplete complete;
        const char *words;      /* COMPLETE_WORDS: space-separated */
        const char *summary;    /* one line, for the completions' descriptions */
} TelerunOptionInfo;

typedef struct TelerunVerbInfo {
        const char *name;
        TelerunComplete args;   /* its arguments: COMPLETE_JOB, COMPLETE_COMMAND or COMPLETE_NONE */
        const char *summary;
} TelerunVerbInfo;

extern const TelerunOptionInfo telerun_options[_OPT_MAX];
extern const TelerunVerbInfo telerun_verbs[_VERB_MAX];

/* The option whose short name is c, or _OPT_MAX. */
TelerunOption telerun_option_from_short(int c);
/* getopt_long()'s table built from telerun_options (val: the short name, else 0x100 + the option), and its
 * short option string (without the leading "+" or ":"). Static storage, built on the first call. */
const struct option *telerun_long_options(void);
const char *telerun_short_options(void);
