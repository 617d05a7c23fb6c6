"""The pipeline's decisions, one transition at a time, on hand-built marketplace observations."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from controller.core import pipeline
from controller.core.model import (
    Condition,
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    Reason,
    Severity,
    SignOffVerdict,
    Stage,
    StageState,
    Target,
)
from controller.core.pipeline import (
    Cancel,
    Decision,
    Desired,
    GoLive,
    Observation,
    PipelineInput,
    Submit,
    WaitUntil,
    Withdraw,
    decide,
)
from controller.marketplace.api import (
    OfferListing,
    StageProgress,
    Submission,
    SubmissionResult,
    idempotency_key,
)
from controller.repo import status as status_io

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "status.schema.json").read_text())
STATUS_SCHEMA = jsonschema.Draft202012Validator(SCHEMA)
OFFER = "contoso-field-insights"
GEN_A = "sha256:" + "a" * 64
GEN_B = "sha256:" + "b" * 64
COMMIT = "c" * 40
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
STEP = timedelta(minutes=10)
NOW = T0 + timedelta(hours=2)


def sub(
    gen: str = GEN_A,
    upto: Stage = Stage.VALIDATION,
    *,
    result: SubmissionResult = SubmissionResult.PENDING,
    attempt: int = 1,
    sid: str = "",
    target: Target = Target.LIVE,
    feedback: tuple[Finding, ...] = (),
    started: datetime = T0,
) -> Submission:
    """A submission that finished every stage before `upto` (10 minutes each) and is in `upto`.

    `result` decides what `upto` looks like: pending -> Running, failed -> Failed,
    cancelled -> Skipped; succeeded -> every stage Succeeded.
    """
    stages = []
    t = started
    reached = False
    for name in Stage:
        done = result is SubmissionResult.SUCCEEDED or (not reached and name is not upto)
        if done:
            stages.append(StageProgress(name, StageState.SUCCEEDED, t, t + STEP))
        elif name is upto:
            reached = True
            state = {
                SubmissionResult.PENDING: StageState.RUNNING,
                SubmissionResult.FAILED: StageState.FAILED,
                SubmissionResult.CANCELLED: StageState.SKIPPED,
            }[result]
            finished = None if state is StageState.RUNNING else t + STEP
            stages.append(StageProgress(name, state, t, finished))
        else:
            later = StageState.PENDING if result is SubmissionResult.PENDING else StageState.SKIPPED
            stages.append(StageProgress(name, later))
            continue
        t += STEP
    key = pipeline.attempt_key(OFFER, gen, attempt)
    preview = ""
    if any(p.name is Stage.SIGNOFF and p.state is not StageState.PENDING for p in stages):
        preview = f"https://preview.marketplace.example/offers/{OFFER}/{sid or key}"
    return Submission(
        id=sid or f"sub-{gen[7:10]}-{attempt}",
        offer=OFFER,
        generation=gen,
        idempotency_key=key,
        target=target,
        created_at=started,
        result=result,
        stages=tuple(stages),
        feedback=feedback,
        preview_url=preview,
    )


def live(gen: str = GEN_A, **kw: object) -> Submission:
    return sub(gen, Stage.LIVE, result=SubmissionResult.SUCCEEDED, **kw)  # type: ignore[arg-type]


def signed(gen: str = GEN_A, *, valid: bool = True) -> SignOffVerdict:
    reason = "SignOffAccepted" if valid else "NotApproved"
    return SignOffVerdict(valid=valid, generation=gen, reason=reason, message=f"{reason} ({gen})")


def want(
    target: Target = Target.LIVE,
    gen: str = GEN_A,
    *,
    suspend: bool = False,
    findings: tuple[Finding, ...] = (),
) -> Desired:
    return Desired(target, gen, suspend=suspend, observed_commit=COMMIT, findings=findings)


def run(
    desired: Desired | None,
    *subs: Submission,
    listing: OfferListing | None = None,
    signoff: SignOffVerdict | None = None,
    last: OfferStatus | None = None,
    now: datetime = NOW,
    prune: bool = False,
    country: str = "US",
) -> Decision:
    observed = Observation(listing or OfferListing(OFFER), subs, signoff)
    inp = PipelineInput(OFFER, desired, last, observed, prune=prune, holiday_country=country)
    decision = decide(inp, now)
    check_status(decision.status)
    return decision


def check_status(status: OfferStatus) -> None:
    """Every status the pipeline makes is one the schema accepts, and reads back unchanged."""
    STATUS_SCHEMA.validate(status_io.to_dict(status))
    assert status_io.parse(status_io.render(status).encode()) == status
    assert [s.name for s in status.stages] == list(Stage)
    ready = status.condition(ConditionType.READY)
    assert ready is not None
    assert all(c.reason[:1].isupper() and c.reason.isalnum() for c in status.conditions)


def effectful(decision: Decision) -> list[object]:
    return list(decision.effectful)


def ready(decision: Decision) -> bool:
    cond = decision.status.condition(ConditionType.READY)
    assert cond is not None
    return cond.status is ConditionStatus.TRUE


def reason(decision: Decision, kind: ConditionType = ConditionType.READY) -> str:
    cond = decision.status.condition(kind)
    assert cond is not None
    return cond.reason


def states(decision: Decision) -> list[StageState]:
    return [s.state for s in decision.status.stages]


LIVE_A = OfferListing(OFFER, live_generation=GEN_A)
P, R, S, K = StageState.PENDING, StageState.RUNNING, StageState.SUCCEEDED, StageState.SKIPPED


class TestStagesInOrder:
    """Target live walks every stage of the seed in order, one phase per stage."""

    def test_first_sight_submits_the_current_generation_once(self) -> None:
        d = run(want())
        assert effectful(d) == [Submit(OFFER, GEN_A, Target.LIVE, idempotency_key(OFFER, GEN_A))]
        assert d.status.phase is Phase.VALIDATING
        assert reason(d) == Reason.SUBMITTING
        assert states(d) == [P] * 6
        assert d.status.estimated_live == "2026-12-07"  # Thanksgiving week, US holidays

    @pytest.mark.parametrize(
        ("stage", "phase"),
        [
            (Stage.VALIDATION, Phase.VALIDATING),
            (Stage.CERTIFICATION, Phase.CERTIFYING),
            (Stage.PACKAGING, Phase.PACKAGING),
            (Stage.PUBLISHING, Phase.PUBLISHING),
            (Stage.LIVE, Phase.GOING_LIVE),
        ],
    )
    def test_each_running_stage_has_its_phase_and_nothing_to_do(
        self, stage: Stage, phase: Phase
    ) -> None:
        d = run(want(), sub(upto=stage), signoff=signed())
        assert d.status.phase is phase
        assert effectful(d) == []
        assert not ready(d)
        running = [s for s in d.status.stages if s.state is R]
        assert [s.name for s in running] == [stage]
        assert running[0].deadline is not None
        assert d.status.estimated_live
        assert d.status.submission is not None
        assert d.status.submission.id == "sub-aaa-1"

    def test_a_running_stage_is_polled_before_its_deadline(self) -> None:
        d = run(want(), sub(upto=Stage.CERTIFICATION))
        (wait,) = d.actions
        assert isinstance(wait, WaitUntil)
        assert NOW < wait.when <= NOW + pipeline.STAGE_POLL[Stage.CERTIFICATION]

    def test_preview_ready_waits_for_signoff(self) -> None:
        d = run(want(), sub(upto=Stage.SIGNOFF))
        assert d.status.phase is Phase.AWAITING_SIGNOFF
        assert d.actions == ()
        assert reason(d) == Reason.AWAITING_SIGNOFF
        assert reason(d, ConditionType.SIGNED_OFF) == Reason.SIGNOFF_MISSING
        assert d.status.preview_url.startswith("https://")
        assert states(d) == [S, S, S, R, P, P]

    def test_valid_signoff_of_this_generation_asks_for_go_live(self) -> None:
        d = run(want(), sub(upto=Stage.SIGNOFF), signoff=signed(GEN_A))
        assert effectful(d) == [GoLive("sub-aaa-1")]
        signed_off = d.status.condition(ConditionType.SIGNED_OFF)
        assert signed_off is not None
        assert signed_off.status is ConditionStatus.TRUE

    def test_signoff_of_another_generation_is_stale_and_ignored(self) -> None:
        d = run(want(gen=GEN_B), sub(GEN_B, Stage.SIGNOFF), signoff=signed(GEN_A))
        assert effectful(d) == []
        assert reason(d, ConditionType.SIGNOFF_STALE) == Reason.SIGNOFF_STALE
        assert reason(d, ConditionType.SIGNED_OFF) == Reason.SIGNOFF_STALE

    def test_an_unapproved_signoff_does_not_go_live_and_says_why(self) -> None:
        d = run(want(), sub(upto=Stage.SIGNOFF), signoff=signed(GEN_A, valid=False))
        assert effectful(d) == []
        assert reason(d, ConditionType.SIGNED_OFF) == "NotApproved"

    def test_after_go_live_the_same_observation_asks_nothing_again(self) -> None:
        d = run(want(), sub(upto=Stage.PUBLISHING), signoff=signed(GEN_A))
        assert d.status.phase is Phase.PUBLISHING
        assert effectful(d) == []

    def test_live_is_ready_with_nothing_to_do(self) -> None:
        d = run(want(), live(), listing=LIVE_A, signoff=signed())
        assert d.status.phase is Phase.LIVE
        assert ready(d)
        assert reason(d) == Reason.LIVE
        assert d.actions == ()
        assert d.status.live_generation == GEN_A
        assert d.status.estimated_live == ""
        assert states(d) == [S] * 6

    def test_live_per_listing_without_a_known_submission_does_not_resubmit(self) -> None:
        d = run(want(), listing=LIVE_A)
        assert d.status.phase is Phase.LIVE
        assert effectful(d) == []


class TestTargets:
    """draft, preview, live and withdrawn, and a target raised or lowered mid-way."""

    def test_draft_submits_nothing(self) -> None:
        d = run(want(Target.DRAFT))
        assert d.status.phase is Phase.DRAFT
        assert ready(d)
        assert d.actions == ()
        assert states(d) == [K] * 6

    def test_draft_cancels_a_submission_in_flight_then_is_ready(self) -> None:
        d = run(want(Target.DRAFT), sub(upto=Stage.CERTIFICATION))
        assert effectful(d) == [Cancel("sub-aaa-1")]
        assert not ready(d)
        assert reason(d) == Reason.CANCELLING
        cancelled = sub(upto=Stage.CERTIFICATION, result=SubmissionResult.CANCELLED)
        after = run(want(Target.DRAFT), cancelled, last=d.status)
        assert effectful(after) == []
        assert ready(after)
        assert after.status.submission is not None  # the newest attempt, for `lookups`
        assert after.status.submission.id == "sub-aaa-1"
        assert states(after) == [K] * 6

    def test_draft_cannot_stop_a_submission_past_signoff(self) -> None:
        d = run(want(Target.DRAFT), sub(upto=Stage.PUBLISHING))
        assert effectful(d) == []
        assert reason(d) == Reason.PUBLISH_IN_PROGRESS
        assert d.status.phase is Phase.PUBLISHING

    def test_preview_submits_for_preview(self) -> None:
        d = run(want(Target.PREVIEW))
        assert effectful(d) == [Submit(OFFER, GEN_A, Target.PREVIEW, idempotency_key(OFFER, GEN_A))]
        assert states(d) == [P, P, P, K, K, K]
        assert d.status.estimated_live == ""

    def test_preview_is_ready_at_signoff_and_never_goes_live(self) -> None:
        d = run(want(Target.PREVIEW), sub(upto=Stage.SIGNOFF), signoff=signed())
        assert d.status.phase is Phase.PREVIEW
        assert ready(d)
        assert reason(d) == Reason.PREVIEW_READY
        assert d.actions == ()
        assert states(d) == [S, S, S, K, K, K]
        assert d.status.preview_url

    def test_raising_preview_to_live_promotes_the_same_submission(self) -> None:
        waiting = sub(upto=Stage.SIGNOFF, target=Target.PREVIEW)
        d = run(want(Target.LIVE), waiting, signoff=signed())
        assert effectful(d) == [GoLive(waiting.id)]

    def test_lowering_live_to_preview_before_go_live_stays_at_preview(self) -> None:
        d = run(want(Target.PREVIEW), sub(upto=Stage.SIGNOFF), signoff=signed())
        assert effectful(d) == []
        assert d.status.phase is Phase.PREVIEW

    def test_lowering_after_go_live_lets_it_finish_and_counts_the_preview(self) -> None:
        d = run(want(Target.PREVIEW), sub(upto=Stage.PUBLISHING))
        assert effectful(d) == []
        assert d.status.phase is Phase.PUBLISHING
        assert ready(d)
        assert states(d) == [S, S, S, S, R, P]

    def test_preview_target_with_the_generation_already_live_is_ready(self) -> None:
        d = run(want(Target.PREVIEW), live(), listing=LIVE_A)
        assert d.status.phase is Phase.LIVE
        assert ready(d)
        assert effectful(d) == []

    def test_withdrawn_withdraws_what_is_live(self) -> None:
        d = run(want(Target.WITHDRAWN), live(), listing=LIVE_A)
        assert effectful(d) == [Withdraw(OFFER)]
        assert d.status.phase is Phase.WITHDRAWING
        assert not ready(d)

    def test_withdrawing_is_waited_for_not_asked_again(self) -> None:
        listing = replace(LIVE_A, withdrawing=True)
        d = run(want(Target.WITHDRAWN), live(), listing=listing)
        assert effectful(d) == []
        assert d.status.phase is Phase.WITHDRAWING
        assert isinstance(d.actions[0], WaitUntil)

    def test_withdrawn_is_ready(self) -> None:
        listing = OfferListing(OFFER, live_generation=GEN_A, withdrawn=True)
        d = run(want(Target.WITHDRAWN), live(), listing=listing)
        assert d.status.phase is Phase.WITHDRAWN
        assert ready(d)
        assert d.status.live_generation == ""
        assert d.actions == ()

    def test_withdrawn_with_nothing_live_is_ready_at_once(self) -> None:
        d = run(want(Target.WITHDRAWN))
        assert d.status.phase is Phase.WITHDRAWN
        assert ready(d)

    def test_withdrawn_cancels_an_in_flight_submission(self) -> None:
        d = run(want(Target.WITHDRAWN), sub(upto=Stage.PACKAGING))
        assert effectful(d) == [Cancel("sub-aaa-1")]
        assert not ready(d)

    def test_withdrawn_waits_for_a_publish_past_signoff_before_withdrawing(self) -> None:
        d = run(want(Target.WITHDRAWN), sub(upto=Stage.LIVE), listing=OfferListing(OFFER))
        assert effectful(d) == []
        assert d.status.phase is Phase.GOING_LIVE
        assert reason(d) == Reason.PUBLISH_IN_PROGRESS

    def test_live_again_after_withdrawal_submits_a_new_attempt(self) -> None:
        listing = OfferListing(OFFER, live_generation=GEN_A, withdrawn=True)
        d = run(want(Target.LIVE), live(), listing=listing)
        assert effectful(d) == [Submit(OFFER, GEN_A, Target.LIVE, f"{OFFER}@{GEN_A}#2")]

    def test_target_live_waits_for_a_withdrawal_in_progress(self) -> None:
        listing = replace(LIVE_A, withdrawing=True)
        d = run(want(Target.LIVE), live(), listing=listing)
        assert effectful(d) == []
        assert d.status.phase is Phase.WITHDRAWING


class TestNewGeneration:
    """A spec change mid-pipeline cancels the old submission and restarts from Validation."""

    def test_cancels_the_old_submission_and_submits_the_new_generation(self) -> None:
        d = run(want(gen=GEN_B), sub(GEN_A, Stage.CERTIFICATION))
        assert effectful(d) == [
            Cancel("sub-aaa-1"),
            Submit(OFFER, GEN_B, Target.LIVE, idempotency_key(OFFER, GEN_B)),
        ]
        assert d.status.observed_generation == GEN_B
        assert d.status.phase is Phase.VALIDATING
        assert states(d) == [P] * 6

    def test_then_follows_the_new_submission_from_validation(self) -> None:
        old = sub(GEN_A, Stage.CERTIFICATION, result=SubmissionResult.CANCELLED)
        d = run(want(gen=GEN_B), old, sub(GEN_B, Stage.VALIDATION))
        assert effectful(d) == []
        assert d.status.phase is Phase.VALIDATING
        assert d.status.submission is not None
        assert d.status.submission.generation == GEN_B
        assert states(d) == [R, P, P, P, P, P]

    def test_an_old_preview_waiting_at_signoff_is_cancelled_too(self) -> None:
        d = run(want(gen=GEN_B), sub(GEN_A, Stage.SIGNOFF))
        assert Cancel("sub-aaa-1") in effectful(d)

    def test_an_old_submission_past_signoff_is_left_to_finish_first(self) -> None:
        d = run(want(gen=GEN_B), sub(GEN_A, Stage.PUBLISHING), signoff=signed(GEN_A))
        assert effectful(d) == []
        assert reason(d) == Reason.PREVIOUS_GENERATION_PUBLISHING
        assert not ready(d)
        assert d.status.submission is not None
        assert d.status.submission.generation == GEN_A

    def test_a_revert_to_the_live_generation_is_live_while_the_newer_one_publishes(
        self,
    ) -> None:
        d = run(want(gen=GEN_A), live(GEN_A), sub(GEN_B, Stage.PUBLISHING), listing=LIVE_A)
        assert d.status.phase is Phase.LIVE
        assert ready(d)
        assert effectful(d) == []
        replaced = OfferListing(OFFER, live_generation=GEN_B)
        after = run(want(gen=GEN_A), live(GEN_A), live(GEN_B), listing=replaced, last=d.status)
        assert effectful(after) == [Submit(OFFER, GEN_A, Target.LIVE, f"{OFFER}@{GEN_A}#2")]

    def test_once_the_old_one_settles_the_new_generation_is_submitted(self) -> None:
        d = run(want(gen=GEN_B), live(GEN_A), listing=LIVE_A)
        assert effectful(d) == [Submit(OFFER, GEN_B, Target.LIVE, idempotency_key(OFFER, GEN_B))]

    def test_update_to_a_live_offer_keeps_the_old_version_live(self) -> None:
        d = run(want(gen=GEN_B), live(GEN_A), sub(GEN_B, Stage.CERTIFICATION), listing=LIVE_A)
        assert d.status.phase is Phase.CERTIFYING
        assert d.status.live_generation == GEN_A
        assert not ready(d)
        assert not any(isinstance(a, Withdraw | Cancel) for a in d.actions)

    def test_update_goes_live_after_its_own_signoff(self) -> None:
        d = run(
            want(gen=GEN_B),
            live(GEN_A),
            sub(GEN_B, Stage.SIGNOFF),
            listing=LIVE_A,
            signoff=signed(GEN_B),
        )
        assert effectful(d) == [GoLive("sub-bbb-1")]

    def test_update_is_ready_when_the_new_generation_is_live(self) -> None:
        listing = OfferListing(OFFER, live_generation=GEN_B)
        d = run(want(gen=GEN_B), live(GEN_A), live(GEN_B), listing=listing)
        assert ready(d)
        assert d.status.live_generation == GEN_B

    def test_reverting_to_a_generation_that_was_replaced_submits_it_again(self) -> None:
        listing = OfferListing(OFFER, live_generation=GEN_B)
        d = run(want(gen=GEN_A), live(GEN_A), listing=listing)
        assert effectful(d) == [Submit(OFFER, GEN_A, Target.LIVE, f"{OFFER}@{GEN_A}#2")]

    def test_reverting_to_a_cancelled_generation_uses_a_new_attempt_key(self) -> None:
        cancelled = sub(GEN_A, Stage.CERTIFICATION, result=SubmissionResult.CANCELLED)
        d = run(want(gen=GEN_A), cancelled, sub(GEN_B, Stage.VALIDATION))
        assert effectful(d) == [
            Cancel("sub-bbb-1"),
            Submit(OFFER, GEN_A, Target.LIVE, f"{OFFER}@{GEN_A}#2"),
        ]

    def test_the_newest_attempt_is_the_one_followed(self) -> None:
        first = sub(GEN_A, Stage.CERTIFICATION, result=SubmissionResult.CANCELLED)
        second = sub(GEN_A, Stage.PACKAGING, attempt=2)
        d = run(want(), first, second)
        assert effectful(d) == []
        assert d.status.submission is not None
        assert d.status.submission.id == second.id


class TestRejection:
    """Certification feedback stalls the generation; a fixed spec is a new generation."""

    FINDING = Finding("MalwareDetected", "EICAR signature in package", stage="Certification")

    def rejected(self) -> Submission:
        return sub(
            GEN_A, Stage.CERTIFICATION, result=SubmissionResult.FAILED, feedback=(self.FINDING,)
        )

    def test_rejected_with_feedback_and_stalled(self) -> None:
        d = run(want(), self.rejected())
        assert d.status.phase is Phase.REJECTED
        assert reason(d) == Reason.CERTIFICATION_REJECTED
        assert reason(d, ConditionType.STALLED) == Reason.CERTIFICATION_REJECTED
        assert d.status.feedback == (self.FINDING,)
        assert d.actions == ()
        assert d.status.estimated_live == ""
        assert states(d) == [S, StageState.FAILED, K, K, K, K]

    def test_the_same_generation_is_not_resubmitted(self) -> None:
        first = run(want(), self.rejected())
        again = run(want(), self.rejected(), last=first.status, now=NOW + timedelta(days=3))
        assert again.actions == ()
        assert again.status == first.status

    def test_a_fixed_spec_is_submitted(self) -> None:
        d = run(want(gen=GEN_B), self.rejected())
        assert effectful(d) == [Submit(OFFER, GEN_B, Target.LIVE, idempotency_key(OFFER, GEN_B))]
        assert d.status.feedback == ()
        assert d.status.condition(ConditionType.STALLED) is None

    def test_a_failure_without_feedback_is_failed(self) -> None:
        d = run(want(), sub(GEN_A, Stage.PACKAGING, result=SubmissionResult.FAILED))
        assert d.status.phase is Phase.FAILED
        assert reason(d, ConditionType.STALLED) == Reason.SUBMISSION_FAILED
        assert effectful(d) == []


class TestInvalid:
    """Validation errors stall the offer locally; what is live stays live."""

    ERROR = Finding(
        "NameTooLong",
        "name is longer than 50",
        path="$.spec.listings.en-us.name",
        file="offers/x/offer.yaml",
        line=12,
        column=7,
    )

    def test_invalid_submits_nothing(self) -> None:
        d = run(want(findings=(self.ERROR,)))
        assert d.status.phase is Phase.INVALID
        assert effectful(d) == []
        assert reason(d, ConditionType.STALLED) == Reason.VALIDATION_FAILED
        assert d.status.feedback == (self.ERROR,)

    def test_warnings_alone_do_not_stop_the_submission(self) -> None:
        warning = replace(self.ERROR, severity=Severity.WARNING)
        d = run(want(findings=(warning,)))
        assert d.status.phase is Phase.VALIDATING
        assert d.status.feedback == (warning,)
        assert isinstance(d.actions[0], Submit)

    def test_an_invalid_update_leaves_the_live_version_live(self) -> None:
        d = run(want(gen=GEN_B, findings=(self.ERROR,)), live(GEN_A), listing=LIVE_A)
        assert effectful(d) == []
        assert d.status.live_generation == GEN_A

    def test_an_invalid_update_cancels_the_older_submission_in_flight(self) -> None:
        d = run(want(gen=GEN_B, findings=(self.ERROR,)), sub(GEN_A, Stage.CERTIFICATION))
        assert effectful(d) == [Cancel("sub-aaa-1")]


class TestSuspend:
    """Suspended: the status follows the marketplace, the controller acts on nothing."""

    def test_suspended_takes_no_action(self) -> None:
        d = run(want(suspend=True))
        assert d.status.phase is Phase.SUSPENDED
        assert d.actions == ()
        assert reason(d) == Reason.SUSPENDED

    def test_suspended_does_not_go_live_but_shows_the_stages(self) -> None:
        d = run(want(suspend=True), sub(upto=Stage.SIGNOFF), signoff=signed())
        assert d.actions == ()
        assert states(d) == [S, S, S, R, P, P]
        assert d.status.estimated_live == ""

    def test_suspended_live_offer_is_still_ready(self) -> None:
        d = run(want(suspend=True), live(), listing=LIVE_A)
        assert ready(d)
        assert d.status.phase is Phase.SUSPENDED

    def test_suspended_does_not_cancel_the_old_generation(self) -> None:
        d = run(want(gen=GEN_B, suspend=True), sub(GEN_A, Stage.CERTIFICATION))
        assert d.actions == ()


class TestManifestDeleted:
    """No manifest: Orphaned and untouched, unless prune withdraws."""

    def test_orphaned_when_still_live(self) -> None:
        d = run(None, live(), listing=LIVE_A)
        assert d.status.phase is Phase.ORPHANED
        assert reason(d) == Reason.MANIFEST_DELETED
        assert d.actions == ()
        assert d.status.target is None

    def test_prune_withdraws(self) -> None:
        d = run(None, live(), listing=LIVE_A, prune=True)
        assert effectful(d) == [Withdraw(OFFER)]

    def test_prune_cancels_what_is_in_flight(self) -> None:
        d = run(None, sub(upto=Stage.CERTIFICATION), prune=True)
        assert effectful(d) == [Cancel("sub-aaa-1")]

    def test_orphaned_in_flight_submission_is_left_alone_without_prune(self) -> None:
        d = run(None, sub(upto=Stage.CERTIFICATION))
        assert d.status.phase is Phase.ORPHANED
        assert effectful(d) == []

    def test_nothing_in_the_marketplace_is_withdrawn(self) -> None:
        d = run(None)
        assert d.status.phase is Phase.WITHDRAWN
        assert ready(d)

    def test_keeps_what_it_knew_of_the_last_generation(self) -> None:
        last = run(want(), live(), listing=LIVE_A).status
        d = run(None, live(), listing=LIVE_A, last=last)
        assert d.status.observed_generation == GEN_A
        assert d.status.observed_commit == COMMIT


class TestConditions:
    """Transition times, stable messages, overdue stages."""

    def test_transition_time_is_kept_while_the_status_stays_false(self) -> None:
        first = run(want(), sub(upto=Stage.VALIDATION), now=T0 + STEP)
        later = run(want(), sub(upto=Stage.CERTIFICATION), last=first.status, now=NOW)
        cond = later.status.condition(ConditionType.READY)
        assert cond is not None
        assert cond.reason == Reason.CERTIFYING
        assert cond.last_transition_time == T0 + STEP

    def test_transition_time_moves_when_the_status_flips(self) -> None:
        first = run(want(), sub(upto=Stage.LIVE), now=NOW)
        later = run(want(), live(), listing=LIVE_A, last=first.status, now=NOW + STEP)
        cond = later.status.condition(ConditionType.READY)
        assert cond is not None
        assert cond.last_transition_time == NOW + STEP

    @pytest.mark.parametrize(
        "observed",
        [
            sub(upto=Stage.CERTIFICATION),
            sub(upto=Stage.SIGNOFF),
            sub(upto=Stage.LIVE),
            live(),
        ],
        ids=["certifying", "awaiting-signoff", "going-live", "live"],
    )
    def test_a_pass_that_sees_nothing_new_writes_the_same_status(
        self, observed: Submission
    ) -> None:
        first = run(
            want(),
            observed,
            listing=LIVE_A if observed.result.value == "succeeded" else OfferListing(OFFER),
        )
        listing = LIVE_A if observed.result is SubmissionResult.SUCCEEDED else OfferListing(OFFER)
        again = run(want(), observed, listing=listing, last=first.status, now=NOW + STEP)
        assert again.status == first.status
        assert status_io.render(again.status) == status_io.render(first.status)

    def test_marketplace_error_set_by_the_reconciler_is_carried_over(self) -> None:
        first = run(want(), sub(upto=Stage.CERTIFICATION))
        failing = pipeline.set_condition(
            first.status,
            ConditionType.MARKETPLACE_ERROR,
            ConditionStatus.TRUE,
            "ServiceUnavailable",
            "503 from the marketplace",
            now=NOW,
        )
        again = run(want(), sub(upto=Stage.CERTIFICATION), last=failing, now=NOW + STEP)
        assert again.status.condition(ConditionType.MARKETPLACE_ERROR) == Condition(
            ConditionType.MARKETPLACE_ERROR,
            ConditionStatus.TRUE,
            "ServiceUnavailable",
            "503 from the marketplace",
            NOW,
        )
        cleared = pipeline.remove_condition(again.status, ConditionType.MARKETPLACE_ERROR)
        assert cleared.condition(ConditionType.MARKETPLACE_ERROR) is None

    def test_set_condition_keeps_the_time_when_only_the_message_changes(self) -> None:
        status = run(want(), sub(upto=Stage.CERTIFICATION)).status
        one = pipeline.set_condition(
            status,
            ConditionType.MARKETPLACE_ERROR,
            ConditionStatus.TRUE,
            "Throttled",
            "429",
            now=NOW,
        )
        two = pipeline.set_condition(
            one,
            ConditionType.MARKETPLACE_ERROR,
            ConditionStatus.TRUE,
            "Timeout",
            "504",
            now=NOW + STEP,
        )
        cond = two.condition(ConditionType.MARKETPLACE_ERROR)
        assert cond is not None
        assert cond.last_transition_time == NOW
        assert cond.reason == "Timeout"

    def test_certification_past_its_maximum_is_overdue(self) -> None:
        started = T0 - timedelta(days=10)
        late = sub(upto=Stage.CERTIFICATION, started=started)
        d = run(want(), late)
        cond = d.status.condition(ConditionType.STAGE_OVERDUE)
        assert cond is not None
        assert cond.status is ConditionStatus.TRUE
        assert cond.reason == Reason.CERTIFICATION_OVERDUE
        assert "Certification" in cond.message
        deadline = d.status.stages[1].deadline
        assert deadline is not None
        assert deadline.isoformat() in cond.message  # the overrun is since the deadline
        later = run(want(), late, last=d.status, now=NOW + timedelta(hours=5))
        assert later.status == d.status  # no growing "overdue by N" text

    def test_a_stage_within_its_maximum_is_not_overdue(self) -> None:
        d = run(want(), sub(upto=Stage.CERTIFICATION, started=T0 - timedelta(days=6)))
        assert d.status.condition(ConditionType.STAGE_OVERDUE) is None

    def test_overdue_ends_when_the_stage_moves_on(self) -> None:
        started = T0 - timedelta(days=10)
        first = run(want(), sub(upto=Stage.CERTIFICATION, started=started))
        moved = run(want(), sub(upto=Stage.PACKAGING, started=NOW - 3 * STEP), last=first.status)
        assert moved.status.condition(ConditionType.STAGE_OVERDUE) is None

    def test_conditions_come_in_a_fixed_order(self) -> None:
        d = run(want(gen=GEN_B), sub(GEN_B, Stage.SIGNOFF), signoff=signed(GEN_A))
        types = [c.type for c in d.status.conditions]
        assert types == [ConditionType.READY, ConditionType.SIGNED_OFF, ConditionType.SIGNOFF_STALE]


class TestObservingAfterACrash:
    """What the reconciler looks up, so a submission made before a crash is found, not repeated."""

    def test_first_sight_looks_up_the_first_two_attempts(self) -> None:
        looks = pipeline.lookups(OFFER, GEN_A, None)
        assert looks.keys == (f"{OFFER}@{GEN_A}", f"{OFFER}@{GEN_A}#2")
        assert looks.submission_ids == ()

    def test_follows_the_attempt_named_in_the_last_status_and_the_next(self) -> None:
        last = run(want(), sub(attempt=2, upto=Stage.PACKAGING)).status
        looks = pipeline.lookups(OFFER, GEN_A, last)
        assert looks.keys == (f"{OFFER}@{GEN_A}#2", f"{OFFER}@{GEN_A}#3")
        assert looks.submission_ids == ("sub-aaa-2",)

    def test_an_older_generations_submission_is_looked_up_by_id(self) -> None:
        last = run(want(), sub(upto=Stage.CERTIFICATION)).status
        looks = pipeline.lookups(OFFER, GEN_B, last)
        assert looks.keys == (f"{OFFER}@{GEN_B}", f"{OFFER}@{GEN_B}#2")
        assert looks.submission_ids == ("sub-aaa-1",)

    def test_lost_status_with_a_submission_found_does_not_submit_again(self) -> None:
        d = run(want(), sub(upto=Stage.CERTIFICATION), last=None)
        assert effectful(d) == []

    def test_a_resubmission_names_the_attempt_it_replaces_so_the_next_is_found(self) -> None:
        cancelled = sub(upto=Stage.VALIDATION, result=SubmissionResult.CANCELLED)
        d = run(want(), cancelled)
        looks = pipeline.lookups(OFFER, GEN_A, d.status)
        (submit,) = effectful(d)
        assert isinstance(submit, Submit)
        assert submit.idempotency_key in looks.keys


class TestPurity:
    """The pipeline module imports nothing that does I/O."""

    def test_pipeline_imports_only_data_and_time_modules(self) -> None:
        tree = ast.parse((ROOT / "controller" / "core" / "pipeline.py").read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                imported |= {
                    f"{base}.{alias.name}" if base in {"controller", "controller.core"} else base
                    for alias in node.names
                }
        allowed = {
            "__future__",
            "dataclasses",
            "datetime",
            "controller.core.eta",
            "controller.core.generation",  # short(): pure, see tests/test_layers.py
            "controller.marketplace.api",
            "controller.core.model",
        }
        assert imported <= allowed

    def test_eta_imports_no_io(self) -> None:
        text = (ROOT / "controller" / "core" / "eta.py").read_text()
        for forbidden in ("import os", "pathlib", "import time", "yaml", "git"):
            assert forbidden not in text
