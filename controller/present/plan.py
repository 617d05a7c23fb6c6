"""The view of `offerctl plan`: one row per offer (phase now -> next, what, why), then a summary.

Rows with changes pending are marked `~` (like terraform's update marker);
offers at rest are marked with a blank.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from controller.planning import OfferPlan, Step, Summary
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


def plan_view(
    plans: Sequence[OfferPlan], summary: Summary, *, commit: str, unicode: bool = True
) -> RenderableType:
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
    title = Text(f"Planned against commit {commit[:12]}; nothing was changed.", style="dim")
    return Group(title, "", table, "", Text(summary.line(), style="bold"))
