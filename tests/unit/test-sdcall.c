/* SPDX-License-Identifier: MIT */
/* test-sdcall - the bounded queue of calls to systemd (src/engine/sdcall.c) against a real sd-bus peer over a
 * socketpair: at most N calls in flight, FIFO for the rest, a freed call never answered and its place kept
 * until its answer, timeouts that count from the enqueue, and a queue freed with calls outstanding. */
#include <glib.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "engine/sdcall.h"
#include "shared/util.h"

typedef struct Fixture {
        sd_event *event;
        sd_bus *client, *server;
        sd_bus_slot *vtable_slot;
        GPtrArray *held;     /* calls the server has not answered yet, in order of arrival */
        unsigned received;   /* calls the server saw */
        unsigned peak_held;
        SdCallQueue *queue;
        GArray *answered;    /* the userdata (an index) of each handler call, in order */
        GPtrArray *errors;   /* the error name of each handler call, "" on success */
} Fixture;

static void message_unref(void *m) {
        sd_bus_message_unref(m);
}

static int method_hold(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fixture *f = userdata;

        f->received++;
        g_ptr_array_add(f->held, sd_bus_message_ref(m));
        f->peak_held = MAX(f->peak_held, f->held->len);
        return 1; /* answered later */
}

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Hold", "u", "u", method_hold, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static void fixture_setup(Fixture *f, gconstpointer data) {
        unsigned max = GPOINTER_TO_UINT(data);
        sd_id128_t id;
        int p[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), ==, 0);
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        g_assert_cmpint(sd_id128_randomize(&id), >=, 0);

        g_assert_cmpint(sd_bus_new(&f->server), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(f->server, p[1], p[1]), >=, 0);
        g_assert_cmpint(sd_bus_set_server(f->server, 1, id), >=, 0);
        g_assert_cmpint(sd_bus_attach_event(f->server, f->event, 0), >=, 0);
        f->held = g_ptr_array_new_with_free_func(message_unref);
        g_assert_cmpint(sd_bus_add_object_vtable(f->server, &f->vtable_slot, "/test", "test.Queue", test_vtable, f),
                        >=, 0);
        g_assert_cmpint(sd_bus_start(f->server), >=, 0);

        g_assert_cmpint(sd_bus_new(&f->client), >=, 0);
        g_assert_cmpint(sd_bus_set_fd(f->client, p[0], p[0]), >=, 0);
        g_assert_cmpint(sd_bus_attach_event(f->client, f->event, 0), >=, 0);
        g_assert_cmpint(sd_bus_start(f->client), >=, 0);

        g_assert_cmpint(sdcall_queue_new(f->client, f->event, max, &f->queue), >=, 0);
        f->answered = g_array_new(false, false, sizeof(unsigned));
        f->errors = g_ptr_array_new_with_free_func(g_free);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        f->queue = sdcall_queue_free(f->queue);
        g_ptr_array_unref(f->held);
        sd_bus_slot_unref(f->vtable_slot);
        sd_bus_flush_close_unref(f->client);
        sd_bus_flush_close_unref(f->server);
        sd_event_unref(f->event);
        g_array_unref(f->answered);
        g_ptr_array_unref(f->errors);
}

typedef struct Call {
        Fixture *f;
        unsigned index;
        SdCall *call;
} Call;

static void on_answer(SdCall *c, sd_bus_message *reply, const sd_bus_error *error, void *userdata) {
        Call *call = userdata;
        uint32_t echo = 0;

        g_assert_true(c == call->call);
        call->call = sdcall_free(call->call);
        g_array_append_val(call->f->answered, call->index);
        g_ptr_array_add(call->f->errors, g_strdup(error ? error->name : ""));
        if (!error) {
                g_assert_nonnull(reply);
                g_assert_cmpint(sd_bus_message_read(reply, "u", &echo), >, 0);
                g_assert_cmpuint(echo, ==, call->index);
        }
}

static void call_enqueue(Fixture *f, Call *call, unsigned index, uint64_t timeout_usec) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        call->f = f;
        call->index = index;
        g_assert_cmpint(sd_bus_message_new_method_call(f->client, &m, NULL, "/test", "test.Queue", "Hold"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "u", (uint32_t) index), >=, 0);
        g_assert_cmpint(sdcall_enqueue(f->queue, m, timeout_usec, on_answer, call, &call->call), >=, 0);
}

