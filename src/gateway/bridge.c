/* SPDX-License-Identifier: MIT */
/* bridge.c - the gateway's HTTP -> D-Bus bridge: a parsed request is routed and becomes exactly one
 * asynchronous call of teleworkerd's Remote interface (two for start and stop: the job object is fetched
 * afterwards); its reply becomes the response. Output streaming copies from the fd teleworkerd passes to
 * the connection through a bounded buffer: when the client does not read, reading from the job's stream stops
 * (backpressure) and connection.c's write timeout eventually closes the connection.
 *
 * Nothing here blocks: the bus calls are sd_bus_call_async() and the output fd is non-blocking. */
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

/* ---- errors -------------------------------------------------------------------------------------------- */

void gateway_error_from_bus(const sd_bus_error *error, int r, HttpError *ret) {
        const ApiError *e;

        if (sd_bus_error_is_set(error)) {
                e = api_error_from_name(error->name);
                if (!e) {
                        http_error_set(ret, 500, "internal-error", "Internal error.");
                        return;
                }
                /* The daemon's messages are written for callers; bus-level ones (503) are not. */
                if (e->http_status == 503)
                        http_error_set(ret, 503, e->http_code, "The job daemon is not available.");
                else
                        http_error_set(ret, e->http_status, e->http_code, "%s",
                                       error->message && *error->message ? error->message : "Request refused.");
                return;
        }
        if (api_errno_is_unreachable(r))
                http_error_set(ret, 503, "daemon-unavailable", "The job daemon is not available.");
        else
                http_error_set(ret, 500, "internal-error", "Internal error.");
}

/* ---- connections: responses ---------------------------------------------------------------------------- */

/* The request is answered (its response is queued): log it, decide about keep-alive, accept the next. */
void connection_request_done(Connection *c, unsigned status) {
        log_info("%s %s \"%s\" %u", c->peer, connection_who(c), c->log_target ?: "-", status);
        c->log_target = mfree(c->log_target);
        c->busy = false;
        c->slot = sd_bus_slot_unref(c->slot);
        if (!c->keep_alive)
                c->close_after_flush = true;
        c->activity_usec = gateway_now(c->gateway);
        http_parser_next(&c->parser);
        c->request_started = false;
}

int connection_respond_error(Connection *c, const HttpError *e) {
        int r;

        r = http_buffer_add_error_response(&c->out, e, c->keep_alive);
        if (r < 0)
                return r;
        connection_request_done(c, e->status);
        return 0;
}

int connection_respond_json(Connection *c, unsigned status, json_object *o, const char *extra_headers) {
        const char *s;
        int r;

        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        r = http_buffer_add_json_response(&c->out, status, s, c->keep_alive, extra_headers);
        if (r < 0)
                return r;
        connection_request_done(c, status);
        return 0;
}

/* Reply callbacks finish here: push what was queued, or end the connection. */
int connection_after_event(Connection *c, int r) {
        if (r >= 0)
                r = connection_pump(c);
        if (r == 0)
                r = connection_update(c);
        if (r != 0)
                connection_end(c, r);
        return 0;
}

/* A failed reply or a failure to make the call; the response is the mapped error. */
int connection_fail_bus(Connection *c, sd_bus_message *reply, int r, const char *method) {
        HttpError e = {};

        if (reply)
                log_debug("%s %s: %s failed: %s: %s", c->peer, connection_who(c), method,
                          sd_bus_message_get_error(reply)->name, sd_bus_message_get_error(reply)->message);
        else
                log_warning("%s %s: %s failed: %s", c->peer, connection_who(c), method, strerror(-r));
        gateway_error_from_bus(reply ? sd_bus_message_get_error(reply) : NULL, r, &e);
        if (e.status == 500 && reply)
                log_warning("%s %s: %s failed: %s", c->peer, connection_who(c), method,
                            sd_bus_message_get_error(reply)->name);
        return connection_respond_error(c, &e);
}

