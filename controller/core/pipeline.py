"""The publishing pipeline as one pure decision: what an offer's status is, and what to do next.

`decide(PipelineInput, now) -> Decision` is the whole logic. It reads what the
manifest asks for (`Desired`), what the marketplace reports (`Observation`)
and the last status (only for condition transition times), and returns the
new `OfferStatus` and the actions to take. It does no I/O and reads no clock:
the reconciler observes, calls `decide`, executes the actions in order
(stopping at the first that fails), observes again through `lookups`, and
calls `decide` again until no effectful action is left. So every decision is
idempotent: once the marketplace shows an action's effect, the action is not
asked for again; and `Submit` may safely repeat, because the marketplace
returns the existing submission for a known idempotency key.

The rules, in the order `decide` applies them:

1. Manifest deleted: the offer is `Orphaned` while anything of it is in the
   marketplace, and nothing is done, unless the repository policy prunes; then
   it is treated as target withdrawn.
2. Older generations never continue. An older generation's submission still
   in flight is cancelled if it has not passed sign-off. One that has passed
   sign-off cannot be cancelled (the marketplace answers InvalidState). We keep
   one publish per offer in progress, as Partner Center does, rather than race
   two go-lives whose order decides what ends up live: the current generation
   waits for the older one to settle and is submitted then (reason
   `PreviousGenerationPublishing`); the status follows that submission
   meanwhile (unless the current generation itself is still live, as after a
   revert: it is Live and Ready until the other one replaces it, and is then
   submitted again). A live version is never cancelled or withdrawn by an
   update: it stays live until the new generation replaces it.
3. Validation errors make the offer `Invalid` (stalled); nothing is submitted
   and in-flight submissions are cancelled, but what is live stays live.
4. Target draft: nothing is submitted; in-flight submissions are cancelled.
5. Target withdrawn: in-flight submissions are cancelled; the live offer is
   withdrawn (`Withdrawing`, then `Withdrawn`).
6. Target preview or live: the current generation is submitted once, under
   `api.idempotency_key(offer, generation)`. Its stages run Validation,
   Certification, Packaging, then SignOff waits: a preview target is reached
   there (`Preview`); a live target waits (`AwaitingSignOff`) until a valid
   sign-off of exactly this generation counts, then asks for Go Live
   (`Publishing`, `GoingLive`, `Live`). Raising preview to live promotes the
   same submission; lowering live to preview before Go Live stays at preview.
   Certification feedback makes it `Rejected` (stalled): the same generation is
   never resubmitted, a fixed spec (a new generation) is.
   A generation is submitted again only when its last submission was cancelled
   (target draft, or a spec reverted after a newer one superseded it) or was
   live and has since been replaced or withdrawn; the new attempt gets a new
   key (`<key>#2`, `#3`, ...) so the marketplace does not hand back the old one.
7. `spec.suspend`: the status still shows what the marketplace reports, but
   phase is `Suspended` and no action is taken.

Conditions: `Ready` (always; True exactly when the current generation has
reached the target), `Stalled` (only a user change helps), `SignedOff` (target
live), `SignOffStale`, `StageOverdue` (a stage running past its documented
maximum; see `eta`). `MarketplaceError` belongs to the reconciler, which sets
and clears it with `set_condition`/`remove_condition`; `decide` carries it
over unchanged. A condition keeps its lastTransitionTime while its status does
not change, and no message depends on the clock, so a pass that observes
nothing new produces an identical status.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from controller.core import eta
from controller.core.generation import short
from controller.core.model import (
    STAGE_MAX,
    STAGES,
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
    StageStatus,
    SubmissionRef,
    Target,
)
from controller.marketplace.api import (
    OfferListing,
    StageProgress,
    Submission,
    SubmissionResult,
    idempotency_key,
)

# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Desired:
    """What offer.yaml asks for, after validation."""

    target: Target
    generation: str
    suspend: bool = False
    observed_commit: str = ""
    findings: tuple[Finding, ...] = ()  # validation findings; any error makes the offer Invalid


@dataclass(frozen=True, slots=True)
class Observation:
    """What the marketplace and the sign-off check report, read just before deciding.

    `submissions`: every submission found through `lookups` (by idempotency key
    for the current generation, by id for the one the last status names), plus
    any an action just returned. `signoff`: the verdict on signoff.yaml, or None
    when there is none to judge.
    """

    listing: OfferListing
    submissions: tuple[Submission, ...] = ()
    signoff: SignOffVerdict | None = None


@dataclass(frozen=True, slots=True)
class PipelineInput:
    offer: str
    desired: Desired | None  # None: offer.yaml was deleted
    last: OfferStatus | None  # None on first sight, or when status.yaml was unreadable
    observed: Observation
    prune: bool = False  # publishing.yaml `prune`: withdraw offers whose manifest is deleted
    holiday_country: str = "US"  # public holidays that business days skip


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Submit:
    """Submit a generation; the marketplace dedups on `idempotency_key`."""

    offer: str
    generation: str
    target: Target
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class GoLive:
    """The publisher's Go Live, for a submission waiting at SignOff with a valid sign-off."""

    submission_id: str


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel a submission that has not passed sign-off."""

    submission_id: str


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Stop distribution of the live offer."""

    offer: str


