"""The names offerctl speaks in, and the plain data its layers pass around.

Everything here is a documented constant or a frozen dataclass: no I/O, no
library imports beyond the standard library. The pipeline decides with these
types, the reconciler moves them, the status module turns them into YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

API_VERSION = "offers.marketplace/v1"


class Target(StrEnum):
    """What a manifest's `spec.target` asks for."""

    DRAFT = "draft"  # validate only; nothing is submitted
    PREVIEW = "preview"  # Validation -> Certification -> Packaging, stop with a preview
    LIVE = "live"  # the whole pipeline; Publishing waits for sign-off
    WITHDRAWN = "withdrawn"  # stop selling a live offer


class Phase(StrEnum):
    """Where an offer stands, as written to `status.yaml`'s `phase`."""

    INVALID = "Invalid"  # the manifest fails validation; the user must fix it
    DRAFT = "Draft"  # target draft: validated, nothing submitted
    VALIDATING = "Validating"  # stage Validation running
    CERTIFYING = "Certifying"  # stage Certification running
    PACKAGING = "Packaging"  # stage Packaging running
    PREVIEW = "Preview"  # target preview reached: a preview is available
    AWAITING_SIGNOFF = "AwaitingSignOff"  # target live: preview ready, waiting for Go Live
    PUBLISHING = "Publishing"  # stage Publishing running
    GOING_LIVE = "GoingLive"  # stage Live running (replication to all regions)
    LIVE = "Live"  # the current generation is publicly available
    REJECTED = "Rejected"  # certification returned feedback; the user must fix the spec
    FAILED = "Failed"  # the marketplace failed the submission for another reason
    SUSPENDED = "Suspended"  # spec.suspend: the controller observes but changes nothing
    WITHDRAWING = "Withdrawing"  # stop-distribution requested, not yet confirmed
    WITHDRAWN = "Withdrawn"  # not available in the marketplace any more
    ORPHANED = "Orphaned"  # manifest deleted, offer still in the marketplace


class Stage(StrEnum):
    """The marketplace's publishing stages, in pipeline order."""

    VALIDATION = "Validation"
    CERTIFICATION = "Certification"
    PACKAGING = "Packaging"
    SIGNOFF = "SignOff"
    PUBLISHING = "Publishing"
    LIVE = "Live"


STAGES: tuple[Stage, ...] = tuple(Stage)

# Documented maximum duration of each stage; None: waits for the publisher.
STAGE_MAX: dict[Stage, timedelta | None] = {
    Stage.VALIDATION: timedelta(minutes=15),
    Stage.CERTIFICATION: timedelta(weeks=1),
    Stage.PACKAGING: timedelta(hours=1),
    Stage.SIGNOFF: None,
    Stage.PUBLISHING: timedelta(hours=1),
    Stage.LIVE: timedelta(days=4),
}


class StageState(StrEnum):
    """State of one stage of one submission."""

    PENDING = "Pending"  # not started
    RUNNING = "Running"  # started, not finished
    SUCCEEDED = "Succeeded"  # finished well
    FAILED = "Failed"  # finished with a failure (feedback says why)
    SKIPPED = "Skipped"  # will not run for this target (or was cancelled)


class ConditionType(StrEnum):
    """Condition types in `status.yaml`; each is True, False or Unknown."""

    READY = "Ready"  # True when the offer has reached its target
    STALLED = "Stalled"  # True when only a change by the user can make progress
    SIGNED_OFF = "SignedOff"  # True when a valid sign-off of the current generation counts
    SIGNOFF_STALE = "SignOffStale"  # True when signoff.yaml approves another generation
    STAGE_OVERDUE = "StageOverdue"  # True when a stage runs past its documented maximum
    MARKETPLACE_ERROR = "MarketplaceError"  # True when the last marketplace call failed
    DRIFT = "Drift"  # True when the marketplace's draft was edited outside offerctl


