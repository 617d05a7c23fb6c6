"""Git work a pass runs beside other git work: collected, errors and all, before it counts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller.core.errors import FatalError
from controller.git.later import Later
from controller.git.names import blob_oid
from controller.git.read import ObjectReader
from controller.git.repo import GitRepo
from controller.git.runner import GitRunner
from controller.git.write import Identity, commit_blobs, store_blobs_soon


def test_later_answers_on_another_thread_and_hands_over_its_error() -> None:
    threads: list[str] = []

    def work() -> int:
        threads.append(threading.current_thread().name)
        return 7

    assert Later(work).result() == 7
    assert threads and threads[0] != threading.current_thread().name
    assert Later.answered("now").result() == "now"

    def fail() -> None:
        raise FatalError("git said no")

    failing = Later(fail)
    with pytest.raises(FatalError, match="git said no"):
        failing.result()
    failing.settle()  # a caller already failing waits for it and keeps its own error


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    return gitrepos.init("work", {"offers/a/offer.yaml": "name: a\n"})


def test_a_commit_is_returned_only_once_its_blobs_are_stored(repo: Path) -> None:
    runner = GitRunner(repo)
    reader = ObjectReader(runner)
    try:
        data = b"phase: Live\n"
        base = git(repo, "rev-parse", "HEAD").strip()
        storing = store_blobs_soon(runner, iter([data]), "sha1")
        commit = commit_blobs(
            runner, reader, base, {"offers/a/status.yaml": blob_oid(data)}, "status: a",
            identity=Identity(), storing=storing,
        )  # fmt: skip
        assert commit is not None
        assert git(repo, "cat-file", "blob", blob_oid(data)) == data.decode()
        assert git(repo, "show", f"{commit}:offers/a/status.yaml") == data.decode()
    finally:
        reader.close()


def test_a_blob_that_could_not_be_stored_fails_the_commit(repo: Path) -> None:
    runner = GitRunner(repo)
    reader = ObjectReader(runner)

    def broken() -> None:
        raise FatalError("git stored a blob under another id than computed")

    try:
        base = git(repo, "rev-parse", "HEAD").strip()
        with pytest.raises(FatalError, match="another id"):
            commit_blobs(
                runner, reader, base, {"offers/a/status.yaml": blob_oid(b"x\n")}, "status: a",
                identity=Identity(), storing=Later(broken),
            )  # fmt: skip
    finally:
        reader.close()


def test_many_blobs_are_stored_before_store_blobs_soon_returns(repo: Path) -> None:
    blobs = [b"status %d\n" % i for i in range(150)]  # past FEW_BLOBS: one fast-import
    store_blobs_soon(GitRunner(repo), iter(blobs), "sha1").result()
    git(repo, "cat-file", "-e", blob_oid(blobs[-1]))


def test_a_prefetched_diff_answers_only_its_own_question(repo: Path, gitrepos: GitRepos) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    second = gitrepos.commit(repo, {"offers/b/offer.yaml": "name: b\n"})
    third = gitrepos.commit(repo, {"offers/c/offer.yaml": "name: c\n"})
    with GitRepo(repo) as opened:
        opened.prefetch_changed_paths(first, second)
        assert opened.changed_paths(first, third) == [
            "offers/b/offer.yaml",
            "offers/c/offer.yaml",
        ]
        assert opened.changed_paths(first, second) == ["offers/b/offer.yaml"]
        assert opened.changed_paths(first, second) == ["offers/b/offer.yaml"]  # asked again