@dataclass(frozen=True, slots=True)
class WaitUntil:
    """Nothing to do now; the marketplace is worth polling again at `when` (marketplace time)."""

    when: datetime


Action = Submit | GoLive | Cancel | Withdraw | WaitUntil


@dataclass(frozen=True, slots=True)
class Decision:
    status: OfferStatus
    actions: tuple[Action, ...] = ()

    @property
    def effectful(self) -> tuple[Action, ...]:
        """The actions that change the marketplace; the reconcile loop ends when none is left."""
        return tuple(a for a in self.actions if not isinstance(a, WaitUntil))


# ---------------------------------------------------------------- what to observe

ATTEMPT_SEPARATOR = "#"


def attempt_key(offer: str, generation: str, attempt: int) -> str:
    """The idempotency key of a generation's n-th submission: the plain key, then `#2`, `#3`..."""
    key = idempotency_key(offer, generation)
    return key if attempt <= 1 else f"{key}{ATTEMPT_SEPARATOR}{attempt}"


def attempt_of(key: str) -> int:
    _, separator, number = key.rpartition(ATTEMPT_SEPARATOR)
    return int(number) if separator and number.isdigit() else 1


@dataclass(frozen=True, slots=True)
class Lookups:
    """What the reconciler reads before `decide`: `find(key)` per key, `get(id)` per id."""

    keys: tuple[str, ...]
    submission_ids: tuple[str, ...]


def lookups(offer: str, generation: str | None, last: OfferStatus | None) -> Lookups:
    """The submissions `decide` needs to see for this offer.

    The current generation's attempt named in the last status (or the first
    attempt) and the one after it, so a submission made just before a crash
    is found rather than made again; and the submission the last status
    follows, which may be an older generation's still in flight.
    """
    ref = last.submission if last is not None else None
    ids = (ref.id,) if ref is not None else ()
    if generation is None:
        return Lookups(keys=(), submission_ids=ids)
    attempt = attempt_of(ref.idempotency_key) if ref and ref.generation == generation else 1
    keys = (attempt_key(offer, generation, attempt), attempt_key(offer, generation, attempt + 1))
    return Lookups(keys=keys, submission_ids=ids)


# ---------------------------------------------------------------- the decision


@dataclass(frozen=True, slots=True)
class _Plan:
    """One rule's verdict, before it is dressed up as a status."""

    phase: Phase
    ready: bool
    reason: Reason
    message: str
    actions: tuple[Action, ...] = ()
    follows: Submission | None = None  # the submission status names (`submission`)
    stages_of: Submission | None = None  # whose stages status shows; None: nothing running
    stalled: bool = False


def decide(inp: PipelineInput, now: datetime) -> Decision:
    """The new status of one offer and the actions that move it toward its target."""
    return finish(inp, prepare(inp), now)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `decide` concludes from its input without the clock or the last status: the
    plan, the stages and the feedback status shows. `finish` adds the rest."""

    plan: _Plan
    stages: tuple[StageStatus, ...]
    feedback: tuple[Finding, ...]
    shows_current: bool  # the stages shown are the current generation's


def prepare(inp: PipelineInput) -> Prepared:
    """The half of `decide` that reads neither `now` nor `inp.last`.

    So it is the same for equal (offer, desired, observed, prune, holiday_country),
    pass after pass while nothing changes (`controller.reconcile.decisions` keeps it)."""
    observed, desired = inp.observed, inp.desired
    if desired is None:
        plan = _manifest_deleted(inp.offer, observed, prune=inp.prune)
    else:
        plan = _toward_target(inp.offer, desired, observed)
        if desired.suspend:
            plan = _suspended(plan)
    target = desired.target if desired is not None else None
    generation = desired.generation if desired is not None else ""
    shown = plan.stages_of
    shows_current = shown is not None and shown.generation == generation
    feedback = desired.findings if desired is not None else ()
    if shows_current and shown is not None:
        feedback = (*feedback, *shown.feedback)
    stages = _stages(shown, target, inp.holiday_country)
    return Prepared(plan, stages, shown_feedback(feedback), shows_current)


def _toward_target(offer: str, desired: Desired, observed: Observation) -> _Plan:
    """Rules 2 to 6: one offer whose manifest is present."""
    current, older = _split(observed.submissions, desired.generation)
    plan = _rules(offer, desired, observed, current, older)
    if plan.follows is None and current is not None:
        # Name the newest attempt even when nothing runs (draft, withdrawn), so that
        # `lookups` goes on from it instead of from the first attempt.
        plan = replace(plan, follows=current)
    return plan


def _rules(
    offer: str,
    desired: Desired,
    observed: Observation,
    current: Submission | None,
    older: tuple[Submission, ...],
) -> _Plan:
    """`current`: the newest attempt of the desired generation; `older`: other generations'."""
    cancel_older = tuple(Cancel(s.id) for s in older if _cancellable(s))
    settling_older = next((s for s in older if _settling(s)), None)

    if any(f.severity is Severity.ERROR for f in desired.findings):
        return _invalid(desired, current, older, cancel_older)
    if desired.target is Target.DRAFT:
        return _draft(current, older)
    if desired.target is Target.WITHDRAWN:
        return _withdrawn(offer, current, older, observed.listing)
    if settling_older is not None and _live_generation(observed.listing) != desired.generation:
        return _wait_for_older(settling_older, desired.generation, cancel_older)
    plan = _publish(offer, desired, current, observed)
    return replace(plan, actions=cancel_older + plan.actions) if cancel_older else plan


