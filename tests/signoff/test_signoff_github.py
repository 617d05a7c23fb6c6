"""The github provider: a real git history, reviews from a local GitHub API stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from git_helpers import GitRepos
from github_fake import REPO, FakeGitHub, pr_commit, pull, review, serve, user
from signoff_helpers import ANA, CARL, OFFER, OffersRepo, make_offers_repo, signoff_yaml

from controller.core.errors import UsageError
from controller.core.model import SignOffVerdict
from controller.repo.policy import GitHubSettings, Policy, Provider, SignOffPolicy
from controller.signoff import (
    GitHubClient,
    GitHubEndpoint,
    GitHubError,
    GitHubRateLimited,
    evaluate_signoff,
)
from controller.signoff.operator import github_endpoint

DAY = "2026-11-20"
TOKEN = "ghp_s3cr3tT0kenValue"  # a made-up token; must never appear in any verdict


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as server:
        yield server


@pytest.fixture
def repo(gitrepos: GitRepos) -> OffersRepo:
    return make_offers_repo(gitrepos)


def github_policy(
    fake: FakeGitHub, approvers: tuple[str, ...] = ("@ana", "@bo"), required: int = 1
) -> Policy:
    return Policy(
        signoff=SignOffPolicy(
            provider=Provider.GITHUB,
            approvers=approvers,
            required_approvals=required,
            github=GitHubSettings(repository=REPO),
        )
    )


def merged_pr(
    repo: OffersRepo, fake: FakeGitHub, reviews: list[dict[str, Any]], author: str = "carl"
) -> tuple[str, str]:
    """Merge a sign-off branch; the fake says PR #7 (head = branch tip) merged it."""
    repo.branch_signoff(repo.generation())
    head = repo.head("signoff/x")
    merge = repo.merge()
    fake.pulls_by_commit[merge] = [pull(7, author, head, merge)]
    fake.reviews[7] = reviews
    fake.commits[7] = [pr_commit(head, author, f"{author}@contoso.com")]
    return head, merge


