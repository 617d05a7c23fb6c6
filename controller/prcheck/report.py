"""What a pull request will do, as GitHub's JSON and Markdown: the pure half of `pr-check`.

Input: the validation results (`offerctl validate`'s), each offer's plan and
the status the pass would write (`offerctl plan`'s), and, for a pull request
that adds `offers/<id>/signoff.yaml`, what it signs off and what the
controller last committed. Output:

- a check run (`POST /repos/{o}/{r}/check-runs`): name "offerctl", status
  completed, a conclusion, `output.title/summary/text` and the findings as
  annotations. GitHub takes at most 50 annotations per request; the rest go
  in `PATCH /repos/{o}/{r}/check-runs/{id}` requests, 50 each, which append;
- a commit status (`POST /repos/{o}/{r}/statuses/{sha}`) for tokens that may
  not create check runs;
- the Markdown job summary, with a Mermaid gantt of each offer's stages
  against the documented maximum durations (`controller.core.eta.stage_windows`).

Conclusion: failure when validation found an error (the command exits 1);
neutral when everything is valid but an offer could not be planned; else
success. Everything from the repository (offer names, finding messages, the
sign-off's fields) is untrusted: Markdown gets it escaped (no HTML, no links,
no @-mentions, no table breaks) and Mermaid only a safe subset of characters.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.core.eta import StageWindow, stage_windows
from controller.core.model import STAGE_MAX, Phase, Severity, Stage, StageState, StageStatus
from controller.core.planning import OfferPlan, Step, summarize
from controller.present import report

CHECK_NAME = "offerctl"
ANNOTATIONS_PER_REQUEST = 50  # GitHub's limit for one create or update request
MAX_ANNOTATIONS = 1000  # beyond this, findings are counted, not annotated
MAX_OUTPUT_CHARS = 65_535  # output.summary and output.text, each
MAX_ANNOTATION_MESSAGE = 4_000  # GitHub allows 64 KB; a finding is a line or two
MAX_STATUS_DESCRIPTION = 140  # commit status description
MAX_FINDING_ROWS = 100  # in the Markdown table; the rest are counted
MAX_GANTT_OFFERS = 30
MAX_CELL = 300  # characters of one table cell
MAX_NAME = 60  # characters of an offer's name in the gantt

_LEVEL = {Severity.ERROR: "failure", Severity.WARNING: "warning", Severity.INFO: "notice"}
_FINISHED = (StageState.SUCCEEDED, StageState.SKIPPED)
_NONE = "\N{EN DASH}"  # an empty cell


@dataclass(frozen=True, slots=True)
class OfferFacts:
    """One offer as pr-check shows it: its plan, its name, the status the pass would write."""

    offer: str
    plan: OfferPlan
    title: str = ""  # the manifest's spec.offerSetup.alias (untrusted)
    estimated_live: str = ""  # ISO date, from the status the pass would write
    stages: tuple[StageStatus, ...] = ()  # of the status the pass would write


@dataclass(frozen=True, slots=True)
class SignOffFacts:
    """A signoff.yaml the pull request adds, and what the controller last committed."""

    offer: str
    generation: str = ""  # what signoff.yaml names ("" when it cannot be read)
    problem: str = ""  # why signoff.yaml cannot be used
    committed_generation: str = ""  # status.yaml's observedGeneration at the base
    committed_phase: str = ""  # "" when the base has no status for the offer
    preview_url: str = ""


@dataclass(frozen=True, slots=True)
class CheckFacts:
    """Everything one pr-check reports, gathered by the command."""

    results: Sequence[report.Result]
    offers: Sequence[OfferFacts]
    now: datetime
    commit: str = ""  # the commit planned
    base: str = ""  # the base commit statuses and the diff come from ("" when none)
    from_committed: bool = True
    plan_error: str = ""  # the plan could not be made at all
    notes: Sequence[str] = ()
    signoffs: Sequence[SignOffFacts] = ()
    country: str = "US"  # publishing.yaml's holidays.country, for business days

    @property
    def valid(self) -> bool:
        return all(r.ok for r in self.results)


# ---------------------------------------------------------------- the verdict


def conclusion(facts: CheckFacts) -> str:
    """failure (validation errors), neutral (an offer could not be planned) or success."""
    if not facts.valid:
        return "failure"
    if facts.plan_error or any(o.plan.step is Step.ERROR for o in facts.offers):
        return "neutral"
    return "success"


def title(facts: CheckFacts) -> str:
    """One line: validation's summary, then what the plan does."""
    line = report.summary(facts.results)
    if facts.plan_error:
        return f"{line}; no plan"
    steps = [o.plan.step for o in facts.offers]
    counted = [
        f"{steps.count(step)} {label}"
        for step, label in (
            (Step.ERROR, "not evaluated"),
            (Step.SUBMIT, "to submit"),
            (Step.CANCEL, "to cancel"),
            (Step.GO_LIVE, "to go live"),
            (Step.WITHDRAW, "to withdraw"),
            (Step.AWAIT_SIGNOFF, "awaiting sign-off"),
            (Step.BLOCKED, "blocked"),
        )
        if step in steps
    ]
    return f"{line}; " + (", ".join(counted) if counted else "nothing to submit")


