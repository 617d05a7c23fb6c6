"""The GitHub client on the project's one HTTP layer: retries, Retry-After, no redirects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from github_fake import REPO, FakeGitHub, review, serve

from controller.http import RetryPolicy
from controller.signoff import GitHubClient, GitHubError, GitHubRateLimited

TOKEN = "ghp_an0therMadeUpT0ken"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as server:
        yield server


def recording(fake: FakeGitHub, heal_after: int | None = None) -> tuple[RetryPolicy, list[float]]:
    """A policy whose sleeps are recorded, not slept; the fake heals after `heal_after` waits."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if heal_after is not None and len(waits) >= heal_after:
            fake.fail_with = None

    policy = RetryPolicy(timeout=5.0, max_attempts=3, backoff=0.2, max_backoff=2.0,
                         max_retry_after=5.0, sleep=sleep, jitter=lambda: 1.0)  # fmt: skip
    return policy, waits


def test_a_short_retry_after_is_waited_out_and_the_call_retried(fake: FakeGitHub) -> None:
    fake.reviews[7] = [review(1, "ana", "APPROVED", "c" * 40)]
    fake.fail_with = (503, {"Retry-After": "2"})
    policy, waits = recording(fake, heal_after=1)
    client = GitHubClient(REPO, api_url=fake.base_url, token=TOKEN, policy=policy)

    assert [r["id"] for r in client.reviews(7)] == [1]
    assert waits == [2.0]
    assert len(fake.requests) == 2


def test_an_http_date_retry_after_is_honoured(fake: FakeGitHub) -> None:
    fake.fail_with = (429, {"Retry-After": formatdate(time.time() + 3600, usegmt=True)})
    policy, waits = recording(fake)
    client = GitHubClient(REPO, api_url=fake.base_url, token=TOKEN, policy=policy)

    with pytest.raises(GitHubRateLimited) as caught:
        client.reviews(7)

    assert caught.value.retry_after is not None and 3500 < caught.value.retry_after <= 3600
    assert waits == []  # too long to block a pass: handed back at once
    assert len(fake.requests) == 1


def test_server_errors_are_retried_with_capped_backoff_then_fail_closed(fake: FakeGitHub) -> None:
    fake.fail_with = (502, {})
    policy, waits = recording(fake)
    client = GitHubClient(REPO, api_url=fake.base_url, token=TOKEN, policy=policy)

    with pytest.raises(GitHubError, match="HTTP 502"):
        client.reviews(7)

    assert waits == [0.2, 0.4]  # exponential, jitter pinned
    assert len(fake.requests) == 3


def test_a_redirect_is_refused_and_the_token_goes_nowhere_else(fake: FakeGitHub) -> None:
    with serve(FakeGitHub()) as elsewhere:
        fake.fail_with = (302, {"Location": f"{elsewhere.base_url}/repos/{REPO}/pulls/7/reviews"})
        client = GitHubClient(REPO, api_url=fake.base_url, token=TOKEN)

        with pytest.raises(GitHubError) as caught:
            client.reviews(7)

        assert "302" in str(caught.value)
        assert elsewhere.requests == []
        assert TOKEN not in str(caught.value)
