"""The reconciler's own records: where they live, and that only the offer's own submissions count.

In-process passes over a real git repository and the simulated marketplace on
a clock the test moves; `Interposed` shows which effectful calls were made.
"""

from __future__ import annotations

import gc
import json
import logging
import sqlite3
import sys
from pathlib import Path

import pytest
from git_helpers import GitRepos, git
from market_helpers import Clock, Interposed

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import (
    PassResult,
    Reconciler,
    default_judge,
    default_validate,
)
from controller.reconcile.records import RecordsUnusable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))
from status_world import offer_files

RECORDS = Path(".git") / "offerctl" / "records" / "local" / "main.sqlite3"


class Pass:
    def __init__(self, gitrepos: GitRepos) -> None:
        self.clock = Clock()
        self.market = Interposed(
            SimulatedMarketplace(gitrepos.root / "market.db", time_scale=1.0, clock=self.clock)
        )
        files = {**offer_files("alpha-offer", "preview"), **offer_files("beta-offer", "preview")}
        self.repo = gitrepos.init("work", files)

    def run(self) -> PassResult:
        with GitRepo(self.repo) as repo:
            return Reconciler(
                repo,
                self.market,
                validate=default_validate,
                judge=default_judge(repo),
                clock=self.clock,
                sleep=lambda _: None,
            ).run_pass()

    def record(self, offer: str) -> dict[str, object]:
        with sqlite3.connect(self.repo / RECORDS) as db:
            (raw,) = db.execute("SELECT document FROM records WHERE offer = ?", (offer,)).fetchone()
        data: dict[str, object] = json.loads(raw)
        return data

    def tamper(self, offer: str, data: dict[str, object]) -> None:
        with sqlite3.connect(self.repo / RECORDS) as db:
            db.execute("UPDATE records SET document = ? WHERE offer = ?", (json.dumps(data), offer))


@pytest.fixture
def world(gitrepos: GitRepos) -> Pass:
    return Pass(gitrepos)


def test_records_are_kept_outside_the_working_tree_per_watched_branch(world: Pass) -> None:
    world.run()
    record = world.record("alpha-offer")
    status = record["status"]
    assert isinstance(status, dict)
    assert status["phase"] == "Validating"
    assert status["submission"]["idempotencyKey"].startswith("alpha-offer@")
    assert git(world.repo, "status", "--porcelain") == ""  # nothing for git to see


def test_a_record_naming_another_offers_submission_is_ignored(
    world: Pass, caplog: pytest.LogCaptureFixture
) -> None:
    world.run()
    alpha, beta = world.record("alpha-offer"), world.record("beta-offer")
    beta_status = beta["status"]
    assert isinstance(beta_status, dict)
    tampered = {**alpha, "status": {**alpha["status"], "submission": beta_status["submission"]}}  # type: ignore[dict-item]
    world.tamper("alpha-offer", tampered)
    world.market.calls.clear()

    with caplog.at_level(logging.WARNING, logger="controller.reconcile.converge"):
        world.run()

    assert not [c for c in world.market.calls if c[0] == "cancel"]
    assert world.market.submits == []  # alpha's own submission is found by its key
    assert "belongs to offer 'beta-offer'; ignored" in caplog.text
    record = world.record("alpha-offer")["status"]
    assert isinstance(record, dict)
    assert record["submission"]["idempotencyKey"].startswith("alpha-offer@")


def test_a_corrupt_records_database_stops_the_pass_before_any_action(world: Pass) -> None:
    world.run()
    # That pass's process ends: its records connection (left to the collector, in a cycle)
    # is closed now, not by a later collection, which would checkpoint its write-ahead log
    # into the file corrupted below and so mend it.
    gc.collect()
    head = git(world.repo, "rev-parse", "HEAD")
    (world.repo / RECORDS).write_bytes(b"not a database" * 512)
    for suffix in ("-wal", "-shm"):
        (world.repo / RECORDS).with_name(RECORDS.name + suffix).unlink(missing_ok=True)
    world.market.calls.clear()
    world.clock.advance(hours=1)

    with pytest.raises(RecordsUnusable, match="move it aside"):
        world.run()

    assert world.market.calls == []  # nothing acted upon without the records
    assert git(world.repo, "rev-parse", "HEAD") == head  # and no status written
