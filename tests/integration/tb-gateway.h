/* SPDX-License-Identifier: MIT */
/* tb-gateway.h - teleworker-gateway as a service of the testbed, for the integration tests; the client that can stop
 * anywhere in a response (tests/lib/test-client.h) against it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

#include "test-client.h"

typedef struct TbGateway {
        char *unit;
        uint16_t port;
        pid_t pid;
} TbGateway;

/* Starts build_dir's teleworker-gateway as the transient Type=notify service `unit`, as teleworker-gw, on
 * 127.0.0.1:port with the test server certificate; extra_args (NULL-terminated, may be NULL) are added to
 * its command line, properties ("LimitNOFILE=4096", NULL-terminated, may be NULL) to the unit. */
void tb_gateway_start(TbGateway *gw, const char *build_dir, const char *unit, uint16_t port,
                      const char *const *extra_args, const char *const *properties);
/* The same, false (and gw cleared) if the service did not start: for a configuration it must refuse. */
bool tb_gateway_try_start(TbGateway *gw, const char *build_dir, const char *unit, uint16_t port,
                          const char *const *extra_args, const char *const *properties);
/* Stops it; it must have ended cleanly (result "success": no crash, no sanitizer report). */
void tb_gateway_stop(TbGateway *gw);

/* The unit's MainPID (0 if none), ActiveState and NRestarts, from systemctl. */
pid_t tb_unit_main_pid(const char *unit);
char *tb_unit_property(const char *unit, const char *property);
