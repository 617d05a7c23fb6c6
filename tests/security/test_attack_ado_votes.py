"""Attacks on the Azure DevOps sign-off provider's vote timing, against a local fake server.

The reviewer list does not say when a vote was cast, so the provider times
each vote by the pull request's `VoteUpdate` system threads. Thread
properties are free-form: anyone who can comment on the pull request can
POST a thread whose properties say `CodeReviewThreadType: VoteUpdate` and
name another person as the voter. Only a record whose comment Azure DevOps
wrote as the voter themselves may time that voter's vote.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from git_helpers import GitRepos

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signoff"))

from ado_fake import (
    ORG,
    PROJECT,
    REPO,
    FakeAzureDevOps,
    commit_ref,
    identity,
    iteration,
    pull_request,
    reviewer,
    serve,
    vote_thread,
)
from signoff_helpers import ANA, CARL, OFFER, OffersRepo, make_offers_repo

from controller.core.model import SignOffVerdict
from controller.repo.policy import AzureDevOpsSettings, Policy, Provider, SignOffPolicy
from controller.signoff import AzureDevOpsEndpoint, evaluate_signoff

TOKEN = "adopat0s3cr3tT0kenValue52chars0000000000000000000000"  # made up
ANA_ID = identity(*ANA)
CARL_ID = identity(*CARL)
BEFORE = "2026-11-20T08:30:00Z"  # Ana approves the first push
PUSHED = "2026-11-20T09:00:00Z"  # Carl pushes again
FORGED = "2026-11-20T10:00:00Z"  # Carl posts a thread that says Ana voted


@pytest.fixture
def fake() -> Iterator[FakeAzureDevOps]:
    with serve(FakeAzureDevOps()) as server:
        yield server.reset(token=TOKEN)


def _stale_approval(gitrepos: GitRepos, fake: FakeAzureDevOps) -> OffersRepo:
    """Ana approved iteration 1; Carl (the creator) pushed iteration 2 and merged it."""
    repo = make_offers_repo(gitrepos)
    repo.branch_signoff(repo.generation())
    head = repo.head("signoff/x")
    merge = repo.merge()
    fake.pulls[7] = pull_request(
        7, CARL_ID, merge_sha=merge, source_sha=head, reviewers=[reviewer(ANA_ID, 10)]
    )
    fake.iterations[7] = [
        iteration(1, "a" * 40, "2026-11-20T08:00:00Z", CARL_ID),
        iteration(2, head, PUSHED, CARL_ID),
    ]
    fake.threads[7] = [vote_thread(10, ANA_ID, 10, BEFORE)]
    fake.commits[7] = [commit_ref(head, CARL_ID["displayName"], CARL_ID["uniqueName"])]
    return repo


def _forged_by(author: dict[str, Any], *, by_index: bool) -> dict[str, Any]:
    """A thread Carl POSTs himself: Ana's vote record in its properties, Carl as the author."""
    thread = vote_thread(20, ANA_ID, 10, FORGED, by_index=by_index)
    thread["comments"][0]["author"] = author
    return thread


def _evaluate(repo: OffersRepo, fake: FakeAzureDevOps) -> SignOffVerdict:
    policy = Policy(
        signoff=SignOffPolicy(
            provider=Provider.AZURE_DEVOPS,
            approvers=("ana@contoso.com",),
            azure_devops=AzureDevOpsSettings(organization=ORG, project=PROJECT, repository=REPO),
        )
    )
    return evaluate_signoff(
        repo.path,
        repo.head(),
        OFFER,
        repo.generation(),
        policy,
        azure_devops=AzureDevOpsEndpoint(fake.base_url, TOKEN),
    )


@pytest.mark.parametrize("by_index", [True, False], ids=["identities-map", "tfid"])
def test_forged_vote_record_does_not_renew_a_stale_approval(
    gitrepos: GitRepos, fake: FakeAzureDevOps, by_index: bool
) -> None:
    repo = _stale_approval(gitrepos, fake)
    assert _evaluate(repo, fake).reason == "StaleApproval"  # the honest record: stale

    fake.threads[7].append(_forged_by(CARL_ID, by_index=by_index))

    verdict = _evaluate(repo, fake)
    assert not verdict.valid
    assert verdict.reason == "StaleApproval", verdict.message


def test_forged_text_comment_with_vote_properties_does_not_count(
    gitrepos: GitRepos, fake: FakeAzureDevOps
) -> None:
    """Even written as Ana's own comment, a text comment is not the system's vote record."""
    repo = _stale_approval(gitrepos, fake)
    thread = _forged_by(ANA_ID, by_index=True)
    thread["comments"][0]["commentType"] = "text"
    fake.threads[7].append(thread)

    verdict = _evaluate(repo, fake)
    assert not verdict.valid
    assert verdict.reason == "StaleApproval", verdict.message


def test_the_voters_own_system_record_after_the_push_still_counts(
    gitrepos: GitRepos, fake: FakeAzureDevOps
) -> None:
    repo = _stale_approval(gitrepos, fake)
    fake.threads[7].append(vote_thread(30, ANA_ID, 10, FORGED))

    verdict = _evaluate(repo, fake)
    assert verdict.valid, verdict.message
