/* SPDX-License-Identifier: MIT */
/* bus-events.h - how EventsAs reads a caller's last event id against the ring (bus-events.c): the pure part,
 * for the unit tests. */
#pragma once

#include <stdint.h>

#define EVENTS_RING_SIZE 1024U

typedef enum BusEventsFrom {
        BUS_EVENTS_FROM_NOW,    /* after = 0: no backlog, from the newest on */
        BUS_EVENTS_RESET,       /* an id the ring does not hold (too old, before a restart, from the future) */
        BUS_EVENTS_AFTER,       /* the events after it are all held */
} BusEventsFrom;

/* base: the daemon's first seq minus one; newest: the newest seq (base while there is none). */
BusEventsFrom bus_events_classify(uint64_t base, uint64_t newest, uint64_t after);
