"""The daemon's timeline page: every offer's phase, stage timeline, ETA, findings and sign-off.

Pure: offer entries, the commit they were read at and `now` in, one HTML
document out. The daemon serves it at `/` on `--listen` (see
`controller.daemon.timeline`); nothing here reads git or the clock.

The page is read-only and needs no JavaScript: a server-rendered table (one
row per offer), then one section per offer with its stages as bars against
the documented maximum durations (`model.STAGE_MAX`; a full bar is the whole
allowance), the business-day estimate of the live date, the certification
and validation findings, and the sign-off verdict.

Everything shown comes from status.yaml, which anyone who can merge to the
branch can edit: every string is HTML-escaped, links are made only of
`https://` URLs, and the response carries a Content-Security-Policy that
allows no script, no image, no form, no frame and only the one stylesheet
below (by its hash, so no inline `style` attribute would apply either; the
bars are SVG `width` attributes). The page shows status only: no operator
setting, endpoint or token is ever passed in.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Protocol

from controller.core import eta
from controller.core.generation import short
from controller.core.model import (
    STAGE_MAX,
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    Severity,
    SignOffVerdict,
    Stage,
    StageState,
    StageStatus,
    Target,
)
from controller.present.progress import UNICODE_GLYPHS, progress
from controller.present.stages import BY_STAGE, max_time
from controller.present.timefmt import duration, phase_since, timestamp

CONTENT_TYPE = "text/html; charset=utf-8"
REFRESH_SECONDS = 30  # a <meta> refresh keeps an open page current without any script
BAR_WIDTH = 240  # SVG user units (= CSS pixels) of a stage bar's whole allowance
BAR_HEIGHT = 12

STYLE = """
:root{color-scheme:light;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--busy:#0969da;
--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
margin:0 auto;padding:16px 24px 32px;max-width:1180px}
h1{font-size:20px;margin:0 0 2px}
h2{font-size:17px;margin:0}
h3{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);
margin:14px 0 4px}
p{margin:4px 0}
a{color:var(--busy)}
.meta,.muted{color:var(--muted)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--bg);font-weight:600;white-space:nowrap}
.offers td{white-space:nowrap}
.stages td{white-space:nowrap}
.stages td.label{white-space:normal}
td.msg{overflow-wrap:anywhere}
.phase{font-weight:600}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.busy{color:var(--busy)}
section{border:1px solid var(--line);border-radius:6px;margin:18px 0;padding:10px 16px 14px}
.head{display:flex;gap:14px;align-items:baseline;flex-wrap:wrap}
.glyphs{letter-spacing:.1em}
svg{display:block;margin-top:3px}
.track{fill:#e6eaef}
.open{fill:none;stroke:#8c959f;stroke-dasharray:4 3}
.f-Succeeded{fill:#2da44e}.f-Running{fill:#0969da}.f-Failed{fill:#cf222e}
.f-wait{fill:#d4a72c}.over{fill:#cf222e}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{margin-top:24px;color:var(--muted);font-size:12px}
"""
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# No script, image, font, frame, form or connection; only the stylesheet above, by its hash.
CSP = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)

_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_HTTPS = re.compile(r"^https://[^\s\"'<>`]+$")

PHASE_CLASS: dict[Phase, str] = {
    Phase.LIVE: "ok",
    Phase.PREVIEW: "ok",
    Phase.DRAFT: "ok",
    Phase.WITHDRAWN: "ok",
    Phase.AWAITING_SIGNOFF: "warn",
    Phase.INVALID: "bad",
    Phase.REJECTED: "bad",
    Phase.FAILED: "bad",
    Phase.ORPHANED: "warn",
    Phase.SUSPENDED: "warn",
}
SEVERITY_CLASS = {Severity.ERROR: "bad", Severity.WARNING: "warn", Severity.INFO: "busy"}
READY_CLASS = {
    ConditionStatus.TRUE: "ok",
    ConditionStatus.FALSE: "bad",
    ConditionStatus.UNKNOWN: "warn",
}


class Entry(Protocol):
    """One offer folder and its committed status (`statusread.OfferEntry` fits)."""

    @property
    def offer(self) -> str: ...

    @property
    def status(self) -> OfferStatus | None: ...

    @property
    def problem(self) -> str: ...


def _e(text: object) -> str:
    """Text (and attribute values: quotes too) made inert."""
    return escape(str(text), quote=True)


# ---------------------------------------------------------------- one stage against its maximum


@dataclass(frozen=True, slots=True)
class StageBar:
    """How much of a stage's documented allowance it used (or has used so far)."""

    stage: Stage
    state: StageState
    fraction: float  # 0..1 of the allowance; 0 when it has none or has not started
    overdue: bool  # ran (or is running) past its documented maximum
    label: str


def stage_bar(stage: StageStatus, now: datetime) -> StageBar:
    """`stage` against its documented maximum, as a bar's fill and a one-line label.

    The allowance of a running stage ends at its recorded deadline (business
    days, the configured holidays counted); of a finished stage, at the
    deadline `eta` gives without holidays. SignOff has none: it waits for the
    publisher, so it has no fill, only how long it has waited.
    """
    maximum = STAGE_MAX[stage.name]
    limit = f"max {max_time(stage.name)}" if maximum is not None else "no maximum"
    state = stage.state
    if stage.started_at is None or state in (StageState.PENDING, StageState.SKIPPED):
        label = "skipped" if state is StageState.SKIPPED else f"pending · {limit}"
        return StageBar(stage.name, state, 0.0, False, label)
    end = stage.finished_at if stage.finished_at is not None else now
    took = duration(end - stage.started_at)
    if maximum is None:
        verb = "waiting" if state is StageState.RUNNING else "waited"
        return StageBar(
            stage.name, state, 0.0, False, f"{verb} {took} · no maximum: waits for the publisher"
        )
    deadline = stage.deadline if state is StageState.RUNNING else None
    if deadline is None:
        deadline = eta.stage_deadline(stage.name, stage.started_at, "") or (
            stage.started_at + maximum
        )
    allowance = (deadline - stage.started_at).total_seconds()
    used = (end - stage.started_at).total_seconds()
    fraction = min(1.0, max(0.0, used / allowance)) if allowance > 0 else 1.0
    overdue = end > deadline
    if state is StageState.RUNNING:
        label = f"running {took} · {limit} · due {timestamp(deadline)}"
    elif state is StageState.FAILED:
        label = f"failed after {took} · {limit}"
    else:
        label = f"took {took} · {limit}"
    if overdue:
        label += " · past its documented maximum"
    return StageBar(stage.name, state, fraction, overdue, label)


def _bar_svg(bar: StageBar) -> str:
    """An inline SVG bar: the track is the whole allowance, the fill what was used.

    A skipped stage has no bar: it has no allowance to use.
    """
    if bar.state is StageState.SKIPPED:
        return ""
    size = f'width="{BAR_WIDTH}" height="{BAR_HEIGHT}" viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}"'
    parts = [f'<svg {size} role="img" aria-label="{_e(bar.label)}"><title>{_e(bar.label)}</title>']
    if STAGE_MAX[bar.stage] is None:
        parts.append(
            f'<rect class="open" x="0.5" y="0.5" width="{BAR_WIDTH - 1}" '
            f'height="{BAR_HEIGHT - 1}" rx="3"/>'
        )
        if bar.state is StageState.RUNNING:
            parts.append(
                f'<rect class="f-wait" x="2" y="2" width="{BAR_WIDTH - 4}" '
                f'height="{BAR_HEIGHT - 4}" rx="2"/>'
            )
        elif bar.state is StageState.SUCCEEDED:
            parts.append(
                f'<rect class="f-Succeeded" x="2" y="2" width="{BAR_WIDTH - 4}" '
                f'height="{BAR_HEIGHT - 4}" rx="2"/>'
            )
    else:
        parts.append(f'<rect class="track" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" rx="3"/>')
        fill = round(bar.fraction * BAR_WIDTH, 1)
        if fill > 0:
            kind = "over" if bar.overdue else f"f-{bar.state.value}"
            parts.append(f'<rect class="{kind}" width="{fill}" height="{BAR_HEIGHT}" rx="3"/>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- the document


def render_page(
    entries: Sequence[Entry], *, commit: str, now: datetime, title: str = "offerctl"
) -> str:
    """The whole page for the offers at `commit`, as one HTML document."""
    summary = _summary(entries)
    body = [
        f"<header><h1>{_e(title)}: offers timeline</h1>",
        f'<p class="meta">{len(entries)} offer{"" if len(entries) == 1 else "s"} at commit '
        f"<code>{_e(commit[:12])}</code> · {_e(summary)} · as of {_e(timestamp(now))}. "
        f"Read-only; refreshes every {REFRESH_SECONDS} s.</p></header>",
    ]
    if not entries:
        body.append('<p class="muted">No offers in this commit.</p>')
    else:
        body.append(_offers_table(entries, now))
        body.extend(_offer_section(entry, now, index) for index, entry in enumerate(entries))
    body.append(_footer())
    return _document(title, "\n".join(body), commit=commit)


def waiting_page(now: datetime, reason: str, *, title: str = "offerctl") -> str:
    """The page before there is anything to show (no successful pass yet)."""
    body = (
        f"<header><h1>{_e(title)}: offers timeline</h1></header>"
        f'<p class="muted">{_e(reason)} (as of {_e(timestamp(now))}). '
        f"This page refreshes every {REFRESH_SECONDS} s.</p>"
    )
    return _document(title, body)


def _document(title: str, body: str, *, commit: str = "") -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}: offers timeline</title>"
        f"<style>{STYLE}</style></head>\n"
        f'<body data-commit="{_e(commit)}">\n{body}\n</body></html>\n'
    )


def _summary(entries: Sequence[Entry]) -> str:
    """`2 ready, 1 needs a fix, 1 awaiting sign-off`, as `offerctl status`'s footer counts."""
    statuses = [e.status for e in entries if e.status is not None]
    ready = sum(1 for s in statuses if _condition_true(s, ConditionType.READY))
    stalled = sum(1 for s in statuses if _condition_true(s, ConditionType.STALLED))
    signoff = sum(1 for s in statuses if s.phase is Phase.AWAITING_SIGNOFF)
    parts = [f"{ready} ready"]
    if stalled:
        parts.append(f"{stalled} need{'s' if stalled == 1 else ''} a fix")
    if signoff:
        parts.append(f"{signoff} awaiting sign-off")
    missing = len(entries) - len(statuses)
    if missing:
        parts.append(f"{missing} without status")
    return ", ".join(parts)


def _condition_true(status: OfferStatus, kind: ConditionType) -> bool:
    condition = status.condition(kind)
    return condition is not None and condition.status is ConditionStatus.TRUE


def _anchor(offer: str, index: int) -> str:
    """A fragment id for the offer's section: its id when that is plain, else its position."""
    return f"offer-{offer}" if _SAFE_ID.match(offer) else f"offer-{index}"


def _phase(phase: Phase) -> str:
    return f'<span class="phase {PHASE_CLASS.get(phase, "busy")}">{_e(phase.value)}</span>'


def _ready(status: OfferStatus) -> str:
    ready = status.condition(ConditionType.READY)
    if ready is None:
        return '<span class="warn">Unknown</span>'
    return f'<span class="{READY_CLASS[ready.status]}">{_e(ready.status.value)}</span>'


def _glyphs(stages: Sequence[StageStatus]) -> str:
    shown = progress(stages)
    if not shown.states or shown.total == 0:
        return '<span class="muted">-</span>'
    glyphs = "".join(UNICODE_GLYPHS[state] for state in shown.states)
    return f'<span class="glyphs">{glyphs}</span> {shown.done}/{shown.total}'


def _signoff_short(status: OfferStatus) -> str:
    verdict = status.signoff
    if verdict is None or (status.target is not None and status.target is not Target.LIVE):
        return '<span class="muted">-</span>'  # only a live target waits for one
    css = "ok" if verdict.valid else "warn"
    return f'<span class="{css}">{_e(verdict.reason)}</span>'


def _findings_short(findings: Sequence[Finding]) -> str:
    if not findings:
        return '<span class="muted">0</span>'
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    css = "bad" if errors else "warn"
    return f'<span class="{css}">{len(findings)}</span>'


def _offers_table(entries: Sequence[Entry], now: datetime) -> str:
    rows = [
        '<table class="offers"><thead><tr><th>Offer</th><th>Target</th><th>Phase</th>'
        "<th>Stages</th><th>In phase</th><th>ETA</th><th>Ready</th><th>Sign-off</th>"
        "<th>Findings</th></tr></thead><tbody>"
    ]
    for index, entry in enumerate(entries):
        link = f'<a href="#{_e(_anchor(entry.offer, index))}">{_e(entry.offer)}</a>'
        current = entry.status
        if current is None:
            note = "(unreadable status)" if entry.problem else "(not reconciled yet)"
            rows.append(f'<tr><td>{link}</td><td colspan="8" class="muted">{_e(note)}</td></tr>')
            continue
        since = phase_since(current)
        rows.append(
            f"<tr><td>{link}</td>"
            f"<td>{_e(current.target.value if current.target else '-')}</td>"
            f"<td>{_phase(current.phase)}</td>"
            f"<td>{_glyphs(current.stages)}</td>"
            f"<td>{_e(duration(now - since) if since else '-')}</td>"
            f"<td>{_e(current.estimated_live or '-')}</td>"
            f"<td>{_ready(current)}</td>"
            f"<td>{_signoff_short(current)}</td>"
            f"<td>{_findings_short(current.feedback)}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _offer_section(entry: Entry, now: datetime, index: int) -> str:
    anchor = _anchor(entry.offer, index)
    current = entry.status
    head = f'<div class="head"><h2>{_e(entry.offer)}</h2>'
    if current is None:
        why = entry.problem or "no status.yaml yet: the controller has not reconciled it"
        return (
            f'<section id="{_e(anchor)}">{head}<span class="muted">no status</span></div>'
            f'<p class="muted">{_e(why)}</p></section>'
        )
    since = phase_since(current)
    target = current.target.value if current.target else "-"
    head += (
        f"{_phase(current.phase)}"
        f'<span class="muted">target {_e(target)}'
        f"{' · for ' + _e(duration(now - since)) if since else ''}</span></div>"
    )
    parts = [f'<section id="{_e(anchor)}">{head}', _ready_line(current)]
    parts += ["<h3>Timeline</h3>", _eta_line(current), _stages_table(current, now)]
    parts += [f"<h3>Findings ({len(current.feedback)})</h3>", _findings(current.feedback)]
    parts += ["<h3>Sign-off</h3>", _signoff(current.signoff, current.target)]
    parts.append("</section>")
    return "".join(parts)


def _ready_line(status: OfferStatus) -> str:
    ready = status.condition(ConditionType.READY)
    lines = []
    if ready is not None:
        lines.append(
            f"<p>Ready: {_ready(status)} · {_e(ready.reason)}"
            f"{': ' + _e(ready.message) if ready.message else ''}</p>"
        )
    url = status.preview_url
    if url:
        shown = (
            f'<a href="{_e(url)}" rel="noreferrer noopener">{_e(url)}</a>'
            if _HTTPS.match(url)
            else f"<code>{_e(url)}</code>"
        )
        lines.append(f"<p>Preview: {shown}</p>")
    return "".join(lines)


def _eta_line(status: OfferStatus) -> str:
    if status.estimated_live:
        return (
            f"<p>Estimated live: <strong>{_e(status.estimated_live)}</strong> "
            '<span class="muted">(business days, each stage at its documented maximum)</span></p>'
        )
    return '<p class="muted">Estimated live: - (nothing in flight towards live)</p>'


def _stages_table(status: OfferStatus, now: datetime) -> str:
    if not status.stages:
        return '<p class="muted">No stages: nothing was submitted.</p>'
    rows = [
        '<table class="stages"><thead><tr><th>Stage</th><th>Partner Center</th><th>State</th>'
        "<th>Against its documented maximum</th><th>Started</th><th>Finished</th>"
        "</tr></thead><tbody>"
    ]
    for stage in status.stages:
        bar = stage_bar(stage, now)
        css = {
            StageState.SUCCEEDED: "ok",
            StageState.RUNNING: "busy",
            StageState.FAILED: "bad",
        }.get(stage.state, "muted")
        rows.append(
            f"<tr><td>{_e(stage.name.value)}</td>"
            f"<td>{_e(BY_STAGE[stage.name].partner_center)}</td>"
            f'<td class="{css}">{_e(stage.state.value)}</td>'
            f'<td class="label">{_bar_svg(bar)}<span class="muted">{_e(bar.label)}</span></td>'
            f"<td>{_e(timestamp(stage.started_at))}</td>"
            f"<td>{_e(timestamp(stage.finished_at))}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _where(finding: Finding) -> str:
    parts = []
    if finding.file:
        position = finding.file
        if finding.line:
            position += f":{finding.line}" + (f":{finding.column}" if finding.column else "")
        parts.append(f"<code>{_e(position)}</code>")
    if finding.path:
        parts.append(f"<code>{_e(finding.path)}</code>")
    return " ".join(parts) or '<span class="muted">-</span>'


def _findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return '<p class="muted">none</p>'
    rows = [
        '<table class="findings"><thead><tr><th>Severity</th><th>Code</th><th>Stage</th>'
        "<th>Where</th><th>Message</th></tr></thead><tbody>"
    ]
    for finding in findings:
        rows.append(
            f'<tr><td class="{SEVERITY_CLASS[finding.severity]}">{_e(finding.severity.value)}</td>'
            f"<td><code>{_e(finding.code)}</code></td>"
            f"<td>{_e(finding.stage or 'local')}</td>"
            f"<td>{_where(finding)}</td>"
            f'<td class="msg">{_e(finding.message)}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _signoff(verdict: SignOffVerdict | None, target: Target | None) -> str:
    if verdict is None:
        if target is not None and target is not Target.LIVE:
            return f'<p class="muted">not needed: target {_e(target.value)}</p>'
        return '<p class="muted">no signoff.yaml judged yet</p>'
    note = ""
    if target is not None and target is not Target.LIVE:
        note = f'<p class="muted">not needed for target {_e(target.value)}; the last verdict:</p>'
    counts = '<span class="ok">yes</span>' if verdict.valid else '<span class="bad">no</span>'
    reason = f"{verdict.reason}: {verdict.message}" if verdict.message else verdict.reason
    rows = [
        ("Counts", counts),
        ("Reason", _e(reason)),
        ("Generation", f"<code>{_e(short(verdict.generation) or '-')}</code>"),
        ("Approvers", _e(", ".join(verdict.approvers) or "-")),
    ]
    if verdict.commit:
        rows.append(("Commit", f"<code>{_e(verdict.commit[:12])}</code>"))
    if verdict.pull_request:
        rows.append(("Pull request", _e(verdict.pull_request)))
    if verdict.approved_at is not None:
        rows.append(("Approved at", _e(timestamp(verdict.approved_at))))
    if verdict.trust:
        rows.append(("Trust", _e(verdict.trust)))
    items = "".join(f"<dt>{key}</dt><dd>{value}</dd>" for key, value in rows)
    return f"{note}<dl>{items}</dl>"


def _footer() -> str:
    return (
        "<footer>Bars: each stage against its documented maximum duration (a full bar is "
        "the whole allowance; red is past it). SignOff has no maximum: it waits for the "
        "publisher. Times are UTC. Data: the committed status.yaml files at the commit above."
        "</footer>"
    )
