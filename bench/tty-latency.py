#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# bench/tty-latency.py - keystroke round trip of `telerun run -it`, as a user at a terminal sees it.
#
#   tty-latency.py TELERUN ROUNDS [TELERUN GLOBAL OPTIONS...]
#
# Runs `telerun [OPTIONS] run -it -- cat` on a pseudo-terminal of its own (as a terminal emulator would), then
# ROUNDS times: types one letter and times until the letter comes back on that terminal. The way back is the
# whole path: telerun -> the job's relay -> the job's pty (its line discipline echoes; cat reads whole lines)
# -> the job's stdout pipe -> the daemon's spool -> telerun's reader -> the terminal. Prints one line
# "N MEDIAN_US P99_US" on stdout. Ends the job with Enter and ^D (EOF for cat).
import os
import pty
import select
import sys
import termios
import time


def read_until(fd, wanted, timeout):
    """Reads fd until the byte string wanted is in what was read; returns what was read."""
    buf = b""
    end = time.monotonic() + timeout
    while wanted not in buf:
        left = end - time.monotonic()
        if left <= 0:
            raise SystemExit(f"tty-latency: no {wanted!r} within {timeout} s (got {buf[-200:]!r})")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise SystemExit(f"tty-latency: telerun ended (got {buf[-200:]!r})")
            buf += chunk
    return buf


def drain(fd, quiet):
    """Reads what comes until nothing came for quiet seconds."""
    while select.select([fd], [], [], quiet)[0]:
        try:
            if not os.read(fd, 4096):
                return
        except OSError:
            return


def main():
    telerun, rounds, options = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(telerun, [telerun, *options, "run", "-it", "--", "cat"])

    # The job is up once a typed letter is echoed.
    os.write(fd, b"w")
    read_until(fd, b"w", 60)
    drain(fd, 0.2)
    # telerun must have put its terminal (ours) into raw mode: else the letters come back from our own line
    # discipline's echo, and the round trip would measure nothing of the job.
    if termios.tcgetattr(fd)[3] & (termios.ECHO | termios.ICANON):
        raise SystemExit("tty-latency: telerun did not put its terminal into raw mode")

    samples = []
    for i in range(rounds):
        key = bytes([ord("a") + i % 26])
        t0 = time.monotonic()
        os.write(fd, key)
        read_until(fd, key, 10)
        samples.append((time.monotonic() - t0) * 1e6)
        drain(fd, 0.005)

    os.write(fd, b"\r")
    time.sleep(0.05)
    os.write(fd, b"\x04")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"tty-latency: telerun exited {os.waitstatus_to_exitcode(status)}")
    samples.sort()
    print(len(samples), round(samples[len(samples) // 2]), round(samples[min(len(samples) - 1, len(samples) * 99 // 100)]))


if __name__ == "__main__":
    main()