int connection_new_call(Connection *c, const char *method, sd_bus_message **ret) {
        sd_bus *bus;
        int r;

        r = connection_get_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, ret, GATEWAY_BUS_NAME, GATEWAY_BUS_PATH, GATEWAY_BUS_INTERFACE,
                                           method);
        if (r < 0)
                return r;
        return sd_bus_message_append(*ret, "sb", c->principal.name, (int) c->principal.admin);
}

int connection_call(Connection *c, sd_bus_message *m, sd_bus_message_handler_t callback,
                           uint64_t timeout) {
        /* The slot is ours: freeing the connection cancels the call. */
        return sd_bus_call_async(sd_bus_message_get_bus(m), &c->slot, m, callback, c, timeout);
}

static int on_props_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

/* GetJobAs for c->job_id, answered with status. */
static int connection_get_job(Connection *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = connection_new_call(c, "GetJobAs", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", c->job_id);
        if (r >= 0)
                r = connection_call(c, m, on_props_reply, c->gateway->config.bus_timeout_usec);
        return r;
}

static int on_props_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(http_json_putp) json_object *o = NULL;
        Connection *c = userdata;
        char extra[128] = "";
        unsigned status = 200;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "GetJobAs/WaitAs"));

        r = bus_job_props_to_json(reply, &o);
        if (r < 0) {
                log_warning("%s %s: malformed job properties from the daemon: %s", c->peer, connection_who(c),
                            strerror(-r));
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "GetJobAs"));
        }
        if (c->route.id == HTTP_ROUTE_JOBS_START) {
                status = 201;
                (void) snprintf(extra, sizeof(extra), "Location: /v1/jobs/%s\r\n", c->job_id);
        }
        return connection_after_event(c, connection_respond_json(c, status, o, extra));
}

static int on_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        const char *id = NULL, *path = NULL;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "StartAs"));
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0 || !job_id_is_valid(id))
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "StartAs"));
        (void) snprintf(c->job_id, sizeof(c->job_id), "%s", id);
        log_info("%s %s: started job %s", c->peer, connection_who(c), c->job_id);

        r = connection_get_job(c);
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, r, "GetJobAs"));
        return 0;
}

static int on_stop_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, c->route.id == HTTP_ROUTE_JOB_KILL ?
                                                                                  "KillAs" : "StopAs"));
        r = connection_get_job(c);
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, r, "GetJobAs"));
        return 0;
}

/* DELETE: the id the reference stood for, as a JSON object (the job itself is gone). */
static int on_remove_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(http_json_putp) json_object *o = NULL;
        Connection *c = userdata;
        const char *id = NULL;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "RemoveAs"));
        if (sd_bus_message_read(reply, "s", &id) < 0 || !job_id_is_valid(id))
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "RemoveAs"));
        log_info("%s %s: removed job %s", c->peer, connection_who(c), id);
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "id", json_object_new_string(id)) < 0)
                return connection_after_event(c, -ENOMEM);
        return connection_after_event(c, connection_respond_json(c, 200, o, NULL));
}

static int on_list_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(http_json_putp) json_object *o = NULL;
        json_object *jobs = NULL;
        Connection *c = userdata;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        const char *next = NULL;

        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "ListPageAs"));
        r = bus_job_list_to_json(reply, &jobs);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &next);
        if (r < 0) {
                json_object_put(jobs);
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "ListPageAs"));
        }
        /* One page of the daemon's (docs/http.md): "next" is the cursor of the following page, null at the end. */
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "jobs", jobs) < 0) {
                json_object_put(jobs);
                return connection_after_event(c, -ENOMEM);
        }
        if (json_object_object_add(o, "next", *next ? json_object_new_string(next) : NULL) < 0)
                return connection_after_event(c, -ENOMEM);
        return connection_after_event(c, connection_respond_json(c, 200, o, NULL));
}

