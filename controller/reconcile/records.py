"""The controller's own record of each offer, kept outside the working tree.

status.yaml is output only (docs/DESIGN.md §4, "The trust boundary"): anyone who can
open a pull request can write one, so the controller never reads it back to
learn which submission it made. What it last decided for an offer (the status
it computed, with the submission it follows) is kept here instead, one row per
offer in one SQLite database per watched branch, under the repository's
private directory:

    <git-dir>/offerctl/records/<local | remote=NAME>/<branch>.sqlite3

with every name percent-encoded (`release%2F1`; an encoded name never holds a
`.`), so that distinct branches never share a database and a controller for one
branch never inherits another branch's submissions. Each row is written only by
the shard that owns the offer. Shards that share one clone share its database
(SQLite's locks keep concurrent writers apart; a writer waits up to
`BUSY_SECONDS` for another's transaction, and every transaction is one row
long); shards with a clone each (the StatefulSet in deploy/) keep their own, and
a shard taking an offer over finds that offer's submissions in the marketplace
(see below).

A missing or unreadable record means "never seen" (a fresh clone, a new
machine, an upgrade from an offerctl that kept no records): the reconciler
then finds the offer's submissions in the marketplace by idempotency key,
which the marketplace binds to the offer, and never by a status file. A
database that is not ours or is corrupt is a clear error (`RecordsUnusable`),
raised before a pass evaluates anything (`check`): nothing is acted upon on
the word of half a database, and no record is silently lost.

Writes are batched per pass: `save` commits its row at once in WAL mode without
waiting for the disk (a killed process leaves the old record or the new, never
half of one, and the next offer's marketplace call comes after this offer's
record is committed), and `flush` makes every row the pass saved or dropped
durable with one synchronous commit (one fsync of the write-ahead log), before
the status commit moves the branch. One file, rename and fsync per offer cost a
pass more than the rest of its bookkeeping.

An older offerctl kept one JSON file per offer in the folder the database is
named after (`<branch>/<offer>.json`, the same document a row holds). The
first writer that creates the database imports every readable file in the
transaction that creates its table, then renames the folder
`<branch>.migrated` (kept, never read again). Until then (a store that only
reads, such as `offerctl plan`'s) records are read from those files.

A store remembers the status it last read or wrote per offer with the digest of
that row's bytes (the last `MAX_KEPT` offers): a load whose row still holds
those bytes is not parsed again, and a save of an equal status is not
serialized again. The row is read each time, so a record another process
replaced is never answered from memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from controller.core.errors import TransientError, UserError
from controller.core.kept import Kept
from controller.core.model import OfferStatus
from controller.files.fsio import atomic_write
from controller.repo import status, statusjson
from controller.signoff.replay import Replay

log = logging.getLogger(__name__)

RECORD_VERSION = 1
RECORDS_DIR = "records"
DATABASE_SUFFIX = ".sqlite3"
MIGRATED_SUFFIX = ".migrated"  # a folder of JSON records an older offerctl kept, imported
SCHEMA_VERSION = 1  # PRAGMA user_version of a records database
APPLICATION_ID = 0x6F666672  # PRAGMA application_id: "offr", a records database of offerctl
BUSY_SECONDS = 30.0  # a writer waits this long for another process's transaction
MAX_RECORD_BYTES = 1024 * 1024  # a record is a status: a few KiB
# Characters of one encoded name; with a suffix it fits the file system's 255 bytes.
_MAX_SEGMENT = 200
_MAX_UNSYNCED = 4096  # writes kept unsynced at most, for a caller that does not flush
_MAX_LOG_BYTES = 8 * 1024 * 1024  # the write-ahead log is cut back to this after a checkpoint
MAX_KEPT = 16_384  # statuses a store remembers, with the digest of their row's bytes
MAX_KEPT_BYTES = 16 * 1024 * 1024  # ... and the rows' bytes they were read from


class RecordsUnusable(UserError):
    """The records database is not one offerctl wrote, or it is corrupt: someone must
    move it aside (the offers are then never seen, and found in the marketplace)."""


class RecordsBusy(TransientError):
    """Another process held the records database longer than `BUSY_SECONDS`."""


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
    """One path segment for `text`, different for different texts (never `.` or `..`,
    and never holding a `.`, so a suffix cannot make one name read as another).

    A folder name is the pull request's choice and percent-encoding can grow it
    sixfold: past `_MAX_SEGMENT` characters the segment is a prefix and a digest
    of the whole, so it stays within the file system's 255 bytes per name. `~`
    is encoded, so a short name never reads like a shortened one.
    """
    name = quote(text, safe="").replace(".", "%2E").replace("~", "%7E")
    if len(name) <= _MAX_SEGMENT:
        return name
    return f"{name[:64]}~{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"


def branch_folder(private_dir: Path, kind: str, branch: str, remote: str | None) -> Path:
    """`<private_dir>/<kind>/<local | remote=NAME>/<branch>`, names encoded (`_name`): where
    the controller keeps one kind of its own files for one watched branch."""
    where = "local" if remote is None else f"remote={_name(remote)}"
    return private_dir / kind / where / _name(branch)


class SqliteRecords:
    """Records as rows of one SQLite database per watched branch; durable at `flush`."""

    def __init__(self, private_dir: Path, branch: str, remote: str | None = None) -> None:
        # an older offerctl's JSON files (read, imported), and the database beside them
        self.legacy = branch_folder(private_dir, RECORDS_DIR, branch, remote)
        self.path = self.legacy.with_name(self.legacy.name + DATABASE_SUFFIX)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one statement at a time on the connection
        self._read: dict[str, bytes] = {}  # offer -> digest of its row's bytes when last seen
        # offer -> (digest of its row's bytes, the status they hold), least recent first
        self._kept: Kept[str, tuple[bytes, OfferStatus]] = Kept(MAX_KEPT, max_weight=MAX_KEPT_BYTES)
        self._unsynced = 0  # rows written since the last flush

    def expect(self, offers: int) -> None:
        """The next pass is about `offers` offers (`Kept.expect`: past what the memo holds
        it keeps nothing, and rows are read and parsed as without it)."""
        self._kept.expect(offers)

    def check(self) -> None:
        """Open the database if there is one: RecordsUnusable when it is not ours or is
        corrupt, before a pass acts on any offer."""
        with self._lock:
            self._connect(create=False)

    def load(self, offer: str) -> OfferStatus | None:
        with self._lock:
            db = self._connect(create=False)
            if db is None:  # no database yet: an older offerctl's file, if any
                raw = self._legacy_bytes(offer)
            else:
                row = self._sql(db, _SELECT, (offer,)).fetchone()
                raw = None if row is None else _as_bytes(row[0])
            if raw is None:
                self._read[offer] = b""
                return None
            digest = self._read[offer] = _digest(raw)
            kept = self._kept.get(offer)
            if kept is not None and kept[0] == digest:
                return kept[1]  # the bytes last read or written here: parsed already
            found = _parse(raw, offer, where=str(self.path if db is not None else self.legacy))
            if found is not None:
                self._kept.put(offer, (digest, found), weight=len(raw))
            return found

    def save(self, offer: str, value: OfferStatus) -> None:
        if value.offer != offer:
            raise ValueError(f"a record for {offer} cannot hold {value.offer}'s status")
        with self._lock:
            db = self._writable()
            known = self._read.get(offer)
            if known is None:
                row = self._sql(db, _SELECT, (offer,)).fetchone()
                known = b"" if row is None else _digest(_as_bytes(row[0]))
            kept = self._kept.get(offer)
            if kept is not None and kept[0] == known and kept[1] == value:
                return  # the row holds this very status: nothing to serialize or write
            data = _document(offer, value)
            digest = _digest(data)
            if known != digest:  # unchanged: spare the disk a write per offer and pass
                self._sql(db, _UPSERT, (offer, data))
                self._read[offer] = digest
                self._written()
            self._kept.put(offer, (digest, value), weight=len(data))

    def drop(self, offer: str) -> None:
        with self._lock:
            self._read[offer] = b""
            self._kept.pop(offer)
            if not self.path.exists() and not self.legacy.is_dir():
                return  # nothing was ever recorded here
            db = self._writable()
            if self._sql(db, _DELETE, (offer,)).rowcount:
                self._written()

    def flush(self) -> None:
        """One synchronous commit: the write-ahead log, holding every row written since the
        last flush (also by other processes), is on disk when it returns."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if not self._unsynced or self._db is None:
            return
        db = self._db
        self._sql(db, "PRAGMA synchronous=FULL")
        try:
            self._sql(db, "UPDATE meta SET flushes = flushes + 1")
        finally:
            self._sql(db, "PRAGMA synchronous=NORMAL")
        self._unsynced = 0

    def exists(self) -> bool:
        return self.path.exists() or self.legacy.is_dir()

    def statuses(self) -> Iterator[OfferStatus]:
        """Every status recorded here, by offer (for the notifier's baseline)."""
        with self._lock:
            db = self._connect(create=False)
            rows: list[tuple[str, bytes]] = []
            if db is None:  # a file's name is encoded: its document names its offer
                for path in sorted(self.legacy.glob("*.json")):
                    raw = _read_legacy(path)
                    if raw is not None:
                        rows.append((_offer_of(raw) or "", raw))
            else:
                found = self._sql(db, "SELECT offer, document FROM records ORDER BY offer")
                rows = [(str(offer), _as_bytes(raw)) for offer, raw in found]
        where = str(self.legacy if db is None else self.path)
        for offer, raw in rows:
            value = _parse(raw, offer, where=where)
            if value is not None:
                yield value

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- the database ----------------------------------------------------------------

    def _written(self) -> None:
        self._unsynced += 1
        if self._unsynced >= _MAX_UNSYNCED:  # a caller that never flushes still gets a sync
            self._flush()

    def _writable(self) -> sqlite3.Connection:
        db = self._connect(create=True)
        if db is None:  # never: `create` makes one or raises
            raise RecordsUnusable(f"{self.path} could not be created; {_ASIDE}")
        return db

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        """The open database; None when there is none yet and `create` is False.

        Creating it (also making an empty file ours) imports an older offerctl's JSON
        files in the transaction that creates the table, so exactly one process does."""
        if self._db is not None:
            return self._db
        if not create and not self.path.exists():
            return None
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(
                self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise RecordsUnusable(f"{self.path} cannot be opened ({exc}); {_ASIDE}") from None
        try:
            version = self._usable(db)
            if version == 0:
                if not create:
                    db.close()
                    return None  # created by a writer that has not made it ours yet
                self._create(db)
            self._sql(db, "PRAGMA synchronous=NORMAL")
            self._sql(db, f"PRAGMA journal_size_limit = {_MAX_LOG_BYTES}")
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def _usable(self, db: sqlite3.Connection) -> int:
        """The schema version of `db`: 0 for an empty database, else SCHEMA_VERSION;
        RecordsUnusable for anything else."""
        # One statement, so one snapshot: read apart, another process creating the
        # database could commit between them (no id yet, then a table: "not ours").
        app, version, tables = (
            int(v)
            for v in self._sql(
                db,
                "SELECT (SELECT application_id FROM pragma_application_id),"
                " (SELECT user_version FROM pragma_user_version),"
                " (SELECT count(*) FROM sqlite_master)",
            ).fetchone()
        )
        if app == APPLICATION_ID and version == SCHEMA_VERSION:
            return version
        if app == 0 and version == 0 and tables == 0:
            return 0
        raise RecordsUnusable(
            f"{self.path} is not a records database of this offerctl (application id "
            f"{app:#x}, version {version}); {_ASIDE}"
        )

    def _create(self, db: sqlite3.Connection) -> None:
        self._wal(db)
        self._sql(db, "PRAGMA synchronous=FULL")  # the import is durable once committed
        self._sql(db, "BEGIN IMMEDIATE")
        imported = 0
        try:
            if self._usable(db) == 0:  # not made ours by another process meanwhile
                for statement in _SCHEMA:
                    self._sql(db, statement)
                imported = self._import_legacy(db)
            self._sql(db, "COMMIT")
        except BaseException:
            if db.in_transaction:
                db.rollback()
            raise
        if imported:
            log.info("records: imported %d JSON record files into %s", imported, self.path)
        if self.legacy.is_dir():  # imported: out of the way of an older offerctl
            _set_aside(self.legacy)

    def _wal(self, db: sqlite3.Connection) -> None:
        """Put the database in WAL mode (kept in the file). SQLite answers a change of
        journal mode with "locked" at once, without waiting, while another process is
        creating the same database: asked again for up to BUSY_SECONDS."""
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                self._sql(db, "PRAGMA journal_mode=WAL")
                return
            except RecordsBusy:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def _import_legacy(self, db: sqlite3.Connection) -> int:
        try:
            paths = sorted(self.legacy.glob("*.json"))
        except OSError:
            return 0
        count = 0
        for path in paths:
            raw = _read_legacy(path)
            offer = None if raw is None else _offer_of(raw)
            if raw is None or offer is None or path.name != f"{_name(offer)}.json":
                log.warning("record %s is unreadable; not imported (never seen)", path)
                continue
            if _parse(raw, offer, where=str(path)) is None:
                continue  # not a usable record: never seen, as the file was
            self._sql(db, "INSERT OR IGNORE INTO records VALUES (?, ?)", (offer, raw))
            count += 1
        return count

    def _legacy_bytes(self, offer: str) -> bytes | None:
        return _read_legacy(self.legacy / f"{_name(offer)}.json")

    def _sql(
        self, db: sqlite3.Connection, statement: str, params: tuple[object, ...] = ()
    ) -> sqlite3.Cursor:
        """Run `statement`; SQLite's failures as RecordsBusy or RecordsUnusable."""
        try:
            return db.execute(statement, params)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) in _BUSY:
                raise RecordsBusy(
                    f"{self.path} is held by another process for over {BUSY_SECONDS:.0f}s ({exc})",
                    retry_after=BUSY_SECONDS,
                ) from None
            raise RecordsUnusable(f"{self.path} cannot be used ({exc}); {_ASIDE}") from None
        except sqlite3.DatabaseError as exc:
            raise RecordsUnusable(f"{self.path} is corrupt ({exc}); {_ASIDE}") from None


