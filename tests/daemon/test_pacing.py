"""Batch size, resync period and stall threshold follow measured durations, within bounds."""

from __future__ import annotations

import pytest

from controller.daemon.pacing import (
    INITIAL_BATCH,
    RESYNC_FACTOR,
    STALL_FACTOR,
    WINDOW,
    Bounds,
    Pacing,
)


def test_before_any_measurement_the_defaults_hold() -> None:
    pacing = Pacing(Bounds(resync_floor=300.0, stall_floor=300.0))
    assert pacing.batch_size() == INITIAL_BATCH
    assert pacing.resync_every() == 300.0
    assert pacing.stall_after() == 300.0


def test_the_batch_size_aims_at_the_target_duration() -> None:
    pacing = Pacing(Bounds(batch_seconds=0.5, max_batch=1000))
    pacing.batch_done(offers=20, seconds=0.4)  # 20 ms an offer
    assert pacing.batch_size() == 25


def test_the_fixed_cost_of_a_batch_is_told_apart_from_the_cost_per_offer() -> None:
    pacing = Pacing(Bounds(batch_seconds=0.5, max_batch=1000))
    for offers in (1, 10, 25, 4):
        pacing.batch_done(offers, 0.1 + 0.01 * offers)  # 100 ms a commit, 10 ms an offer
    fixed, per_offer = pacing.cost() or (0.0, 0.0)
    assert fixed == pytest.approx(0.1)
    assert per_offer == pytest.approx(0.01)
    assert pacing.batch_size() == 40  # (0.5 - 0.1) / 0.01


def test_a_fixed_cost_above_the_target_is_amortised_over_a_bigger_batch() -> None:
    # One offer at a time would spend all the time committing: the batch grows until
    # the fixed cost is half of it (1 s fixed, 20 ms an offer: 50 offers, 2 s).
    pacing = Pacing(Bounds(batch_seconds=0.5, max_batch=1000))
    for offers in (1, 2, 8, 25):
        pacing.batch_done(offers, 1.0 + 0.02 * offers)
    assert pacing.batch_size() == 50


def test_the_batch_size_stays_within_one_and_the_maximum() -> None:
    slow = Pacing(Bounds(batch_seconds=0.5, max_batch=50))
    slow.batch_done(offers=1, seconds=30.0)
    assert slow.batch_size() == 1
    fast = Pacing(Bounds(batch_seconds=0.5, max_batch=50))
    fast.batch_done(offers=100, seconds=0.001)
    assert fast.batch_size() == 50


def test_a_batch_grows_at_most_twofold_over_the_largest_recent_one() -> None:
    pacing = Pacing(Bounds(batch_seconds=10.0, max_batch=1000))
    pacing.batch_done(offers=5, seconds=0.05)  # 10 ms an offer: 1,000 would fit
    assert pacing.batch_size() == 10
    pacing.batch_done(offers=10, seconds=0.1)
    assert pacing.batch_size() == 20


def test_a_noisy_fit_never_makes_offers_free_or_the_fixed_cost_negative() -> None:
    pacing = Pacing(Bounds(batch_seconds=0.5, max_batch=10_000))
    pacing.batch_done(offers=1, seconds=2.0)
    pacing.batch_done(offers=50, seconds=0.5)  # bigger but faster: a load spike passed
    fixed, per_offer = pacing.cost() or (-1.0, -1.0)
    assert fixed >= 0.0
    assert per_offer > 0.0
    assert 1 <= pacing.batch_size() <= 10_000


def test_a_long_full_pass_stretches_the_resync_period_up_to_the_ceiling() -> None:
    pacing = Pacing(Bounds(resync_floor=300.0, resync_ceiling=3600.0))
    pacing.full_pass_done(390.0)  # 10,000 offers: 6.5 minutes
    assert pacing.resync_every() == RESYNC_FACTOR * 390.0
    pacing.full_pass_done(5000.0)
    assert pacing.resync_every() == 3600.0
    pacing.full_pass_done(1.0)
    assert pacing.resync_every() == 300.0  # --resync stays the shortest period


def test_a_ceiling_below_the_floor_yields_to_the_floor() -> None:
    pacing = Pacing(Bounds(resync_floor=900.0, resync_ceiling=600.0))
    pacing.full_pass_done(10_000.0)
    assert pacing.resync_every() == 900.0


def test_slow_batches_raise_the_stall_threshold_and_it_falls_once_they_pass() -> None:
    pacing = Pacing(Bounds(stall_floor=60.0, stall_ceiling=1800.0))
    pacing.batch_done(offers=5, seconds=100.0)
    assert pacing.stall_after() == STALL_FACTOR * 100.0
    for _ in range(WINDOW):
        pacing.batch_done(offers=5, seconds=1.0)
    assert pacing.stall_after() == 60.0
    pacing.batch_done(offers=5, seconds=10_000.0)
    assert pacing.stall_after() == 1800.0
