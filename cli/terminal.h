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

typedef struct Client Client;
/* From now on a change of the size of the terminal on fd (SIGWINCH) resizes job id's terminal, from a thread
 * of its own (SIGWINCH is blocked in the calling thread, and so in the threads it creates later). 0 or
 * -errno. */
int terminal_forward_resizes(Client *c, const char *id, int fd);
