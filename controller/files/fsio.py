"""Writing files so that a crash, a SIGKILL or a full disk never leaves a truncated one.

The bytes go to a temporary file beside the target, are fsynced, and replace
the target in one rename: a reader sees the old content or the new, never half.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from controller.failpoint import failpoint


def atomic_write(
    target: Path, data: bytes, *, failpoint_name: str = "", durable: bool = True
) -> None:
    """Replace `target` with `data` atomically (temp file, fsync, rename).

    `failpoint_name` names the crash-test failpoint between fsync and rename.
    `durable=False` skips the fsync: readers still see the old bytes or the new,
    but a power cut may lose the file (for copies that something else can restore).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if failpoint_name:
            failpoint(failpoint_name)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
