/* SPDX-License-Identifier: MIT */
/* output.h - a job's output: one byte stream captured from a pipe into a spool file, fanned out to readers.
 *
 * Ownership: the store owns the input fd (read end of the job's stdout+stderr pipe), the spool fd and every
 * reader it opened. Memory stays bounded whatever a job prints: bytes move pipe -> spool file -> reader pipe
 * with splice(2), never through daemon buffers. Offsets are stable: byte N of the stream is byte N of the
 * spool file. Nothing polls: input readiness and reader writability are sd-event io sources, and a reader
 * waiting for new bytes is woken only when the spool grows or the stream completes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "engine/stream-index.h"

typedef struct OutputStore OutputStore;

/* What a reader is charged to: a counter of open readers that the caller owns and caps (per principal,
 * globally...). A reader increments its charge and every parent when it opens and decrements them all when
 * it goes, whichever way (its peer closed, EOF sent, store freed). release, if set, is called when
 * n_readers drops back to 0 and may free the charge (after its parents were decremented). The caller keeps
 * a charge alive while n_readers > 0. */
typedef struct OutputCharge OutputCharge;
struct OutputCharge {
        OutputCharge *parent;
        unsigned n_readers;
        void (*release)(OutputCharge *c);
};

/* Called (from the event loop) when the stream completes: every writer of the input pipe closed it. */
typedef void (*output_complete_handler_t)(OutputStore *s, void *userdata);

/* Creates the spool file at spool_path (O_EXCL: it must not exist; mode 0600) and starts capturing from
 * input_fd, which the store takes over (also on failure) and switches to non-blocking. max_bytes caps what
 * is kept (0 = no cap): bytes past the cap are read and discarded, counted in output_store_dropped(),
 * so the job never blocks on a full pipe. */
int output_store_new(sd_event *e, const char *spool_path, int input_fd, uint64_t max_bytes, OutputStore **ret);

/* Reopens an existing spool (after a daemon restart): the stream continues at the file's size. input_fd may
 * be -EBADF for a stream that is already complete. */
int output_store_open(sd_event *e, const char *spool_path, int input_fd, uint64_t max_bytes, OutputStore **ret);

/* The same with one input per stream (indexed by OutputStream; -EBADF: none), each taken, also on failure.
 * Both streams go into the one spool in arrival order; the side index <spool_path>.idx says which bytes came
 * from which (stream-index.h). The stream is complete when every input reached EOF. output_store_new() and
 * output_store_open() capture a single input as stdout. On open, the index is loaded and checked against the
 * spool; a missing or refused one (moved aside as .idx.corrupt) is started again, calling what the spool
 * already holds "unknown" (served as stdout). */
int output_store_new_streams(sd_event *e, const char *spool_path, int inputs[_OUTPUT_STREAM_MAX], uint64_t max_bytes,
                             OutputStore **ret);
int output_store_open_streams(sd_event *e, const char *spool_path, int inputs[_OUTPUT_STREAM_MAX], uint64_t max_bytes,
                              OutputStore **ret);

/* Stops capturing, closes every reader (they see EOF), frees. The spool file stays on disk. */
OutputStore *output_store_free(OutputStore *s);

void output_store_set_complete_handler(OutputStore *s, output_complete_handler_t h, void *userdata);

/* Past the cap the store drains the job's pipe at most once per short pause; this drains it now (what it
 * holds, and EOF if the writers are gone), so that the counts are final when the job has just ended. May
 * call the complete handler. */
void output_store_flush(OutputStore *s);

uint64_t output_store_size(const OutputStore *s);     /* bytes in the spool = end offset of the stream */
/* What the store holds on disk: the spool's bytes and its stream index's. A job alternating streams at every
 * chunk makes 16 bytes of index per chunk, so the spool caps count both. */
uint64_t output_store_disk_size(const OutputStore *s);
uint64_t output_store_dropped(const OutputStore *s);  /* bytes read past the cap or lost to a spool error */
bool output_store_complete(const OutputStore *s);     /* input reached EOF and everything is spooled */
int output_store_error(const OutputStore *s);         /* negative errno of the first spool write failure */
/* Records a spool write failure of an earlier run of the daemon (error < 0): capture stops there, as if it
 * had just happened, so that bytes written later never follow a gap. */
void output_store_set_error(OutputStore *s, int error);
unsigned output_store_n_readers(const OutputStore *s);
/* The store's stream index (NULL if it has none), for the queries of output-query.c. */
StreamIndex *output_store_index(OutputStore *s);