def _wait_for_older(settling: Submission, generation: str, cancels: tuple[Cancel, ...]) -> _Plan:
    """Rule 2: an older generation is past sign-off; submit the current one once it settles."""
    return _Plan(
        _stage_phase(settling),
        ready=False,
        reason=Reason.PREVIOUS_GENERATION_PUBLISHING,
        message=(
            f"generation {short(settling.generation)} is past sign-off and cannot be "
            f"cancelled; generation {short(generation)} is submitted once it settles"
        ),
        actions=cancels,
        follows=settling,
        stages_of=settling,
    )


def _invalid(
    desired: Desired,
    current: Submission | None,
    older: tuple[Submission, ...],
    cancel_older: tuple[Cancel, ...],
) -> _Plan:
    cancels = cancel_older
    if current is not None and _cancellable(current):
        cancels = (*cancels, Cancel(current.id))
    errors = sum(1 for f in desired.findings if f.severity is Severity.ERROR)
    tracked = current if current is not None else _first_pending(older)
    return _Plan(
        Phase.INVALID,
        ready=False,
        reason=Reason.VALIDATION_FAILED,
        message=f"offer.yaml has {errors} validation error(s); see feedback and fix the manifest",
        actions=cancels,
        follows=tracked,
        stages_of=tracked,
        stalled=True,
    )


def _draft(current: Submission | None, older: tuple[Submission, ...]) -> _Plan:
    """Rule 4: nothing submitted; what is in flight is cancelled, or waited for past sign-off."""
    in_flight = _in_flight(current, older)
    cancels = tuple(Cancel(s.id) for s in in_flight if _cancellable(s))
    if cancels:
        return _Plan(
            Phase.DRAFT,
            ready=False,
            reason=Reason.CANCELLING,
            message="target draft: cancelling the submission in flight",
            actions=cancels,
            follows=in_flight[0],
            stages_of=in_flight[0],
        )
    if in_flight:
        return _past_signoff_wait(in_flight[0], "target draft")
    return _Plan(
        Phase.DRAFT,
        ready=True,
        reason=Reason.DRAFT,
        message="target draft: the manifest is valid and nothing is submitted",
    )


def _withdrawn(
    offer: str,
    current: Submission | None,
    older: tuple[Submission, ...],
    listing: OfferListing,
    why: str = "target withdrawn",
) -> _Plan:
    """Rule 5 (and a pruned deleted manifest): cancel what is in flight, withdraw what is live."""
    in_flight = _in_flight(current, older)
    cancels = tuple(Cancel(s.id) for s in in_flight if _cancellable(s))
    settling = next((s for s in in_flight if _settling(s)), None)
    if settling is not None:
        plan = _past_signoff_wait(settling, why)
        return replace(plan, actions=cancels)
    tracked = in_flight[0] if in_flight else None
    if listing.withdrawing and not listing.withdrawn:
        return _Plan(
            Phase.WITHDRAWING,
            ready=False,
            reason=Reason.WITHDRAWING,
            message=f"{why}: stop-distribution requested, waiting for the marketplace",
            actions=cancels,
            follows=tracked,
        )
    if _live_generation(listing):
        return _Plan(
            Phase.WITHDRAWING,
            ready=False,
            reason=Reason.WITHDRAWING,
            message=f"{why}: requesting stop-distribution of the live offer",
            actions=(*cancels, Withdraw(offer)),
            follows=tracked,
        )
    if cancels:
        return _Plan(
            Phase.WITHDRAWN,
            ready=False,
            reason=Reason.CANCELLING,
            message=f"{why}: cancelling the submission in flight",
            actions=cancels,
            follows=tracked,
            stages_of=tracked,
        )
    return _Plan(
        Phase.WITHDRAWN,
        ready=True,
        reason=Reason.WITHDRAWN,
        message=f"{why}: the offer is not available in the marketplace",
    )


