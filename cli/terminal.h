/* SPDX-License-Identifier: MIT */
/* terminal.h - telerun's own terminal while a job runs on a pseudo-terminal (run -t). */
#pragma once

#include <stdint.h>

/* The size of the terminal on fd (rows, columns), or 24 x 80 when fd is not one. */
void terminal_size(int fd, uint16_t *ret_rows, uint16_t *ret_cols);
/* Puts the terminal on fd in raw input mode (no echo, no line editing, no signals from ^C, ^Z, ^\: those keys
 * reach the job as bytes); output processing stays. It is put back at exit and on a fatal signal. 0, or -errno
 * (fd is not a terminal: nothing changed). */
int terminal_raw_begin(int fd);
/* Puts it back now (idempotent). */
void terminal_restore(void);

/* The detach key of an interactive session: ^] (as telnet's), byte 0x1d. */
#define TERMINAL_DETACH_KEY 0x1d

/* Interactive input (run -it, attach): a thread copies fd (our terminal) into to (taken on success: the write
 * end of the job's stdin, from OpenInput), until ^]: then it restores the terminal, says how to find the job
 * again, and ends telerun (exit status 0) with the job left running. Any other byte, ^C included, goes to the
 * job. When telerun ends its copy of the write end goes with it: the job never reads our terminal after we are
 * gone. 0 or -errno. */
int terminal_input_to(int fd, int to);
/* The job the detach message names (set once it is known). */
void terminal_input_set_job(const char *id);

typedef struct Client Client;
/* From now on a change of the size of the terminal on fd (SIGWINCH) resizes job id's terminal, from a thread
 * of its own (SIGWINCH is blocked in the calling thread, and so in the threads it creates later). 0 or
 * -errno. */
int terminal_forward_resizes(Client *c, const char *id, int fd);

/* An interactive session with job id's terminal (run -it, attach), once the job is known: with input_fd (the
 * job's stdin, taken; -EBADF: none), our terminal goes raw and its keys go to input_fd until ^]; and our
 * window's size is the job's terminal's from now on. 0 or -errno (the keys could not be relayed). */
int terminal_session_begin(Client *c, const char *id, int input_fd);
