"""Durations and timestamps as people read them, and how long an offer has been in its phase.

`duration` keeps the two largest units ("3d 4h", "2h 5m", "45s"): enough to
compare offers at a glance without a wall of digits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.core.model import (
    ConditionStatus,
    ConditionType,
    OfferStatus,
    Phase,
    Stage,
    StageState,
)

_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))

# The stage whose start is the start of a pipeline phase.
PHASE_STAGE: dict[Phase, Stage] = {
    Phase.VALIDATING: Stage.VALIDATION,
    Phase.CERTIFYING: Stage.CERTIFICATION,
    Phase.PACKAGING: Stage.PACKAGING,
    Phase.AWAITING_SIGNOFF: Stage.SIGNOFF,
    Phase.PUBLISHING: Stage.PUBLISHING,
    Phase.GOING_LIVE: Stage.LIVE,
}


def duration(span: timedelta) -> str:
    """`3d 4h`, `2h 5m`, `7m 30s`, `45s`; a zero second unit is left out; negative is `0s`."""
    seconds = max(0, int(span.total_seconds()))
    for index, (suffix, size) in enumerate(_UNITS[:-1]):
        if seconds >= size:
            count, rest = divmod(seconds, size)
            next_suffix, next_size = _UNITS[index + 1]
            smaller = rest // next_size
            return f"{count}{suffix} {smaller}{next_suffix}" if smaller else f"{count}{suffix}"
    return f"{seconds}s"


def timestamp(moment: datetime | None) -> str:
    """`2026-11-24 10:00 UTC`, or `-` when unknown."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago `moment` was ("3d 4h"), or `-` when unknown."""
    return "-" if moment is None else duration(now - moment)


def phase_since(status: OfferStatus) -> datetime | None:
    """When the offer entered its current phase, as well as status.yaml can tell.

    A pipeline phase began when its stage started. Any other phase (Live,
    Preview, Rejected, Invalid, Draft...) began at its latest recorded event:
    the last transition of Ready or Stalled, or the last stage to finish.
    """
    stage = PHASE_STAGE.get(status.phase)
    for progress in status.stages:
        if progress.name is stage and progress.state is StageState.RUNNING and progress.started_at:
            return progress.started_at
    moments = [s.finished_at for s in status.stages if s.finished_at is not None]
    for kind in (ConditionType.READY, ConditionType.STALLED):
        condition = status.condition(kind)
        if condition is not None and (
            kind is ConditionType.READY or condition.status is ConditionStatus.TRUE
        ):
            moments.append(condition.last_transition_time)
    return max(moments, default=None)


def time_in_phase(status: OfferStatus, now: datetime) -> str:
    return age(phase_since(status), now)
