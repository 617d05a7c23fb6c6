"""Checkout sync's fast way: one `git apply --index`, and what it must leave alone.

A one-offer pass brings its status file into a person's checkout with one git
process (`checkout._fast_patch`) when git's own checks pass; everything git
refuses is decided path by path as before. These tests hold it to the same
outcomes: an untouched file follows, every kind of edit stays the person's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from git_helpers import GitRepos, git

from controller.git.names import blob_oid
from controller.git.read import TreeChange
from controller.git.repo import UNSYNCED_FILE, GitRepo, Identity
from controller.git.runner import GitRunner

BOT = Identity("offerctl", "offerctl@localhost")
ALPHA = "offers/alpha/status.yaml"
BETA = "offers/beta/status.yaml"


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    return gitrepos.init(
        "work",
        {
            "offers/alpha/offer.yaml": "name: alpha\n",
            ALPHA: "phase: Draft\n",
            "offers/beta/offer.yaml": "name: beta\n",
        },
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The git commands run (their first word), in order."""
    seen: list[str] = []
    run = GitRunner.run

    def recording(self: GitRunner, args: Sequence[str], **kwargs: Any) -> Any:
        seen.append(args[0])
        return run(self, args, **kwargs)

    monkeypatch.setattr(GitRunner, "run", recording)
    return seen


@pytest.fixture
def grepo(repo: Path) -> Iterator[GitRepo]:
    with GitRepo(repo) as opened:
        yield opened


def status_commit(grepo: GitRepo, repo: Path, updates: dict[str, bytes]) -> tuple[str, str]:
    """A status commit on main, the branch moved to it: (base, commit)."""
    base = git(repo, "rev-parse", "HEAD").strip()
    commit = grepo.write_commit(base, dict(updates), "status: test", BOT)
    assert commit is not None
    grepo.update_ref("refs/heads/main", commit, base, "offerctl: status")
    return base, commit


def sync(grepo: GitRepo, base: str, commit: str, paths: Sequence[str]) -> list[str]:
    return grepo.sync_checked_out("main", base, commit, list(paths))


def test_an_untouched_file_and_a_new_one_follow_with_one_git_apply(
    repo: Path, grepo: GitRepo, gitrepos: GitRepos, calls: list[str]
) -> None:
    base, commit = status_commit(grepo, repo, {ALPHA: b"phase: Live\n", BETA: b"phase: New\n"})
    calls.clear()
    assert sync(grepo, base, commit, [ALPHA, BETA]) == [ALPHA, BETA]
    assert "apply" in calls
    assert not {"ls-files", "hash-object", "update-index", "cat-file"} & set(calls)
    assert (repo / ALPHA).read_text() == "phase: Live\n"
    assert (repo / BETA).read_text() == "phase: New\n"
    assert gitrepos.status(repo) == ""  # index and stat data recorded: nothing to re-hash
    git_made = (repo / "offers/alpha/offer.yaml").stat().st_mode & 0o777
    assert (repo / BETA).stat().st_mode & 0o777 == git_made


def test_an_unstaged_edit_is_kept(repo: Path, grepo: GitRepo, gitrepos: GitRepos) -> None:
    (repo / ALPHA).write_text("phase: mine\n")
    base, commit = status_commit(grepo, repo, {ALPHA: b"phase: Live\n"})
    assert sync(grepo, base, commit, [ALPHA]) == []
    assert (repo / ALPHA).read_text() == "phase: mine\n"
    assert git(repo, "show", f":{ALPHA}") == "phase: Draft\n"  # the index kept the old one


def test_a_staged_edit_is_kept(repo: Path, grepo: GitRepo) -> None:
    (repo / ALPHA).write_text("phase: staged\n")
    git(repo, "add", ALPHA)
    base, commit = status_commit(grepo, repo, {ALPHA: b"phase: Live\n"})
    assert sync(grepo, base, commit, [ALPHA]) == []
    assert (repo / ALPHA).read_text() == "phase: staged\n"
    assert git(repo, "show", f":{ALPHA}") == "phase: staged\n"


def test_a_file_the_person_deleted_stays_deleted(repo: Path, grepo: GitRepo) -> None:
    # `git apply --index` would check a missing file out of the index first.
    (repo / ALPHA).unlink()
    base, commit = status_commit(grepo, repo, {ALPHA: b"phase: Live\n"})
    assert sync(grepo, base, commit, [ALPHA]) == []
    assert not (repo / ALPHA).exists()


