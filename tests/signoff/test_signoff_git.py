"""evaluate_signoff on real git histories with the git provider (the offline default)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from git_helpers import GitRepos
from signoff_helpers import (
    ANA,
    BO,
    CARL,
    EVE,
    MERGER,
    OFFER,
    OffersRepo,
    SshKey,
    make_key,
    make_offers_repo,
    offer_yaml,
    signoff_yaml,
)

from controller.core.model import SignOffVerdict
from controller.git.repo import GitRepo
from controller.repo.policy import ApprovalTrust, Policy, Provider, SignOffPolicy, parse_policy
from controller.signoff import evaluate_signoff

SIGNOFF = f"offers/{OFFER}/signoff.yaml"
SIGNERS = ".github/allowed_signers"
ANA_OK = "Approved-by: Ana Approver <ana@contoso.com>"
BO_OK = "Reviewed-by: Bo Reviewer <bo@contoso.com>"


def policy(**signoff: object) -> Policy:
    """Ana and Bo approve. Typed trailers count (`trust: push-access`) unless a test says
    otherwise: most tests here are about who counts, which is the same in both modes;
    `TestSignedApprovals` covers the default, where only the approver's own signature does."""
    settings = SignOffPolicy(
        approvers=("ana@contoso.com", "bo@contoso.com"), trust=ApprovalTrust.PUSH_ACCESS
    )
    return Policy(signoff=replace(settings, **signoff))  # type: ignore[arg-type]


def signed_policy() -> Policy:
    """The default trust (signature), with the allowed signers file."""
    return policy(trust=ApprovalTrust.SIGNATURE, allowed_signers_file=SIGNERS)


def verdict(repo: OffersRepo, pol: Policy | None = None, gen: str | None = None) -> SignOffVerdict:
    tip = repo.head()
    return evaluate_signoff(repo.path, tip, OFFER, gen or repo.generation(tip), pol or policy())


@pytest.fixture
def repo(gitrepos: GitRepos) -> OffersRepo:
    return make_offers_repo(gitrepos)


class TestAcceptedSignOff:
    """A reviewed merge by an authorized approver of the current generation counts."""

    def test_reviewed_merge_is_accepted_with_who_what_when(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        merge = repo.merge(trailers=(ANA_OK,))

        result = verdict(repo)

        assert result.valid
        assert result.reason == "SignOffAccepted"
        assert result.generation == repo.generation()
        assert result.approvers == ("ana@contoso.com",)
        assert result.commit == merge
        assert result.trust == "push-access"
        assert result.approved_at is not None
        assert "Ana Approver <ana@contoso.com>" in result.message
        assert merge[:12] in result.message
        # Plainly unverified, and who wrote the merge.
        assert "UNVERIFIED" in result.message
        assert "Merge Bot Platform <merges@contoso.com>" in result.message

    def test_sign_off_merged_before_the_offer_awaits_it_still_counts_later(
        self, repo: OffersRepo
    ) -> None:
        repo.branch_signoff(repo.generation())
        merge = repo.merge(trailers=(ANA_OK,))
        # Later the controller writes status, other offers change: the sign-off still stands.
        repo.commit(
            {f"offers/{OFFER}/status.yaml": "offer: demo-offer\nphase: Certifying\n"},
            "Update status",
            ("offerctl", "offerctl@localhost"),
        )
        repo.commit({"offers/other/offer.yaml": "x: 1\n"}, "Another offer", BO)

        result = verdict(repo)

        assert result.valid
        assert result.commit == merge

    def test_two_distinct_approvers_meet_two_required(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK, BO_OK))

        result = verdict(repo, policy(required_approvals=2))

        assert result.valid
        assert set(result.approvers) == {"ana@contoso.com", "bo@contoso.com"}

    def test_evaluate_accepts_the_reconcilers_gitrepo_handle(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,))

        with GitRepo(repo.path) as handle:
            result = evaluate_signoff(handle, repo.head(), OFFER, repo.generation(), policy())

        assert result.valid

    def test_github_noreply_email_matches_an_at_login_approver(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=("Approved-by: Dee <1234+dee@users.noreply.github.com>",))

        result = verdict(repo, policy(approvers=("@dee",)))

        assert result.valid, result.message


