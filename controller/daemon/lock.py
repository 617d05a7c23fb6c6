"""One daemon per checkout: an exclusive `flock` on `<git-dir>/offerctl/daemon.lock`.

The lock is held by an open file descriptor, so the kernel releases it when
the process dies for any reason, SIGKILL included: there is never a stale
lock to clean up. The file keeps the holder's pid only so that a second
daemon can say who holds it; the pid is advice, the flock is the truth.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from controller.core.errors import FatalError

LOCK_NAME = "daemon.lock"


def git_dir(repo: Path) -> Path:
    """The git directory of the checkout at `repo` (a worktree's `.git` file is followed)."""
    dot_git = repo / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        # Worktrees and submodules: ".git" is a file "gitdir: <path>".
        first = dot_git.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
        if first and first[0].startswith("gitdir:"):
            target = Path(first[0].removeprefix("gitdir:").strip())
            return target if target.is_absolute() else (repo / target).resolve()
    if (repo / "HEAD").is_file() and (repo / "objects").is_dir():
        return repo  # a bare repository
    raise FatalError(f"{repo} is not a git checkout (no .git found)")


def default_lock_path(repo: Path) -> Path:
    return git_dir(repo) / "offerctl" / LOCK_NAME


class DaemonLock:
    """Context manager holding the daemon lock; `acquire` raises FatalError if it is taken."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise FatalError(f"cannot lock {self.path}: {exc.strerror}") from exc
            who = f"pid {holder}" if holder else "pid unknown"
            raise FatalError(
                f"another offerctl daemon ({who}) holds {self.path}; "
                "stop it first, or run this one on a separate checkout"
            ) from None
        # Truncate then write in place: a reader sees our pid or nothing, never a mix.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Keep the file: unlinking a lock file races with a newcomer that opened it.
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
