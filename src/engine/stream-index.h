/* SPDX-License-Identifier: MIT */
/* stream-index.h - which stream (stdout, stderr) each byte of a job's merged output came from, and when.
 *
 * The spool keeps the job's stdout and stderr in one file in arrival order (output.h); this index, a file
 * beside it (<id>.idx), says where each run of one stream starts: records of (offset, stream, realtime), one
 * per captured chunk, except that a chunk of the same stream as the previous record within
 * STREAM_INDEX_COALESCE_USEC extends that record instead. A record covers the bytes from its offset to the
 * next record's (the last one: to the end of the spool). Work is per chunk (one pwrite() of 16 bytes when a
 * record is added), never per byte, and memory is constant: the records live in the file (page cache), the
 * index keeps only the count and the last one.
 *
 * File format (little-endian): a 16-byte header "TWSIDX1\n" + 8 zero bytes, then 16-byte records: u64 offset,
 * u64 (realtime µs in the low 56 bits | stream << 56). Offsets strictly increase from 0; times never decrease
 * (a clock stepped back is clamped to the previous record's time); the stream is 0 (unknown: output of a spool
 * written before the index existed, or after the index reached its cap), 1 (stdout) or 2 (stderr). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A stream id. The numbers are the job's fds and the stream byte of the multiplexed framing (docs/http.md):
 * whoever captures output (a pipe per fd, or a terminal fed in as stdout) names it with one of these. */
typedef enum OutputStream {
        OUTPUT_STREAM_UNKNOWN = 0,
        OUTPUT_STREAM_STDOUT = 1,
        OUTPUT_STREAM_STDERR = 2,
        _OUTPUT_STREAM_MAX,
} OutputStream;

/* A selection of streams, as readers ask for them. Unknown bytes go with stdout (that is where the merged
 * stream went before the streams were kept apart). */
#define OUTPUT_SELECT_STDOUT ((1u << OUTPUT_STREAM_STDOUT) | (1u << OUTPUT_STREAM_UNKNOWN))
#define OUTPUT_SELECT_STDERR (1u << OUTPUT_STREAM_STDERR)
#define OUTPUT_SELECT_BOTH (OUTPUT_SELECT_STDOUT | OUTPUT_SELECT_STDERR)
#define OUTPUT_SELECTED(mask, stream) (((mask) >> (stream)) & 1u)

#define STREAM_INDEX_HEADER_SIZE 16
#define STREAM_INDEX_RECORD_SIZE 16
#define STREAM_INDEX_COALESCE_USEC (100 * UINT64_C(1000))
/* Past this many records (16 MiB) the index records one last unknown run and stops: a job that alternates
 * streams at every byte cannot make its index grow without bound. */
#define STREAM_INDEX_MAX_RECORDS (UINT64_C(1) << 20)

typedef struct StreamIndexEntry {
        uint64_t offset;
        uint64_t realtime;      /* µs since the epoch */
        OutputStream stream;
} StreamIndexEntry;

typedef struct StreamIndex StreamIndex;

/* Creates the index file at path (O_EXCL, 0600). */
int stream_index_create(const char *path, StreamIndex **ret);
/* Opens and validates an existing index for a spool of spool_size bytes (after a daemon restart). -ENOENT:
 * none (a spool from before the index); -EBADMSG: it does not describe that spool (the caller moves it aside
 * and starts a new one with stream_index_create() + one unknown record). */
int stream_index_load(const char *path, uint64_t spool_size, StreamIndex **ret);
StreamIndex *stream_index_free(StreamIndex *x);

/* The bytes at offset.. (offset = the spool's size before they were written) came from stream at realtime:
 * adds a record unless they extend the last one. 0 or -errno (the file could not be written: the index
 * stops growing and the bytes count as the last record's). */
int stream_index_note(StreamIndex *x, uint64_t offset, OutputStream stream, uint64_t realtime);

uint64_t stream_index_count(const StreamIndex *x);
/* The index file's size in bytes (header and records; 0 for none): it counts in the spool caps with the output. */
uint64_t stream_index_file_size(const StreamIndex *x);
int stream_index_get(StreamIndex *x, uint64_t i, StreamIndexEntry *ret);
/* The record covering offset (the last whose offset <= offset); -ENOENT if the index is empty. */
int stream_index_find_offset(StreamIndex *x, uint64_t offset, uint64_t *ret_i);
/* The first record captured at or after realtime; stream_index_count() if none. */
int stream_index_find_time(StreamIndex *x, uint64_t realtime, uint64_t *ret_i);

/* Validates a whole index file's bytes for a spool of spool_size bytes: 0 (*ret_n records, the last in
 * *ret_last when there is one) or -EBADMSG. Pure; the load path and the fuzzer use it. */
int stream_index_parse(const uint8_t *buf, size_t n, uint64_t spool_size, uint64_t *ret_n, StreamIndexEntry *ret_last);
/* Encodes a record (for writers and tests). */
void stream_index_encode(const StreamIndexEntry *e, uint8_t out[STREAM_INDEX_RECORD_SIZE]);
extern const uint8_t stream_index_header[STREAM_INDEX_HEADER_SIZE];

/* "stdout", "stderr", "both" → a selection; 0 if none of those. */
unsigned output_select_from_string(const char *s);

/* A reader's place in the index: the run (record) its next byte is in. */
typedef struct StreamCursor {
        uint64_t i;             /* record; UINT64_MAX = not placed yet */
        uint64_t end;           /* where the run ends: the next record's offset, UINT64_MAX while unknown */
        OutputStream stream;
        uint64_t realtime;
} StreamCursor;

#define STREAM_CURSOR_INIT ((StreamCursor) { .i = UINT64_MAX, .end = UINT64_MAX })

/* Moves c to the run covering offset (only ever forwards once placed; the first call searches). */
int stream_cursor_at(StreamIndex *x, StreamCursor *c, uint64_t offset);