/* GET /v1/metrics: the daemon's text as it is (Prometheus' text format 0.0.4); refusals are JSON errors. */
static int on_metrics_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        const char *text = NULL;
        size_t n;
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "GetMetricsAs"));
        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "GetMetricsAs"));
        n = strlen(text);
        r = http_buffer_add_response_head(&c->out, 200, "text/plain; version=0.0.4; charset=utf-8", (int64_t) n,
                                          c->keep_alive, "");
        if (r >= 0)
                r = http_buffer_append(&c->out, text, n);
        if (r >= 0)
                connection_request_done(c, 200);
        return connection_after_event(c, r);
}

/* ---- output streaming ---------------------------------------------------------------------------------- */

/* The job's output is copied by connection_flush(): whenever less than a TLS record of response is left to
 * encrypt, it reads the next chunk (up to GATEWAY_OUTPUT_READ bytes, straight into the response buffer,
 * framed in place) from the output fd. Reading is paced by the socket, not by epoll: while the client keeps
 * up, the fd is read without asking epoll first, and output_source (EPOLLIN) is switched on only after a
 * read found the pipe empty, or after GATEWAY_OUTPUT_BUDGET bytes in one go (a fast client of a finished
 * job would otherwise keep the loop to itself). When the client does not read, the socket fills, flushing
 * stops, and so does reading: the daemon keeps the bytes in its spool. Per connection that bounds what the
 * gateway holds to one chunk, one TLS record in OpenSSL and GATEWAY_TLS_OUT_MAX of records. */

void connection_output_done(Connection *c) {
        c->output_source = sd_event_source_disable_unref(c->output_source);
        c->output_fd = safe_close(c->output_fd);
        c->output_waiting = false;
}

/* Stops reading until output_source fires. */
int connection_output_wait(Connection *c) {
        int r;

        r = sd_event_source_set_enabled(c->output_source, SD_EVENT_ON);
        if (r < 0)
                return r;
        c->output_waiting = true;
        return 0;
}

/* Reads one chunk of output into the response. At EOF, ends the response. 0, or <0 (fatal: the client sees
 * the stream cut, without the last chunk). */
int connection_output_read(Connection *c) {
        char *p;
        ssize_t n;
        int r;

        /* An attached connection's stream is raw (bridge-attach.c): no chunks. */
        r = c->attached ? http_buffer_begin_raw(&c->out, GATEWAY_OUTPUT_READ, &p) :
                          http_buffer_begin_chunk(&c->out, GATEWAY_OUTPUT_READ, &p);
        if (r < 0)
                return r;
        do
                n = read(c->output_fd, p, GATEWAY_OUTPUT_READ);
        while (n < 0 && errno == EINTR);
        if (c->attached)
                http_buffer_commit_raw(&c->out, n > 0 ? (size_t) n : 0);
        else
                http_buffer_commit_chunk(&c->out, n > 0 ? (size_t) n : 0);
        if (n > 0) {
                c->output_bytes += (uint64_t) n;
                return 0;
        }
        if (n < 0 && errno == EAGAIN)
                /* Nothing yet (a running job): let epoll say when there is. */
                return connection_output_wait(c);
        if (n < 0) {
                r = -errno;
                log_warning("%s %s: reading output of %s failed: %s", c->peer, connection_who(c),
                            c->route.job_id, strerror(-r));
                return r;
        }

        connection_output_done(c);
        if (c->attached)
                return connection_attach_output_end(c);
        r = http_buffer_add_chunk(&c->out, NULL, 0);
        if (r < 0)
                return r;
        log_debug("%s %s: streamed %" PRIu64 " bytes of %s", c->peer, connection_who(c), c->output_bytes,
                  c->route.job_id);
        connection_request_done(c, 200);
        return 0;
}

int connection_on_output_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;
        int r;

        /* Readable (or hung up): connection_flush() reads from here on, as long as the client keeps up. */
        c->output_waiting = false;
        r = sd_event_source_set_enabled(c->output_source, SD_EVENT_OFF);
        return connection_after_event(c, r);
}

