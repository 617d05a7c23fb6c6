"""A pass whose verdicts are all reused writes the same bytes as a pass that validated afresh.

Two clones of one repository, each with its own simulated marketplace on one
shared clock: one reconciles with the real validation every time, the other
with verdicts reused from an earlier validation of the same commit
(`controller.reconcile.reuse`). Every status.yaml must be byte for byte the
same, and the reusing pass must not have validated anything.
"""

from __future__ import annotations

from pathlib import Path

from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile import evaluate
from controller.reconcile.reconciler import Reconciler, Watch
from controller.reconcile.reuse import CACHE_DIR, VerdictStore, reusing
from controller.reconcile.types import EVERY_OFFER, OfferCheck
from controller.validation.files import FileSource

OFFERS = {"alpha-offer": "preview", "beta-offer": "draft"}


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, files: FileSource, offer: str) -> OfferCheck:
        self.calls += 1
        return evaluate.default_validate(files, offer)


def test_reused_verdicts_give_byte_identical_statuses(gitrepos: GitRepos, tmp_path: Path) -> None:
    files: dict[str, bytes] = {}
    for offer, target in OFFERS.items():
        files.update(offer_files(offer, target))
    origin = gitrepos.init("origin", files)
    clock = Clock()
    written = []
    for name, warm in (("fresh", False), ("reused", True)):
        path = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(path))
        market = SimulatedMarketplace(tmp_path / f"{name}.db", time_scale=1.0, clock=clock)
        with GitRepo(path) as repo:
            inner = Counted()
            store = VerdictStore(repo.private_dir / CACHE_DIR)
            validate = reusing(inner, store)
            if warm:  # an earlier pass over the same commit validated every offer
                snapshot = evaluate.read(repo, repo.resolve("HEAD") or "", EVERY_OFFER)
                for offer in snapshot.offers:
                    validate(snapshot.files, offer)
            before = inner.calls
            Reconciler(
                repo, market, validate=validate, watch=Watch(), clock=clock, sleep=lambda s: None
            ).run_pass(full=True)
            assert inner.calls - before == (0 if warm else len(OFFERS))
            assert store.hits == (len(OFFERS) if warm else 0)
            store.close()
        written.append({o: git(path, "show", f"HEAD:offers/{o}/status.yaml") for o in OFFERS})
    assert written[0] == written[1]


def test_a_plan_writes_its_verdicts_for_the_next_process(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    """`offerctl plan` ends without a pass: it writes the verdicts it made itself, so that
    a later process (the next plan, or the pass) reuses them."""
    files: dict[str, bytes] = {}
    for offer, target in OFFERS.items():
        files.update(offer_files(offer, target))
    origin = gitrepos.init("origin", files)
    clock = Clock()
    market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=clock)
    calls = []
    for _ in range(2):  # two processes: each its own store object over one file
        with GitRepo(origin) as repo:
            inner = Counted()
            validate = reusing(inner, VerdictStore(repo.private_dir / CACHE_DIR))
            Reconciler(repo, market, validate=validate, watch=Watch(), clock=clock).plan()
            calls.append(inner.calls)  # the store is not closed: as a process that exits
    assert calls == [len(OFFERS), 0]
