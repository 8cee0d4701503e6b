/* SPDX-License-Identifier: MIT */
/* exec-tty.h - the job's pseudo-terminal, set up by the job's child as the job's user (exec-tty.c). */
#pragma once

/* The largest number of rows or columns a terminal may be given (TIOCSWINSZ takes 16 bits). */
#define EXEC_TTY_SIZE_MAX 4096

/* "ROWSxCOLS" (teleworker-exec --tty=), each 1..EXEC_TTY_SIZE_MAX: 0, -EINVAL or -ERANGE. */
int exec_tty_parse_size(const char *s, unsigned short *ret_rows, unsigned short *ret_cols);

/* Opens a pty of rows x cols and forks: returns 0 in the job, whose fds 0-2 are the slave, its controlling
 * terminal, in a session of its own; the parent becomes the relay between fd 0/fd 1 and the master and never
 * returns. <0 (nothing forked) when the terminal cannot be set up. Call after the privileges are dropped. */
int exec_tty_start(unsigned short rows, unsigned short cols, int report_fd, int master_fd_socket);

/* The relay's copy of the master, sent on sock (SCM_RIGHTS), for the daemon's resizes. 0 or -errno. */
int exec_tty_send_fd(int sock, int fd);
/* The fd sent on sock, or -errno (-EPIPE: the sender closed without one). Blocks. */
int exec_tty_recv_fd(int sock);
