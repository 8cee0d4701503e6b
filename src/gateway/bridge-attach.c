/* SPDX-License-Identifier: MIT */
/* bridge-attach.c - POST /v1/jobs/{id}/attach: an HTTP/1.1 Upgrade ("Connection: Upgrade", "Upgrade: tcp", as
 * Docker's attach) to a raw duplex stream with a job's stdin and output. Three calls, each the daemon's own
 * decision as for every other route: GetJobAs (the job, and whether it has a terminal), its output from
 * ?offset= (default 0: replay, then live) with follow: a terminal's one stream as it is (OpenOutputAs), a job
 * without one in the framed format of GET …/output?framed=true (OpenOutputExAs: Docker's attach does the same
 * for a job without a tty), then OpenInputAs (the job's stdin: handed over once, or a copy for a tty job,
 * which can be attached to again). Only then "101 Switching Protocols"; every refusal before it is the usual
 * JSON error, and the connection closes (the client may have sent keys already).
 *
 * Once attached the connection carries no HTTP: what the client sends goes to the job's stdin pipe through
 * the input route's code (bridge-input.c: a piece the pipe does not take waits, reading from the client stops,
 * so a job that does not read holds the client back); the job's output goes out as it is read, unframed
 * (connection_flush(), paced by the socket like any output stream). The client's close_notify is EOF for the
 * job once its input is written, and the output goes on (a FIN or reset without it: the client is gone, the
 * connection ends); the output's end (the job ended and its last
 * byte went out) ends the stream with our close_notify, dropping input still coming. The connection stays
 * "busy": no idle or request deadline applies to a quiet session, the write deadline to a client that stops
 * reading, and it counts against the connection caps as any other. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bus/bus-json.h"
#include "bus/bus-output-options.h"
#include "gateway/gateway-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"

#define ATTACH_SWITCH "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"

/* A refusal after the output was opened: nothing of it goes out. */
static int connection_attach_fail(Connection *c, sd_bus_message *reply, int r, const char *method) {
        connection_output_done(c);
        c->attaching = false;
        return connection_after_event(c, connection_fail_bus(c, reply, r, method));
}

static int on_attach_input_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_attach_fail(c, reply, 0, "OpenInputAs");
        r = connection_input_open(c, reply);
        if (r < 0)
                return connection_attach_fail(c, NULL, r, "OpenInputAs");

        /* The switch: the 101 first, then the output, which was held back until now (output_waiting). */
        r = http_buffer_append(&c->out, ATTACH_SWITCH, strlen(ATTACH_SWITCH));
        if (r < 0)
                return connection_after_event(c, r);
        c->attaching = false;
        c->attached = c->input_streaming = true;
        c->output_waiting = false;
        c->request_started = false;
        log_info("%s %s \"%s\" 101", c->peer, connection_who(c), c->log_target ?: "-");
        c->log_target = mfree(c->log_target);
        /* connection_pump() hands what the client sent after the head (still in c->in) to the job. */
        return connection_after_event(c, 0);
}

static int on_attach_output_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Connection *c = userdata;
        int fd = -EBADF, r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_attach_fail(c, reply, 0, "OpenOutputAs");
        r = c->route.output.framed ? sd_bus_message_read(reply, "ht", &fd, NULL) :
                                     sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return connection_attach_fail(c, NULL, -EBADMSG, "OpenOutputAs");
        r = connection_output_watch(c, fd, "gateway-attach-output");
        if (r < 0)
                return connection_attach_fail(c, NULL, r, "OpenOutputAs");
        /* Not a byte of it before the 101. */
        c->output_waiting = true;

        r = connection_new_call(c, "OpenInputAs", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", c->job_id);
        if (r >= 0)
                r = connection_call(c, m, on_attach_input_reply, c->gateway->config.bus_timeout_usec);
        if (r < 0)
                return connection_attach_fail(c, NULL, r, "OpenInputAs");
        return 0;
}

