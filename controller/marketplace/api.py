"""The one narrow interface between offerctl and a marketplace.

Implementations: `simulated` (SQLite, embedded default) and `http` (a REST
client; `offerctl marketplace serve` exposes the simulated one over HTTP).
Data crossing the interface is plain frozen dataclasses from here and
`controller.core.model`, so the pipeline can reason about it without I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from controller.core.model import Finding, Stage, StageState, Target


class SubmissionResult(StrEnum):
    """Outcome of a submission, as the Product Ingestion API names jobResult."""

    PENDING = "pending"  # still moving (or waiting at SignOff for go-live)
    SUCCEEDED = "succeeded"  # reached Live
    FAILED = "failed"  # a stage failed; feedback says why
    CANCELLED = "cancelled"  # cancelled before sign-off (e.g. superseded by a new generation)


@dataclass(frozen=True, slots=True)
class StageProgress:
    name: Stage
    state: StageState
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """One publishing attempt of one generation of one offer.

    `offer` is the marketplace's own word on which offer the submission belongs
    to (never an echo of what the caller claims): the reconciler acts on a
    submission only when `offer` names the offer it is reconciling, so every
    implementation must fill it from its own records.

    Every submission runs Validation, Certification and Packaging, then waits
    at SignOff (Running) until `go_live` is called; a preview is available from
    then on (`preview_url`). A submission whose target is preview simply never
    gets a go-live; raising the target to live later promotes the same
    submission instead of submitting again.
    """

    id: str
    offer: str
    generation: str
    idempotency_key: str
    target: Target
    created_at: datetime
    result: SubmissionResult
    stages: tuple[StageProgress, ...]
    feedback: tuple[Finding, ...] = ()
    preview_url: str = ""

    def stage(self, name: Stage) -> StageProgress:
        for progress in self.stages:
            if progress.name == name:
                return progress
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class OfferListing:
    """What the marketplace says about an offer as a whole, beyond one submission."""

    offer: str
    live_generation: str = ""  # generation publicly available; "" if none
    withdrawn: bool = False  # stop-distribution completed
    withdrawing: bool = False  # stop-distribution requested, in progress
    # Fields of the marketplace's draft that changed outside offerctl since the last
    # generation it submitted, as a message for a Drift condition; "" when none is known.
    drift: str = ""


@dataclass(frozen=True, slots=True)
class OfferPayload:
    """What is submitted: the manifest's spec and the asset files it refers to.

    `files` maps offer-folder-relative paths to their bytes; certification
    inspects them (the technical package, logos, screenshots).
    """

    spec: Mapping[str, Any]
    files: Mapping[str, bytes]


class MarketplaceError(Exception):
    """A marketplace call failed. `transient` errors are worth retrying."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class NotFound(MarketplaceError):
    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class InvalidState(MarketplaceError):
    """The call does not fit the submission's state (e.g. cancel after sign-off): 409."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


def idempotency_key(offer: str, generation: str) -> str:
    """The key that makes a resubmission of the same generation return the same submission."""
    return f"{offer}@{generation}"


class Marketplace(Protocol):
    """The operations offerctl needs. Every call may raise MarketplaceError."""

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        """Start a submission; with a key seen before, return that submission unchanged."""
        ...

    def find(self, key: str) -> Submission | None:
        """The submission made with this idempotency key, if any."""
        ...

    def get(self, submission_id: str) -> Submission:
        """A submission's current progress and feedback."""
        ...

    def go_live(self, submission_id: str) -> Submission:
        """The publisher's sign-off: move a submission waiting at SignOff on to Publishing."""
        ...

    def cancel(self, submission_id: str) -> Submission:
        """Cancel a submission before sign-off; InvalidState afterwards."""
        ...

    def withdraw(self, offer: str) -> OfferListing:
        """Stop distribution of the live offer."""
        ...

    def listing(self, offer: str) -> OfferListing:
        """The offer's standing in the marketplace (live generation, withdrawn)."""
        ...
