"""Business-day time for the publishing pipeline: stage deadlines and the estimated live date.

The documented stage maximums (`model.STAGE_MAX`) come in two sizes, and we
count them the way the work behind them is done:

- under a day (Validation 15 min, Packaging 1 h, Publishing 1 h): automated
  steps that run around the clock, so calendar time;
- a day or more (Certification 1 week, Live 4 days): work that moves on
  business days, so a week is 5 business days and "4 days" is 4 business days.
  Weekends and the public holidays of a configured country (the `holidays`
  package) do not count. That reading also matches the documented "up to 10
  business days" for the whole process.

Everything here is pure given `now`; this is the only module that imports
`holidays`. An unknown country code falls back to weekends only (the policy
loader should reject it first; see `supported_country`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from controller.core.model import STAGE_MAX, STAGES, Stage, StageState, StageStatus

if TYPE_CHECKING:
    import holidays

DAY = timedelta(days=1)
_SATURDAY = 5  # date.weekday(): Monday is 0


@lru_cache(maxsize=32)
def _holidays(country: str) -> holidays.HolidayBase | None:
    # Imported on first use of a country's calendar, not with this module: `holidays`
    # reads its own version through importlib.metadata, which loads email and socket,
    # and the pure core must import no I/O module (tests/test_layers.py).
    import holidays  # noqa: PLC0415

    try:
        return holidays.country_holidays(country.upper())
    except (NotImplementedError, KeyError, AttributeError):
        return None


def supported_country(country: str) -> bool:
    """Whether `holidays` knows public holidays for this ISO 3166 country code."""
    return bool(country) and _holidays(country) is not None


@lru_cache(maxsize=4096)  # a pass asks about the same few weeks for every offer
def is_business_day(day: date, country: str) -> bool:
    """Monday to Friday and not a public holiday of `country`."""
    if day.weekday() >= _SATURDAY:
        return False
    calendar = _holidays(country) if country else None
    return calendar is None or day not in calendar


def add_business_days(start: datetime, days: int, country: str) -> datetime:
    """The moment `days` whole business days of time have passed since `start`.

    Only time on business days counts: Monday 10:00 plus 5 is the next Monday
    10:00; Saturday 10:00 plus 5 is the end of Friday (Saturday 00:00).
    """
    remaining = timedelta(days=days)
    day = start.date()
    midnight = datetime.combine(day + DAY, time(0), tzinfo=start.tzinfo)
    if is_business_day(day, country):
        if remaining <= midnight - start:
            return start + remaining
        remaining -= midnight - start
    # From `midnight` on, each business day takes a whole day off `remaining` (a day is
    # midnight to midnight in `start`'s zone: aware times in one zone subtract as wall
    # time), and `remaining` ends on the one it reaches into: on the `whole`-th. The days
    # are counted by `_business_day_after`, kept by date, so a pass that asks for every
    # offer's deadline walks the calendar once per start date, not once per start.
    whole = max(1, -(-remaining // DAY))
    last = _business_day_after(day, whole, country)
    return datetime.combine(last, time(0), tzinfo=start.tzinfo) + (remaining - (whole - 1) * DAY)


@lru_cache(maxsize=4096)  # keyed by dates and small counts: a pass asks about a few weeks
def _business_day_after(day: date, count: int, country: str) -> date:
    """The `count`-th business day after `day` (count >= 1)."""
    while True:
        day += DAY
        if is_business_day(day, country):
            count -= 1
            if not count:
                return day


def business_days(maximum: timedelta) -> int:
    """A documented maximum of a day or more, in business days: a week is 5."""
    weeks, rest = divmod(maximum.days, 7)
    return weeks * 5 + rest


def stage_deadline(stage: Stage, started_at: datetime, country: str) -> datetime | None:
    """When a stage started at `started_at` runs past its documented maximum; None for SignOff.

    For day-long stages, the later of the business-day and the calendar reading:
    a stage is only overdue when it is past its maximum however one counts.
    """
    maximum = STAGE_MAX[stage]
    if maximum is None or maximum < DAY:  # no calendar to count: asked of no memo
        return _deadline(stage, started_at, country)
    if started_at.tzinfo is UTC:
        # Every pass asks again for every running stage; a UTC time only, since a time
        # equal to it in another zone has other dates (and so other business days).
        return _utc_deadline(stage, started_at, country)
    return _deadline(stage, started_at, country)


@lru_cache(maxsize=4096)
def _utc_deadline(stage: Stage, started_at: datetime, country: str) -> datetime | None:
    return _deadline(stage, started_at, country)


def _deadline(stage: Stage, started_at: datetime, country: str) -> datetime | None:
    maximum = STAGE_MAX[stage]
    if maximum is None:
        return None
    if maximum < DAY:
        return started_at + maximum
    return max(started_at + maximum, add_business_days(started_at, business_days(maximum), country))


def start_of_day(now: datetime) -> datetime:
    """Midnight UTC of `now`'s date: estimates that depend on now change at most daily."""
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StageWindow:
    """When one stage of a submission ran, runs or is expected to run (see `stage_windows`)."""

    stage: Stage
    state: StageState
    start: datetime
    end: datetime  # finished, or the documented maximum's end (today, when overdue)
    overdue: bool = False  # running past its documented maximum


