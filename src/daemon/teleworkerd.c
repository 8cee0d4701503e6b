/* SPDX-License-Identifier: MIT */
/* teleworkerd - the job worker daemon: one sd-event loop, the system bus, the job engine. */
#include <errno.h>
#include <getopt.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bus/bus-api.h"
#include "core/config.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "engine/manager.h"
#include "engine/job-journal.h"
#include "teleworker-build.h"
#include "core/userdb-proto.h"
#include "engine/userdb.h"

static const char *arg_config = TELEWORKER_CONFIG_FILE;
static Config *the_config;
static Manager *the_manager; /* for STATUS= after a reload */
static const char *arg_state_dir = NULL;

static void help(void) {
        printf("teleworkerd [OPTIONS]\n\n"
               "Runs jobs for local and remote users in systemd transient scopes (D-Bus: org.teleworker.worker1).\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "  -c --config=PATH       Policy file (default: %s)\n"
               "     --state-dir=PATH    Job output and records (default: $STATE_DIRECTORY or %s)\n",
               TELEWORKER_CONFIG_FILE, TELEWORKER_STATE_DIR);
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_STATE_DIR };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts("teleworkerd " TELEWORKER_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "teleworkerd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* $STATE_DIRECTORY may list several directories (colon-separated): ours is the first. */
static char *state_dir_from_env(void) {
        const char *e = getenv("STATE_DIRECTORY");

        if (!e || !*e)
                return strdup(TELEWORKER_STATE_DIR);
        return strndup(e, strcspn(e, ":"));
}

/* SIGHUP / systemctl reload: a new policy for new jobs; running jobs and connections are untouched. A
 * broken file is refused and the policy in force stays. */
static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Config fresh;
        char err[CONFIG_ERROR_MAX] = "";
        int r;

        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading the policy.");
        r = config_init_defaults(&fresh);
        if (r >= 0) {
                r = config_load(&fresh, arg_config, err);
                if (r == -ENOENT)
                        r = 0; /* no file: the built-in defaults */
        }
        if (r >= 0)
                r = config_check_accounts(&fresh, err);
        if (r < 0) {
                log_error("Keeping the current policy: %s is invalid: %s", arg_config, err[0] ? err : strerror(-r));
                config_done(&fresh);
        } else {
                config_done(the_config);
                *the_config = fresh;
                log_info("Reloaded the policy from %s.", arg_config);
        }
        manager_status_notify(the_manager, "READY=1");
        return 0;
}

/* The bus closed our connection (dbus-daemon drops a client whose message passes its limits, or it was
 * restarted): the name is gone and no caller can reach us again. Staying up "active" without it would keep
 * systemd from restarting us and bus activation from starting us, so the service fails instead: systemd
 * restarts it (Restart=on-failure) with the fd store, and the running jobs are adopted. */
static int on_bus_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sd_event *event = userdata;

        log_error("Lost the connection to the system bus; exiting so that systemd restarts the service.");
        (void) sd_notify(false, "STATUS=Lost the system bus.");
        return sd_event_exit(event, -ENOTCONN);
}