class Reason(StrEnum):
    """CamelCase reasons the pipeline writes into conditions; users and tests match on them."""

    # Ready=False, stalled: only a change by the user helps
    VALIDATION_FAILED = "ValidationFailed"  # the manifest fails validation (phase Invalid)
    CERTIFICATION_REJECTED = "CertificationRejected"  # certification returned feedback (Rejected)
    SUBMISSION_FAILED = "SubmissionFailed"  # the marketplace failed the submission (Failed)
    # Ready=False, progressing
    SUBMITTING = "Submitting"  # the current generation is being submitted
    CANCELLING = "Cancelling"  # an in-flight submission is being cancelled
    VALIDATING = "Validating"  # stage Validation running
    CERTIFYING = "Certifying"  # stage Certification running
    PACKAGING = "Packaging"  # stage Packaging running
    AWAITING_SIGNOFF = "AwaitingSignOff"  # preview ready; waiting for a valid sign-off
    GO_LIVE_REQUESTED = "GoLiveRequested"  # valid sign-off: go-live is being requested
    PUBLISHING = "Publishing"  # stage Publishing running
    GOING_LIVE = "GoingLive"  # stage Live running
    PREVIOUS_GENERATION_PUBLISHING = "PreviousGenerationPublishing"  # an older generation is
    # past sign-off (cannot be cancelled); the current one is submitted when it settles
    PUBLISH_IN_PROGRESS = "PublishInProgress"  # past sign-off, cannot be stopped; waiting
    WITHDRAWING = "Withdrawing"  # stop-distribution requested, not yet confirmed
    SUSPENDED = "Suspended"  # spec.suspend: observing only
    MANIFEST_DELETED = "ManifestDeleted"  # offer.yaml deleted, offer still in the marketplace
    # Ready=True
    DRAFT = "Draft"  # target draft: validated, nothing in flight
    PREVIEW_READY = "PreviewReady"  # target preview: a preview of the current generation exists
    LIVE = "Live"  # the current generation is publicly available
    WITHDRAWN = "Withdrawn"  # nothing of the offer is available in the marketplace
    # SignedOff / SignOffStale
    SIGNOFF_ACCEPTED = "SignOffAccepted"  # a valid sign-off of the current generation counts
    SIGNOFF_MISSING = "SignOffMissing"  # no signoff.yaml (or no verdict yet)
    SIGNOFF_STALE = "SignOffStale"  # signoff.yaml approves another generation
    # StageOverdue: "<Stage>Overdue", one per timed stage
    VALIDATION_OVERDUE = "ValidationOverdue"
    CERTIFICATION_OVERDUE = "CertificationOverdue"
    PACKAGING_OVERDUE = "PackagingOverdue"
    PUBLISHING_OVERDUE = "PublishingOverdue"
    LIVE_OVERDUE = "LiveOverdue"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in an offer: by validation or by the marketplace's certification.

    `path` is a JSON path into the manifest (``$.spec.listings.en-us.name``) or
    empty when the finding is about the offer as a whole.
    """

    code: str  # CamelCase, stable: tests and users match on it
    message: str
    path: str = ""
    stage: str = ""  # marketplace stage that reported it; "" for local validation
    severity: Severity = Severity.ERROR
    file: str = ""  # repo-relative file, for local validation findings
    line: int = 0  # 1-based; 0 when unknown
    column: int = 0  # 1-based; 0 when unknown


@dataclass(frozen=True, slots=True)
class Condition:
    type: ConditionType
    status: ConditionStatus
    reason: str  # CamelCase
    message: str
    last_transition_time: datetime


@dataclass(frozen=True, slots=True)
class StageStatus:
    name: Stage
    state: StageState = StageState.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline: datetime | None = None  # started_at + documented maximum, while running


@dataclass(frozen=True, slots=True)
class SubmissionRef:
    """The marketplace submission that status describes."""

    id: str
    generation: str
    idempotency_key: str
    target: Target


@dataclass(frozen=True, slots=True)
class SignOffVerdict:
    """Whether the offer's signoff.yaml counts, decided by the sign-off module.

    The pipeline only reads it: `valid` means an authorized, reviewed sign-off of
    `generation` is on the watched branch.
    """

    valid: bool
    generation: str = ""  # the generation the signoff.yaml names ("" when absent)
    reason: str = "SignOffMissing"  # CamelCase: SignOffAccepted, SignOffStale, NotApproved, ...
    message: str = "no signoff.yaml for this offer"
    approvers: tuple[str, ...] = ()
    commit: str = ""
    pull_request: str = ""
    approved_at: datetime | None = None
    trust: str = ""  # e.g. "signed", "protected-branch", "unreviewed"


@dataclass(frozen=True, slots=True)
class OfferStatus:
    """Everything `status.yaml` records about one offer."""

    offer: str
    phase: Phase
    target: Target | None = None
    observed_generation: str = ""
    observed_commit: str = ""
    conditions: tuple[Condition, ...] = ()
    stages: tuple[StageStatus, ...] = ()
    submission: SubmissionRef | None = None
    feedback: tuple[Finding, ...] = ()
    estimated_live: str = ""  # ISO date, business-day estimate; "" when not applicable
    live_generation: str = ""  # the generation currently live in the marketplace
    preview_url: str = ""
    signoff: SignOffVerdict | None = None

    def condition(self, type_: ConditionType) -> Condition | None:
        for cond in self.conditions:
            if cond.type == type_:
                return cond
        return None
