"""The view of `offerctl plan`: one row per offer (phase now -> next, what, why), then a summary.

Rows with changes pending are marked `~` (like terraform's update marker);
offers at rest are marked with a blank.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from controller.core.planning import OfferPlan, Step, Summary
from controller.present.offers import phase_text

STEP_STYLES: dict[Step, str] = {
    Step.ERROR: "bold red",
    Step.SUBMIT: "bold green",
    Step.CANCEL: "bold yellow",
    Step.GO_LIVE: "bold green",
    Step.WITHDRAW: "bold red",
    Step.AWAIT_SIGNOFF: "yellow",
    Step.BLOCKED: "red",
    Step.WAIT: "cyan",
    Step.RECORD: "blue",
    Step.NOTHING: "dim",
}


COMMITTED_SOURCE = (
    "from the statuses the controller last committed: there is no marketplace here "
    "(pass --marketplace URL to ask the controller's)"
)


def plan_view(
    plans: Sequence[OfferPlan],
    summary: Summary,
    *,
    commit: str,
    unicode: bool = True,
    from_committed: bool = False,
    notes: Sequence[str] = (),
) -> RenderableType:
    """The plan table; `from_committed`: observations are the committed statuses."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for header in ("", "OFFER", "NOW", "", "NEXT", "STEP", "WHAT AND WHY"):
        table.add_column(header, no_wrap=header != "WHAT AND WHY")
    arrow = "→" if unicode else "->"
    for plan in plans:
        what = Text("; ".join(plan.actions) + (": " if plan.actions else ""))
        what.append(plan.why)
        table.add_row(
            Text("~", style="yellow") if plan.changes else "",
            plan.offer,
            phase_text(plan.before) if plan.before else Text("-", style="dim"),
            arrow,
            phase_text(plan.after) if plan.after else Text("-", style="dim"),
            Text(plan.step.value, style=STEP_STYLES[plan.step]),
            what,
        )
    source = f" {COMMITTED_SOURCE}" if from_committed else ""
    title = Text(f"Planned against commit {commit[:12]}{source}; nothing was changed.", style="dim")
    hints = [Text(f"note: {note}", style="yellow") for note in notes]
    return Group(title, "", table, "", Text(summary.line(), style="bold"), *hints)
