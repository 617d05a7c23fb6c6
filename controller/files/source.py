"""The narrow interface every reader of repository files goes through: `FileSource`.

Validation reads through it, a working tree implements it
(`controller.validation.files.WorktreeFiles`) and so does a commit's tree
(`controller.git.tree.GitTreeFiles`); the limits both sides share are stated
here once, so a file one accepts the other accepts. Pure: no I/O.
"""

from __future__ import annotations

from typing import Literal, Protocol

from controller.core.errors import UserError

# A technical package: the largest file an offer may refer to (also the cap on a
# commit snapshot's blobs, and on what the virus scan decompresses).
MAX_PACKAGE_BYTES = 64 * 1024 * 1024

# Why a symlink is refused wherever offerctl reads a file: git stores only the
# link's text, so what it points at was never reviewed or committed.
SYMLINK_RULE = (
    "is a symlink; offer files must be regular files (links are not followed, "
    "as in a git commit); commit the file itself"
)

Kind = Literal["file", "dir", "symlink", "missing", "other"]


class FileReadError(UserError):
    """A repository file that cannot be read; `code` says why (FileTooLarge, NotAFile, ...)."""

    def __init__(self, code: str, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.code = code
        self.path = path
        self.message = message


class FileSource(Protocol):
    """Read-only access to one repository's files, by repo-relative POSIX path."""

    def kind(self, path: str) -> Kind:
        """What `path` is. `symlink` means the path is a link or passes through one:
        links are never followed, wherever they point."""
        ...

    def read(self, path: str, limit: int) -> bytes:
        """The bytes of a regular file; `FileReadError` when it is not one or exceeds `limit`."""
        ...

    def list_dir(self, path: str) -> list[str]:
        """Sorted entry names of a directory ("" is the repository root)."""
        ...


def is_safe_relative(path: str) -> bool:
    """True for a relative POSIX path that stays where it starts: no `..`, no root, no `\\`."""
    if not path or "\0" in path or "\\" in path or path.startswith("/"):
        return False
    parts = path.rstrip("/").split("/")
    return ".." not in parts and "" not in parts and not (len(path) > 1 and path[1] == ":")
