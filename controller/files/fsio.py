"""Writing files so that a crash, a SIGKILL or a full disk never leaves a truncated one.

The bytes go to a temporary file beside the target, are fsynced, and replace
the target in one rename: a reader sees the old content or the new, never half.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

from controller.failpoint import failpoint


def atomic_write(
    target: Path,
    data: bytes,
    *,
    failpoint_name: str = "",
    durable: bool = True,
    private: bool = True,
) -> None:
    """Replace `target` with `data` atomically (temp file, fsync, rename).

    `failpoint_name` names the crash-test failpoint between fsync and rename.
    `durable=False` skips the fsync: readers still see the old bytes or the new,
    but a power cut may lose the file (for copies that something else can restore).

    The temporary file is made as `tempfile.mkstemp` makes one (exclusive, not
    following a link, mode 0600) but with plain `os` calls: a checkout sync writes
    a file per changed status, and mkstemp's name drawing, a `mkdir` of a parent
    that exists and a buffered file object were most of a file's cost.
    `private=False` makes it as git's checkout makes a file instead: mode 0666 less
    the process's umask (a status file in a person's working tree).
    """
    mode = 0o600 if private else 0o666
    try:
        fd, tmp = _create_beside(target, mode)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_beside(target, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if failpoint_name:
            failpoint(failpoint_name)
        os.replace(tmp, target)  # noqa: PTH105 - paths as str, no Path objects made
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # noqa: PTH108
        raise


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_TEMP_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_TEMP_TRIES = 100  # names tried before giving up (tempfile's TMP_MAX is 10,000)
_temp_names = itertools.count()


def _create_beside(target: Path, mode: int) -> tuple[int, str]:
    """A new, empty, exclusively created file beside `target` (`mode`, less the umask):
    its descriptor and path."""
    stem = f"{target.parent}{os.sep}.{target.name}.{os.getpid()}"
    for _ in range(_TEMP_TRIES):
        path = f"{stem}-{next(_temp_names)}"
        try:
            return os.open(path, _TEMP_FLAGS, mode), path
        except FileExistsError:
            continue  # left by a killed process that had our pid: take the next name
    raise FileExistsError(f"no free temporary name beside {target}")
