/* SPDX-License-Identifier: MIT */
/* bus-output-options.h - OpenOutputEx's and ReadOutputEx's a{sv} options (docs/dbus.md): the one writer (telerun's and the
 * gateway's) and the one reader (the daemon's). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* Which options are given; an absent one takes its default. */
enum {
        OUTPUT_OPT_OFFSET = 1u << 0,
        OUTPUT_OPT_FOLLOW = 1u << 1,
        OUTPUT_OPT_STREAM = 1u << 2,
        OUTPUT_OPT_SINCE = 1u << 3,
        OUTPUT_OPT_UNTIL = 1u << 4,
        OUTPUT_OPT_TAIL = 1u << 5,
        OUTPUT_OPT_FRAMED = 1u << 6,
        OUTPUT_OPT_TIMESTAMPS = 1u << 7,
        OUTPUT_OPT_MAX = 1u << 8,       /* ReadOutputEx only */
};

typedef struct BusOutputOptions {
        unsigned set;           /* OUTPUT_OPT_* */
        uint64_t offset;        /* first byte of the merged stream (default 0) */
        bool follow;
        const char *stream;     /* "stdout", "stderr" or "both" (default); borrowed */
        uint64_t since;         /* µs since the epoch: from the first byte captured then or later */
        uint64_t until;         /* µs since the epoch: only bytes captured before; no follow then */
        uint64_t tail;          /* the last N lines of the selected streams */
        bool framed;            /* frames (the multiplexed format) instead of plain bytes */
        bool timestamps;        /* frames with their capture time; implies framed */
        uint64_t max;           /* ReadOutputEx: bytes to return at most (default and cap READ_OUTPUT_MAX) */
} BusOutputOptions;

/* Appends the a{sv}: only the options set. */
int bus_append_output_options(sd_bus_message *m, const BusOutputOptions *o);
/* Reads the a{sv}: every key and type checked, a repeated key and an unknown stream refused (InvalidArgs in
 * error). o->stream borrows from msg. */
int bus_read_output_options(sd_bus_message *msg, BusOutputOptions *o, sd_bus_error *error);
/* ReadOutputEx's a{sv}: only offset, max and stream, with the same checks. */
int bus_read_read_output_options(sd_bus_message *msg, BusOutputOptions *o, sd_bus_error *error);
