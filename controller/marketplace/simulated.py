"""The simulated marketplace: the embedded default, with its state in one SQLite file.

By default the file lives inside the offers repository's `.git/` (see
`factory`), so nothing is committed. Several processes may share it: WAL
mode, a busy timeout, and `BEGIN IMMEDIATE` around every change make each
call one serialized transaction, so two racing submits with one idempotency
key yield exactly one submission (a UNIQUE index backs that up). A read is one
SELECT in autocommit mode, which SQLite runs on one snapshot: `listing` reads
an offer's signed-off submissions and its withdrawals in one UNION ALL, so no
read needs a BEGIN/ROLLBACK round trip to be consistent.

Durability: `synchronous = NORMAL` (under WAL). A call's commit is in the
write-ahead log before the call returns, so a process killed at any point
(SIGKILL, as the crash tests do) loses nothing it answered; only an OS crash or
power loss can lose the last calls before a checkpoint, and never corrupts the
file. That is enough for a simulator; FULL (an fsync per commit) cost about 40%
of a submit's CPU. To the controller such a loss looks like a request the
marketplace never got: a record naming an unknown submission is ignored
(`converge`), and the generation is submitted again.

One instance keeps one connection open (opening one costs more than most
calls): threads of one process (the daemon's loop, `offerctl marketplace
serve`'s request threads) take turns on it under a lock, each call still one
transaction. A call that fails inside SQLite drops the connection, so the next
one starts on a fresh connection, never inside a half-finished transaction.

Only facts are stored (when a submission was made, its drawn stage durations,
certification's findings, when it was signed off or cancelled, withdrawals);
progress is computed from them and the clock on every read (`timeline`), so
there is no background thread and a stopped process loses nothing.

Decisions beyond the Marketplace protocol:
- A new submission for an offer cancels that offer's earlier submissions that
  are still before sign-off (superseded, as a new generation restarts the
  pipeline). Submissions already signed off run on; the live generation is the
  most recently signed-off one to finish.
- Reusing an idempotency key for another offer or generation is an error;
  for the same ones it returns the existing submission, whatever the target.
- `go_live`, `cancel` and `withdraw` are idempotent: repeating one that took
  effect returns the current state (a retry after a lost answer must not fail).
  `cancel` of a failed submission changes nothing; after `go_live` it is
  InvalidState. `go_live` before SignOff has started is InvalidState.
- `withdraw` needs something live (or already withdrawing/withdrawn); it
  completes within an hour (scaled). In-flight submissions are not touched.
- Each submission keeps the time scale in force when it was made, so readers
  with another scale still see one consistent timeline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from controller.core.model import Finding, Stage, StageState, Target

from . import certify, timeline, wire
from .api import (
    InvalidState,
    MarketplaceError,
    NotFound,
    OfferListing,
    OfferPayload,
    Submission,
    SubmissionResult,
)
from .faults import Fault, FaultConfig, FaultInjector, as_injector
from .timeline import SubmissionRecord, WithdrawalRecord

SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 15.0
MAX_KEY_LENGTH = 512
SUBMITTABLE = frozenset({Target.PREVIEW, Target.LIVE})

# Every read of submissions selects the columns a `SubmissionRecord` is made of, in
# `_record`'s order (the stored spec is kept for the record's sake and never read back,
# so no read fetches it).
_COLUMNS = (
    "seq, id, key, offer, generation, target, created_at, time_scale, durations,"
    " findings, fail_stage, go_live_at, go_live_seq, cancelled_at"
)
_ALL = "SELECT " + _COLUMNS + " FROM submissions"  # noqa: S608 - constants; values bound by ?
_BY_KEY = _ALL + " WHERE key = ?"
_BY_ID = _ALL + " WHERE id = ?"
# `_submit`'s one read: the key's submission (if any), and the offer's submissions that
# a new one would supersede (not signed off, not cancelled).
_KEY_OR_OPEN = _ALL + (
    " WHERE key = ? OR (offer = ? AND go_live_at IS NULL AND cancelled_at IS NULL)"
)
# `_go_live`'s one read: the submission and the sign-off order it would take.
_BY_ID_WITH_NEXT_ORDER = (
    "SELECT " + _COLUMNS  # noqa: S608 - constants; values bound by ?
    + ", (SELECT COALESCE(MAX(o.go_live_seq), 0) + 1 FROM submissions o"
    " WHERE o.offer = submissions.offer) FROM submissions WHERE id = ?"
)  # fmt: skip
# An offer's standing in one statement, so on one snapshot: its signed-off submissions
# (first column 0) and its withdrawals (1: seq, requested_at, done_at in columns 1-3).
_LISTING = (
    "SELECT 0, " + _COLUMNS + " FROM submissions WHERE offer = ? AND go_live_at IS NOT NULL"
    " UNION ALL SELECT 1, seq, requested_at, done_at"
    + ", NULL" * (_COLUMNS.count(",") + 1 - 3)  # as many columns as the first SELECT
    + " FROM withdrawals WHERE offer = ?"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    offer TEXT NOT NULL,
    generation TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at REAL NOT NULL,
    time_scale REAL NOT NULL,
    durations TEXT NOT NULL,
    findings TEXT NOT NULL,
    fail_stage TEXT,
    go_live_at REAL,
    go_live_seq INTEGER,
    cancelled_at REAL,
    cancel_reason TEXT NOT NULL DEFAULT '',
    spec TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_by_offer ON submissions (offer, seq);
CREATE TABLE IF NOT EXISTS withdrawals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    offer TEXT NOT NULL,
    requested_at REAL NOT NULL,
    done_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS withdrawals_by_offer ON withdrawals (offer, seq);
"""