# ---------------------------------------------------------------- check run and status


def annotations_for(results: Sequence[report.Result]) -> list[dict[str, object]]:
    """Every finding with a file, as a check-run annotation (at most MAX_ANNOTATIONS)."""
    found: list[dict[str, object]] = []
    for result in results:
        for finding in result.findings:
            path = finding.file or result.file
            if not path or len(found) >= MAX_ANNOTATIONS:
                continue
            line = max(1, finding.line)
            message = finding.message + (f" (at {finding.path})" if finding.path else "")
            found.append(
                {
                    "path": path,
                    "start_line": line,
                    "end_line": line,
                    "annotation_level": _LEVEL.get(finding.severity, "notice"),
                    "message": _clip(message, MAX_ANNOTATION_MESSAGE),
                    "title": _clip(finding.code, 255),
                }
            )
    return found


@dataclass(frozen=True, slots=True)
class CheckRunRequests:
    """The create request, then one update per further 50 annotations."""

    create: dict[str, object]
    updates: tuple[dict[str, object], ...]


def check_run(facts: CheckFacts, head_sha: str, details_url: str = "") -> CheckRunRequests:
    """The check-run requests for `head_sha`: POST the first, PATCH each of the rest."""
    notes = annotations_for(facts.results)
    batches = [
        notes[i : i + ANNOTATIONS_PER_REQUEST]
        for i in range(0, len(notes), ANNOTATIONS_PER_REQUEST)
    ] or [[]]
    output_title = _clip(title(facts), 255)
    summary = _clip(summary_markdown(facts, findings=False, gantt=False), MAX_OUTPUT_CHARS)
    output: dict[str, object] = {
        "title": output_title,
        "summary": summary,
        "text": _clip(details_markdown(facts), MAX_OUTPUT_CHARS),
        "annotations": batches[0],
    }
    create: dict[str, object] = {
        "name": CHECK_NAME,
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": conclusion(facts),
        "completed_at": _rfc3339(facts.now),
        "output": output,
    }
    if _is_https(details_url):
        create["details_url"] = details_url
    updates: tuple[dict[str, object], ...] = tuple(
        {"output": {"title": output_title, "summary": summary, "annotations": batch}}
        for batch in batches[1:]
    )
    return CheckRunRequests(create, updates)


def commit_status(facts: CheckFacts, target_url: str = "") -> dict[str, object]:
    """A commit status: the same verdict, for tokens that cannot create check runs.

    A status has no "neutral": it reads success, with the title saying why.
    """
    state = "failure" if conclusion(facts) == "failure" else "success"
    body: dict[str, object] = {
        "state": state,
        "context": CHECK_NAME,
        "description": _clip(title(facts), MAX_STATUS_DESCRIPTION),
    }
    if _is_https(target_url):
        body["target_url"] = target_url
    return body


# ---------------------------------------------------------------- Markdown


def summary_markdown(facts: CheckFacts, *, findings: bool = True, gantt: bool = True) -> str:
    """The job summary: validation, the plan per offer, sign-off, findings, the gantt."""
    lines = ["## offerctl pr-check", "", f"**Validation:** {md(report.summary(facts.results))}"]
    lines += ["", *_plan_section(facts)]
    if facts.signoffs:
        lines += ["", *_signoff_section(facts)]
    if facts.notes:
        lines += ["", *(f"> {md(note)}" for note in facts.notes)]
    text = "\n".join(lines) + "\n"
    if findings or gantt:
        text += "\n" + details_markdown(facts, findings=findings, gantt=gantt)
    return text


def details_markdown(facts: CheckFacts, *, findings: bool = True, gantt: bool = True) -> str:
    """The findings table and the gantt (the check run's `output.text`)."""
    parts = []  # the gantt first: it is short, and clipping must not cut its fence
    if gantt:
        parts.append(gantt_section(facts))
    if findings:
        parts.append(_findings_section(facts.results))
    return "\n".join(p for p in parts if p)