def _publish(
    offer: str, desired: Desired, current: Submission | None, observed: Observation
) -> _Plan:
    """Rule 6: target preview or live, no older generation in the way."""
    listing, gen, target = observed.listing, desired.generation, desired.target
    if listing.withdrawing and not listing.withdrawn:
        return _Plan(
            Phase.WITHDRAWING,
            ready=False,
            reason=Reason.WITHDRAWING,
            message=f"a withdrawal is in progress; target {target} resumes once it completes",
            follows=current,
        )
    if current is None or _used_up(current, listing):
        if _live_generation(listing) == gen:
            return _live(target, gen, current)  # live already, though its submission is not known
        attempt = attempt_of(current.idempotency_key) + 1 if current else 1
        key = attempt_key(offer, gen, attempt)
        return _Plan(
            Phase.VALIDATING,
            ready=False,
            reason=Reason.SUBMITTING,
            message=f"submitting generation {short(gen)} for target {target}",
            actions=(Submit(offer, gen, target, key),),
            follows=current,  # names the attempt replaced, so `lookups` finds the next one
        )
    if current.result is SubmissionResult.FAILED:
        return _failed(current)
    if current.result is SubmissionResult.SUCCEEDED:
        return _live(target, gen, current)
    running = _running_stage(current)
    if _past_signoff(current):
        phase = _STAGE_PHASE[running]
        preview = target is Target.PREVIEW  # lowered after Go Live: the preview still exists
        reason = Reason.PREVIEW_READY if preview else _PHASE_REASON[phase]
        message = _stage_message(current, running)
        return _Plan(phase, preview, reason, message, (), current, current)
    if running is not Stage.SIGNOFF:
        phase = _STAGE_PHASE[running]
        message = _stage_message(current, running)
        return _Plan(phase, False, _PHASE_REASON[phase], message, (), current, current)
    return _at_signoff(desired, current, observed.signoff)


def _at_signoff(desired: Desired, current: Submission, verdict: SignOffVerdict | None) -> _Plan:
    """A preview is available; target preview is reached, target live needs a valid sign-off."""
    gen = desired.generation
    if desired.target is Target.PREVIEW:
        message = f"a preview of generation {short(gen)} is available"
        return _Plan(Phase.PREVIEW, True, Reason.PREVIEW_READY, message, (), current, current)
    if _signed_off(verdict, gen):
        message = f"generation {short(gen)} is signed off; requesting Go Live"
        actions: tuple[Action, ...] = (GoLive(current.id),)
        return _Plan(Phase.AWAITING_SIGNOFF, False, Reason.GO_LIVE_REQUESTED, message, actions,
                     current, current)  # fmt: skip
    message = (
        f"a preview of generation {short(gen)} is available; Go Live waits for a valid "
        f"sign-off of this generation (run `offerctl signoff`)"
    )
    return _Plan(Phase.AWAITING_SIGNOFF, False, Reason.AWAITING_SIGNOFF, message, (), current,
                 current)  # fmt: skip


def _failed(current: Submission) -> _Plan:
    errors = [f for f in current.feedback if f.severity is Severity.ERROR]
    gen = short(current.generation)
    if errors or _state(current, Stage.CERTIFICATION) is StageState.FAILED:
        message = (
            f"certification rejected generation {gen} with {len(errors)} finding(s); fix the "
            f"spec: the same generation is not submitted again"
        )
        return _Plan(Phase.REJECTED, False, Reason.CERTIFICATION_REJECTED, message, (), current,
                     current, stalled=True)  # fmt: skip
    message = (
        f"the marketplace failed submission {current.id} of generation {gen} without feedback; "
        f"change the spec to submit again"
    )
    return _Plan(Phase.FAILED, False, Reason.SUBMISSION_FAILED, message, (), current, current,
                 stalled=True)  # fmt: skip


def _live(target: Target, gen: str, current: Submission | None) -> _Plan:
    if target is Target.PREVIEW:
        message = (
            f"generation {short(gen)} is live, which includes its preview; "
            f"only target withdrawn stops distribution"
        )
        return _Plan(Phase.LIVE, True, Reason.PREVIEW_READY, message, (), current, current)
    message = f"generation {short(gen)} is live"
    return _Plan(Phase.LIVE, True, Reason.LIVE, message, (), current, current)


def _past_signoff_wait(submission: Submission, why: str) -> _Plan:
    return _Plan(
        _stage_phase(submission),
        ready=False,
        reason=Reason.PUBLISH_IN_PROGRESS,
        message=(
            f"{why}: submission {submission.id} is past sign-off "
            f"and cannot be cancelled; waiting for it to settle"
        ),
        follows=submission,
        stages_of=submission,
    )


