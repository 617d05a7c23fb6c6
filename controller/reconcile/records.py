"""The controller's own record of each offer, kept outside the working tree.

status.yaml is output only (docs/DESIGN.md §4, "The trust boundary"): anyone who can
open a pull request can write one, so the controller never reads it back to
learn which submission it made. What it last decided for an offer (the status
it computed, with the submission it follows) is kept here instead, one JSON
file per offer under the repository's private directory:

    <git-dir>/offerctl/records/<local | remote=NAME>/<branch>/<offer>.json

with every name percent-encoded (`release%2F1`), so that distinct branches
never share a folder and a controller for one branch never inherits another
branch's submissions. Each offer has one file, written only by the shard that
owns the offer. Shards that share one clone share its records; shards with a
clone each (the StatefulSet in deploy/) keep their own, and a shard taking an
offer over finds that offer's submissions in the marketplace (see below).

A missing or unreadable record means "never seen" (a fresh clone, a new
machine, an upgrade from an offerctl that kept no records): the reconciler
then finds the offer's submissions in the marketplace by idempotency key,
which the marketplace binds to the offer, and never by a status file.

Writes are batched per pass: `save` replaces the file at once (temporary file,
rename: a killed process leaves the old record or the new, never half of one,
and the next offer's marketplace call comes after this offer's record is in
place), and `flush` makes every record the pass saved durable with one fsync
per file and one per folder, before the status commit moves the branch. Without
the batch a pass paid one fsync per offer while it evaluated.

A store remembers the status it last read or wrote per offer with the digest of
that file's bytes (the last `MAX_KEPT` offers): a load whose file still holds
those bytes is not parsed again, and a save of an equal status is not
serialized again. The bytes are read each time, so a record another process
replaced is never answered from memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from controller.core.kept import Kept
from controller.core.model import OfferStatus
from controller.files.fsio import atomic_write
from controller.repo import status
from controller.signoff.replay import Replay

log = logging.getLogger(__name__)

RECORD_VERSION = 1
RECORDS_DIR = "records"
MAX_RECORD_BYTES = 1024 * 1024  # a record is a status: a few KiB
# Characters of one encoded name; with `.json` and a temporary file's affixes it fits 255.
_MAX_SEGMENT = 200
_MAX_UNSYNCED = 4096  # saves kept unsynced at most, for a caller that does not flush
MAX_KEPT = 16_384  # statuses a store remembers, with the digest of their file's bytes
MAX_KEPT_BYTES = 16 * 1024 * 1024  # ... and the record files' bytes they were read from


class RecordStore(Protocol):
    """Where the reconciler keeps what it last decided per offer."""

    def load(self, offer: str) -> OfferStatus | None:
        """The last status the controller computed for `offer`; None: no record."""
        ...

    def save(self, offer: str, value: OfferStatus) -> None: ...

    def drop(self, offer: str) -> None: ...

    def flush(self) -> None:
        """Make every save and drop so far durable (the pass calls it before it lands)."""
        ...

    def exists(self) -> bool:
        """Whether any record was ever kept here (a controller ran for this branch)."""
        ...


def watch_key(branch: str, remote: str | None) -> str:
    """A watched branch in words: `origin/main`, or `local/main` without a remote."""
    return f"{remote}/{branch}" if remote else f"local/{branch}"


@lru_cache(maxsize=MAX_KEPT)  # asked for every offer every pass; pure
def _name(text: str) -> str:
    """One path segment for `text`, different for different texts (never `.` or `..`).

    A folder name is the pull request's choice and percent-encoding can grow it
    sixfold: past `_MAX_SEGMENT` characters the segment is a prefix and a digest
    of the whole, so it stays within the file system's 255 bytes per name. `~`
    is encoded, so a short name never reads like a shortened one.
    """
    name = quote(text, safe="").replace(".", "%2E").replace("~", "%7E")
    if len(name) <= _MAX_SEGMENT:
        return name
    return f"{name[:64]}~{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"


class FileRecords:
    """Records as JSON files, one per offer, each replaced atomically; durable at `flush`."""

    def __init__(self, private_dir: Path, branch: str, remote: str | None = None) -> None:
        where = "local" if remote is None else f"remote={_name(remote)}"
        self.root = private_dir / RECORDS_DIR / where / _name(branch)
        self._read: dict[str, bytes] = {}  # offer -> digest of its file's bytes when last seen
        # offer -> (digest of its file's bytes, the status they hold), least recent first
        self._kept: Kept[str, tuple[bytes, OfferStatus]] = Kept(MAX_KEPT, max_weight=MAX_KEPT_BYTES)
        self._unsynced: list[Path] = []  # files saved since the last flush
        self._dirty_dirs = False  # a rename or unlink since the last flush
        self._paths: Kept[str, Path] = Kept(MAX_KEPT)  # a pathlib join costs more than a read

    def expect(self, offers: int) -> None:
        """The next pass is about `offers` offers (`Kept.expect`: past what the memos hold
        they keep nothing, and files are read and parsed as without them)."""
        self._kept.expect(offers)
        self._paths.expect(offers)

    def _path(self, offer: str) -> Path:
        return self._paths.get_or_make(offer, lambda: self.root / f"{_name(offer)}.json")

    def load(self, offer: str) -> OfferStatus | None:
        path = self._path(offer)
        try:
            raw = _read_at_most(path, MAX_RECORD_BYTES)
            if raw is None:
                log.warning("record %s is oversized; treating %s as never seen", path, offer)
                self._read.pop(offer, None)  # not known: `save` reads the file again
                return None
            digest = self._read[offer] = _digest(raw)
            kept = self._kept.get(offer)
            if kept is not None and kept[0] == digest:
                return kept[1]  # the bytes last read or written here: parsed already
            data = json.loads(raw.decode("utf-8"))
        except FileNotFoundError:
            self._read[offer] = b""
            return None
        except (OSError, ValueError) as exc:
            log.warning("record %s is unreadable (%s); treating %s as never seen", path, exc, offer)
            self._read.pop(offer, None)  # not known: `save` reads the file again
            return None
        if (
            not isinstance(data, dict)
            or data.get("version") != RECORD_VERSION
            or data.get("offer") != offer
        ):
            return None
        found = status.from_dict(data.get("status"))
        if found is None or found.offer != offer:
            return None
        self._kept.put(offer, (digest, found), weight=len(raw))
        return found

    def save(self, offer: str, value: OfferStatus) -> None:
        if value.offer != offer:
            raise ValueError(f"a record for {offer} cannot hold {value.offer}'s status")
        path = self._path(offer)
        known = self._read.get(offer)
        if known is None:
            try:
                known = _digest(path.read_bytes())
            except OSError:
                known = b""
        kept = self._kept.get(offer)
        if kept is not None and kept[0] == known and kept[1] == value:
            return  # the file holds this very status: nothing to serialize or write
        document = {"version": RECORD_VERSION, "offer": offer, "status": status.to_dict(value)}
        # Compact: json's C encoder (an indent would take its pure-Python one).
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
        digest = _digest(data)
        if known != digest:  # unchanged: spare the disk a write per offer and pass
            self._replace(path, data)
            self._read[offer] = digest
        self._kept.put(offer, (digest, value), weight=len(data))

    def drop(self, offer: str) -> None:
        self._path(offer).unlink(missing_ok=True)
        self._read[offer] = b""
        self._kept.pop(offer)
        self._dirty_dirs = True

    def flush(self) -> None:
        """fsync every record file saved since the last flush, then the folder once."""
        for path in self._unsynced:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # dropped since
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if self._unsynced or self._dirty_dirs:
            _fsync_dir(self.root)
        self._unsynced.clear()
        self._dirty_dirs = False

    def _replace(self, path: Path, data: bytes) -> None:
        """Replace `path` with `data` in one rename (durable at the next `flush`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._unsynced.append(path)
        self._dirty_dirs = True
        if len(self._unsynced) >= _MAX_UNSYNCED:
            self.flush()  # a caller that never flushes still gets its records synced

    def exists(self) -> bool:
        return self.root.is_dir()


REPLAYS_DIR = "signoff-replays"


class ReplayRecords:
    """Sign-offs the controller found replayed, one small JSON file per offer.

    docs/DESIGN.md §5, "A replaced history": a sign-off brought back by replacing
    the branch's first-parent history stays distrusted while the same commit
    introduces it, also after the replacing commit has become the last one
    reconciled. That memory is the controller's, so it lives beside the records:

        <git-dir>/offerctl/signoff-replays/<local | remote=NAME>/<branch>/<offer>.json

    (names encoded as the records' are; one file per offer, written only by the
    shard that owns the offer). A missing or unreadable file remembers nothing,
    as on a first pass. `writable=False` (for `offerctl plan`) reads and never writes.

    A pass makes one and asks it about every offer it judges, and replays are
    rare: the folder is listed at the first load, and an offer with no file
    there is answered without opening one (the pass lock keeps other passes
    on the branch out; other shards write only their own offers' files).
    """

    def __init__(
        self, private_dir: Path, branch: str, remote: str | None = None, *, writable: bool = True
    ) -> None:
        where = "local" if remote is None else f"remote={_name(remote)}"
        self.root = private_dir / REPLAYS_DIR / where / _name(branch)
        self.writable = writable
        self._listed = False
        self._files: set[str] | None = None  # file names in `root` (None: not known)

    def _path(self, offer: str) -> Path:
        return self.root / f"{_name(offer)}.json"

    def load(self, offer: str) -> Replay | None:
        if not self._listed:
            self._listed = True
            try:
                self._files = {p.name for p in self.root.iterdir()}
            except FileNotFoundError:  # none saved yet
                self._files = set()
            except OSError:  # unreadable: each file is opened, and what fails is told
                self._files = None
        if self._files is not None and f"{_name(offer)}.json" not in self._files:
            return None
        try:
            data = json.loads(self._path(offer).read_bytes().decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("sign-off replay record of %s is unreadable (%s); ignored", offer, exc)
            return None
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            return None
        commit, reconciled = data.get("commit"), data.get("reconciled")
        if data.get("offer") != offer or not isinstance(commit, str) or not commit:
            return None
        return Replay(commit, reconciled if isinstance(reconciled, str) else "")

    def save(self, offer: str, value: Replay) -> None:
        if not self.writable:
            return
        document = {
            "version": RECORD_VERSION,
            "offer": offer,
            "commit": value.commit,
            "reconciled": value.reconciled,
        }
        path = self._path(offer)
        atomic_write(path, json.dumps(document, indent=1).encode("utf-8"))
        if self._files is not None:
            self._files.add(path.name)


class DisplayRecords:
    """Read-only records taken from committed status files, for `offerctl plan` only.

    In a clone that is not the controller's there are no records; plan shows
    what the controller last observed, from the committed statuses. These are
    never authority to act: a store of this kind refuses to be written, and a
    reconcile pass never uses one.
    """

    def __init__(self, statuses: Mapping[str, OfferStatus]) -> None:
        self.statuses = {o: s for o, s in statuses.items() if s.offer == o}

    def load(self, offer: str) -> OfferStatus | None:
        return self.statuses.get(offer)

    def save(self, offer: str, value: OfferStatus) -> None:
        raise RuntimeError("committed statuses are a display; nothing is recorded from them")

    def drop(self, offer: str) -> None:
        raise RuntimeError("committed statuses are a display; nothing is recorded from them")

    def flush(self) -> None:
        pass  # nothing is ever written

    def exists(self) -> bool:
        return False


def _read_at_most(path: Path, limit: int) -> bytes | None:
    """The file's bytes; None when it holds more than `limit` (not read). One open, read
    whole: a record is read for every offer every pass."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            return None  # not read at all
        data = os.read(fd, size + 1)
        if len(data) <= size:
            return data  # all of it: one byte more was asked for and not there
        chunks, total = [data], len(data)
        while total <= limit:  # to the end: the file grew while it was read
            chunk = os.read(fd, max(size + 1 - total, 64 * 1024))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
        return None
    finally:
        os.close(fd)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # never created (nothing saved) or not a folder we can open
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
