/* SPDX-License-Identifier: MIT */
/* bus-output.c - OpenOutputEx and OpenOutputExAs: a reader of one stream or of both, plain or in frames, from
 * an offset, a time or the last lines, up to a time (docs/dbus.md, "Streams"); ReadOutputEx(As) and the Job
 * object's ReadOutputEx: the bytes of one stream or of both in the reply, for a caller without fd passing.
 * The daemon resolves times and lines into offsets of the merged stream (output-query.c), so what a client
 * resumes from is always an offset, whatever it asked first. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "bus/bus-internal.h"
#include "bus/bus-output-options.h"
#include "engine/manager.h"
#include "engine/output.h"
#include "shared/api.h"
#include "shared/macro.h"

/* The reader options from the a{sv}, with start and end resolved against the job's output. */
static int bus_output_resolve(Job *j, const BusOutputOptions *bo, OutputReaderOptions *ret, sd_bus_error *error) {
        OutputStore *o = job_output(j);
        unsigned select = bo->stream ? output_select_from_string(bo->stream) : OUTPUT_SELECT_BOTH;
        uint64_t start, end;
        int r;

        if (!o)
                return sd_bus_error_setf(error, TW_ERROR_NO_OUTPUT, "Job %s has no output.", job_id(j));
        r = output_store_resolve_range(o, select, bo->offset, bo->set & OUTPUT_OPT_SINCE ? &bo->since : NULL,
                                       bo->set & OUTPUT_OPT_UNTIL ? &bo->until : NULL,
                                       bo->set & OUTPUT_OPT_TAIL ? &bo->tail : NULL, &start, &end);
        if (r == -ERANGE)
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Offset %" PRIu64 " is past the end of the output (%" PRIu64 " bytes).",
                                         bo->offset, output_store_size(o));
        if (r == -ENODATA)
                return sd_bus_error_setf(error, TW_ERROR_NO_OUTPUT,
                                         "The output of job %s has no stream index: only the merged stream can be "
                                         "read.", job_id(j));
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look up the output of job %s: %m", job_id(j));
        *ret = (OutputReaderOptions) {
                .offset = start,
                .end = end,
                .follow = bo->follow && !(bo->set & OUTPUT_OPT_UNTIL),
                .select = select,
                .framed = bo->framed || bo->timestamps,
                .timestamps = bo->timestamps,
        };
        return 0;
}

/* OpenOutputEx(s id, a{sv} options) -> (h fd, t offset): offset is where the reader starts in the merged
 * stream (after since/tail), for a client that resumes by offset. */
int bus_method_open_output_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(principal_done) Principal p = {};
        _cleanup_(closep) int fd = -EBADF;
        BusApi *a = userdata;
        BusOutputOptions bo;
        OutputReaderOptions o;
        Job *j = NULL;
        int r;

        r = bus_principal_job(a, msg, AUTHZ_VIEW, &p, &j, error);
        if (r != 0)
                return r;   /* an error, or polkit was asked: the call comes back */
        r = bus_read_output_options(msg, &bo, error);
        if (r < 0)
                return r;
        r = bus_output_resolve(j, &bo, &o, error);
        if (r < 0)
                return r;
        if (output_store_n_readers(job_output(j)) >= READERS_PER_JOB_MAX)
                return sd_bus_error_setf(error, TW_ERROR_TOO_MANY_READERS,
                                         "Job %s already has %d readers, the most it may have.", job_id(j),
                                         READERS_PER_JOB_MAX);
        r = manager_open_output_ex(a->manager, &p, j, &o, &fd, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "ht", fd, o.offset);
}

/* ReadOutput's and ReadOutputEx's reply: at most max bytes (capped at READ_OUTPUT_MAX) of the selected
 * streams from offset, next and eof. A bounded read (OUTPUT_READ_RUNS_MAX runs of the index) that holds
 * nothing: no reader is opened. */
int bus_reply_output_bytes(sd_bus_message *msg, Job *j, unsigned select, uint64_t offset, uint64_t max,
                           sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(freep) void *buf = NULL;
        OutputStore *o = job_output(j);
        uint64_t next = 0;
        bool eof = false;
        ssize_t n;
        int r;

        if (!o)
                return sd_bus_error_setf(error, TW_ERROR_NO_OUTPUT, "Job %s has no output.", job_id(j));
        if (offset > output_store_size(o))
                return sd_bus_error_setf(error, TW_ERROR_INVALID_ARGS,
                                         "Offset %" PRIu64 " is past the end of the output (%" PRIu64 " bytes).",
                                         offset, output_store_size(o));
        max = MIN(max, (uint64_t) READ_OUTPUT_MAX);
        buf = malloc(MAX(max, (uint64_t) 1));
        if (!buf)
                return -ENOMEM;
        n = output_store_read_select(o, select, offset, buf, (size_t) max, OUTPUT_READ_RUNS_MAX, &next, &eof);
        if (n < 0)
                return sd_bus_error_set_errnof(error, (int) n, "Failed to read the output of job %s: %m", job_id(j));
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', buf, (size_t) n);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "tb", next, (int) eof);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ReadOutputEx after the job was found and the caller authorized: the a{sv} is next in msg. */
int bus_reply_read_output_ex(sd_bus_message *msg, Job *j, sd_bus_error *error) {
        BusOutputOptions bo;
        int r;

        r = bus_read_read_output_options(msg, &bo, error);
        if (r < 0)
                return r;
        return bus_reply_output_bytes(msg, j, bo.stream ? output_select_from_string(bo.stream) : OUTPUT_SELECT_BOTH,
                                      bo.offset, bo.set & OUTPUT_OPT_MAX ? bo.max : READ_OUTPUT_MAX, error);
}

/* ReadOutputEx(s id, a{sv} options) -> (ay data, t next, b eof) and ReadOutputExAs. */
int bus_method_read_output_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        BusApi *a = userdata;
        Job *j = NULL;
        int r;

        r = bus_authorize_job(a, msg, AUTHZ_VIEW, &j, error);
        if (r != 0)
                return r;   /* an error, or polkit was asked: the call comes back */
        return bus_reply_read_output_ex(msg, j, error);
}