class TestStaleAndMissing:
    def test_no_signoff_file_is_missing(self, repo: OffersRepo) -> None:
        result = verdict(repo)

        assert not result.valid
        assert result.reason == "SignOffMissing"

    def test_signoff_of_another_generation_is_stale(self, repo: OffersRepo) -> None:
        repo.branch_signoff("sha256:" + "1" * 64)
        repo.merge(trailers=(ANA_OK,))

        result = verdict(repo)

        assert not result.valid
        assert result.reason == "SignOffStale"
        assert result.generation == "sha256:" + "1" * 64

    def test_spec_change_after_sign_off_invalidates_it(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,))
        assert verdict(repo).valid

        repo.commit({f"offers/{OFFER}/offer.yaml": offer_yaml("Demo Offer 2")}, "Rename", CARL)

        result = verdict(repo)
        assert not result.valid
        assert result.reason == "SignOffStale"

    def test_reverting_the_signoff_removes_it(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,))
        repo.commit({SIGNOFF: None}, "Withdraw sign-off", ANA)

        assert verdict(repo).reason == "SignOffMissing"

    def test_signoff_naming_another_offer_is_invalid(self, repo: OffersRepo) -> None:
        repo.git("checkout", "-q", "-b", "signoff/x")
        repo.commit({SIGNOFF: signoff_yaml(repo.generation(), offer="other-offer")}, "x", CARL)
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(ANA_OK,))

        result = verdict(repo)
        assert result.reason == "SignOffInvalid"
        assert "other-offer" in result.message

    @pytest.mark.parametrize(
        "text",
        [
            "apiVersion: offers.marketplace/v1\nkind: SignOff\noffer: demo-offer\n",
            "[not, a, mapping]\n",
            "apiVersion: offers.marketplace/v1\nkind: SignOff\noffer: demo-offer\n"
            "generation: sha256:abc\n",
            "a: &a [*a]\n",
            "",
        ],
        ids=["no-generation", "list", "short-generation", "recursive-alias", "empty"],
    )
    def test_malformed_signoff_is_invalid_not_a_crash(self, repo: OffersRepo, text: str) -> None:
        repo.commit({SIGNOFF: text}, "bad sign-off", CARL)

        result = verdict(repo)
        assert not result.valid
        assert result.reason == "SignOffInvalid"
        assert result.message