T = TypeVar("T")


def _system_clock() -> datetime:
    return datetime.now(UTC)


class SimulatedMarketplace:
    """A Marketplace whose stages advance on their own, compressed by `time_scale`."""

    def __init__(
        self,
        db_path: Path | str,
        *,
        time_scale: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        seed: int = 0,
        faults: FaultConfig | FaultInjector | None = None,
    ) -> None:
        if not (isinstance(time_scale, int | float) and math.isfinite(time_scale)):
            raise ValueError(f"time scale must be a finite number, not {time_scale!r}")
        if time_scale <= 0:
            raise ValueError(f"time scale must be greater than 0, not {time_scale!r}")
        self.db_path = Path(db_path)
        self.time_scale = float(time_scale)
        self.seed = seed
        self._clock = clock or _system_clock
        self._faults = as_injector(faults)
        # A remote service's clock does not follow ours back (NTP step, VM restore):
        # time here never runs backwards, or finished stages would "un-finish".
        self._latest = -math.inf
        self._time_lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._db_lock = threading.Lock()  # one thread at a time on the one connection
        self._close_db: weakref.finalize[[], SimulatedMarketplace] | None = None
        self._init_db()

    def close(self) -> None:
        """Close the store's connection; a later call opens a new one."""
        with self._db_lock:
            self._drop_connection()

    # --- the Marketplace protocol ---------------------------------------------------------

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        return self._call(lambda: self._submit(offer, generation, Target(target), payload, key))

    def find(self, key: str) -> Submission | None:
        def op() -> Submission | None:
            rows = self._query(_BY_KEY, (key,))
            return timeline.submission_at(_record(rows[0]), self._now()) if rows else None

        return self._call(op)

    def get(self, submission_id: str) -> Submission:
        def op() -> Submission:
            rows = self._query(_BY_ID, (submission_id,))
            return timeline.submission_at(_found(rows, submission_id), self._now())

        return self._call(op)

    def go_live(self, submission_id: str) -> Submission:
        return self._call(lambda: self._go_live(submission_id))

    def cancel(self, submission_id: str) -> Submission:
        return self._call(lambda: self._cancel(submission_id))

    def withdraw(self, offer: str) -> OfferListing:
        return self._call(lambda: self._withdraw(offer))

    def listing(self, offer: str) -> OfferListing:
        def op() -> OfferListing:
            rows = self._query(_LISTING, (offer, offer))
            # Nothing signed off, nothing withdrawn (every offer until its first sign-off):
            # the answer does not depend on the clock.
            return _listing(offer, rows, self._now()) if rows else OfferListing(offer)

        return self._call(op)

    # --- beyond the protocol: for `offerctl marketplace`, benchmarks and tests ------------

    def submissions(self, offer: str | None = None) -> list[Submission]:
        """Every submission (of one offer), oldest first."""
        if offer is None:
            rows = self._query(_ALL + " ORDER BY seq", ())
        else:
            rows = self._query(_ALL + " WHERE offer = ? ORDER BY seq", (offer,))
        now = self._now()
        return [timeline.submission_at(_record(row), now) for row in rows]

    @property
    def fault_counts(self) -> Mapping[Fault, int]:
        return dict(self._faults.counts) if self._faults else dict.fromkeys(Fault, 0)

    # --- operations -----------------------------------------------------------------------

    def _submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise MarketplaceError(
                f"idempotency key must be 1-{MAX_KEY_LENGTH} characters", transient=False
            )
        if not offer or not generation:
            raise MarketplaceError("offer and generation are required", transient=False)
        with self._write() as db:
            # One SELECT: the key's submission, and the offer's open ones a new one supersedes.
            rows = db.execute(_KEY_OR_OPEN, (key, offer)).fetchall()
            for row in rows:
                if row[2] != key:
                    continue
                record = _record(row)
                if (record.offer, record.generation) != (offer, generation):
                    raise MarketplaceError(
                        f"idempotency key {key!r} was used for {record.offer} "
                        f"{record.generation}, not {offer} {generation}",
                        transient=False,
                    )
                return timeline.submission_at(record, self._now())
            # Checked after the key lookup: a retried submit must return what it made.
            if target not in SUBMITTABLE:
                raise MarketplaceError(
                    f"target {target.value} is not submitted; use preview or live",
                    transient=False,
                )
            spec_text = _spec_json(payload)
            now = self._now()
            findings = certify.certify(payload)
            fail = certify.failing_stage(findings)
            submission_id = "sub-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
            _supersede(db, [_record(row) for row in rows], submission_id, now)
            durations = json.dumps({s.value: d for s, d in _durations(self.seed, key).items()})
            findings_text = json.dumps([wire.finding_to_json(f) for f in findings])
            inserted = db.execute(
                "INSERT INTO submissions (id, key, offer, generation, target, created_at,"
                " time_scale, durations, findings, fail_stage, spec)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    submission_id,
                    key,
                    offer,
                    generation,
                    target.value,
                    now,
                    self.time_scale,
                    durations,
                    findings_text,
                    fail.value if fail else None,
                    spec_text,
                ),
            )
            # What was just inserted, in this transaction, made as a read makes it (from the
            # stored texts): no need to read it back.
            record = SubmissionRecord(
                seq=_rowid(inserted),
                id=submission_id,
                key=key,
                offer=offer,
                generation=generation,
                target=target,
                created_at=now,
                time_scale=self.time_scale,
                durations=_stored_durations(durations),
                findings=_stored_findings(findings_text),
                fail_stage=fail,
            )
            return timeline.submission_at(record, now)

    def _go_live(self, submission_id: str) -> Submission:
        with self._write() as db:
            rows = db.execute(_BY_ID_WITH_NEXT_ORDER, (submission_id,)).fetchall()
            record = _found(rows, submission_id)
            now = self._now()
            current = timeline.submission_at(record, now)
            if record.go_live_at is not None:
                return current
            if current.result != SubmissionResult.PENDING:
                raise InvalidState(
                    f"submission {submission_id} is {current.result.value}; it cannot go live"
                )
            if current.stage(Stage.SIGNOFF).state != StageState.RUNNING:
                raise InvalidState(
                    f"submission {submission_id} is not awaiting sign-off yet "
                    f"({_running(current)} running)"
                )
            order = int(rows[0][-1])
            db.execute(
                "UPDATE submissions SET go_live_at = ?, go_live_seq = ?, target = ? WHERE seq = ?",
                (now, order, Target.LIVE.value, record.seq),
            )
            signed = replace(record, go_live_at=now, go_live_seq=order, target=Target.LIVE)
            return timeline.submission_at(signed, now)

    def _cancel(self, submission_id: str) -> Submission:
        with self._write() as db:
            record = _found(db.execute(_BY_ID, (submission_id,)).fetchall(), submission_id)
            now = self._now()
            current = timeline.submission_at(record, now)
            if record.go_live_at is not None:
                raise InvalidState(
                    f"submission {submission_id} was signed off; it can no longer be cancelled"
                )
            if current.result != SubmissionResult.PENDING:
                return current  # already cancelled or failed: nothing is in flight
            db.execute(
                "UPDATE submissions SET cancelled_at = ?, cancel_reason = ? WHERE seq = ?",
                (now, "cancelled by the publisher", record.seq),
            )
            return timeline.submission_at(replace(record, cancelled_at=now), now)

    def _withdraw(self, offer: str) -> OfferListing:
        with self._write() as db:
            now = self._now()
            current = _listing(offer, db.execute(_LISTING, (offer, offer)).fetchall(), now)
            if current.withdrawing or (current.withdrawn and not current.live_generation):
                return current
            if not current.live_generation:
                raise InvalidState(f"offer {offer} is not live; there is nothing to withdraw")
            (count,) = db.execute(
                "SELECT COUNT(*) FROM withdrawals WHERE offer = ?", (offer,)
            ).fetchone()
            seconds = timeline.draw_withdraw_seconds(self.seed, offer, int(count))
            db.execute(
                "INSERT INTO withdrawals (offer, requested_at, done_at) VALUES (?, ?, ?)",
                (offer, now, now + seconds / self.time_scale),
            )
            return _listing(offer, db.execute(_LISTING, (offer, offer)).fetchall(), now)

    # --- plumbing -------------------------------------------------------------------------

    def _now(self) -> float:
        now = self._clock()
        if now.tzinfo is None:  # a naive clock is taken to be UTC
            now = now.replace(tzinfo=UTC)
        with self._time_lock:
            self._latest = max(self._latest, now.timestamp())
            return self._latest

    def _call(self, op: Callable[[], T]) -> T:
        """Run one operation with injected faults around it and SQLite errors mapped."""
        fault = self._faults.draw() if self._faults else None
        if fault == Fault.ERROR:
            raise MarketplaceError("marketplace unavailable (injected 503)", transient=True)
        if fault == Fault.TIMEOUT:
            raise MarketplaceError("marketplace timed out (injected)", transient=True)
        if fault == Fault.THROTTLE and self._faults is not None:
            raise MarketplaceError(
                "marketplace throttled the call (injected 429)",
                transient=True,
                retry_after=self._faults.config.retry_after,
            )
        try:
            result = op()
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full
            raise MarketplaceError(
                f"simulated marketplace store {self.db_path}: {exc}", transient=True
            ) from exc
        except sqlite3.DatabaseError as exc:  # not a database, corrupt
            raise MarketplaceError(
                f"simulated marketplace store {self.db_path} is unusable: {exc}", transient=False
            ) from exc
        if fault == Fault.RESET:
            raise MarketplaceError(
                "connection reset after the request was sent (injected); outcome unknown",
                transient=True,
            )
        return result

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.db_path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,  # shared by threads, one at a time under _db_lock
        )
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        db.execute("PRAGMA synchronous = NORMAL")  # see the module docstring: durability
        return db

    def _connection(self) -> sqlite3.Connection:
        """The instance's connection, opened on first use; call with `_db_lock` held."""
        if self._db is None:
            db = self._connect()
            self._db = db
            # Closed with the instance at the latest, never left to the garbage collector.
            self._close_db = weakref.finalize(self, db.close)
        return self._db

    def _drop_connection(self) -> None:
        """Close the connection (`_db_lock` held); the next call opens a fresh one."""
        if self._close_db is not None:
            self._close_db()
        self._db = self._close_db = None

    @contextmanager
    def _transaction(self, begin: str, commit: str) -> Iterator[sqlite3.Connection]:
        """`begin` ... `commit` on the kept connection, ROLLBACK when the body raises.

        Anything that goes wrong inside SQLite (busy, disk full, corrupt) drops the
        connection, as does a transaction left open: the next call starts clean.
        """
        with self._db_lock:
            try:
                db = self._connection()
                db.execute(begin)
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute(commit)
            except sqlite3.Error:
                self._drop_connection()
                raise
            finally:
                if self._db is not None and self._db.in_transaction:
                    self._drop_connection()

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One serialized read-modify-write: BEGIN IMMEDIATE takes the write lock up front."""
        return self._transaction("BEGIN IMMEDIATE", "COMMIT")

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        """One SELECT in autocommit mode: SQLite reads it from one snapshot, no BEGIN needed.

        Every row is fetched, so the statement is done (its read lock let go) when this
        returns. A SQLite failure drops the connection, as in `_transaction`.
        """
        with self._db_lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error:
                self._drop_connection()
                raise

    def _init_db(self) -> None:
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            with self._db_lock:
                try:
                    # WAL lets readers run while one process writes; it persists in the file.
                    # OperationalError: another process is switching it right now; rollback
                    # mode also works.
                    with contextlib.suppress(sqlite3.OperationalError):
                        self._connection().execute("PRAGMA journal_mode = WAL")
                except sqlite3.Error:
                    self._drop_connection()
                    raise
            with self._write() as db:
                # One statement at a time: executescript would COMMIT our transaction first.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO meta (name, value) VALUES ('schema', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                elif row[0] != str(SCHEMA_VERSION):
                    raise MarketplaceError(
                        f"{self.db_path} has schema {row[0]}, this offerctl knows "
                        f"{SCHEMA_VERSION}; remove the file to start afresh",
                        transient=False,
                    )
        except sqlite3.OperationalError as exc:  # disk full, I/O error, locked: may pass
            raise MarketplaceError(
                f"cannot open the simulated marketplace at {self.db_path}: {exc}", transient=True
            ) from exc
        except sqlite3.DatabaseError as exc:  # not a database, corrupt: retrying cannot help
            raise MarketplaceError(
                f"the simulated marketplace at {self.db_path} is corrupt ({exc}); "
                "restore it from a backup, or move it aside to start afresh",
                transient=False,
            ) from exc
        except OSError as exc:
            raise MarketplaceError(
                f"cannot create {self.db_path.parent}: {exc}", transient=False
            ) from exc


def _spec_json(payload: OfferPayload) -> str:
    try:
        return json.dumps(dict(payload.spec), default=str, sort_keys=True)
    except (TypeError, ValueError, RecursionError) as exc:
        raise MarketplaceError(
            f"the spec cannot be stored as JSON: {exc}", transient=False
        ) from None


def _durations(seed: int, key: str) -> dict[Stage, float]:
    return timeline.draw_durations(seed, key)


def _running(submission: Submission) -> str:
    for progress in submission.stages:
        if progress.state == StageState.RUNNING:
            return progress.name.value
    return "nothing"


def _supersede(
    db: sqlite3.Connection, open_records: list[SubmissionRecord], new_id: str, now: float
) -> None:
    """Cancel those of the offer's open submissions that are still before sign-off."""
    for record in open_records:
        if timeline.submission_at(record, now).result == SubmissionResult.PENDING:
            db.execute(
                "UPDATE submissions SET cancelled_at = ?, cancel_reason = ? WHERE seq = ?",
                (now, f"superseded by {new_id}", record.seq),
            )


