/* SPDX-License-Identifier: MIT */
/* main.c - teleworker-gateway: options, credentials, sockets (systemd socket activation or --listen), loop. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "teleworker-build.h"
#include "gateway/gateway.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "transport/tls.h"
#include "shared/util.h"

#define MAX_LISTEN 16
/* Without --crl: this file when it exists (it need not: a gateway without revocations has none). Not a
 * credential: systemd copies credentials once at start, and a revocation must apply without a restart; not
 * under GATEWAY_CONFIG_DIR, which is root-only (the keys). A CRL is public; the file is 0644. */
#define GATEWAY_CRL_DEFAULT GATEWAY_SYSCONF_DIR "/gateway-crl.pem"

static const char *arg_cert;
static const char *arg_key;
static const char *arg_ca;
static const char *arg_listen[MAX_LISTEN];
static size_t arg_n_listen;
static const char *arg_crl;
static GatewayConfig arg_config;

/* The CRL in force and where it comes from (see crl_refresh()). */
typedef struct Crl {
        SSL_CTX *ctx;
        const char *ca_file;
        char *path;
        bool optional;          /* the default path: absent means no revocations */
        bool absent_logged;
        TlsCrlState state;
} Crl;

static const char *format_time(char *buf, size_t size, uint64_t usec) {
        if (usec % USEC_PER_SEC == 0)
                (void) snprintf(buf, size, "%" PRIu64 "s", usec / USEC_PER_SEC);
        else
                (void) snprintf(buf, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        return buf;
}

/* "N" (seconds), "Nms", "Ns", "Nmin": 1 ms to 1 hour. */
static int parse_time(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = { { "ms", USEC_PER_MSEC }, { "s", USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC }, { "", USEC_PER_SEC } };
        char digits[16];
        size_t n = 0;
        uint64_t v;

        while (s[n] >= '0' && s[n] <= '9' && n < sizeof(digits) - 1)
                n++;
        if (n == 0 || n >= sizeof(digits) - 1)
                return -EINVAL;
        memcpy(digits, s, n);
        digits[n] = 0;
        if (parse_uint64(digits, &v) < 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(s + n, units[i].suffix)) {
                        if (v == 0 || v > 3600 * USEC_PER_SEC / units[i].usec)
                                return -ERANGE;
                        *ret = v * units[i].usec;
                        return 0;
                }
        return -EINVAL;
}

static int parse_count(const char *s, unsigned max, unsigned *ret) {
        uint64_t v;

        if (parse_uint64(s, &v) < 0 || v == 0 || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static void help(void) {
        char t[3][32];

        printf("Usage: teleworker-gateway [OPTIONS]\n\n"
               "Serves the teleworker HTTP API over mutually authenticated TLS 1.3 and forwards each request\n"
               "to teleworkerd on the system bus. Started by teleworker-gateway.socket (port %d), or with\n"
               "--listen. Refuses to run as root.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --cert=PATH            Server certificate chain (PEM)\n"
               "     --key=PATH             Its private key (PEM)\n"
               "     --ca=PATH              CA certificate(s) client certificates must chain to (PEM)\n"
               "     --listen=ADDR:PORT     Listen here (repeatable; \"127.0.0.1:8443\", \"[::]:8443\")\n"
               "     --crl=PATH             Certificate revocation list(s) (PEM); re-read when it changes\n"
               "                            and on SIGHUP (default: %s if it exists)\n"
               "     --max-connections=N    Concurrent connections (default %u)\n"
               "     --max-connections-per-address=N   ... from one IPv4 address or IPv6 /64 (default %u)\n"
               "     --max-handshakes-per-address=N    Unfinished TLS handshakes per address (default %u)\n"
               "     --max-connections-per-principal=N Connections of one certificate (default %u)\n"
               "     --handshake-timeout=TIME  Deadline of a TLS handshake (default %s)\n"
               "     --handshake-timeout-busy=TIME  ... while over half of the connections are in use\n"
               "                            (default %s)\n"
               "     --idle-timeout=TIME    Close a kept-alive connection idle this long (default %s)\n"
               "  -v --verbose              Log every connection and TLS refusal detail\n\n"
               "TIME: seconds, or with a unit: 500ms, 10s, 2min. When a limit is reached, an unauthenticated\n"
               "connection (oldest first), else an idle one, is closed to make room.\n"
               "Defaults for --cert/--key/--ca: server.crt, server.key, ca.crt in $CREDENTIALS_DIRECTORY\n"
               "(systemd LoadCredential=) if set, else in %s.\n",
               GATEWAY_DEFAULT_PORT, GATEWAY_CRL_DEFAULT, arg_config.max_connections, arg_config.max_per_address,
               arg_config.max_handshakes_per_address, arg_config.max_per_principal,
               format_time(t[0], sizeof(t[0]), arg_config.handshake_timeout_usec),
               format_time(t[1], sizeof(t[1]), arg_config.handshake_timeout_busy_usec),
               format_time(t[2], sizeof(t[2]), arg_config.idle_timeout_usec), GATEWAY_CONFIG_DIR);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100, ARG_CERT, ARG_KEY, ARG_CA, ARG_CRL, ARG_LISTEN, ARG_MAX_CONNECTIONS,
                ARG_MAX_PER_ADDRESS, ARG_MAX_HANDSHAKES_PER_ADDRESS, ARG_MAX_PER_PRINCIPAL, ARG_HANDSHAKE_TIMEOUT,
                ARG_HANDSHAKE_TIMEOUT_BUSY, ARG_IDLE_TIMEOUT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "cert", required_argument, NULL, ARG_CERT },
                { "key", required_argument, NULL, ARG_KEY },
                { "ca", required_argument, NULL, ARG_CA },
                { "crl", required_argument, NULL, ARG_CRL },
                { "max-connections-per-address", required_argument, NULL, ARG_MAX_PER_ADDRESS },
                { "max-handshakes-per-address", required_argument, NULL, ARG_MAX_HANDSHAKES_PER_ADDRESS },
                { "max-connections-per-principal", required_argument, NULL, ARG_MAX_PER_PRINCIPAL },
                { "handshake-timeout", required_argument, NULL, ARG_HANDSHAKE_TIMEOUT },
                { "handshake-timeout-busy", required_argument, NULL, ARG_HANDSHAKE_TIMEOUT_BUSY },
                { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "max-connections", required_argument, NULL, ARG_MAX_CONNECTIONS },
                { "verbose", no_argument, NULL, 'v' },
                {},
        };
        int c, idx = 0;

        while ((c = getopt_long(argc, argv, "hv", options, &idx)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("teleworker-gateway %s\n", TELEWORKER_VERSION);
                        return 0;
                case ARG_CERT:
                        arg_cert = optarg;
                        break;
                case ARG_KEY:
                        arg_key = optarg;
                        break;
                case ARG_CA:
                        arg_ca = optarg;
                        break;
                case ARG_LISTEN:
                        if (arg_n_listen >= MAX_LISTEN) {
                                fprintf(stderr, "teleworker-gateway: too many --listen addresses\n");
                                return -EINVAL;
                        }
                        arg_listen[arg_n_listen++] = optarg;
                        break;
                case ARG_CRL:
                        arg_crl = optarg;
                        break;
                case ARG_MAX_CONNECTIONS:
                case ARG_MAX_PER_ADDRESS:
                case ARG_MAX_HANDSHAKES_PER_ADDRESS:
                case ARG_MAX_PER_PRINCIPAL: {
                        unsigned *v = c == ARG_MAX_CONNECTIONS ? &arg_config.max_connections :
                                      c == ARG_MAX_PER_ADDRESS ? &arg_config.max_per_address :
                                      c == ARG_MAX_PER_PRINCIPAL ? &arg_config.max_per_principal :
                                                                   &arg_config.max_handshakes_per_address;

                        if (parse_count(optarg, 65536, v) < 0) {
                                fprintf(stderr, "teleworker-gateway: invalid --%s '%s' (1..65536)\n",
                                        options[idx].name, optarg);
                                return -EINVAL;
                        }
                        break;
                }
                case ARG_HANDSHAKE_TIMEOUT:
                case ARG_HANDSHAKE_TIMEOUT_BUSY:
                case ARG_IDLE_TIMEOUT: {
                        uint64_t *v = c == ARG_HANDSHAKE_TIMEOUT ? &arg_config.handshake_timeout_usec :
                                      c == ARG_HANDSHAKE_TIMEOUT_BUSY ? &arg_config.handshake_timeout_busy_usec :
                                                                        &arg_config.idle_timeout_usec;

                        if (parse_time(optarg, v) < 0) {
                                fprintf(stderr, "teleworker-gateway: invalid --%s '%s' (1ms..1h: 10, 500ms, 2min)\n",
                                        options[idx].name, optarg);
                                return -EINVAL;
                        }
                        break;
                }
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "teleworker-gateway: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* An option, else the systemd credential of that name, else the file under /etc. */
static char *credential_path(const char *arg, const char *name) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char *p = NULL;

        if (arg)
                return strdup(arg);
        if (dir && *dir) {
                if (asprintf(&p, "%s/%s", dir, name) < 0)
                        return NULL;
                /* Present (even if unreadable: then the error names this path) or absent: fall back. */
                if (access(p, F_OK) == 0 || errno == EACCES)
                        return p;
                free(p);
        }
        if (asprintf(&p, "%s/%s", GATEWAY_CONFIG_DIR, name) < 0)
                return NULL;
        return p;
}

/* Loads the CRL when it changed (force: in any case). At startup (first) a CRL that does not load is fatal;
 * later the one in force stays, and the failure is logged (once per version of the file). */
static int crl_refresh(Crl *crl, bool force, bool first) {
        char err[1024];
        int r;

        r = tls_crl_refresh(crl->ctx, crl->ca_file, crl->path, force, &crl->state, err, sizeof(err));
        if (r == 0)
                return 0;
        if (r > 0) {
                crl->absent_logged = false;
                log_info("%s CRL '%s': %u CRL(s), %u revoked certificate(s)",
                            first ? "Loaded" : "Reloaded", crl->path, crl->state.n_crls, crl->state.n_revoked);
                if (crl->state.expired)
                        log_warning("The CRL '%s' is past its nextUpdate; its revocations still apply. "
                                    "Issue a new one (teleworker-certs.sh --gencrl).", crl->path);
                return 0;
        }
        if (r == -ENOENT && crl->optional && !crl->state.loaded)
                return 0;   /* no CRL, none expected */
        if (first) {
                log_error("%s", err);
                return r;
        }
        if (r == -ENOENT) {
                if (!crl->absent_logged)
                        log_warning("%s; the CRL loaded before stays in force", err);
                crl->absent_logged = true;
                return r;
        }
        log_error("%s; %s", err, crl->state.loaded ? "the CRL loaded before stays in force" :
                                                           "no CRL in force");
        return r;
}

static void on_accept_hook(void *userdata) {
        (void) crl_refresh(userdata, false, false);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("SIGHUP: re-reading the CRL");
        (void) crl_refresh(userdata, true, false);
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(tls_ssl_ctx_freep) SSL_CTX *ctx = NULL;
        _cleanup_(freep) char *cert = NULL, *key = NULL, *ca = NULL, *crl_path = NULL;
        _cleanup_(gateway_freep) Gateway *g = NULL;
        sd_event *event = NULL;
        char err[1024];
        Crl crl;
        sigset_t mask;
        int r, n;

        /* Each streaming connection holds buffers of a few hundred KiB (docs/design.md). glibc raises its mmap
         * threshold after the first such buffer is freed, so later ones come from the heap, and after a peak of
         * connections the freed heap stays with the process (RSS 25 -> 60 MB after 400 connections, with under
         * 1 MB in use). A fixed threshold keeps them mmap()ed: freed buffers go back to the kernel at once. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);

        gateway_config_init(&arg_config);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        /* Privilege separation is the point of this process: TLS and HTTP parsing never run as root. */
        if (geteuid() == 0) {
                log_error("Refusing to run as root: start it as an unprivileged user "
                            "(teleworker-gateway.service uses User=teleworker-gw).");
                return -EPERM;
        }

        cert = credential_path(arg_cert, "server.crt");
        key = credential_path(arg_key, "server.key");
        ca = credential_path(arg_ca, "ca.crt");
        if (!cert || !key || !ca)
                return -ENOMEM;
        r = tls_server_ctx_new(cert, key, ca, &ctx, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err);
                return r;
        }
        crl_path = strdup(arg_crl ?: GATEWAY_CRL_DEFAULT);
        if (!crl_path)
                return -ENOMEM;
        crl = (Crl) { .ctx = ctx, .ca_file = ca, .path = crl_path, .optional = !arg_crl };
        r = crl_refresh(&crl, true, true);
        if (r < 0)
                return r;
        if (!crl.state.loaded)
                log_info("No CRL ('%s' does not exist): no certificate is revoked", crl_path);

        /* SSL writes to a socket whose peer is gone must fail with EPIPE, not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&event);
        if (r < 0)
                goto finish;
        (void) sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        r = sd_event_add_signal(event, NULL, SIGHUP, on_sighup, &crl);
        if (r < 0)
                goto finish;

        r = gateway_new(event, NULL, ctx, &arg_config, &g);
        if (r < 0) {
                log_error("Failed to connect to the system bus: %s", strerror(-r));
                goto finish;
        }
        gateway_set_accept_hook(g, on_accept_hook, &crl);

        n = sd_listen_fds(true);
        if (n < 0) {
                r = n;
                log_error("Failed to read the sockets passed by systemd: %s", strerror(-r));
                goto finish;
        }
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;

                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                        log_error("Passed file descriptor %d is not a listening stream socket", fd);
                        r = -EBADF;
                        goto finish;
                }
                r = gateway_add_listen_fd(g, fd);
                if (r < 0)
                        goto finish;
        }
        if (n == 0 && arg_n_listen == 0)
                arg_listen[arg_n_listen++] = "0.0.0.0:8443";
        for (size_t i = 0; i < arg_n_listen; i++) {
                uint16_t port = 0;

                r = gateway_listen(g, arg_listen[i], &port);
                if (r < 0) {
                        log_error("Failed to listen on '%s': %s", arg_listen[i], strerror(-r));
                        goto finish;
                }
                log_info("Listening on %s (port %u)", arg_listen[i], port);
        }

        (void) sd_notify(false, "READY=1\nSTATUS=Serving the teleworker HTTP API");
        r = sd_event_loop(event);
        (void) sd_notify(false, "STOPPING=1");

finish:
        g = gateway_free(g);
        sd_event_unref(event);
        return r;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
