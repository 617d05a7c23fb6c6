"""A commit's tree held in memory: its entries, and the files in it served to validation.

`TreeSnapshot` is plain data built by `controller.git.repo` (from one
`ls-tree` and the batch reader of `controller.git.read`): the entries of a
commit's tree under the paths the reconciler asked for, and a callable that
fetches a blob's bytes from the object database. Blobs are immutable, so
reading one later still reads the snapshot's commit, never the half-edited
working tree.

`GitTreeFiles` serves a snapshot through the validation engine's `FileSource`
interface: symlinks are reported as symlinks and never followed, submodules as
`other`, and a blob over the size cap is refused before it is read.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from controller.core.escaping import printable
from controller.files.source import (
    MAX_PACKAGE_BYTES,
    SYMLINK_RULE,
    FileReadError,
    Kind,
    is_safe_relative,
)
from controller.repo.layout import OFFERS_DIR

log = logging.getLogger(__name__)

# Argo CD caps manifests at 10 MB; assets (technical packages) are bigger, so
# the snapshot's cap is per blob: the package cap `validate` applies too.
DEFAULT_MAX_BLOB_BYTES = MAX_PACKAGE_BYTES


class EntryKind(StrEnum):
    """What a tree entry is, from its git mode."""

    FILE = "file"  # 100644 or 100755
    SYMLINK = "symlink"  # 120000: the blob holds the link target; never followed
    SUBMODULE = "submodule"  # 160000: a commit of another repository; no content here
    OTHER = "other"  # anything else git may store (never expected in a tree listing)


MODE_KINDS: dict[str, EntryKind] = {
    "100644": EntryKind.FILE,
    "100755": EntryKind.FILE,
    "100664": EntryKind.FILE,  # legacy mode some old tools wrote
    "120000": EntryKind.SYMLINK,
    "160000": EntryKind.SUBMODULE,
}


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One path in a commit's tree."""

    path: str  # repository-relative, '/'-separated
    mode: str  # git's octal mode string, e.g. "100644"
    oid: str  # blob (or, for submodules, commit) object id
    size: int  # bytes; 0 for submodules

    @property
    def kind(self) -> EntryKind:
        return MODE_KINDS.get(self.mode, EntryKind.OTHER)


BlobReader = Callable[[str], bytes]
# A folder's entries, as the SHA-256 of (path, mode, oid) of each, in path order (b"" for
# none): equal keys, equal entries; 32 bytes to keep, one comparison to check.
FolderKey = bytes


class TreeIndex:
    """One listing's entries and what is derived from them, derived once for every snapshot
    that shares the listing (a commit's tree never changes; `GitRepo` keeps listings), so a
    pass that reads the same commit as the last one indexes nothing again."""

    __slots__ = ("_dirs", "_folders", "_subset", "entries")

    def __init__(self, entries: Mapping[str, TreeEntry]) -> None:
        self.entries = entries
        self._dirs: frozenset[str] | None = None
        self._folders: dict[str, FolderKey] | None = None
        self._subset: tuple[frozenset[str], TreeIndex] | None = None  # the last one asked

    def dirs(self) -> frozenset[str]:
        if self._dirs is None:
            self._dirs = frozenset(_parent_dirs(self.entries))
        return self._dirs

    def folder(self, offer: str) -> FolderKey:
        if self._folders is None:
            grouped: dict[str, list[tuple[str, str, str]]] = {}
            for path, e in self.entries.items():
                parts = path.split("/", 2)
                if len(parts) == 3 and parts[0] == OFFERS_DIR:
                    grouped.setdefault(parts[1], []).append((path, e.mode, e.oid))
            self._folders = {o: _folder_key(sorted(found)) for o, found in grouped.items()}
        return self._folders.get(offer, b"")

    def subset(self, offers: frozenset[str]) -> TreeIndex:
        """The entries outside offers/ and those of `offers`' folders (the last asked, kept)."""
        if self._subset is None or self._subset[0] != offers:
            entries = {
                p: e
                for p, e in self.entries.items()
                if not p.startswith("offers/") or p.split("/", 2)[1] in offers
            }
            self._subset = (offers, TreeIndex(entries))
        return self._subset[1]


@dataclass(slots=True)
class TreeSnapshot:
    """The entries of one commit's tree (under the listed paths) and a way to read their blobs.

    `complete` is False when the snapshot covers only some offers (an
    incremental pass); `offer_ids()` then lists only those present.
    """

    commit: str
    entries: Mapping[str, TreeEntry]
    read_blob: BlobReader
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES
    complete: bool = True
    index: TreeIndex | None = field(default=None, repr=False)  # of `entries`; made when asked

    def entry(self, path: str) -> TreeEntry | None:
        return self.entries.get(path)

    def read(self, path: str) -> bytes:
        """The bytes of the regular file at `path` (within the cap); FileReadError otherwise."""
        return GitTreeFiles(self).read(path, self.max_blob_bytes)

    def is_dir(self, path: str) -> bool:
        return path.rstrip("/") in self._indexed().dirs()

    def _indexed(self) -> TreeIndex:
        if self.index is None:
            self.index = TreeIndex(self.entries)
        return self.index

    def offer_ids(self) -> list[str]:
        """Folder names under offers/ that hold anything at all, sorted.

        A name that is not UTF-8 is skipped with a warning (like a folder whose
        name differs only in case): no status file, marketplace key or commit
        message can name it, and it must not stop the other offers.
        """
        ids = {
            parts[1]
            for parts in (p.split("/", 2) for p in self.entries)
            if len(parts) == 3 and parts[0] == OFFERS_DIR
        }
        for name in sorted(n for n in ids if not is_utf8_name(n)):
            log.warning(
                "skipping folder offers/%s: its name is not valid UTF-8 (rename the folder)",
                printable(name),
            )
            ids.discard(name)
        return sorted(ids)

    def offer_entries(self, offer: str) -> FolderKey:
        """The key of (path, mode, oid) of every entry under offers/<offer>/ (`FolderKey`).

        Everything `GitTreeFiles` answers about a path inside that folder
        follows from these (a blob's size from its oid), so equal keys mean
        equal answers. Indexed once per listing, not scanned per offer.
        """
        return self._indexed().folder(offer)

    def under(self, prefix: str) -> Iterator[TreeEntry]:
        """Entries whose path starts with `prefix/`."""
        start = prefix.rstrip("/") + "/"
        return (e for p, e in self.entries.items() if p.startswith(start))


