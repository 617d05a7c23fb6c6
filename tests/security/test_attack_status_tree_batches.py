"""A status commit built from batched tree reads is the tree git's own index would make.

`build_tree` now reads the trees of the folders it changes through
`ObjectReader.read_many` (ASKS_AT_ONCE requests at a time, handed out as the walk
reaches each folder), while the walk into each folder may read more trees through
the same `cat-file` process. A pull request chooses the layout the status commit is
built on: hundreds of offer folders, many of them the very same tree (a copied
folder: one object asked for again and again in a batch), names that sort on either
side of git's folder order (`a`, `a-b`, `a.b`, `a0`), and an offer path that is a
file, a symlink or a submodule, or a `status.yaml` that is a folder. Each status must
land at its own path and nothing else may move: the result is compared with
read-tree + update-index --replace + write-tree, with batches of the real size and
of three (so that every boundary falls inside a folder's walk).

`sync_checked_out` reads the status blobs back in batches too: with more files than
a batch, each file in the working tree must get its own bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller.git import read
from controller.git.names import blob_oid
from controller.git.read import ObjectReader
from controller.git.repo import GitRepo
from controller.git.runner import GitRunner
from controller.git.write import Identity, build_tree, store_blobs

SUBMODULE_COMMIT = "1234567890abcdef1234567890abcdef12345678"


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[GitRunner, ObjectReader]]:
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    runner = GitRunner(path)
    reader = ObjectReader(runner)
    yield runner, reader
    reader.close()


def _index_env(runner: GitRunner) -> dict[str, str]:
    return {"GIT_INDEX_FILE": str(Path(str(runner.path)) / ".git" / "attack-index")}


def _tree_of(runner: GitRunner, entries: dict[str, tuple[str, str]]) -> str:
    """A tree of {path: (mode, oid)}, made by git's index."""
    env = _index_env(runner)
    runner.run(["read-tree", "--empty"], env=env)
    records = b"".join(
        b"%s %s\t%s\x00" % (mode.encode(), oid.encode(), path.encode())
        for path, (mode, oid) in entries.items()
    )
    runner.run(["update-index", "-z", "--index-info"], stdin=records, env=env)
    return runner.out("write-tree", env=env)


def _reference(runner: GitRunner, base: str, changes: dict[str, str | None]) -> str:
    """`base` with `changes` applied by git's index: a path may replace a file above it."""
    env = _index_env(runner)
    runner.run(["read-tree", base], env=env)
    deletes = [p for p, oid in changes.items() if oid is None]
    if deletes:
        runner.run(
            ["update-index", "-z", "--force-remove", "--stdin"],
            stdin=b"".join(p.encode() + b"\x00" for p in deletes),
            env=env,
        )
    adds = {p: oid for p, oid in changes.items() if oid is not None}
    for path, oid in adds.items():  # one at a time: --replace resolves file/folder clashes
        runner.run(
            ["update-index", "--add", "--replace", "--cacheinfo", f"100644,{oid},{path}"],
            env=env,
        )
    return runner.out("write-tree", env=env)


def _layout(runner: GitRunner, folders: int) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """A hostile offers/ folder: {path: (mode, oid)}, and the offer ids in it."""
    manifest, logo, link = b"kind: Offer\n", b"\x89PNG same bytes", b"../elsewhere"
    store_blobs(runner, [manifest, logo, link, b"old status\n"], "sha1")
    entries: dict[str, tuple[str, str]] = {}
    ids = [f"copy-{n:04d}" for n in range(folders)]  # the same tree, over and over
    ids += ["a", "a-b", "a.b", "a0", "ab", "a-", "z"]  # either side of "a/" in git's order
    for offer in ids:
        entries[f"offers/{offer}/offer.yaml"] = ("100644", blob_oid(manifest))
        entries[f"offers/{offer}/media/logo.png"] = ("100644", blob_oid(logo))
    entries["offers/a/status.yaml"] = ("100644", blob_oid(b"old status\n"))
    entries["offers/a-b/status.yaml/evil.txt"] = ("100644", blob_oid(manifest))  # a folder
    entries["offers/as-file"] = ("100644", blob_oid(manifest))
    entries["offers/as-link"] = ("120000", blob_oid(link))
    entries["offers/as-submodule"] = ("160000", SUBMODULE_COMMIT)
    entries["offers/deep/a/b/c/status.yaml"] = ("100644", blob_oid(b"old status\n"))
    entries["publishing.yaml"] = ("100644", blob_oid(manifest))
    return entries, [*ids, "as-file", "as-link", "as-submodule", "new-offer"]


@pytest.mark.parametrize("asks_at_once", [read.ASKS_AT_ONCE, 3], ids=["real-batches", "three"])
def test_statuses_over_a_hostile_layout_land_where_git_would_put_them(
    repo: tuple[GitRunner, ObjectReader], monkeypatch: pytest.MonkeyPatch, asks_at_once: int
) -> None:
    runner, reader = repo
    monkeypatch.setattr(read, "ASKS_AT_ONCE", asks_at_once)
    entries, offers = _layout(runner, read.ASKS_AT_ONCE + 44)
    base = _tree_of(runner, entries)
    statuses = {offer: f"status of {offer}\n".encode() for offer in offers}
    store_blobs(runner, list(statuses.values()), "sha1")
    changes: dict[str, str | None] = {
        f"offers/{offer}/status.yaml": blob_oid(data) for offer, data in statuses.items()
    }
    changes["offers/a/media/logo.png"] = None  # a deletion inside a changed folder
    changes["offers/copy-0007/status.yaml"] = None  # a deletion where there is nothing
    changes["offers/deep/a/b/c/status.yaml"] = blob_oid(statuses["z"])  # nested folders
    changes["offers/deep/a/b/d/status.yaml"] = blob_oid(statuses["a"])
    built = build_tree(runner, reader, base, changes)
    assert built == _reference(runner, base, changes)
    for offer, data in statuses.items():
        if offer != "copy-0007":
            assert runner.out("cat-file", "blob", f"{built}:offers/{offer}/status.yaml") == (
                data.decode().rstrip("\n")
            )


def test_a_sync_of_more_files_than_a_batch_gives_each_file_its_own_bytes(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read, "ASKS_AT_ONCE", 7)
    count = 40
    files = {f"offers/o-{n:03d}/status.yaml": f"old {n}\n".encode() for n in range(count)}
    work = gitrepos.init("work", files)
    old = gitrepos.head(work)
    with GitRepo(work) as handle:
        new_blobs = {path: f"new {path}\n".encode() for path in files}
        new_blobs["offers/o-005/status.yaml"] = new_blobs["offers/o-006/status.yaml"]  # shared
        handle.store_blobs(list(new_blobs.values()))
        changes: dict[str, str | None] = {p: blob_oid(d) for p, d in new_blobs.items()}
        commit = handle.commit_blobs(old, changes, "offerctl: status", Identity())
        assert commit is not None
        git(work, "update-ref", "refs/heads/main", commit, old)
        synced = handle.sync_checked_out("main", old, commit, list(files))
    assert sorted(synced) == sorted(files)
    for path, data in new_blobs.items():
        assert (work / path).read_bytes() == data, path
    assert git(work, "status", "--porcelain") == ""
