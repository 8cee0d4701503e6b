/* SPDX-License-Identifier: MIT */
/* telerun-args.c - telerun's command line parser.
 *
 * Two passes, so that a job's own options are never taken for ours: global options up to the verb, then
 * the verb's options. For start/run the second pass stops at the first non-option (the command), so
 * `telerun run ls -l` needs no "--"; other verbs accept options after their arguments too
 * (`telerun status ID --json`). Every option is accepted in both places and checked against the verb. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "teleworker-build.h"
#include "telerun.h"
#include "telerun-options.h"
#include "shared/timestamp.h"
#include "shared/job-ref.h"
#include "core/authz.h"
#include "shared/util.h"

TelerunVerb arg_verb = VERB_NONE;
char **arg_args = NULL;
bool arg_follow = false;
char **arg_env = NULL;
const char *arg_cwd = NULL;
uint64_t arg_cpu_quota = 0;
uint64_t arg_memory_max = 0;
uint64_t arg_io_read_max = 0;
uint64_t arg_io_write_max = 0;
uint64_t arg_tasks_max = 0;
const char *arg_profile = NULL;
uint64_t arg_timeout_usec = 0;
uint64_t arg_reconnect_timeout_usec = TELERUN_RECONNECT_TIMEOUT_DEFAULT;
/* -1: not given (the worker's default); 0 or 1: asked for */
int arg_private_network = -1, arg_private_pid = -1, arg_private_tmp = -1, arg_protect_system = -1;
bool arg_stdin = false;
bool arg_tty = false;
uint64_t arg_offset = 0;
uint64_t arg_tail = UINT64_MAX;
unsigned arg_streams = 0;
uint64_t arg_since = UINT64_MAX;
uint64_t arg_until = UINT64_MAX;
bool arg_timestamps = false;
JsonMode arg_json = JSON_OFF;
bool arg_quiet = false;
bool arg_legend = true;
bool arg_force = false;
int arg_signal = SIGTERM;
bool arg_any = false;
uint64_t arg_stop_time_usec = UINT64_MAX;
const char *arg_name = NULL;
bool arg_all = false;
unsigned arg_states = 0;
const char *arg_owner = NULL;
const char *arg_addr = NULL;
const char *arg_cert = NULL;
const char *arg_key = NULL;
const char *arg_cacert = NULL;
const char *arg_remote = NULL;

static size_t n_env = 0;
static bool arg_offset_set = false;

/* A set of TelerunOptions (64 at most: see the static assertion). */
#define OPT(o) (UINT64_C(1) << (o))
_Static_assert(_OPT_MAX <= 64, "the options seen are a 64-bit set");

const char *verb_to_string(TelerunVerb v) {
        return v > VERB_NONE && v < _VERB_MAX ? telerun_verbs[v].name : NULL;
}

static TelerunVerb verb_from_string(const char *s) {
        for (TelerunVerb v = VERB_NONE + 1; v < _VERB_MAX; v++)
                if (streq(telerun_verbs[v].name, s))
                        return v;
        /* Aliases users of similar tools reach for. */
        if (streq(s, "ps") || streq(s, "ls"))
                return VERB_LIST;
        if (streq(s, "output"))
                return VERB_LOGS;
        if (streq(s, "remove"))
                return VERB_RM;
        return VERB_NONE;
}

/* getopt's val is the short name, or 0x100 + TelerunOption for long-only options (telerun_long_options()). */
static TelerunOption option_from_getopt(int c) {
        if (c >= 0x100)
                return c < 0x100 + _OPT_MAX ? (TelerunOption) (c - 0x100) : _OPT_MAX;
        return telerun_option_from_short(c);
}