class TestWhoMayApprove:
    def test_unauthorized_approver_is_ignored_and_named(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=("Approved-by: Eve Outsider <eve@elsewhere.example>",))

        result = verdict(repo)

        assert not result.valid
        assert result.reason == "UnauthorizedApprover"
        assert "Eve Outsider <eve@elsewhere.example>" in result.message
        assert "not an authorized approver" in result.message

    def test_self_approval_is_ignored(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation(), person=ANA)
        repo.merge(trailers=(ANA_OK,))

        result = verdict(repo)

        assert not result.valid
        assert result.reason == "SelfApproval"
        assert "self-approval" in result.message

    def test_co_author_approving_is_self_approval(self, repo: OffersRepo) -> None:
        repo.git("checkout", "-q", "-b", "signoff/x")
        repo.commit(
            {SIGNOFF: signoff_yaml(repo.generation())},
            "Sign off",
            CARL,
            extra=("--trailer", "Co-authored-by: Ana Approver <ANA@contoso.com>"),
        )
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(ANA_OK,))

        assert verdict(repo).reason == "SelfApproval"

    def test_the_merger_approving_is_not_self_approval(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation(), person=CARL)
        repo.merge(trailers=(ANA_OK,), person=ANA)  # Ana reviewed and pressed merge

        assert verdict(repo).valid

    def test_bot_approval_never_counts(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(
            trailers=(
                "Approved-by: dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
            )
        )

        result = verdict(repo, policy(approvers=("@dependabot[bot]", "ana@contoso.com")))

        assert not result.valid
        assert result.reason == "BotApprover"

    def test_one_person_twice_is_one_approval(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK, "Reviewed-by: Ana A. <ANA@Contoso.com>"))

        result = verdict(repo, policy(required_approvals=2))

        assert not result.valid
        assert result.reason == "NotEnoughApprovals"
        assert result.approvers == ("ana@contoso.com",)
        assert "1 of 2" in result.message

    def test_mixed_ignored_approvers_are_each_named(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation(), person=BO)
        repo.merge(trailers=(BO_OK, "Approved-by: Eve Outsider <eve@elsewhere.example>"))

        result = verdict(repo)

        assert result.reason == "NotEnoughApprovals"
        assert "Bo Reviewer <bo@contoso.com>" in result.message
        assert "Eve Outsider" in result.message

    def test_codeowners_authorizes_when_policy_lists_nobody(self, repo: OffersRepo) -> None:
        repo.commit(
            {".github/CODEOWNERS": "*  @someone\n/offers/demo-offer/ bo@contoso.com\n"},
            "owners",
            CARL,
        )
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(BO_OK,))

        result = verdict(repo, policy(approvers=()))

        assert result.valid
        assert result.approvers == ("bo@contoso.com",)

    def test_codeowners_rule_without_owners_leaves_nobody(self, repo: OffersRepo) -> None:
        repo.commit({"CODEOWNERS": "offers/ bo@contoso.com\noffers/demo-offer/\n"}, "x", CARL)
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(BO_OK,))

        result = verdict(repo, policy(approvers=()))

        assert result.reason == "NoApproversConfigured"
        assert "CODEOWNERS:2" in result.message

    def test_no_approvers_anywhere_means_no_signoff_counts(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,))

        result = verdict(repo, policy(approvers=()))

        assert not result.valid
        assert result.reason == "NoApproversConfigured"
        assert "no CODEOWNERS" in result.message

    def test_group_approvers_expand(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(BO_OK,))
        pol, findings = parse_policy(
            {
                "apiVersion": "offers.marketplace/v1",
                "kind": "Publishing",
                "signoff": {
                    "approvers": ["release"],
                    "groups": {"release": ["bo@contoso.com"]},
                    "trust": "push-access",
                },
            }
        )
        assert findings == []

        assert verdict(repo, pol).valid


class TestHowItArrived:
    def test_direct_push_without_trailers_is_not_reviewed(self, repo: OffersRepo) -> None:
        push = repo.commit({SIGNOFF: signoff_yaml(repo.generation())}, "Sign off", ANA)

        result = verdict(repo)

        assert not result.valid
        assert result.reason == "NotReviewed"
        assert result.commit == push
        assert "direct commit" in result.message

    def test_trailers_in_an_unsigned_direct_push_do_not_count(self, repo: OffersRepo) -> None:
        repo.commit(
            {SIGNOFF: signoff_yaml(repo.generation())},
            "Sign off",
            CARL,
            extra=("--trailer", ANA_OK, "--trailer", BO_OK),
        )

        result = verdict(repo)

        assert not result.valid
        assert result.reason == "NotReviewed"
        assert "trailers do not count" in result.message

    def test_unsigned_squash_is_indistinguishable_from_a_push(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.squash(trailers=(ANA_OK,))

        assert verdict(repo).reason == "NotReviewed"

    def test_merge_without_approval_trailers_is_not_reviewed(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge()

        result = verdict(repo)
        assert result.reason == "NotReviewed"
        assert "no Approved-by" in result.message

    def test_direct_edit_after_a_reviewed_merge_voids_the_review(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,))
        repo.commit(
            {SIGNOFF: signoff_yaml(repo.generation(), note="edited after review")}, "tweak", CARL
        )

        assert verdict(repo).reason == "NotReviewed"

    def test_trailers_on_the_branch_commit_are_not_the_review(self, repo: OffersRepo) -> None:
        repo.git("checkout", "-q", "-b", "signoff/x")
        repo.commit(
            {SIGNOFF: signoff_yaml(repo.generation())},
            "Sign off",
            CARL,
            extra=("--trailer", ANA_OK),
        )
        repo.git("checkout", "-q", "main")
        repo.merge()  # the merge itself carries no approval

        assert verdict(repo).reason == "NotReviewed"

    def test_merge_that_rewrote_the_file_counts_its_author_as_author(
        self, repo: OffersRepo
    ) -> None:
        repo.branch_signoff("sha256:" + "1" * 64)
        # An "evil merge": Ana merges and changes the content in the merge itself.
        repo.git("merge", "-q", "--no-ff", "--no-commit", "signoff/x", person=ANA)
        repo.repos.write(repo.path, {SIGNOFF: signoff_yaml(repo.generation())})
        repo.git("add", SIGNOFF, person=ANA)
        repo.git("commit", "-q", "-m", f"Merge\n\n{ANA_OK}", person=ANA)

        assert verdict(repo).reason == "SelfApproval"

    def test_provider_none_counts_anything_marked_unreviewed(self, repo: OffersRepo) -> None:
        repo.commit({SIGNOFF: signoff_yaml(repo.generation())}, "Sign off", CARL)

        result = verdict(repo, Policy(signoff=SignOffPolicy(provider=Provider.NONE)))

        assert result.valid
        assert result.reason == "Unreviewed"
        assert result.trust == "unreviewed"

    def test_broken_signoff_policy_blocks_every_signoff(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK, BO_OK))
        pol, findings = parse_policy(
            {
                "apiVersion": "offers.marketplace/v1",
                "kind": "Publishing",
                "signoff": {"approvers": ["ana@contoso.com"], "requiredApprovals": "two"},
            }
        )
        assert findings

        result = verdict(repo, pol)
        assert result.reason == "SignOffPolicyInvalid"
        assert "requiredApprovals" in result.message


