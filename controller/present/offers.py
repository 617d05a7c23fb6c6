"""The offers table (`offerctl status`) and one offer's detailed view (`offerctl status OFFER`).

Both are rich renderables built from plain data and `now`. Tables have no
borders, so piped output reads like `kubectl get`: one header row, one row
per offer, columns separated by spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from controller.core.generation import short
from controller.core.model import (
    Condition,
    ConditionStatus,
    ConditionType,
    OfferStatus,
    Phase,
    Severity,
)
from controller.present.fit import FitTable
from controller.present.progress import STATE_STYLES, progress
from controller.present.stages import BY_STAGE
from controller.present.timefmt import age, duration, phase_since, time_in_phase, timestamp
from controller.repo.statusread import OfferEntry, PhaseChange

PHASE_STYLES: dict[Phase, str] = {
    Phase.LIVE: "bold green",
    Phase.PREVIEW: "green",
    Phase.DRAFT: "green",
    Phase.WITHDRAWN: "green",
    Phase.AWAITING_SIGNOFF: "bold yellow",
    Phase.INVALID: "bold red",
    Phase.REJECTED: "bold red",
    Phase.FAILED: "bold red",
    Phase.ORPHANED: "magenta",
    Phase.SUSPENDED: "magenta",
}
PROGRESSING_STYLE = "cyan"
READY_STYLES = {
    ConditionStatus.TRUE: "green",
    ConditionStatus.FALSE: "red",
    ConditionStatus.UNKNOWN: "yellow",
}
SEVERITY_STYLES = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}
HISTORY_IN_DETAIL = 5  # transitions shown in the detailed view; `offerctl history` has all


def phase_text(phase: Phase | None) -> Text:
    if phase is None:
        return Text("New", style="dim")
    # A styled span, not a base style: text appended later keeps its own style.
    return Text().append(phase.value, style=PHASE_STYLES.get(phase, PROGRESSING_STYLE))


def _grid(*headers: str) -> FitTable:
    """A table that wraps to the terminal's width and never drops a column (see fit.py)."""
    return FitTable(*headers)


def _ready(status: OfferStatus) -> Text:
    ready = status.condition(ConditionType.READY)
    if ready is None:
        return Text().append("Unknown", style="yellow")
    return Text().append(ready.status.value, style=READY_STYLES[ready.status])


# ---------------------------------------------------------------- the table


def offers_table(entries: Sequence[OfferEntry], now: datetime, *, unicode: bool = True) -> FitTable:
    """OFFER TARGET PHASE STAGES IN-PHASE ETA READY, one row per offer folder."""
    table = _grid("OFFER", "TARGET", "PHASE", "STAGES", "IN PHASE", "ETA", "READY")
    for entry in entries:
        current = entry.status
        if current is None:
            note = "(not reconciled)" if not entry.problem else "(unreadable status)"
            table.add_row(entry.offer, "-", Text(note, style="dim"), "-", "-", "-", "-")
            continue
        table.add_row(
            entry.offer,
            current.target.value if current.target else "-",
            phase_text(current.phase),
            progress(current.stages).text(unicode=unicode),
            time_in_phase(current, now),
            current.estimated_live or "-",
            _ready(current),
        )
    return table


def table_footer(entries: Sequence[OfferEntry], commit: str) -> Text:
    """`4 offers at 3f2c9e1a2b3c: 2 ready, 1 stalled` and hints for what needs a hand."""
    statuses = [e.status for e in entries if e.status is not None]
    ready = sum(1 for s in statuses if _is(s, ConditionType.READY))
    stalled = sum(1 for s in statuses if _is(s, ConditionType.STALLED))
    signoff = sum(1 for s in statuses if s.phase is Phase.AWAITING_SIGNOFF)
    parts = [f"{ready} ready"]
    if stalled:
        parts.append(f"{stalled} need a fix")
    if signoff:
        parts.append(f"{signoff} awaiting sign-off")
    missing = len(entries) - len(statuses)
    if missing:
        parts.append(f"{missing} without status")
    noun = "offer" if len(entries) == 1 else "offers"
    return Text(f"{len(entries)} {noun} at {commit[:12]}: " + ", ".join(parts), style="dim")


def _is(status: OfferStatus, kind: ConditionType) -> bool:
    condition = status.condition(kind)
    return condition is not None and condition.status is ConditionStatus.TRUE


# ---------------------------------------------------------------- one offer


def offer_detail(
    current: OfferStatus,
    now: datetime,
    *,
    commit: str,
    history: Sequence[PhaseChange] = (),
    unicode: bool = True,
) -> RenderableType:
    """Summary, stages, conditions, feedback, sign-off and recent history of one offer."""
    parts: list[RenderableType] = [_summary(current, now, commit, unicode)]
    parts += ["", Text("Stages", style="bold"), _stages(current, now)]
    parts += ["", Text("Conditions", style="bold"), _conditions(current.conditions, now)]
    parts += ["", Text(f"Feedback ({len(current.feedback)})", style="bold")]
    parts.append(_feedback(current) if current.feedback else Text("  none", style="dim"))
    parts += ["", Text("Sign-off", style="bold"), _signoff(current)]
    if history:
        shown = list(history)[-HISTORY_IN_DETAIL:]
        title = f"History (last {len(shown)}; `offerctl history {current.offer}` shows all)"
        parts += ["", Text(title, style="bold"), history_table(shown, unicode=unicode)]
    return Group(*parts)


