"""validate (a working tree) and reconcile (a commit) apply the same rule to the same file.

Issue 11: validate passed a 100 MB package that reconcile rejected at 64 MiB,
and passed an in-repo asset symlink that reconcile called "outside the
repository". Each test commits a real offer in a real git repository and
validates it both ways: through `WorktreeFiles`, as `offerctl validate` does,
and through the commit's `GitTreeFiles`, as a reconcile pass does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from offer_helpers import OFFER_ID, WriteOffer

from controller.core.model import Finding
from controller.git.repo import GitRepo
from controller.git.tree import GitTreeFiles
from controller.validation.engine import validate_offer
from controller.validation.files import WorktreeFiles
from controller.validation.limits import MAX_PACKAGE_BYTES

FOLDER = f"offers/{OFFER_ID}"


def commit_all(root: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "offer")
    return git("rev-parse", "HEAD")


def both_ways(root: Path) -> tuple[list[Finding], list[Finding]]:
    commit = commit_all(root)
    worktree = validate_offer(FOLDER, WorktreeFiles(root), collect_files=False)
    with GitRepo(root) as repo:
        snapshot = repo.snapshot(commit)
        committed = validate_offer(FOLDER, GitTreeFiles(snapshot), collect_files=True)
    return list(worktree.findings), list(committed.findings)


def shape(findings: list[Finding]) -> list[tuple[str, str, int, str]]:
    return [(f.code, f.path, f.line, f.message) for f in findings]


def test_an_asset_symlink_inside_the_repository_gets_one_verdict(write_offer: WriteOffer) -> None:
    root = write_offer()
    logo = root / FOLDER / "media" / "logo-216.png"
    (root / "shared").mkdir()
    logo.rename(root / "shared" / "logo-216.png")
    logo.symlink_to("../../../shared/logo-216.png")
    worktree, committed = both_ways(root)
    assert shape(worktree) == shape(committed)
    assert [f.code for f in worktree] == ["AssetSymlink"]
    assert "is a symlink" in worktree[0].message
    assert "outside the repository" not in worktree[0].message


@pytest.mark.slow  # git hashes a 64 MiB blob
def test_a_package_over_the_cap_gets_one_verdict(write_offer: WriteOffer) -> None:
    root = write_offer()
    package = root / FOLDER / "package" / f"{OFFER_ID}.zip"
    with package.open("r+b") as handle:  # still a zip at the front, just too big
        handle.truncate(MAX_PACKAGE_BYTES + 1)
    worktree, committed = both_ways(root)
    assert shape(worktree) == shape(committed)
    assert [f.code for f in worktree] == ["FileTooLarge"]
    assert f"{MAX_PACKAGE_BYTES:,} bytes" in worktree[0].message
