"""Offers whose estimated live date moves with the calendar are re-evaluated on a new day.

`controller.reconcile.calendar` and `core.eta.depends_on_day`, pure; the
end-to-end check is tests/reconcile/test_full_equals_incremental.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from controller.core import eta
from controller.core.model import OfferStatus, Phase, Stage, StageState, StageStatus, Target
from controller.reconcile import calendar
from controller.reconcile.types import PassResult

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)


def stages(**states: StageState) -> tuple[StageStatus, ...]:
    return tuple(StageStatus(s, states.get(s.value, StageState.PENDING), started_at=AT,
                             finished_at=AT) for s in Stage)  # fmt: skip


AT_SIGNOFF = stages(Validation=StageState.SUCCEEDED, Certification=StageState.SUCCEEDED,
                    Packaging=StageState.SUCCEEDED, SignOff=StageState.RUNNING)  # fmt: skip
ALL_DONE = stages(**{s.value: StageState.SUCCEEDED for s in Stage})


def test_an_estimate_depends_on_the_day_while_a_stage_is_unfinished_and_none_failed() -> None:
    assert eta.depends_on_day(AT_SIGNOFF)
    assert not eta.depends_on_day(ALL_DONE)
    assert not eta.depends_on_day(stages(Certification=StageState.FAILED))
    # And it does move: the same stages a day later give a later estimate.
    monday = eta.estimate_live(AT_SIGNOFF, AT, "")
    tuesday = eta.estimate_live(AT_SIGNOFF, datetime(2026, 3, 3, 10, tzinfo=UTC), "")
    assert monday is not None and tuesday is not None and tuesday > monday


def status(offer: str, st: tuple[StageStatus, ...], estimate: str) -> OfferStatus:
    return OfferStatus(offer=offer, phase=Phase.AWAITING_SIGNOFF, target=Target.LIVE,
                       stages=st, estimated_live=estimate)  # fmt: skip


def result(evaluated: dict[str, OfferStatus], *, full: bool = False) -> PassResult:
    return PassResult(base="b" * 40, commit=None, full=full, evaluated=tuple(sorted(evaluated)),
                      written=(), transitions=(), in_flight=(), errors={},
                      statuses=evaluated)  # fmt: skip


def test_entries_are_kept_for_date_dependent_estimates_and_carried_over_unevaluated() -> None:
    day1, day2 = date(2026, 3, 2), date(2026, 3, 3)
    everything = {"a": status("a", AT_SIGNOFF, "2026-03-20"),
                  "b": status("b", ALL_DONE, "2026-03-01"),
                  "c": status("c", AT_SIGNOFF, "")}  # fmt: skip
    first = calendar.after({}, result(everything, full=True), day1)
    assert first == {"a": "2026-03-02"}
    assert calendar.due(first, day1) == set()  # the same day: nothing to refresh
    assert calendar.due(first, day2) == {"a"}
    # An incremental pass that did not evaluate `a` keeps its entry (still stale tomorrow).
    assert calendar.after(first, result({"b": status("b", ALL_DONE, "")}), day2) == first
    # Evaluated again: the entry moves to the day it was computed for; gone once signed off.
    assert calendar.after(first, result({"a": status("a", AT_SIGNOFF, "x")}), day2) == {
        "a": "2026-03-03"
    }
    assert calendar.after(first, result({"a": status("a", ALL_DONE, "x")}), day2) == {}
    # A full pass starts afresh: offers it did not keep are gone.
    assert calendar.after(first, result({}, full=True), day2) == {}
