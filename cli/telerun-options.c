/* SPDX-License-Identifier: MIT */
/* telerun-options.c - the one table of telerun's verbs and options (telerun-options.h). */
#include <stddef.h>

#include "telerun-options.h"

#define START_RUN VERBS_JOB_SPEC

const TelerunVerbInfo telerun_verbs[_VERB_MAX] = {
        [VERB_START] = { "start", COMPLETE_COMMAND, "Start a job, print its id" },
        [VERB_RUN] = { "run", COMPLETE_COMMAND, "Start a job, stream its output, exit with its status" },
        [VERB_STATUS] = { "status", COMPLETE_JOB, "Show a job" },
        [VERB_LOGS] = { "logs", COMPLETE_JOB, "Print a job's output" },
        [VERB_STOP] = { "stop", COMPLETE_JOB, "Stop jobs" },
        [VERB_LIST] = { "list", COMPLETE_NONE, "List jobs" },
        [VERB_WAIT] = { "wait", COMPLETE_JOB, "Wait for a job, exit with its status" },
        [VERB_HELP] = { "help", COMPLETE_NONE, "Show the help" },
        [VERB_REMOTE] = { "remote", COMPLETE_REMOTE_CMD, "Manage named remotes: add, use, ls, rm" },
        [VERB_RM] = { "rm", COMPLETE_JOB, "Remove ended jobs and their output" },
        [VERB_KILL] = { "kill", COMPLETE_JOB, "Send a signal to jobs' main processes" },
        [VERB_ATTACH] = { "attach", COMPLETE_JOB, "Attach to a running job's terminal again (^] detaches)" },
};

