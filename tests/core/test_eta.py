"""Business days, stage deadlines and the estimated live date (controller.core.eta)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from controller.core import eta
from controller.core.model import Stage, StageState, StageStatus

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
