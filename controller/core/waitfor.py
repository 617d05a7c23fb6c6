"""What `offerctl wait --for` waits for, and whether a committed status meets it. Pure.

The grammar, like `kubectl wait --for` (names match case-insensitively):

    phase=PHASE                 the offer's phase is PHASE (Live, Preview, AwaitingSignOff, ...)
    condition=TYPE[=STATUS]     condition TYPE (Ready, SignedOff, ...) has STATUS (default True)
    stage=STAGE[=STATE]         stage STAGE (Validation ... Live) is in STATE (default Succeeded)

A status counts only when it is current: it observed the generation, target
and suspend of the manifest at the commit read (status.yaml of an earlier
generation says nothing about this one). A current status that cannot come to
meet the condition without a change by a person is *impossible*: the offer is
Stalled (Rejected, Invalid, Failed: the Stalled condition says why), the stage
waited for failed, or the phase wanted is Live/Withdrawn/Preview/Draft and the
manifest's target is another.

Durations for --timeout and --interval: a number with a unit, s m h d, or a
sum of them (`90s`, `10m`, `1h30m`, `10d`); a bare number is seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from controller.core.errors import UsageError
from controller.core.model import (
    ConditionStatus,
    ConditionType,
    OfferStatus,
    Phase,
    Stage,
    StageState,
    Target,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
MAX_DURATION = 400 * 86400.0  # a certification takes a week; a year and a bit is plenty
# The target a manifest needs for an offer ever to settle in these phases.
_PHASE_TARGET = {
    Phase.LIVE: Target.LIVE,
    Phase.WITHDRAWN: Target.WITHDRAWN,
    Phase.PREVIEW: Target.PREVIEW,
    Phase.DRAFT: Target.DRAFT,
}


def parse_duration(text: str) -> float:
    """Seconds in `text` (`30s`, `10m`, `2h`, `10d`, `1h30m`, `45`); UsageError otherwise."""
    spoken = text.strip().lower()
    try:
        seconds = float(spoken)
    except ValueError:
        parts = _PART.findall(spoken)
        if not parts or "".join(n + u for n, u in parts) != spoken:
            raise UsageError(
                f"{text!r} is not a duration: use a number with s, m, h or d (30s, 10m, 2h, 10d)"
            ) from None
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not 0 < seconds <= MAX_DURATION:
        raise UsageError(f"{text!r}: a duration must be above 0 and at most 400d")
    return seconds


class Kind(StrEnum):
    PHASE = "phase"
    CONDITION = "condition"
    STAGE = "stage"


@dataclass(frozen=True, slots=True)
class WaitFor:
    """One condition to wait for."""

    kind: Kind
    name: str  # the phase, condition type or stage, as offerctl spells it
    value: str = ""  # the condition's status or the stage's state ("" for a phase)

    def __str__(self) -> str:
        return f"{self.kind}={self.name}" + (f"={self.value}" if self.value else "")


def parse_for(text: str) -> WaitFor:
    """`phase=Live`, `condition=Ready`, `condition=Ready=False`, `stage=Certification`, ..."""
    kind_text, _, rest = text.strip().partition("=")
    name, _, value = rest.partition("=")
    try:
        kind = Kind(kind_text.strip().lower())
    except ValueError:
        raise UsageError(
            f"--for {text!r}: say phase=PHASE, condition=TYPE[=STATUS] or stage=STAGE[=STATE]"
        ) from None
    if kind is Kind.PHASE:
        if value:
            raise UsageError(f"--for {text!r}: phase takes one value, e.g. phase=Live")
        return WaitFor(kind, _pick(name, Phase, "phase"))
    if kind is Kind.CONDITION:
        status = _pick(value, ConditionStatus, "condition status") if value else "True"
        return WaitFor(kind, _pick(name, ConditionType, "condition"), status)
    state = _pick(value, StageState, "stage state") if value else StageState.SUCCEEDED.value
    return WaitFor(kind, _pick(name, Stage, "stage"), state)


def _pick(text: str, choices: type[StrEnum], what: str) -> str:
    wanted = text.strip().lower()
    for choice in choices:
        if choice.value.lower() == wanted:
            return choice.value
    names = ", ".join(c.value for c in choices)
    raise UsageError(f"no {what} {text!r}; one of: {names}")


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the manifest at the commit read asks for (from validation, as a pass sees it)."""

    generation: str  # "" when the manifest is invalid
    target: Target | None
    suspend: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    met: bool
    impossible: str = ""  # why the condition can no longer be met ("" while it still can)
    now: str = ""  # where the offer stands, for progress lines


def judge(wanted: WaitFor, status: OfferStatus | None, manifest: Manifest) -> Verdict:
    """Whether `status` (the committed one, if any) meets `wanted` for `manifest`."""
    if status is None:
        return Verdict(False, now="no status yet (not reconciled)")
    now = f"{status.phase.value}"
    if not is_current(status, manifest):
        return Verdict(False, now=f"{now}, written before the manifest's last change")
    if _holds(wanted, status):
        return Verdict(True, now=now)
    return Verdict(False, _impossible(wanted, status, manifest), now)


def is_current(status: OfferStatus, manifest: Manifest) -> bool:
    """Whether the status was written for the manifest as it is now."""
    if not manifest.generation:
        return status.phase is Phase.INVALID
    if status.observed_generation != manifest.generation:
        return False
    if manifest.target is not None and status.target is not manifest.target:
        return False
    return (status.phase is Phase.SUSPENDED) == manifest.suspend


def _holds(wanted: WaitFor, status: OfferStatus) -> bool:
    if wanted.kind is Kind.PHASE:
        return status.phase.value == wanted.name
    if wanted.kind is Kind.CONDITION:
        condition = status.condition(ConditionType(wanted.name))
        return condition is not None and condition.status.value == wanted.value
    stage = next((s for s in status.stages if s.name.value == wanted.name), None)
    return stage is not None and stage.state.value == wanted.value


def _impossible(wanted: WaitFor, status: OfferStatus, manifest: Manifest) -> str:
    stalled = status.condition(ConditionType.STALLED)
    if stalled is not None and stalled.status is ConditionStatus.TRUE:
        return (
            f"the offer is {status.phase.value} and stalled ({stalled.reason}: "
            f"{stalled.message}); only a change to the manifest can move it"
        )
    if wanted.kind is Kind.PHASE:
        needs = _PHASE_TARGET.get(Phase(wanted.name))
        if needs is not None and manifest.target is not None and manifest.target is not needs:
            return f"its spec.target is {manifest.target.value}: it never becomes {wanted.name}"
    if wanted.kind is Kind.STAGE:
        stage = next((s for s in status.stages if s.name.value == wanted.name), None)
        if (
            stage is not None
            and stage.state in (StageState.FAILED, StageState.SKIPPED)
            and wanted.value != stage.state.value
        ):
            return f"stage {wanted.name} is {stage.state.value} for this generation"
    return ""
