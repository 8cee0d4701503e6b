/* SPDX-License-Identifier: MIT */
/* bus-events.c - job state changes as a numbered, bounded ring, read with the Remote method EventsAs (the
 * gateway's GET /v1/events, docs/http.md "Events").
 *
 * Why a ring in the daemon and not the JobStateChanged signal: the signal carries no owner (it is broadcast
 * to whoever the bus policy lets listen), so a reader of one principal's events would have to look every job
 * up; and a client that reconnects wants what it missed. The daemon knows owners and keeps the last
 * EVENTS_RING_SIZE changes. Sequence numbers start at the daemon's start time in µs, so they grow across
 * restarts and an id from before a restart, or one the ring no longer holds, is recognized: the caller gets
 * "reset" and goes on from the newest.
 *
 * EventsAs is a long poll: it answers at once when the caller may see events after its id, else when one
 * comes, else after EVENTS_WAIT_USEC with none (so a waiter whose client left is gone soon). Waiters are
 * bounded in all and per principal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "shared/api.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "bus/bus-internal.h"

typedef struct BusEvent {
        uint64_t seq;       /* 0: an empty slot */
        char id[JOB_ID_STRING_MAX];
        char *owner;
        JobState state;
        JobReason reason;
        int exit_code;
        uint64_t time;
} BusEvent;

typedef struct EventWaiter EventWaiter;
struct EventWaiter {
        BusEvents *events;
        EventWaiter *prev, *next;
        sd_bus_message *msg;
        Principal principal;
        sd_event_source *timer;
};

struct BusEvents {
        BusEvent ring[EVENTS_RING_SIZE];
        uint64_t base;      /* the first event's seq is base + 1 */
        uint64_t newest;    /* base while there is none */
        EventWaiter *waiters;
        unsigned n_waiters;
};

static EventWaiter *event_waiter_free(EventWaiter *w) {
        if (!w)
                return NULL;
        if (w->events) {
                if (w->prev)
                        w->prev->next = w->next;
                else
                        w->events->waiters = w->next;
                if (w->next)
                        w->next->prev = w->prev;
                w->events->n_waiters--;
        }
        sd_event_source_disable_unref(w->timer);
        sd_bus_message_unref(w->msg);
        principal_done(&w->principal);
        free(w);
        return NULL;
}

BusEvents *bus_events_free(BusEvents *e) {
        if (!e)
                return NULL;
        while (e->waiters)
                event_waiter_free(e->waiters);
        for (size_t i = 0; i < ELEMENTSOF(e->ring); i++)
                free(e->ring[i].owner);
        free(e);
        return NULL;
}

int bus_events_new(uint64_t base, BusEvents **ret) {
        BusEvents *e = new0(BusEvents, 1);

        if (!e)
                return -ENOMEM;
        e->base = e->newest = base;
        *ret = e;
        return 0;
}

BusEventsFrom bus_events_classify(uint64_t base, uint64_t newest, uint64_t after) {
        /* The seq of the oldest event held (newest + 1 when none is). */
        uint64_t oldest = newest - base <= EVENTS_RING_SIZE ? base + 1 : newest - EVENTS_RING_SIZE + 1;

        if (after == 0)
                return BUS_EVENTS_FROM_NOW;
        /* after + 1 < oldest, written so that after = UINT64_MAX does not wrap */
        if (after < oldest - 1 || after > newest)
                return BUS_EVENTS_RESET;
        return BUS_EVENTS_AFTER;
}

static const BusEvent *bus_events_get(const BusEvents *e, uint64_t seq) {
        return &e->ring[seq % EVENTS_RING_SIZE];
}

/* Appends one event; a reply built so far is sent by the caller. */
static int bus_event_append(sd_bus_message *reply, const BusEvent *ev) {
        return sd_bus_message_append(reply, "(tssssit)", ev->seq, ev->id, ev->owner, job_state_to_string(ev->state),
                                     job_reason_to_string(ev->reason), ev->exit_code, ev->time);
}

/* Replies with the events in (after, newest] p may see (at most EVENTS_REPLY_MAX), or, if there are none and
 * wait is set, returns 0 without replying. 1 when a reply was sent. */