static int run(int argc, char **argv) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(dynuser_table_freep) DynUserTable *users = NULL; /* outlives the manager and the service */
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(manager_freep) Manager *manager = NULL;
        _cleanup_(bus_api_freep) BusApi *api = NULL;
        _cleanup_(config_done) Config config = {};
        _cleanup_(freep) char *state_dir = NULL, *users_dir = NULL;
        _cleanup_(userdb_server_freep) UserdbServer *userdb = NULL;
        unsigned skipped = 0;
        char err[CONFIG_ERROR_MAX] = "";
        sigset_t ss;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        /* Every caller's identity is an NSS lookup in the event loop (getpwuid, getgrouplist), and nss-systemd
         * answers those for DynamicUser= accounts by asking PID 1 over Varlink, synchronously: a manager that
         * is busy or hung would stall every client of the daemon with it. Leave those accounts out, as PID 1
         * does for dbus-daemon; a dynamic account has no business here (jobs need real accounts). */
        if (setenv("SYSTEMD_NSS_DYNAMIC_BYPASS", "1", 1) < 0)
                return -errno;
        /* The same for our own userdb service (userdb.h): this process answers it, so a lookup of ours that
         * reached it would wait for itself until nss-systemd's timeout. nss-systemd (systemd 252,
         * userdb_start_query) skips every service named in $SYSTEMD_BYPASS_USERDB (colon-separated), and the
         * multiplexer, which would forward to us, too. Our own users are found in our table, never by NSS;
         * host lookups (is a uid free?) must not see them anyway. Jobs do not inherit this: their
         * environment is built from scratch. */
        if (setenv("SYSTEMD_BYPASS_USERDB", USERDB_SERVICE ":io.systemd.Multiplexer", 1) < 0)
                return -errno;

        r = config_init_defaults(&config);
        if (r < 0)
                return r;
        r = config_load(&config, arg_config, err);
        if (r == -ENOENT)
                log_warning("no policy file at %s, using the built-in defaults", arg_config);
        else if (r < 0) {
                log_error("invalid policy file %s: %s", arg_config, err[0] ? err : strerror(-r));
                return r;
        }

        r = config_check_accounts(&config, err);
        if (r < 0) {
                log_error("invalid policy file %s: %s", arg_config, err[0] ? err : strerror(-r));
                return r;
        }

        state_dir = arg_state_dir ? strdup(arg_state_dir) : state_dir_from_env();
        if (!state_dir)
                return -ENOMEM;
        if (asprintf(&users_dir, "%s/dynamic-users", state_dir) < 0)
                return -ENOMEM;
        r = dynuser_table_load(users_dir, &users, &skipped);
        if (r < 0) {
                log_error("cannot read the dynamic users in %s: %s", users_dir, strerror(-r));
                return r;
        }
        if (skipped > 0)
                log_warning("skipped %u malformed or conflicting entries in %s", skipped, users_dir);

        /* SIGCHLD for the pidfd child sources; SIGTERM/SIGINT end the loop. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&event);
        if (r < 0)
                return r;
        r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return r;
        the_config = &config;
        r = sd_event_add_signal(event, NULL, SIGHUP, on_reload, NULL);
        if (r < 0)
                return r;
        (void) sd_event_set_watchdog(event, true);

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_error("cannot connect to the system bus: %s", strerror(-r));
                return r;
        }
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        /* sd-bus delivers the loss of the connection as this local signal (never sent by a peer). */
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, event);
        if (r < 0)
                return r;

        r = manager_new(event, bus, &config, state_dir, &manager);
        if (r < 0) {
                log_error("cannot set up the job engine (state directory %s): %s", state_dir,
                        strerror(-r));
                return r;
        }
        manager_set_dynamic_users(manager, users);
        /* Without the service jobs still run under their uids; only their names do not resolve. */
        r = userdb_server_new(event, users, USERDB_SOCKET_DIR, &userdb);
        if (r < 0)
                log_warning("cannot serve the dynamic users' names on %s/%s: %s",
                        USERDB_SOCKET_DIR, USERDB_SERVICE, strerror(-r));
        r = bus_api_new(bus, manager, &api);
        if (r < 0)
                return r;
        r = bus_api_request_name(api);
        if (r < 0) {
                log_error("cannot own org.teleworker.worker1 on the system bus: %s", strerror(-r));
                return r;
        }

        log_info("teleworkerd %s: ready (state %s, stop grace %llu ms)", TELEWORKER_VERSION, state_dir,
                (unsigned long long) (config.stop_grace_usec / 1000));
        the_manager = manager;
        manager_status_notify(manager, "READY=1");
        r = sd_event_loop(event);
        the_manager = NULL;
        (void) sd_notify(false, "STOPPING=1");
        return r;
}

int main(int argc, char **argv) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
