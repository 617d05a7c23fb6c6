"""The simulated marketplace keeps one SQLite connection per instance, safely.

Threads share it one at a time; a SQLite failure drops it so the next call
starts on a fresh connection; every call is still its own transaction, so
other instances (other processes) see each change as soon as the call returns.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from marketplace_helpers import StepClock, payload

from controller.core.model import Target
from controller.marketplace import simulated
from controller.marketplace.api import (
    MarketplaceError,
    NotFound,
    SubmissionResult,
    idempotency_key,
)
from controller.marketplace.simulated import SimulatedMarketplace

GEN = "sha256:" + "1" * 64
REPO = Path(__file__).resolve().parents[2]


class Connects:
    """Counts the connections the module opens."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = sqlite3.connect

        def counting(*args: object, **kwargs: object) -> sqlite3.Connection:
            self.count += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(simulated.sqlite3, "connect", counting)


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Connects:
    return Connects(monkeypatch)


@pytest.fixture
def market(tmp_path: Path) -> Iterator[SimulatedMarketplace]:
    store = SimulatedMarketplace(tmp_path / "m.sqlite3", time_scale=1000.0)
    yield store
    store.close()


def _submit(market: SimulatedMarketplace, offer: str) -> str:
    key = idempotency_key(offer, GEN)
    return market.submit(offer, GEN, Target.LIVE, payload(), key).id  # type: ignore[arg-type]


def test_one_connection_serves_every_call(tmp_path: Path, connects: Connects) -> None:
    market = SimulatedMarketplace(tmp_path / "m.sqlite3")
    for i in range(20):
        sub = _submit(market, f"offer-{i}")
        market.get(sub)
        market.find(idempotency_key(f"offer-{i}", GEN))
        market.listing(f"offer-{i}")
    market.cancel(sub)
    assert len(market.submissions()) == 20
    assert connects.count == 1
    market.close()


def test_a_refused_call_keeps_the_connection(
    market: SimulatedMarketplace, connects: Connects
) -> None:
    with pytest.raises(NotFound):
        market.get("sub-missing")
    with pytest.raises(MarketplaceError, match="idempotency key"):
        market.submit("other", GEN, Target.LIVE, payload(), "")  # type: ignore[arg-type]
    sub = _submit(market, "a")
    assert market.get(sub).id == sub
    assert connects.count == 0  # the fixture's connection, opened before counting


def test_threads_share_the_connection_one_at_a_time(market: SimulatedMarketplace) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(6):
                sub = _submit(market, f"offer-{worker}-{i}")
                assert market.get(sub).id == sub
                assert market.listing(f"offer-{worker}-{i}").offer == f"offer-{worker}-{i}"
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(market.submissions()) == 24


def test_every_call_commits_at_once_for_other_instances(tmp_path: Path) -> None:
    first = SimulatedMarketplace(tmp_path / "m.sqlite3")
    second = SimulatedMarketplace(tmp_path / "m.sqlite3")
    sub = _submit(first, "a")
    assert second.get(sub).id == sub  # the write is committed, not held open
    second.cancel(sub)
    assert first.get(sub).result == SubmissionResult.CANCELLED  # and a read sees later commits
    first.close()
    second.close()


def test_what_a_killed_process_was_answered_survives_it(tmp_path: Path) -> None:
    """synchronous=NORMAL skips the fsync per commit, never the commit: a process
    SIGKILLed right after its calls returned (before any close or checkpoint) has
    every call in the store, for the next process."""
    db = tmp_path / "m.sqlite3"
    child = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO / "tests" / "marketplace")!r})
        sys.path.insert(0, {str(REPO / "tests")!r})
        from marketplace_helpers import payload
        from controller.core.model import Target
        from controller.marketplace.api import idempotency_key
        from controller.marketplace.simulated import SimulatedMarketplace
        market = SimulatedMarketplace({str(db)!r}, time_scale=1_000_000.0)
        gen = {GEN!r}
        for offer in ("a", "b", "c"):
            made = market.submit(offer, gen, Target.LIVE, payload(), idempotency_key(offer, gen))
        market.cancel(made.id)
        print(made.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child],
        check=False,  # it dies by SIGKILL on purpose
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    cancelled = proc.stdout.strip()
    market = SimulatedMarketplace(db)
    assert [s.offer for s in market.submissions()] == ["a", "b", "c"]
    assert market.get(cancelled).result == SubmissionResult.CANCELLED
    market.close()