def _manifest_deleted(offer: str, observed: Observation, *, prune: bool) -> _Plan:
    """Rule 1: no manifest. Prune withdraws; otherwise report, change nothing."""
    in_flight = tuple(s for s in observed.submissions if _pending(s))
    listing = observed.listing
    plan = _deleted_rules(offer, in_flight, listing, prune=prune)
    if plan.follows is None and observed.submissions:
        # Keep naming the last submission: if the manifest comes back, `lookups`
        # goes on from its attempt.
        plan = replace(plan, follows=observed.submissions[0])
    return plan


def _deleted_rules(
    offer: str, in_flight: tuple[Submission, ...], listing: OfferListing, *, prune: bool
) -> _Plan:
    if prune:
        return _withdrawn(offer, None, in_flight, listing, why="manifest deleted, prune on")
    withdrawing = listing.withdrawing and not listing.withdrawn
    if not (in_flight or _live_generation(listing) or withdrawing):
        return _Plan(
            Phase.WITHDRAWN,
            ready=True,
            reason=Reason.WITHDRAWN,
            message="offer.yaml was deleted and the offer is not in the marketplace",
        )
    tracked = in_flight[0] if in_flight else None
    return _Plan(
        Phase.ORPHANED,
        ready=False,
        reason=Reason.MANIFEST_DELETED,
        message=(
            "offer.yaml was deleted but the offer is still in the marketplace; restore the "
            "manifest, set target withdrawn, or enable prune in publishing.yaml"
        ),
        follows=tracked,
        stages_of=tracked,
    )


def _suspended(plan: _Plan) -> _Plan:
    """Rule 7: report as usual, act on nothing."""
    reason = plan.reason if plan.ready or plan.stalled else Reason.SUSPENDED
    message = f"spec.suspend is true, the controller changes nothing; {plan.message}"
    return replace(plan, phase=Phase.SUSPENDED, reason=reason, message=message, actions=())


# ---------------------------------------------------------------- reading submissions


def _split(
    submissions: tuple[Submission, ...], generation: str
) -> tuple[Submission | None, tuple[Submission, ...]]:
    """The current generation's latest attempt, and the other generations' submissions."""
    unique = {s.id: s for s in submissions}.values()
    mine = [s for s in unique if s.generation == generation]
    current = max(mine, key=lambda s: attempt_of(s.idempotency_key), default=None)
    older = tuple(s for s in unique if s.generation != generation)
    return current, older


def _pending(s: Submission) -> bool:
    return s.result is SubmissionResult.PENDING


def _state(s: Submission, stage: Stage) -> StageState:
    for progress in s.stages:
        if progress.name is stage:
            return progress.state
    return StageState.PENDING


def _past_signoff(s: Submission) -> bool:
    """Go Live was given: the marketplace no longer accepts a cancel.

    Stages after sign-off count only once they ran: a marketplace may report
    them Skipped up-front for a submission that is bound to fail earlier.
    """
    ran = (StageState.RUNNING, StageState.SUCCEEDED, StageState.FAILED)
    return _state(s, Stage.SIGNOFF) is StageState.SUCCEEDED or any(
        _state(s, stage) in ran for stage in (Stage.PUBLISHING, Stage.LIVE)
    )


def _cancellable(s: Submission) -> bool:
    return _pending(s) and not _past_signoff(s)


def _settling(s: Submission) -> bool:
    """In flight past sign-off: it will go live, and nothing can stop it."""
    return _pending(s) and _past_signoff(s)


def _in_flight(current: Submission | None, older: tuple[Submission, ...]) -> list[Submission]:
    return [s for s in (current, *older) if s is not None and _pending(s)]


def _first_pending(submissions: tuple[Submission, ...]) -> Submission | None:
    return next((s for s in submissions if _pending(s)), None)


def _used_up(s: Submission, listing: OfferListing) -> bool:
    """A settled submission that cannot serve the target any more, so a new attempt is due.

    Cancelled, or live once and since replaced by another generation or
    withdrawn. A failed submission is not used up: it stays Rejected/Failed.
    """
    if s.result is SubmissionResult.CANCELLED:
        return True
    if s.result is not SubmissionResult.SUCCEEDED:
        return False
    replaced = listing.live_generation not in ("", s.generation)
    return replaced or listing.withdrawn or listing.withdrawing


def _live_generation(listing: OfferListing) -> str:
    return "" if listing.withdrawn else listing.live_generation


def _running_stage(s: Submission) -> Stage:
    """The stage the submission is in: the first running one, else the first not yet started."""
    for state in (StageState.RUNNING, StageState.PENDING):
        for stage in STAGES:
            if _state(s, stage) is state:
                return stage
    return Stage.LIVE


