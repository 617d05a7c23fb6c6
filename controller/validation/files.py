"""Reading repository files by repo-relative POSIX path, without ever leaving the repository.

`FileSource` is the narrow interface validation reads through, so the same
checks run on a working tree (`WorktreeFiles`) and on a commit's tree
(`controller.git.tree.GitTreeFiles`). A source refuses paths that are absolute
or climb with `..`, never follows a symlink (a commit holds only the link's
text, so a working tree must not accept what reconcile would refuse: see
`limits.SYMLINK_RULE`), reports FIFOs, sockets and devices as `other` without
opening them, and reads at most `limit` bytes.
"""

# os.* on str paths on purpose: O_NOFOLLOW/O_NONBLOCK opens need os.open, and plain
# strings keep realpath checks cheap over 10,000 offers.
# ruff: noqa: PTH116, PTH118, PTH208

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from controller.files import source
from controller.files.source import SYMLINK_RULE

# The interface itself lives one layer down, in `controller.files.source`, so that the git
# layer can implement it without importing validation (docs/DESIGN.md §10).
Kind = source.Kind
FileReadError = source.FileReadError
FileSource = source.FileSource
is_safe_relative = source.is_safe_relative


class WorktreeFiles:
    """A `FileSource` over a directory on disk, confined to that directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(os.path.realpath(root))
        self._root_text = str(self.root)
        # Resolved directories, cached: make a new instance per pass over the tree.
        self._dirs: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"WorktreeFiles({self._root_text!r})"

    def __reduce__(self) -> tuple[type[WorktreeFiles], tuple[str]]:  # for process pools
        return (WorktreeFiles, (self._root_text,))

    def kind(self, path: str) -> Kind:
        real = self._real(path)
        if real is None:
            # A well-formed path can only resolve outside through a symlink.
            return "symlink" if is_safe_relative(path) else "missing"
        if os.path.normpath(real) != os.path.normpath(os.path.join(self._root_text, path)):
            return "symlink"  # the path is a link, or a folder on the way is
        try:
            mode = os.stat(real).st_mode
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "symlink"
            return "symlink" if self._lexists(path) else "missing"
        if stat.S_ISREG(mode):
            return "file"
        if stat.S_ISDIR(mode):
            return "dir"
        return "other"

    def read(self, path: str, limit: int) -> bytes:
        kind = self.kind(path)
        if kind != "file":
            raise FileReadError(_KIND_CODES[kind], path, _KIND_MESSAGES[kind])
        real = self._real(path)
        if real is None:  # kind() said file; only a concurrent change gets here
            raise FileReadError("OutsideRepository", path, _KIND_MESSAGES["symlink"])
        # O_NONBLOCK: if the file was swapped for a FIFO since kind(), open must not hang.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise FileReadError(
                "FileUnreadable", path, f"cannot be read ({exc.strerror})"
            ) from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileReadError("NotAFile", path, _KIND_MESSAGES["other"])
            # Sized by the file, not the limit: read(limit + 1) allocates the whole
            # limit up front (200 MiB per package). A file grown since fstat reads on.
            size = os.fstat(fd).st_size
            data = handle.read(min(size, limit) + 1)
            while size < len(data) <= limit:
                more = handle.read(min(limit + 1 - len(data), 1 << 20))
                if not more:
                    break
                data += more
        if len(data) > limit:
            raise FileReadError(
                "FileTooLarge", path, f"is larger than the limit of {limit:,} bytes"
            )
        return data

    def list_dir(self, path: str) -> list[str]:
        if path in ("", "."):
            return sorted(os.listdir(self.root))
        if self.kind(path) != "dir":
            return []
        real = self._real(path)
        return [] if real is None else sorted(os.listdir(real))

    def _real(self, path: str) -> str | None:
        """The resolved path, or None when `path` is malformed or resolves outside the root."""
        if not is_safe_relative(path):
            return None
        parent, _, name = path.rpartition("/")
        real_parent = self._dirs.get(parent)
        if real_parent is None:
            real_parent = os.path.realpath(os.path.join(self._root_text, parent))
            self._dirs[parent] = real_parent
        real = os.path.join(real_parent, name)
        try:
            if stat.S_ISLNK(os.lstat(real).st_mode):
                real = os.path.realpath(real)
        except OSError:
            pass  # missing: kind() says so
        if real != self._root_text and not real.startswith(self._root_text + os.sep):
            return None
        return real

    def _lexists(self, path: str) -> bool:
        return os.path.lexists(os.path.join(self._root_text, path))


_KIND_CODES: dict[Kind, str] = {
    "missing": "FileMissing",
    "dir": "NotAFile",
    "other": "NotAFile",
    "symlink": "OutsideRepository",
    "file": "",
}
_KIND_MESSAGES: dict[Kind, str] = {
    "missing": "does not exist",
    "dir": "is a directory, not a file",
    "other": "is not a regular file (a FIFO, socket or device); it was not opened",
    "symlink": SYMLINK_RULE,
    "file": "",
}
