/* SPDX-License-Identifier: MIT */
/* main.c - teleworker-gateway: options, credentials, sockets (systemd socket activation or --listen), loop. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "teleworker-build.h"
#include "gateway.h"
#include "macro.h"
#include "tls.h"

#define MAX_LISTEN 16

static const char *arg_cert;
static const char *arg_key;
static const char *arg_ca;
static const char *arg_listen[MAX_LISTEN];
static size_t arg_n_listen;
static GatewayConfig arg_config;

static void help(void) {
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
               "     --max-connections=N    Concurrent connections (default %u)\n"
               "  -v --verbose              Log every connection and TLS refusal detail\n\n"
               "Defaults for --cert/--key/--ca: server.crt, server.key, ca.crt in $CREDENTIALS_DIRECTORY\n"
               "(systemd LoadCredential=) if set, else in %s.\n",
               GATEWAY_DEFAULT_PORT, arg_config.max_connections, GATEWAY_CONFIG_DIR);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_CERT, ARG_KEY, ARG_CA, ARG_LISTEN, ARG_MAX_CONNECTIONS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "cert", required_argument, NULL, ARG_CERT },
                { "key", required_argument, NULL, ARG_KEY },
                { "ca", required_argument, NULL, ARG_CA },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "max-connections", required_argument, NULL, ARG_MAX_CONNECTIONS },
                { "verbose", no_argument, NULL, 'v' },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
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
                case ARG_MAX_CONNECTIONS: {
                        char *end = NULL;
                        unsigned long v = strtoul(optarg, &end, 10);

                        if (!end || *end || v == 0 || v > 65536) {
                                fprintf(stderr, "teleworker-gateway: invalid --max-connections '%s'\n", optarg);
                                return -EINVAL;
                        }
                        arg_config.max_connections = (unsigned) v;
                        break;
                }
                case 'v':
                        gateway_log_max_level = LOG_DEBUG;
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

static int run(int argc, char *argv[]) {
        _cleanup_(tls_ssl_ctx_freep) SSL_CTX *ctx = NULL;
        _cleanup_(freep) char *cert = NULL, *key = NULL, *ca = NULL;
        _cleanup_(gateway_freep) Gateway *g = NULL;
        sd_event *event = NULL;
        char err[1024];
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
                gateway_log(LOG_ERR, "Refusing to run as root: start it as an unprivileged user "
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
                gateway_log(LOG_ERR, "%s", err);
                return r;
        }

        /* SSL writes to a socket whose peer is gone must fail with EPIPE, not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&event);
        if (r < 0)
                goto finish;
        (void) sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);

        r = gateway_new(event, NULL, ctx, &arg_config, &g);
        if (r < 0) {
                gateway_log(LOG_ERR, "Failed to connect to the system bus: %s", strerror(-r));
                goto finish;
        }

        n = sd_listen_fds(true);
        if (n < 0) {
                r = n;
                gateway_log(LOG_ERR, "Failed to read the sockets passed by systemd: %s", strerror(-r));
                goto finish;
        }
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;

                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                        gateway_log(LOG_ERR, "Passed file descriptor %d is not a listening stream socket", fd);
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
                        gateway_log(LOG_ERR, "Failed to listen on '%s': %s", arg_listen[i], strerror(-r));
                        goto finish;
                }
                gateway_log(LOG_INFO, "Listening on %s (port %u)", arg_listen[i], port);
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