_STAGE_PHASE: dict[Stage, Phase] = {
    Stage.VALIDATION: Phase.VALIDATING,
    Stage.CERTIFICATION: Phase.CERTIFYING,
    Stage.PACKAGING: Phase.PACKAGING,
    Stage.SIGNOFF: Phase.AWAITING_SIGNOFF,
    Stage.PUBLISHING: Phase.PUBLISHING,
    Stage.LIVE: Phase.GOING_LIVE,
}

_PHASE_REASON: dict[Phase, Reason] = {
    Phase.VALIDATING: Reason.VALIDATING,
    Phase.CERTIFYING: Reason.CERTIFYING,
    Phase.PACKAGING: Reason.PACKAGING,
    Phase.AWAITING_SIGNOFF: Reason.AWAITING_SIGNOFF,
    Phase.PUBLISHING: Reason.PUBLISHING,
    Phase.GOING_LIVE: Reason.GOING_LIVE,
}


def _stage_phase(s: Submission) -> Phase:
    return _STAGE_PHASE[_running_stage(s)]


def _stage_message(s: Submission, running: Stage) -> str:
    """`running`: `_running_stage(s)`, which the caller has at hand."""
    return f"generation {short(s.generation)}: stage {running} in progress"


def _signed_off(verdict: SignOffVerdict | None, generation: str) -> bool:
    return verdict is not None and verdict.valid and verdict.generation == generation


# ---------------------------------------------------------------- dressing the plan as a status

# How often a running stage is worth polling (marketplace time), below its deadline.
STAGE_POLL: dict[Stage, timedelta] = {
    Stage.VALIDATION: timedelta(minutes=1),
    Stage.CERTIFICATION: timedelta(hours=1),
    Stage.PACKAGING: timedelta(minutes=5),
    Stage.SIGNOFF: timedelta(hours=1),
    Stage.PUBLISHING: timedelta(minutes=5),
    Stage.LIVE: timedelta(hours=1),
}
WITHDRAW_POLL = timedelta(minutes=5)

_PROGRESSING = frozenset(
    {Phase.VALIDATING, Phase.CERTIFYING, Phase.PACKAGING, Phase.AWAITING_SIGNOFF,
     Phase.PUBLISHING, Phase.GOING_LIVE}
)  # fmt: skip


@dataclass(slots=True)
class EstimateMemo:
    """The last estimate `finish` made for one offer: of which stages, in which country,
    for which day (all `eta.estimate_live` reads of now). A caller keeps one per offer."""

    stages: tuple[StageStatus, ...] | None = None  # compared by identity: a kept plan's
    country: str = ""
    day: datetime | None = None
    value: date | None = None

    def estimate(self, stages: tuple[StageStatus, ...], now: datetime, country: str) -> date | None:
        """`eta.estimate_live(stages, now, country)`, made again only for other stages, another
        country or another day."""
        day = eta.start_of_day(now)
        if stages is not self.stages or country != self.country or day != self.day:
            self.stages, self.country, self.day = stages, country, day
            self.value = eta.estimate_live(stages, now, country)
        return self.value


def finish(
    inp: PipelineInput,
    prepared: Prepared,
    now: datetime,
    *,
    memo: EstimateMemo | None = None,
) -> Decision:
    """`decide` from its clock-free half (`prepare(inp)`): conditions with their transition
    times, the estimate (from `memo` when it holds this day's), the next poll."""
    desired, last, observed = inp.desired, inp.last, inp.observed
    plan, stages = prepared.plan, prepared.stages
    target = desired.target if desired is not None else None
    generation = desired.generation if desired is not None else ""
    shown = plan.stages_of
    commit_before = last.observed_commit if last is not None else ""
    estimated = ""
    current = shown is None or prepared.shows_current
    if target is Target.LIVE and plan.phase in _PROGRESSING and current:
        country = inp.holiday_country
        day = (memo or EstimateMemo()).estimate(stages, now, country)
        estimated = day.isoformat() if day is not None else ""
    status = OfferStatus(
        offer=inp.offer,
        phase=plan.phase,
        target=target,
        observed_generation=generation or (last.observed_generation if last else ""),
        observed_commit=desired.observed_commit if desired else commit_before,
        conditions=_conditions(inp, plan, stages, now),
        stages=stages,
        submission=_ref(plan.follows),
        feedback=prepared.feedback,
        estimated_live=estimated,
        live_generation=_live_generation(observed.listing),
        preview_url=shown.preview_url if prepared.shows_current and shown is not None else "",
        signoff=observed.signoff,
    )
    actions = plan.actions
    if not actions and plan.phase is not Phase.SUSPENDED:
        actions = _next_poll(plan, stages, now)
    return Decision(status=status, actions=actions)


