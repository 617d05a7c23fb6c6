"""A commit on the branch against the status blob ids one reconciler keeps across passes.

The daemon keeps one reconciler, and with it `RenderedOids` (status -> the blob id
of its rendering) and its tree listings. `land.status_updates` skips an offer
whose status.yaml at the tip already holds that blob. A contributor controls the
tree entry around the blob, though: the same blob committed as a symlink (mode
120000) or an executable (100755) has the same id, and status.yaml may be turned
into a folder or brought back to an older blob. The next pass of the same
reconciler must leave a regular status.yaml with the status it decided.

Found: status.yaml turned into a symlink or an executable whose blob is the
very status was left as it was (the blob id matched, the mode was never
compared): the branch kept a symlink (or an executable) for status.yaml. Fixed in
`land.status_updates`: only a regular file (100644) holding that blob counts as
written. A folder and an older blob were already rewritten (a different or
missing blob id); those tests guard that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Reconciler, Watch, build_reconciler, no_signoff

OFFER = "alpha-offer"
STATUS = f"offers/{OFFER}/status.yaml"


def entry(repo_dir: Path, path: str = STATUS) -> tuple[str, str]:
    """(mode, blob id) of `path` at HEAD."""
    mode, _kind, rest = git(repo_dir, "ls-tree", "HEAD", "--", path).split(" ", 2)
    return mode, rest.split("\t", 1)[0]


def commit_entry(repo_dir: Path, mode: str, oid: str, path: str = STATUS) -> None:
    """Commit `path` as the tree entry (mode, oid), as a contributor's commit could."""
    git(repo_dir, "rm", "-q", "--cached", "-r", "--ignore-unmatch", "--", path)
    git(repo_dir, "update-index", "--add", "--cacheinfo", f"{mode},{oid},{path}")
    git(repo_dir, "commit", "-q", "-m", f"status.yaml as {mode}")
    git(repo_dir, "reset", "-q", "--hard")


@pytest.fixture
def world(gitrepos: GitRepos, tmp_path: Path) -> Iterator[tuple[Path, Reconciler]]:
    repo_dir = gitrepos.init("repo", offer_files(OFFER, "preview"))
    clock = Clock()
    market = SimulatedMarketplace(tmp_path / "m.db", time_scale=1.0, clock=clock)
    with GitRepo(repo_dir) as repo:
        daemon = build_reconciler(repo, market, Watch(), judge=no_signoff, clock=clock)
        assert daemon.run_pass().commit is not None
        assert daemon.run_pass().commit is None  # settled: the status blob id is kept
        yield repo_dir, daemon


def assert_regular_status(repo_dir: Path, daemon: Reconciler, oid: str) -> None:
    result = daemon.run_pass()
    assert result.written == (OFFER,)
    assert entry(repo_dir) == ("100644", oid)
    # The checkout keeps what is not a regular file (checkout sync never writes
    # through a symlink or over a folder); the branch holds the file.
    assert daemon.run_pass().commit is None


@pytest.mark.parametrize("mode", ["120000", "100755"])
def test_the_status_blob_under_another_mode_is_written_again_as_a_file(
    world: tuple[Path, Reconciler], mode: str
) -> None:
    repo_dir, daemon = world
    mode_before, ours = entry(repo_dir)
    assert mode_before == "100644"
    commit_entry(repo_dir, mode, ours)  # the very blob the reconciler remembers
    assert entry(repo_dir) == (mode, ours)

    assert_regular_status(repo_dir, daemon, ours)


def test_status_turned_into_a_folder_is_written_again_as_a_file(
    world: tuple[Path, Reconciler],
) -> None:
    repo_dir, daemon = world
    _, ours = entry(repo_dir)
    # One commit: the file gone, a folder of that name holding the status blob.
    git(repo_dir, "rm", "-q", "--cached", "--", STATUS)
    git(repo_dir, "update-index", "--add", "--cacheinfo", f"100644,{ours},{STATUS}/status.yaml")
    git(repo_dir, "commit", "-q", "-m", "status.yaml as a folder")
    git(repo_dir, "reset", "-q", "--hard")
    assert entry(repo_dir, f"{STATUS}/status.yaml") == ("100644", ours)

    assert_regular_status(repo_dir, daemon, ours)


def test_an_older_status_blob_brought_back_is_replaced_by_the_current_one(
    world: tuple[Path, Reconciler],
) -> None:
    repo_dir, daemon = world
    _, ours = entry(repo_dir)
    older = git(repo_dir, "hash-object", "-w", "--stdin", input=b"phase: Live\n").strip()
    commit_entry(repo_dir, "100644", older)

    assert_regular_status(repo_dir, daemon, ours)