const TelerunOptionInfo telerun_options[_OPT_MAX] = {
        [OPT_HELP] = { "help", 'h', no_argument, NULL, VERBS_GLOBAL, .summary = "Show the help" },
        [OPT_VERSION] = { "version", 0, no_argument, NULL, VERBS_GLOBAL, .summary = "Show the version" },
        [OPT_ADDR] = { "addr", 0, required_argument, "HOST:PORT", VERBS_GLOBAL, .summary = "Gateway address" },
        [OPT_CERT] = { "cert", 0, required_argument, "FILE", VERBS_GLOBAL, COMPLETE_FILE,
                       .summary = "Client certificate (PEM)" },
        [OPT_KEY] = { "key", 0, required_argument, "FILE", VERBS_GLOBAL, COMPLETE_FILE,
                      .summary = "Client private key (PEM)" },
        [OPT_CACERT] = { "cacert", 0, required_argument, "FILE", VERBS_GLOBAL, COMPLETE_FILE,
                         .summary = "CA of the gateway (PEM)" },
        [OPT_RECONNECT_TIMEOUT] = { "reconnect-timeout", 0, required_argument, "SEC", VERBS_GLOBAL,
                                    .summary = "How long the worker may be away" },
        [OPT_JSON] = { "json", 0, optional_argument, "MODE",
                       VERB_BIT(VERB_START) | VERB_BIT(VERB_STATUS) | VERB_BIT(VERB_LIST) | VERB_BIT(VERB_WAIT) |
                               VERB_BIT(VERB_REMOTE),
                       COMPLETE_WORDS, "short pretty off", "JSON output" },
        [OPT_FOLLOW] = { "follow", 'f', no_argument, NULL,
                         VERB_BIT(VERB_START) | VERB_BIT(VERB_LOGS) | VERB_BIT(VERB_RM),
                         .summary = "Stream the output until the job ends (rm: stop running jobs first)" },
        [OPT_ENV] = { "env", 'e', required_argument, "KEY=VALUE", START_RUN,
                      .summary = "Set an environment variable" },
        [OPT_CWD] = { "cwd", 0, required_argument, "DIR", START_RUN, COMPLETE_DIR, .summary = "Working directory" },
        [OPT_CPU] = { "cpu", 0, required_argument, "QUOTA", START_RUN, COMPLETE_WORDS, "50% 100% 150% 200% infinity",
                      "CPU quota" },
        [OPT_MEMORY] = { "memory", 0, required_argument, "SIZE", START_RUN, COMPLETE_WORDS, "infinity",
                         "Memory limit" },
        [OPT_IO_READ] = { "io-read", 0, required_argument, "SIZE", START_RUN, COMPLETE_WORDS, "infinity",
                          "Read bandwidth limit per second" },
        [OPT_IO_WRITE] = { "io-write", 0, required_argument, "SIZE", START_RUN, COMPLETE_WORDS, "infinity",
                           "Write bandwidth limit per second" },
        [OPT_TASKS] = { "tasks", 0, required_argument, "N", START_RUN, COMPLETE_WORDS, "infinity",
                        "Maximum number of processes and threads" },
        [OPT_PROFILE] = { "profile", 0, required_argument, "NAME", START_RUN,
                          .summary = "Take limits from a profile of the policy" },
        [OPT_TIMEOUT] = { "timeout", 0, required_argument, "SEC", START_RUN,
                          .summary = "Stop the job after SEC seconds" },
        [OPT_NETWORK] = { "network", 0, no_argument, NULL, START_RUN, .summary = "Share the host's network" },
        [OPT_NO_NETWORK] = { "no-network", 0, no_argument, NULL, START_RUN,
                             .summary = "Only a private loopback interface" },
        [OPT_NO_PRIVATE_PID] = { "no-private-pid", 0, no_argument, NULL, START_RUN,
                                 .summary = "See the host's processes" },
        [OPT_NO_PRIVATE_TMP] = { "no-private-tmp", 0, no_argument, NULL, START_RUN,
                                 .summary = "Use the host's /tmp" },
        [OPT_PROTECT_SYSTEM] = { "protect-system", 0, no_argument, NULL, START_RUN,
                                 .summary = "Make /usr, /boot, /efi and /etc read-only" },
        [OPT_OFFSET] = { "offset", 0, required_argument, "BYTES", VERB_BIT(VERB_LOGS),
                         .summary = "Start at this byte of the output" },
        [OPT_TAIL] = { "tail", 'n', required_argument, "LINES", VERB_BIT(VERB_LOGS) | VERB_BIT(VERB_LIST),
                       .summary = "Start at the last LINES lines (list: the newest N jobs)" },
        [OPT_STDOUT] = { "stdout", 0, no_argument, NULL, VERB_BIT(VERB_LOGS), .summary = "Only the job's stdout" },
        [OPT_STDERR] = { "stderr", 0, no_argument, NULL, VERB_BIT(VERB_LOGS), .summary = "Only the job's stderr" },
        [OPT_SINCE] = { "since", 0, required_argument, "TIME", VERB_BIT(VERB_LOGS) | VERB_BIT(VERB_LIST),
                        .summary = "Output captured at TIME on (RFC 3339, Unix seconds, 10m ago)" },
        [OPT_UNTIL] = { "until", 0, required_argument, "TIME", VERB_BIT(VERB_LOGS),
                        .summary = "Only output captured before TIME" },
        [OPT_TIMESTAMPS] = { "timestamps", 0, no_argument, NULL, VERB_BIT(VERB_LOGS),
                             .summary = "Prefix each line with its capture time" },
        [OPT_QUIET] = { "quiet", 'q', no_argument, NULL, VERB_BIT(VERB_LIST) | VERB_BIT(VERB_REMOTE),
                        .summary = "Print ids (names) only" },
        [OPT_NO_LEGEND] = { "no-legend", 0, no_argument, NULL, VERB_BIT(VERB_LIST) | VERB_BIT(VERB_REMOTE),
                            .summary = "No header line" },
        [OPT_FORCE] = { "force", 0, no_argument, NULL, VERB_BIT(VERB_RM), .summary = "Stop running jobs first" },
        [OPT_SIGNAL] = { "signal", 's', required_argument, "SIGNAL", VERB_BIT(VERB_KILL), COMPLETE_WORDS,
                         "TERM INT HUP QUIT KILL USR1 USR2", "The signal to send (default TERM)" },
        [OPT_ANY] = { "any", 0, no_argument, NULL, VERB_BIT(VERB_WAIT), .summary = "Return when the first job ends" },
        [OPT_ALL] = { "all", 'a', no_argument, NULL, VERB_BIT(VERB_LIST), .summary = "Jobs in every state" },
        [OPT_STATE] = { "state", 0, required_argument, "STATES", VERB_BIT(VERB_LIST), COMPLETE_WORDS,
                        "submitted running success failed killed", "Only jobs in these states (comma-separated)" },
        [OPT_OWNER] = { "owner", 0, required_argument, "USER", VERB_BIT(VERB_LIST),
                        .summary = "Only this user's jobs (administrators)" },
        [OPT_TIME] = { "time", 0, required_argument, "SEC", VERB_BIT(VERB_STOP) | VERB_BIT(VERB_RM),
                       .summary = "Grace period of this stop, in seconds" },
        [OPT_NAME] = { "name", 0, required_argument, "NAME", START_RUN, .summary = "Name the job" },
        [OPT_INTERACTIVE] = { "interactive", 'i', no_argument, NULL, START_RUN,
                              .summary = "Connect telerun's stdin to the job's" },
        [OPT_TTY] = { "tty", 't', no_argument, NULL, START_RUN,
                      .summary = "Run the job on a pseudo-terminal (^] detaches)" },
        [OPT_REMOTE] = { "remote", 0, required_argument, "NAME", VERBS_GLOBAL, COMPLETE_REMOTE,
                         .summary = "Use a named remote (telerun remote add)" },
};

TelerunOption telerun_option_from_short(int c) {
        for (TelerunOption o = 0; o < _OPT_MAX; o++)
                if (c != 0 && telerun_options[o].short_name == c)
                        return o;
        return _OPT_MAX;
}

const struct option *telerun_long_options(void) {
        static struct option l[_OPT_MAX + 1];

        if (!l[0].name)
                for (TelerunOption o = 0; o < _OPT_MAX; o++)
                        l[o] = (struct option) {
                                .name = telerun_options[o].name,
                                .has_arg = telerun_options[o].has_arg,
                                .val = telerun_options[o].short_name ?: 0x100 + (int) o,
                        };
        return l;
}

const char *telerun_short_options(void) {
        static char s[_OPT_MAX * 3 + 1];
        size_t n = 0;

        if (!s[0])
                for (TelerunOption o = 0; o < _OPT_MAX; o++) {
                        if (!telerun_options[o].short_name)
                                continue;
                        s[n++] = telerun_options[o].short_name;
                        if (telerun_options[o].has_arg == required_argument)
                                s[n++] = ':';
                        else if (telerun_options[o].has_arg == optional_argument) {
                                s[n++] = ':';
                                s[n++] = ':';
                        }
                }
        return s;
}