class TestSignedCommitsUnderPushAccess:
    """trust: push-access with requireSignedCommits: the merge must verify, by anyone's key."""

    def _with_signers(self, repo: OffersRepo, content: str) -> None:
        repo.commit({".github/allowed_signers": content}, "Trust the merge key", CARL)

    def test_unsigned_merge_fails_when_signatures_are_required(
        self, repo: OffersRepo, tmp_path: Path
    ) -> None:
        key = make_key(tmp_path / "keys", "merge-key")
        self._with_signers(repo, key.allowed_signers(MERGER[1]))
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,))

        result = verdict(
            repo,
            policy(require_signed_commits=True, allowed_signers_file=".github/allowed_signers"),
        )

        assert result.reason == "SignatureInvalid"
        assert "not signed" in result.message

    def test_merge_signed_by_the_platform_key_is_still_unverified(
        self, repo: OffersRepo, tmp_path: Path
    ) -> None:
        key = make_key(tmp_path / "keys", "merge-key")
        self._with_signers(repo, key.allowed_signers(MERGER[1]))
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,), sign_with=key.private)

        result = verdict(
            repo,
            policy(require_signed_commits=True, allowed_signers_file=".github/allowed_signers"),
        )

        assert result.valid, result.message
        assert result.trust == "push-access"
        assert "UNVERIFIED" in result.message