def _pairs(rows: Sequence[tuple[str, str | Text]]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, show_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")  # a long URL or id is wrapped, never cut
    for key, value in rows:
        table.add_row(key, value)
    return table


def _summary(current: OfferStatus, now: datetime, commit: str, unicode: bool) -> Table:
    since = phase_since(current)
    phase = phase_text(current.phase)
    if since is not None:
        phase.append(f" for {duration(now - since)} (since {timestamp(since)})")
    ready = current.condition(ConditionType.READY)
    ready_text = _ready(current)
    if ready is not None:
        ready_text.append(f"  {ready.reason}: {ready.message}")
    rows: list[tuple[str, str | Text]] = [
        ("Offer:", current.offer),
        ("Target:", current.target.value if current.target else "-"),
        ("Phase:", phase),
        ("Ready:", ready_text),
        ("Progress:", progress(current.stages).text(unicode=unicode)),
        ("Estimated live:", current.estimated_live or "-"),
        ("Generation:", _generation(current.observed_generation)),
        ("Manifest commit:", current.observed_commit[:12] or "-"),
        ("Live generation:", _generation(current.live_generation)),
    ]
    if current.preview_url:
        rows.append(("Preview:", current.preview_url))
    if current.submission is not None:
        ref = current.submission
        rows.append(
            ("Submission:", f"{ref.id} (target {ref.target}, generation {short(ref.generation)})")
        )
    rows.append(("Read from:", f"status.yaml at commit {commit[:12]}"))
    return _pairs(rows)


def _generation(value: str) -> str:
    return short(value) if value else "-"


def _stages(current: OfferStatus, now: datetime) -> FitTable:
    table = _grid("STAGE", "STATE", "STARTED", "FINISHED", "TOOK", "DEADLINE", "PARTNER CENTER")
    for stage in current.stages:
        took = "-"
        if stage.started_at is not None:
            end = stage.finished_at or now
            took = duration(end - stage.started_at)
        table.add_row(
            stage.name.value,
            Text(stage.state.value, style=STATE_STYLES[stage.state]),
            timestamp(stage.started_at),
            timestamp(stage.finished_at),
            took,
            timestamp(stage.deadline),
            BY_STAGE[stage.name].partner_center,
        )
    return table


def _conditions(conditions: Sequence[Condition], now: datetime) -> FitTable:
    table = _grid("TYPE", "STATUS", "REASON", "AGE", "MESSAGE")
    for condition in conditions:
        table.add_row(
            condition.type.value,
            Text(condition.status.value, style=READY_STYLES[condition.status]),
            condition.reason,
            age(condition.last_transition_time, now),
            condition.message,
        )
    return table


def _feedback(current: OfferStatus) -> FitTable:
    table = _grid("SEVERITY", "CODE", "STAGE", "PATH", "MESSAGE")
    for finding in current.feedback:
        where = finding.path or "-"
        if finding.file:
            position = (
                f"{finding.file}:{finding.line}:{finding.column}"
                if finding.line
                else (finding.file)
            )
            where = f"{where} ({position})"
        table.add_row(
            Text(finding.severity.value, style=SEVERITY_STYLES[finding.severity]),
            finding.code,
            finding.stage or "local",
            where,
            finding.message,
        )
    return table


def _signoff(current: OfferStatus) -> RenderableType:
    verdict = current.signoff
    if verdict is None:
        if current.target is not None and current.target.value != "live":
            return Text(f"  not needed: target {current.target}", style="dim")
        return Text("  no signoff.yaml judged yet", style="dim")
    valid = Text("yes", style="green") if verdict.valid else Text("no", style="red")
    rows: list[tuple[str, str | Text]] = [
        ("Counts:", valid),
        ("Generation:", _generation(verdict.generation)),
        ("Reason:", f"{verdict.reason}: {verdict.message}" if verdict.message else verdict.reason),
        ("Approvers:", ", ".join(verdict.approvers) or "-"),
    ]
    if verdict.commit:
        rows.append(("Commit:", verdict.commit[:12]))
    if verdict.pull_request:
        rows.append(("Pull request:", verdict.pull_request))
    if verdict.approved_at is not None:
        rows.append(("Approved at:", timestamp(verdict.approved_at)))
    if verdict.trust:
        rows.append(("Trust:", verdict.trust))
    return _pairs(rows)


# ---------------------------------------------------------------- history


def history_table(changes: Sequence[PhaseChange], *, unicode: bool = True) -> FitTable:
    """WHEN FROM TO COMMIT REASON, oldest first."""
    table = _grid("WHEN", "FROM", "", "TO", "COMMIT", "REASON")
    for change in changes:
        ready = change.status.condition(ConditionType.READY) if change.status else None
        table.add_row(
            timestamp(change.committed_at),
            phase_text(change.before) if change.before else Text("-", style="dim"),
            "→" if unicode else "->",
            phase_text(change.after) if change.after else Text("(status removed)", style="dim"),
            change.commit[:12],
            ready.reason if ready else "-",
        )
    return table