def evaluate(
    repo: OffersRepo,
    fake: FakeGitHub,
    pol: Policy | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> SignOffVerdict:
    # The operator names the API and the token (the repository cannot).
    endpoint = GitHubEndpoint(fake.base_url, TOKEN if monkeypatch is not None else None)
    return evaluate_signoff(
        repo.path,
        repo.head(),
        OFFER,
        repo.generation(),
        pol or github_policy(fake),
        endpoint=endpoint,
    )


class TestApprovals:
    def test_approved_merged_pull_request_is_accepted(
        self, repo: OffersRepo, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        head, merge = merged_pr(repo, fake, [review(1, "ana", "APPROVED", "")])
        fake.reviews[7][0]["commit_id"] = head

        result = evaluate(repo, fake, monkeypatch=monkeypatch)

        assert result.valid, result.message
        assert result.reason == "SignOffAccepted"
        assert result.trust == "github-review"
        assert result.approvers == ("@ana",)
        assert result.commit == merge
        assert result.pull_request == f"https://github.com/{REPO}/pull/7"
        assert result.approved_at is not None and result.approved_at.day == 20
        sent = [headers.get("authorization") for _, headers in fake.requests]
        assert sent and all(h == f"Bearer {TOKEN}" for h in sent)
        assert TOKEN not in repr(result)

    def test_latest_review_per_reviewer_wins(self, repo: OffersRepo, fake: FakeGitHub) -> None:
        repo_head = "f" * 40
        head, _ = merged_pr(repo, fake, [])
        fake.reviews[7] = [
            review(1, "ana", "CHANGES_REQUESTED", repo_head, submitted_at=f"{DAY}T09:00:00Z"),
            review(2, "ana", "APPROVED", head, submitted_at=f"{DAY}T10:00:00Z"),
            # a comment afterwards keeps the approval, as on GitHub
            review(3, "ana", "COMMENTED", head, submitted_at=f"{DAY}T11:00:00Z"),
        ]

        assert evaluate(repo, fake).valid

    def test_approval_withdrawn_by_later_changes_requested(
        self, repo: OffersRepo, fake: FakeGitHub
    ) -> None:
        head, _ = merged_pr(repo, fake, [])
        fake.reviews[7] = [
            review(1, "ana", "APPROVED", head, submitted_at=f"{DAY}T09:00:00Z"),
            review(2, "ana", "CHANGES_REQUESTED", head, submitted_at=f"{DAY}T10:00:00Z"),
        ]

        result = evaluate(repo, fake)

        assert not result.valid
        assert result.reason == "ApprovalDismissed"
        assert "@ana" in result.message and "CHANGES_REQUESTED" in result.message

    def test_dismissed_review_does_not_count(self, repo: OffersRepo, fake: FakeGitHub) -> None:
        head, _ = merged_pr(repo, fake, [])
        fake.reviews[7] = [review(1, "ana", "DISMISSED", head)]
        # A dismissed approval keeps only its final state; GitHub shows it as DISMISSED.
        earlier = review(0, "ana", "APPROVED", head, submitted_at="2026-11-19T00:00:00Z")
        fake.reviews[7].insert(0, earlier)

        result = evaluate(repo, fake)

        assert result.reason == "ApprovalDismissed"

    def test_approval_of_an_older_push_is_stale(self, repo: OffersRepo, fake: FakeGitHub) -> None:
        merged_pr(repo, fake, [review(1, "ana", "APPROVED", "a" * 40)])

        result = evaluate(repo, fake)

        assert not result.valid
        assert result.reason == "StaleApproval"
        assert "aaaaaaaaaaaa" in result.message

    def test_bot_approval_never_counts(self, repo: OffersRepo, fake: FakeGitHub) -> None:
        head, _ = merged_pr(repo, fake, [])
        fake.reviews[7] = [
            review(1, "renovate[bot]", "APPROVED", head, kind="Bot"),
            review(2, "helper", "APPROVED", head, kind="Bot"),
        ]

        result = evaluate(repo, fake, github_policy(fake, ("@renovate[bot]", "@helper")))

        assert result.reason == "BotApprover"

    def test_unauthorized_reviewer_is_ignored(self, repo: OffersRepo, fake: FakeGitHub) -> None:
        head, _ = merged_pr(repo, fake, [])
        fake.reviews[7] = [review(1, "mallory", "APPROVED", head)]

        result = evaluate(repo, fake)

        assert result.reason == "UnauthorizedApprover"
        assert "@mallory" in result.message

    def test_pr_commit_author_approving_is_self_approval(
        self, repo: OffersRepo, fake: FakeGitHub
    ) -> None:
        head, _ = merged_pr(repo, fake, [], author="carl")
        fake.commits[7].append(pr_commit("b" * 40, "ana", "ana@contoso.com"))
        fake.reviews[7] = [review(1, "ana", "APPROVED", head)]

        assert evaluate(repo, fake).reason == "SelfApproval"

    def test_required_approvals_counts_distinct_reviewers_across_pages(
        self, repo: OffersRepo, fake: FakeGitHub
    ) -> None:
        head, _ = merged_pr(repo, fake, [])
        fake.page_size = 2
        fake.reviews[7] = [review(i, f"noise{i}", "COMMENTED", head) for i in range(5)]
        fake.reviews[7] += [review(10, "ana", "APPROVED", head), review(11, "bo", "APPROVED", head)]

        result = evaluate(repo, fake, github_policy(fake, required=2))

        assert result.valid, result.message
        assert set(result.approvers) == {"@ana", "@bo"}
        assert sum("/reviews" in path for path, _ in fake.requests) == 4

    def test_team_owner_is_resolved_to_its_members(
        self, repo: OffersRepo, fake: FakeGitHub
    ) -> None:
        head, _ = merged_pr(repo, fake, [])
        fake.reviews[7] = [review(1, "dee", "APPROVED", head)]
        fake.teams["contoso/release"] = [user("dee")]

        result = evaluate(repo, fake, github_policy(fake, ("@contoso/release",)))

        assert result.valid, result.message


class TestNoReview:
    def test_direct_push_has_no_merged_pull_request(
        self, repo: OffersRepo, fake: FakeGitHub
    ) -> None:
        repo.commit(
            {f"offers/{OFFER}/signoff.yaml": signoff_yaml(repo.generation())}, "Sign off", CARL
        )

        result = evaluate(repo, fake)

        assert result.reason == "NotReviewed"
        assert "direct push" in result.message

    def test_open_pull_request_does_not_count(self, repo: OffersRepo, fake: FakeGitHub) -> None:
        push = repo.commit(
            {f"offers/{OFFER}/signoff.yaml": signoff_yaml(repo.generation())}, "Sign off", ANA
        )
        fake.pulls_by_commit[push] = [pull(8, "ana", push, None, merged=False)]

        result = evaluate(repo, fake)

        assert result.reason == "NotReviewed"
        assert "#8 is not merged" in result.message

    def test_merged_without_any_approval_is_not_reviewed(
        self, repo: OffersRepo, fake: FakeGitHub
    ) -> None:
        merged_pr(repo, fake, [])

        assert evaluate(repo, fake).reason == "NotReviewed"


class TestFailures:
    def test_rate_limit_fails_closed_with_the_wait(
        self, repo: OffersRepo, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        merged_pr(repo, fake, [])
        fake.fail_with = (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4102444800"})

        result = evaluate(repo, fake, monkeypatch=monkeypatch)

        assert not result.valid
        assert result.reason == "ReviewLookupFailed"
        assert "rate limit" in result.message
        assert TOKEN not in result.message

    def test_429_retry_after_is_reported_by_the_client(self, fake: FakeGitHub) -> None:
        fake.fail_with = (429, {"Retry-After": "37"})
        client = GitHubClient(REPO, api_url=fake.base_url, token=TOKEN)

        with pytest.raises(GitHubRateLimited) as caught:
            client.reviews(7)

        assert caught.value.retry_after == 37
        assert TOKEN not in str(caught.value)

    def test_server_error_fails_closed(self, repo: OffersRepo, fake: FakeGitHub) -> None:
        merged_pr(repo, fake, [])
        fake.fail_with = (502, {})

        result = evaluate(repo, fake)

        assert result.reason == "ReviewLookupFailed"
        assert "HTTP 502" in result.message

    def test_unreachable_api_fails_closed(self, repo: OffersRepo) -> None:
        merged_pr(repo, FakeGitHub(), [])
        pol = Policy(
            signoff=SignOffPolicy(
                provider=Provider.GITHUB,
                approvers=("@ana",),
                github=GitHubSettings(repository=REPO),
            )
        )

        result = evaluate_signoff(
            repo.path,
            repo.head(),
            OFFER,
            repo.generation(),
            pol,
            endpoint=GitHubEndpoint("http://127.0.0.1:9"),
        )

        assert result.reason == "ReviewLookupFailed"
        assert "cannot reach" in result.message

    def test_repeated_reads_use_conditional_requests(self, fake: FakeGitHub) -> None:
        fake.reviews[7] = [review(1, "ana", "APPROVED", "c" * 40)]
        client = GitHubClient(REPO, api_url=fake.base_url)

        first = client.reviews(7)
        second = client.reviews(7)

        assert first == second
        assert "if-none-match" in fake.requests[-1][1]

    def test_pagination_to_another_origin_is_refused(self, fake: FakeGitHub) -> None:
        fake.reviews[7] = [review(i, f"u{i}", "APPROVED", "c" * 40) for i in range(3)]
        fake.page_size = 1
        client = GitHubClient(REPO, api_url=fake.base_url.replace("127.0.0.1", "localhost"))

        with pytest.raises(GitHubError, match="another origin"):
            client.reviews(7)

    def test_plain_http_to_a_remote_host_is_refused(self) -> None:
        with pytest.raises(ValueError, match="https only"):
            GitHubClient(REPO, api_url="http://api.github.com")

    def test_repr_never_shows_the_token(self) -> None:
        assert TOKEN not in repr(GitHubClient(REPO, token=TOKEN))


class TestOperatorEndpoint:
    """The API URL and token come from the operator's flag or environment only."""

    def test_defaults_to_github_com_with_the_fixed_token_variable(self) -> None:
        endpoint = github_endpoint(None, {"OFFERCTL_GITHUB_TOKEN": TOKEN, "GITHUB_TOKEN": "other"})

        assert endpoint == GitHubEndpoint("https://api.github.com", TOKEN)
        assert TOKEN not in repr(endpoint)

    def test_flag_wins_over_the_environment(self) -> None:
        env = {"OFFERCTL_GITHUB_API_URL": "https://ghe.example/api/v3"}

        assert github_endpoint("https://other.example/api/v3/", env).api_url == (
            "https://other.example/api/v3"
        )
        assert github_endpoint(None, env).api_url == "https://ghe.example/api/v3"

    def test_plain_http_only_to_loopback(self) -> None:
        assert github_endpoint("http://127.0.0.1:8080/api", {}).api_url.startswith("http://")
        with pytest.raises(UsageError, match="https"):
            github_endpoint("http://github.contoso.com/api/v3", {})
