"""`offerctl history OFFER` on a repository with several status commits, a merge among them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import GEN_B, make_status, offerctl, status_bytes, utcnow
from git_helpers import GitRepos, git

from controller.core.model import Phase

OFFER = "offers/alpha/status.yaml"


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    """alpha: Validating -> Certifying -> Certifying (new ETA) -> Rejected, then a merge of a
    person's branch, then Validating again (a fixed spec)."""
    now = utcnow()
    repo = gitrepos.init("history-repo", {"offers/alpha/offer.yaml": "kind: Offer\n"})
    for phase, eta in [
        (Phase.VALIDATING, ""),
        (Phase.CERTIFYING, "2026-12-07"),
        (Phase.CERTIFYING, "2026-12-08"),
        (Phase.REJECTED, ""),
    ]:
        value = make_status("alpha", phase, now=now, estimated_live=eta)
        gitrepos.commit(repo, {OFFER: status_bytes(value)}, f"status: alpha {phase}")
    git(repo, "checkout", "-q", "-b", "fix")
    gitrepos.commit(repo, {"offers/alpha/offer.yaml": "kind: Offer\n# fixed\n"}, "fix spec")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge fix", "fix")
    fixed = make_status("alpha", Phase.VALIDATING, now=now, generation=GEN_B)
    gitrepos.commit(repo, {OFFER: status_bytes(fixed)}, "status: alpha Rejected→Validating")
    return repo


def test_history_lists_each_phase_transition_oldest_first(repo: Path) -> None:
    ran = offerctl("history", "alpha", "--repo", str(repo))
    assert ran.code == 0, ran.err
    rows = [line.split() for line in ran.out.splitlines()[1:5]]
    assert [(r[3], r[5]) for r in rows] == [
        ("-", "Validating"),
        ("Validating", "Certifying"),
        ("Certifying", "Rejected"),
        ("Rejected", "Validating"),
    ]
    commits = git(repo, "log", "--format=%h", "--abbrev=12", "--", OFFER).split()
    assert [r[6] for r in rows] == [commits[4], commits[3], commits[1], commits[0]]
    assert "4 transitions of alpha (5 status commits)" in ran.out


def test_all_includes_commits_that_kept_the_phase(repo: Path) -> None:
    data = json.loads(offerctl("history", "alpha", "--repo", str(repo), "--all", "-o", "json").out)
    moves = [(t["from"], t["to"]) for t in data["transitions"]]
    assert moves == [
        (None, "Validating"),
        ("Validating", "Certifying"),
        ("Certifying", "Certifying"),
        ("Certifying", "Rejected"),
        ("Rejected", "Validating"),
    ]
    assert data["transitions"][-1]["generation"] == GEN_B
    assert data["transitions"][-1]["subject"] == "status: alpha Rejected→Validating"


def test_limit_keeps_the_latest_entries_with_their_true_previous_phase(repo: Path) -> None:
    data = json.loads(
        offerctl("history", "alpha", "--repo", str(repo), "-n", "1", "-o", "json").out
    )
    assert [(t["from"], t["to"]) for t in data["transitions"]] == [("Rejected", "Validating")]


def test_deleted_status_shows_as_a_transition_to_nothing(repo: Path, gitrepos: GitRepos) -> None:
    gitrepos.commit(repo, {OFFER: None}, "offer gone")
    data = json.loads(offerctl("history", "alpha", "--repo", str(repo), "-o", "json").out)
    assert (data["transitions"][-1]["from"], data["transitions"][-1]["to"]) == ("Validating", None)
    assert "(status removed)" in offerctl("history", "alpha", "--repo", str(repo)).out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["history", "bravo"], 1, "has no history"),
        (["history", "../etc"], 2, "is not an offer id"),
        (["history", "alpha", "-n", "0"], 2, "--limit must be at least 1"),
        (["history"], 2, ""),
    ],
)
def test_exit_codes(repo: Path, argv: list[str], code: int, message: str) -> None:
    ran = offerctl(*argv, "--repo", str(repo))
    assert ran.code == code
    assert message in ran.err