/* Copies up to n bytes at offset into buf. Returns the count (0 = nothing there yet, or the end); *ret_eof
 * is true when the stream is complete and offset + returned count is its end. Never blocks on the job. */
ssize_t output_store_read(OutputStore *s, uint64_t offset, void *buf, size_t n, bool *ret_eof);

/* Opens a reader: returns (in *ret_fd, O_CLOEXEC, blocking, for the caller to pass on) the read end of a pipe
 * the store feeds with the stream from offset on, then EOF. With follow, EOF comes only when the stream is
 * complete; without, at the size the stream had at this call. Always a pipe, never the spool file itself:
 * pollable (the gateway puts it in its event loop), it pins no disk space after the job is removed, and a
 * snapshot cannot show later bytes. A reader that stops reading never blocks the job or other readers; one
 * that closes its end is dropped. offset past the current end is -EINVAL. */
int output_store_open_reader(OutputStore *s, uint64_t offset, bool follow, int *ret_fd);
/* The same, charged to charge (NULL: to nothing). Checking a cap is the caller's business. */
int output_store_open_reader_charged(OutputStore *s, uint64_t offset, bool follow, OutputCharge *charge,
                                     int *ret_fd);

/* What a reader gets (output_store_open_reader_ex()). The plain merged reader ({offset, follow, both, not
 * framed}) costs the index nothing. select picks streams (OUTPUT_SELECT_*): bytes of the others are skipped.
 * framed: every run is sent as a frame, an 8-byte header (stream byte 1 or 2, three zero bytes, payload
 * length as big-endian u32; Docker's multiplexed stream format) then the payload; with timestamps the header
 * is 16 bytes, the last 8 the run's capture time (µs since the epoch, big-endian). A frame holds at most
 * 1 MiB. end: stop there (an offset; UINT64_MAX: no end but the snapshot or the stream's). */
typedef struct OutputReaderOptions {
        uint64_t offset;
        uint64_t end;
        bool follow;
        unsigned select;
        bool framed;
        bool timestamps;        /* implies framed */
} OutputReaderOptions;

#define OUTPUT_FRAME_HEADER_MAX 16

/* Opens a reader with options; -ENODATA when it needs the index and the store has none. */
int output_store_open_reader_ex(OutputStore *s, const OutputReaderOptions *o, OutputCharge *charge, int *ret_fd);

/* The offset of the first byte captured at or after realtime (µs); the end if none. -ENODATA: no index. */
int output_store_time_offset(OutputStore *s, uint64_t realtime, uint64_t *ret_offset);

/* Offset where the last `lines` lines of the selected streams start (OUTPUT_SELECT_BOTH: of the merged
 * stream, without the index). A reader of those streams from there gets exactly those lines. */
int output_store_tail_offset_select(OutputStore *s, unsigned select, uint64_t lines, uint64_t *ret_offset);

/* Where a reader starts and ends: from offset (past the end: -ERANGE), moved on to the first byte captured at
 * or after *since and to the start of the last *tail lines of the selected streams (whichever is later),
 * ending (*ret_end; UINT64_MAX: no end) before the first byte captured at or after *until. NULL: not given. */
int output_store_resolve_range(OutputStore *s, unsigned select, uint64_t offset, const uint64_t *since,
                               const uint64_t *until, const uint64_t *tail, uint64_t *ret_start, uint64_t *ret_end);

/* ReadOutputEx's walk: copies up to n bytes of the selected streams from offset (a merged-stream offset; past
 * the end: -EINVAL) into buf, skipping the bytes of the others, and visits at most max_runs runs of the index
 * (> 0), so that a call costs a bounded number of index reads however the streams alternate. Returns the count
 * (maybe 0 with the bound hit: the caller goes on from *ret_next); *ret_next is the merged offset to go on from,
 * *ret_eof true when the output is complete and *ret_next is its end. Without an index every byte is stdout's
 * (unknown). Opens no reader; never blocks. */
#define OUTPUT_READ_RUNS_MAX 65536
ssize_t output_store_read_select(OutputStore *s, unsigned select, uint64_t offset, void *buf, size_t n,
                                 uint64_t max_runs, uint64_t *ret_next, bool *ret_eof);

/* Offset where the last `lines` lines start (a trailing newline does not open an empty line); 0 if there
 * are fewer. For `logs --tail`. */
int output_store_tail_offset(OutputStore *s, uint64_t lines, uint64_t *ret_offset);