def _listing(offer: str, rows: list[tuple[Any, ...]], now: float) -> OfferListing:
    """The listing from `_LISTING`'s rows: signed-off submissions and withdrawals."""
    records = [_record(row[1:]) for row in rows if row[0] == 0]
    withdrawals = [WithdrawalRecord(row[1], offer, row[2], row[3]) for row in rows if row[0] == 1]
    return timeline.listing_at(offer, records, withdrawals, now)


def _found(rows: list[tuple[Any, ...]], submission_id: str) -> SubmissionRecord:
    if not rows:
        raise NotFound(f"no submission {submission_id!r}")
    return _record(rows[0])


def _rowid(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:  # pragma: no cover - an INSERT always sets it
        raise MarketplaceError("the store did not number the new submission", transient=False)
    return cursor.lastrowid


# A submission is read again and again while it is polled, and its durations and
# findings columns never change: each distinct text is parsed once. Only short texts are
# kept (findings quote names a pull request chooses), so the memo stays small.
_PARSED_MAX_CHARS = 2048


def _short_texts_kept(parse: Callable[[str], T], most: int) -> Callable[[str], T]:
    """`parse`, remembering its answers for the last `most` texts of at most
    _PARSED_MAX_CHARS characters (a longer text is parsed each time)."""
    kept = lru_cache(maxsize=most)(parse)
    return lambda text: parse(text) if len(text) > _PARSED_MAX_CHARS else kept(text)


def _parse_durations(text: str) -> Mapping[Stage, float]:
    return MappingProxyType({Stage(k): float(v) for k, v in json.loads(text).items()})


def _parse_findings(text: str) -> tuple[Finding, ...]:
    return tuple(wire.finding_from_json(f) for f in json.loads(text))


_stored_durations = _short_texts_kept(_parse_durations, 4096)
_stored_findings = _short_texts_kept(_parse_findings, 1024)


def _record(row: Sequence[Any]) -> SubmissionRecord:
    """A record from a row of the columns `_ALL` selects, in that order."""
    try:
        (seq, sub_id, key, offer, generation, target, created_at, time_scale, durations,
         findings, fail_stage, go_live_at, go_live_seq, cancelled_at) = row[:14]  # fmt: skip
        return SubmissionRecord(
            seq=seq,
            id=sub_id,
            key=key,
            offer=offer,
            generation=generation,
            target=Target(target),
            created_at=created_at,
            time_scale=time_scale,
            durations=_stored_durations(durations),
            findings=_stored_findings(findings),
            fail_stage=Stage(fail_stage) if fail_stage else None,
            go_live_at=go_live_at,
            go_live_seq=go_live_seq,
            cancelled_at=cancelled_at,
        )
    except (ValueError, KeyError, TypeError, AttributeError, MarketplaceError) as exc:
        raise MarketplaceError(
            f"simulated marketplace store holds a malformed submission: {exc}", transient=False
        ) from exc
