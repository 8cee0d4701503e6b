/* SPDX-License-Identifier: MIT */
/* output-setup.c - making and freeing an output store: its spool, its inputs (one pipe per stream) and its
 * stream index, new or reopened after a restart; and what callers may ask of it (output.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/output-internal.h"
#include "shared/macro.h"
#include "shared/util.h"

OutputStore *output_store_free(OutputStore *s) {
        if (!s)
                return NULL;

        while (s->active)
                output_reader_free(s->active);
        while (s->waiting)
                output_reader_free(s->waiting);

        for (size_t i = 0; i < ELEMENTSOF(s->inputs); i++) {
                sd_event_source_disable_unref(s->inputs[i].source);
                safe_close(s->inputs[i].fd);
        }
        sd_event_source_disable_unref(s->discard_timer);
        stream_index_free(s->index);
        safe_close(s->null_fd);
        safe_close(s->spool_fd);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
DEFINE_FREE_FUNC(OutputStore, output_store_free);

/* Starts capturing one stream from input (taken, also on failure). */
static int output_input_setup(OutputStore *s, OutputStream stream, int input) {
        _cleanup_(closep) int fd = input;
        OutputInput *in = &s->inputs[stream];
        struct stat st;
        int k;

        /* splice(2) needs a pipe on one side; the spool is the other. */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISFIFO(st.st_mode))
                return -EINVAL;
        k = fd_nonblock(fd, true);
        if (k < 0)
                return k;
        output_pipe_grow(fd);
        in->fd = TAKE_FD(fd);

        k = sd_event_add_io(s->event, &in->source, in->fd, EPOLLIN, output_on_input, in);
        if (k < 0)
                return k;
        k = sd_event_source_set_priority(in->source, OUTPUT_PRIORITY);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(in->source, stream == OUTPUT_STREAM_STDERR ? "output-stderr" : "output-input");
        s->n_inputs++;
        return 0;
}

/* The index beside a spool: created with a new one; after a restart loaded and checked against the spool, and
 * when missing (a spool from before the index) or refused (moved aside as .corrupt), started again with one
 * record that says "unknown" for what the spool already holds. A store without an index still serves the
 * merged stream; only readers of one stream, or of frames, are refused then. */
static void output_store_index_setup(OutputStore *s, const char *spool_path, bool fresh) {
        _cleanup_(freep) char *path = NULL, *aside = NULL;
        int k;

        if (asprintf(&path, "%s.idx", spool_path) < 0)
                return;
        if (fresh) {
                (void) unlink(path);    /* a stray index without its spool describes nothing */
                (void) stream_index_create(path, &s->index);
                return;
        }
        k = stream_index_load(path, s->size, &s->index);
        if (k >= 0)
                return;
        if (k == -EBADMSG && asprintf(&aside, "%s.corrupt", path) >= 0)
                (void) rename(path, aside);
        else
                (void) unlink(path);
        if (stream_index_create(path, &s->index) < 0)
                return;
        if (s->size > 0)
                (void) stream_index_note(s->index, 0, OUTPUT_STREAM_UNKNOWN, 0);
}

/* The constructors take the input fds also when they fail. */
static void output_inputs_close(int inputs[_OUTPUT_STREAM_MAX]) {
        for (int i = 0; i < _OUTPUT_STREAM_MAX; i++)
                inputs[i] = safe_close(inputs[i]);
}

/* Common tail of the constructors: takes spool_fd and every input fd, also on failure. */
static int output_store_setup(sd_event *e, const char *spool_path, bool fresh, int spool_fd,
                              int inputs[_OUTPUT_STREAM_MAX], uint64_t max_bytes, OutputStore **ret) {
        _cleanup_(closep) int spool = spool_fd;
        _cleanup_(output_store_freep) OutputStore *s = NULL;
        struct stat st;
        int k = 0;

        s = new0(OutputStore, 1);
        if (!s) {
                k = -ENOMEM;
                goto fail;
        }
        s->spool_fd = s->null_fd = -EBADF;
        for (int i = 0; i < _OUTPUT_STREAM_MAX; i++)
                s->inputs[i] = (OutputInput) { .store = s, .stream = (OutputStream) i, .fd = -EBADF };
        s->event = sd_event_ref(e);
        s->max_bytes = max_bytes;
        if (fstat(spool, &st) < 0)
                k = -errno;
        else if (!S_ISREG(st.st_mode))
                k = -EBADFD;
        if (k < 0)
                goto fail;
        s->size = (uint64_t) st.st_size;
        s->spool_fd = TAKE_FD(spool);
        output_store_index_setup(s, spool_path, fresh);

        for (int i = 0; i < _OUTPUT_STREAM_MAX; i++)
                if (inputs[i] >= 0) {
                        k = output_input_setup(s, (OutputStream) i, TAKE_FD(inputs[i]));
                        if (k < 0)
                                goto fail;
                }
        s->complete = s->n_inputs == 0;
        *ret = TAKE_PTR(s);
        return 0;
fail:
        output_inputs_close(inputs);
        return k;
}

