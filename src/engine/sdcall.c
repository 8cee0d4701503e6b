/* SPDX-License-Identifier: MIT */
/* sdcall.c - a bounded queue for the daemon's method calls to systemd (sdcall.h says why). */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

#include "engine/sdcall.h"
#include "shared/util.h"

typedef enum SdCallState {
        SDCALL_WAITING,
        SDCALL_IN_FLIGHT,
        SDCALL_FAILED, /* could not be sent after waiting: reported by its timer */
        SDCALL_DONE,
} SdCallState;

struct SdCall {
        SdCallQueue *queue;     /* NULL once the queue is gone */
        SdCall *prev, *next;    /* in the queue's waiting or in-flight list, per state */
        SdCallState state;
        bool floating;          /* the holder freed it while in flight: freed at the answer */
        sd_bus_message *msg;    /* until sent */
        sd_bus_slot *slot;      /* while in flight */
        sd_event_source *timer; /* while waiting: the deadline, or "now" to report send_error */
        uint64_t deadline;      /* CLOCK_MONOTONIC */
        int send_error;         /* sending failed after waiting: reported from the timer */
        sdcall_handler_t handler;
        void *userdata;
};

typedef struct SdCallList {
        SdCall *head, *tail;
        unsigned n;
} SdCallList;

struct SdCallQueue {
        sd_bus *bus;
        sd_event *event;
        unsigned max_in_flight;
        unsigned peak;
        SdCallList waiting, in_flight, failed;
};

static void list_append(SdCallList *l, SdCall *c) {
        c->prev = l->tail;
        c->next = NULL;
        if (l->tail)
                l->tail->next = c;
        else
                l->head = c;
        l->tail = c;
        l->n++;
}

static void list_remove(SdCallList *l, SdCall *c) {
        assert(l->n > 0);
        if (c->prev)
                c->prev->next = c->next;
        else
                l->head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                l->tail = c->prev;
        c->prev = c->next = NULL;
        l->n--;
}

/* Takes c out of its list and lets go of everything it holds in sd-bus and sd-event. */
static void sdcall_detach(SdCall *c) {
        if (c->queue && c->state == SDCALL_WAITING)
                list_remove(&c->queue->waiting, c);
        else if (c->queue && c->state == SDCALL_IN_FLIGHT)
                list_remove(&c->queue->in_flight, c);
        else if (c->queue && c->state == SDCALL_FAILED)
                list_remove(&c->queue->failed, c);
        c->state = SDCALL_DONE;
        c->slot = sd_bus_slot_unref(c->slot);
        c->timer = sd_event_source_disable_unref(c->timer);
        c->msg = sd_bus_message_unref(c->msg);
}

static void sdcall_report(SdCall *c, sd_bus_message *reply, const sd_bus_error *error) {
        if (c->floating) {
                free(c);
                return;
        }
        if (c->handler)
                c->handler(c, reply, error, c->userdata);
}

static void sdcall_queue_pump(SdCallQueue *q);

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        SdCall *c = userdata;
        SdCallQueue *q = c->queue;

        assert(q && c->state == SDCALL_IN_FLIGHT);
        /* A timeout sd-bus synthesized frees the place early (dbus-daemon counts the call until systemd
         * answers or its own reply_timeout): the bound's slack below 128 is for that too. */
        sdcall_detach(c);
        /* The handler may free c and enqueue more: the place is taken by the waiting ones first. */
        sdcall_queue_pump(q);
        sdcall_report(c, reply, sd_bus_message_get_error(reply));
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SdCall *c = userdata;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        assert(c->state == SDCALL_WAITING || c->state == SDCALL_FAILED);
        if (c->send_error < 0 && c->send_error != -ETIMEDOUT)
                (void) sd_bus_error_set_errno(&e, c->send_error);
        else
                (void) sd_bus_error_set_const(&e, SD_BUS_ERROR_NO_REPLY,
                                              "The call to systemd timed out while waiting for its turn.");
        sdcall_detach(c);
        sdcall_report(c, NULL, &e);
        sd_bus_error_free(&e);
        return 0;
}

/* Sends c with what is left of its time. */
static int sdcall_send(SdCallQueue *q, SdCall *c) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        assert(c->msg && !c->slot);
        if (now >= c->deadline)
                return -ETIMEDOUT;
        r = sd_bus_call_async(q->bus, &c->slot, c->msg, on_reply, c, c->deadline - now);
        if (r < 0)
                return r;
        c->msg = sd_bus_message_unref(c->msg);
        c->timer = sd_event_source_disable_unref(c->timer);
        c->state = SDCALL_IN_FLIGHT;
        list_append(&q->in_flight, c);
        q->peak = MAX(q->peak, q->in_flight.n);
        return 0;
}

