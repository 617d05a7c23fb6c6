"""`Decisions.decide` answers as `pipeline.decide` does, its clock-free half kept per input.

tests/reconcile/test_converge_stateful.py compares every decision of the state
machine with `pipeline.decide`; these cases pin what that machine never meets.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from controller.core import pipeline
from controller.core.model import (
    Finding,
    Phase,
    Severity,
    SignOffVerdict,
    Stage,
    StageState,
    Target,
)
from controller.marketplace.api import OfferListing, StageProgress, Submission, SubmissionResult
from controller.reconcile.decisions import Decisions

OFFER = "contoso-decisions"
GEN = "sha256:" + "d" * 64
# Friday 20:00 UTC is Saturday 06:00 at +10:00: the stage Live's four business days end
# Thursday 20:00 UTC counted in UTC, Thursday 14:00 UTC counted at +10:00.
LIVE_STARTED = datetime(2026, 1, 2, 20, 0, tzinfo=UTC)
EAST = timezone(timedelta(hours=10))


def going_live(started: datetime = LIVE_STARTED) -> pipeline.PipelineInput:
    """An offer whose current generation is in the stage Live, every time in `started`'s zone."""
    before = started - timedelta(hours=1)
    done = [
        StageProgress(n, StageState.SUCCEEDED, before, before) for n in Stage if n is not Stage.LIVE
    ]
    stages = (*done, StageProgress(Stage.LIVE, StageState.RUNNING, started))
    submission = Submission(
        id="sub-1",
        offer=OFFER,
        generation=GEN,
        idempotency_key=pipeline.attempt_key(OFFER, GEN, 1),
        target=Target.LIVE,
        created_at=before,
        result=SubmissionResult.PENDING,
        stages=stages,
    )
    verdict = SignOffVerdict(True, GEN, "SignOffAccepted", "signed off", ("ana",))
    return pipeline.PipelineInput(
        OFFER,
        pipeline.Desired(Target.LIVE, GEN),
        None,
        pipeline.Observation(OfferListing(OFFER), (submission,), verdict),
        holiday_country="",
    )


def live_deadline(decision: pipeline.Decision) -> datetime | None:
    return next(s.deadline for s in decision.status.stages if s.name is Stage.LIVE)


def test_an_equal_input_reuses_its_half_and_answers_as_decide_at_any_time() -> None:
    decisions = Decisions()
    inp = going_live()
    now = LIVE_STARTED + timedelta(hours=1)
    first = decisions.decide(inp, now)
    assert first.status.phase is Phase.GOING_LIVE
    assert first == pipeline.decide(inp, now)
    for later in (now + timedelta(minutes=5), now + timedelta(days=9)):  # the second: overdue
        again = decisions.decide(going_live(), later)  # an equal input, read afresh
        assert again == pipeline.decide(going_live(), later)
    assert decisions.reused == 2
    overdue = decisions.decide(inp, now + timedelta(days=9))
    assert overdue.status.conditions != first.status.conditions  # StageOverdue came
    # The estimate is kept for its day: on a later day it is the later day's.
    assert first.status.estimated_live == "2026-01-08"
    assert overdue.status.estimated_live == "2026-01-11"  # today, the stage being overdue


def test_an_equal_observation_in_another_zone_is_decided_afresh() -> None:
    decisions = Decisions()
    now = LIVE_STARTED + timedelta(hours=1)
    in_utc = decisions.decide(going_live(), now)
    assert live_deadline(in_utc) == datetime(2026, 1, 8, 20, 0, tzinfo=UTC)
    east = going_live(LIVE_STARTED.astimezone(EAST))
    assert east == going_live(), "equal keys: only the zone differs"
    elsewhere = decisions.decide(east, now)
    assert elsewhere == pipeline.decide(east, now)
    assert live_deadline(elsewhere) == datetime(2026, 1, 8, 14, 0, tzinfo=UTC)
    assert decisions.reused == 0


def test_the_kept_halves_are_bounded_by_the_findings_they_hold() -> None:
    decisions = Decisions(max_findings=10)
    warnings = tuple(Finding(f"W{i}", "a warning", severity=Severity.WARNING) for i in range(9))
    heavy = going_live()
    assert heavy.desired is not None
    heavy = replace(heavy, desired=replace(heavy.desired, findings=warnings))
    now = LIVE_STARTED + timedelta(hours=1)
    decisions.decide(heavy, now)  # weighs 10: kept
    decisions.decide(heavy, now)
    assert decisions.reused == 1
    decisions.decide(replace(going_live(), offer="another-offer"), now)  # 1 more: heavy goes
    decisions.decide(heavy, now)
    assert decisions.reused == 1


def test_a_pass_over_more_offers_than_it_holds_leaves_the_memo_out() -> None:
    """Asked about more offers than it holds, in one order pass after pass, a
    least-recently-used memo never hits: it is emptied and its memory given back."""
    decisions = Decisions(limit=4)
    now = LIVE_STARTED + timedelta(hours=1)
    decisions.decide(going_live(), now)
    decisions.expect(5)
    assert len(decisions._kept) == 0
    assert decisions.decide(going_live(), now) == pipeline.decide(going_live(), now)
    assert len(decisions._kept) == 0 and decisions.reused == 0
    decisions.expect(4)  # small enough again
    decisions.decide(going_live(), now)
    decisions.decide(going_live(), now)
    assert decisions.reused == 1