static int bus_events_reply(BusEvents *e, sd_bus_message *msg, const Principal *p, uint64_t after, bool reset,
                            bool wait) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t last = e->newest;
        unsigned n = 0;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(tssssit)");
        for (uint64_t s = after + 1; r >= 0 && !reset && s <= e->newest; s++) {
                const BusEvent *ev = bus_events_get(e, s);

                if (!authz_can_see(p, ev->owner))
                        continue;
                r = bus_event_append(reply, ev);
                if (++n == EVENTS_REPLY_MAX) {
                        last = s;
                        break;
                }
        }
        if (r < 0)
                return r;
        if (n == 0 && !reset && wait)
                return 0;
        r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "tb", last, (int) reset);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r < 0 ? r : 1;
}

static int on_waiter_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        EventWaiter *w = userdata;

        /* Nothing for this caller: an empty answer, after which it asks again from the newest. */
        (void) bus_events_reply(w->events, w->msg, &w->principal, w->events->newest, false, false);
        event_waiter_free(w);
        return 0;
}

static unsigned bus_events_n_waiters_of(const BusEvents *e, const char *name) {
        unsigned n = 0;

        for (const EventWaiter *w = e->waiters; w; w = w->next)
                n += streq(w->principal.name, name);
        return n;
}

static int bus_events_wait(BusEvents *e, sd_bus_message *msg, Principal *p, sd_bus_error *error) {
        EventWaiter *w;
        int r;

        if (e->n_waiters >= EVENT_WAITERS_MAX || bus_events_n_waiters_of(e, p->name) >= EVENT_WAITERS_PER_PRINCIPAL)
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_READERS,
                                         "Too many event readers are waiting (at most %u, %u per principal).",
                                         EVENT_WAITERS_MAX, EVENT_WAITERS_PER_PRINCIPAL);
        w = new0(EventWaiter, 1);
        if (!w)
                return -ENOMEM;
        r = sd_event_add_time_relative(sd_bus_get_event(sd_bus_message_get_bus(msg)), &w->timer, CLOCK_MONOTONIC,
                                       EVENTS_WAIT_USEC, 0, on_waiter_timeout, w);
        if (r < 0) {
                free(w);
                return r;
        }
        w->msg = sd_bus_message_ref(msg);
        w->principal = *p;
        *p = (Principal) {};    /* the waiter owns the name now */
        w->events = e;
        w->next = e->waiters;
        if (w->next)
                w->next->prev = w;
        e->waiters = w;
        e->n_waiters++;
        return 1;
}

void bus_events_push(BusEvents *e, Job *j) {
        BusEvent *ev;
        char *owner;

        owner = strdup(job_owner(j));
        if (!owner) {
                log_warning("Out of memory: job %s's state change is not among the events.", job_id(j));
                return;
        }
        e->newest++;
        ev = &e->ring[e->newest % EVENTS_RING_SIZE];
        free(ev->owner);
        *ev = (BusEvent) {
                .seq = e->newest,
                .owner = owner,
                .state = job_state(j),
                .reason = job_reason(j),
                .exit_code = job_exit_code(j),
                .time = now_usec(CLOCK_REALTIME),
        };
        (void) snprintf(ev->id, sizeof(ev->id), "%s", job_id(j));

        /* Each waiter that may see it gets it now; the others wait on. */
        for (EventWaiter *w = e->waiters, *next; w; w = next) {
                next = w->next;
                if (!authz_can_see(&w->principal, ev->owner))
                        continue;
                (void) bus_events_reply(e, w->msg, &w->principal, e->newest - 1, false, false);
                event_waiter_free(w);
        }
}

/* EventsAs(s principal, b admin, t after) -> (a(tssssit) events, t last, b reset) */
int bus_method_events(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        BusApi *a = userdata;
        BusEvents *e = a->events;
        uint64_t after;
        int r;

        r = bus_principal(a, msg, &p, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "t", &after);
        if (r < 0)
                return r;
        switch (bus_events_classify(e->base, e->newest, after)) {
        case BUS_EVENTS_FROM_NOW:
                return bus_events_reply(e, msg, &p, e->newest, false, false);
        case BUS_EVENTS_RESET:
                return bus_events_reply(e, msg, &p, e->newest, true, false);
        case BUS_EVENTS_AFTER:
                break;
        }
        r = bus_events_reply(e, msg, &p, after, false, true);
        if (r != 0)
                return r;
        return bus_events_wait(e, msg, &p, error);
}