int output_store_new_streams(sd_event *e, const char *spool_path, int inputs[_OUTPUT_STREAM_MAX], uint64_t max_bytes,
                             OutputStore **ret) {
        _cleanup_(freep) char *index = NULL;
        int spool, k;

        if (!e || !spool_path || !ret) {
                k = -EINVAL;
                goto fail;
        }
        spool = open(spool_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
        if (spool < 0) {
                k = -errno;
                goto fail;
        }

        k = output_store_setup(e, spool_path, true, spool, inputs, max_bytes, ret);
        if (k < 0) {
                (void) unlink(spool_path);      /* ours (O_EXCL): leave nothing that would fail a retry */
                if (asprintf(&index, "%s.idx", spool_path) >= 0)
                        (void) unlink(index);
        }
        return k;
fail:
        output_inputs_close(inputs);
        return k;
}

int output_store_open_streams(sd_event *e, const char *spool_path, int inputs[_OUTPUT_STREAM_MAX], uint64_t max_bytes,
                              OutputStore **ret) {
        int spool = -EBADF;

        if (e && spool_path && ret)
                spool = open(spool_path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (spool < 0) {
                int k = !e || !spool_path || !ret ? -EINVAL : -errno;

                output_inputs_close(inputs);
                return k;
        }
        return output_store_setup(e, spool_path, false, spool, inputs, max_bytes, ret);
}

int output_store_new(sd_event *e, const char *spool_path, int input_fd, uint64_t max_bytes, OutputStore **ret) {
        int inputs[_OUTPUT_STREAM_MAX] = { -EBADF, input_fd, -EBADF };

        return output_store_new_streams(e, spool_path, inputs, max_bytes, ret);
}

int output_store_open(sd_event *e, const char *spool_path, int input_fd, uint64_t max_bytes, OutputStore **ret) {
        int inputs[_OUTPUT_STREAM_MAX] = { -EBADF, input_fd, -EBADF };

        return output_store_open_streams(e, spool_path, inputs, max_bytes, ret);
}

void output_store_flush(OutputStore *s) {
        int enabled = 0;

        if (!s || s->n_inputs == 0 || !s->discard_timer)
                return;
        if (sd_event_source_get_enabled(s->discard_timer, &enabled) < 0 || enabled == SD_EVENT_OFF)
                return;         /* not pausing: the source drains as soon as there is anything */
        (void) sd_event_source_set_enabled(s->discard_timer, SD_EVENT_OFF);
        output_store_inputs_enable(s, SD_EVENT_ON);
        /* Each input in turn; the last one's EOF may call the complete handler, which may free the store. */
        for (int i = 0, n = (int) s->n_inputs; i < _OUTPUT_STREAM_MAX && n > 0; i++)
                if (s->inputs[i].source) {
                        n--;
                        (void) output_on_input(s->inputs[i].source, s->inputs[i].fd, EPOLLIN, &s->inputs[i]);
                }
}

void output_store_set_complete_handler(OutputStore *s, output_complete_handler_t h, void *userdata) {
        if (!s)
                return;
        s->complete_handler = h;
        s->complete_userdata = userdata;
}

uint64_t output_store_size(const OutputStore *s) {
        return s ? s->size : 0;
}

uint64_t output_store_disk_size(const OutputStore *s) {
        return s ? s->size + stream_index_file_size(s->index) : 0;
}

uint64_t output_store_dropped(const OutputStore *s) {
        return s ? s->dropped : 0;
}

bool output_store_complete(const OutputStore *s) {
        return s && s->complete;
}

int output_store_error(const OutputStore *s) {
        return s ? s->error : 0;
}

void output_store_set_error(OutputStore *s, int error) {
        if (s && error < 0 && s->error == 0)
                s->error = error;
}

StreamIndex *output_store_index(OutputStore *s) {
        return s ? s->index : NULL;
}

unsigned output_store_n_readers(const OutputStore *s) {
        return s ? s->n_readers : 0;
}
