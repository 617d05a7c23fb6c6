"""One walk per commit answers every signoff.yaml's history as the per-offer git calls did."""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller.git import history as githistory
from controller.git.history import GitHistoryError
from controller.signoff import evidence_git, history_index


def _paths(repo: Path, tip: str) -> list[str]:
    listed = git(repo, "ls-tree", "-r", "--name-only", tip, "--", "offers").split("\n")
    return sorted(p for p in listed if p.endswith("/signoff.yaml"))


def _agrees(repo: Path, tip: str, paths: list[str]) -> None:
    index = history_index.build(repo, tip)
    for path in paths:
        assert index.entry(path) == githistory.tree_entry(repo, tip, path), path
        assert index.introducing_commit(path) == githistory.introducing_commit(repo, tip, path)
        entry = index.entry(path)
        if entry is not None:
            data = githistory.read_blob(repo, entry.oid, 1 << 20)
            assert index.blobs.get(entry.oid, data) == data  # preloaded or not, the same bytes
            assert history_index.read_blob(repo, tip, entry.oid, 1 << 20) == data


def test_the_index_agrees_with_git_per_path_across_merges_deletes_and_readds(
    gitrepos: GitRepos,
) -> None:
    repo = gitrepos.init("r", {"offers/a/signoff.yaml": "a1\n", "offers/a/offer.yaml": "x\n"})
    gitrepos.commit(repo, {"offers/b/signoff.yaml": "b1\n"})
    git(repo, "checkout", "-q", "-b", "pr")
    gitrepos.commit(repo, {"offers/c/signoff.yaml": "c1\n"})  # on the branch: not first-parent
    gitrepos.commit(repo, {"offers/a/signoff.yaml": "a2\n"})
    git(repo, "checkout", "-q", "main")
    gitrepos.commit(repo, {"offers/b/signoff.yaml": None})  # deleted
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge pr", "pr")
    merge = gitrepos.head(repo)
    gitrepos.commit(repo, {"offers/b/signoff.yaml": "b1\n"})  # re-added, same content
    gitrepos.commit(repo, {"offers/d/offer.yaml": "unrelated\n"})
    tip = gitrepos.head(repo)
    paths = [*_paths(repo, tip), "offers/zz/signoff.yaml"]  # and one that never existed
    _agrees(repo, tip, paths)
    index = history_index.build(repo, tip)
    assert index.introducing_commit("offers/c/signoff.yaml") == merge  # the merge, not the PR's
    assert index.introducing_commit("offers/a/signoff.yaml") == merge
    assert index.introducing_commit("offers/zz/signoff.yaml") is None
    _agrees(repo, merge, [*_paths(repo, merge), "offers/b/signoff.yaml"])  # b absent there


def test_a_mode_only_change_is_refused_as_git_refuses_it(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("r", {"offers/a/signoff.yaml": "a1\n"})
    git(repo, "update-index", "--chmod=+x", "offers/a/signoff.yaml")
    git(repo, "commit", "-q", "-m", "chmod")
    tip = gitrepos.head(repo)
    with pytest.raises(GitHistoryError):
        githistory.introducing_commit(repo, tip, "offers/a/signoff.yaml")
    with pytest.raises(GitHistoryError):
        history_index.build(repo, tip).introducing_commit("offers/a/signoff.yaml")


def test_one_index_per_commit_answers_every_offer(gitrepos: GitRepos) -> None:
    files = {f"offers/o{i}/signoff.yaml": f"s{i}\n" for i in range(5)}
    repo = gitrepos.init("r", files)
    tip = gitrepos.head(repo)
    first = history_index.at(repo, tip)
    for path in files:
        assert history_index.introducing_commit(repo, tip, path) == tip
    assert history_index.at(repo, tip) is first  # built once, kept
    assert history_index.commit_info(repo, tip) is history_index.commit_info(repo, tip)


def test_merge_authorship_from_the_index_matches_git_per_offer(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("r", {"offers/a/offer.yaml": "x\n"})
    git(repo, "checkout", "-q", "-b", "pr")
    gitrepos.commit(repo, {"offers/a/signoff.yaml": "a\n", "offers/b/signoff.yaml": "b\n"})
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "pr")
    gitrepos.write(repo, {"offers/b/signoff.yaml": "b written by the merge\n"})
    git(repo, "add", "offers/b/signoff.yaml")
    git(repo, "commit", "-q", "-m", "Merge pr")
    tip = gitrepos.head(repo)
    info = githistory.commit_info(repo, tip)
    wrote = {}
    for offer in ("a", "b"):
        path = f"offers/{offer}/signoff.yaml"
        assert evidence_git.change_authors(repo, info, path, tip=tip) == (
            evidence_git.change_authors(repo, info, path)
        )
        wrote[offer] = evidence_git._merge_wrote(repo, info, path, tip)
        assert wrote[offer] == evidence_git._merge_wrote(repo, info, path)
    assert wrote == {"a": False, "b": True}


def test_only_offers_sign_offs_are_preloaded_and_the_rest_read_when_asked(
    gitrepos: GitRepos,
) -> None:
    repo = gitrepos.init(
        "r",
        {
            "offers/a/offer.yaml": "x\n",
            "offers/a/signoff.yaml": "a\n",
            "offers/no-offer/signoff.yaml": "padding\n",  # a folder, not an offer
            "offers/dir-offer/offer.yaml/x": "a folder named offer.yaml\n",
            "offers/dir-offer/signoff.yaml": "d\n",
            "offers/sp ace/offer.yaml": "x\n",
            "offers/sp ace/signoff.yaml": "s\n",
        },
    )
    tip = gitrepos.head(repo)
    index = history_index.build(repo, tip)
    preloaded = {
        path
        for path, change in index.changes.items()
        if change.entry and change.entry.oid in index.blobs
    }
    assert preloaded == {"offers/a/signoff.yaml", "offers/sp ace/signoff.yaml"}
    entry = index.entry("offers/no-offer/signoff.yaml")
    assert entry is not None and entry.size == len("padding\n")
    assert history_index.read_blob(repo, tip, entry.oid, 1024) == b"padding\n"


def test_preloading_stops_at_its_byte_budget_smallest_first(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_index, "PRELOAD_BYTES", 10)
    files = {f"offers/o{i}/offer.yaml": "x\n" for i in range(3)}
    files |= {
        "offers/o0/signoff.yaml": "0123456789ab\n",
        "offers/o1/signoff.yaml": "1\n",
        "offers/o2/signoff.yaml": "22\n",
    }
    repo = gitrepos.init("r", files)
    tip = gitrepos.head(repo)
    index = history_index.build(repo, tip)
    assert sorted(index.blobs.values()) == [b"1\n", b"22\n"]  # 5 bytes; 13 more do not fit
    _agrees(repo, tip, _paths(repo, tip))
