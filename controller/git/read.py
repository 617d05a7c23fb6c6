"""Reading objects: tree listings, tree diffs, and blobs through one `cat-file --batch`.

Nothing here writes to the repository. Paths come back decoded with
surrogateescape, so any byte sequence git stores round-trips.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from controller.core.errors import FatalError, UserError
from controller.git.names import check_oid
from controller.git.runner import GitRunner, pipes, stop
from controller.git.tree import TreeEntry


class BlobTooLarge(UserError):
    """A blob over the size its reader allows; it was not read."""


def decode_path(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def encode_path(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def nul_fields(data: bytes) -> Iterator[bytes]:
    """`data.split(b"\\0")`, one field at a time: a listing of 50,000 offers has 300,000
    records, and a list of them all beside the output doubled its memory at once."""
    start, end = 0, len(data)
    while start <= end:
        stop = data.find(b"\x00", start)
        if stop == -1:
            stop = end
        yield data[start:stop]
        start = stop + 1


def ls_tree(
    runner: GitRunner,
    commit: str,
    paths: Sequence[str],
    *,
    sizes: bool = True,
    shared: bool = False,
) -> dict[str, TreeEntry]:
    """Every blob, symlink and submodule under `paths` at `commit`, by path.

    `sizes` asks git for each blob's size; without it sizes are 0. `ls-tree -l`
    looks up every entry's object, so a listing of many offers made from one
    template looks up each shared logo and package once per offer: with `shared`
    (a listing of many folders) the listing is made without `-l` and each distinct
    blob's size asked once, of one `cat-file --batch-check` (two processes: not
    worth it for one folder). `paths` are a handful of folders, never one per file.
    """
    ask_sizes = sizes and not shared
    args = ["ls-tree", "-r", "-z", *(["-l"] if ask_sizes else []), "--full-tree", check_oid(commit)]
    out = runner.run([*args, "--", *paths]).stdout
    # Offers made from one template share their assets' blobs: one id string and size
    # per blob, not per entry (a listing is held for a whole pass, 300,000 entries at
    # 50,000 offers).
    blobs: dict[str, tuple[str, int]] = {}
    records: list[tuple[str, str, bytes]] = []
    for record in nul_fields(out):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        fields = meta.decode("ascii").split()
        mode = sys.intern(fields[0])  # a handful of modes, 50,000 entries
        if fields[2] not in blobs:
            size = fields[3] if len(fields) > 3 else "0"
            blobs[fields[2]] = (fields[2], int(size) if size.isdigit() else 0)
        records.append((mode, fields[2], raw_path))
    if sizes and shared:
        asked = {oid for mode, oid, _ in records if mode != SUBMODULE_MODE}
        for oid, known in _blob_sizes(runner, sorted(asked)).items():
            blobs[oid] = (blobs[oid][0], known)
    entries: dict[str, TreeEntry] = {}
    for mode, oid, raw_path in records:
        path = decode_path(raw_path)
        blob = blobs[oid]
        entries[path] = TreeEntry(path=path, mode=mode, oid=blob[0], size=blob[1])
    return entries


SUBMODULE_MODE = "160000"  # a gitlink: names a commit of another repository, no size


def _blob_sizes(runner: GitRunner, oids: Sequence[str]) -> dict[str, int]:
    """Each blob's size, of one `cat-file --batch-check` (ids on stdin); FatalError for one
    that is missing, as `ls-tree -l` fails then."""
    if not oids:
        return {}
    out = runner.run(
        ["cat-file", "--batch-check"], stdin="".join(f"{oid}\n" for oid in oids).encode()
    ).text
    found: dict[str, int] = {}
    for line in out.splitlines():
        oid, kind, size = ([*line.split(" "), "", ""])[:3]
        if kind == "missing" or not size.isdigit():
            raise FatalError(f"object {oid} is missing from the repository")
        found[oid] = int(size)
    if len(found) != len(oids):
        raise FatalError("git cat-file --batch-check answered another number of objects")
    return found


@dataclass(frozen=True, slots=True)
class TreeChange:
    """One path that differs between two trees; None for the side where it is absent."""

    path: str
    old_mode: str | None
    old_oid: str | None
    new_mode: str | None
    new_oid: str | None


def diff_trees(runner: GitRunner, old: str, new: str) -> list[TreeChange]:
    """Every path that differs between two commits, with both sides' mode and id.

    One `diff-tree -r`: git skips identical subtrees, so the cost follows the
    change, not the size of the tree.
    """
    out = runner.run(
        ["diff-tree", "-r", "-z", "--no-renames", "--no-ext-diff", check_oid(old), check_oid(new)]
    ).stdout
    fields = nul_fields(out)
    changes: list[TreeChange] = []
    for meta in fields:
        raw = next(fields, None)
        if raw is None:
            break
        if not meta.startswith(b":"):
            continue
        old_mode, new_mode, old_oid, new_oid, _status = meta[1:].decode("ascii").split()
        old_mode, new_mode = sys.intern(old_mode), sys.intern(new_mode)  # a handful of modes
        changes.append(
            TreeChange(
                path=decode_path(raw),
                old_mode=None if set(old_mode) == {"0"} else old_mode,
                old_oid=None if set(old_oid) == {"0"} else old_oid,
                new_mode=None if set(new_mode) == {"0"} else new_mode,
                new_oid=None if set(new_oid) == {"0"} else new_oid,
            )
        )
    return changes


def entry_mode(raw: bytes) -> bytes:
    """The mode of a raw tree entry (`mode SP name NUL oid`), e.g. b"100644", b"40000"."""
    return raw[: raw.index(b" ")]


def entry_oid(raw: bytes, width: int) -> str:
    """The object id of a raw tree entry whose ids are `width` bytes."""
    return raw[-width:].hex()


_OCTAL = frozenset(b"01234567")
# Requests `ObjectReader.read_many` writes before reading answers: 256 lines of at most 65
# bytes (a SHA-256 id), well within the 64 KiB a pipe holds.
ASKS_AT_ONCE = 256
# Bytes of answers `read_many` holds at once: a status file or a folder's tree is a few
# KiB, but a commit the controller did not write (a sync after a crash) may hold big ones.
MANY_BYTES = 16 * 1024 * 1024
_MODE_WIDTHS = (6, 5, 1, 2, 3, 4, 7)  # 100644 and 40000 first: what git writes


class ObjectReader:
    """One long-lived `git cat-file --batch` (and, on demand, `--batch-check`).

    Every blob and tree a pass reads goes through these two processes, one
    request at a time; `close()` stops them.
    """

    def __init__(self, runner: GitRunner, object_format: str = "sha1") -> None:
        self._runner = runner
        self._oid_bytes = 20 if object_format == "sha1" else 32
        self._entry = re.compile(rb"[0-7]+ ([^\x00]*)\x00.{%d}" % self._oid_bytes, re.DOTALL)
        self._entries = re.compile(rb"(?:[0-7]+ [^\x00]*\x00.{%d})*" % self._oid_bytes, re.DOTALL)
        self._batch: subprocess.Popen[bytes] | None = None
        self._check: subprocess.Popen[bytes] | None = None

    @property
    def pids(self) -> set[int]:
        return {p.pid for p in (self._batch, self._check) if p is not None}

    def close(self) -> None:
        procs = (self._batch, self._check)
        self._batch = self._check = None
        for proc in procs:
            stop(proc)

    def abandon(self) -> None:
        """Kill the processes: for answers left unread, which a `close` would wait on
        while git is blocked writing them to a full pipe."""
        procs = (self._batch, self._check)
        self._batch = self._check = None
        for proc in procs:
            if proc is not None:
                proc.kill()
                stop(proc)

    def start(self) -> None:
        """Start `--batch` now, before it is asked anything: its start-up then overlaps
        the caller's next git process instead of delaying the first read."""
        if self._batch is None:
            self._batch = self._runner.start(["cat-file", "--batch"])

    def _ask(self, check: bool, oid: str) -> tuple[subprocess.Popen[bytes], list[bytes]]:
        if check:
            if self._check is None:
                self._check = self._runner.start(["cat-file", "--batch-check"])
            proc = self._check
        else:
            if self._batch is None:
                self._batch = self._runner.start(["cat-file", "--batch"])
            proc = self._batch
        stdin, stdout = pipes(proc)
        try:
            stdin.write(check_oid(oid).encode("ascii") + b"\n")
            stdin.flush()
            header = stdout.readline().split()
        except OSError as exc:
            self.close()
            raise FatalError(f"git cat-file stopped: {exc}") from None
        if len(header) != 3:
            if not header:
                self.close()
                raise FatalError("git cat-file stopped")
            raise FatalError(f"object {oid} is missing from the repository")
        return proc, header

    def size(self, oid: str) -> int:
        _, header = self._ask(True, oid)
        return int(header[2])

    def read(self, oid: str, limit: int | None = None, *, kind: str = "") -> bytes:
        """An object's bytes. With `limit`, its size is asked first and a larger object
        is never read (by us or by git), BlobTooLarge raised instead. With `kind`,
        FatalError if the object is of another type."""
        if limit is not None:
            size = self.size(oid)
            if size > limit:
                raise BlobTooLarge(f"object {oid} is {size:,} bytes; the limit is {limit:,}")
        proc, header = self._ask(False, oid)
        return self._body(proc, header, oid, kind)

    def _body(
        self, proc: subprocess.Popen[bytes], header: list[bytes], oid: str, kind: str
    ) -> bytes:
        """The object `_ask` announced with `header`, read off `--batch`'s output."""
        _, stdout = pipes(proc)
        size = int(header[2])
        data = stdout.read(size)
        if len(data) != size or stdout.read(1) != b"\n":  # git stopped within the object
            self.abandon()
            raise FatalError(f"git cat-file stopped within object {oid}")
        if kind and header[1].decode("ascii") != kind:
            raise FatalError(f"object {oid} is a {header[1].decode('ascii')}, not a {kind}")
        return data

    def read_many(self, oids: Sequence[str], *, kind: str = "") -> Iterator[bytes]:
        """Each object's bytes, in the order asked; for objects whose size is not the
        author's to choose (trees, the controller's own status files).

        Asked ASKS_AT_ONCE at a time: their request lines (under 17 KiB) fit in the
        pipe to git whatever git is doing, so writing them never waits on git, which
        meanwhile writes the answers we read: one flush and one wake-up of git per
        batch, not per object. Every answer read is held until the batch is handed out,
        at most MANY_BYTES of them (and always one): past that the process goes with
        the answers not read, and a new one is asked the rest."""
        start = 0
        while start < len(oids):
            batch = oids[start : start + ASKS_AT_ONCE]
            if self._batch is None:
                self._batch = self._runner.start(["cat-file", "--batch"])
            proc = self._batch
            stdin, stdout = pipes(proc)
            try:
                stdin.write(b"".join(check_oid(oid).encode("ascii") + b"\n" for oid in batch))
                stdin.flush()
            except OSError as exc:
                self.close()
                raise FatalError(f"git cat-file stopped: {exc}") from None
            # Every answer read is read before any is handed out: a caller that stops
            # early, or a wrong kind, leaves none to answer the next request.
            answers: list[tuple[str, list[bytes], bytes]] = []
            held = 0
            for oid in batch:
                header = stdout.readline().split()
                if len(header) != 3:
                    self.abandon()  # the answers after it are not read
                    if not header:
                        raise FatalError("git cat-file stopped")
                    raise FatalError(f"object {oid} is missing from the repository")
                size = int(header[2])
                if answers and held + size > MANY_BYTES:
                    self.abandon()  # this answer and the rest go unread, with the process
                    break
                answers.append((oid, header, self._body(proc, header, oid, "")))
                held += size
            start += len(answers)
            for oid, header, data in answers:
                if kind and header[1].decode("ascii") != kind:
                    raise FatalError(f"object {oid} is a {header[1].decode('ascii')}, not a {kind}")
                yield data

    def read_within(self, oid: str, limit: int, *, kind: str = "") -> bytes | None:
        """An object's bytes, or None when it is larger than `limit` (its bytes are read
        past and dropped, a MiB at a time). For an object git inflates anyway in every
        command that walks it (a commit at a branch tip): no `--batch-check` process is
        started just to ask its size first, as `read` with a limit does."""
        proc, header = self._ask(False, oid)
        size = int(header[2])
        if size <= limit:
            return self._body(proc, header, oid, kind)
        _, stdout = pipes(proc)
        left = size + 1  # and the newline after it
        while left:
            chunk = stdout.read(min(left, 1 << 20))
            if not chunk:
                self.close()
                raise FatalError("git cat-file stopped")
            left -= len(chunk)
        return None

    def read_tree(self, oid: str) -> dict[bytes, bytes]:
        """One tree object's entries (not recursive), in git's order: each name and its
        raw entry (`mode SP name NUL oid`), parsed at C speed, never one object each."""
        return self.parse_tree(oid, self.read(oid, kind="tree"))

    def parse_tree(self, oid: str, data: bytes) -> dict[bytes, bytes]:
        """`read_tree` of a tree object's bytes already read."""
        entries = {m.group(1): m.group(0) for m in self._entry.finditer(data)}
        if sum(map(len, entries.values())) != len(data):
            raise FatalError(f"tree {oid} is malformed")
        return entries

    def find_entry(self, data: bytes, name: bytes) -> tuple[int, int] | None:
        """Where the entry called `name` sits in a tree object's bytes: (start, end), or
        None when the tree has no such entry or a name makes it unclear (then parse it all).

        A whole tree of 10,000 offers parsed into Python objects costs tens of ms; this
        looks for `SP name NUL` with `bytes.find` and checks that what precedes it is a
        run of whole entries and what follows is too, both by one regular expression at
        C speed, so a name inside another name never passes for an entry.
        """
        needle = b" " + name + b"\x00"
        end_of = len(needle) + self._oid_bytes
        at = data.find(needle)
        tries = 0
        while at != -1 and tries < 6:
            run = 0  # octal digits right before the space: the mode, or more
            while run < 7 and at - run > 0 and data[at - run - 1] in _OCTAL:
                run += 1
            for width in _MODE_WIDTHS:
                if width > run or tries >= 6:
                    continue
                tries += 1
                start, end = at - width, at + end_of
                if (
                    end <= len(data)
                    and self._entries.fullmatch(data, 0, start) is not None
                    and self._entries.fullmatch(data, end) is not None
                ):
                    return start, end
            at = data.find(needle, at + 1)
        return None

    @property
    def oid_width(self) -> int:
        return self._oid_bytes
