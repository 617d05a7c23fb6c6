"""The pure half of pr-check: check-run payloads, the commit status, the summary and the gantt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from controller.core.model import Finding, Phase, Severity, Stage, StageState, StageStatus
from controller.core.planning import OfferPlan, Step
from controller.prcheck import report
from controller.prcheck.report import CheckFacts, OfferFacts, SignOffFacts

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday; Thursday the 26th is Thanksgiving
GEN = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
HEAD = "1f" * 20


@dataclass(frozen=True)
class Result:
    offer_id: str
    file: str
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


@dataclass(frozen=True)
class Facts:
    results: list[Result] = field(default_factory=list)
    offers: list[OfferFacts] = field(default_factory=list)

    def build(self, **more: object) -> CheckFacts:
        values: dict[str, object] = {
            "results": self.results,
            "offers": self.offers,
            "now": NOW,
            "commit": HEAD,
            "country": "US",
        }
        values.update(more)
        return CheckFacts(**values)  # type: ignore[arg-type]


def finding(n: int, severity: Severity = Severity.ERROR, line: int = 0) -> Finding:
    return Finding(
        code=f"Code{n}",
        message=f"problem {n}",
        path=f"$.spec.x[{n}]",
        severity=severity,
        file="offers/a/offer.yaml",
        line=line or n + 1,
    )


def plan(offer: str, step: Step = Step.WAIT, why: str = "waiting") -> OfferPlan:
    return OfferPlan(offer, step, Phase.VALIDATING, Phase.VALIDATING, (), why, False)


def test_51_findings_go_out_as_one_create_with_50_and_one_update_with_the_51st() -> None:
    facts = Facts([Result("a", "offers/a/offer.yaml", tuple(finding(n) for n in range(51)))])

    run = report.check_run(facts.build(), HEAD)

    create = run.create
    output = create["output"]
    assert isinstance(output, dict)
    assert create["name"] == "offerctl" and create["head_sha"] == HEAD
    assert create["status"] == "completed" and create["conclusion"] == "failure"
    assert [a["message"] for a in output["annotations"]] == [
        f"problem {n} (at $.spec.x[{n}])" for n in range(50)
    ]
    assert len(run.updates) == 1
    update = run.updates[0]["output"]
    assert isinstance(update, dict)
    # GitHub requires title and summary on every update that carries output.
    assert update["title"] == output["title"] and update["summary"] == output["summary"]
    assert update["annotations"] == [
        {
            "path": "offers/a/offer.yaml",
            "start_line": 51,
            "end_line": 51,
            "annotation_level": "failure",
            "message": "problem 50 (at $.spec.x[50])",
            "title": "Code50",
        }
    ]


def test_exactly_50_findings_need_no_update_and_none_an_empty_list() -> None:
    fifty = Facts([Result("a", "offers/a/offer.yaml", tuple(finding(n) for n in range(50)))])
    assert report.check_run(fifty.build(), HEAD).updates == ()
    clean = report.check_run(Facts([Result("a", "offers/a/offer.yaml")]).build(), HEAD)
    output = clean.create["output"]
    assert isinstance(output, dict)
    assert output["annotations"] == [] and clean.updates == ()
    assert clean.create["conclusion"] == "success"


def test_annotation_levels_lines_and_paths() -> None:
    findings = (
        Finding("W", "warn", severity=Severity.WARNING, file="offers/a/offer.yaml", line=3),
        Finding("I", "info", severity=Severity.INFO, line=0),  # no file: the offer's file
    )
    notes = report.annotations_for([Result("a", "offers/a/offer.yaml", findings)])
    assert [(n["annotation_level"], n["path"], n["start_line"]) for n in notes] == [
        ("warning", "offers/a/offer.yaml", 3),
        ("notice", "offers/a/offer.yaml", 1),  # GitHub needs a line: 1 when unknown
    ]
    # A repository-wide finding with no file at all cannot be annotated; it is in the text.
    assert report.annotations_for([Result("", "", (Finding("X", "x"),))]) == []


def test_conclusion_and_commit_status() -> None:
    warning = Result("a", "f", (finding(1, Severity.WARNING),))
    error = Result("b", "f", (finding(2),))
    assert report.conclusion(Facts([warning]).build()) == "success"
    assert report.conclusion(Facts([warning, error]).build()) == "failure"
    unplanned = Facts([warning], [OfferFacts("a", plan("a", Step.ERROR, "unreachable"))])
    assert report.conclusion(unplanned.build()) == "neutral"
    assert report.conclusion(Facts([warning]).build(plan_error="no repo")) == "neutral"

    status = report.commit_status(Facts([warning, error]).build(), "https://github.com/x/runs/1")
    assert status == {
        "state": "failure",
        "context": "offerctl",
        "description": status["description"],
        "target_url": "https://github.com/x/runs/1",
    }
    assert str(status["description"]).startswith("1 of 2 offers invalid: 1 error, 1 warning")
    many = Facts([Result(f"o{n}", "f", (finding(n),)) for n in range(300)])
    assert len(str(report.commit_status(many.build())["description"])) <= 140
    neutral = report.commit_status(unplanned.build(), "javascript:alert(1)")
    assert neutral["state"] == "success" and "target_url" not in neutral


def test_the_summary_has_the_plan_per_offer_and_the_estimated_live_date() -> None:
    offers = [
        OfferFacts(
            "contoso-x",
            OfferPlan(
                "contoso-x",
                Step.SUBMIT,
                None,
                Phase.VALIDATING,
                ("submit generation abab for target live",),
                "this offer has not been submitted yet",
                True,
            ),
            title="Contoso X",
            estimated_live="2026-12-07",
        )
    ]
    text = report.summary_markdown(Facts([Result("contoso-x", "f")], offers).build())
    row = next(line for line in text.splitlines() if "contoso-x" in line)
    dash = "\N{EN DASH}"
    assert row.startswith(f"| Contoso X (`contoso-x`) | {dash} | Validating | submit<br>submit ")
    assert "| 2026-12-07 | this offer has not been submitted yet |" in row


# ---------------------------------------------------------------- escaping

HOSTILE = (
    "Evil | col]\n```\n</details><img src=x onerror=alert(1)> @octo-org/admins "
    "[click](https://evil.example) www.evil.example %% ; : # `x` *b* _i_"
)


def test_untrusted_text_cannot_break_the_markdown() -> None:
    offers = [OfferFacts("evil-offer", plan("evil-offer", why=HOSTILE), title=HOSTILE)]
    results = [Result("evil-offer", "offers/evil-offer/offer.yaml", (Finding("C", HOSTILE),))]
    text = report.summary_markdown(Facts(results, offers).build())

    assert "<img" not in text and "</details>" not in text  # no HTML
    assert "@octo-org" not in text  # no mention (it would notify a team)
    assert "](https://" not in text and "https://evil" not in text and "www.evil" not in text
    assert text.count("```") == 2  # only the gantt's own fence
    # Each table row is one line with exactly its own cell separators.
    rows = [line for line in text.splitlines() if "evil" in line and line.startswith("|")]
    assert len(rows) == 2
    assert [len(re.findall(r"(?<!\\)\|", row)) for row in rows] == [7, 5]


def test_untrusted_text_cannot_break_the_gantt() -> None:
    stages = (StageStatus(Stage.VALIDATION, StageState.RUNNING, NOW),)
    offers = [OfferFacts("evil-offer", plan("evil-offer"), title=HOSTILE, stages=stages)]
    chart = report.gantt(offers, NOW, "US")
    section = next(line for line in chart.splitlines() if "section" in line)
    assert re.fullmatch(r"    section [A-Za-z0-9 ._/+()-]+", section), section
    assert len(section) <= len("    section ") + report.MAX_NAME
    assert "%%" not in chart and "#" not in chart and ";" not in chart
    assert report.mermaid_text("\n\n:::") == "offer"


# ---------------------------------------------------------------- the gantt


def test_gantt_bars_follow_the_documented_maximums_in_business_days() -> None:
    # Validation started 09:50 on Monday 23 November 2026 and runs; everything else ahead.
    stages = (StageStatus(Stage.VALIDATION, StageState.RUNNING, NOW.replace(minute=50, hour=9)),)
    offers = [OfferFacts("contoso-x", plan("contoso-x"), title="Contoso X", stages=stages)]

    chart = report.gantt(offers, NOW, "US")

    assert chart.splitlines() == [
        "gantt",
        "    dateFormat YYYY-MM-DD HH:mm",
        "    axisFormat %b %d",
        "    section Contoso X (contoso-x)",
        # 15 minutes of calendar time
        "    Validation (max 15 min) :active, o0s0, 2026-11-23 09:50, 2026-11-23 10:05",
        # a week = 5 business days: Thanksgiving (Thursday) and the weekend do not count
        "    Certification (max 1 week) :o0s1, 2026-11-23 10:05, 2026-12-01 10:05",
        "    Packaging (max 1 h) :o0s2, 2026-12-01 10:05, 2026-12-01 11:05",
        "    SignOff :milestone, o0s3, 2026-12-01 11:05, 0d",
        "    Publishing (max 1 h) :o0s4, 2026-12-01 11:05, 2026-12-01 12:05",
        # 4 business days from Tuesday: Wednesday to Friday, then Monday
        "    Live (max 4 days) :o0s5, 2026-12-01 12:05, 2026-12-07 12:05",
    ]


def test_gantt_marks_done_overdue_and_skips_offers_at_rest() -> None:
    monday = NOW.replace(hour=0, minute=0)
    running = (
        StageStatus(Stage.VALIDATION, StageState.SUCCEEDED, monday, monday.replace(minute=5)),
        StageStatus(Stage.CERTIFICATION, StageState.RUNNING, datetime(2026, 11, 9, tzinfo=UTC)),
        StageStatus(Stage.PACKAGING, StageState.SKIPPED),
        StageStatus(Stage.SIGNOFF, StageState.SKIPPED),
        StageStatus(Stage.PUBLISHING, StageState.SKIPPED),
        StageStatus(Stage.LIVE, StageState.SKIPPED),
    )
    at_rest = tuple(
        StageStatus(s, StageState.SUCCEEDED, monday, monday.replace(minute=1)) for s in Stage
    )
    failed = (StageStatus(Stage.VALIDATION, StageState.FAILED, monday, monday),)
    offers = [
        OfferFacts("live-one", plan("live-one"), stages=at_rest),
        OfferFacts("rejected", plan("rejected"), stages=failed),
        OfferFacts("late-one", plan("late-one"), stages=running),
    ]
    chart = report.gantt(offers, NOW, "US")
    assert [line for line in chart.splitlines() if "section" in line] == ["    section late-one"]
    assert "Validation (max 15 min) :done, o2s0, 2026-11-23 00:00, 2026-11-23 00:05" in chart
    # Started 9 November: its week ended 16 November; overdue, drawn until today.
    assert (
        "Certification (max 1 week) :crit, active, o2s1, 2026-11-09 00:00, 2026-11-23 00:00"
        in chart
    )
    assert "Packaging" not in chart  # skipped stages have no bar
    assert report.gantt(offers[:2], NOW, "US") == ""


def test_the_gantt_is_in_the_summary_and_the_check_text_but_not_its_summary() -> None:
    stages = (StageStatus(Stage.VALIDATION, StageState.RUNNING, NOW),)
    facts = Facts([], [OfferFacts("a-b", plan("a-b"), stages=stages)]).build()
    assert "```mermaid\ngantt\n" in report.summary_markdown(facts)
    output = report.check_run(facts, HEAD).create["output"]
    assert isinstance(output, dict)
    assert "```mermaid" in output["text"] and "```mermaid" not in output["summary"]


# ---------------------------------------------------------------- sign-off


def test_signoff_section_names_the_generation_and_the_preview() -> None:
    signoffs = [
        SignOffFacts("contoso-x", GEN, "", GEN, "AwaitingSignOff", "https://preview.example/x"),
        SignOffFacts("fabrikam-y", GEN, "", OTHER, "AwaitingSignOff", "javascript:alert(1)"),
        SignOffFacts("tailspin-z", problem="generation 'x' is not sha256: followed by 64"),
    ]
    text = report.summary_markdown(Facts().build(signoffs=signoffs, base="9e" * 20))
    lines = text.splitlines()
    contoso = next(line for line in lines if "contoso-x" in line)
    assert f"signs off generation `{GEN}`" in contoso
    assert "the generation the controller last committed at `9e9e9e9e9e9e`" in contoso
    assert contoso.endswith("Preview: <https://preview.example/x>")
    fabrikam = next(line for line in lines if "fabrikam-y" in line)
    assert f"last committed generation `{OTHER}`" in fabrikam and "will not count" in fabrikam
    assert "<javascript" not in fabrikam and "not an https link" in fabrikam
    assert "`offers/tailspin-z/signoff.yaml` cannot be used: generation" in text


def test_output_fields_stay_within_githubs_limits() -> None:
    long = "x" * 5000
    results = [
        Result(f"o{n}", f"offers/o{n}/offer.yaml", (Finding("C", long),)) for n in range(2000)
    ]
    run = report.check_run(Facts(results).build(), HEAD)
    output = run.create["output"]
    assert isinstance(output, dict)
    assert len(output["summary"]) <= 65535 and len(output["text"]) <= 65535
    assert len(output["title"]) <= 255
    assert all(len(a["message"]) <= report.MAX_ANNOTATION_MESSAGE for a in output["annotations"])
    total = len(output["annotations"]) + sum(
        len(u["output"]["annotations"])
        for u in run.updates  # type: ignore[index]
    )
    assert total == report.MAX_ANNOTATIONS
