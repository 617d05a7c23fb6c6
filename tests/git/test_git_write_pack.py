"""Many new trees at once go in as one pack, and the tree is still the one the index would build."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from git_helpers import git

from controller.git.names import blob_oid
from controller.git.read import ObjectReader
from controller.git.runner import GitRunner
from controller.git.write import FEW_BLOBS, PACK_MIN_TREES, build_tree, store_blobs

OFFERS = PACK_MIN_TREES + 20  # each changed offer folder is one new tree


def _packs(repo: Path) -> set[str]:
    return {p.name for p in (repo / ".git" / "objects" / "pack").glob("*.pack")}


def _loose(repo: Path) -> int:
    return int(git(repo, "count-objects").split()[0])


def _index_tree(repo: Path, base: str, changes: dict[str, str]) -> str:
    """The reference: read-tree of the whole base, update-index, write-tree."""
    env = {"GIT_INDEX_FILE": str(repo / ".git" / "test-index")}
    git(repo, "read-tree", base, env=env)
    records = b"".join(b"100644 %s\t%s\x00" % (o.encode(), p.encode()) for p, o in changes.items())
    git(repo, "update-index", "-z", "--index-info", env=env, input=records)
    return git(repo, "write-tree", env=env).strip()


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_many_new_trees_are_stored_as_one_pack_and_equal_the_index_s_tree(
    tmp_path: Path, object_format: str
) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", f"--object-format={object_format}", str(repo))
    for i in range(OFFERS):
        folder = repo / "offers" / f"offer-{i:03d}"
        folder.mkdir(parents=True)
        (folder / "offer.yaml").write_text(f"name: offer-{i}\n")
    (repo / "README.md").write_text("readme\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD^{tree}").strip()
    runner = GitRunner(repo)
    reader = ObjectReader(runner, object_format)
    try:
        statuses = [f"phase: Draft {i}\n".encode() for i in range(OFFERS)]
        store_blobs(runner, statuses, object_format)
        changes = {
            f"offers/offer-{i:03d}/status.yaml": blob_oid(data, object_format)
            for i, data in enumerate(statuses)
        }
        changes["README.md"] = blob_oid(b"phase: Draft 0\n", object_format)
        expected = _index_tree(repo, "HEAD", changes)
        packs, loose = _packs(repo), _loose(repo)

        tree = build_tree(runner, reader, base, changes, object_format)
    finally:
        reader.close()

    assert tree == expected
    assert len(_packs(repo) - packs) == 1  # every new tree in one pack
    assert _loose(repo) == loose  # and none of them loose
    git(repo, "fsck", "--no-dangling", "--strict")  # the pack is whole and well formed


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
@pytest.mark.parametrize("count", [1, 3, 99, 150])
def test_blobs_are_stored_as_their_bytes_loose_or_packed(
    tmp_path: Path, object_format: str, count: int
) -> None:
    """Fewer than FEW_BLOBS are written loose by one hash-object, more by fast-import;
    either way under the ids their bytes hash to, whatever eol conversion the
    repository asks of files it checks in."""
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", f"--object-format={object_format}", str(repo))
    git(repo, "config", "core.autocrlf", "true")
    (repo / ".gitattributes").write_text("* text eol=crlf\n")
    blobs = [f"phase: Draft {i}\r\nline\n".encode() for i in range(count)]
    store_blobs(GitRunner(repo), blobs, object_format)
    for data in blobs:
        oid = blob_oid(data, object_format)
        stored = subprocess.run(
            ["git", "cat-file", "blob", oid], cwd=repo, capture_output=True, check=True
        ).stdout
        assert stored == data
    assert (not _packs(repo)) == (count < FEW_BLOBS)  # fast-import packs 150