void telerun_help(void) {
        printf("Usage: telerun [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS...]\n"
               "\n"
               "Run jobs with teleworker: each job runs in its own systemd scope with CPU,\n"
               "memory, IO and task limits; its output (stdout and stderr, in order) is kept\n"
               "and can be replayed and followed.\n"
               "\n"
               "Commands:\n"
               "  start [OPTIONS] [--] CMD [ARGS...]  Start a job, print its id\n"
               "  run [OPTIONS] [--] CMD [ARGS...]    Start a job, stream its output, exit\n"
               "                                      with its status; Ctrl-C stops it\n"
               "  status ID                           Show a job\n"
               "  logs [OPTIONS] ID                   Print a job's output\n"
               "  stop [--time SEC] ID...             Stop jobs (SIGTERM, then SIGKILL)\n"
               "  list [-a] [FILTERS]                 List running jobs (-a: all; admins: everyone's)\n"
               "  wait [--any] ID...                  Wait for jobs (all, or the first to end),\n"
               "                                      exit with the (last) job's status\n"
               "  kill [-s SIGNAL] ID...              Send a signal to jobs' main processes\n"
               "  rm [-f] ID...                       Remove ended jobs and their output\n"
               "                                      (-f: stop running ones first)\n"
               "  attach ID                           Type into a running -t job again (new\n"
               "                                      output only; ^] detaches), exit with\n"
               "                                      its status\n"
               "An ID is a job's whole id, a unique prefix of it (at least 4 hex digits),\n"
               "or its name.\n"
               "  remote add NAME --addr=HOST:PORT --cert=FILE --key=FILE [--cacert=FILE]\n"
               "  remote use NAME|local               Name a gateway; use it by default\n"
               "  remote ls [-q] | remote rm NAME...  List or remove named remotes\n"
               "\n"
               "Job options (start, run):\n"
               "  -e, --env=KEY=VALUE   Set an environment variable (repeatable)\n"
               "      --cwd=DIR         Working directory (default: the current one;\n"
               "                        '' or remote mode: the account's home)\n"
               "      --cpu=QUOTA       CPU quota: 150%% or 1.5 (CPUs)\n"
               "      --memory=SIZE     Memory limit: 256M, 1G (K, M, G, T: powers of 1024)\n"
               "      --io-read=SIZE    Read bandwidth limit per second\n"
               "      --io-write=SIZE   Write bandwidth limit per second\n"
               "      --tasks=N         Maximum number of processes and threads\n"
               "                        A limit may be 'infinity'; unset = default profile\n"
               "      --profile=NAME    Take limits from a profile of the worker's policy\n"
               "      --timeout=SEC     Stop the job after SEC seconds (ends killed/timeout)\n"
               "      --network         Share the host's network (if the policy allows)\n"
               "      --no-network      Only a private loopback interface\n"
               "      --no-private-pid  See the host's processes (default: own PID namespace)\n"
               "      --no-private-tmp  Use the host's /tmp (default: a private, empty one)\n"
               "      --protect-system  Make /usr, /boot, /efi and /etc read-only\n"
               "      --name=NAME       Name the job (unique among your jobs): every\n"
               "                        command takes the name where it takes an ID\n"
               "  -i, --interactive     Connect telerun's stdin to the job's (default:\n"
               "                        the job reads /dev/null)\n"
               "  -t, --tty             Run the job on a pseudo-terminal (-it: interactive;\n"
               "                        telerun's terminal goes raw, ^C goes to the job,\n"
               "                        ^] detaches)\n"
               "  -f, --follow          start: stream the output, exit with the job's\n"
               "                        status; Ctrl-C leaves the job running\n"
               "\n"
               "Other options:\n"
               "      --json[=short|pretty]  JSON output (start, status, list, wait)\n"
               "  -f, --follow          logs: print new output until the job ends\n"
               "      --offset=BYTES    logs: start at this byte of the output\n"
               "  -n, --tail=LINES      logs: start at the last LINES lines (of the streams\n"
               "                        shown)\n"
               "      --stdout, --stderr  logs: only the job's stdout, or only its stderr\n"
               "                        (default: both, stdout to stdout, stderr to stderr)\n"
               "      --since=TIME      logs: from output captured at TIME on (RFC 3339,\n"
               "                        Unix seconds, or 90s/5m/2h/1d ago)\n"
               "      --until=TIME      logs: only output captured before TIME (no -f)\n"
               "      --timestamps      logs: prefix each line with its capture time\n"
               "  -q, --quiet           list: print job ids only\n"
               "      --no-legend       list: no header line\n"
               "  -s, --signal=SIGNAL   kill: HUP, INT, QUIT, KILL, USR1, USR2 or TERM\n"
               "                        (default), by name or number\n"
               "      --any             wait: until the first of the jobs ends\n"
               "  -a, --all             list: jobs in every state (default: submitted, running)\n"
               "      --state=LIST      list: these states (running,failed,...)\n"
               "      --since=WHEN      list: submitted since WHEN (RFC 3339 time, or 90s, 10m,\n"
               "                        2h, 3d ago)\n"
               "  -n N                  list: the newest N jobs\n"
               "      --owner=NAME      list: only NAME's jobs (administrators)\n"
               "  -f, --force           rm: stop running jobs first\n"
               "      --time=SEC        stop, rm -f: SIGKILL after SEC seconds (at most the\n"
               "                        worker's grace period; 0: at once)\n"
               "  -h, --help            Show this help\n"
               "      --version         Show the version\n"
               "\n"
               "Remote mode (a teleworker-gateway over mTLS instead of the system bus):\n"
               "      --addr=HOST:PORT  Gateway address                 [$TELERUN_ADDR]\n"
               "      --cert=FILE       Client certificate (PEM)        [$TELERUN_CERT]\n"
               "      --key=FILE        Client private key (PEM)        [$TELERUN_KEY]\n"
               "      --cacert=FILE     CA of the gateway (PEM)         [$TELERUN_CACERT]\n"
               "      --remote=NAME     A named remote (telerun remote add), 'local' for\n"
               "                        the system bus                  [$TELERUN_REMOTE]\n"
               "      --reconnect-timeout=SEC  run, start -f, logs -f, wait: how long the\n"
               "                        worker may be away (restarting) before giving up\n"
               "                        (default 30, 0 = at once)\n"
               "\n"
               "Exit status: 0 success, 1 failure, 2 usage error or request refused as\n"
               "invalid, 3 no such job, 4 access denied, 5 worker unreachable, 141 stdout\n"
               "closed by its reader. run, wait and start -f exit with the job's exit code\n"
               "(128+N if killed by signal N), or 125 when telerun or the worker failed,\n"
               "126 when the command cannot be executed, 127 when it was not found.\n");
}

