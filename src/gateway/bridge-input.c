/* SPDX-License-Identifier: MIT */
/* bridge-input.c - the gateway's side of a job's stdin (POST /v1/jobs/{id}/input) and terminal size
 * (POST /v1/jobs/{id}/resize): the request body is streamed into the pipe OpenInputAs hands out, never
 * buffered whole. The parser stops after each piece of the body (connection_input_wants_body()); a piece the
 * pipe does not take yet stays in the connection's input buffer and the job's fd is watched for room, so a
 * job that does not read holds the client back through TCP (backpressure, no unbounded memory). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <json-c/json.h>
#include "shared/api.h"
#include "bus/bus-json.h"
#include "bus/bus-start.h"
#include "gateway/gateway-internal.h"
#include "transport/http-job.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"

/* ---- a job's input (POST …/input) ---------------------------------------------------------------------- */

bool connection_input_wants_body(const Connection *c) {
        return c->input_streaming && c->input_pending == 0;
}

void connection_input_done(Connection *c) {
        c->input_source = sd_event_source_disable_unref(c->input_source);
        c->input_fd = safe_close(c->input_fd);
        c->input_buf = mfree(c->input_buf);
        c->input_pending = 0;
        c->input_streaming = c->input_closed_by_job = false;
}

/* Writes what the pipe takes; 1 when some is left (wait for the pipe), 0 when all went, <0 on error. A job that
 * closed its stdin takes the rest as read (it is dropped, the client learns it in the response). */
static int connection_input_push(Connection *c, const char *data, size_t n, size_t *ret_written) {
        size_t done = 0;

        while (done < n && !c->input_closed_by_job) {
                ssize_t k = write(c->input_fd, data + done, n - done);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        break;
                if (k < 0 && errno == EPIPE) {
                        c->input_closed_by_job = true;
                        c->input_fd = safe_close(c->input_fd);
                        break;
                }
                if (k < 0)
                        return -errno;
                done += (size_t) k;
                c->input_bytes += (uint64_t) k;
        }
        *ret_written = done;
        return done < n && !c->input_closed_by_job;
}

static int on_input_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;
        size_t written = 0;
        int r;

        r = connection_input_push(c, c->input_buf, c->input_pending, &written);
        if (r < 0)
                return connection_after_event(c, r);
        memmove(c->input_buf, c->input_buf + written, c->input_pending - written);
        c->input_pending -= written;
        if (r == 0) {
                c->input_pending = 0;
                r = sd_event_source_set_enabled(c->input_source, SD_EVENT_OFF);
        }
        /* The parser takes the next piece now (connection_process_input()). */
        return connection_after_event(c, r);
}

/* A piece of the body (it points into the connection's input buffer, which the next feed may reuse). */
int connection_input_write(Connection *c, const char *data, size_t n) {
        size_t written = 0;
        int r;

        r = connection_input_push(c, data, n, &written);
        if (r <= 0)
                return r;
        if (!c->input_buf) {
                c->input_buf = malloc(GATEWAY_IN_MAX);
                if (!c->input_buf)
                        return -ENOMEM;
        }
        assert(n - written <= GATEWAY_IN_MAX);
        memcpy(c->input_buf, data + written, n - written);
        c->input_pending = n - written;
        return sd_event_source_set_enabled(c->input_source, SD_EVENT_ON);
}

/* The body ended: the job reads EOF. The answer says how much it got. */
int connection_input_end(Connection *c) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        bool closed = c->input_closed_by_job;
        uint64_t bytes = c->input_bytes;

        connection_input_done(c);
        if (!o || json_object_object_add(o, "id", json_object_new_string(c->job_id)) < 0 ||
            json_object_object_add(o, "bytes", json_object_new_int64((int64_t) bytes)) < 0 ||
            json_object_object_add(o, "closed_by_job", json_object_new_boolean(closed)) < 0)
                return -ENOMEM;
        log_debug("%s %s: wrote %" PRIu64 " bytes to the input of %s", c->peer, connection_who(c), bytes, c->job_id);
        return connection_respond_json(c, 200, o, NULL);
}

/* Takes the fd of OpenInputAs' reply (a copy: the message owns its own), non-blocking, watched for room only
 * while a piece waits (input_pending). */
int connection_input_open(Connection *c, sd_bus_message *reply) {
        int fd = -EBADF, r;

        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return -EBADMSG;
        c->input_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (c->input_fd < 0)
                return -errno;
        r = fd_nonblock(c->input_fd, true);
        if (r >= 0)
                r = sd_event_add_io(c->gateway->event, &c->input_source, c->input_fd, EPOLLOUT, on_input_io, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->input_source, SD_EVENT_OFF);
        if (r < 0) {
                connection_input_done(c);
                return r;
        }
        (void) sd_event_source_set_description(c->input_source, "gateway-input");
        return 0;
}

int connection_on_input_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        int r;

        bool keep_alive = c->keep_alive;

        c->slot = sd_bus_slot_unref(c->slot);
        /* Refused: the body was never read, so the connection cannot go on to a next request. */
        c->keep_alive = false;
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "OpenInputAs"));
        r = connection_input_open(c, reply);
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, r, "OpenInputAs"));
        c->keep_alive = keep_alive;
        c->input_streaming = true;
        if (c->parser.request.expect_continue)
                r = http_buffer_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        return connection_after_event(c, r);
}

int connection_on_resize_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        Connection *c = userdata;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "ResizeAs"));
        if (!o || json_object_object_add(o, "id", json_object_new_string(c->job_id)) < 0 ||
            json_object_object_add(o, "rows", json_object_new_int(c->route.rows)) < 0 ||
            json_object_object_add(o, "cols", json_object_new_int(c->route.cols)) < 0)
                return connection_after_event(c, -ENOMEM);
        return connection_after_event(c, connection_respond_json(c, 200, o, NULL));
}
