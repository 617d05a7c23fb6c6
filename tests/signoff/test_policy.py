"""publishing.yaml to Policy: defaults, every field, and findings instead of exceptions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.repo.policy import (
    DEFAULT_POLICY,
    ApprovalTrust,
    ControllerIdentity,
    GitHubSettings,
    Provider,
    parse_policy,
)

CASES = Path(__file__).resolve().parents[1] / "schema_cases"
HEAD = {"apiVersion": "offers.marketplace/v1", "kind": "Publishing"}


def test_absent_policy_is_the_defaults() -> None:
    policy, findings = parse_policy(None)

    assert findings == []
    assert policy == DEFAULT_POLICY
    assert policy.controller == ControllerIdentity("offerctl", "offerctl@localhost")
    assert policy.prune is False
    assert policy.signoff.provider is Provider.GIT
    assert policy.signoff.required_approvals == 1
    assert policy.signoff.github == GitHubSettings()


def test_the_full_example_reads_every_field() -> None:
    data = yaml.safe_load((CASES / "positive/publishing/full.yaml").read_text())

    policy, findings = parse_policy(data)

    assert findings == []
    assert policy.holidays_country == "US"
    assert policy.marketplace.time_scale == 1_000_000
    s = policy.signoff
    assert s.provider is Provider.GITHUB
    assert s.approvers == ("release-managers", "ana@contoso.com", "@bo")
    assert s.group("release-managers") == ("carl@contoso.com", "@dee", "@contoso/marketplace-team")
    assert s.required_approvals == 2
    assert s.trust is ApprovalTrust.SIGNATURE
    assert s.require_signed_commits is True
    assert s.allowed_signers_file == ".github/allowed_signers"
    assert s.github.repository == "contoso/offers"
    assert s.problems == ()


@pytest.mark.parametrize(
    "case", sorted((CASES / "negative/publishing").glob("*.yaml")), ids=lambda p: p.stem
)
def test_every_negative_example_gives_findings_not_an_exception(case: Path) -> None:
    policy, findings = parse_policy(yaml.safe_load(case.read_text()))

    assert findings
    assert all(f.file == "publishing.yaml" for f in findings)
    assert policy is not None


@pytest.mark.parametrize(
    ("signoff", "code"),
    [
        ({"approvers": ["release"]}, "UnknownApproverGroup"),
        ({"requireSignedCommits": True}, "SignersMissing"),
        ({"provider": "github"}, "GitHubRepositoryMissing"),
    ],
)
def test_semantic_signoff_problems_block_signoff(signoff: dict[str, Any], code: str) -> None:
    policy, findings = parse_policy({**HEAD, "signoff": signoff})

    assert [f.code for f in findings] == [code]
    assert policy.signoff.problems


def test_a_broken_signoff_value_never_falls_back_to_a_lower_bar() -> None:
    policy, findings = parse_policy({**HEAD, "signoff": {"requiredApprovals": "two"}})

    assert findings
    assert policy.signoff.problems  # no sign-off counts until fixed


def test_broken_non_signoff_values_fall_back_to_defaults() -> None:
    policy, findings = parse_policy(
        {
            **HEAD,
            "prune": "yes",
            "controller": {"email": "not-an-email"},
            "holidays": {"country": "ZZ"},
            "marketplace": {"timeScale": 0},
        }
    )

    assert {f.path for f in findings} >= {
        "$.prune",
        "$.controller.email",
        "$.holidays.country",
        "$.marketplace.timeScale",
    }
    assert policy.prune is False
    assert policy.controller.email == "offerctl@localhost"
    assert policy.holidays_country == "US"
    assert policy.marketplace.time_scale is None
    assert policy.signoff.problems == ()


@pytest.mark.parametrize("data", [[], "text", 3, {"kind": "Offer"}])
def test_not_a_policy_document_is_a_finding(data: Any) -> None:
    policy, findings = parse_policy(data)

    assert findings
    assert policy.signoff.required_approvals >= 1


def test_allowed_signers_must_stay_inside_the_repository() -> None:
    for bad in ("../../etc/allowed_signers", "/etc/allowed_signers", ".git/config"):
        policy, findings = parse_policy(
            {**HEAD, "signoff": {"requireSignedCommits": True, "allowedSignersFile": bad}}
        )
        assert findings, bad
        assert policy.signoff.allowed_signers_file == ""
        assert policy.signoff.problems


def test_default_trust_is_the_approvers_own_signature() -> None:
    assert DEFAULT_POLICY.signoff.trust is ApprovalTrust.SIGNATURE
    policy, findings = parse_policy({**HEAD, "signoff": {"trust": "push-access"}})
    assert findings == []
    assert policy.signoff.trust is ApprovalTrust.PUSH_ACCESS


@pytest.mark.parametrize(
    ("document", "path", "moved_to"),
    [
        ({"marketplace": {"url": "http://127.0.0.1:9"}}, "$.marketplace.url", "--marketplace"),
        (
            {"signoff": {"github": {"apiUrl": "https://attacker.example"}}},
            "$.signoff.github.apiUrl",
            "--github-api-url",
        ),
        (
            {"signoff": {"github": {"tokenEnv": "OFFERCTL_WEBHOOK_SECRET"}}},
            "$.signoff.github.tokenEnv",
            "OFFERCTL_GITHUB_TOKEN",
        ),
    ],
)
def test_endpoint_and_credential_keys_warn_that_they_moved_to_the_operator(
    document: dict[str, Any], path: str, moved_to: str
) -> None:
    policy, findings = parse_policy({**HEAD, **document})

    assert [(f.code, f.path, f.severity.value) for f in findings] == [
        ("MovedToOperator", path, "warning")
    ]
    assert moved_to in findings[0].message
    # A moved key is ignored, not a broken sign-off policy.
    assert policy.signoff.problems == ()
    assert policy == parse_policy(HEAD)[0]