void telerun_args_reset(void) {
        free(arg_env);
        arg_env = NULL;
        n_env = 0;
        arg_verb = VERB_NONE;
        arg_args = NULL;
        arg_follow = false;
        arg_cwd = NULL;
        arg_cpu_quota = arg_memory_max = arg_io_read_max = arg_io_write_max = arg_tasks_max = 0;
        arg_profile = NULL;
        arg_timeout_usec = 0;
        arg_stdin = false;
        arg_tty = false;
        arg_reconnect_timeout_usec = TELERUN_RECONNECT_TIMEOUT_DEFAULT;
        arg_private_network = arg_private_pid = arg_private_tmp = arg_protect_system = -1;
        arg_offset = 0;
        arg_offset_set = false;
        arg_tail = UINT64_MAX;
        arg_streams = 0;
        arg_since = arg_until = UINT64_MAX;
        arg_timestamps = false;
        arg_json = JSON_OFF;
        arg_quiet = false;
        arg_legend = true;
        arg_addr = arg_cert = arg_key = arg_cacert = NULL;
        arg_remote = NULL;
        telerun_remotes_reset();
        arg_force = false;
        arg_signal = SIGTERM;
        arg_any = false;
        arg_stop_time_usec = UINT64_MAX;
        arg_name = NULL;
        arg_all = false;
        arg_states = 0;
        arg_owner = NULL;
}

