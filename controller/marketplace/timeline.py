"""The simulated marketplace's clockwork: where a submission stands at a given instant.

Pure. A stored `SubmissionRecord` (when it was made, the stage durations drawn
for it, when it was signed off or cancelled, what certification found) and an
instant give the `Submission` the marketplace reports; the records of one
offer plus its withdrawals give its `OfferListing`. Nothing runs in the
background: state is recomputed from these facts on every read.

Times are POSIX seconds on the simulator's clock. Durations are drawn in
marketplace seconds (within the documented maximums) and divided by the
submission's time scale, so at a scale of 1,000,000 a week of certification
takes 0.6 s of clock.

Rules:
- Validation, Certification, Packaging run back to back; a stage with error
  findings fails when its drawn duration ends; later stages are Skipped.
- SignOff starts when Packaging ends (a preview is available from then on) and
  runs until `go_live`; Publishing then Live follow; the submission succeeds
  when Live ends.
- A cancelled submission skips the stage that was running and all later ones.
- Findings are reported once the stage that found them has finished.
- The live generation is that of the most recently signed-off submission
  whose Live stage has ended; a submission that was signed off earlier but
  finishes later does not displace it. A withdrawal takes the offer down after
  its duration unless a submission goes live after the withdrawal was asked.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from controller.core.model import STAGE_MAX, STAGES, Finding, Stage, StageState, Target

from .api import OfferListing, StageProgress, Submission, SubmissionResult

PRE_SIGNOFF: tuple[Stage, ...] = (Stage.VALIDATION, Stage.CERTIFICATION, Stage.PACKAGING)
POST_SIGNOFF: tuple[Stage, ...] = (Stage.PUBLISHING, Stage.LIVE)

# Drawn durations fall between these fractions of the documented maximum, most
# often near the middle: a marketplace that always takes the maximum (or no
# time) would hide ETA and ordering bugs.
LOW, MODE, HIGH = 0.2, 0.5, 1.0
WITHDRAW_MAX_SECONDS = 3600.0  # stop-distribution completes within an hour
PREVIEW_BASE = "https://preview.marketplace.example/offers"


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    """What the simulator stores about one submission; everything else is derived."""

    seq: int  # insertion order in the store
    id: str
    key: str
    offer: str
    generation: str
    target: Target
    created_at: float
    time_scale: float
    durations: Mapping[Stage, float]  # marketplace seconds, for every stage but SignOff
    findings: tuple[Finding, ...] = ()
    fail_stage: Stage | None = None
    go_live_at: float | None = None
    go_live_seq: int | None = None  # order of sign-offs across the offer's submissions
    cancelled_at: float | None = None


@dataclass(frozen=True, slots=True)
class WithdrawalRecord:
    seq: int
    offer: str
    requested_at: float
    done_at: float


@dataclass(slots=True)
class _Span:
    start: float | None
    end: float | None  # None: open-ended (SignOff before go-live)
    final: StageState = StageState.SUCCEEDED
    # Never runs (an earlier stage fails, or a cancel comes first): Skipped from this
    # instant on, Pending before it, so a coming failure is not visible ahead of time.
    skipped_at: float | None = None
    cut: float | None = field(default=None)  # cancelled while running, at this instant


def draw_durations(seed: int, key: str) -> dict[Stage, float]:
    """Stage durations for a submission: reproducible for (seed, idempotency key)."""
    rng = random.Random(f"{seed}\x00{key}")  # noqa: S311 - simulation, not security
    out: dict[Stage, float] = {}
    for stage in STAGES:
        maximum = STAGE_MAX[stage]
        if maximum is not None:
            out[stage] = rng.triangular(LOW, HIGH, MODE) * maximum.total_seconds()
    return out


def draw_withdraw_seconds(seed: int, offer: str, count: int) -> float:
    rng = random.Random(f"{seed}\x00withdraw\x00{offer}\x00{count}")  # noqa: S311
    return rng.uniform(0.1, 1.0) * WITHDRAW_MAX_SECONDS


def clock_seconds(record: SubmissionRecord, stage: Stage) -> float:
    """How long a stage of this submission takes on the simulator's clock."""
    return record.durations[stage] / record.time_scale


def live_ends_at(record: SubmissionRecord) -> float | None:
    if record.go_live_at is None:
        return None
    return (
        record.go_live_at
        + clock_seconds(record, Stage.PUBLISHING)
        + clock_seconds(record, Stage.LIVE)
    )


def signoff_starts_at(record: SubmissionRecord) -> float:
    return record.created_at + sum(clock_seconds(record, s) for s in PRE_SIGNOFF)


