/* SPDX-License-Identifier: MIT */
/* bus-start.h - a StartRequest as Start's arguments (docs/dbus.md): the one writer (telerun's and the
 * gateway's) and the one reader (the daemon's). */
#pragma once

#include <systemd/sd-bus.h>

#include "core/list-filter.h"
#include "core/start-request.h"

/* Appends "as argv, as env, s cwd, a{sv} options" to a Start, StartWithOutput or StartAs call: only the
 * options that are given. -EINVAL when a string is not valid UTF-8 (sd-bus refuses it). */
int bus_append_start_request(sd_bus_message *m, const StartRequest *req);

/* Reads Start's arguments into req (whose isolation the caller set to START_ISOLATION_UNSET): argv and env
 * within JOB_ARGV_MAX, JOB_ENV_MAX, JOB_ARG_BYTES_MAX and JOB_REQUEST_BYTES_MAX, then the options (every
 * key and type checked, a repeated key refused). Refusals are InvalidArgs or LimitExceeded in error. The
 * strings are borrowed from msg; bus_start_request_done() frees the two arrays. */
int bus_read_start_request(sd_bus_message *msg, StartRequest *req, sd_bus_error *error);
void bus_start_request_done(StartRequest *r);
/* The a{sv} alone (limits, profile, run-time limit, isolation). req->profile borrows from msg. */
int bus_read_start_options(sd_bus_message *msg, StartRequest *req, sd_bus_error *error);

/* Reads an a{sv} of options, the rule of every options argument of the API: find(key) gives a known key's index
 * (0..63) or -1, and an unknown key is InvalidArgs naming the known ones; a repeated key is InvalidArgs (it
 * would otherwise silently win over the first), so at most one entry per known key is ever read, however long
 * the array; read() reads the entry's variant (msg is at the "v"). */
typedef int (*BusOptionFind)(const char *key);
typedef int (*BusOptionRead)(sd_bus_message *msg, const char *key, int index, void *userdata, sd_bus_error *error);
int bus_read_option_dict(sd_bus_message *msg, const char *known, BusOptionFind find, BusOptionRead read,
                         void *userdata, sd_bus_error *error);
/* Reads an "as" of at most max_n strings, each shorter than JOB_ARG_BYTES_MAX, adding their sizes (with NUL)
 * to *total, which must stay within JOB_REQUEST_BYTES_MAX; refuses (InvalidArgs in error) at the first
 * string past a bound, without reading the rest. The strings are borrowed from m: free() only the array. */
int bus_read_strv_bounded(sd_bus_message *m, const char *what, size_t max_n, size_t *total, char ***ret,
                          sd_bus_error *error);

/* ListFiltered's filter argument (a{sv}: States, Since, Owner, Last; only what f sets), as telerun and the gateway
 * send it. */
int bus_append_list_filter(sd_bus_message *m, const JobListFilter *f);