def is_utf8_name(name: str) -> bool:
    """False for a name read from git with `surrogateescape` that held bytes not UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parent_dirs(paths: Iterable[str]) -> set[str]:
    dirs: set[str] = {""}
    for path in paths:
        parent = posixpath.dirname(path)
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = posixpath.dirname(parent)
    return dirs


class GitTreeFiles:
    """A `validation.files.FileSource` over a commit: what the repository held at that commit.

    Paths are repository-relative POSIX paths; anything absolute or climbing
    with `..` is `missing`. Unlike a working tree, a symlink is never followed,
    not even one that stays inside: git stores only the link text, and what
    it points at is not part of the reviewed content. Submodules are `other`.
    """

    def __init__(self, snapshot: TreeSnapshot) -> None:
        self._snapshot = snapshot
        self._children: dict[str, list[str]] | None = None

    def __repr__(self) -> str:
        return f"GitTreeFiles({self._snapshot.commit[:12]})"

    @property
    def commit(self) -> str:
        return self._snapshot.commit

    @property
    def snapshot(self) -> TreeSnapshot:
        return self._snapshot

    def entry(self, path: str) -> TreeEntry | None:
        """The tree entry at `path` (no blob is read); None for a missing or unsafe path."""
        return self._snapshot.entry(_clean(path)) if is_safe_relative(path) else None

    def kind(self, path: str) -> Kind:
        if not is_safe_relative(path):
            return "missing"
        entry = self._snapshot.entry(_clean(path))
        if entry is not None:
            return _KINDS[entry.kind]
        return "dir" if self._snapshot.is_dir(_clean(path)) else "missing"

    def read(self, path: str, limit: int) -> bytes:
        kind = self.kind(path)
        if kind != "file":
            raise FileReadError(_CODES[kind], path, _MESSAGES[kind])
        entry = self._snapshot.entry(_clean(path))
        if entry is None:  # pragma: no cover - kind() said file
            raise FileReadError("FileMissing", path, _MESSAGES["missing"])
        if entry.size > limit or entry.size > self._snapshot.max_blob_bytes:
            bound = min(limit, self._snapshot.max_blob_bytes)
            raise FileReadError(
                "FileTooLarge", path, f"is larger than the limit of {bound:,} bytes"
            )
        return self._snapshot.read_blob(entry.oid)

    def list_dir(self, path: str) -> list[str]:
        if path in ("", "."):
            key = ""
        elif is_safe_relative(path):
            key = _clean(path)
        else:
            return []
        if self._children is None:
            self._children = _children(self._snapshot.entries)
        return self._children.get(key, [])


_KINDS: dict[EntryKind, Kind] = {
    EntryKind.FILE: "file",
    EntryKind.SYMLINK: "symlink",
    EntryKind.SUBMODULE: "other",
    EntryKind.OTHER: "other",
}
_CODES: dict[Kind, str] = {
    "missing": "FileMissing",
    "dir": "NotAFile",
    "other": "NotAFile",
    "symlink": "OutsideRepository",  # the same code a working tree gives an unsafe link
    "file": "",
}
_MESSAGES: dict[Kind, str] = {
    "missing": "does not exist in the commit",
    "dir": "is a directory, not a file",
    "other": "is a submodule or another entry that is not a regular file",
    "symlink": SYMLINK_RULE,
    "file": "",
}


def within(path: str, folder: str) -> bool:
    """Whether `GitTreeFiles` answers about `path` from entries under `folder` alone."""
    if not is_safe_relative(path):
        return False
    clean = _clean(path)
    return clean == folder or clean.startswith(f"{folder}/")


def _clean(path: str) -> str:
    return posixpath.normpath(path) if "./" in path or path.endswith("/.") else path.rstrip("/")


def _children(entries: Mapping[str, TreeEntry]) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for path in entries:
        parts = path.split("/")
        for depth in range(len(parts)):
            parent = "/".join(parts[:depth])
            found.setdefault(parent, set()).add(parts[depth])
    return {parent: sorted(names) for parent, names in found.items()}


def _folder_key(entries: Iterable[tuple[str, str, str]]) -> FolderKey:
    """`FolderKey` of (path, mode, oid) triples in path order. A path holds no NUL, and a
    mode and an oid have fixed forms, so the NUL-separated bytes name the triples unambiguously."""
    digest = hashlib.sha256()
    for path, mode, oid in entries:
        digest.update(
            b"%s\0%s\0%s\0" % (path.encode("utf-8", "surrogateescape"), mode.encode(), oid.encode())
        )
    return digest.digest()
