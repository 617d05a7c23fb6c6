"""`offerctl suspend` / `resume`: one-line commits on real repositories, the branch or a new one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cli_helpers import offerctl
from example_offers import offer_files
from git_helpers import PERSON, GitRepos, git

OFFER = "alpha-offer"
MANIFEST = f"offers/{OFFER}/offer.yaml"


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    return gitrepos.init("work", offer_files(OFFER, "live"))


def diff_lines(repo: Path, rev: str = "HEAD") -> list[str]:
    out = git(repo, "diff", "--unified=0", f"{rev}~1", rev, "--", MANIFEST)
    return [
        line for line in out.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]


def test_suspend_commits_one_added_line_on_the_current_branch(
    repo: Path, gitrepos: GitRepos
) -> None:
    before = gitrepos.head(repo)
    ran = offerctl("suspend", OFFER, "--repo", str(repo), "--reason", "incident\n42\x1b[2J")
    assert ran.code == 0, ran.err
    assert gitrepos.head(repo) != before and gitrepos.head(repo, "HEAD~1") == before
    assert diff_lines(repo) == ["+  suspend: true"]
    assert git(repo, "diff", "--name-only", "HEAD~1", "HEAD").split() == [MANIFEST]
    message = git(repo, "log", "-1", "--format=%an <%ae>%n%B")
    assert message.startswith(f"{PERSON[0]} <{PERSON[1]}>\nSuspend {OFFER}\n")
    assert "Reason: incident 42\\x1b[2J\n" in message  # one line, no escape sequence
    assert gitrepos.status(repo) == ""  # the working tree followed the branch
    assert "suspend: true" in (repo / MANIFEST).read_text()
    assert ran.out.startswith(f"Suspended {OFFER}: commit {gitrepos.head(repo)[:12]} on main")
    assert "git push origin main" in ran.out  # nothing pushed without --push


def test_resume_flips_the_line_back_and_a_second_resume_changes_nothing(
    repo: Path, gitrepos: GitRepos
) -> None:
    assert offerctl("suspend", OFFER, "--repo", str(repo)).code == 0
    ran = offerctl("resume", OFFER, "--repo", str(repo))
    assert ran.code == 0, ran.err
    assert ran.out.startswith(f"Resumed {OFFER}: commit ")
    assert diff_lines(repo) == ["-  suspend: true", "+  suspend: false"]
    assert git(repo, "log", "-1", "--format=%s").strip() == f"Resume {OFFER}"
    head = gitrepos.head(repo)
    again = offerctl("resume", OFFER, "--repo", str(repo))
    assert again.code == 0 and "already not suspended" in again.out
    assert gitrepos.head(repo) == head


def test_branch_mode_leaves_the_checkout_alone(repo: Path, gitrepos: GitRepos) -> None:
    head = gitrepos.head(repo)
    original = (repo / MANIFEST).read_bytes()
    ran = offerctl("suspend", OFFER, "--repo", str(repo), "--branch", "pause/alpha")
    assert ran.code == 0, ran.err
    assert gitrepos.head(repo) == head and gitrepos.head(repo, "pause/alpha~1") == head
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert (repo / MANIFEST).read_bytes() == original and gitrepos.status(repo) == ""
    assert diff_lines(repo, "pause/alpha") == ["+  suspend: true"]
    shown = yaml.safe_load(gitrepos.show(repo, "pause/alpha", MANIFEST))
    assert shown["spec"]["suspend"] is True

    taken = offerctl("suspend", OFFER, "--repo", str(repo), "--branch", "pause/alpha")
    assert taken.code == 1 and "already exists" in taken.err


@pytest.mark.parametrize("staged", [False, True], ids=["edited", "staged"])
def test_refused_while_offer_yaml_has_uncommitted_changes(
    repo: Path, gitrepos: GitRepos, staged: bool
) -> None:
    head = gitrepos.head(repo)
    edited = (repo / MANIFEST).read_text() + "# my pending note\n"
    gitrepos.write(repo, {MANIFEST: edited})
    if staged:
        git(repo, "add", MANIFEST)
    for argv in (["suspend", OFFER], ["suspend", OFFER, "--branch", "pause"]):
        ran = offerctl(*argv, "--repo", str(repo))
        assert ran.code == 1 and "uncommitted changes" in ran.err
    assert gitrepos.head(repo) == head and (repo / MANIFEST).read_text() == edited
    # Another file's edits do not matter.
    git(repo, "checkout", "--", MANIFEST) if not staged else git(repo, "reset", "-q", "--hard")
    gitrepos.write(repo, {"offers/alpha-offer/notes.md": "draft\n"})
    assert offerctl("suspend", OFFER, "--repo", str(repo)).code == 0


def test_push_sends_the_new_branch_to_the_remote(gitrepos: GitRepos) -> None:
    bare = gitrepos.bare("origin.git", offer_files(OFFER, "live"))
    clone = gitrepos.clone(bare, "clone")
    ran = offerctl("suspend", OFFER, "--repo", str(clone), "--branch", "pause", "--push")
    assert ran.code == 0, ran.err
    assert git(bare, "rev-parse", "pause").strip() == gitrepos.head(clone, "pause")
    assert git(bare, "rev-parse", "main").strip() == gitrepos.head(clone, "main")


def test_unknown_offer_and_bad_names_are_clear_errors(repo: Path) -> None:
    missing = offerctl("suspend", "beta-offer", "--repo", str(repo))
    assert missing.code == 1 and "no offers/beta-offer/offer.yaml at HEAD" in missing.err
    assert offerctl("suspend", "Bad_Id", "--repo", str(repo)).code == 2
    assert offerctl("suspend", OFFER, "--repo", str(repo), "--branch", "a..b").code == 2


def test_a_suspended_offer_is_not_submitted_by_the_next_pass(repo: Path) -> None:
    assert offerctl("suspend", OFFER, "--repo", str(repo)).code == 0
    ran = offerctl("reconcile", "--repo", str(repo), "-o", "json")
    assert ran.code == 0, ran.err
    status = yaml.safe_load((repo / f"offers/{OFFER}/status.yaml").read_text())
    assert status["phase"] == "Suspended" and status.get("submission") is None
