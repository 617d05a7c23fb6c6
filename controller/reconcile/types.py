"""The data a reconcile pass passes between its steps, and the seams it is built from.

Plain values only: importing this module loads no git, no YAML, no file I/O, so
pure code (`controller.core.planning`) can name a pass's results without
loading the machinery that makes them. The steps are in `scope`, `evaluate`,
`converge`, `land` and `record`; `reconciler` lists them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from controller.core import pipeline, planning
from controller.core.model import Finding, OfferStatus, Phase, SignOffVerdict, Target
from controller.marketplace.api import OfferPayload

if TYPE_CHECKING:  # types only: the file source reads the file system or git
    from controller.repo.policy import Policy
    from controller.signoff.replay import Replay
    from controller.validation.files import FileSource

Clock = Callable[[], datetime]


# ---------------------------------------------------------------- seams


@dataclass(frozen=True, slots=True)
class OfferCheck:
    """What validation says about one offer folder at the commit being read."""

    generation: str  # "" when the manifest could not be read far enough to have one
    target: Target | None
    suspend: bool
    findings: tuple[Finding, ...]
    spec: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)  # offer-relative asset bytes


class Validate(Protocol):
    """Validate offers/<offer>/ as the commit holds it (through `files`)."""

    def __call__(self, files: FileSource, offer: str) -> OfferCheck: ...


@dataclass(frozen=True, slots=True)
class SignOffQuestion:
    """Everything the sign-off check needs to judge one offer's signoff.yaml."""

    offer: str
    generation: str
    commit: str  # the commit being reconciled
    files: FileSource
    policy: Policy
    # The last commit the controller reconciled on the branch ("": none known) and the
    # sign-off replay it found for this offer before (docs/DESIGN.md §5, "A replaced history").
    reconciled: str = ""
    remembered: Replay | None = None
    branch: str | None = None  # the watched branch (None: the one checked out)


class JudgeSignOff(Protocol):
    def __call__(self, question: SignOffQuestion) -> SignOffVerdict | None: ...


def no_signoff(question: SignOffQuestion) -> SignOffVerdict | None:
    """A judge that never finds a sign-off (sign-off evaluation not configured)."""
    return None


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Watch:
    """The branch a pass reads and writes: local (checked-out or named branch) or remote."""

    branch: str | None = None  # None: the branch checked out in the repository
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    offer: str
    before: Phase | None
    after: Phase

    def __str__(self) -> str:
        before = self.before.value if self.before else "New"
        return f"{self.offer} {before}\u2192{self.after.value}"


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one pass did."""

    base: str  # the commit read
    commit: str | None  # the status commit that landed on the branch; None: nothing changed
    full: bool  # every offer was evaluated (not an incremental pass)
    evaluated: tuple[str, ...]
    written: tuple[str, ...]  # offers whose status.yaml changed
    transitions: tuple[Transition, ...]
    in_flight: tuple[str, ...]  # offers the next pass will poll
    errors: Mapping[str, str]  # offer -> why it could not be brought forward this pass
    attempts: int = 1  # commits built before one landed
    # offer -> when the pipeline next expects news (its WaitUntil), in marketplace time;
    # in-flight offers missing here have no expected time (e.g. awaiting a review).
    wake_at: Mapping[str, datetime] = field(default_factory=dict)
    # offer -> the status the pass computed for it (evaluated offers that have one): what
    # notifications and transition logs read, never the committed status.yaml.
    statuses: Mapping[str, OfferStatus] = field(default_factory=dict)


PlannedOffer = planning.PlannedOffer  # defined in the pure core, which plans from it


# ---------------------------------------------------------------- between the steps


@dataclass(frozen=True, slots=True)
class Scope:
    """Which offers a pass evaluates (the `scope` step's answer)."""

    full: bool
    offers: frozenset[str] | None  # None: every offer in the snapshot


EVERY_OFFER = Scope(True, None)


@dataclass(slots=True)
class OfferInputs:
    """One offer's inputs to `converge` (the `evaluate` step's answer): no git in them."""

    offer: str
    last: OfferStatus | None  # the controller's own record (never status.yaml)
    committed: OfferStatus | None = None  # status.yaml at the commit: shown, never obeyed
    desired: pipeline.Desired | None = None  # None: the manifest is gone
    payload: OfferPayload | None = None
    verdict: SignOffVerdict | None = None
    prune: bool = False  # publishing.yaml: withdraw offers whose manifest is gone
    holiday_country: str = "US"  # publishing.yaml: whose holidays the ETAs skip

    @property
    def generation(self) -> str | None:
        return self.desired.generation if self.desired is not None else None

    def input(
        self, last: OfferStatus | None, observed: pipeline.Observation
    ) -> pipeline.PipelineInput:
        return pipeline.PipelineInput(
            offer=self.offer,
            desired=self.desired,
            last=last,
            observed=observed,
            prune=self.prune,
            holiday_country=self.holiday_country,
        )


@dataclass(slots=True)
class Outcome:
    """One offer after evaluation: its new status (None: leave status.yaml alone)."""

    offer: str
    # The phase status.yaml showed at the commit read, which transitions are told against:
    # only the phase, so that a pass of many offers in flight holds one status each.
    before: Phase | None
    after: OfferStatus | None
    in_flight: bool = False
    error: str = ""
    delete: bool = False  # remove status.yaml (manifest gone and nothing in the marketplace)
    actions: tuple[pipeline.Action, ...] = ()  # the last decision's actions (for `plan`)
    forget: bool = False  # the offer is gone for good: drop the controller's record of it
