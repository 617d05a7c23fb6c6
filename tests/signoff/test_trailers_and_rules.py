"""Trailers as git reports them, and the pure decision on hand-built evidence."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from git_helpers import git

from controller.repo import policy as policy_module
from controller.repo.policy import ApprovalTrust, Provider, SignOffPolicy
from controller.signoff import rules
from controller.signoff.rules import (
    Approval,
    Authorization,
    ChangeEvidence,
    ParsedSignOff,
    Person,
    SignatureStatus,
    SignOffDocument,
)
from controller.signoff.trailers import parse_identity, parse_trailer_lines

GEN = "sha256:" + "1" * 64
DOC = ParsedSignOff(SignOffDocument("demo-offer", GEN))
ANA = Person("Ana", "ana@contoso.com")
CARL = Person("Carl", "carl@contoso.com")
AUTH = Authorization(emails=frozenset({"ana@contoso.com", "bo@contoso.com"}), source="test")
WHEN = datetime(2026, 11, 20, 10, tzinfo=UTC)


def merge_evidence(
    *approvers: Person,
    signature: SignatureStatus = SignatureStatus.UNSIGNED,
    parents: int = 2,
    signer: str = "",
) -> ChangeEvidence:
    return ChangeEvidence(
        commit="c" * 40,
        parents=tuple(str(i) * 40 for i in range(parents)),
        committed_at=WHEN,
        authors=(CARL,),
        approvals=tuple(Approval(p, "Approved-by: trailer", WHEN) for p in approvers),
        signature=signature,
        signer=signer,
        writer=Person("Merge Bot", "merges@contoso.com"),
    )


PUSH_ACCESS = SignOffPolicy(trust=ApprovalTrust.PUSH_ACCESS)


def decide(
    evidence: ChangeEvidence,
    policy: SignOffPolicy | None = None,
    authorization: Authorization = AUTH,
) -> rules.SignOffVerdict:
    return rules.decide(
        "demo-offer",
        GEN,
        DOC,
        policy or SignOffPolicy(),
        authorization=authorization,
        evidence=evidence,
    )


class TestTrailers:
    def test_git_parses_trailers_only_from_the_last_paragraph(self, tmp_path: Path) -> None:
        git(tmp_path, "init", "-q")
        message = (
            "Merge pull request #7\n\nApproved-by: Not A Trailer <x@y.z> because body\n"
            "more body text\n\n"
            "Approved-by: Ana Approver <ana@contoso.com>\n"
            "Reviewed-by: Bo\n  Reviewer <bo@contoso.com>\n"
        )
        git(tmp_path, "commit", "-q", "--allow-empty", "-m", message)
        text = git(tmp_path, "log", "-1", "--format=%(trailers:only=true,unfold=true)")

        trailers = parse_trailer_lines(text)

        assert [(t.key, t.value) for t in trailers] == [
            ("Approved-by", "Ana Approver <ana@contoso.com>"),
            ("Reviewed-by", "Bo Reviewer <bo@contoso.com>"),
        ]

    @pytest.mark.parametrize(
        ("value", "email", "login"),
        [
            ("Ana <ana@contoso.com>", "ana@contoso.com", ""),
            ("Dee <1234+dee@users.noreply.github.com>", "1234+dee@users.noreply.github.com", "dee"),
            (
                "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
                "49699333+dependabot[bot]@users.noreply.github.com",
                "dependabot[bot]",
            ),
        ],
    )
    def test_identities_and_github_logins(self, value: str, email: str, login: str) -> None:
        who = parse_identity(value)
        assert who is not None
        assert (who.email, who.github_login) == (email, login)

    @pytest.mark.parametrize("value", ["Ana", "ana@contoso.com", "Ana <not-an-email>", "<>"])
    def test_values_that_are_not_identities(self, value: str) -> None:
        assert parse_identity(value) is None


class TestDecision:
    def test_typed_trailer_under_push_access_is_accepted_and_called_unverified(self) -> None:
        result = decide(merge_evidence(ANA), PUSH_ACCESS)

        assert result.valid
        assert result.approvers == ("ana@contoso.com",)
        assert result.trust == "push-access"
        assert result.approved_at == WHEN
        assert "UNVERIFIED" in result.message
        assert "Merge Bot <merges@contoso.com>" in result.message

    def test_typed_trailer_without_a_signature_does_not_count_by_default(self) -> None:
        # Changed: an unsigned merge's trailer used to count ("protected-branch").
        result = decide(merge_evidence(ANA))

        assert not result.valid
        assert result.reason == "SignatureInvalid"

    def test_approvers_own_good_signature_is_trust_signed(self) -> None:
        evidence = merge_evidence(ANA, signature=SignatureStatus.GOOD, signer="ANA@contoso.com")

        result = decide(evidence)

        assert result.valid, result.message
        assert result.trust == "signed"

    def test_good_signature_of_someone_else_does_not_bind_the_trailer(self) -> None:
        evidence = merge_evidence(ANA, signature=SignatureStatus.GOOD, signer="carl@contoso.com")

        result = decide(evidence)

        assert result.reason == "SignatureInvalid"
        assert "carl@contoso.com" in result.message

    def test_unverifiable_commit_in_the_change_blocks_the_sign_off(self) -> None:
        evidence = replace(
            merge_evidence(ANA, signature=SignatureStatus.GOOD, signer="ana@contoso.com"),
            unverified=("d" * 40,),
        )

        result = decide(evidence)

        assert result.reason == "SignatureInvalid"
        assert "dddddddddddd" in result.message

    def test_required_signature_missing(self) -> None:
        policy = SignOffPolicy(trust=ApprovalTrust.PUSH_ACCESS, require_signed_commits=True)
        result = decide(merge_evidence(ANA), policy)

        assert result.reason == "SignatureInvalid"

    def test_unparseable_trailer_is_named(self) -> None:
        evidence = merge_evidence()
        evidence = ChangeEvidence(
            commit=evidence.commit,
            parents=evidence.parents,
            authors=(CARL,),
            approvals=(
                Approval(
                    Person(name="Ana"),
                    "Approved-by: trailer",
                    None,
                    rules.Ignored.PLATFORM,
                    "is not written as Name <email>",
                ),
            ),
        )

        result = decide(evidence)

        assert not result.valid
        assert "is not written as Name <email>" in result.message

    def test_lookup_error_fails_closed(self) -> None:
        result = decide(ChangeEvidence(commit="", lookup_error="git exploded"))

        assert result.reason == "ReviewLookupFailed"
        assert "git exploded" in result.message

    def test_no_authorization_means_no_approvers(self) -> None:
        result = decide(merge_evidence(ANA), authorization=Authorization(problem="none at all"))

        assert result.reason == "NoApproversConfigured"
        assert "none at all" in result.message

    def test_github_needs_a_merged_pull_request(self) -> None:
        result = decide(merge_evidence(ANA), SignOffPolicy(provider=Provider.GITHUB))

        assert result.reason == "NotReviewed"

    def test_missing_document(self) -> None:
        result = rules.decide(
            "demo-offer", GEN, None, SignOffPolicy(), authorization=AUTH, evidence=None
        )
        assert result.reason == "SignOffMissing"


@pytest.mark.parametrize("module", [rules, policy_module], ids=["rules", "policy"])
def test_the_decision_and_its_data_import_no_io(module: object) -> None:
    """rules.py decides from plain data; neither it nor policy.py's top level reaches I/O."""
    tree = ast.parse(Path(str(getattr(module, "__file__", ""))).read_text())
    imported = {
        (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("controller"))
        else node.module or ""
        for node in tree.body  # top level only: lazy imports inside functions are the point
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    forbidden = {
        "subprocess",
        "os",
        "urllib",
        "http",
        "yaml",
        "git",
        "pathlib",
        "socket",
        "jsonschema",
        "holidays",
        "controller.git.history",
        "controller.files.yamlio",
        "controller.core.eta",
        "controller.validation.engine",
    }
    assert not imported & forbidden
    # all pure themselves (tests/test_layers.py imports each and inspects sys.modules)
    allowed_controller = {
        "controller.core.model",
        "controller.core.generation",
        "controller.repo.policy",
        "controller.repo.layout",
    }
    assert {m for m in imported if m.startswith("controller")} <= allowed_controller


def test_verdicts_round_trip_through_status_yaml() -> None:
    """status.yaml's dumper knows plain strings only: verdict fields must be exactly str."""
    from controller.core.model import OfferStatus, Phase
    from controller.repo.status import parse, render

    verdict = decide(merge_evidence(ANA))
    assert type(verdict.reason) is str and type(verdict.trust) is str

    text = render(OfferStatus(offer="demo-offer", phase=Phase.PUBLISHING, signoff=verdict))
    back = parse(text.encode())

    assert back is not None and back.signoff == verdict


def test_more_than_one_required_signed_approval_says_why_it_cannot_be_met() -> None:
    evidence = merge_evidence(ANA, signature=SignatureStatus.GOOD, signer="ana@contoso.com")

    result = decide(evidence, SignOffPolicy(required_approvals=2))

    assert result.reason == "NotEnoughApprovals"
    assert "one approval per merge" in result.message
