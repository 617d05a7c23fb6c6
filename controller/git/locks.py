"""Locks: the controller's own pass lock, and git lock files a killed git left behind.

`pass_lock` is an flock on .git/offerctl/pass.<branch>.lock: one offerctl
reconciles a branch at a time. `clear_stale_locks` removes `index.lock`,
`HEAD.lock`, `packed-refs.lock`, `shallow.lock` and refs' `.lock` files that
are older than a limit while no git process works in the repository (read
from /proc; where /proc is missing, nothing is ever removed). A younger lock,
or any lock while git runs there, is a TransientError: retry later.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from controller.core.errors import FatalError, TransientError

log = logging.getLogger(__name__)

# Lock files a killed git leaves that would block a pass (gc.log.lock and the like do not).
BLOCKING_LOCKS: tuple[str, ...] = ("index.lock", "HEAD.lock", "packed-refs.lock", "shallow.lock")


class PassLockBusy(FatalError):
    """Another offerctl process is reconciling the same branch: fatal for a one-shot
    command, only a short wait for the daemon."""


@contextlib.contextmanager
def pass_lock(private_dir: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock for one watched branch; PassLockBusy if another offerctl has it."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    path = private_dir / f"pass.{safe}.lock"
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PassLockBusy(
                f"another offerctl is reconciling {name} in this repository"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clear_stale_locks(
    git_dirs: Iterable[Path],
    work_dirs: Iterable[Path],
    *,
    own_pids: set[int],
    max_age: float = 600.0,
    now: float | None = None,
) -> list[Path]:
    """Remove git lock files older than `max_age` seconds that no live git process holds.

    A git killed mid-operation leaves `index.lock`, `HEAD.lock` or a ref's
    `.lock` behind and every later write fails forever (Argo CD #2351).
    `git_dirs` are the repository's git and common dirs, `work_dirs` every
    directory a git working in it could run from; `own_pids` our own batch
    processes, which hold no lock. Returns what was removed.
    """
    now = time.time() if now is None else now
    bases = set(git_dirs)
    locks = [p for p in lock_files(bases) if p.exists()]
    if not locks:
        return []
    busy = git_running_in(bases | set(work_dirs), exclude=own_pids)
    removed: list[Path] = []
    for lock in locks:
        try:
            age = now - lock.stat().st_mtime
        except FileNotFoundError:
            continue
        if busy or age < max_age:
            raise TransientError(
                f"{lock} is held (age {age:.0f}s); another git command is running",
                retry_after=min(60.0, max(5.0, max_age - age)),
            )
        log.warning("removing stale git lock %s (%.0f s old, no git process running)", lock, age)
        lock.unlink(missing_ok=True)
        removed.append(lock)
    return removed


def lock_files(git_dirs: Iterable[Path]) -> Iterator[Path]:
    """The locks that block what a pass writes: the index, HEAD, refs, packed-refs."""
    for base in set(git_dirs):
        for name in BLOCKING_LOCKS:
            yield base / name
        refs = base / "refs"
        if refs.is_dir():
            yield from refs.rglob("*.lock")


def git_running_in(dirs: set[Path], exclude: set[int]) -> bool:
    """Whether a live `git` process works in one of `dirs` (Linux /proc; else assume yes)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True  # cannot tell: never remove a lock that might be live
    resolved = {d.resolve() for d in dirs}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            if (entry / "comm").read_text().strip() not in {"git", "git-remote-http"}:
                continue
            cwd = (entry / "cwd").resolve()
        except OSError:
            continue
        if any(cwd == d or d in cwd.parents or cwd in d.parents for d in resolved):
            return True
    return False