# status.yaml is committed on every change: what a pull request can make it hold must be
# bounded. Validation and certification may find thousands of problems (one per member
# of a package, per locale of its input.xml); the status shows the first ones, and says
# how many more `offerctl validate` lists.
MAX_FEEDBACK = 100  # findings one status shows; then one that counts the rest
FEEDBACK_TEXT_CHARS = 2_000  # of a finding's message, path or file in status
FEEDBACK_OMITTED = "FeedbackOmitted"  # the code of the finding that counts the rest
_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def shown_feedback(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """`findings` as status shows them: each text cut to FEEDBACK_TEXT_CHARS, at most
    MAX_FEEDBACK of them (errors first, in their order), then one counting the others."""
    if len(findings) <= MAX_FEEDBACK:
        return tuple(_cut(f) for f in findings)
    ranked = sorted(range(len(findings)), key=lambda i: _RANK.get(findings[i].severity, 2))
    kept = sorted(ranked[:MAX_FEEDBACK])
    left_out = [findings[i] for i in ranked[MAX_FEEDBACK:]]
    errors = sum(1 for f in left_out if f.severity is Severity.ERROR)
    summary = Finding(
        FEEDBACK_OMITTED,
        f"{len(left_out):,} more findings ({errors:,} of them errors) are not shown in status; "
        "`offerctl validate` lists every validation finding",
        severity=min((f.severity for f in left_out), key=lambda s: _RANK.get(s, 2)),
    )
    return (*(_cut(findings[i]) for i in kept), summary)


def _cut(finding: Finding) -> Finding:
    limit = FEEDBACK_TEXT_CHARS
    if max(len(finding.message), len(finding.path), len(finding.file)) <= limit:
        return finding
    return replace(
        finding,
        message=_cut_text(finding.message, limit),
        path=_cut_text(finding.path, limit),
        file=_cut_text(finding.file, limit),
    )


def _cut_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ref(s: Submission | None) -> SubmissionRef | None:
    if s is None:
        return None
    return SubmissionRef(s.id, s.generation, s.idempotency_key, s.target)


_AFTER_PREVIEW = (Stage.SIGNOFF, Stage.PUBLISHING, Stage.LIVE)
_NOT_DONE = (StageState.PENDING, StageState.RUNNING)
# The stages no submission reports, made once: a status is immutable, so every offer's
# statuses share them (`_stages` makes six per decision).
_PENDING = {name: StageStatus(name, StageState.PENDING) for name in STAGES}
_SKIPPED = {name: StageStatus(name, StageState.SKIPPED) for name in STAGES}


def _stages(
    shown: Submission | None, target: Target | None, country: str
) -> tuple[StageStatus, ...]:
    """All six stages in order: the shown submission's progress, Skipped where the target stops."""
    result = []
    reported: dict[Stage, StageProgress] = {}
    for p in shown.stages if shown is not None else ():
        reported.setdefault(p.name, p)  # the first report of a stage counts
    stops_before = target is not Target.LIVE and not (shown and _past_signoff(shown))
    # Unreported stages: Pending while something runs or will, Skipped for draft and
    # withdrawn (nothing will run).
    unreported = (
        _PENDING if shown is not None or target in (Target.PREVIEW, Target.LIVE) else _SKIPPED
    )
    for name in STAGES:
        cut = stops_before and name in _AFTER_PREVIEW  # what is not done there is Skipped
        progress = reported.get(name)
        if progress is None:
            stage = _SKIPPED[name] if cut else unreported[name]
        elif cut and progress.state in _NOT_DONE:
            stage = _SKIPPED[name]
        elif progress.state is StageState.RUNNING and progress.started_at is not None:
            deadline = eta.stage_deadline(name, progress.started_at, country)
            stage = StageStatus(
                name, progress.state, progress.started_at, progress.finished_at, deadline
            )
        elif (
            progress.started_at is None
            and progress.finished_at is None
            and (progress.state is StageState.PENDING or progress.state is StageState.SKIPPED)
        ):  # reported as it stands unreported: the shared one (equal, as a status compares)
            stage = (_PENDING if progress.state is StageState.PENDING else _SKIPPED)[name]
        else:
            stage = StageStatus(name, progress.state, progress.started_at, progress.finished_at)
        result.append(stage)
    return tuple(result)


def _conditions(
    inp: PipelineInput, plan: _Plan, stages: tuple[StageStatus, ...], now: datetime
) -> tuple[Condition, ...]:
    """Ready, then the others that apply, in a fixed order; transition times carried over."""
    wanted: list[tuple[ConditionType, ConditionStatus, str, str]] = [
        (ConditionType.READY, _bool(plan.ready), plan.reason, plan.message)
    ]
    if plan.stalled:
        wanted.append((ConditionType.STALLED, ConditionStatus.TRUE, plan.reason, plan.message))
    desired, verdict = inp.desired, inp.observed.signoff
    generation = desired.generation if desired is not None else ""
    if desired is not None and desired.target is Target.LIVE:
        wanted.append(_signed_off_condition(verdict, desired.generation))
    stale = verdict is not None and verdict.generation not in ("", generation)
    if desired is not None and verdict is not None and stale:
        message = (
            f"signoff.yaml approves generation {short(verdict.generation)}, not the current "
            f"generation {short(desired.generation)}; it is ignored"
        )
        wanted.append(
            (ConditionType.SIGNOFF_STALE, ConditionStatus.TRUE, Reason.SIGNOFF_STALE, message)
        )
    overdue = _overdue(stages, now)
    if overdue is not None:
        wanted.append(overdue)
    result = [_condition(inp.last, *w, now=now) for w in wanted]
    for kind in (ConditionType.MARKETPLACE_ERROR, ConditionType.DRIFT):
        carried = inp.last.condition(kind) if inp.last else None
        if carried is not None:
            result.append(carried)
    return tuple(result)


def _signed_off_condition(
    verdict: SignOffVerdict | None, generation: str
) -> tuple[ConditionType, ConditionStatus, str, str]:
    kind = ConditionType.SIGNED_OFF
    if verdict is None:
        return kind, ConditionStatus.FALSE, Reason.SIGNOFF_MISSING, "no signoff.yaml for this offer"
    if _signed_off(verdict, generation):
        approvers = ", ".join(verdict.approvers) or "nobody named"
        message = verdict.message or f"signed off; approved by {approvers}"
        return kind, ConditionStatus.TRUE, Reason.SIGNOFF_ACCEPTED, message
    if verdict.generation not in ("", generation):
        message = f"signoff.yaml approves generation {short(verdict.generation)}"
        return kind, ConditionStatus.FALSE, Reason.SIGNOFF_STALE, message
    reason = verdict.reason if _is_camel(verdict.reason) else Reason.SIGNOFF_MISSING
    if reason == Reason.SIGNOFF_ACCEPTED:  # valid verdict of nothing in particular
        reason = Reason.SIGNOFF_MISSING
    return kind, ConditionStatus.FALSE, reason, verdict.message


def _overdue(
    stages: tuple[StageStatus, ...], now: datetime
) -> tuple[ConditionType, ConditionStatus, str, str] | None:
    """StageOverdue for the running stage past its deadline; the message names the deadline,
    not a growing overrun, so it does not change from pass to pass."""
    for stage in stages:
        running = stage.state is StageState.RUNNING
        if running and stage.deadline is not None and now > stage.deadline:
            maximum = STAGE_MAX[stage.name]
            message = (
                f"stage {stage.name} has run past its documented maximum of "
                f"{_duration(maximum)}: overdue since {stage.deadline.isoformat()}"
            )
            reason = Reason(f"{stage.name}Overdue")
            return ConditionType.STAGE_OVERDUE, ConditionStatus.TRUE, reason, message
    return None


def _duration(maximum: timedelta | None) -> str:
    if maximum is None:
        return "none"
    if maximum >= eta.DAY:
        return f"{eta.business_days(maximum)} business days"
    minutes = int(maximum.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def _next_poll(plan: _Plan, stages: tuple[StageStatus, ...], now: datetime) -> tuple[Action, ...]:
    """When the marketplace is worth asking again: soon while a timed stage runs, never at rest."""
    if plan.phase is Phase.WITHDRAWING:
        return (WaitUntil(now + WITHDRAW_POLL),)
    for stage in stages:
        if stage.state is StageState.RUNNING and stage.deadline is not None:
            soon = now + STAGE_POLL[stage.name]
            return (WaitUntil(min(soon, stage.deadline) if stage.deadline > now else soon),)
    return ()


def _bool(value: bool) -> ConditionStatus:
    return ConditionStatus.TRUE if value else ConditionStatus.FALSE


def _is_camel(reason: str) -> bool:
    return bool(reason) and reason[0].isupper() and reason.isascii() and reason.isalnum()


def _condition(
    last: OfferStatus | None,
    type_: ConditionType,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    now: datetime,
) -> Condition:
    before = last.condition(type_) if last is not None else None
    since = before.last_transition_time if before and before.status is status else now
    return Condition(type_, status, str(reason), message, since)


# ---------------------------------------------------------------- for the reconciler


def set_condition(
    status: OfferStatus,
    type_: ConditionType,
    value: ConditionStatus,
    reason: str,
    message: str,
    *,
    now: datetime,
) -> OfferStatus:
    """`status` with one condition set (lastTransitionTime kept if its True/False is unchanged)."""
    new = _condition(status, type_, value, reason, message, now=now)
    others = tuple(c for c in status.conditions if c.type is not type_)
    return replace(status, conditions=(*others, new))


def remove_condition(status: OfferStatus, type_: ConditionType) -> OfferStatus:
    """`status` without the condition `type_` (`status` itself when it has none)."""
    if all(c.type is not type_ for c in status.conditions):
        return status  # the common case, spared a copy (`replace` is dear)
    return replace(status, conditions=tuple(c for c in status.conditions if c.type is not type_))
