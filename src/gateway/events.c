/* SPDX-License-Identifier: MIT */
/* events.c - GET /v1/events (server-sent events of the principal's job state changes, docs/http.md "Events")
 * and GET /v1/version.
 *
 * The daemon keeps the events (src/bus/bus-events.c): the gateway holds none. A stream is a loop of
 * EventsAs long polls, each answered at once when there are events after the last id, else when one comes,
 * else after the daemon's wait (then the client gets a ": keep-alive" comment). The response head goes out
 * with the first answer, so a daemon that is away is a plain 503. A client that does not read does not make
 * the gateway buffer: past GATEWAY_OUT_HIGH of unsent events the stream ends, and the client resumes with
 * Last-Event-ID, losing nothing the daemon still holds. Connections are the ordinary per-principal ones. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "teleworker-build.h"
#include "bus/bus-json.h"
#include "gateway/gateway-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"

#define GATEWAY_API_VERSION 1

int connection_version(Connection *c) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_object_object_add(o, "version", json_object_new_string(TELEWORKER_VERSION)) < 0 ||
            json_object_object_add(o, "api_version", json_object_new_int(GATEWAY_API_VERSION)) < 0)
                return -ENOMEM;
        return connection_respond_json(c, 200, o, NULL);
}

static int connection_events_poll(Connection *c);

/* One event of the reply as JSON; the message is left after it. */
static int events_read_one(sd_bus_message *reply, uint64_t *ret_seq, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        const char *id, *owner, *state, *reason;
        char buf[64];
        uint64_t t;
        int exit_code, r;

        r = sd_bus_message_read(reply, "(tssssit)", ret_seq, &id, &owner, &state, &reason, &exit_code, &t);
        if (r <= 0)
                return r;
        if (!o || json_object_object_add(o, "id", json_object_new_string(id)) < 0 ||
            json_object_object_add(o, "owner", json_object_new_string(owner)) < 0 ||
            json_object_object_add(o, "state", json_object_new_string(state)) < 0 ||
            json_object_object_add(o, "reason", *reason ? json_object_new_string(reason) : NULL) < 0 ||
            json_object_object_add(o, "exit_code", exit_code >= 0 ? json_object_new_int(exit_code) : NULL) < 0 ||
            json_object_object_add(o, "time", json_object_new_string(format_timestamp(buf, sizeof(buf), t))) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 1;
}

static int events_add(Connection *c, uint64_t seq, const char *event, json_object *o) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        _cleanup_(freep) char *text = NULL;
        int n;

        if (!s)
                return -ENOMEM;
        /* JSON text has no newlines (PLAIN): one data line per event. */
        n = asprintf(&text, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", seq, event, s);
        if (n < 0)
                return -ENOMEM;
        return http_buffer_add_chunk(&c->out, text, (size_t) n);
}

static int events_add_reply(Connection *c, sd_bus_message *reply) {
        uint64_t last, seq;
        unsigned n = 0;
        int reset = 0, r;

        r = sd_bus_message_enter_container(reply, 'a', "(tssssit)");
        for (;;) {
                _cleanup_(json_object_putp) json_object *o = NULL;

                if (r < 0)
                        return r;
                r = events_read_one(reply, &seq, &o);
                if (r <= 0)
                        break;
                r = events_add(c, seq, "state", o);
                n++;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "tb", &last, &reset);
        if (r < 0)
                return r;
        if (reset) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                /* The client's id is gone (too old, or from before a restart): what it missed is lost. */
                if (!o || json_object_object_add(o, "last", json_object_new_uint64(last)) < 0)
                        return -ENOMEM;
                r = events_add(c, last, "reset", o);
        } else if (n == 0)
                /* Nothing for this client in the daemon's wait: a comment keeps proxies from timing out. */
                r = http_buffer_add_chunk(&c->out, ": keep-alive\n\n", 14);
        if (r < 0)
                return r;
        c->events_last = last;
        return 0;
}

static int on_events_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        bool head = c->events_head_sent;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL) && !head)
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "EventsAs"));
        if (sd_bus_message_is_method_error(reply, NULL)) {
                /* The daemon went away (or refused more waiters) mid-stream: end the stream; the client
                 * resumes with Last-Event-ID. */
                log_debug("%s %s: events ended: %s", c->peer, connection_who(c), sd_bus_message_get_error(reply)->name);
                r = http_buffer_add_chunk(&c->out, NULL, 0);
                if (r >= 0)
                        connection_request_done(c, 200);
                return connection_after_event(c, r);
        }
        if (!head) {
                r = http_buffer_add_response_head(&c->out, 200, "text/event-stream", -1, c->keep_alive,
                                                  "Cache-Control: no-store\r\n");
                if (r < 0)
                        return connection_after_event(c, r);
                c->events_head_sent = true;
        }
        r = events_add_reply(c, reply);
        if (r < 0) {
                log_warning("%s %s: malformed events from the daemon: %s", c->peer, connection_who(c), strerror(-r));
                return connection_after_event(c, r);
        }
        if (connection_out_pending(c) > GATEWAY_OUT_HIGH) {
                log_info("%s %s: events not read; ending the stream", c->peer, connection_who(c));
                c->keep_alive = false;
                r = http_buffer_add_chunk(&c->out, NULL, 0);
                if (r >= 0)
                        connection_request_done(c, 200);
                return connection_after_event(c, r);
        }
        return connection_after_event(c, connection_events_poll(c));
}

static int connection_events_poll(Connection *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = connection_new_call(c, "EventsAs", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "t", c->events_last);
        /* The daemon answers within its wait (25 s); a client that goes away cancels the call. */
        if (r >= 0)
                r = connection_call(c, m, on_events_reply, USEC_INFINITY);
        return r;
}

int connection_events(Connection *c, const HttpRequest *req) {
        HttpError e = {};
        int r;

        c->events_last = 0;
        c->events_head_sent = false;
        if (*req->last_event_id && parse_uint64(req->last_event_id, &c->events_last) < 0) {
                http_error_set(&e, 400, "bad-request", "Last-Event-ID is not an event id of this gateway.");
                return connection_respond_error(c, &e);
        }
        r = connection_events_poll(c);
        if (r < 0)
                return connection_fail_bus(c, NULL, r, "EventsAs");
        return 0;
}
