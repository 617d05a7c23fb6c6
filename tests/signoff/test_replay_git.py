"""Replayed sign-offs on real git histories (docs/DESIGN.md §5, "A replaced history").

The histories are built with `OffersRepo` (trailers count: `trust: push-access`),
then a merge whose first parent is an old commit and whose second parent is the
tip is made and the branch fast-forwarded to it, as an attacker would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import GitRepos
from signoff_helpers import (
    ANA,
    CARL,
    OFFER,
    OffersRepo,
    make_offers_repo,
    offer_yaml,
)

from controller.core.model import SignOffVerdict
from controller.git import history as githistory
from controller.git.repo import GitRepo
from controller.reconcile.evaluate import policy_at
from controller.reconcile.records import ReplayRecords
from controller.signoff import continuity, evaluate_signoff
from controller.signoff.replay import Replay

SIGNOFF = f"offers/{OFFER}/signoff.yaml"
MANIFEST = f"offers/{OFFER}/offer.yaml"
ANA_OK = "Approved-by: Ana Approver <ana@contoso.com>"


@pytest.fixture
def repo(gitrepos: GitRepos) -> OffersRepo:
    return make_offers_repo(gitrepos)


def approved(repo: OffersRepo, note: str = "") -> str:
    """An approved sign-off of the current generation merged into main; the merge."""
    repo.branch_signoff(repo.generation(), branch=f"signoff/{note or 'x'}", note=note)
    return repo.merge(f"signoff/{note or 'x'}", trailers=(ANA_OK,))


def replace_history(repo: OffersRepo, first_parent: str, restore: tuple[str, ...]) -> str:
    """A merge (first parent `first_parent`, second parent main's tip) holding the tip's tree
    with `restore` as `first_parent` has them; main is fast-forwarded to it."""
    tip = repo.head()
    repo.git("checkout", "-q", "-b", "replay", first_parent)
    repo.git("merge", "-q", "--no-ff", "--no-commit", "-s", "ours", tip)
    repo.git("checkout", tip, "--", ".")
    repo.git("checkout", first_parent, "--", *restore)
    repo.git("commit", "-q", "-m", "Merge main")
    merge = repo.head()
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", merge)
    return merge


def judge(
    repo: OffersRepo, reconciled: str = "", remembered: Replay | None = None
) -> SignOffVerdict:
    tip = repo.head()
    with GitRepo(repo.path) as handle:
        policy = policy_at(handle, tip)
    return evaluate_signoff(
        repo.path, tip, OFFER, repo.generation(tip), policy,
        reconciled=reconciled, remembered=remembered,
    )  # fmt: skip


class TestLineageFromGit:
    def test_a_normal_merge_keeps_the_last_reconciled_commit(self, repo: OffersRepo) -> None:
        reconciled = repo.head()
        merge = approved(repo)

        found = continuity.lineage_at(repo.path, merge, reconciled)

        assert found.kept
        assert merge in found.newer

    def test_a_fast_forward_to_an_old_first_parent_replaces_it(self, repo: OffersRepo) -> None:
        sign = approved(repo)
        repo.commit({SIGNOFF: None}, "Revoke", ANA)
        reconciled = repo.head()
        merge = replace_history(repo, sign, (SIGNOFF,))

        found = continuity.lineage_at(repo.path, merge, reconciled)

        assert not found.kept
        assert found.newer == frozenset({merge})
        assert githistory.first_parent_since(repo.path, merge, reconciled) == (
            (merge, (sign, reconciled)),
        )

    def test_the_tip_itself_lists_nothing(self, repo: OffersRepo) -> None:
        assert githistory.first_parent_since(repo.path, repo.head(), repo.head()) == ()


class TestReplayedSignOffs:
    def test_a_revoked_sign_off_brought_back_is_distrusted(self, repo: OffersRepo) -> None:
        sign = approved(repo)
        repo.commit({SIGNOFF: None}, "Revoke", ANA)
        reconciled = repo.head()
        replace_history(repo, sign, (SIGNOFF,))

        found = judge(repo, reconciled)

        assert not found.valid
        assert found.reason == "SignOffReplayed"
        assert found.commit == sign
        assert reconciled[:12] in found.message

    def test_without_a_last_reconciled_commit_it_is_judged_as_before(
        self, repo: OffersRepo
    ) -> None:
        sign = approved(repo)
        repo.commit({SIGNOFF: None}, "Revoke", ANA)
        replace_history(repo, sign, (SIGNOFF,))

        assert judge(repo).valid  # a first pass or a fresh clone: nothing to compare with

    def test_an_old_generation_and_its_superseded_sign_off_are_distrusted(
        self, repo: OffersRepo
    ) -> None:
        old = approved(repo, "first")
        repo.commit({MANIFEST: offer_yaml("Demo Offer 2")}, "Change the offer", CARL)
        approved(repo, "second")  # re-reviewed: a sign-off of the new generation
        reconciled = repo.head()
        replace_history(repo, old, (SIGNOFF, MANIFEST))

        found = judge(repo, reconciled)

        assert found.reason == "SignOffReplayed"
        assert found.commit == old

    def test_a_sign_off_that_was_already_valid_at_the_last_commit_counts(
        self, repo: OffersRepo
    ) -> None:
        sign = approved(repo)
        older = repo.commit({"README.md": "x\n"}, "Unrelated", CARL)
        repo.commit({"README.md": "y\n"}, "Unrelated too", CARL)
        reconciled = repo.head()
        replace_history(repo, older, ("README.md",))

        found = judge(repo, reconciled)

        assert found.valid, found.message
        assert found.commit == sign

    def test_a_sign_off_approved_after_the_replacement_is_judged_as_before(
        self, repo: OffersRepo
    ) -> None:
        sign = approved(repo, "first")
        repo.commit({SIGNOFF: None}, "Revoke", ANA)
        reconciled = repo.head()
        replace_history(repo, sign, (SIGNOFF,))
        again = approved(repo, "again")

        found = judge(repo, reconciled)

        assert found.valid, found.message
        assert found.commit == again

    def test_a_remembered_replay_holds_on_a_kept_history(self, repo: OffersRepo) -> None:
        sign = approved(repo)
        remembered = Replay(sign, "0" * 40)

        found = judge(repo, repo.head(), remembered)

        assert found.reason == "SignOffReplayed"
        assert judge(repo, repo.head()).valid


class TestReplayRecords:
    def test_a_replay_is_kept_per_branch_and_offer(self, tmp_path: Path) -> None:
        records = ReplayRecords(tmp_path, "main")
        records.save(OFFER, Replay("a" * 40, "b" * 40))

        assert ReplayRecords(tmp_path, "main").load(OFFER) == Replay("a" * 40, "b" * 40)
        assert ReplayRecords(tmp_path, "main", "origin").load(OFFER) is None
        assert ReplayRecords(tmp_path, "release").load(OFFER) is None
        assert records.load("other-offer") is None

    def test_a_replay_saved_after_the_folder_was_listed_is_loaded(self, tmp_path: Path) -> None:
        records = ReplayRecords(tmp_path, "main")
        assert records.load(OFFER) is None  # lists the folder: none yet
        records.save(OFFER, Replay("a" * 40, ""))
        records.save("other-offer", Replay("c" * 40, ""))

        assert records.load(OFFER) == Replay("a" * 40, "")
        assert records.load("other-offer") == Replay("c" * 40, "")

    def test_a_read_only_store_writes_nothing(self, tmp_path: Path) -> None:
        ReplayRecords(tmp_path, "main", writable=False).save(OFFER, Replay("a" * 40, ""))

        assert ReplayRecords(tmp_path, "main").load(OFFER) is None

    def test_an_unreadable_record_remembers_nothing(self, tmp_path: Path) -> None:
        records = ReplayRecords(tmp_path, "main")
        records.save(OFFER, Replay("a" * 40, ""))
        next(records.root.iterdir()).write_bytes(b"\xff{")

        assert records.load(OFFER) is None
