/* SPDX-License-Identifier: MIT */
/* timestamp.h - points in time as users write them (telerun --since/--until, the gateway's ?since=/?until=). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The longest text accepted (anything longer is -EINVAL without being looked at further). */
#define TIMESTAMP_TEXT_MAX 64

/* Parses s into µs since the epoch:
 *   - Unix seconds, optionally with a fraction: "1764766800", "1764766800.25";
 *   - RFC 3339: "2026-12-03T13:20:00Z", "2026-12-03T13:20:00.123456+01:00" ('t', 'z', or a space for 'T'
 *     accepted; fractions beyond µs are cut);
 *   - with allow_relative, a duration before now_usec: "90s", "5m", "2h", "1d".
 * -EINVAL when s is none of these (or longer than TIMESTAMP_TEXT_MAX), -ERANGE before 1970 or after 9999. */
int timestamp_parse(const char *s, uint64_t now_usec, bool allow_relative, uint64_t *ret);