def _plan_section(facts: CheckFacts) -> list[str]:
    if facts.plan_error:
        return [f"**Plan:** could not be made: {md(facts.plan_error)}"]
    source = (
        f"the statuses the controller last committed{_at(facts.base or facts.commit)}"
        if facts.from_committed
        else "the marketplace"
    )
    head = [
        f"**Plan** of `{_hex(facts.commit)[:12]}` (observations from {source}): "
        f"{md(summarize([o.plan for o in facts.offers]).line())}"
    ]
    if not facts.offers:
        return head
    rows = [
        "",
        "| Offer | Now | Next | Step | Estimated live | Why |",
        "|---|---|---|---|---|---|",
    ]
    for offer in facts.offers:
        plan = offer.plan
        step = plan.step.value + "".join(f"<br>{md(a)}" for a in plan.actions)
        rows.append(
            f"| {_offer_cell(offer)} | {_phase(plan.before)} | {_phase(plan.after)} | {step} "
            f"| {md(offer.estimated_live) or _NONE} | {md(_clip(plan.why, MAX_CELL))} |"
        )
    return head + rows


def _signoff_section(facts: CheckFacts) -> list[str]:
    lines = ["### Sign-off", ""]
    for item in facts.signoffs:
        where = f"offers/{item.offer}/signoff.yaml"
        if item.problem or not item.generation:
            lines.append(f"- `{md(where)}` cannot be used: {md(item.problem or 'unreadable')}")
            continue
        text = (
            f"- This pull request signs off generation `{_generation(item.generation)}` "
            f"of {_bold_offer(facts, item.offer)}."
        )
        if not item.committed_phase:
            text += f" The controller has committed no status for it{_at(facts.base)}."
        elif item.committed_generation == item.generation:
            text += (
                f" That is the generation the controller last committed{_at(facts.base)} "
                f"(phase {md(item.committed_phase)})."
            )
        else:
            committed = item.committed_generation
            text += (
                f" The controller last committed generation "
                f"`{_generation(committed) if committed else 'none'}`{_at(facts.base)} "
                f"(phase {md(item.committed_phase)}): this sign-off names another generation "
                "and will not count for it."
            )
        if _is_https(item.preview_url):
            text += f" Preview: <{item.preview_url}>"
        elif item.preview_url:
            text += f" Preview (not an https link): {md(item.preview_url)}"
        lines.append(text)
    return lines


