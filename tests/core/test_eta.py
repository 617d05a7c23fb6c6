"""Business days, stage deadlines and the estimated live date (controller.core.eta)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import eta
from controller.core.model import STAGE_MAX, Stage, StageState, StageStatus

# 2026-11-23 is a Monday; Thursday 2026-11-26 is Thanksgiving (a US, not a German, holiday).
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class TestBusinessDays:
    """Weekends and the configured country's public holidays do not count."""

    @pytest.mark.parametrize(
        ("day", "country", "expected"),
        [
            (date(2026, 11, 23), "US", True),  # Monday
            (date(2026, 11, 21), "US", False),  # Saturday
            (date(2026, 11, 22), "DE", False),  # Sunday
            (date(2026, 11, 26), "US", False),  # Thanksgiving
            (date(2026, 11, 26), "DE", True),  # not a holiday in Germany
            (date(2026, 12, 25), "GB", False),  # Christmas
            (date(2026, 10, 3), "DE", False),  # Saturday anyway
            (date(2026, 11, 26), "", True),  # no country: weekends only
        ],
    )
    def test_is_business_day(self, day: date, country: str, expected: bool) -> None:
        assert eta.is_business_day(day, country) is expected

    def test_five_business_days_from_monday_is_next_monday_same_time(self) -> None:
        assert eta.add_business_days(MONDAY, 5, "DE") == at(30)

    def test_a_holiday_in_the_week_pushes_the_end_a_day(self) -> None:
        assert eta.add_business_days(MONDAY, 5, "US") == at(1, month=12)

    def test_a_weekend_start_counts_from_monday(self) -> None:
        assert eta.add_business_days(SATURDAY, 5, "DE") == at(28, hour=0)  # end of Friday

    def test_zero_days_on_a_business_day_is_no_time(self) -> None:
        assert eta.add_business_days(MONDAY, 0, "US") == MONDAY

    def test_an_unknown_country_falls_back_to_weekends(self) -> None:
        assert not eta.supported_country("XX")
        assert eta.supported_country("US")
        assert eta.add_business_days(MONDAY, 5, "XX") == at(30)

    def test_a_week_is_five_business_days(self) -> None:
        assert eta.business_days(timedelta(weeks=1)) == 5
        assert eta.business_days(timedelta(days=4)) == 4


class TestStageDeadline:
    """Short stages count calendar time; day-long ones the later of business and calendar time."""

    def test_validation_deadline_is_fifteen_minutes_even_on_a_sunday(self) -> None:
        sunday = at(22, 23, 50)
        assert eta.stage_deadline(Stage.VALIDATION, sunday, "US") == at(23, 0, 5)

    def test_certification_deadline_skips_weekend_and_holiday(self) -> None:
        assert eta.stage_deadline(Stage.CERTIFICATION, MONDAY, "US") == at(1, month=12)

    def test_certification_from_saturday_is_never_shorter_than_a_calendar_week(self) -> None:
        # Business time alone would end Friday night; the calendar week ends Saturday 10:00.
        assert eta.stage_deadline(Stage.CERTIFICATION, SATURDAY, "DE") == at(28)

    def test_live_stage_from_thursday_runs_four_business_days(self) -> None:
        thursday = at(19)
        assert eta.stage_deadline(Stage.LIVE, thursday, "US") == at(25)

    def test_signoff_has_no_deadline(self) -> None:
        assert eta.stage_deadline(Stage.SIGNOFF, MONDAY, "US") is None


def stages(*states: tuple[StageState, datetime | None, datetime | None]) -> list[StageStatus]:
    names = list(Stage)
    out = [StageStatus(names[i], s, a, b) for i, (s, a, b) in enumerate(states)]
    out += [StageStatus(n) for n in names[len(states) :]]
    return out


