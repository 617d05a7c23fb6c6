"""Verdicts waiting to be written answer only for the tree they were made for.

The verdict store now keeps a pass's verdicts in memory (`VerdictStore._pending`)
and writes them in one transaction when the pass or plan ends (`flush`); until then
`get` answers from memory. A pull request planned in the controller's own process
puts its verdict for an offer there under the same offer id as the watched
branch's. Every attack here asks one `reusing` validator (one process) about a pull
request's tree and the watched branch's in turn, flushing or not in between, and
each answer must be what validating that tree afresh gives.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from example_offers import offer_files
from git_helpers import GitRepos, git

from controller.core.model import Target
from controller.git.repo import GitRepo
from controller.git.tree import GitTreeFiles
from controller.reconcile import evaluate
from controller.reconcile.reuse import PENDING_ENTRIES, VerdictStore, reusing
from controller.reconcile.types import EVERY_OFFER, OfferCheck
from controller.validation.files import FileSource

OFFER = "victim-offer"
FOLDER = f"offers/{OFFER}"
LOGO = f"{FOLDER}/media/logo-48.png"
MANIFEST = f"{FOLDER}/offer.yaml"


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, files: FileSource, offer: str) -> OfferCheck:
        self.calls += 1
        return evaluate.default_validate(files, offer)


def _codes(check: OfferCheck) -> set[str]:
    return {f.code for f in check.findings}


def _trees(gitrepos: GitRepos, pull_request: dict[str, bytes]) -> tuple[Path, str, str]:
    """A repository with the watched branch's commit and a pull request's on top of it."""
    repo = gitrepos.init("offers-repo", offer_files(OFFER, "draft"))
    main = gitrepos.head(repo)
    gitrepos.commit(repo, pull_request, "Pull request")
    return repo, main, gitrepos.head(repo)


def _files(handle: GitRepo, commit: str) -> GitTreeFiles:
    return evaluate.read(handle, commit, EVERY_OFFER).files


@pytest.mark.parametrize("flush_between", [False, True], ids=["pending", "flushed"])
def test_a_planned_broken_asset_does_not_answer_for_the_branch_or_back(
    gitrepos: GitRepos, tmp_path: Path, flush_between: bool
) -> None:
    repo, main, pr = _trees(gitrepos, {LOGO: b"not a png"})
    validate = Counted()
    store = VerdictStore(tmp_path / "cache")
    check = reusing(validate, store)
    with GitRepo(repo) as handle:
        main_files, pr_files = _files(handle, main), _files(handle, pr)
        for _ in range(2):  # each tree in turn, twice: memo, pending and store all tried
            planned = check(pr_files, OFFER)
            assert "NotPng" in _codes(planned)
            if flush_between:
                store.flush()
            branch = check(main_files, OFFER)
            assert "NotPng" not in _codes(branch), branch.findings
            assert branch.generation != planned.generation
            if flush_between:
                store.flush()
    store.close()
    # Another process over the same store: each tree still gets its own verdict.
    again = reusing(Counted(), VerdictStore(tmp_path / "cache"))
    with GitRepo(repo) as handle:
        assert "NotPng" not in _codes(again(_files(handle, main), OFFER))
        assert "NotPng" in _codes(again(_files(handle, pr), OFFER))


def test_a_pending_spec_of_another_target_is_not_submitted_for_the_branch(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    """`target` is no part of a generation: a pull request changing only it has the
    branch's generation. With the branch's verdict kept in memory without its spec, the
    spec read back for a submission must not be the pull request's, waiting unflushed in
    the same store."""
    text = offer_files(OFFER, "draft")[MANIFEST].decode()
    assert "target: draft" in text
    repo, main, pr = _trees(
        gitrepos, {MANIFEST: text.replace("target: draft", "target: live").encode()}
    )
    store = VerdictStore(tmp_path / "cache")
    validate = Counted()
    daemon, plan = reusing(validate, store), reusing(validate, store)  # one store, two memos
    with GitRepo(repo) as handle:
        main_files, pr_files = _files(handle, main), _files(handle, pr)
        first = daemon(main_files, OFFER)  # the branch: a verdict kept in memory
        planned = plan(pr_files, OFFER)  # the plan: pending under the same offer id
        assert planned.generation == first.generation
        assert planned.target is Target.LIVE
        before = validate.calls
        again = daemon(main_files, OFFER)  # the branch again: a memo hit, no spec held
        assert validate.calls == before, "a memo hit"
        assert again.target is Target.DRAFT
        assert again.spec["target"] == "draft", "read back: not the pending pull request's"
    store.close()


def test_more_than_a_batch_of_pending_verdicts_is_written_and_read_back(
    gitrepos: GitRepos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PENDING_ENTRIES a put writes the batch: the verdicts written mid-pass and those
    still waiting are both found, each for its own offer."""
    monkeypatch.setattr("controller.reconcile.reuse.PENDING_ENTRIES", 2)
    assert PENDING_ENTRIES > 2
    files: dict[str, bytes] = {}
    names = [f"offer-{n}" for n in range(5)]
    for name in names:
        files.update(offer_files(name, "draft"))
    files[f"offers/{names[3]}/media/logo-48.png"] = b"not a png"
    repo = gitrepos.init("offers-repo", files)
    store = VerdictStore(tmp_path / "cache")
    with GitRepo(repo) as handle:
        tree = _files(handle, git(repo, "rev-parse", "HEAD").strip())
        first = {n: reusing(Counted(), store)(tree, n) for n in names}
        validate = Counted()
        second = {n: reusing(validate, store)(tree, n) for n in names}  # a fresh memo
    store.close()
    assert validate.calls == 0, "every verdict was found, written or waiting"
    for name in names:
        assert second[name].generation == first[name].generation
        assert _codes(second[name]) == _codes(first[name])
    assert "NotPng" in _codes(second[names[3]])
    assert not any("NotPng" in _codes(second[n]) for n in names if n != names[3])
