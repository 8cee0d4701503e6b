/* SPDX-License-Identifier: MIT */
/* bus-start.h - the one writer of Start's arguments (docs/dbus.md): telerun's and the gateway's. */
#pragma once

#include <systemd/sd-bus.h>

#include "start-request.h"

/* Appends "as argv, as env, s cwd, a{sv} options" to a Start, StartWithOutput or StartAs call: only the
 * options that are given. -EINVAL when a string is not valid UTF-8 (sd-bus refuses it). */
int bus_append_start_request(sd_bus_message *m, const StartRequest *req);
