"""The `converge` step: observe -> decide -> act for one offer, against a `Marketplace`.

No git here: the step takes one offer's inputs (`OfferInputs`, made by
`evaluate`), a marketplace and a clock, and returns the offer's `Outcome`.
`converge` runs the fixpoint a reconcile pass runs (decide, run the actions,
observe again, decide again, at most MAX_ROUNDS); `preview` is the read-only
half `offerctl plan` runs (observe, decide once, act on nothing). The
hypothesis state machine (tests/reconcile/test_converge_stateful.py) drives this very
loop against the simulated marketplace.

Every submission observed is checked to belong to the offer it is observed
for (the marketplace names each submission's offer), and only such
submissions are acted on. A marketplace error sets a MarketplaceError
condition on the offer and keeps what is known.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from controller.core import pipeline
from controller.core.errors import FatalError
from controller.core.model import ConditionStatus, ConditionType, OfferStatus, Phase, StageState
from controller.core.redaction import Redactor
from controller.failpoint import AFTER_GO_LIVE, AFTER_SUBMIT, failpoint
from controller.marketplace.api import (
    Marketplace,
    MarketplaceError,
    NotFound,
    OfferListing,
    OfferPayload,
    Submission,
)
from controller.reconcile.types import Clock, OfferInputs, Outcome

log = logging.getLogger(__name__)

MAX_ROUNDS = 3  # decide -> act -> observe rounds per offer and pass
MAX_ATTEMPT_PROBES = 16  # later attempts of one generation looked up past the expected ones

# Phases in which the marketplace moves on its own: such offers are polled every pass.
POLLED_PHASES = frozenset({
    Phase.VALIDATING, Phase.CERTIFYING, Phase.PACKAGING, Phase.PUBLISHING,
    Phase.GOING_LIVE, Phase.WITHDRAWING,
})  # fmt: skip

# A marketplace's error text may quote a signed URL (SAS `sig=`) or a token; status.yaml,
# commit diffs and `offerctl reconcile` output get it with such values masked.
REDACT = Redactor()

# Told each decision as it is made, with the input it was made from (a trace for tests
# and tools; the step's result does not depend on it).
OnDecision = Callable[[pipeline.PipelineInput, pipeline.Decision], None]
# `pipeline.decide`, or what answers exactly as it does (`decisions.Decisions.decide`).
Decide = Callable[[pipeline.PipelineInput, datetime], pipeline.Decision]


def converge(
    inputs: OfferInputs,
    marketplace: Marketplace,
    clock: Clock,
    *,
    on_decision: OnDecision | None = None,
    decide: Decide = pipeline.decide,
) -> Outcome:
    """Decide, act, observe again, until nothing effectful is left (at most MAX_ROUNDS)."""
    previous = inputs.last
    decision: pipeline.Decision | None = None
    absent: set[str] = set()  # keys the marketplace said, this step, it has no submission for
    try:
        observed = observe(marketplace, inputs, previous, absent=absent)
        for _ in range(MAX_ROUNDS):
            asked = inputs.input(previous, observed)
            decision = decide(asked, clock())
            if on_decision is not None:
                on_decision(asked, decision)
            if not decision.effectful:
                break
            owned = frozenset(s.id for s in observed.submissions)
            returned = act(marketplace, inputs.offer, decision.effectful, inputs.payload, owned)
            previous = decision.status
            observed = observe(marketplace, inputs, previous, returned, absent=absent)
    except MarketplaceError as exc:
        return marketplace_failed(inputs, decision, exc, clock)
    return _settled(inputs, decision, observed.listing.drift, clock)


def preview(inputs: OfferInputs, marketplace: Marketplace, clock: Clock) -> Outcome:
    """What `converge` would decide first, with only the marketplace's read calls (no act)."""
    decision: pipeline.Decision | None = None
    try:
        observed = observe(marketplace, inputs, inputs.last)
        decision = pipeline.decide(inputs.input(inputs.last, observed), clock())
    except MarketplaceError as exc:
        return marketplace_failed(inputs, decision, exc, clock)
    return _settled(inputs, decision, observed.listing.drift, clock)