def test_an_untracked_file_where_the_commit_adds_one_is_kept(repo: Path, grepo: GitRepo) -> None:
    (repo / BETA).write_text("my own notes\n")
    base, commit = status_commit(grepo, repo, {BETA: b"phase: New\n"})
    assert sync(grepo, base, commit, [BETA]) == []
    assert (repo / BETA).read_text() == "my own notes\n"


def test_one_edited_file_does_not_stop_the_others(repo: Path, grepo: GitRepo) -> None:
    # git applies all of a patch or none of it: the refusal is decided path by path.
    (repo / ALPHA).write_text("phase: mine\n")
    base, commit = status_commit(grepo, repo, {ALPHA: b"phase: Live\n", BETA: b"phase: New\n"})
    assert sync(grepo, base, commit, [ALPHA, BETA]) == [BETA]
    assert (repo / ALPHA).read_text() == "phase: mine\n"
    assert (repo / BETA).read_text() == "phase: New\n"


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_a_staged_mode_change_stays_staged_while_the_content_follows(
    repo: Path, grepo: GitRepo
) -> None:
    (repo / ALPHA).chmod(0o755)
    git(repo, "update-index", "--chmod=+x", ALPHA)
    base, commit = status_commit(grepo, repo, {ALPHA: b"phase: Live\n"})
    assert sync(grepo, base, commit, [ALPHA]) == [ALPHA]
    assert (repo / ALPHA).read_text() == "phase: Live\n"
    # The person's next commit changes the mode only: it does not revert the status.
    assert git(repo, "diff", "--cached", "--summary", "HEAD").strip() == (
        f"mode change 100644 => 100755 {ALPHA}"
    )
    assert git(repo, "rev-parse", f":{ALPHA}") == git(repo, "rev-parse", f"HEAD:{ALPHA}")


def test_a_required_filter_driver_keeps_to_the_path_by_path_way(
    repo: Path, grepo: GitRepo, gitrepos: GitRepos, calls: list[str]
) -> None:
    # As `git lfs install` configures: `git apply` would die inside its write, between
    # removing the old file and writing the new, if such a filter failed on the path.
    git(repo, "config", "filter.lfs.required", "true")
    base, commit = status_commit(grepo, repo, {ALPHA: b"phase: Live\n"})
    calls.clear()
    assert sync(grepo, base, commit, [ALPHA]) == [ALPHA]
    assert "apply" not in calls and "update-index" in calls
    assert gitrepos.status(repo) == ""


def test_a_name_the_patch_would_quote_keeps_to_the_path_by_path_way(
    repo: Path, grepo: GitRepo, gitrepos: GitRepos, calls: list[str]
) -> None:
    odd = "offers/an offer/status.yaml"
    gitrepos.commit(repo, {odd: "phase: Draft\n"})
    base, commit = status_commit(grepo, repo, {odd: b"phase: Live\n"})
    calls.clear()
    assert sync(grepo, base, commit, [odd]) == [odd]
    assert "apply" not in calls
    assert (repo / odd).read_text() == "phase: Live\n"
    assert gitrepos.status(repo) == ""


def test_a_sync_left_running_is_noted_until_it_is_collected(
    repo: Path, grepo: GitRepo, gitrepos: GitRepos
) -> None:
    base, commit = status_commit(grepo, repo, {ALPHA: b"phase: Live\n"})
    known = {ALPHA: TreeChange(ALPHA, "100644", blob_oid(b"phase: Draft\n"), "100644",
                               blob_oid(b"phase: Live\n"))}  # fmt: skip
    plan = grepo.plan_checkout_sync("main", base, None, [ALPHA], known=known)
    grepo.start_checkout_sync(plan, commit)
    # Until collected, a pass killed after recording `commit` leaves the next one the note.
    assert (grepo.git_dir / UNSYNCED_FILE).read_text() == f"{commit}\n"
    assert grepo.wait_checkout_sync() == [ALPHA]
    assert not (grepo.git_dir / UNSYNCED_FILE).exists()
    assert grepo.synced_tip == commit
    assert gitrepos.status(repo) == ""
    assert grepo.wait_checkout_sync() is None  # collected once


def test_closing_the_repository_finishes_a_sync_left_running(
    repo: Path, gitrepos: GitRepos
) -> None:
    with GitRepo(repo) as opened:
        base, commit = status_commit(opened, repo, {ALPHA: b"phase: Live\n"})
        plan = opened.plan_checkout_sync("main", base, commit, [ALPHA])
        opened.start_checkout_sync(plan, commit)
    assert gitrepos.status(repo) == ""
    assert (repo / ALPHA).read_text() == "phase: Live\n"
    assert not (repo / ".git" / UNSYNCED_FILE).exists()
