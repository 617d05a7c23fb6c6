"""`offerctl plan` outside the controller's clone: it tells the truth from the committed status.

Issue 11. The simulated marketplace lives in the controller's git directory;
a publisher's clone or a CI runner has none. There plan must not consult an
empty simulator (which says every offer "will be submitted") but show what
the controller last observed, and say so.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import yaml
from cli_helpers import Ran, env, offerctl
from git_helpers import GitRepos, git

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
OFFER = "fabrikam-case-triage"  # target preview: at rest once the preview is ready
FAST = ("--time-scale", "1000000")
STORE = Path(".git") / "offerctl" / "marketplace.sqlite3"


def _offerctl(*argv: str) -> Ran:
    with env(OFFERCTL_MARKETPLACE=None, OFFERCTL_TIME_SCALE=None):
        return offerctl(*argv)


def _reconciled_repo(gitrepos: GitRepos) -> Path:
    """The controller's repository with OFFER reconciled to Preview."""
    repo = gitrepos.init("controller-repo")
    shutil.copytree(EXAMPLES / OFFER, repo / "offers" / OFFER)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "offers")
    deadline = time.monotonic() + 30
    while True:
        ran = _offerctl("reconcile", "--repo", str(repo), *FAST)
        assert ran.code == 0, ran.err
        text = git(repo, "show", f"HEAD:offers/{OFFER}/status.yaml")
        if yaml.safe_load(text)["phase"] == "Preview":
            return repo
        assert time.monotonic() < deadline, text
        time.sleep(0.2)


def _plan_json(repo: Path, *argv: str) -> dict[str, object]:
    ran = _offerctl("plan", "--repo", str(repo), "-o", "json", *argv)
    assert ran.code == 0, ran.out + ran.err
    document: dict[str, object] = json.loads(ran.out)
    return document


def test_plan_in_a_fresh_clone_shows_the_committed_status_and_no_resubmission(
    gitrepos: GitRepos,
) -> None:
    repo = _reconciled_repo(gitrepos)
    clone = gitrepos.root / "publisher-clone"
    git(gitrepos.root, "clone", "-q", str(repo), str(clone))

    ran = _offerctl("plan", "--repo", str(clone), "--detailed-exitcode")

    assert ran.code == 0, ran.out + ran.err  # nothing would change
    assert "submit" not in ran.out
    assert "from the statuses the controller last committed" in ran.out
    row = next(line for line in ran.out.splitlines() if OFFER in line)
    assert row.split()[:5] == [OFFER, "Preview", "→", "Preview", "nothing"]
    assert not (clone / STORE).exists()  # no empty simulator was made to ask
    document = _plan_json(clone)
    assert document["observedFrom"] == "committedStatus"


def test_plan_asks_the_controllers_marketplace_when_it_is_reachable(
    gitrepos: GitRepos,
) -> None:
    repo = _reconciled_repo(gitrepos)
    clone = gitrepos.root / "ci-clone"
    git(gitrepos.root, "clone", "-q", str(repo), str(clone))

    at_home = _plan_json(repo)  # the controller's clone: its store is there
    named = _plan_json(clone, "--marketplace", f"sqlite://{repo / STORE}")

    for document in (at_home, named):
        assert document["observedFrom"] == "marketplace"
        offers = document["offers"]
        assert isinstance(offers, list)
        assert [o["step"] for o in offers] == ["nothing"]


def test_plan_points_out_offers_that_are_not_committed(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("plan-uncommitted", {"README.md": "offers\n"})
    shutil.copytree(EXAMPLES / OFFER, repo / "offers" / OFFER)
    assert _offerctl("validate", str(repo / "offers" / OFFER)).code == 0

    ran = _offerctl("plan", "--repo", str(repo))

    assert ran.code == 0, ran.err
    assert "Plan: no offers." in ran.out
    flat = " ".join(ran.out.split())
    assert (
        f"not committed yet, so not in this plan (a plan reads only commits): "
        f"offers/{OFFER}/; commit them to plan them" in flat
    )

    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "offers")
    (repo / "offers" / OFFER / "offer.yaml").write_text("changed on disk\n")
    ran = _offerctl("plan", "--repo", str(repo))

    flat = " ".join(ran.out.split())
    assert f"{OFFER} - → Validating submit" in flat  # the committed version is planned
    assert (
        f"uncommitted changes this plan does not include: offers/{OFFER}/offer.yaml "
        "(modified)" in flat
    )
