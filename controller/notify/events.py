"""Which notifications an offer's status calls for: pure, no I/O, no clock of its own.

`derive(previous, new, now)` looks at one offer's status after a pass and
returns every event that holds for it now. An event's `id` names the episode
it is about (the offer, the kind, and the generation, submission, stage start
or condition change that make it this episode and not another), so deriving
the same state again gives the same ids: the sender's ledger, not this
module, makes each go out once. That is why the rules are states, not edges:
a pass that crashed before it could send is re-derived on the next pass and
nothing is lost.

The events (issue #15):

- certification rejected: phase Rejected; the findings with where each points
  (file:line when known, else the manifest and JSON path) and where to fix;
- preview ready for sign-off: phase AwaitingSignOff, with the exact
  `offerctl signoff OFFER` command to run;
- live: phase Live, per live generation;
- stage overdue: a running stage past its documented maximum (its deadline,
  or started + `STAGE_MAX`), or the pipeline's StageOverdue condition;
- drift: the Drift condition True (the draft was edited outside offerctl);
- controller stalled: `stalled()`, from the daemon's health check.

Every piece of text from the repository or the marketplace (offer ids,
finding messages, condition messages) is passed through `printable`, so a
bidi override or an escape sequence cannot disguise a message. Secrets are
masked later, by the sender, which knows the operator's environment.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from controller.core.escaping import printable
from controller.core.model import (
    STAGE_MAX,
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    Stage,
    StageState,
)

OFFERS_DIR = "offers"  # = controller.git.repo.OFFERS_DIR (not imported: this module stays pure)
MANIFEST_FILE = "offer.yaml"
MAX_FINDINGS = 20  # findings listed in one message; the rest are counted
MAX_TEXT = 500  # characters of one untrusted message quoted in a notification


class Kind(StrEnum):
    """What an event is about; also the `kind` in ids, logs and metrics labels."""

    REJECTED = "certification-rejected"
    PREVIEW_READY = "preview-ready"
    LIVE = "live"
    STAGE_OVERDUE = "stage-overdue"
    DRIFT = "drift"
    STALLED = "controller-stalled"


class Level(StrEnum):
    """How a target should show it; the values are apprise's notification types."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class Event:
    """One notification: a stable id, a one-line title and a plain-text body."""

    id: str
    kind: Kind
    offer: str  # "" for events about the controller itself
    title: str
    body: str
    level: Level


def derive(
    previous: OfferStatus | None,
    new: OfferStatus,
    now: datetime,
    maximums: Mapping[Stage, timedelta | None] = STAGE_MAX,
) -> tuple[Event, ...]:
    """The events `new` holds at `now`; `previous` (what was last seen) only words them.

    Ids do not depend on `previous` or `now` except through what they are
    about (an overdue stage is overdue from `now` on), so the same state
    derived again gives the same ids.
    """
    was = previous.phase.value if previous is not None else ""
    events: list[Event] = []
    if new.phase is Phase.REJECTED:
        events.append(_rejected(new, was))
    if new.phase is Phase.AWAITING_SIGNOFF:
        events.append(_preview_ready(new))
    if new.phase is Phase.LIVE:
        events.append(_live(new, was))
    events.extend(_overdue(new, now, maximums))
    drift = new.condition(ConditionType.DRIFT)
    if drift is not None and drift.status is ConditionStatus.TRUE:
        events.append(
            Event(
                id=_id(new.offer, Kind.DRIFT, _stamp(drift.last_transition_time)),
                kind=Kind.DRIFT,
                offer=new.offer,
                title=f"offerctl: {_show(new.offer)} drifted in the marketplace",
                body=(
                    f"The marketplace's draft of offer {_show(new.offer)} was changed outside "
                    f"offerctl ({_show(drift.reason)}): {_quote(drift.message)}\n"
                    "offerctl does not overwrite it; reconcile the change in the repository "
                    f"({_manifest(new.offer)}) or revert it in the marketplace."
                ),
                level=Level.WARNING,
            )
        )
    return tuple(events)


def stalled(part: str, since: datetime, age: float, threshold: float) -> Event:
    """The daemon's loop has not finished an iteration for `age` seconds (over `threshold`).

    `since` is when the stuck iteration began: one event per stall, whatever
    the number of health checks that see it.
    """
    who = f"shard {part}" if part else "the daemon"
    return Event(
        id=_id("", Kind.STALLED, part or "all", _stamp(since)),
        kind=Kind.STALLED,
        offer="",
        title=f"offerctl: {who} is stalled",
        body=(
            f"No reconcile iteration of {who} has finished for {age:.0f}s (threshold "
            f"{threshold:.0f}s; stuck since {_stamp(since)}). /healthz answers 503. Look at the "
            "daemon's log for the pass in progress (a hung git or marketplace call), then "
            "restart it if it does not recover."
        ),
        level=Level.FAILURE,
    )


# --------------------------------------------------------------------------- the events


