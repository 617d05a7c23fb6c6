"""One exchange with a short-lived process: its input in, its output and exit out, by a deadline.

What `subprocess.run(..., timeout=...)` does, without its wait for the exit.
The standard library reads the pipes to their end and then waits for the exit
by polling: a `waitpid(WNOHANG)`, and when the child has closed its pipes but
is not yet reaped (it is still exiting, the usual case for a git that has just
written its last byte) a sleep of 1 ms, then 2, 4 ... A one-offer reconcile
pass runs about a dozen git processes of 2 to 4 ms each and lost 4 to 7 ms of
its wall time to those sleeps. Here the exit is waited for on a pidfd
(`os.pidfd_open`, Linux 5.3 and later), which wakes the moment the child
exits; without one, as the standard library does.

The deadline covers the whole exchange. Past it the child is killed and
reaped, not drained: a grandchild (a shell alias, a filter) may hold the pipes
open long after, and is left to them.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import time

READ_CHUNK = 64 * 1024  # a pipe's buffer on Linux: one read empties it
WRITE_CHUNK = 1024 * 1024  # stdin is non-blocking: a write takes what the pipe has room for
# As subprocess chooses: poll(2) where there is one (no file descriptor of its own, unlike
# epoll), select(2) elsewhere.
_Selector = getattr(selectors, "PollSelector", selectors.SelectSelector)


class Expired(Exception):
    """The deadline passed; the child was killed and reaped."""


def exchange(
    proc: subprocess.Popen[bytes], data: bytes | bytearray, deadline: float
) -> tuple[bytes, bytes]:
    """Write `data` to `proc`'s stdin (then close it), read its stdout and stderr to
    their end and wait for it to exit, all by `deadline` (`time.monotonic()`); its
    stdout and stderr. Expired past the deadline. `proc` has pipes on all three."""
    try:
        out, err = _pipes(proc, data, deadline)
        _wait(proc, deadline)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
        raise
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
    return out, err


def _pipes(
    proc: subprocess.Popen[bytes], data: bytes | bytearray, deadline: float
) -> tuple[bytes, bytes]:
    stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
    if stdin is None or stdout is None or stderr is None:
        raise ValueError("an exchange needs pipes on stdin, stdout and stderr")
    chunks: dict[int, list[bytes]] = {stdout.fileno(): [], stderr.fileno(): []}
    view = memoryview(data)  # a bytearray is not copied
    sent = 0
    with _Selector() as selector:
        if view:
            os.set_blocking(stdin.fileno(), False)
            selector.register(stdin.fileno(), selectors.EVENT_WRITE)
        else:
            stdin.close()
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise Expired
            for key, _ in selector.select(left):
                fd = key.fd
                if fd in chunks:
                    got = os.read(fd, READ_CHUNK)
                    if got:
                        chunks[fd].append(got)
                    else:
                        selector.unregister(fd)
                    continue
                try:
                    sent += os.write(fd, view[sent : sent + WRITE_CHUNK])
                except BlockingIOError:
                    continue  # full again already: wait for room
                except BrokenPipeError:
                    sent = len(view)  # the child stopped reading: its exit status tells
                if sent >= len(view):
                    selector.unregister(fd)
                    stdin.close()
    return b"".join(chunks[stdout.fileno()]), b"".join(chunks[stderr.fileno()])


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Reap `proc` by the deadline, woken by its exit rather than polling for it."""
    if proc.poll() is not None:
        return
    opener = getattr(os, "pidfd_open", None)
    if opener is not None:
        try:
            pidfd = opener(proc.pid)
        except OSError:
            pidfd = -1
        if pidfd >= 0:
            try:
                with _Selector() as selector:
                    selector.register(pidfd, selectors.EVENT_READ)
                    left = deadline - time.monotonic()
                    if left <= 0 or not selector.select(left):
                        raise Expired
            finally:
                os.close(pidfd)
    try:
        proc.wait(max(deadline - time.monotonic(), 0.0))
    except subprocess.TimeoutExpired:
        raise Expired from None
