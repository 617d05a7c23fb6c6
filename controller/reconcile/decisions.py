"""`pipeline.decide`, its clock-free half kept per input across passes.

A settle or polling pass decides every in-flight offer again, and mostly from
an input equal to the last pass's: the same manifest verdict, the same
marketplace observation. `pipeline.prepare` (the plan, the stages, the
feedback status shows) reads neither the clock nor the last status, so it is
a pure function of (offer, desired, observed, prune, holiday country) and is
kept by that key (equality, never identity: the observation is read afresh
every pass; and only the last per offer, so no deep hash of the input is ever
taken). `pipeline.finish` runs every time with the pass's own clock and
record, so transition times, overdue stages, the estimate and the next poll
are always the current ones: `Decisions.decide(inp, now) == pipeline.decide(inp,
now)` for every input (tests/reconcile/test_converge_stateful.py checks every
decision it makes).

The estimated live date depends on the clock only through the day: each kept
offer also keeps the estimate of its kept stages for the day it was made.

Times equal in value but in different zones are equal keys, yet their dates
differ, and the stages' deadlines count business days by date: only an
observation whose times are all in UTC is kept or looked up (the marketplace
adapters report UTC); any other is decided afresh. The memo is bounded in
entries and in the findings its keys and plans hold (what a pull request and
certification choose).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from controller.core import pipeline
from controller.core.kept import Kept

MAX_KEPT = 16_384  # offers whose last input is kept, least recently used out
# Findings held by the kept inputs, all together. A finding shows at most a few hundred
# bytes (values and paths are shown cut), so this holds the memo near 25 MB even when
# every offer carries a pull request's worth of findings; a generated offer has none.
MAX_FINDINGS = 65_536

_Key = tuple[str, pipeline.Desired | None, pipeline.Observation, bool, str]


@dataclass(frozen=True, slots=True)
class _Kept:
    """One offer's last input, `prepare`'s answer to it, and the estimate of a day."""

    key: _Key
    prepared: pipeline.Prepared
    weight: int  # 1, and each finding the input holds
    estimate: pipeline.EstimateMemo = field(default_factory=pipeline.EstimateMemo)


class Decisions:
    """`decide` as `pipeline.decide` does, reusing `pipeline.prepare` for an equal input."""

    def __init__(self, limit: int = MAX_KEPT, max_findings: int = MAX_FINDINGS) -> None:
        self._kept: Kept[str, _Kept] = Kept(
            limit, weigh=lambda kept: kept.weight, max_weight=max_findings
        )
        self.reused = 0  # decisions whose clock-free half was kept (for tests and benches)

    def expect(self, offers: int) -> None:
        """The next pass decides about `offers` offers (`Kept.expect`)."""
        self._kept.expect(offers)

    def decide(self, inp: pipeline.PipelineInput, now: datetime) -> pipeline.Decision:
        if not _in_utc(inp.observed):
            return pipeline.decide(inp, now)
        key: _Key = (inp.offer, inp.desired, inp.observed, inp.prune, inp.holiday_country)
        kept = self._kept.get(inp.offer)
        if kept is not None and kept.key == key:
            self.reused += 1
        else:
            kept = _Kept(key, pipeline.prepare(inp), _findings(inp))
            self._kept.put(inp.offer, kept)
        return pipeline.finish(inp, kept.prepared, now, memo=kept.estimate)


def _findings(inp: pipeline.PipelineInput) -> int:
    """What one kept input weighs: 1, and each finding it holds."""
    desired = len(inp.desired.findings) if inp.desired is not None else 0
    return 1 + desired + sum(len(s.feedback) for s in inp.observed.submissions)


def _in_utc(observed: pipeline.Observation) -> bool:
    """Whether every time in `observed` is None or in UTC (`datetime.UTC`)."""
    for submission in observed.submissions:
        if submission.created_at.tzinfo is not UTC:
            return False
        for progress in submission.stages:
            for moment in (progress.started_at, progress.finished_at):
                if moment is not None and moment.tzinfo is not UTC:
                    return False
    signoff = observed.signoff
    return signoff is None or signoff.approved_at is None or signoff.approved_at.tzinfo is UTC