_ASIDE = (
    "move it aside with its -wal and -shm files: the offers are then treated as never "
    "seen and their submissions found in the marketplace by idempotency key"
)
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_SCHEMA = (
    "CREATE TABLE records (offer TEXT PRIMARY KEY, document BLOB NOT NULL)",
    "CREATE TABLE meta (flushes INTEGER NOT NULL)",
    "INSERT INTO meta VALUES (0)",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_SELECT = "SELECT document FROM records WHERE offer = ?"
_UPSERT = "INSERT OR REPLACE INTO records VALUES (?, ?)"
_DELETE = "DELETE FROM records WHERE offer = ?"


def _as_bytes(value: object) -> bytes:
    """A row's document as bytes (we write blobs; a hand edit may leave text or a number,
    which then reads as an unreadable record)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return repr(value).encode()


def _document(offer: str, value: OfferStatus) -> bytes:
    """A record's bytes: the JSON document an older offerctl kept in a file.

    `json.dumps({"version", "offer", "status": status.to_dict(value)}, sort_keys=True)`,
    compact; the status's part written straight from it by `statusjson` (made for every
    offer whose status changed, every pass), the encoder's own for what that does not
    cover."""
    if type(offer) is str:
        try:
            status_json = statusjson.dumps(value)
        except statusjson.NotCovered:
            pass
        else:
            text = f'{{"offer":{encode_basestring_ascii(offer)},"status":{status_json}'
            return f'{text},"version":{RECORD_VERSION}}}'.encode()
    document = {"version": RECORD_VERSION, "offer": offer, "status": status.to_dict(value)}
    # Compact: json's C encoder (an indent would take its pure-Python one).
    return _ENCODER.encode(document).encode("utf-8")


# json.dumps(..., sort_keys=True, separators=(",", ":")), its encoder made once
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _parse(raw: bytes, offer: str, *, where: str) -> OfferStatus | None:
    """The status a record's bytes hold for `offer`; None (never seen) for anything else."""
    if len(raw) > MAX_RECORD_BYTES:
        log.warning("record of %s in %s is oversized; treating it as never seen", offer, where)
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        log.warning(
            "record of %s in %s is unreadable (%s); treating it as never seen", offer, where, exc
        )
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
    return found


def _offer_of(raw: bytes) -> str | None:
    """The offer an older offerctl's record file names (its file name is encoded)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    offer = data.get("offer") if isinstance(data, dict) else None
    return offer if isinstance(offer, str) else None


def _read_legacy(path: Path) -> bytes | None:
    """An older offerctl's record file; None when missing, unreadable or oversized."""
    try:
        raw = _read_at_most(path, MAX_RECORD_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("record %s is unreadable (%s); treating it as never seen", path, exc)
        return None
    if raw is None:
        log.warning("record %s is oversized; treating it as never seen", path)
    return raw


def _set_aside(folder: Path) -> None:
    """Rename an imported folder of JSON records `<name>.migrated` (best effort: a
    folder left in place is never read again once the database exists)."""
    try:
        folder.rename(folder.with_name(folder.name + MIGRATED_SUFFIX))
    except OSError as exc:
        if folder.is_dir():
            log.warning("records: cannot set %s aside after importing it (%s)", folder, exc)


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
        self.root = branch_folder(private_dir, REPLAYS_DIR, branch, remote)
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
