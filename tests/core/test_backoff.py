"""One backoff policy and one Retry-After reading (HTTP, the daemon, GitHub evidence)."""

from __future__ import annotations

import email.utils

import pytest

from controller.core.backoff import Backoff
from controller.signoff.evidence_github import _wait_seconds


def test_backoff_doubles_up_to_the_cap_and_jitters_within_the_fraction() -> None:
    backoff = Backoff(base=0.5, factor=2.0, cap=3.0, jitter=0.5)
    assert [backoff.ceiling(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(3, 0.0) == 2.0  # no draw: the whole ceiling
    assert backoff.delay(3, 0.999) == pytest.approx(1.001)  # at most half is taken off
    assert Backoff(cap=10.0).ceiling(10_000) == 10.0  # no overflow on huge attempt numbers


@pytest.mark.parametrize(
    "kwargs", [{"base": -1.0}, {"factor": 0.5}, {"cap": -1.0}, {"jitter": 1.5}]
)
def test_backoff_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**kwargs)


def test_github_retry_after_as_an_http_date_is_honoured() -> None:
    """GitHub evidence used to ignore an HTTP-date Retry-After; it now reads it as
    controller.http does."""
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert _wait_seconds(date, None, now) == pytest.approx(90.0)
    assert _wait_seconds("12", None, now) == 12.0
    assert _wait_seconds(None, str(int(now) + 30), now) == 30.0  # X-RateLimit-Reset
    assert _wait_seconds("soon", None, now) is None
