/* SPDX-License-Identifier: MIT */
/* tb-shell.h - shell command lines with telerun in them, as a test user or through the test gateway, for the
 * integration tests of stdin and terminals (test-stdin.c, test-tty.c). */
#pragma once

#include <stdint.h>

#include "tb-gateway.h"

/* bash -c script, with $T = telerun (TELERUN_PATH given by the caller) followed by remote_options: with
 * remote_options NULL as tbuser1 (locally, over the bus), else as root (whose are the test certificates).
 * Waits for it; its stdout and stderr are captured. */
TbResult tb_shell(const char *telerun, const char *remote_options, const char *script);

/* Starts the test gateway (the build directory's, as teleworker-gw) on 127.0.0.1:port with the test
 * certificates, and returns telerun's options to reach it as alice (g_free()). */
char *tb_shell_gateway_up(TbGateway *gw, const char *unit, uint16_t port);
void tb_shell_gateway_down(TbGateway *gw);
