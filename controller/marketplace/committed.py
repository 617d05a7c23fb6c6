"""A read-only stand-in for the marketplace, made of the statuses the controller committed.

`offerctl plan` in a clone that is not the controller's (a publisher's
laptop, a CI runner) has no marketplace to ask: the simulated one lives in
the controller's own git directory, and a fresh, empty one would say every
Live offer "will be resubmitted" (issue 11). There the plan is made from
what the controller last observed and committed: each offer's status.yaml
turned back into the submission and listing it describes.

This is a display of observations, never authority: every call that would
change anything raises, only `plan` uses it, and a status is shown only for
the folder it was committed in (a status naming another offer shows nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from controller.core.model import OfferStatus, Phase, Stage, StageState, Target

from .api import (
    MarketplaceError,
    NotFound,
    OfferListing,
    OfferPayload,
    StageProgress,
    Submission,
    SubmissionResult,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WITHDRAWN = frozenset({Phase.WITHDRAWN})
_WITHDRAWING = frozenset({Phase.WITHDRAWING})
_AFTER_SIGNOFF = frozenset({Stage.PUBLISHING, Stage.LIVE})
# What a phase says about the submission the status names.
_PENDING = frozenset({
    Phase.VALIDATING, Phase.CERTIFYING, Phase.PACKAGING, Phase.PREVIEW,
    Phase.AWAITING_SIGNOFF, Phase.PUBLISHING, Phase.GOING_LIVE,
})  # fmt: skip
_SUCCEEDED = frozenset({Phase.LIVE, Phase.WITHDRAWING, Phase.WITHDRAWN})
_FAILED = frozenset({Phase.REJECTED, Phase.FAILED})


class CommittedObservations:
    """The Marketplace read calls answered from committed statuses; write calls refused."""

    def __init__(self, statuses: Mapping[str, OfferStatus]) -> None:
        # Only a status committed in its own offer's folder describes that offer.
        self.statuses = {o: s for o, s in statuses.items() if s.offer == o}
        self._by_id: dict[str, Submission] = {}
        self._by_key: dict[str, Submission] = {}
        for value in self.statuses.values():
            submission = submission_of(value)
            if submission is not None:
                self._by_id.setdefault(submission.id, submission)
                self._by_key.setdefault(submission.idempotency_key, submission)

    def find(self, key: str) -> Submission | None:
        return self._by_key.get(key)

    def get(self, submission_id: str) -> Submission:
        try:
            return self._by_id[submission_id]
        except KeyError:
            raise NotFound(f"no committed status names submission {submission_id}") from None

    def listing(self, offer: str) -> OfferListing:
        value = self.statuses.get(offer)
        if value is None:
            return OfferListing(offer)
        return OfferListing(
            offer,
            live_generation=value.live_generation,
            withdrawn=value.phase in _WITHDRAWN,
            withdrawing=value.phase in _WITHDRAWING,
        )

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        raise _refused("submit")

    def go_live(self, submission_id: str) -> Submission:
        raise _refused("go live")

    def cancel(self, submission_id: str) -> Submission:
        raise _refused("cancel")

    def withdraw(self, offer: str) -> OfferListing:
        raise _refused("withdraw")


def submission_of(value: OfferStatus) -> Submission | None:
    """The submission a status describes, as far as the status tells it."""
    ref = value.submission
    if ref is None:
        return None
    stages = tuple(
        StageProgress(s.name, s.state, s.started_at, s.finished_at) for s in value.stages
    )
    if value.phase is Phase.PREVIEW:
        # Status shows the stages after the preview as Skipped (the target stops
        # there); the submission itself waits at SignOff, as it did when observed.
        stages = tuple(_waiting_at_signoff(s) for s in stages)
    started = [s.started_at for s in value.stages if s.started_at is not None]
    result = _result(value, stages)
    return Submission(
        id=ref.id,
        offer=value.offer,
        generation=ref.generation,
        idempotency_key=ref.idempotency_key,
        target=ref.target,
        created_at=min(started, default=_EPOCH),
        result=result,
        stages=stages,
        feedback=value.feedback if result is SubmissionResult.FAILED else (),
        preview_url=value.preview_url,
    )


def _waiting_at_signoff(stage: StageProgress) -> StageProgress:
    if stage.name is Stage.SIGNOFF:
        return StageProgress(stage.name, StageState.RUNNING, stage.started_at)
    if stage.name in _AFTER_SIGNOFF and stage.state is StageState.SKIPPED:
        return StageProgress(stage.name, StageState.PENDING)
    return stage


def _result(value: OfferStatus, stages: tuple[StageProgress, ...]) -> SubmissionResult:
    if value.phase in _PENDING:
        return SubmissionResult.PENDING
    if value.phase in _SUCCEEDED:
        return SubmissionResult.SUCCEEDED
    if value.phase in _FAILED:
        return SubmissionResult.FAILED
    # Draft, Invalid, Suspended, Orphaned: what the stages say.
    states = {s.name: s.state for s in stages}
    if StageState.FAILED in states.values():
        return SubmissionResult.FAILED
    if states.get(Stage.LIVE) is StageState.SUCCEEDED:
        return SubmissionResult.SUCCEEDED
    if StageState.RUNNING in states.values():
        return SubmissionResult.PENDING
    return SubmissionResult.CANCELLED  # stopped before the end with nothing running


def _refused(what: str) -> MarketplaceError:
    return MarketplaceError(
        f"cannot {what}: only the statuses the controller committed are known here",
        transient=False,
    )