/* Runs the loop until cond holds (or fails after 10 s). */
#define RUN_UNTIL(f, cond)                                                                        \
        do {                                                                                      \
                uint64_t _deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;               \
                while (!(cond)) {                                                                 \
                        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC), <, _deadline);                \
                        g_assert_cmpint(sd_event_run((f)->event, 100 * USEC_PER_MSEC), >=, 0);    \
                }                                                                                 \
        } while (0)

/* Runs the loop for a while, whatever happens. */
static void run_for(Fixture *f, uint64_t usec) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + usec;

        for (uint64_t now; (now = now_usec(CLOCK_MONOTONIC)) < end;)
                g_assert_cmpint(sd_event_run(f->event, end - now), >=, 0);
}

/* The server answers every call it holds, in order of arrival. */
static void answer_held(Fixture *f) {
        for (unsigned i = 0; i < f->held->len; i++) {
                sd_bus_message *m = g_ptr_array_index(f->held, i);
                uint32_t index;

                g_assert_cmpint(sd_bus_message_read(m, "u", &index), >, 0);
                g_assert_cmpint(sd_bus_reply_method_return(m, "u", index), >=, 0);
        }
        g_ptr_array_set_size(f->held, 0);
}

#define N_CALLS 200U

static void test_bounded_fifo(Fixture *f, gconstpointer data) {
        unsigned max = GPOINTER_TO_UINT(data);
        Call calls[N_CALLS] = {};

        for (unsigned i = 0; i < N_CALLS; i++)
                call_enqueue(f, &calls[i], i, 30 * USEC_PER_SEC);
        g_assert_cmpuint(sdcall_queue_in_flight(f->queue), ==, max);
        g_assert_cmpuint(sdcall_queue_waiting(f->queue), ==, N_CALLS - max);

        while (f->answered->len < N_CALLS) {
                unsigned batch = MIN(max, N_CALLS - f->answered->len), target = f->answered->len + batch;

                RUN_UNTIL(f, f->held->len == batch);
                /* The next ones are not sent before a place is free. */
                run_for(f, 5 * USEC_PER_MSEC);
                g_assert_cmpuint(f->held->len, ==, batch);
                answer_held(f);
                RUN_UNTIL(f, f->answered->len == target);
        }
        g_assert_cmpuint(f->received, ==, N_CALLS);
        g_assert_cmpuint(f->peak_held, ==, max);
        g_assert_cmpuint(sdcall_queue_peak(f->queue), ==, max);
        for (unsigned i = 0; i < N_CALLS; i++) {
                g_assert_cmpuint(g_array_index(f->answered, unsigned, i), ==, i); /* FIFO */
                g_assert_cmpstr(g_ptr_array_index(f->errors, i), ==, "");
                g_assert_null(calls[i].call);
        }
        g_assert_cmpuint(sdcall_queue_in_flight(f->queue), ==, 0);
        g_assert_cmpuint(sdcall_queue_waiting(f->queue), ==, 0);
}

/* A freed waiting call is never sent nor answered; a freed in-flight call keeps its place until its answer
 * (dbus-daemon counts it until then), and its handler is not called. */
static void test_free(Fixture *f, gconstpointer data) {
        Call a = {}, b = {}, c = {};

        call_enqueue(f, &a, 0, 30 * USEC_PER_SEC);
        call_enqueue(f, &b, 1, 30 * USEC_PER_SEC);
        call_enqueue(f, &c, 2, 30 * USEC_PER_SEC);
        g_assert_cmpuint(sdcall_queue_waiting(f->queue), ==, 2);
        b.call = sdcall_free(b.call);
        g_assert_cmpuint(sdcall_queue_waiting(f->queue), ==, 1);

        RUN_UNTIL(f, f->held->len == 1);
        a.call = sdcall_free(a.call);
        run_for(f, 50 * USEC_PER_MSEC);
        g_assert_cmpuint(f->received, ==, 1); /* c still waits for a's place */
        g_assert_cmpuint(sdcall_queue_in_flight(f->queue), ==, 1);

        answer_held(f);
        RUN_UNTIL(f, f->held->len == 1);
        g_assert_cmpuint(f->received, ==, 2);
        g_assert_cmpuint(f->answered->len, ==, 0); /* nothing for a */
        answer_held(f);
        RUN_UNTIL(f, f->answered->len == 1);
        g_assert_cmpuint(g_array_index(f->answered, unsigned, 0), ==, 2);
        run_for(f, 20 * USEC_PER_MSEC);
        g_assert_cmpuint(f->received, ==, 2); /* b was never sent */
        g_assert_cmpuint(f->answered->len, ==, 1);
}