def _rejected(new: OfferStatus, was: str) -> Event:
    offer = new.offer
    submission = new.submission.id if new.submission is not None else ""
    findings = [f for f in new.feedback if f.stage != ""] or list(new.feedback)
    lines = [
        f"Certification rejected generation {_gen(new.observed_generation)} of offer "
        f"{_show(offer)}" + (f" (submission {_show(submission)})" if submission else "") + ".",
    ]
    if was:
        lines[0] += f" Phase {was} -> Rejected."
    lines.append("")
    lines.append(f"Findings ({len(findings)}):")
    for finding in findings[:MAX_FINDINGS]:
        where = location(offer, finding)
        lines.append(f"- {where}: {_show(finding.code)}: {_quote(finding.message)}")
    if len(findings) > MAX_FINDINGS:
        more = len(findings) - MAX_FINDINGS
        lines.append(f"- ... and {more} more (offerctl status {_shell(offer)})")
    lines.append("")
    first = location(offer, findings[0]) if findings else _manifest(offer)
    lines.append(
        f"Fix: edit {_manifest(offer)} (first finding at {first}) on the watched branch and "
        "commit; the controller resubmits the new generation by itself. "
        f"Details: offerctl status {_shell(offer)}"
    )
    return Event(
        id=_id(offer, Kind.REJECTED, new.observed_generation, submission),
        kind=Kind.REJECTED,
        offer=offer,
        title=f"offerctl: {_show(offer)} rejected by certification",
        body="\n".join(lines),
        level=Level.FAILURE,
    )


def _preview_ready(new: OfferStatus) -> Event:
    offer = new.offer
    submission = new.submission.id if new.submission is not None else ""
    lines = [
        f"The preview of offer {_show(offer)}, generation {_gen(new.observed_generation)}, "
        "is ready and waits for sign-off before it goes live.",
    ]
    if new.preview_url:
        lines.append(f"Preview: {_show(new.preview_url)}")
    lines += [
        "",
        "Check the preview, then sign off with:",
        "",
        f"    offerctl signoff {_shell(offer)}",
        "",
        "It writes signoff.yaml on a new branch; push it and merge the pull request.",
    ]
    return Event(
        id=_id(offer, Kind.PREVIEW_READY, new.observed_generation, submission),
        kind=Kind.PREVIEW_READY,
        offer=offer,
        title=f"offerctl: {_show(offer)} preview ready for sign-off",
        body="\n".join(lines),
        level=Level.INFO,
    )


def _live(new: OfferStatus, was: str) -> Event:
    offer = new.offer
    generation = new.live_generation or new.observed_generation
    body = f"Offer {_show(offer)}, generation {_gen(generation)}, is live in the marketplace."
    if was and was != Phase.LIVE.value:
        body += f" Phase {was} -> Live."
    return Event(
        id=_id(offer, Kind.LIVE, generation),
        kind=Kind.LIVE,
        offer=offer,
        title=f"offerctl: {_show(offer)} is live",
        body=body,
        level=Level.SUCCESS,
    )


def _overdue(
    new: OfferStatus, now: datetime, maximums: Mapping[Stage, timedelta | None]
) -> list[Event]:
    flagged = new.condition(ConditionType.STAGE_OVERDUE)
    flagged_stage = (
        flagged.reason.removesuffix("Overdue")
        if flagged is not None and flagged.status is ConditionStatus.TRUE
        else ""
    )
    submission = new.submission.id if new.submission is not None else ""
    events = []
    for stage in new.stages:
        if stage.state is not StageState.RUNNING or stage.started_at is None:
            continue
        maximum = maximums.get(stage.name)
        deadline = stage.deadline
        if deadline is None and maximum is not None:
            deadline = stage.started_at + maximum
        late = deadline is not None and now > deadline
        if not late and stage.name.value != flagged_stage:
            continue
        ran = now - stage.started_at
        documented = _duration(maximum) if maximum is not None else "none"
        events.append(
            Event(
                id=_id(
                    new.offer,
                    Kind.STAGE_OVERDUE,
                    submission,
                    stage.name.value,
                    _stamp(stage.started_at),
                ),
                kind=Kind.STAGE_OVERDUE,
                offer=new.offer,
                title=f"offerctl: {_show(new.offer)} {stage.name.value} is overdue",
                body=(
                    f"Stage {stage.name.value} of offer {_show(new.offer)} (submission "
                    f"{_show(submission) or '-'}) has run for {_duration(ran)} since "
                    f"{_stamp(stage.started_at)}; its documented maximum is {documented}"
                    + (f" (deadline {_stamp(deadline)})" if deadline is not None else "")
                    + ". offerctl keeps polling; if it does not move, ask the marketplace's "
                    "support about the submission."
                ),
                level=Level.WARNING,
            )
        )
    return events


# --------------------------------------------------------------------------- wording


def location(offer: str, finding: Finding) -> str:
    """Where a finding points: `file:line` when known, else the manifest and JSON path."""
    path = f" ({_show(finding.path)})" if finding.path else ""
    if finding.file and finding.line:
        return f"{_show(finding.file)}:{finding.line}{path}"
    if finding.file:
        return f"{_show(finding.file)}{path}"
    return f"{_manifest(offer)}{path}"


def _manifest(offer: str) -> str:
    return f"{OFFERS_DIR}/{_show(offer)}/{MANIFEST_FILE}"


def _id(offer: str, kind: Kind, *parts: str) -> str:
    return "/".join((offer, kind.value, *parts))


def _show(text: str) -> str:
    return printable(text)


def _quote(text: str) -> str:
    shown = printable(text)
    return shown if len(shown) <= MAX_TEXT else shown[: MAX_TEXT - 3] + "..."


def _shell(offer: str) -> str:
    """The offer id as one shell word (folder names are the pull request's choice)."""
    return printable(shlex.quote(offer))


def _gen(generation: str) -> str:
    return _show(generation[:19]) if generation else "-"  # sha256: + 12 hex


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