def _settled(
    inputs: OfferInputs, decision: pipeline.Decision | None, drift: str, clock: Clock
) -> Outcome:
    if decision is None:  # pragma: no cover - MAX_ROUNDS >= 1
        raise FatalError("no decision was made")
    after = pipeline.remove_condition(decision.status, ConditionType.MARKETPLACE_ERROR)
    after = pipeline.remove_condition(after, ConditionType.DRIFT)
    if drift:  # the marketplace's draft was edited outside offerctl
        after = pipeline.set_condition(
            after, ConditionType.DRIFT, ConditionStatus.TRUE, "Drift", REDACT(drift), now=clock()
        )
    if after == inputs.last:
        # Nothing new (a settle pass over a waiting offer): the record's own object, which the
        # record store and the rendered blob ids recognize by identity, unhashed.
        after = inputs.last
    return Outcome(
        inputs.offer,
        _phase(inputs.committed),
        after,
        in_flight=in_flight(decision),
        actions=decision.actions,
    )


def observe(
    marketplace: Marketplace,
    inputs: OfferInputs,
    last: OfferStatus | None,
    returned: Sequence[Submission] = (),
    *,
    absent: set[str] | None = None,
) -> pipeline.Observation:
    """What the marketplace says now: the submissions `pipeline.lookups` names, the listing.

    `last` is the controller's own record. Only submissions the marketplace
    says belong to the offer are kept: an id that names another offer's
    submission (a stale or tampered record) is dropped with a warning, so
    nothing is ever decided, let alone done, about another offer's work.

    `returned` are the marketplace's answers to this round's own calls (submit,
    go-live, cancel), a moment old: a submission one of them names is taken as
    answered, not asked for again by its key or id (a submit's answer is the
    very submission `find` would return for its key). `absent` carries, from
    one round of a step to the next, the keys `find` found nothing for: only
    this step's own submit makes a submission under one of the offer's keys,
    and its answer is in `returned`, so they are not asked again (a submission
    another writer makes meanwhile is found on the next pass, and the
    marketplace's idempotency keys keep it from being made twice). Every other
    key is looked up, and the listing is always read again.
    """
    offer, generation = inputs.offer, inputs.generation
    wanted = pipeline.lookups(offer, generation, last)
    found: dict[str, Submission] = {s.id: s for s in returned}
    answered = {s.idempotency_key for s in returned}
    read: set[str] = set(found)  # ids answered or read just now: not read again by id
    for key in wanted.keys:
        if key in answered or (absent is not None and key in absent):
            continue
        submission = marketplace.find(key)
        if submission is not None:
            found[submission.id] = submission
            read.add(submission.id)
        elif absent is not None:
            absent.add(key)
    if generation is not None and wanted.keys:
        later = _later_attempts(marketplace, offer, generation, wanted.keys[-1], found)
        found.update(later)
        read.update(later)
    for submission_id in wanted.submission_ids:
        if submission_id in read:
            continue  # the same submission, read a moment ago: a second read costs a call
        with contextlib.suppress(NotFound):  # a record naming an unknown id: ignore it
            found[submission_id] = marketplace.get(submission_id)
    mine = {i: s for i, s in found.items() if belongs(s, offer)}
    for submission_id in sorted(set(found) - set(mine)):
        log.warning(
            "offer %s: submission %s belongs to offer %r; ignored",
            offer,
            submission_id,
            found[submission_id].offer,
        )
    try:
        listing = marketplace.listing(offer)
    except NotFound:
        listing = OfferListing(offer)
    return pipeline.Observation(listing, tuple(mine.values()), inputs.verdict)