def estimate_live(stages: Sequence[StageStatus], now: datetime, country: str) -> date | None:
    """The business-day estimate of the date the submission in `stages` goes live.

    Walks the stages in order: a finished stage ends when it finished; a
    running stage ends at its deadline (today, if it is already overdue); a
    pending stage starts when the one before ends and takes its documented
    maximum. SignOff takes no time of its own, but it cannot end before today:
    while nobody has signed off, the estimate assumes a sign-off today.

    The result depends on `now` only through its date, so passes on the same
    day over the same observation agree. None when a stage failed.
    """
    failed, end = _walk(stages, now, country, None)  # the end alone: no window is made
    if failed or end is None:
        return None
    return end.astimezone(UTC).date()


def stage_windows(
    stages: Sequence[StageStatus], now: datetime, country: str
) -> list[StageWindow] | None:
    """Each stage's window on the walk `estimate_live` makes; None when a stage failed.

    A finished stage whose times are unknown has no window; SignOff's window
    is a moment (it takes no time of its own).
    """
    windows: list[StageWindow] = []
    failed, _ = _walk(stages, now, country, windows)
    return None if failed else windows


def _walk(
    stages: Sequence[StageStatus],
    now: datetime,
    country: str,
    windows: list[StageWindow] | None,
) -> tuple[bool, datetime | None]:
    """(whether a stage failed, when the last stage ends); each window into `windows`
    unless it is None (`estimate_live`, asked for every offer every pass, needs none)."""
    today = start_of_day(now)
    end: datetime | None = None  # when the stage before the current one ends
    by_name = {stage.name: stage for stage in stages}
    for name in STAGES:
        stage = by_name.get(name)
        # A stage not reported is pending, with no times (`StageStatus(name)`).
        state = stage.state if stage is not None else StageState.PENDING
        started_at = stage.started_at if stage is not None else None
        if state is StageState.FAILED:
            return True, None
        if state in (StageState.SUCCEEDED, StageState.SKIPPED):
            begin = started_at or end
            end = (stage.finished_at if stage is not None else None) or end
            if windows is not None and begin is not None and end is not None:
                windows.append(StageWindow(name, state, begin, max(begin, end)))
            continue
        running = state is StageState.RUNNING
        if running and started_at is not None:
            start = started_at
        else:
            start = end if end is not None else today
        if name is Stage.SIGNOFF:
            end = max(start, today)
            if windows is not None:
                windows.append(StageWindow(name, state, end, end))
            continue
        deadline = stage_deadline(name, start, country) or start  # only SignOff has no maximum
        end = max(deadline, today) if running else deadline
        if windows is not None:
            windows.append(StageWindow(name, state, start, end, running and deadline < now))
    return False, end


def depends_on_day(stages: Sequence[StageStatus]) -> bool:
    """Whether `estimate_live` over these stages can change with nothing but now's date.

    The walk reads today where a stage has not finished: SignOff cannot end
    before today, a running stage not before today, the first unstarted stage
    starts today. So an estimate moves with the calendar while any stage is
    unfinished (and none failed: then there is no estimate); once every stage
    has finished it is fixed. A superset where a running stage is not yet
    overdue: those offers are polled every pass anyway.
    """
    finished = (StageState.SUCCEEDED, StageState.SKIPPED)
    states = {stage.name: stage.state for stage in stages}
    if StageState.FAILED in states.values():
        return False
    return any(states.get(name, StageState.PENDING) not in finished for name in STAGES)
