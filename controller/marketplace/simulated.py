"""The simulated marketplace: the embedded default, with its state in one SQLite file.

By default the file lives inside the offers repository's `.git/` (see
`factory`), so nothing is committed. Several processes may share it: WAL
mode, a busy timeout, and `BEGIN IMMEDIATE` around every change make each
call one serialized transaction, so two racing submits with one idempotency
key yield exactly one submission (a UNIQUE index backs that up).

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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from controller.core.model import Stage, StageState, Target

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
            with self._read() as db:
                row = db.execute("SELECT * FROM submissions WHERE key = ?", (key,)).fetchone()
            return None if row is None else timeline.submission_at(_record(row), self._now())

        return self._call(op)

    def get(self, submission_id: str) -> Submission:
        def op() -> Submission:
            with self._read() as db:
                record = self._load(db, submission_id)
            return timeline.submission_at(record, self._now())

        return self._call(op)

    def go_live(self, submission_id: str) -> Submission:
        return self._call(lambda: self._go_live(submission_id))

    def cancel(self, submission_id: str) -> Submission:
        return self._call(lambda: self._cancel(submission_id))

    def withdraw(self, offer: str) -> OfferListing:
        return self._call(lambda: self._withdraw(offer))

    def listing(self, offer: str) -> OfferListing:
        def op() -> OfferListing:
            with self._read() as db:
                return self._listing(db, offer, self._now())

        return self._call(op)

    # --- beyond the protocol: for `offerctl marketplace`, benchmarks and tests ------------

    def submissions(self, offer: str | None = None) -> list[Submission]:
        """Every submission (of one offer), oldest first."""
        with self._read() as db:
            if offer is None:
                rows = db.execute("SELECT * FROM submissions ORDER BY seq").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM submissions WHERE offer = ? ORDER BY seq", (offer,)
                ).fetchall()
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
            row = db.execute("SELECT * FROM submissions WHERE key = ?", (key,)).fetchone()
            if row is not None:
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
            self._supersede(db, offer, submission_id, now)
            db.execute(
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
                    json.dumps({s.value: d for s, d in _durations(self.seed, key).items()}),
                    json.dumps([wire.finding_to_json(f) for f in findings]),
                    fail.value if fail else None,
                    spec_text,
                ),
            )
            return timeline.submission_at(self._load(db, submission_id), now)

    def _supersede(self, db: sqlite3.Connection, offer: str, new_id: str, now: float) -> None:
        rows = db.execute(
            "SELECT * FROM submissions WHERE offer = ? AND go_live_at IS NULL"
            " AND cancelled_at IS NULL",
            (offer,),
        ).fetchall()
        for row in rows:
            record = _record(row)
            if timeline.submission_at(record, now).result == SubmissionResult.PENDING:
                db.execute(
                    "UPDATE submissions SET cancelled_at = ?, cancel_reason = ? WHERE seq = ?",
                    (now, f"superseded by {new_id}", record.seq),
                )

    def _go_live(self, submission_id: str) -> Submission:
        with self._write() as db:
            record = self._load(db, submission_id)
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
            (order,) = db.execute(
                "SELECT COALESCE(MAX(go_live_seq), 0) + 1 FROM submissions WHERE offer = ?",
                (record.offer,),
            ).fetchone()
            db.execute(
                "UPDATE submissions SET go_live_at = ?, go_live_seq = ?, target = ? WHERE seq = ?",
                (now, order, Target.LIVE.value, record.seq),
            )
            return timeline.submission_at(self._load(db, submission_id), now)

    def _cancel(self, submission_id: str) -> Submission:
        with self._write() as db:
            record = self._load(db, submission_id)
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
            return timeline.submission_at(self._load(db, submission_id), now)

    def _withdraw(self, offer: str) -> OfferListing:
        with self._write() as db:
            now = self._now()
            current = self._listing(db, offer, now)
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
            return self._listing(db, offer, now)

    def _listing(self, db: sqlite3.Connection, offer: str, now: float) -> OfferListing:
        rows = db.execute(
            "SELECT * FROM submissions WHERE offer = ? AND go_live_at IS NOT NULL", (offer,)
        ).fetchall()
        withdrawals = [
            WithdrawalRecord(r["seq"], r["offer"], r["requested_at"], r["done_at"])
            for r in db.execute("SELECT * FROM withdrawals WHERE offer = ?", (offer,))
        ]
        return timeline.listing_at(offer, [_record(r) for r in rows], withdrawals, now)

    def _load(self, db: sqlite3.Connection, submission_id: str) -> SubmissionRecord:
        row = db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        if row is None:
            raise NotFound(f"no submission {submission_id!r}")
        return _record(row)

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
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
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

    def _read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        return self._transaction("BEGIN", "ROLLBACK")

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
                elif row["value"] != str(SCHEMA_VERSION):
                    raise MarketplaceError(
                        f"{self.db_path} has schema {row['value']}, this offerctl knows "
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


def _record(row: sqlite3.Row) -> SubmissionRecord:
    try:
        durations = {Stage(k): float(v) for k, v in json.loads(row["durations"]).items()}
        findings = tuple(wire.finding_from_json(f) for f in json.loads(row["findings"]))
        return SubmissionRecord(
            seq=row["seq"],
            id=row["id"],
            key=row["key"],
            offer=row["offer"],
            generation=row["generation"],
            target=Target(row["target"]),
            created_at=row["created_at"],
            time_scale=row["time_scale"],
            durations=durations,
            findings=findings,
            fail_stage=Stage(row["fail_stage"]) if row["fail_stage"] else None,
            go_live_at=row["go_live_at"],
            go_live_seq=row["go_live_seq"],
            cancelled_at=row["cancelled_at"],
        )
    except (ValueError, KeyError, TypeError, MarketplaceError) as exc:
        raise MarketplaceError(
            f"simulated marketplace store holds a malformed submission: {exc}", transient=False
        ) from exc
