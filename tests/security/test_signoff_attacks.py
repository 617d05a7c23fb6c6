"""Attacks on the sign-off gate, tried on real git histories.

These run with `signoff.trust: push-access` (typed trailers count): they are
about who counts and which rules apply, which is the same in both modes, and
the unverified mode is the one where only these rules stand in the way. The
signed default is attacked in test_signoff_trust.py.

Each test is one way someone could try to make an offer go live without an
authorized, reviewed sign-off of its exact generation. The policy is read
from the reconciled commit exactly as the reconciler reads it
(`reconcile.policy_at`), so a pull request that edits publishing.yaml or
CODEOWNERS is judged the way the running controller would judge it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from git_helpers import GitRepos, git

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signoff"))

from signoff_helpers import (
    ANA,
    BO,
    CARL,
    OFFER,
    OffersRepo,
    make_offers_repo,
    offer_yaml,
    signoff_yaml,
)

from controller.core.model import SignOffVerdict
from controller.git.repo import GitRepo
from controller.reconcile.reconciler import policy_at
from controller.signoff import evaluate_signoff

SIGNOFF = f"offers/{OFFER}/signoff.yaml"
MANIFEST = f"offers/{OFFER}/offer.yaml"
ANA_OK = "Approved-by: Ana Approver <ana@contoso.com>"
EVE_OK = "Approved-by: Eve Outsider <eve@elsewhere.example>"
NO_APPROVERS_POLICY = (
    "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  trust: push-access\n"
)


def judged_as_the_controller_would(repo: OffersRepo) -> SignOffVerdict:
    """The verdict on the branch tip, with publishing.yaml read from that tip."""
    tip = repo.head()
    with GitRepo(repo.path) as handle:
        policy = policy_at(handle, tip)
    return evaluate_signoff(repo.path, tip, OFFER, repo.generation(tip), policy)


@pytest.fixture
def repo(gitrepos: GitRepos) -> OffersRepo:
    return make_offers_repo(gitrepos)


class TestRulesCannotBeRewrittenByTheChangeTheyJudge:
    """publishing.yaml and CODEOWNERS count as they stood before the sign-off arrived."""

    def test_pr_that_adds_its_author_friend_to_codeowners_does_not_authorize_them(
        self, repo: OffersRepo
    ) -> None:
        repo.commit(
            {"publishing.yaml": NO_APPROVERS_POLICY, "CODEOWNERS": "/offers/ ana@contoso.com\n"},
            "CODEOWNERS decides",
            ANA,
        )
        repo.git("checkout", "-q", "-b", "signoff/x", "main")
        repo.commit(
            {
                "CODEOWNERS": "/offers/ eve@elsewhere.example\n",
                SIGNOFF: signoff_yaml(repo.generation()),
            },
            "Sign off (and own offers/)",
            CARL,
        )
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(EVE_OK,))

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "UnauthorizedApprover"
        assert "before" in result.message

    def test_pr_that_switches_the_provider_to_none_does_not_go_unreviewed(
        self, repo: OffersRepo
    ) -> None:
        relaxed = (
            "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  provider: none\n"
        )
        repo.git("checkout", "-q", "-b", "signoff/x", "main")
        repo.commit(
            {"publishing.yaml": relaxed, SIGNOFF: signoff_yaml(repo.generation())},
            "Sign off",
            CARL,
        )
        repo.git("checkout", "-q", "main")
        repo.merge()  # merged with no approval at all

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "NotReviewed"

    def test_direct_push_that_switches_the_provider_to_none_is_not_reviewed(
        self, repo: OffersRepo
    ) -> None:
        relaxed = (
            "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  provider: none\n"
        )
        repo.commit(
            {"publishing.yaml": relaxed, SIGNOFF: signoff_yaml(repo.generation())}, "x", CARL
        )

        assert not judged_as_the_controller_would(repo).valid

    def test_pr_that_adds_an_approver_to_publishing_yaml_does_not_authorize_them(
        self, repo: OffersRepo
    ) -> None:
        widened = (
            "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  trust: push-access\n"
            "  approvers: [ana@contoso.com, bo@contoso.com, eve@elsewhere.example]\n"
        )
        repo.git("checkout", "-q", "-b", "signoff/x", "main")
        repo.commit(
            {"publishing.yaml": widened, SIGNOFF: signoff_yaml(repo.generation())},
            "Sign off",
            CARL,
        )
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(EVE_OK,))

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "UnauthorizedApprover"

    def test_pr_that_lowers_required_approvals_still_needs_the_old_count(
        self, repo: OffersRepo
    ) -> None:
        two = (
            "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  trust: push-access\n"
            "  approvers: [ana@contoso.com, bo@contoso.com]\n  requiredApprovals: 2\n"
        )
        one = two.replace("requiredApprovals: 2", "requiredApprovals: 1")
        repo.commit({"publishing.yaml": two}, "Two approvals", ANA)
        repo.git("checkout", "-q", "-b", "signoff/x", "main")
        repo.commit({"publishing.yaml": one, SIGNOFF: signoff_yaml(repo.generation())}, "x", CARL)
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(ANA_OK,))

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "NotEnoughApprovals"

    def test_later_policy_change_still_applies_to_an_earlier_sign_off(
        self, repo: OffersRepo
    ) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,))
        assert judged_as_the_controller_would(repo).valid
        revoked = (
            "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  trust: push-access\n"
            "  approvers: [bo@contoso.com]\n"
        )
        repo.commit({"publishing.yaml": revoked}, "Ana left", BO)

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "UnauthorizedApprover"

    def test_policy_change_merged_before_the_sign_off_counts(self, repo: OffersRepo) -> None:
        widened = (
            "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  trust: push-access\n"
            "  approvers: [ana@contoso.com, eve@elsewhere.example]\n"
        )
        repo.commit({"publishing.yaml": widened}, "Eve joins the approvers", ANA)
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(EVE_OK,))

        result = judged_as_the_controller_would(repo)

        assert result.valid, result.message
        assert result.approvers == ("eve@elsewhere.example",)


class TestTrailerTricks:
    def test_approval_trailer_in_a_direct_push_does_not_count(self, repo: OffersRepo) -> None:
        repo.commit(
            {SIGNOFF: signoff_yaml(repo.generation())},
            f"Sign off\n\n{ANA_OK}",
            CARL,
        )

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "NotReviewed"

    def test_approval_in_the_middle_of_the_message_is_not_a_trailer(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.git(
            "merge",
            "-q",
            "--no-ff",
            "-m",
            f"Merge pull request #7\n\n{ANA_OK}\n\nThis paragraph ends the message.",
            "signoff/x",
        )

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "NotReviewed"

    def test_merge_of_a_commit_the_approver_wrote_is_self_approval(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation(), person=ANA)
        repo.merge(trailers=(ANA_OK,))

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "SelfApproval"

    def test_author_differing_only_by_email_case_is_still_self_approval(
        self, repo: OffersRepo
    ) -> None:
        repo.branch_signoff(repo.generation(), person=("Ana", "ANA@Contoso.COM"))
        repo.merge(trailers=(ANA_OK,))

        assert judged_as_the_controller_would(repo).reason == "SelfApproval"

    def test_approver_email_differing_by_case_is_authorized(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=("Approved-by: Ana <ANA@CONTOSO.com>",))

        assert judged_as_the_controller_would(repo).valid

    @pytest.mark.parametrize(
        "trailer",
        [
            'Approved-by: "Ana <eve@elsewhere.example>" <ana@contoso.com>',
            "Approved-by: Ana <ana@contoso.com> <eve@elsewhere.example>",
            "Approved-by: Ana <ana@contoso.com>, Eve <eve@elsewhere.example>",
            "Approved-by: ana@contoso.com",
            "Approved-by: Ana <ana@contoso.com.evil.example>",
        ],
    )
    def test_display_name_tricks_are_not_an_authorized_approval(
        self, repo: OffersRepo, trailer: str
    ) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(trailer,))

        assert not judged_as_the_controller_would(repo).valid


class TestTheSignedOffThingIsTheLiveThing:
    def test_spec_changed_after_sign_off_makes_it_stale(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,))
        signed = repo.generation()
        repo.commit({MANIFEST: offer_yaml("Changed after sign-off")}, "tweak", CARL)

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "SignOffStale"
        assert result.generation == signed != repo.generation()

    def test_signoff_naming_another_offer_does_not_count_here(self, repo: OffersRepo) -> None:
        repo.git("checkout", "-q", "-b", "signoff/x", "main")
        repo.commit({SIGNOFF: signoff_yaml(repo.generation(), offer="other-offer")}, "x", CARL)
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(ANA_OK,))

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "SignOffInvalid"

    def test_symlinked_signoff_is_refused(self, repo: OffersRepo, tmp_path: Path) -> None:
        outside = tmp_path / "outside-signoff.yaml"
        outside.write_text(signoff_yaml(repo.generation()))
        repo.git("checkout", "-q", "-b", "signoff/x", "main")
        (repo.path / SIGNOFF).symlink_to(outside)
        repo.git("add", SIGNOFF)
        repo.git("commit", "-q", "-m", "Sign off by link")
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(ANA_OK,))

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "SignOffInvalid"
        assert "symlink" in result.message

    def test_offer_id_that_climbs_out_is_refused(self, repo: OffersRepo) -> None:
        tip = repo.head()
        with GitRepo(repo.path) as handle:
            policy = policy_at(handle, tip)

        result = evaluate_signoff(repo.path, tip, "../x", repo.generation(), policy)

        assert not result.valid
        assert result.reason == "SignOffInvalid"


class TestAuthorsCannotHide:
    """Whoever wrote the signed-off content is an author, however the branch was built."""

    def test_approver_writing_the_signoff_in_a_merge_on_the_branch_is_self_approval(
        self, repo: OffersRepo
    ) -> None:
        # Carl opens the branch with a placeholder; Ana "updates the branch" with a merge
        # commit that writes the real content, then approves the pull request herself.
        repo.branch_signoff("sha256:" + "1" * 64)
        repo.commit({"README.md": "main moved on\n"}, "Unrelated", BO)
        repo.git("checkout", "-q", "signoff/x")
        repo.git("merge", "-q", "--no-ff", "--no-commit", "main", person=ANA)
        repo.repos.write(repo.path, {SIGNOFF: signoff_yaml(repo.generation())})
        repo.git("add", SIGNOFF, person=ANA)
        repo.git("commit", "-q", "-m", "Merge branch main into signoff/x", person=ANA)
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(ANA_OK,))

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason == "SelfApproval"

    def test_approver_commit_buried_under_many_others_is_still_self_approval(
        self, repo: OffersRepo
    ) -> None:
        repo.git("checkout", "-q", "-b", "signoff/x", "main")
        repo.commit(
            {SIGNOFF: signoff_yaml(repo.generation())},
            "Sign off",
            ANA,
            extra=("--date=2001-01-01T00:00:00Z",),
        )
        # 600 later commits by someone else, made cheaply with fast-import.
        tip = repo.head()
        repo.git("checkout", "-q", "main")
        script = [f"reset refs/heads/signoff/x\nfrom {tip}\n"]
        for i in range(600):
            script.append(
                "commit refs/heads/signoff/x\n"
                f"mark :{i + 1}\n"
                f"author Carl Author <carl@contoso.com> {1_800_000_000 + i} +0000\n"
                f"committer Carl Author <carl@contoso.com> {1_800_000_000 + i} +0000\n"
                "data 5\nfill\n\n"
            )
        git(repo.path, "fast-import", "--quiet", input="".join(script).encode())
        repo.merge(trailers=(ANA_OK,))

        result = judged_as_the_controller_would(repo)

        assert not result.valid
        assert result.reason in {"SelfApproval", "ReviewLookupFailed"}, result.message
