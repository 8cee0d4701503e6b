/* SPDX-License-Identifier: MIT */
/* output-internal.h - the output store's structures, shared by its files only: output.c (capture and fan-out,
 * the invariant "a reader is active or waiting, and the input handler feeds exactly the waiting ones"),
 * output-setup.c (constructors, the inputs and the index of a store, accessors), output-frames.c (readers of
 * one stream or of frames). Nothing outside src/engine/output*.c includes it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "engine/output.h"
#include "engine/stream-index.h"

#define OUTPUT_PIPE_SIZE (1024 * 1024)                  /* reader and input pipes, where the kernel allows */
#define OUTPUT_READER_BUDGET (UINT64_C(2) * 1024 * 1024) /* bytes given to one reader per dispatch */
#define OUTPUT_PRIORITY SD_EVENT_PRIORITY_NORMAL        /* input and readers alike (output.c, "Fairness") */
#define OUTPUT_FRAME_MAX (1024 * 1024)                  /* payload of one frame of a framed reader */

typedef struct OutputReader OutputReader;

struct OutputReader {
        OutputStore *store;
        OutputReader *prev, *next;      /* on store->active or store->waiting, as `waiting` says */
        bool waiting;
        int fd;                         /* write end of the reader's pipe, O_NONBLOCK */
        uint64_t offset;                /* next stream byte to send */
        uint64_t end;                   /* snapshot end; UINT64_MAX = follow until the stream completes */
        sd_event_source *io;
        OutputCharge *charge;           /* counts this reader, or NULL */

        /* A reader of one stream, or of frames (output_reader_push_indexed()); the plain merged reader uses
         * none of this. */
        unsigned select;                /* OUTPUT_SELECT_* */
        bool framed, timestamps;
        StreamCursor cursor;
        uint8_t hdr[OUTPUT_FRAME_HEADER_MAX];
        uint8_t hdr_len, hdr_sent;      /* a frame header still to write */
        uint64_t frame_left;            /* bytes of the current run (or frame) still to splice */
};

/* One pipe of the job: its stdout, its stderr (or a terminal's output, fed in as stdout). */
typedef struct OutputInput {
        OutputStore *store;
        OutputStream stream;
        int fd;                         /* read end, O_NONBLOCK; -EBADF before it was given or after its EOF */
        sd_event_source *source;
} OutputInput;

struct OutputStore {
        sd_event *event;
        int spool_fd;                   /* O_RDWR; written and read by explicit offset only */
        OutputInput inputs[_OUTPUT_STREAM_MAX]; /* by stream id; the stream completes when all are at EOF */
        unsigned n_inputs;              /* still open */
        StreamIndex *index;             /* which stream each run came from, and when; NULL if it failed */
        int null_fd;                    /* /dev/null, opened when the first byte is dropped */
        bool null_no_splice;            /* /dev/null refused splice: drop with read() instead */
        sd_event_source *discard_timer; /* re-enables the input sources after a pause (see "Dropping") */

        uint64_t size;                  /* bytes in the spool = end offset of the stream */
        uint64_t max_bytes;             /* 0 = no cap */
        uint64_t dropped;
        int error;                      /* first spool write failure, negative errno */
        bool complete;

        OutputReader *active, *waiting;
        unsigned n_readers;

        output_complete_handler_t complete_handler;
        void *complete_userdata;
};

/* What output_reader_push() found. */
enum {
        OUTPUT_READER_DONE,             /* sent its last byte: close it, the peer sees EOF */
        OUTPUT_READER_WAIT,             /* caught up with a live stream */
        OUTPUT_READER_BUSY,             /* more to send once the pipe has room (or on the next dispatch) */
};

/* output.c */
int output_on_input(sd_event_source *es, int fd, uint32_t revents, void *userdata);
void output_pipe_grow(int fd);
OutputReader *output_reader_free(OutputReader *r);
void output_store_inputs_enable(OutputStore *s, int enabled);
/* Splices up to n spool bytes at r->offset into r's pipe and advances r->offset: the count, -EAGAIN (the pipe
 * is full), -EIO (the spool is shorter than it should be) or another -errno (-EPIPE: the peer closed). */
ssize_t output_reader_splice(OutputReader *r, uint64_t n);

/* output-frames.c: output_reader_push() for a reader that is not the plain merged one. */
int output_reader_push_indexed(OutputReader *r);
