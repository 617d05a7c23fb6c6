"""planning.plan_offer: the step, the why and 'changes pending' from a decided-but-not-done pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cli_helpers import GEN_A, GEN_B, make_status

from controller.core import pipeline
from controller.core.model import Phase, Target
from controller.core.planning import OfferPlan, PlannedOffer, Step, summarize
from controller.core.planning import plan_offer as plan_with
from controller.repo import status

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _planned(
    before: Phase | None, after: Phase, *actions: pipeline.Action, after_generation: str = GEN_A
) -> PlannedOffer:
    old = make_status("alpha", before, now=NOW) if before else None
    new = make_status("alpha", after, now=NOW, generation=after_generation)
    return PlannedOffer("alpha", old, new, tuple(actions), delete=False, error="")


def test_a_submit_of_a_changed_spec_says_which_generation_replaces_which() -> None:
    submit = pipeline.Submit("alpha", GEN_B, Target.LIVE, f"alpha@{GEN_B}")
    plan = plan_offer(_planned(Phase.LIVE, Phase.VALIDATING, submit, after_generation=GEN_B), None)
    assert plan.step is Step.SUBMIT
    assert plan.actions == ("submit generation b2b2b2b2b2b2 for target live",)
    assert plan.why == "the offer changed: generation a1a1a1a1a1a1 became b2b2b2b2b2b2"
    assert plan.changes


@pytest.mark.parametrize(
    ("action", "step", "text"),
    [
        (pipeline.Cancel("sub-1"), Step.CANCEL, "cancel submission sub-1"),
        (pipeline.GoLive("sub-1"), Step.GO_LIVE, "go live with submission sub-1"),
        (pipeline.Withdraw("alpha"), Step.WITHDRAW, "withdraw alpha from the marketplace"),
    ],
)
def test_each_marketplace_call_is_its_own_step(
    action: pipeline.Action, step: Step, text: str
) -> None:
    plan = plan_offer(_planned(Phase.AWAITING_SIGNOFF, Phase.AWAITING_SIGNOFF, action), None)
    assert (plan.step, plan.actions) == (step, (text,))


def test_a_running_stage_is_a_wait_and_unchanged_status_is_no_change() -> None:
    planned = _planned(
        Phase.CERTIFYING, Phase.CERTIFYING, pipeline.WaitUntil(NOW + timedelta(hours=1))
    )
    assert planned.after is not None
    committed = status.render(planned.after).encode()
    plan = plan_offer(planned, committed)
    assert plan.step is Step.WAIT
    assert plan.why.startswith("waiting for Certification to finish (at most until ")
    assert plan.actions == ()
    assert not plan.changes


def test_rejected_is_blocked_and_the_same_status_bytes_mean_nothing_to_write() -> None:
    planned = _planned(Phase.REJECTED, Phase.REJECTED)
    assert planned.after is not None
    plan = plan_offer(planned, status.render(planned.after).encode())
    assert plan.step is Step.BLOCKED
    assert not plan.writes_status


def test_an_evaluation_error_is_an_error_step_that_keeps_the_phase() -> None:
    failed = PlannedOffer(
        "alpha",
        make_status("alpha", Phase.CERTIFYING, now=NOW),
        None,
        (),
        delete=False,
        error="GET /listing: HTTP 503",
    )
    plan = plan_offer(failed, None)
    assert (plan.step, plan.before, plan.after, plan.why) == (
        Step.ERROR,
        Phase.CERTIFYING,
        Phase.CERTIFYING,
        "GET /listing: HTTP 503",
    )
    assert summarize([plan]).errors == 1


def test_summary_counts_offers_with_changes_once() -> None:
    submit = pipeline.Submit("alpha", GEN_A, Target.LIVE, f"alpha@{GEN_A}")
    plans = [
        plan_offer(_planned(None, Phase.VALIDATING, submit), None),
        plan_offer(_planned(Phase.DRAFT, Phase.DRAFT), None),
    ]
    summary = summarize(plans)
    assert (summary.offers, summary.changed, summary.marketplace_calls, summary.status_writes) == (
        2,
        2,
        1,
        2,
    )
    assert summary.line() == (
        "Plan: 1 offer(s) with marketplace calls, 2 status file(s) to write, 0 unchanged."
    )


def plan_offer(planned: PlannedOffer, committed: bytes | None) -> OfferPlan:
    """`planning.plan_offer` with the renderer `offerctl plan` passes."""
    return plan_with(planned, committed, lambda value: status.render(value).encode("utf-8"))
