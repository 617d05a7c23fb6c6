"""The `offerctl wait --for` grammar, durations, and when a status meets a condition."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cli_helpers import GEN_A, GEN_B, make_status, utcnow

from controller.core.errors import UsageError
from controller.core.model import Phase, Target
from controller.core.waitfor import Kind, Manifest, WaitFor, judge, parse_duration, parse_for

LIVE_A = Manifest(GEN_A, Target.LIVE, False)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("2h", 7200), ("10d", 864000), ("1h30m", 5400), ("45", 45),
     ("0.5s", 0.5), (" 2H ", 7200)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "10 d", "1w", "-5s", "0", "5d1", "500d", "nan"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    if text == "10":
        assert parse_duration(text) == 10
        return
    with pytest.raises(UsageError):
        parse_duration(text)


def test_grammar_names_are_case_insensitive_with_defaults() -> None:
    assert parse_for("PHASE=live") == WaitFor(Kind.PHASE, "Live")
    assert parse_for("condition=ready") == WaitFor(Kind.CONDITION, "Ready", "True")
    assert parse_for("condition=Stalled=false") == WaitFor(Kind.CONDITION, "Stalled", "False")
    assert parse_for("stage=certification") == WaitFor(Kind.STAGE, "Certification", "Succeeded")
    assert str(parse_for("stage=Live=running")) == "stage=Live=Running"
    with pytest.raises(UsageError, match="phase takes one value"):
        parse_for("phase=Live=True")


def test_judge_needs_a_current_status() -> None:
    now = utcnow()
    live = make_status("alpha", Phase.LIVE, now=now)
    assert judge(parse_for("phase=Live"), live, LIVE_A).met
    newer = Manifest(GEN_B, Target.LIVE, False)
    verdict = judge(parse_for("phase=Live"), live, newer)
    assert not verdict.met and not verdict.impossible and "before the manifest" in verdict.now
    assert not judge(parse_for("phase=Live"), live, replace(LIVE_A, suspend=True)).met
    assert not judge(parse_for("phase=Live"), None, LIVE_A).met


def test_judge_says_when_it_can_never_be_met() -> None:
    now = utcnow()
    rejected = make_status("alpha", Phase.REJECTED, now=now)
    verdict = judge(parse_for("phase=Live"), rejected, LIVE_A)
    assert "Rejected and stalled (CertificationRejected" in verdict.impossible
    assert judge(parse_for("phase=Rejected"), rejected, LIVE_A).met
    failed_stage = judge(parse_for("stage=Certification"), rejected, LIVE_A)
    assert failed_stage.impossible  # stalled, and the stage failed
    certifying = make_status("alpha", Phase.CERTIFYING, now=now)
    assert not judge(parse_for("stage=Certification"), certifying, LIVE_A).impossible
    assert judge(parse_for("stage=Certification=Running"), certifying, LIVE_A).met
    preview = make_status("alpha", Phase.PREVIEW, now=now, target=Target.PREVIEW)
    as_preview = Manifest(GEN_A, Target.PREVIEW, False)
    assert (
        "spec.target is preview" in judge(parse_for("phase=Live"), preview, as_preview).impossible
    )
    skipped = judge(parse_for("stage=Publishing"), preview, as_preview)
    assert skipped.impossible == "stage Publishing is Skipped for this generation"