static void sdcall_queue_pump(SdCallQueue *q) {
        while (q->waiting.head && q->in_flight.n < q->max_in_flight) {
                SdCall *c = q->waiting.head;
                int r;

                list_remove(&q->waiting, c);
                r = sdcall_send(q, c);
                if (r >= 0)
                        continue;
                /* Reported from the event loop, through the deadline's timer made due now: the caller of
                 * pump may be inside a handler. */
                c->state = SDCALL_FAILED;
                c->send_error = r;
                list_append(&q->failed, c);
                /* Should that fail, the timer still fires at the deadline. */
                (void) sd_event_source_set_time(c->timer, 1);
        }
}

int sdcall_queue_new(sd_bus *bus, sd_event *e, unsigned max_in_flight, SdCallQueue **ret) {
        SdCallQueue *q;

        assert(bus && e && ret);
        q = new0(SdCallQueue, 1);
        if (!q)
                return -ENOMEM;
        q->bus = sd_bus_ref(bus);
        q->event = sd_event_ref(e);
        q->max_in_flight = max_in_flight > 0 ? max_in_flight : SDCALL_IN_FLIGHT_DEFAULT;
        *ret = q;
        return 0;
}

static void sdcall_list_orphan(SdCallList *l) {
        while (l->head) {
                SdCall *c = l->head;
                bool floating = c->floating;

                sdcall_detach(c);
                c->queue = NULL;
                if (floating)
                        free(c);
        }
}

SdCallQueue *sdcall_queue_free(SdCallQueue *q) {
        if (!q)
                return NULL;
        sdcall_list_orphan(&q->waiting);
        sdcall_list_orphan(&q->in_flight);
        sdcall_list_orphan(&q->failed);
        sd_bus_unref(q->bus);
        sd_event_unref(q->event);
        free(q);
        return NULL;
}

int sdcall_enqueue(SdCallQueue *q, sd_bus_message *msg, uint64_t timeout_usec, sdcall_handler_t handler,
                   void *userdata, SdCall **ret) {
        SdCall *c;
        int r;

        assert(q && msg && ret);
        c = new0(SdCall, 1);
        if (!c)
                return -ENOMEM;
        c->queue = q;
        c->msg = sd_bus_message_ref(msg);
        c->deadline = now_usec(CLOCK_MONOTONIC) + (timeout_usec > 0 ? timeout_usec : SDCALL_TIMEOUT_DEFAULT_USEC);
        c->handler = handler;
        c->userdata = userdata;

        if (q->in_flight.n < q->max_in_flight && !q->waiting.head) {
                r = sdcall_send(q, c);
                if (r < 0) {
                        sd_bus_message_unref(c->msg);
                        free(c);
                        return r;
                }
                *ret = c;
                return 0;
        }

        r = sd_event_add_time(q->event, &c->timer, CLOCK_MONOTONIC, c->deadline, 0, on_timer, c);
        if (r < 0) {
                sd_bus_message_unref(c->msg);
                free(c);
                return r;
        }
        c->state = SDCALL_WAITING;
        list_append(&q->waiting, c);
        *ret = c;
        return 0;
}

int sdcall_enqueue_manager(SdCallQueue *q, const char *method, uint64_t timeout_usec, sdcall_handler_t handler,
                           void *userdata, SdCall **ret, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(q->bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", method);
        if (r < 0)
                return r;
        va_start(ap, types);
        r = sd_bus_message_appendv(msg, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return sdcall_enqueue(q, msg, timeout_usec, handler, userdata, ret);
}

SdCall *sdcall_free(SdCall *c) {
        if (!c)
                return NULL;
        if (c->queue && c->state == SDCALL_IN_FLIGHT) {
                /* dbus-daemon counts it until systemd answers: keep the place taken until then. */
                c->floating = true;
                c->handler = NULL;
                c->userdata = NULL;
                return NULL;
        }
        sdcall_detach(c);
        free(c);
        return NULL;
}

unsigned sdcall_queue_in_flight(const SdCallQueue *q) {
        return q->in_flight.n;
}

unsigned sdcall_queue_waiting(const SdCallQueue *q) {
        return q->waiting.n;
}

unsigned sdcall_queue_peak(const SdCallQueue *q) {
        return q->peak;
}
