"""The daemon's adapter over a reconcile pass: timers from the pipeline, lock waits as waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.commands.run import MIN_IN_FLIGHT_POLL, ReconcilerPass
from controller.core.errors import TransientError
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import PassResult, Reconciler, default_validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def adapter(time_scale: float, in_flight_poll: float = 60.0) -> ReconcilerPass:
    unused: Any = None  # _next_due reads only the pass result and the clock
    return ReconcilerPass(
        unused, unused, in_flight_poll=in_flight_poll, time_scale=time_scale, clock=lambda: NOW
    )


def result(**fields: Any) -> PassResult:
    base: dict[str, Any] = {
        "base": "0" * 40,
        "commit": None,
        "full": False,
        "evaluated": (),
        "written": (),
        "transitions": (),
        "in_flight": (),
        "errors": {},
    }
    return PassResult(**(base | fields))


def test_a_timer_is_due_when_the_pipeline_expects_news() -> None:
    wake = {"cert": NOW + timedelta(hours=1), "valid": NOW + timedelta(minutes=1)}
    due = adapter(time_scale=1)._next_due(result(in_flight=("cert", "valid"), wake_at=wake))
    assert due == wake


def test_a_compressed_clock_brings_the_timer_closer_by_the_time_scale() -> None:
    wake = {"cert": NOW + timedelta(hours=1)}
    due = adapter(time_scale=3600)._next_due(result(in_flight=("cert",), wake_at=wake))
    assert due == {"cert": NOW + timedelta(seconds=1)}


def test_timers_never_come_sooner_than_the_floor() -> None:
    wake = {"valid": NOW + timedelta(minutes=1)}
    due = adapter(time_scale=1_000_000)._next_due(result(in_flight=("valid",), wake_at=wake))
    assert due == {"valid": NOW + timedelta(seconds=MIN_IN_FLIGHT_POLL)}


def test_an_offer_with_no_expected_time_is_polled_at_the_flat_interval() -> None:
    due = adapter(time_scale=1, in_flight_poll=60)._next_due(result(in_flight=("review",)))
    assert due == {"review": NOW + timedelta(seconds=60)}


def test_a_failed_offer_gets_no_timer_the_queue_backs_it_off() -> None:
    failed = result(in_flight=("x",), errors={"x": "marketplace down"}, wake_at={"x": NOW})
    assert adapter(time_scale=1)._next_due(failed) == {}


def test_a_branch_held_by_a_one_shot_reconcile_is_a_wait_not_a_fatal_stop(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    path = make_repo({"README.md": "offers repository\n"})
    with GitRepo(path) as repo, GitRepo(path) as other:
        reconciler = Reconciler(
            repo,
            SimulatedMarketplace(tmp_path / "market.sqlite3"),
            validate=default_validate,
            clock=lambda: NOW,
        )
        branch = repo.head_branch() or "main"
        with other.pass_lock(f"local/{branch}"), pytest.raises(TransientError) as caught:
            ReconcilerPass(reconciler, repo, in_flight_poll=1.0)(None)
    assert "another offerctl is reconciling" in str(caught.value)
    assert caught.value.retry_after == 1.0