def _findings_section(results: Sequence[report.Result]) -> str:
    found = [(r, f) for r in results for f in r.findings]
    if not found:
        return ""
    lines = [
        f"### Findings ({len(found)})",
        "",
        "| Severity | File | Code | Message |",
        "|---|---|---|---|",
    ]
    for result, finding in found[:MAX_FINDING_ROWS]:
        where = finding.file or result.file
        if where and finding.line:
            where += f":{finding.line}"
        message = finding.message + (f" (at {finding.path})" if finding.path else "")
        lines.append(
            f"| {finding.severity} | {md(where)} | {md(finding.code)} "
            f"| {md(_clip(message, MAX_CELL))} |"
        )
    if len(found) > MAX_FINDING_ROWS:
        lines.append(f"\n{len(found) - MAX_FINDING_ROWS} more findings not listed.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the gantt


def gantt_section(facts: CheckFacts) -> str:
    """A heading and the gantt, or "" when no offer has a stage ahead."""
    chart = gantt(facts.offers, facts.now, facts.country)
    if not chart:
        return ""
    return (
        "### Stages against the documented maximum durations\n\n"
        "Finished stages as they ran; the running stage until its documented maximum; "
        "stages ahead for their documented maximums, day-long ones in business days. "
        "Sign-off is a milestone: it waits for a person.\n\n"
        f"```mermaid\n{chart}```\n"
    )


def gantt(offers: Sequence[OfferFacts], now: datetime, country: str) -> str:
    """A Mermaid gantt, one section per offer with a stage ahead, one bar per stage."""
    sections: list[str] = []
    shown = 0
    for index, offer in enumerate(offers):
        windows = stage_windows(offer.stages, now, country)
        if windows is None or all(w.state in _FINISHED for w in windows):
            continue  # failed, or at rest: nothing ahead to draw
        if shown == MAX_GANTT_OFFERS:
            break
        shown += 1
        sections.append(f"    section {mermaid_text(_name(offer))}")
        for number, window in enumerate(windows):
            if window.state is StageState.SKIPPED:
                continue
            sections.append("    " + _bar(window, f"o{index}s{number}"))
    if not sections:
        return ""
    head = [
        "gantt",
        "    dateFormat YYYY-MM-DD HH:mm",
        "    axisFormat %b %d",
    ]
    return "\n".join(head + sections) + "\n"


def _bar(window: StageWindow, ident: str) -> str:
    maximum = STAGE_MAX[window.stage]
    label = f"{window.stage.value} (max {_duration(maximum)})" if maximum else window.stage.value
    start = window.start.strftime("%Y-%m-%d %H:%M")
    if window.stage is Stage.SIGNOFF:
        tags = "milestone, done" if window.state in _FINISHED else "milestone"
        return f"{label} :{tags}, {ident}, {start}, 0d"
    end = max(window.end, window.start + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    tags = {StageState.SUCCEEDED: "done, ", StageState.RUNNING: "active, "}.get(window.state, "")
    if window.overdue:
        tags = "crit, " + tags
    return f"{label} :{tags}{ident}, {start}, {end}"


def _duration(value: timedelta) -> str:
    if value % timedelta(weeks=1) == timedelta(0):
        weeks = value // timedelta(weeks=1)
        return f"{weeks} week{'s' if weeks != 1 else ''}"
    if value % timedelta(days=1) == timedelta(0):
        return f"{value.days} days" if value.days != 1 else "1 day"
    if value % timedelta(hours=1) == timedelta(0):
        hours = value // timedelta(hours=1)
        return f"{hours} h"
    return f"{value // timedelta(minutes=1)} min"


# ---------------------------------------------------------------- escaping

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 ._/+()-]+")
_LINKISH = re.compile(r"(?i)(://|www\.)")


def md(text: str) -> str:
    """Untrusted text as inert Markdown inside a line: no HTML, links, mentions, table breaks.

    One line (newlines would end a table row); `<`, `>` and `&` as entities (no
    HTML); backslashes before the characters that make code, emphasis, links
    and table cells; `@` as an entity (a mention notifies someone); `://` and
    `www.` broken up, so GitHub does not make a link of them.
    """
    flat = " ".join(text.split())
    escaped = html.escape(flat, quote=False)
    escaped = _MD_SPECIAL.sub(r"\\\1", escaped)
    escaped = _LINKISH.sub(
        lambda m: m.group(1).replace(":", "&#58;").replace(".", "&#46;"), escaped
    )
    return escaped.replace("@", "&#64;")


def mermaid_text(text: str) -> str:
    """Untrusted text for a Mermaid name: letters, digits, spaces and ._/+()- only, one line."""
    cleaned = " ".join(_MERMAID_UNSAFE.sub(" ", text).split())
    return cleaned[:MAX_NAME].rstrip() or "offer"


# ---------------------------------------------------------------- helpers


def _name(offer: OfferFacts) -> str:
    return f"{offer.title} ({offer.offer})" if offer.title else offer.offer


def _offer_cell(offer: OfferFacts) -> str:
    if offer.title:
        return f"{md(_clip(offer.title, MAX_NAME))} (`{_ident(offer.offer)}`)"
    return f"`{_ident(offer.offer)}`"


def _bold_offer(facts: CheckFacts, offer: str) -> str:
    named = next((o.title for o in facts.offers if o.offer == offer and o.title), "")
    ident = f"`{_ident(offer)}`"
    return f"**{md(_clip(named, MAX_NAME))}** ({ident})" if named else ident


def _ident(text: str) -> str:
    """An offer id inside a code span: ids are [a-z0-9-], anything else is dropped."""
    return re.sub(r"[^a-z0-9-]", "", text)


def _hex(text: str) -> str:
    return re.sub(r"[^0-9a-f]", "", text)


def _generation(text: str) -> str:
    body = _hex(text.removeprefix("sha256:"))
    return f"sha256:{body}" if text.startswith("sha256:") else body


def _phase(phase: Phase | None) -> str:
    return phase.value if phase is not None else _NONE


def _at(commit: str) -> str:
    return f" at `{_hex(commit)[:12]}`" if commit else ""


def _is_https(url: str) -> bool:
    return bool(re.fullmatch(r"https://[^\s<>\"'`\\]+", url))


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    tail = f"… ({len(text) - limit} characters more)"
    return text[: max(0, limit - len(tail))] + tail