class TestEstimateLive:
    """The estimate walks the stages from the current one, adding documented maximums."""

    def test_nothing_started_counts_the_whole_pipeline_from_today(self) -> None:
        # Monday: 15 min + 5 business days + 1 h (Mon 30) + sign-off + 1 h + 4 bd -> Fri Dec 4.
        assert eta.estimate_live([], MONDAY, "DE") == date(2026, 12, 4)

    def test_us_holiday_delays_the_estimate(self) -> None:
        assert eta.estimate_live([], MONDAY, "US") == date(2026, 12, 7)

    def test_estimate_comes_from_stage_times_not_from_now(self) -> None:
        certifying = stages(
            (StageState.SUCCEEDED, MONDAY, MONDAY + timedelta(minutes=10)),
            (StageState.RUNNING, MONDAY + timedelta(minutes=10), None),
        )
        first = eta.estimate_live(certifying, MONDAY + timedelta(hours=1), "DE")
        later = eta.estimate_live(certifying, at(26, 17), "DE")
        assert first == later == date(2026, 12, 4)

    def test_an_overdue_stage_is_assumed_to_end_today(self) -> None:
        certifying = stages(
            (StageState.SUCCEEDED, MONDAY, MONDAY),
            (StageState.RUNNING, MONDAY, None),
        )
        # Certification was due Monday Nov 30; on Wednesday Dec 2 it still runs.
        estimate = eta.estimate_live(certifying, at(2, month=12), "DE")
        assert estimate == date(2026, 12, 8)  # Dec 2 + 1 h + 1 h + 4 business days

    def test_waiting_for_signoff_counts_from_today(self) -> None:
        waiting = stages(
            (StageState.SUCCEEDED, MONDAY, MONDAY),
            (StageState.SUCCEEDED, MONDAY, MONDAY),
            (StageState.SUCCEEDED, MONDAY, MONDAY),
            (StageState.RUNNING, MONDAY, None),
        )
        assert eta.estimate_live(waiting, MONDAY, "DE") == date(2026, 11, 27)
        assert eta.estimate_live(waiting, at(30), "DE") == date(2026, 12, 4)

    def test_going_live_ends_four_business_days_after_the_live_stage_started(self) -> None:
        done = (StageState.SUCCEEDED, MONDAY, MONDAY)
        going = stages(*[done] * 5, (StageState.RUNNING, at(26), None))
        assert eta.estimate_live(going, at(27), "US") == date(2026, 12, 3)

    def test_a_failed_stage_has_no_estimate(self) -> None:
        failed = stages((StageState.SUCCEEDED, MONDAY, MONDAY), (StageState.FAILED, MONDAY, MONDAY))
        assert eta.estimate_live(failed, MONDAY, "US") is None

    def test_the_estimate_for_the_same_day_does_not_depend_on_the_hour(self) -> None:
        assert eta.estimate_live([], at(23, 0, 1), "US") == eta.estimate_live([], at(23, 23), "US")


