"""One table of goals for `make bench`: each benchmark states its goals here.

A benchmark calls `goal(...)` once per goal it judges, at each size it runs
(1,000 and 10,000 offers for issue #14's goals). `bench/run.py` prints every
recorded goal at the end as one table: the goal, the size, the figure measured
in this run, the limit, and met or NOT met. Figures are ratios against a
baseline measured in the same run wherever the goal is a ratio.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    """One judged figure: `measured` against `limit` (at most, or at least)."""

    bench: str
    what: str
    offers: int | None
    measured: float
    limit: float
    unit: str = "x"
    at_least: bool = False

    @property
    def met(self) -> bool:
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit

    def row(self) -> tuple[str, str, str, str, str, str]:
        sign = ">=" if self.at_least else "<="
        return (
            self.bench,
            self.what,
            f"{self.offers:,}" if self.offers is not None else "-",
            f"{self.measured:,.2f} {self.unit}".rstrip(),
            f"{sign} {self.limit:,.2f} {self.unit}".rstrip(),
            "met" if self.met else "NOT met",
        )


RECORDED: list[Goal] = []


def goal(
    bench: str,
    what: str,
    measured: float,
    limit: float,
    *,
    offers: int | None = None,
    unit: str = "x",
    at_least: bool = False,
) -> Goal:
    """Record one goal and print its line now; returns it (`.met` for the exit code)."""
    recorded = Goal(bench, what, offers, measured, limit, unit, at_least)
    RECORDED.append(recorded)
    _bench, text, size, figure, bound, verdict = recorded.row()
    where = f" at {size} offers" if offers is not None else ""
    print(f"goal: {text}{where}: {figure} ({bound}): {verdict}", flush=True)
    return recorded


def table(goals: list[Goal]) -> str:
    """The goals as an aligned text table, one row per goal."""
    head = ("bench", "goal", "offers", "measured", "limit", "verdict")
    rows = [head, *(g.row() for g in goals)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)
