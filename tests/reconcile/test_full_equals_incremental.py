"""A full pass and an incremental pass over the same history write the same statuses.

Incremental passes evaluate only the offers a commit touched plus those in
flight (`controller.reconcile.scope`); full passes evaluate every offer. Two
clones of one repository, each with its own simulated marketplace on one
shared clock, go through the same edits and the same marketplace time: one
reconciled only by full passes, the other incrementally. After every step
their status files must say the same thing. What is made per clone (commit
ids the statuses were computed at, submission ids and the links built from
them) is set aside; everything else is compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Reconciler, Watch, default_validate
from controller.reconcile.reuse import CACHE_DIR, VerdictStore, reusing
from controller.reconcile.types import PassResult

# many passes over two repositories
pytestmark = pytest.mark.slow(budget=30)

OFFERS = {"alpha-offer": "preview", "beta-offer": "draft", "gamma-offer": "live"}
PER_CLONE = ("observedCommit", "submission", "previewUrl")


class Clone:
    def __init__(self, path: Path, market: SimulatedMarketplace, clock: Clock, full: bool):
        self.path, self.market, self.clock, self.full = path, market, clock, full
        self.reused = 0  # verdicts the incremental clone reused

    def run(self) -> PassResult:
        with GitRepo(self.path) as repo:
            # The incremental clone reuses validation verdicts across passes, as the
            # commands do (`reuse`): what it writes must still equal the full passes'.
            store = None if self.full else VerdictStore(repo.private_dir / CACHE_DIR)
            validate = default_validate if store is None else reusing(default_validate, store)
            result = Reconciler(
                repo, self.market, validate=validate, watch=Watch(), clock=self.clock,
                sleep=lambda seconds: None,
            ).run_pass(full=self.full)  # fmt: skip
            if store is not None:
                self.reused += store.hits
                store.close()
            return result

    def statuses(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for offer in OFFERS:
            text = git(self.path, "show", f"HEAD:offers/{offer}/status.yaml")
            data = yaml.safe_load(text)
            for key in PER_CLONE:
                data.pop(key, None)
            out[offer] = data
        return out

    def edit(self, offer: str, old: str, new: str) -> None:
        manifest = self.path / "offers" / offer / "offer.yaml"
        text = manifest.read_text(encoding="utf-8")
        assert old in text
        manifest.write_text(text.replace(old, new, 1), encoding="utf-8")
        git(self.path, "commit", "-q", "-am", f"Edit {offer}")


def test_full_and_incremental_passes_write_the_same_statuses(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    files: dict[str, bytes] = {}
    for offer, target in OFFERS.items():
        files.update(offer_files(offer, target))
    origin = gitrepos.init("origin", files)
    clock = Clock()
    clones = []
    for name, full in (("full", True), ("incremental", False)):
        path = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(path))
        market = SimulatedMarketplace(tmp_path / f"{name}.db", time_scale=1.0, clock=clock)
        clones.append(Clone(path, market, clock, full))

    evaluated: dict[str, tuple[str, ...]] = {}  # step -> offers the incremental pass evaluated

    def step(what: str) -> None:
        for clone in clones:
            evaluated[what] = clone.run().evaluated
        full, incremental = (clone.statuses() for clone in clones)
        for offer in OFFERS:  # per offer and key: a failure names what differs
            # Every field, the estimated live date of an offer awaiting sign-off too: it
            # moves with the calendar, and an incremental pass on a later day refreshes
            # it (controller.reconcile.calendar).
            for key in sorted(set(full[offer]) | set(incremental[offer])):
                assert incremental[offer].get(key) == full[offer].get(key), (what, offer, key)

    step("first pass")
    for minutes in (20, 60, 60 * 24, 60 * 24 * 7):
        clock.advance(minutes=minutes)
        step(f"{minutes} min later")
    phases = {offer: status["phase"] for offer, status in clones[0].statuses().items()}
    assert phases["beta-offer"] == "Draft" and phases["gamma-offer"] == "AwaitingSignOff"
    for clone in clones:  # a person changes one offer in both clones alike
        clone.edit("beta-offer", "  target: draft", "  target: preview")
    step("after the edit")
    for minutes in (20, 60 * 24 * 7):
        clock.advance(minutes=minutes)
        step(f"{minutes} min after the edit")
    assert clones[1].statuses()["beta-offer"]["phase"] == "Preview"
    assert clones[1].reused > 0  # the incremental passes did reuse verdicts
    # Cheaply: the offer awaiting sign-off is evaluated again only once the day changed.
    assert "gamma-offer" not in evaluated["after the edit"]  # the same day as the last pass
    assert "gamma-offer" not in evaluated["20 min after the edit"]
    assert "gamma-offer" in evaluated["10080 min after the edit"]