/* A call's timeout counts from its enqueue: one that waits past it fails with NoReply (as sd-bus says for a call sent that timed out) without being sent;
 * one sent late gets only what is left of its time. */
static void test_timeout(Fixture *f, gconstpointer data) {
        Call a = {}, b = {}, c = {};
        uint64_t t0;

        call_enqueue(f, &a, 0, 30 * USEC_PER_SEC);
        RUN_UNTIL(f, f->held->len == 1);

        t0 = now_usec(CLOCK_MONOTONIC);
        call_enqueue(f, &b, 1, 200 * USEC_PER_MSEC);
        RUN_UNTIL(f, f->answered->len == 1);
        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - t0, >=, 200 * USEC_PER_MSEC);
        g_assert_cmpuint(g_array_index(f->answered, unsigned, 0), ==, 1);
        g_assert_cmpstr(g_ptr_array_index(f->errors, 0), ==, SD_BUS_ERROR_NO_REPLY);
        g_assert_cmpuint(f->received, ==, 1);
        g_assert_null(b.call);

        t0 = now_usec(CLOCK_MONOTONIC);
        call_enqueue(f, &c, 2, 1500 * USEC_PER_MSEC);
        run_for(f, 1000 * USEC_PER_MSEC);
        answer_held(f); /* a done: c goes out with about 500 ms left, and the server holds it */
        RUN_UNTIL(f, f->answered->len == 3);
        g_assert_cmpuint(f->received, ==, 2);
        g_assert_cmpstr(g_ptr_array_index(f->errors, 2), ==, SD_BUS_ERROR_NO_REPLY);
        /* 1.5 s from its enqueue, not 1.5 s from its sending (2.5 s). */
        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - t0, <, 2300 * USEC_PER_MSEC);
        g_assert_cmpuint(now_usec(CLOCK_MONOTONIC) - t0, >=, 1500 * USEC_PER_MSEC);
}

/* Freeing the queue with calls waiting and in flight calls no handler; the holders may free theirs after. */
static void test_queue_free(Fixture *f, gconstpointer data) {
        Call a = {}, b = {}, c = {};

        call_enqueue(f, &a, 0, 30 * USEC_PER_SEC);
        call_enqueue(f, &b, 1, 30 * USEC_PER_SEC);
        call_enqueue(f, &c, 2, 30 * USEC_PER_SEC);
        RUN_UNTIL(f, f->held->len == 1);
        c.call = sdcall_free(c.call);
        f->queue = sdcall_queue_free(f->queue);
        answer_held(f);
        run_for(f, 50 * USEC_PER_MSEC);
        g_assert_cmpuint(f->answered->len, ==, 0);
        a.call = sdcall_free(a.call);
        b.call = sdcall_free(b.call);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/sdcall/bounded-fifo/1", Fixture, GUINT_TO_POINTER(1), fixture_setup, test_bounded_fifo,
                   fixture_teardown);
        g_test_add("/sdcall/bounded-fifo/64", Fixture, GUINT_TO_POINTER(64), fixture_setup, test_bounded_fifo,
                   fixture_teardown);
        g_test_add("/sdcall/free", Fixture, GUINT_TO_POINTER(1), fixture_setup, test_free, fixture_teardown);
        g_test_add("/sdcall/timeout", Fixture, GUINT_TO_POINTER(1), fixture_setup, test_timeout, fixture_teardown);
        g_test_add("/sdcall/queue-free", Fixture, GUINT_TO_POINTER(1), fixture_setup, test_queue_free,
                   fixture_teardown);
        return g_test_run();
}