def test_a_deadline_asked_in_another_zone_counts_that_zones_business_days() -> None:
    """Deadlines of UTC times are kept; an equal time in another zone is not answered from
    them, since its dates (and so its business days) differ."""
    friday_evening = datetime(2026, 1, 2, 20, 0, tzinfo=UTC)  # Saturday 06:00 at +10:00
    east = friday_evening.astimezone(timezone(timedelta(hours=10)))
    # UTC: 4 h of Friday, Monday to Wednesday, then 20 h of Thursday.
    assert eta.stage_deadline(Stage.LIVE, friday_evening, "") == datetime(
        2026, 1, 8, 20, 0, tzinfo=UTC
    )
    # At +10:00 the weekend comes first: Monday 00:00 to Friday 00:00, local time.
    assert eta.stage_deadline(Stage.LIVE, east, "") == datetime(2026, 1, 8, 14, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the kept calendar walks

# The day-by-day walks `add_business_days` and the estimate made before they were kept by
# date: what the memoized ones must answer, to the microsecond, for any start and zone.


def _walked_business_days(start: datetime, days: int, country: str) -> datetime:
    remaining = timedelta(days=days)
    moment = start
    while True:
        midnight = datetime.combine(moment.date() + eta.DAY, time(0), tzinfo=moment.tzinfo)
        if eta.is_business_day(moment.date(), country):
            if remaining <= midnight - moment:
                return moment + remaining
            remaining -= midnight - moment
        moment = midnight


def _walked_deadline(stage: Stage, started_at: datetime, country: str) -> datetime | None:
    maximum = STAGE_MAX[stage]
    if maximum is None:
        return None
    if maximum < eta.DAY:
        return started_at + maximum
    days = eta.business_days(maximum)
    return max(started_at + maximum, _walked_business_days(started_at, days, country))


def _walked_estimate(stages: list[StageStatus], now: datetime, country: str) -> date | None:
    today = eta.start_of_day(now)
    end: datetime | None = None
    by_name = {stage.name: stage for stage in stages}
    for name in Stage:
        stage = by_name.get(name, StageStatus(name))
        if stage.state is StageState.FAILED:
            return None
        if stage.state in (StageState.SUCCEEDED, StageState.SKIPPED):
            end = stage.finished_at or end
            continue
        running = stage.state is StageState.RUNNING and stage.started_at is not None
        start = stage.started_at if running and stage.started_at else end or today
        if name is Stage.SIGNOFF:
            end = max(start, today)
            continue
        deadline = _walked_deadline(name, start, country) or start
        end = max(deadline, today) if stage.state is StageState.RUNNING else deadline
    return None if end is None else end.astimezone(UTC).date()


_ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0)),
        timezone(timedelta(hours=10)),
        timezone(timedelta(hours=-7, minutes=-30)),
    ]
)
_MOMENTS = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(datetime(2025, 12, 1), datetime(2027, 1, 31)),
    _ZONES,
)
# Midnights and whole hours too: the walk's edges are at midnight.
_STARTS = st.one_of(_MOMENTS, _MOMENTS.map(lambda m: m.replace(hour=0, minute=0, second=0,
                                                                  microsecond=0)))  # fmt: skip
_COUNTRIES = st.sampled_from(["US", "DE", "GB", "", "XX"])


@settings(max_examples=400, deadline=None)
@given(_STARTS, st.integers(-2, 12), _COUNTRIES)
def test_business_days_are_counted_as_walking_day_by_day(
    start: datetime, days: int, country: str
) -> None:
    expected = _walked_business_days(start, days, country)
    found = eta.add_business_days(start, days, country)
    assert found == expected
    assert found.tzinfo is expected.tzinfo and found.utcoffset() == expected.utcoffset()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Stage)), _STARTS, _COUNTRIES)
def test_a_kept_deadline_is_the_walked_one(stage: Stage, start: datetime, country: str) -> None:
    for _ in range(2):  # asked again: from the memo where the start is in UTC
        found = eta.stage_deadline(stage, start, country)
        expected = _walked_deadline(stage, start, country)
        assert found == expected
        assert found is None or expected is None or found.tzinfo is expected.tzinfo


_STATES = st.sampled_from(list(StageState))
_OPTIONAL = st.one_of(st.none(), _MOMENTS)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(list(Stage)), _STATES, _OPTIONAL, _OPTIONAL), max_size=8),
    _MOMENTS,
    _COUNTRIES,
)
def test_the_estimate_is_the_walked_one(
    reported: list[tuple[Stage, StageState, datetime | None, datetime | None]],
    now: datetime,
    country: str,
) -> None:
    """Any stages, in any order, repeated or missing: `estimate_live` (which makes no
    windows and keeps deadlines) agrees with the day-by-day walk, and `stage_windows`
    (which makes them) fails exactly where it does."""
    stages = [StageStatus(name, state, a, b) for name, state, a, b in reported]
    expected = _walked_estimate(stages, now, country)
    assert eta.estimate_live(stages, now, country) == expected
    windows = eta.stage_windows(stages, now, country)
    assert (windows is None) == any(
        s.state is StageState.FAILED for s in {s.name: s for s in stages}.values()
    )
