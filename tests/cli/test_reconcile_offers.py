"""`offerctl reconcile OFFER...`: a pass over just the named offers, on real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import offerctl
from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock, Interposed

from controller.core.errors import UserError
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import PassResult, Reconciler, Watch, default_validate


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def market(tmp_path: Path, clock: Clock) -> Interposed:
    return Interposed(SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=clock))


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    return gitrepos.init("work", {**offer_files("alpha-offer"), **offer_files("beta-offer")})


def run(repo: Path, market: Interposed, clock: Clock, only: list[str] | None = None) -> PassResult:
    with GitRepo(repo) as git_repo:
        reconciler = Reconciler(
            git_repo, market, validate=default_validate, watch=Watch(), clock=clock,
            sleep=lambda _: None,
        )  # fmt: skip
        return reconciler.run_pass(only=only)


def blob(repo: Path, path: str) -> str:
    return git(repo, "rev-parse", f"HEAD:{path}").strip()


def test_only_the_named_offer_is_submitted_and_given_a_status(
    repo: Path, market: Interposed, clock: Clock, gitrepos: GitRepos
) -> None:
    result = run(repo, market, clock, ["alpha-offer"])
    assert result.evaluated == ("alpha-offer",)
    assert market.submits == ["alpha-offer"]
    assert result.written == ("alpha-offer",) and result.commit == gitrepos.head(repo)
    files = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "offers/beta-offer").split()
    assert "offers/beta-offer/status.yaml" not in files
    assert gitrepos.status(repo) == ""

    # The targeted pass recorded no reconciled commit: the next pass still covers beta.
    later = run(repo, market, clock)
    assert "beta-offer" in later.evaluated and market.submits == ["alpha-offer", "beta-offer"]


def test_other_offers_status_is_not_rewritten_even_when_it_would_change(
    repo: Path, market: Interposed, clock: Clock
) -> None:
    run(repo, market, clock)  # both submitted, both Validating or Certifying
    beta_before = blob(repo, "offers/beta-offer/status.yaml")
    alpha_before = blob(repo, "offers/alpha-offer/status.yaml")
    clock.advance(days=3)  # both have moved on in the marketplace
    result = run(repo, market, clock, ["alpha-offer"])
    assert result.evaluated == ("alpha-offer",)
    assert blob(repo, "offers/alpha-offer/status.yaml") != alpha_before
    assert blob(repo, "offers/beta-offer/status.yaml") == beta_before


def test_an_unknown_offer_is_refused_before_anything_is_done(
    repo: Path, market: Interposed, clock: Clock, gitrepos: GitRepos
) -> None:
    head = gitrepos.head(repo)
    with pytest.raises(UserError, match=r"no offer gamma-offer at [0-9a-f]{12} "):
        run(repo, market, clock, ["alpha-offer", "gamma-offer"])
    assert market.calls == [] and gitrepos.head(repo) == head


def test_cli_takes_offer_ids_and_reports_a_targeted_pass(repo: Path) -> None:
    ran = offerctl("reconcile", "--repo", str(repo), "beta-offer")
    assert ran.code == 0, ran.err
    assert "(targeted pass, 1 offers evaluated)" in ran.out
    assert "beta-offer New" in ran.out and "alpha-offer" not in ran.out

    unknown = offerctl("reconcile", "--repo", str(repo), "nope-offer")
    assert unknown.code == 1
    assert "no offer nope-offer at" in unknown.err

    bad = offerctl("reconcile", "--repo", str(repo), "Not_An_Id")
    assert bad.code == 2 and "is not an offer id" in bad.err
    both = offerctl("reconcile", "--repo", str(repo), "--full", "beta-offer")
    assert both.code == 2 and "not both" in both.err


def test_remote_mode_pushes_a_status_commit_for_only_the_named_offer(
    gitrepos: GitRepos, market: Interposed, clock: Clock
) -> None:
    bare = gitrepos.bare("origin.git", {**offer_files("alpha-offer"), **offer_files("beta-offer")})
    clone = gitrepos.clone(bare, "controller")
    with GitRepo(clone) as git_repo:
        result = Reconciler(
            git_repo, market, validate=default_validate, clock=clock, sleep=lambda _: None,
            watch=Watch(branch="main", remote="origin"),
        ).run_pass(only=["beta-offer"])  # fmt: skip
    assert result.commit == git(bare, "rev-parse", "main").strip()
    assert git(bare, "diff", "--name-only", "main~1", "main").split() == [
        "offers/beta-offer/status.yaml"
    ]
    assert market.submits == ["beta-offer"]