/* The job: its whole id (the reference may be a prefix or a name), and whether it has a terminal. */
static int on_attach_job_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        Connection *c = userdata;
        json_object *id = NULL, *tty = NULL;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_attach_fail(c, reply, 0, "GetJobAs");
        r = bus_job_props_to_json(reply, &o);
        if (r < 0 || !json_object_object_get_ex(o, "id", &id) || !json_object_is_type(id, json_type_string) ||
            !job_id_is_valid(json_object_get_string(id)))
                return connection_attach_fail(c, NULL, -EBADMSG, "GetJobAs");
        (void) snprintf(c->job_id, sizeof(c->job_id), "%s", json_object_get_string(id));
        if (!json_object_object_get_ex(o, "tty", &tty) || !json_object_get_boolean(tty)) {
                /* stdout and stderr apart: frames. */
                c->route.output = (BusOutputOptions) {
                        .set = OUTPUT_OPT_OFFSET | OUTPUT_OPT_FOLLOW | OUTPUT_OPT_FRAMED,
                        .offset = c->route.offset,
                        .follow = true,
                        .framed = true,
                };
                r = connection_new_call(c, "OpenOutputExAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c->job_id);
                if (r >= 0)
                        r = bus_append_output_options(m, &c->route.output);
        } else {
                r = connection_new_call(c, "OpenOutputAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "stb", c->job_id, c->route.offset, 1);
        }
        if (r >= 0)
                r = connection_call(c, m, on_attach_output_reply, c->gateway->config.bus_timeout_usec);
        if (r < 0)
                return connection_attach_fail(c, NULL, r, "OpenOutputAs");
        return 0;
}

int connection_attach(Connection *c, const HttpRequest *req) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        HttpError e = {};
        int r;

        /* Whatever the answer, the connection ends with this request: after an Upgrade request the client may
         * have sent the stream's first bytes already. */
        c->keep_alive = false;
        if (!req->upgrade || !req->connection_upgrade || !req->upgrade_tcp) {
                http_error_set(&e, 400, "upgrade-required", "Attach switches protocols: send \"Connection: "
                               "Upgrade\" and \"Upgrade: tcp\".");
                return connection_respond_error(c, &e);
        }
        c->attaching = true;
        r = connection_new_call(c, "GetJobAs", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", c->job_id);
        if (r >= 0)
                r = connection_call(c, m, on_attach_job_reply, c->gateway->config.bus_timeout_usec);
        if (r < 0) {
                c->attaching = false;
                return connection_fail_bus(c, NULL, r, "GetJobAs");
        }
        return 0;
}

/* What the client sent (c->in) to the job's stdin, as far as the pipe takes it; the rest waits in input_buf
 * and reading stops. Once the job closed its stdin (or the client its half) the bytes are dropped. */
int connection_attach_input(Connection *c) {
        int r;

        while (c->in_end > c->in_start && c->input_pending == 0 && c->input_fd >= 0) {
                const char *data = c->in + c->in_start;
                size_t n = c->in_end - c->in_start;

                c->in_start = c->in_end = 0;   /* connection_input_write() copies what it leaves */
                r = connection_input_write(c, data, n);
                if (r < 0)
                        return r;
        }
        if (c->input_fd < 0)
                c->in_start = c->in_end = 0;
        return 0;
}

/* The client closed its half with close_notify: EOF for the job once every byte it sent is written, and the
 * output goes on. Without close_notify (a FIN or a reset: telerun's ^], a crash) the client is gone: -ECONNRESET
 * ends the connection, which closes the job's stdin too. (A quiet job would otherwise keep a connection
 * nobody reads open until it ends.) */
int connection_attach_peer_closed(Connection *c) {
        if (!c->peer_close_notify) {
                log_info("%s %s: the client of the attach to %s went away", c->peer, connection_who(c), c->job_id);
                return -ECONNRESET;
        }
        if (!c->attached || c->input_fd < 0 || c->input_pending > 0 || c->in_end > c->in_start)
                return 0;
        log_debug("%s %s: end of the input of %s (%" PRIu64 " bytes)", c->peer, connection_who(c), c->job_id,
                  c->input_bytes);
        connection_input_done(c);
        return 0;
}

/* The job's output is complete (connection_output_read() got its EOF): the stream ends, with our close_notify
 * once the last byte is out. */
int connection_attach_output_end(Connection *c) {
        log_info("%s %s: attach to %s ended: %" PRIu64 " bytes in, %" PRIu64 " bytes out", c->peer,
                 connection_who(c), c->job_id, c->input_bytes, c->output_bytes);
        connection_input_done(c);   /* the job is gone: what the client still sends is dropped */
        c->close_after_flush = true;
        return 0;
}