/* The job's output fd from a reply (the message owns fd: we keep our own copy), non-blocking and watched, the
 * watch off until the response head is out (connection_flush() turns it on). On error nothing is kept. */
int connection_output_watch(Connection *c, int fd, const char *description) {
        int r;

        c->output_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (c->output_fd < 0)
                return -errno;
        r = fd_nonblock(c->output_fd, true);
        if (r >= 0)
                r = sd_event_add_io(c->gateway->event, &c->output_source, c->output_fd, EPOLLIN,
                                    connection_on_output_io, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->output_source, SD_EVENT_OFF);
        if (r < 0) {
                connection_output_done(c);
                return r;
        }
        (void) sd_event_source_set_description(c->output_source, description);
        return 0;
}

static int on_output_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Connection *c = userdata;
        const BusOutputOptions *o = &c->route.output;
        bool extended = http_output_query_extended(o);
        uint64_t offset = c->route.offset;
        char headers[64];
        int fd = -EBADF, r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (sd_bus_message_is_method_error(reply, NULL))
                return connection_after_event(c, connection_fail_bus(c, reply, 0, "OpenOutputAs"));
        r = extended ? sd_bus_message_read(reply, "ht", &fd, &offset) : sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, -EBADMSG, "OpenOutputAs"));
        r = connection_output_watch(c, fd, "gateway-output");
        if (r < 0)
                return connection_after_event(c, connection_fail_bus(c, NULL, r, "OpenOutputAs"));
        /* Where the body starts in the merged stream (after since/tail): what a client resumes from. */
        (void) snprintf(headers, sizeof(headers), "X-Teleworker-Offset: %" PRIu64 "\r\n", offset);
        r = http_buffer_add_response_head(&c->out, 200,
                                          o->framed || o->timestamps ? HTTP_OUTPUT_MULTIPLEXED_TYPE :
                                                                       "application/octet-stream",
                                          -1, c->keep_alive, headers);
        return connection_after_event(c, r);
}

/* ---- requests ------------------------------------------------------------------------------------------ */

static int connection_start(Connection *c, const HttpRequest *req) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(start_request_done) StartRequest j = {};
        HttpError e = {};
        int r;

        r = http_job_request_parse(req->body, req->body_size, &j, &e);
        if (r == -EINVAL)
                return connection_respond_error(c, &e);
        if (r < 0)
                return r;

        r = connection_new_call(c, "StartAs", &m);
        if (r < 0)
                return connection_fail_bus(c, NULL, r, "StartAs");
        r = bus_append_start_request(m, &j);
        if (r == -EINVAL) {
                /* sd-bus refuses strings that are not valid UTF-8 (the JSON decoder already checked that). */
                http_error_set(&e, 400, "invalid-request", "The request contains strings D-Bus cannot carry.");
                return connection_respond_error(c, &e);
        }
        if (r >= 0)
                r = connection_call(c, m, on_start_reply, c->gateway->config.bus_timeout_usec);
        if (r < 0)
                return connection_fail_bus(c, NULL, r, "StartAs");
        return 0;
}