def _later_attempts(
    marketplace: Marketplace,
    offer: str,
    generation: str,
    last_key: str,
    found: Mapping[str, Submission],
) -> dict[str, Submission]:
    """Attempts after the last expected one, when that one exists (e.g. no record is left).

    `lookups` expects the attempt the record follows and the one after it;
    without a record it expects the first two. When the second exists there
    may be more: look them up by key, so a lost record never resubmits a
    generation that already has a later attempt in the marketplace.
    """
    if not any(s.idempotency_key == last_key for s in found.values()):
        return {}
    more: dict[str, Submission] = {}
    attempt = pipeline.attempt_of(last_key)
    for _ in range(MAX_ATTEMPT_PROBES):
        attempt += 1
        submission = marketplace.find(pipeline.attempt_key(offer, generation, attempt))
        if submission is None:
            break
        more[submission.id] = submission
    return more


def act(
    marketplace: Marketplace,
    offer: str,
    actions: Sequence[pipeline.Action],
    payload: OfferPayload | None,
    owned: frozenset[str],
) -> list[Submission]:
    """Run the actions in order; the first failure raises and ends the round.

    `owned` are the ids the marketplace just said belong to `offer`: a go-live
    or cancel of any other id is refused (the pipeline never asks for one).
    """
    returned: list[Submission] = []
    for action in actions:
        if isinstance(action, pipeline.GoLive | pipeline.Cancel) and (
            action.submission_id not in owned
        ):
            raise MarketplaceError(
                f"{offer}: refusing to act on submission {action.submission_id}, "
                "which the marketplace does not list as this offer's",
                transient=False,
            )
        if isinstance(action, pipeline.Submit):
            if payload is None:
                raise MarketplaceError(f"{offer}: nothing to submit", transient=False)
            returned.append(
                marketplace.submit(
                    action.offer,
                    action.generation,
                    action.target,
                    payload,
                    action.idempotency_key,
                )
            )
            failpoint(AFTER_SUBMIT)
        elif isinstance(action, pipeline.GoLive):
            returned.append(marketplace.go_live(action.submission_id))
            failpoint(AFTER_GO_LIVE)
        elif isinstance(action, pipeline.Cancel):
            returned.append(marketplace.cancel(action.submission_id))
        elif isinstance(action, pipeline.Withdraw):
            marketplace.withdraw(action.offer)
    return returned


def marketplace_failed(
    inputs: OfferInputs,
    decision: pipeline.Decision | None,
    exc: MarketplaceError,
    clock: Clock,
) -> Outcome:
    """Keep what is known, flag the error; the same error again changes nothing."""
    last = inputs.last  # the record: what is known
    base = decision.status if decision is not None else last
    if base is None:
        # First sight and the marketplace is down: what validation alone can tell.
        empty = pipeline.Observation(OfferListing(inputs.offer), (), inputs.verdict)
        base = pipeline.decide(inputs.input(None, empty), clock()).status
    # An adapter may name the condition and reason (e.g. Drift, PortalSubmissionInProgress).
    kind = getattr(exc, "condition", ConditionType.MARKETPLACE_ERROR)
    held = last.condition(kind) if last else None
    if held is not None and held.status is ConditionStatus.TRUE:
        reason, message = held.reason, held.message
    else:
        reason = getattr(exc, "reason", "") or (
            "MarketplaceUnavailable" if exc.transient else "MarketplaceCallFailed"
        )
        message = REDACT(str(exc)) or type(exc).__name__
    after = pipeline.set_condition(
        base,
        kind,
        ConditionStatus.TRUE,
        reason,
        message,
        now=clock(),
    )
    log.warning("offer %s: marketplace error: %s", inputs.offer, exc)
    return Outcome(
        inputs.offer, _phase(inputs.committed), after, in_flight=True, error=REDACT(str(exc))
    )


def in_flight(decision: pipeline.Decision) -> bool:
    """Whether the marketplace may move this offer without a commit: poll it next pass."""
    if decision.actions or decision.status.phase in POLLED_PHASES:
        return True
    return any(
        s.state is StageState.RUNNING and s.deadline is not None for s in decision.status.stages
    )


def belongs(submission: Submission, offer: str) -> bool:
    """Whether the marketplace lists `submission` as `offer`'s."""
    return submission.offer == offer


def _phase(status: OfferStatus | None) -> Phase | None:
    return status.phase if status is not None else None
