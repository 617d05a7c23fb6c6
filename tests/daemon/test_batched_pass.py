"""The daemon's batches over a real repository and the simulated marketplace.

The daemon runs `ReconcilerPass` as both its reconcile pass and its scope, one
`step()` at a time on a hand-driven monotonic clock (no threads, no sleeps), so
the tests assert the order in which offers were evaluated, never wall-clock
times. Batches hold at most two offers, so a full pass over seven takes four.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from git_helpers import GitRepos, git
from market_helpers import Clock

from controller.commands.run import ReconcilerPass
from controller.daemon.loop import Daemon, DaemonConfig, PassOutcome
from controller.daemon.workqueue import ALL, CHANGED
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Reconciler, default_validate

EXAMPLE = Path(__file__).resolve().parents[2] / "offers" / "fabrikam-case-triage"
OFFERS = [f"offer-{i:02d}" for i in range(7)]
PREVIEW = {"offer-00", "offer-01"}  # submitted: they stay in flight on a still clock
RECORD = GitRepo.reconciled_ref("main")


def offer_files(offer: str, target: str, alias: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in EXAMPLE.rglob("*"):
        if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
            files[f"offers/{offer}/{path.relative_to(EXAMPLE).as_posix()}"] = path.read_bytes()
    text = files[f"offers/{offer}/offer.yaml"].decode()
    text = text.replace(f"name: {EXAMPLE.name}", f"name: {offer}", 1)
    text = re.sub(r"^  target: \w+$", f"  target: {target}", text, count=1, flags=re.M)
    if alias:
        text = re.sub(r"^    alias: .*$", f"    alias: {alias}", text, count=1, flags=re.M)
    files[f"offers/{offer}/offer.yaml"] = text.encode()
    return files


class Recorded:
    """The real adapter, recording the offers of each batch it was handed."""

    def __init__(self, inner: ReconcilerPass) -> None:
        self.inner = inner
        self.batches: list[frozenset[str]] = []

    def __call__(self, offers: frozenset[str] | None) -> PassOutcome:
        assert offers is not None, "with a scope, the daemon only runs batches"
        self.batches.append(offers)
        return self.inner(offers)


@dataclass
class World:
    path: Path
    gitrepos: GitRepos
    repo: GitRepo
    adapter: ReconcilerPass
    recorded: Recorded
    daemon: Daemon
    now: list[float]

    def edit(self, offer: str, alias: str) -> str:
        target = "preview" if offer in PREVIEW else "draft"
        manifest = f"offers/{offer}/offer.yaml"
        return self.gitrepos.commit(
            self.path, {manifest: offer_files(offer, target, alias)[manifest]}, f"Edit {offer}"
        )

    def generation(self, offer: str, rev: str = "main") -> str:
        shown = git(self.path, "show", f"{rev}:offers/{offer}/status.yaml")
        return str(yaml.safe_load(shown)["observedGeneration"])

    def has_status(self, offer: str) -> bool:
        listed = git(self.path, "ls-tree", "--name-only", "main", f"offers/{offer}/status.yaml")
        return bool(listed.strip())

    def recorded_commit(self) -> str | None:
        return self.repo.resolve(RECORD)

    def state(self) -> dict[str, object]:
        found = list((self.repo.private_dir / "state").glob("*.json"))
        assert len(found) == 1, found
        data: dict[str, object] = json.loads(found[0].read_text(encoding="utf-8"))
        return data

    def drain(self) -> None:
        """Step until no work is due; the record must not appear before the last batch."""
        for _ in range(50):
            if not self.daemon.step():
                return
        raise AssertionError(f"still stepping after 50 batches: {self.recorded.batches}")


@pytest.fixture
def world(gitrepos: GitRepos, tmp_path: Path) -> Iterator[World]:
    files: dict[str, bytes] = {}
    for offer in OFFERS:
        files |= offer_files(offer, "preview" if offer in PREVIEW else "draft")
    path = gitrepos.init("work", files)
    clock = Clock()
    market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=clock)
    now = [0.0]
    with GitRepo(path) as repo:
        reconciler = Reconciler(repo, market, validate=default_validate, clock=clock)
        adapter = ReconcilerPass(reconciler, repo, in_flight_poll=3600.0, clock=clock)
        recorded = Recorded(adapter)
        daemon = Daemon(
            recorded,
            scope=adapter,
            config=DaemonConfig(max_batch=2, min_timer_delay=60.0),
            monotonic=lambda: now[0],
            wall=clock,
        )
        yield World(path, gitrepos, repo, adapter, recorded, daemon, now)


def test_a_commit_to_one_offer_is_evaluated_ahead_of_the_full_pass_under_way(
    world: World,
) -> None:
    world.daemon.enqueue([ALL], "start")
    assert world.daemon.step()
    assert world.recorded.batches == [frozenset({"offer-00", "offer-01"})]

    # A person commits an edit to offer-05 while five offers of the full pass are still due.
    world.edit("offer-05", "Edited while the daemon was busy")
    world.daemon.enqueue([CHANGED], "watch")  # what the ref watcher does on the commit
    assert world.daemon.step()
    assert world.recorded.batches[1] == frozenset({"offer-05"})
    assert world.has_status("offer-05")  # its status is on the branch already ...
    assert not world.has_status("offer-02")  # ... ahead of the routine offers due before it

    world.drain()
    assert world.recorded.batches[2:] == [
        frozenset({"offer-02", "offer-03"}),
        frozenset({"offer-04", "offer-06"}),  # offer-05 was handled: not evaluated twice
    ]
    assert all(world.has_status(offer) for offer in OFFERS)


def test_the_reconciled_commit_is_recorded_only_once_every_offer_was_handled(
    world: World,
) -> None:
    world.daemon.enqueue([ALL], "start")
    assert world.daemon.step()
    before_edit = world.generation("offer-00")

    # offer-00 is edited after its batch ran, and no trigger says so (a missed event):
    # the next batch reads the new commit and hands offer-00 back as changed.
    world.edit("offer-00", "Edited behind the daemon's back")
    while world.daemon.step():
        pending = set(OFFERS) - set().union(*world.recorded.batches)
        if pending:
            assert world.recorded_commit() is None, f"recorded with {pending} never evaluated"
    assert frozenset({"offer-00"}) in world.recorded.batches[2:]
    assert world.generation("offer-00") != before_edit

    # Recorded at the end: the branch tip (every batch's status commit is under it) ...
    tip = world.repo.resolve("refs/heads/main")
    assert world.recorded_commit() == tip
    state = world.state()
    assert state["commit"] == tip
    # ... with the offers in flight, so the next incremental pass polls them.
    assert set(PREVIEW) <= set(state["inflight"])  # type: ignore[arg-type]

    # A one-shot incremental pass trusts the record: it evaluates only the offers in flight,
    # and finds nothing else to write (no offer was skipped by the batches).
    result = world.adapter.reconciler.run_pass()
    assert not result.full
    assert set(result.evaluated) == set(state["inflight"])  # type: ignore[arg-type]
    assert not set(result.written) - PREVIEW


def test_a_batch_that_failed_as_a_whole_holds_the_record_back_until_it_is_retried(
    world: World,
) -> None:
    world.daemon.enqueue([ALL], "start")
    assert world.daemon.step()
    # A one-shot `offerctl reconcile` holds the branch: the next batch cannot run.
    with GitRepo(world.path) as other, other.pass_lock("local/main"):
        assert world.daemon.step()
    failed = world.recorded.batches[1]
    world.drain()  # the other offers run; the failed batch waits for its backoff
    assert failed not in world.recorded.batches[2:]
    assert world.recorded_commit() is None
    assert failed <= world.daemon.queue.pending()

    world.now[0] += 10.0  # past the backoff (1 s, and at least the lock's retry-after)
    world.drain()
    assert world.recorded.batches[-1] == failed
    assert world.recorded_commit() == world.repo.resolve("refs/heads/main")
    assert all(world.has_status(offer) for offer in OFFERS)


def gauge(world: World) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in world.daemon.metrics.render().decode().splitlines():
        match = re.fullmatch(r'offerctl_offers\{phase="(\w+)"\} (\S+)', line)
        if match and float(match.group(2)):
            found[match.group(1)] = float(match.group(2))
    return found


def test_the_phase_gauge_comes_from_what_the_batches_returned(world: World) -> None:
    world.daemon.enqueue([ALL], "start")
    world.drain()
    assert gauge(world) == {"Draft": 5.0, "Validating": 2.0}

    # An edit moves one offer to preview; the next full pass (batches again) keeps the
    # picture whole, from the statuses the passes returned.
    manifest = "offers/offer-06/offer.yaml"
    world.gitrepos.commit(
        world.path, {manifest: offer_files("offer-06", "preview")[manifest]}, "Preview offer-06"
    )
    world.daemon.enqueue([ALL], "resync")
    world.drain()
    assert gauge(world) == {"Draft": 4.0, "Validating": 3.0}
    assert world.recorded_commit() == world.repo.resolve("refs/heads/main")


def test_an_offer_removed_while_queued_is_dropped_and_the_pass_still_completes(
    world: World,
) -> None:
    world.daemon.enqueue([ALL], "start")
    assert world.daemon.step()
    gone: dict[str, bytes | None] = dict.fromkeys(offer_files("offer-06", "draft"))
    world.gitrepos.commit(world.path, gone, "Remove offer-06")  # still queued in the pass
    world.drain()
    # The removal was noticed as a change and offer-06 asked for; that batch did not fail.
    assert frozenset({"offer-06"}) in world.recorded.batches
    assert 'offerctl_passes_total{outcome="error"} 0.0' in world.daemon.metrics.render().decode()
    assert world.daemon.queue.pending() <= PREVIEW  # no retry of a failed batch is left
    assert world.recorded_commit() == world.repo.resolve("refs/heads/main")
    assert all(world.has_status(offer) for offer in OFFERS if offer != "offer-06")


def test_no_periodic_resync_is_asked_for_while_a_full_pass_is_under_way(world: World) -> None:
    world.daemon.enqueue([ALL], "start")
    assert world.daemon.step()
    assert world.daemon.resync_every() == float("inf")
    world.drain()
    assert world.daemon.resync_every() == world.daemon.config.resync_every  # a short pass


def test_a_file_event_runs_no_batch_until_the_edit_is_committed(world: World) -> None:
    world.daemon.enqueue([ALL], "start")
    world.drain()
    ran = len(world.recorded.batches)
    world.daemon.enqueue(["offer-03"], "watch")  # saved in the checkout, not committed
    assert not world.daemon.step()
    world.edit("offer-03", "Committed now")
    world.daemon.enqueue(["offer-03", CHANGED], "watch")  # the file and the ref events
    assert world.daemon.step()
    assert world.recorded.batches[ran:] == [frozenset({"offer-03"})]


def test_an_edit_committed_while_a_batch_lands_rides_in_that_batch_s_commit(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.daemon.enqueue([ALL], "start")
    original = world.repo.update_ref
    edits: list[str] = []

    def racing(ref: str, new: str, expected_old: str | None, reason: str) -> None:
        if not edits and ref == "refs/heads/main":  # a person commits as the batch lands
            edits.append(world.edit("offer-05", "Edited while the batch landed"))
        original(ref, new, expected_old, reason)

    monkeypatch.setattr(world.repo, "update_ref", racing)
    assert world.daemon.step()
    assert world.recorded.batches == [frozenset({"offer-00", "offer-01"})]
    tip = world.repo.resolve("refs/heads/main")
    assert tip is not None
    assert world.repo.resolve(f"{tip}~1") == edits[0]  # one status commit, on the edit
    first = world.generation("offer-05")  # the edit's status came with the batch
    world.edit("offer-05", "Edited once more")
    world.daemon.enqueue([CHANGED], "watch")
    assert world.daemon.step()
    assert world.recorded.batches[1] == frozenset({"offer-05"})
    assert world.generation("offer-05") != first