static int connection_dispatch(Connection *c, const HttpRequest *req) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const GatewayConfig *cfg = &c->gateway->config;
        HttpError e = {};
        uint64_t now = gateway_now(c->gateway);
        int r;

        free(c->log_target);
        c->log_target = str_escape(req->url ?: "", 200);
        if (c->log_target) {
                char *t = NULL;

                if (asprintf(&t, "%s %s", http_method_str(req->method), c->log_target) >= 0) {
                        free(c->log_target);
                        c->log_target = t;
                }
        }
        c->busy = true;
        c->n_requests++;
        c->keep_alive = req->keep_alive && c->n_requests < cfg->max_requests;
        /* After an Upgrade request the client's bytes are the stream's, never a next request. */
        if (req->upgrade)
                c->keep_alive = false;

        if (c->over_principal_limit) {
                http_error_set(&e, 429, "too-many-connections", "More than %u connections of '%s' are open.",
                               cfg->max_per_principal, c->principal.name);
                c->keep_alive = false;
                return connection_respond_error(c, &e);
        }

        /* Per connection token bucket. */
        c->tokens = MIN((double) cfg->rate_burst,
                        c->tokens + (double) (now - c->tokens_usec) * cfg->rate_per_sec / (double) USEC_PER_SEC);
        c->tokens_usec = now;
        if (c->tokens < 1.0) {
                http_error_set(&e, 429, "too-many-requests", "More than %u requests per second on one "
                               "connection.", cfg->rate_per_sec);
                c->keep_alive = false;
                return connection_respond_error(c, &e);
        }
        c->tokens -= 1.0;

        r = http_route(req->method, req->url, req->url_size, &c->route, &e);
        if (r < 0)
                return connection_respond_error(c, &e);
        if (c->route.id != HTTP_ROUTE_JOBS_START && c->route.id != HTTP_ROUTE_JOB_INPUT && req->body_size > 0) {
                http_error_set(&e, 400, "bad-request", "This request takes no body.");
                return connection_respond_error(c, &e);
        }
        (void) snprintf(c->job_id, sizeof(c->job_id), "%s", c->route.job_id);

        switch (c->route.id) {
        case HTTP_ROUTE_JOBS_START:
                return connection_start(c, req);

        case HTTP_ROUTE_JOBS_LIST:
                r = connection_new_call(c, c->route.filtered ? "ListFilteredAs" : "ListPageAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "su", c->route.cursor, c->route.limit);
                if (r >= 0 && c->route.filtered)
                        r = bus_append_list_filter(m, &(JobListFilter) {
                                .states = c->route.states,
                                .since_usec = c->route.since_usec,
                                .owner = c->route.owner[0] ? c->route.owner : NULL,
                                .last = c->route.last,
                        });
                if (r >= 0)
                        r = connection_call(c, m, on_list_reply, cfg->bus_timeout_usec);
                break;

        case HTTP_ROUTE_JOB_GET:
                if (!c->route.wait) {
                        r = connection_get_job(c);
                        break;
                }
                r = connection_new_call(c, "WaitAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c->job_id);
                /* No timeout: jobs run as long as they run; a client that goes away cancels the call. */
                if (r >= 0)
                        r = connection_call(c, m, on_props_reply, USEC_INFINITY);
                break;

        case HTTP_ROUTE_JOB_STOP:
                r = connection_new_call(c, c->route.stop_usec != UINT64_MAX ? "StopWithTimeoutAs" : "StopAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c->job_id);
                if (r >= 0 && c->route.stop_usec != UINT64_MAX)
                        r = sd_bus_message_append(m, "t", c->route.stop_usec);
                if (r >= 0)
                        r = connection_call(c, m, on_stop_reply, cfg->stop_timeout_usec);
                break;

        case HTTP_ROUTE_EVENTS:
                return connection_events(c, req);

        case HTTP_ROUTE_VERSION:
                return connection_version(c);

        case HTTP_ROUTE_JOB_DELETE:
                r = connection_new_call(c, "RemoveAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c->job_id);
                if (r >= 0)
                        r = connection_call(c, m, on_remove_reply, cfg->bus_timeout_usec);
                break;

        case HTTP_ROUTE_JOB_KILL:
                /* Answered like a stop: the job's object, read after the signal went out. */
                r = connection_new_call(c, "KillAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "si", c->job_id, (int32_t) c->route.signal);
                if (r >= 0)
                        r = connection_call(c, m, on_stop_reply, cfg->bus_timeout_usec);
                break;

        case HTTP_ROUTE_JOB_RESIZE:
                r = connection_new_call(c, "ResizeAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "sqq", c->job_id, c->route.rows, c->route.cols);
                if (r >= 0)
                        r = connection_call(c, m, connection_on_resize_reply, cfg->bus_timeout_usec);
                break;

        case HTTP_ROUTE_JOB_INPUT:
                r = connection_new_call(c, "OpenInputAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c->job_id);
                if (r >= 0)
                        r = connection_call(c, m, connection_on_input_reply, cfg->bus_timeout_usec);
                break;

        case HTTP_ROUTE_JOB_OUTPUT:
                if (http_output_query_extended(&c->route.output)) {
                        /* Streams, times, lines or frames: OpenOutputExAs, with offset and follow as options. */
                        BusOutputOptions o = c->route.output;

                        o.set |= OUTPUT_OPT_OFFSET | OUTPUT_OPT_FOLLOW;
                        o.offset = c->route.offset;
                        o.follow = c->route.follow;
                        r = connection_new_call(c, "OpenOutputExAs", &m);
                        if (r >= 0)
                                r = sd_bus_message_append(m, "s", c->job_id);
                        if (r >= 0)
                                r = bus_append_output_options(m, &o);
                        if (r >= 0)
                                r = connection_call(c, m, on_output_reply, cfg->bus_timeout_usec);
                        break;
                }
                r = connection_new_call(c, "OpenOutputAs", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "stb", c->job_id, c->route.offset, (int) c->route.follow);
                if (r >= 0)
                        r = connection_call(c, m, on_output_reply, cfg->bus_timeout_usec);
                break;

        case HTTP_ROUTE_JOB_ATTACH:
                return connection_attach(c, req);

        case HTTP_ROUTE_METRICS:
                r = connection_new_call(c, "GetMetricsAs", &m);
                if (r >= 0)
                        r = connection_call(c, m, on_metrics_reply, cfg->bus_timeout_usec);
                break;

        default:
                return -EINVAL;
        }
        if (r < 0)
                return connection_fail_bus(c, NULL, r, "call");
        return 0;
}

/* Feeds buffered input to the parser and handles at most one complete request. */
int connection_process_input(Connection *c) {
        HttpFeedResult f;
        size_t used = 0;
        int r;

        if (c->attached)   /* not HTTP any more: the job's stdin */
                return connection_attach_input(c);
        while ((!c->busy || connection_input_wants_body(c)) && !c->close_after_flush && c->in_end > c->in_start) {
                f = http_parser_feed_data(&c->parser, c->in + c->in_start, c->in_end - c->in_start, &used);
                c->in_start += used;
                if (c->in_start == c->in_end)
                        c->in_start = c->in_end = 0;
                if (!c->request_started && http_parser_in_request(&c->parser)) {
                        c->request_started = true;
                        c->request_start_usec = gateway_now(c->gateway);
                }

                switch (f) {
                case HTTP_FEED_MORE:
                        break;
                case HTTP_FEED_CONTINUE:
                        r = http_buffer_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                        if (r < 0)
                                return r;
                        break;
                case HTTP_FEED_HEADERS:   /* POST …/input: open the job's input, then take the body */
                        r = connection_dispatch(c, &c->parser.request);
                        if (r < 0)
                                return r;
                        break;
                case HTTP_FEED_BODY:
                        r = connection_input_write(c, c->parser.request.body_chunk,
                                                   c->parser.request.body_chunk_size);
                        if (r < 0)
                                return r;
                        break;
                case HTTP_FEED_REQUEST:
                        r = c->input_streaming ? connection_input_end(c) : connection_dispatch(c, &c->parser.request);
                        if (r < 0)
                                return r;
                        break;
                case HTTP_FEED_ERROR:
                        c->busy = true;
                        free(c->log_target);
                        c->log_target = strdup("(malformed request)");
                        c->keep_alive = false;
                        return connection_respond_error(c, &c->parser.error);
                }
        }
        return 0;
}