def _spans(record: SubmissionRecord) -> dict[Stage, _Span]:
    """The planned schedule, with failure and cancellation applied (but not 'now')."""
    spans: dict[Stage, _Span] = {}
    t = record.created_at
    failed_at: float | None = None
    for stage in PRE_SIGNOFF:
        if failed_at is not None:
            spans[stage] = _Span(None, None, skipped_at=failed_at)
            continue
        end = t + clock_seconds(record, stage)
        failed = record.fail_stage == stage
        spans[stage] = _Span(t, end, StageState.FAILED if failed else StageState.SUCCEEDED)
        failed_at = end if failed else None
        t = end
    if failed_at is not None:
        for stage in (Stage.SIGNOFF, *POST_SIGNOFF):
            spans[stage] = _Span(None, None, skipped_at=failed_at)
    else:
        spans[Stage.SIGNOFF] = _Span(t, record.go_live_at)
        t_post = record.go_live_at
        for stage in POST_SIGNOFF:
            if t_post is None:
                spans[stage] = _Span(None, None)
                continue
            end = t_post + clock_seconds(record, stage)
            spans[stage] = _Span(t_post, end)
            t_post = end
    if record.cancelled_at is not None:
        _cancel(spans, record.cancelled_at)
    return spans


def _cancel(spans: dict[Stage, _Span], at: float) -> None:
    for span in spans.values():
        if span.skipped_at is not None:
            span.skipped_at = min(span.skipped_at, at)
        elif span.start is None or span.start > at:
            span.skipped_at = at
        elif span.end is None or span.end > at:
            span.cut = at


# A stage without times (not started yet, or skipped before it started) reads the same
# on every submission: made once and shared, as the values are frozen.
_UNTIMED: dict[tuple[Stage, StageState], StageProgress] = {
    (stage, state): StageProgress(stage, state)
    for stage in STAGES
    for state in (StageState.PENDING, StageState.SKIPPED)
}


def _progress(stage: Stage, span: _Span, now: float) -> StageProgress:
    if span.cut is not None and span.cut <= now:
        return StageProgress(stage, StageState.SKIPPED, _dt(span.start), _dt(span.cut))
    if span.skipped_at is not None:
        skipped = span.skipped_at <= now
        return _UNTIMED[stage, StageState.SKIPPED if skipped else StageState.PENDING]
    if span.start is None or now < span.start:
        return _UNTIMED[stage, StageState.PENDING]
    if span.end is None or now < span.end:
        return StageProgress(stage, StageState.RUNNING, _dt(span.start))
    return StageProgress(stage, span.final, _dt(span.start), _dt(span.end))


_FINISHED = frozenset({StageState.SUCCEEDED, StageState.FAILED})
_SIGNOFF, _LIVE = STAGES.index(Stage.SIGNOFF), STAGES.index(Stage.LIVE)


def submission_at(record: SubmissionRecord, now: float) -> Submission:
    """The submission as the marketplace reports it at `now`."""
    spans = _spans(record)
    stages = tuple([_progress(stage, spans[stage], now) for stage in STAGES])
    states = [p.state for p in stages]  # in STAGES order
    if record.cancelled_at is not None and record.cancelled_at <= now:
        result = SubmissionResult.CANCELLED
    elif StageState.FAILED in states:
        result = SubmissionResult.FAILED
    elif states[_LIVE] == StageState.SUCCEEDED:
        result = SubmissionResult.SUCCEEDED
    else:
        result = SubmissionResult.PENDING
    feedback: tuple[Finding, ...] = ()
    if record.findings:
        finished = {p.name for p in stages if p.state in _FINISHED}
        feedback = tuple(f for f in record.findings if f.stage in finished)
    preview = ""
    if states[_SIGNOFF] in (StageState.RUNNING, StageState.SUCCEEDED):
        preview = f"{PREVIEW_BASE}/{record.offer}/{record.id}"
    return Submission(
        id=record.id,
        offer=record.offer,
        generation=record.generation,
        idempotency_key=record.key,
        target=record.target,
        created_at=_dt_required(record.created_at),
        result=result,
        stages=stages,
        feedback=feedback,
        preview_url=preview,
    )


def listing_at(
    offer: str,
    records: Sequence[SubmissionRecord],
    withdrawals: Sequence[WithdrawalRecord],
    now: float,
) -> OfferListing:
    """The offer's standing at `now`, from its submissions and withdrawals."""
    ended = [
        (end, rec)
        for rec in records
        if rec.go_live_seq is not None and (end := live_ends_at(rec)) is not None and end <= now
    ]
    asked = [w for w in withdrawals if w.requested_at <= now]
    last = max(asked, key=lambda w: w.seq) if asked else None
    relisted = [(e, r) for e, r in ended if last is None or e > last.requested_at]
    if relisted:
        return OfferListing(offer, live_generation=_latest_signed_off(relisted))
    if last is None:
        return OfferListing(offer)
    if now < last.done_at:
        before = [(e, r) for e, r in ended if e <= last.requested_at]
        live = _latest_signed_off(before) if before else ""
        return OfferListing(offer, live_generation=live, withdrawing=True)
    return OfferListing(offer, withdrawn=True)


def _latest_signed_off(ended: Sequence[tuple[float, SubmissionRecord]]) -> str:
    _, record = max(ended, key=lambda pair: pair[1].go_live_seq or 0)
    return record.generation


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _dt_required(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
