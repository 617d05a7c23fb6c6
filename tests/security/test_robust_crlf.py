"""Local mode keeps the checkout in step under CRLF checkouts, so no later commit reverts status.

With `core.autocrlf=true` (Git for Windows' default) or a `.gitattributes`
`eol=crlf`, an untouched status.yaml sits in the working tree with CRLF line
endings. Hashing its raw bytes made it look edited, so the controller left
the old version in the index and working tree; the publisher's next
`git commit -a` then committed that old status back, silently undoing the
controller's commit. Each test runs real reconcile passes through the CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import GitRepos, git
from robust_helpers import FAST, no_offerctl_env, offerctl_here, offers_repo

OFFER = "fabrikam-case-triage"
STATUS = f"offers/{OFFER}/status.yaml"
MANIFEST = f"offers/{OFFER}/offer.yaml"
pytestmark = pytest.mark.usefixtures("no_offerctl_env")
__all__ = ["no_offerctl_env"]


def fresh_checkout(repo: Path) -> None:
    """Rewrite every tracked file as git's checkout writes it (CRLF under the settings)."""
    git(repo, "rm", "-q", "--cached", "-r", ".")
    for path in git(repo, "ls-tree", "-r", "--name-only", "HEAD").split():
        (repo / path).unlink()
    git(repo, "reset", "-q", "--hard")


def reconcile(repo: Path) -> None:
    ran = offerctl_here("reconcile", "--repo", str(repo), *FAST)
    assert ran.code == 0, ran.err


def a_pass_that_changes_status(repo: Path) -> str:
    """A person commits a change to the offer's spec; the pass after it commits a new
    status (a new generation is submitted): that commit. Waiting for the marketplace to
    move instead is a race: a slow first pass may already have seen the last stage."""
    before = git(repo, "rev-parse", "HEAD").strip()
    manifest = repo / MANIFEST
    manifest.write_bytes(manifest.read_bytes().replace(b"    alias: ", b"    alias: New ", 1))
    git(repo, "commit", "-q", "-m", "Rename the offer", "--", MANIFEST)
    person = git(repo, "rev-parse", "HEAD").strip()
    reconcile(repo)
    after = git(repo, "rev-parse", "HEAD").strip()
    assert after not in (before, person), "the pass made no status commit"
    return after


@pytest.mark.parametrize(
    ("config", "attributes"),
    [
        ({"core.autocrlf": "true"}, None),
        ({}, "* text=auto eol=crlf\n"),
    ],
    ids=["autocrlf", "gitattributes-eol-crlf"],
)
def test_status_commit_is_synced_and_survives_the_next_commit_all(
    gitrepos: GitRepos, config: dict[str, str], attributes: str | None
) -> None:
    extra: dict[str, str | bytes | None] = {"README.md": "offers\n"}
    if attributes is not None:
        extra[".gitattributes"] = attributes
    repo = offers_repo(gitrepos, [OFFER], extra)
    for key, value in config.items():
        git(repo, "config", key, value)
    reconcile(repo)  # first status commit
    fresh_checkout(repo)  # as after a clone or pull: status.yaml now has CRLF
    assert b"\r\n" in (repo / STATUS).read_bytes()

    commit = a_pass_that_changes_status(repo)

    assert git(repo, "status", "--porcelain") == ""
    on_disk = (repo / STATUS).read_bytes()
    assert b"\r\n" in on_disk  # written as git's checkout would write it
    assert on_disk.replace(b"\r\n", b"\n") == git(repo, "show", f"{commit}:{STATUS}").encode()

    # The publisher's next, unrelated `git commit -a` must not bring the old status back.
    (repo / "README.md").write_text("offers, edited\n")
    git(repo, "commit", "-q", "-a", "-m", "Edit the readme")
    assert git(repo, "diff", "--name-only", commit, "HEAD").split() == ["README.md"]


def test_a_status_the_user_edited_is_left_alone_under_autocrlf(gitrepos: GitRepos) -> None:
    repo = offers_repo(gitrepos, [OFFER])
    git(repo, "config", "core.autocrlf", "true")
    reconcile(repo)
    fresh_checkout(repo)
    edited = (repo / STATUS).read_bytes() + b"# my note\r\n"
    (repo / STATUS).write_bytes(edited)

    a_pass_that_changes_status(repo)

    assert (repo / STATUS).read_bytes() == edited


def test_a_failing_smudge_filter_leaves_the_file_alone_and_the_pass_succeeds(
    gitrepos: GitRepos,
) -> None:
    repo = offers_repo(gitrepos, [OFFER], {".gitattributes": "status.yaml filter=broken\n"})
    git(repo, "config", "filter.broken.clean", "cat")
    git(repo, "config", "filter.broken.smudge", "false")
    git(repo, "config", "filter.broken.required", "true")  # a failure is an error, not a no-op

    ran = offerctl_here("reconcile", "--repo", str(repo), *FAST)

    assert ran.code == 0, ran.err
    assert STATUS in git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert not (repo / STATUS).exists()  # not written: git could not make its checkout form