class TestSignedApprovals:
    """The default (trust: signature): an approval counts only under the approver's own key.

    Every commit of the change is signed too, so who wrote it is known from the
    signature, never from an author field.
    """

    @pytest.fixture
    def keys(self, repo: OffersRepo, tmp_path: Path) -> dict[str, SshKey]:
        made = {
            person[1]: make_key(tmp_path / "keys", person[1].split("@")[0])
            for person in (ANA, BO, CARL, MERGER)
        }
        signers = "".join(key.allowed_signers(email) for email, key in made.items())
        repo.commit({SIGNERS: signers}, "Trust our keys", CARL)
        return made

    def test_merge_signed_by_the_named_approver_is_trusted_as_signed(
        self, repo: OffersRepo, keys: dict[str, SshKey]
    ) -> None:
        repo.branch_signoff(repo.generation(), sign_with=keys[CARL[1]].private)
        merge = repo.merge(trailers=(ANA_OK,), person=ANA, sign_with=keys[ANA[1]].private)

        result = verdict(repo, signed_policy())

        assert result.valid, result.message
        assert result.trust == "signed"
        assert result.approvers == ("ana@contoso.com",)
        assert result.commit == merge

    def test_trailer_naming_someone_else_than_the_signer_does_not_count(
        self, repo: OffersRepo, keys: dict[str, SshKey]
    ) -> None:
        repo.branch_signoff(repo.generation(), sign_with=keys[CARL[1]].private)
        repo.merge(trailers=(ANA_OK,), sign_with=keys[MERGER[1]].private)

        result = verdict(repo, signed_policy())

        assert not result.valid
        assert result.reason == "SignatureInvalid"
        assert "merges@contoso.com" in result.message

    def test_unsigned_merge_with_a_trailer_does_not_count(
        self, repo: OffersRepo, keys: dict[str, SshKey]
    ) -> None:
        repo.branch_signoff(repo.generation(), sign_with=keys[CARL[1]].private)
        repo.merge(trailers=(ANA_OK,))

        result = verdict(repo, signed_policy())

        assert result.reason == "SignatureInvalid"
        assert "not signed" in result.message

    def test_merge_signed_by_an_unknown_key_fails(
        self, repo: OffersRepo, keys: dict[str, SshKey], tmp_path: Path
    ) -> None:
        stranger = make_key(tmp_path / "keys", "stranger")
        repo.branch_signoff(repo.generation(), sign_with=keys[CARL[1]].private)
        repo.merge(trailers=(ANA_OK,), sign_with=stranger.private)

        result = verdict(repo, signed_policy())

        assert result.reason == "SignatureInvalid"

    def test_key_added_by_the_same_change_is_not_trusted(
        self, repo: OffersRepo, keys: dict[str, SshKey], tmp_path: Path
    ) -> None:
        stranger = make_key(tmp_path / "keys", "stranger")
        repo.git("checkout", "-q", "-b", "signoff/x")
        current = repo.git("show", f"HEAD:{SIGNERS}")
        repo.commit(
            {
                SIGNOFF: signoff_yaml(repo.generation()),
                SIGNERS: current + stranger.allowed_signers(ANA[1]),
            },
            "Sign off and trust me",
            EVE,
            sign_with=stranger.private,
        )
        repo.git("checkout", "-q", "main")
        repo.merge(trailers=(ANA_OK,), person=ANA, sign_with=stranger.private)

        result = verdict(repo, signed_policy())

        assert result.reason == "SignatureInvalid"

    def test_unsigned_commit_on_the_branch_makes_authorship_unverifiable(
        self, repo: OffersRepo, keys: dict[str, SshKey]
    ) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,), person=ANA, sign_with=keys[ANA[1]].private)

        result = verdict(repo, signed_policy())

        assert result.reason == "SignatureInvalid"
        assert "cannot be verified" in result.message

    def test_approver_signing_her_own_branch_commit_is_self_approval(
        self, repo: OffersRepo, keys: dict[str, SshKey]
    ) -> None:
        # The author field says Carl; the signature says Ana wrote it.
        repo.branch_signoff(repo.generation(), person=CARL, sign_with=keys[ANA[1]].private)
        repo.merge(trailers=(ANA_OK,), person=ANA, sign_with=keys[ANA[1]].private)

        result = verdict(repo, signed_policy())

        assert result.reason == "SelfApproval"

    def test_signed_squash_is_written_by_its_signer_so_it_is_self_approval(
        self, repo: OffersRepo, keys: dict[str, SshKey]
    ) -> None:
        # Changed: a signed squash used to count; its signer is the only author we can verify.
        repo.branch_signoff(repo.generation(), sign_with=keys[CARL[1]].private)
        repo.squash(trailers=(ANA_OK,), person=CARL, committer=ANA, sign_with=keys[ANA[1]].private)

        result = verdict(repo, signed_policy())

        assert result.reason == "SelfApproval"

    def test_no_allowed_signers_means_no_approval_counts(self, repo: OffersRepo) -> None:
        repo.branch_signoff(repo.generation())
        repo.merge(trailers=(ANA_OK,), person=ANA)

        result = verdict(repo, policy(trust=ApprovalTrust.SIGNATURE))

        assert not result.valid
        assert result.reason == "SignatureInvalid"