static int usage_error(const char *format, ...) _printf_(1, 2);
static int usage_error(const char *format, ...) {
        va_list ap;

        fputs("telerun: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -EINVAL;
}

/* A limit: "infinity" or what parse() accepts, but never 0 (the worker refuses it; say so early). */
static int parse_limit(const char *opt, const char *s, int (*parse)(const char *, uint64_t *), uint64_t *ret) {
        uint64_t v;

        if (streq(s, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (parse(s, &v) < 0)
                return usage_error("invalid --%s value '%s'", opt, s);
        if (v == 0)
                return usage_error("--%s must be greater than 0", opt);
        *ret = v;
        return 0;
}

static int env_add(const char *assignment) {
        const char *eq = strchr(assignment, '=');
        char **l;

        if (!eq || eq == assignment)
                return usage_error("invalid --env '%s': expected KEY=VALUE", assignment);
        for (const char *p = assignment; p < eq; p++)
                if (*p == ' ' || *p == '\t' || *p == '\n')
                        return usage_error("invalid --env '%s': whitespace in the name", assignment);

        l = realloc(arg_env, (n_env + 2) * sizeof(char *));
        if (!l)
                return usage_error("out of memory");
        arg_env = l;
        arg_env[n_env++] = (char *) assignment;
        arg_env[n_env] = NULL;
        return 0;
}

/* One getopt pass. Records the options seen in *seen. Returns 1 to go on, 0 after --help/--version. */
static int parse_options(int argc, char *argv[], bool stop_at_nonoption, uint64_t *seen) {
        char optstring[_OPT_MAX * 3 + 3];
        int c, r;

        /* "+" stops at the first non-option; ":" reports a missing argument as ':' */
        (void) snprintf(optstring, sizeof(optstring), "%s:%s", stop_at_nonoption ? "+" : "", telerun_short_options());
        optind = 0; /* glibc: full reinitialization (we run getopt more than once) */
        opterr = 0;

        while ((c = getopt_long(argc, argv, optstring, telerun_long_options(), NULL)) >= 0) {
                TelerunOption o = option_from_getopt(c);

                if (c == '?') {
                        if (optopt != 0 && optopt < 0x100)
                                return usage_error("unknown option -%c", optopt);
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
                if (c == ':')
                        return usage_error("option '%s' needs an argument", argv[optind - 1]);
                if (o >= _OPT_MAX)
                        return usage_error("unexpected option");
                *seen |= OPT(o);

                switch (o) {
                case OPT_HELP:
                        telerun_help();
                        return 0;
                case OPT_VERSION:
                        printf("telerun %s\n", TELEWORKER_VERSION);
                        return 0;
                case OPT_ADDR:
                        arg_addr = optarg;
                        break;
                case OPT_CERT:
                        arg_cert = optarg;
                        break;
                case OPT_KEY:
                        arg_key = optarg;
                        break;
                case OPT_CACERT:
                        arg_cacert = optarg;
                        break;
                case OPT_JSON:
                        if (!optarg || streq(optarg, "short"))
                                arg_json = JSON_SHORT;
                        else if (streq(optarg, "pretty"))
                                arg_json = JSON_PRETTY;
                        else if (streq(optarg, "off"))
                                arg_json = JSON_OFF;
                        else
                                return usage_error("invalid --json mode '%s': expected short, pretty or off",
                                                   optarg);
                        break;
                case OPT_FOLLOW:
                        arg_follow = true;
                        break;
                case OPT_ENV:
                        r = env_add(optarg);
                        if (r < 0)
                                return r;
                        break;
                case OPT_CWD:
                        arg_cwd = optarg;
                        break;
                case OPT_CPU:
                        r = parse_limit("cpu", optarg, parse_cpu_quota, &arg_cpu_quota);
                        if (r < 0)
                                return r;
                        break;
                case OPT_MEMORY:
                        r = parse_limit("memory", optarg, parse_size, &arg_memory_max);
                        if (r < 0)
                                return r;
                        break;
                case OPT_IO_READ:
                        r = parse_limit("io-read", optarg, parse_size, &arg_io_read_max);
                        if (r < 0)
                                return r;
                        break;
                case OPT_IO_WRITE:
                        r = parse_limit("io-write", optarg, parse_size, &arg_io_write_max);
                        if (r < 0)
                                return r;
                        break;
                case OPT_TASKS:
                        r = parse_limit("tasks", optarg, parse_uint64, &arg_tasks_max);
                        if (r < 0)
                                return r;
                        break;
                case OPT_PROFILE:
                        if (!*optarg)
                                return usage_error("--profile needs a name");
                        arg_profile = optarg;
                        break;
                case OPT_TIMEOUT: {
                        char *end = NULL;
                        double sec = strtod(optarg, &end);
                        if (!end || *end || !(sec > 0) || sec > 365.0 * 24 * 3600)
                                return usage_error("invalid --timeout value '%s' (seconds, e.g. 90 or 0.5)", optarg);
                        arg_timeout_usec = (uint64_t) (sec * 1e6);
                        if (arg_timeout_usec == 0)
                                arg_timeout_usec = 1;
                        break;
                }
                case OPT_NETWORK:
                        arg_private_network = 0;
                        break;
                case OPT_NO_NETWORK:
                        arg_private_network = 1;
                        break;
                case OPT_NO_PRIVATE_PID:
                        arg_private_pid = 0;
                        break;
                case OPT_NO_PRIVATE_TMP:
                        arg_private_tmp = 0;
                        break;
                case OPT_PROTECT_SYSTEM:
                        arg_protect_system = 1;
                        break;
                case OPT_INTERACTIVE:
                        arg_stdin = true;
                        break;
                case OPT_TTY:
                        arg_tty = true;
                        break;
                case OPT_OFFSET:
                        if (parse_uint64(optarg, &arg_offset) < 0)
                                return usage_error("invalid --offset value '%s'", optarg);
                        arg_offset_set = true;
                        break;
                case OPT_TAIL:
                        if (parse_uint64(optarg, &arg_tail) < 0 || arg_tail == UINT64_MAX)
                                return usage_error("invalid --tail value '%s'", optarg);
                        break;
                case OPT_QUIET:
                        arg_quiet = true;
                        break;
                case OPT_STDOUT:
                case OPT_STDERR:
                        arg_streams |= o == OPT_STDOUT ? TELERUN_STREAM_STDOUT : TELERUN_STREAM_STDERR;
                        break;
                case OPT_SINCE:
                case OPT_UNTIL:
                        r = timestamp_parse(optarg, now_usec(CLOCK_REALTIME), true,
                                            o == OPT_SINCE ? &arg_since : &arg_until);
                        if (r < 0)
                                return usage_error("invalid --%s value '%s' (RFC 3339, Unix seconds, or a "
                                                   "duration ago like 10m)", telerun_options[o].name, optarg);
                        break;
                case OPT_TIMESTAMPS:
                        arg_timestamps = true;
                        break;
                case OPT_RECONNECT_TIMEOUT: {
                        char *end = NULL;
                        double sec = strtod(optarg, &end);
                        if (!end || end == optarg || *end || !(sec >= 0) || sec > 24.0 * 3600)
                                return usage_error("invalid --reconnect-timeout value '%s' (seconds, 0 = never)",
                                                   optarg);
                        arg_reconnect_timeout_usec = (uint64_t) (sec * 1e6);
                        break;
                }
                case OPT_NO_LEGEND:
                        arg_legend = false;
                        break;
                case OPT_REMOTE:
                        arg_remote = optarg;
                        break;
                case OPT_FORCE:
                        arg_force = true;
                        break;
                case OPT_SIGNAL:
                        if (job_signal_from_string(optarg, &arg_signal) < 0)
                                return usage_error("invalid signal '%s': HUP, INT, QUIT, KILL, USR1, USR2 or TERM "
                                                   "(with or without SIG, or its number)", optarg);
                        break;
                case OPT_ANY:
                        arg_any = true;
                        break;
                case OPT_ALL:
                        arg_all = true;
                        break;
                case OPT_STATE:
                        if (job_list_filter_parse_states(optarg, &arg_states) < 0)
                                return usage_error("invalid --state '%s': a comma-separated list of submitted, "
                                                   "running, success, failed, killed", optarg);
                        break;
                case OPT_NAME:
                        if (!job_name_is_valid(optarg))
                                return usage_error("invalid --name '%s': 1 to %d letters, digits, '_', '.' or '-', "
                                                   "starting with a letter, not like a job id", optarg,
                                                   JOB_NAME_MAX);
                        arg_name = optarg;
                        break;
                case OPT_TIME: {
                        uint64_t sec;
                        if (parse_uint64(optarg, &sec) < 0 || sec > 365 * 24 * 3600ULL)
                                return usage_error("invalid --time '%s': whole seconds", optarg);
                        arg_stop_time_usec = sec * USEC_PER_SEC;
                        break;
                }
                case OPT_OWNER:
                        if (!principal_name_is_valid(optarg))
                                return usage_error("invalid --owner '%s': a user name", optarg);
                        arg_owner = optarg;
                        break;
                default:
                        return usage_error("unexpected option");
                }
        }
        return 1;
}

static const char *env_nonempty(const char *name) {
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

static int check_job_ids(char **ids) {
        for (char **i = ids; *i; i++)
                if (!job_ref_is_valid(*i))
                        return usage_error("invalid job id '%s': a whole id, at least its first %d hex digits, "
                                           "or a job name", *i, JOB_REF_PREFIX_MIN);
        return 0;
}

int parse_argv(int argc, char *argv[]) {
        uint64_t seen = 0;
        bool remote_options;
        size_t n_args;
        int r;

        /* Pass 1: global options, up to the verb. */
        r = parse_options(argc, argv, true, &seen);
        if (r <= 0)
                return r;
        if (optind >= argc)
                return usage_error("missing command; see 'telerun --help'");

        arg_verb = verb_from_string(argv[optind]);
        if (arg_verb == VERB_NONE)
                return usage_error("unknown command '%s'; see 'telerun --help'", argv[optind]);
        if (arg_verb == VERB_HELP) {
                telerun_help();
                return 0;
        }

        /* Pass 2: the verb's options and arguments. argv[optind] (the verb) plays argv[0]. */
        argc -= optind;
        argv += optind;
        r = parse_options(argc, argv, arg_verb == VERB_START || arg_verb == VERB_RUN, &seen);
        if (r <= 0)
                return r;
        arg_args = argv + optind;
        n_args = strv_length(arg_args);

        for (TelerunOption o = 0; o < _OPT_MAX; o++)
                if ((seen & OPT(o)) && !(telerun_options[o].verbs & VERB_BIT(arg_verb)))
                        return usage_error("option --%s does not apply to '%s'", telerun_options[o].name,
                                           telerun_verbs[arg_verb].name);

        if (arg_verb == VERB_REMOTE)
                return 1; /* its options are what it stores: neither the environment nor a remote */
        remote_options = seen & (OPT(OPT_CERT) | OPT(OPT_KEY) | OPT(OPT_CACERT));
        r = telerun_resolve_remote(arg_addr != NULL);
        if (r < 0)
                return r;
        if (r > 0)
                remote_options = false; /* the remote's address (or "local") goes with them */
        else if (!arg_addr)
                arg_addr = env_nonempty("TELERUN_ADDR");
        if (!arg_cert)
                arg_cert = env_nonempty("TELERUN_CERT");
        if (!arg_key)
                arg_key = env_nonempty("TELERUN_KEY");
        if (!arg_cacert)
                arg_cacert = env_nonempty("TELERUN_CACERT");
        if (remote_options && !arg_addr)
                return usage_error("--cert, --key and --cacert need --addr (or $TELERUN_ADDR)");

        switch (arg_verb) {
        case VERB_START:
        case VERB_RUN:
                if (n_args == 0)
                        return usage_error("'%s' needs a command to run", telerun_verbs[arg_verb].name);
                if (arg_args[0][0] == 0)
                        return usage_error("the command must not be empty");
                break;
        case VERB_STATUS:
        case VERB_LOGS:
        case VERB_ATTACH:
                if (n_args != 1)
                        return usage_error("'%s' needs exactly one job id", telerun_verbs[arg_verb].name);
                r = check_job_ids(arg_args);
                if (r < 0)
                        return r;
                if (arg_offset_set && arg_tail != UINT64_MAX)
                        return usage_error("--offset and --tail exclude each other");
                if (arg_follow && arg_until != UINT64_MAX)
                        return usage_error("--until and --follow exclude each other");
                break;
        case VERB_STOP:
        case VERB_WAIT:
        case VERB_RM:
        case VERB_KILL:
                if (n_args == 0)
                        return usage_error("'%s' needs at least one job id", telerun_verbs[arg_verb].name);
                r = check_job_ids(arg_args);
                if (r < 0)
                        return r;
                break;
        case VERB_LIST:
                if (n_args != 0)
                        return usage_error("'list' takes no arguments");
                if (arg_all && arg_states)
                        return usage_error("--all and --state exclude each other");
                if (arg_tail == 0 || (arg_tail != UINT64_MAX && arg_tail > UINT32_MAX))
                        return usage_error("-n needs a number of jobs from 1 to %u", UINT32_MAX);
                break;
        default:
                break;
        }
        return 1;
}

int telerun_exit_from_error(ClientErrorKind kind) {
        switch (kind) {
        case CLIENT_ERROR_NOT_FOUND:
                return TELERUN_EXIT_NOT_FOUND;
        case CLIENT_ERROR_ACCESS_DENIED:
                return TELERUN_EXIT_ACCESS_DENIED;
        case CLIENT_ERROR_INVALID:
                return TELERUN_EXIT_USAGE;
        case CLIENT_ERROR_UNREACHABLE:
                return TELERUN_EXIT_UNREACHABLE;
        default:
                return TELERUN_EXIT_FAILURE;
        }
}

bool telerun_verb_is_job_status(void) {
        return arg_verb == VERB_RUN || arg_verb == VERB_WAIT || arg_verb == VERB_ATTACH ||
               (arg_verb == VERB_START && arg_follow);
}

int telerun_job_failure_exit(const ApiError *api) {
        if (api && streq(api->name, TW_ERROR_EXECUTABLE_NOT_FOUND))
                return TELERUN_EXIT_JOB_NOTFOUND;
        if (api && streq(api->name, TW_ERROR_NOT_EXECUTABLE))
                return TELERUN_EXIT_JOB_NOEXEC;
        return TELERUN_EXIT_JOB_FAILED;
}

const JobListFilter *telerun_list_filter(JobListFilter *buf) {
        *buf = (JobListFilter) {
                .states = arg_states ? arg_states : arg_all ? 0 : JOB_STATES_ACTIVE,
                .since_usec = arg_since != UINT64_MAX ? arg_since : 0,
                .owner = arg_owner,
                .last = arg_tail != UINT64_MAX ? (uint32_t) arg_tail : 0,
        };
        if (buf->states == 0 && buf->since_usec == 0 && !buf->owner && buf->last == 0)
                return NULL;
        return buf;
}
