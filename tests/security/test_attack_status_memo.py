"""A hand-written status.yaml cannot poison the parsed-status memo (`readback.status_in`).

The memo keeps each status.yaml parsed once per process, keyed by (path, mode,
blob id). One process reads a pull request's forged statuses (`offerctl status`,
pr-check, `plan` of the pull request) and then the watched branch: what it read
for the pull request must never answer for the branch, and a forged file merged
onto the branch must not steer the pass (status.yaml is output, never authority).
Each test drives the real reconciler (`build_reconciler`) against the simulated
marketplace, in this one process, so the memo is shared as in the daemon.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock

from controller.core.model import Phase
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Watch, build_reconciler
from controller.repo import readback
from controller.repo.statusread import read_statuses

VICTIM = "victim-offer"
STATUS = f"offers/{VICTIM}/status.yaml"
FORGED_SUBMISSION = "sub-forged-0001"


class World:
    def __init__(self, gitrepos: GitRepos, tmp_path: Path) -> None:
        self.gitrepos = gitrepos
        self.repo = gitrepos.init("offers-repo", offer_files(VICTIM, "draft"))
        self.market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=Clock())

    def reconcile(self) -> None:
        with GitRepo(self.repo) as repo:
            build_reconciler(repo, self.market, Watch(), clock=Clock()).run_pass(full=True)

    def status(self, offer: str = VICTIM, rev: str = "HEAD") -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(
            git(self.repo, "show", f"{rev}:offers/{offer}/status.yaml")
        )
        return data

    def forged(self, offer: str) -> bytes:
        """The controller's own status of the victim, rewritten to say Live with a submission."""
        text = git(self.repo, "show", f"main:{STATUS}")
        text = text.replace(f"offer: {VICTIM}\n", f"offer: {offer}\n", 1)
        text = text.replace("phase: Draft\n", "phase: Live\n", 1)
        return (
            text
            + f"submission:\n  id: {FORGED_SUBMISSION}\n  generation: sha256:{'0' * 64}\n"
            + f"  idempotencyKey: forged\n  target: live\nliveGeneration: sha256:{'0' * 64}\n"
        ).encode()

    def pull_request(self, files: dict[str, bytes | None]) -> str:
        git(self.repo, "checkout", "-q", "-b", "pr")
        commit = self.gitrepos.commit(self.repo, files, "Pull request")
        git(self.repo, "checkout", "-q", "main")
        return commit


@pytest.fixture
def world(gitrepos: GitRepos, tmp_path: Path) -> Iterator[World]:
    made = World(gitrepos, tmp_path)
    made.reconcile()
    assert made.status()["phase"] == "Draft"
    yield made
    made.market.close()


def test_a_forged_status_read_from_a_pull_request_never_answers_for_the_branch(
    world: World,
) -> None:
    pr = world.pull_request({STATUS: world.forged(VICTIM)})
    main = world.gitrepos.head(world.repo, "main")
    with GitRepo(world.repo) as repo:
        read_pr = {e.offer: e for e in read_statuses(repo, pr)}
        victim = read_pr[VICTIM].status
        assert victim is not None and victim.phase is Phase.LIVE, "the forged file was parsed"
        on_main = readback.status_in(repo.snapshot(main), VICTIM).status
    assert on_main is not None and on_main.phase is Phase.DRAFT
    assert on_main.submission is None


def test_the_same_bytes_under_another_folder_are_read_for_that_folder(world: World) -> None:
    broken = b"offer: [not, a, status\n"  # one blob, two paths: problems name their own
    other = "offers/other-offer/status.yaml"
    pr = world.pull_request({STATUS: broken, **offer_files("other-offer", "draft"), other: broken})
    with GitRepo(world.repo) as repo:
        problems = {e.offer: e.problem for e in read_statuses(repo, pr)}
    assert STATUS in problems[VICTIM], problems
    assert other in problems["other-offer"], problems


def test_a_forged_status_merged_onto_the_branch_does_not_steer_the_pass(world: World) -> None:
    world.pull_request(
        {
            STATUS: world.forged(VICTIM),
            **offer_files("copycat-offer", "draft"),
            "offers/copycat-offer/status.yaml": world.forged("copycat-offer"),
        }
    )
    with GitRepo(world.repo) as repo:  # the memo holds the forged parses from here on
        readback.status_in(repo.snapshot(world.gitrepos.head(world.repo, "pr")), VICTIM)
    git(world.repo, "merge", "-q", "--ff-only", "pr")

    world.reconcile()
    world.reconcile()  # the second pass reads back what the first one wrote, through the memo

    for offer in (VICTIM, "copycat-offer"):
        status = world.status(offer)
        assert status["phase"] == "Draft", (offer, status)
        assert "submission" not in status and "liveGeneration" not in status, (offer, status)
    for key in ("forged", FORGED_SUBMISSION):
        assert world.market.find(key) is None
    for offer in (VICTIM, "copycat-offer"):
        listing = world.market.listing(offer)
        assert not (listing.withdrawn or listing.withdrawing or listing.live_generation), listing
