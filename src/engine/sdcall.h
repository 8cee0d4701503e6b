/* SPDX-License-Identifier: MIT */
/* sdcall.h - a bounded queue for the daemon's method calls to systemd.
 *
 * dbus-daemon lets one connection wait for at most max_replies_per_connection replies (128 on the system
 * bus); past that a call fails at once with "The maximum number of pending replies per connection has been
 * reached" (LimitsExceeded). Hundreds of clients starting and stopping jobs together would get there, so at
 * most max_in_flight calls go out at a time and the rest wait here in FIFO order. A call's timeout counts
 * from sdcall_enqueue(), however long it waited.
 *
 * Ownership: the caller holds the SdCall it got and frees it with sdcall_free() (in its handler or at any
 * time before: a waiting call is dropped, an in-flight one is forgotten but still counted until systemd
 * answers, since dbus-daemon counts it until then). The handler is called at most once, never from
 * sdcall_enqueue() itself, and never after sdcall_free(). The queue outlives its calls' holders. */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "shared/macro.h"

typedef struct SdCallQueue SdCallQueue;
typedef struct SdCall SdCall;

/* Half of the system bus's 128: the rest stays for other calls on the connection (credentials lookups). */
#define SDCALL_IN_FLIGHT_DEFAULT 64U
/* A call with timeout 0 gets sd-bus's default. */
#define SDCALL_TIMEOUT_DEFAULT_USEC (25 * USEC_PER_SEC)

/* reply is the answer (NULL when there was none: timeout while waiting, send failure); error is NULL on
 * success, else the reason (the reply's error, org.freedesktop.DBus.Error.NoReply as sd-bus says for a timeout, or an errno's). */
typedef void (*sdcall_handler_t)(SdCall *c, sd_bus_message *reply, const sd_bus_error *error, void *userdata);

int sdcall_queue_new(sd_bus *bus, sd_event *e, unsigned max_in_flight, SdCallQueue **ret);
/* Drops every call, waiting or in flight, without calling handlers. Holders must not use theirs after. */
SdCallQueue *sdcall_queue_free(SdCallQueue *q);
DEFINE_FREE_FUNC(SdCallQueue, sdcall_queue_free);

/* Sends msg (a method call, not sealed yet or sealed for this bus) now, or later when a place is free. */
int sdcall_enqueue(SdCallQueue *q, sd_bus_message *msg, uint64_t timeout_usec, sdcall_handler_t handler,
                   void *userdata, SdCall **ret);
/* Builds and enqueues a call of systemd's Manager interface: types/... as sd_bus_message_append(). */
int sdcall_enqueue_manager(SdCallQueue *q, const char *method, uint64_t timeout_usec, sdcall_handler_t handler,
                           void *userdata, SdCall **ret, const char *types, ...);
/* Accepts NULL, returns NULL: "c = sdcall_free(c);". */
SdCall *sdcall_free(SdCall *c);
DEFINE_FREE_FUNC(SdCall, sdcall_free);

unsigned sdcall_queue_in_flight(const SdCallQueue *q);
unsigned sdcall_queue_waiting(const SdCallQueue *q);
/* The most calls ever in flight at once (for tests). */
unsigned sdcall_queue_peak(const SdCallQueue *q);