def test_the_store_skips_the_fsync_per_commit_not_the_commit(
    market: SimulatedMarketplace,
) -> None:
    _submit(market, "a")
    db = market._connection()
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL: see the docstring


def test_a_sqlite_failure_drops_the_connection_and_the_next_call_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connects: Connects
) -> None:
    monkeypatch.setattr(simulated, "BUSY_TIMEOUT_SECONDS", 0.05)
    market = SimulatedMarketplace(tmp_path / "m.sqlite3")
    sub = _submit(market, "a")
    blocker = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with pytest.raises(MarketplaceError, match="locked") as caught:
        market.cancel(sub)
    assert caught.value.transient
    blocker.execute("ROLLBACK")
    blocker.close()
    before = connects.count
    assert market.cancel(sub).result == SubmissionResult.CANCELLED
    assert connects.count == before + 1  # a fresh connection, not one left mid-transaction
    market.close()


def test_close_then_use_opens_a_new_connection(
    market: SimulatedMarketplace, connects: Connects
) -> None:
    sub = _submit(market, "a")
    market.close()
    market.close()  # twice is harmless
    assert market.get(sub).id == sub
    assert connects.count == 1


class Statements:
    """Records the SQL statements the module's connections run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.run: list[str] = []
        real = sqlite3.connect

        def tracing(*args: object, **kwargs: object) -> sqlite3.Connection:
            db = real(*args, **kwargs)  # type: ignore[arg-type]
            db.set_trace_callback(lambda sql: self.run.append(sql.split(None, 1)[0].upper()))
            return db

        monkeypatch.setattr(simulated.sqlite3, "connect", tracing)

    def during(self, call: Callable[[], object]) -> list[str]:
        self.run.clear()
        call()
        return list(self.run)


def test_reads_are_one_statement_and_a_submit_is_one_read_one_insert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = Statements(monkeypatch)
    market = SimulatedMarketplace(tmp_path / "m.sqlite3", time_scale=1_000_000.0)
    key = idempotency_key("a", GEN)

    assert statements.during(lambda: market.find(key)) == ["SELECT"]
    made = market.submit("a", GEN, Target.LIVE, payload(), key)  # type: ignore[arg-type]
    assert statements.during(
        lambda: market.submit("b", GEN, Target.LIVE, payload(), idempotency_key("b", GEN))  # type: ignore[arg-type]
    ) == ["BEGIN", "SELECT", "INSERT", "COMMIT"]
    # Autocommit reads: no BEGIN/ROLLBACK around them, and nothing left open after them.
    assert statements.during(lambda: market.find(key)) == ["SELECT"]
    assert statements.during(lambda: market.get(made.id)) == ["SELECT"]
    assert statements.during(lambda: market.listing("a")) == ["SELECT"]
    assert market._db is not None and not market._db.in_transaction
    # A retried submit answers from its one read.
    again = statements.during(
        lambda: market.submit("a", GEN, Target.LIVE, payload(), key)  # type: ignore[arg-type]
    )
    assert again == ["BEGIN", "SELECT", "COMMIT"]
    market.close()


def test_what_a_change_answers_is_what_a_read_then_gives(tmp_path: Path) -> None:
    clock = StepClock()
    market = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock)
    old = market.submit("a", GEN, Target.LIVE, payload(), idempotency_key("a", GEN))  # type: ignore[arg-type]
    assert market.get(old.id) == old == market.find(old.idempotency_key)
    newer = "sha256:" + "2" * 64
    new = market.submit("a", newer, Target.PREVIEW, payload(), idempotency_key("a", newer))  # type: ignore[arg-type]
    assert market.get(new.id) == new
    assert market.get(old.id).result == SubmissionResult.CANCELLED  # superseded
    clock.advance(weeks=1, hours=2)  # awaiting sign-off
    signed = market.go_live(new.id)
    assert signed.target == Target.LIVE and market.get(new.id) == signed
    third_gen = "sha256:" + "3" * 64
    third = market.submit("a", third_gen, Target.LIVE, payload(), idempotency_key("a", third_gen))  # type: ignore[arg-type]
    cancelled = market.cancel(third.id)
    assert cancelled.result == SubmissionResult.CANCELLED and market.get(third.id) == cancelled
    assert market.get(new.id) == signed  # signed off: not superseded by the third
    market.close()
