"""The simulated marketplace keeps one SQLite connection per instance, safely.

Threads share it one at a time; a SQLite failure drops it so the next call
starts on a fresh connection; every call is still its own transaction, so
other instances (other processes) see each change as soon as the call returns.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from marketplace_helpers import payload

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
