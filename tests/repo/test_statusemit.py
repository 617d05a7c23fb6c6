"""statusemit writes status.yaml byte for byte as `dump_yaml(to_dict(status))`, the reference."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.model import (
    Condition,
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
    SubmissionRef,
    Target,
)
from controller.files.yamlio import dump_yaml
from controller.repo import status as status_io
from controller.repo import statusemit

_TRICKY = [
    "", "no", "true", "null", "~", "1", "1.5", "2026-01-01", "a: b", "- x", "#c", "it's",
    '"d"', " lead", "trail ", "é ü", "\u202e", "x\ny", "x\n", "x\n\n", "\n", " x\ny",
    "a\tb", "\U0001f600", "x \ny", "*a", "!!python/object:os.system", "---", "...",
    "sha256:" + "a" * 64, "https://preview.example/offers/x?a=1#f",
]  # fmt: skip
_WORDY = st.lists(st.text(st.sampled_from("abcdefgh'#:-é"), max_size=12), min_size=1, max_size=22)
# Text a pull request or a marketplace answer can put in a status: anything at all.
# What libyaml prints unescaped: most text people write (Latin, CJK, symbols, quotes).
_PRINTED = st.characters(
    max_codepoint=0xFFFD,
    exclude_categories=("Cc", "Cs"),
    exclude_characters="\ufeff\u2028\u2029\ufffe",
)
_ONE_PRINTED_LINE = re.compile(
    "[^\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufeff\\u2028\\u2029\\ufffe\\uffff\\U00010000-\\U0010ffff]*"
)
TEXT = st.one_of(
    st.sampled_from(_TRICKY),
    st.text(max_size=30),
    st.text(_PRINTED, max_size=40),
    st.text(_PRINTED, max_size=12).map(lambda word: f"{word} " * 12),
    _WORDY.map(" ".join),
    st.lists(_WORDY.map(" ".join), min_size=1, max_size=3).map("\n".join),
)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
MOMENT = st.one_of(
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9000, 1, 1), timezones=ZONES),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9000, 1, 1)),  # naive: UTC
)
OPTIONAL_MOMENT = st.none() | MOMENT
COUNT = st.integers(-3, 10**6) | st.just(0)
STAGES = st.builds(
    StageStatus,
    st.sampled_from(Stage),
    st.sampled_from(StageState),
    OPTIONAL_MOMENT,
    OPTIONAL_MOMENT,
    OPTIONAL_MOMENT,
)


def statuses(text: st.SearchStrategy[str]) -> st.SearchStrategy[OfferStatus]:
    """Statuses with `text` in every free field (reasons: mostly CamelCase, sometimes any)."""
    reason = st.one_of(st.from_regex(r"\A[A-Z][A-Za-z0-9]{0,30}\Z"), text)
    conditions = st.builds(
        Condition,
        st.sampled_from(ConditionType),
        st.sampled_from(ConditionStatus),
        reason,
        text,
        MOMENT,
    )
    findings = st.builds(
        Finding,
        code=reason,
        message=text,
        path=text,
        stage=st.sampled_from(["", *(s.value for s in Stage)]) | text,
        severity=st.sampled_from(Severity),
        file=text,
        line=COUNT,
        column=COUNT,
    )
    signoffs = st.builds(
        SignOffVerdict,
        valid=st.booleans(),
        generation=text,
        reason=reason,
        message=text,
        approvers=st.lists(text, max_size=3).map(tuple),
        commit=text,
        pull_request=text,
        approved_at=OPTIONAL_MOMENT,
        trust=text,
    )
    return st.builds(
        OfferStatus,
        offer=text,
        phase=st.sampled_from(Phase),
        target=st.none() | st.sampled_from(Target),
        observed_generation=text,
        observed_commit=text,
        conditions=st.lists(conditions, max_size=4).map(tuple),
        stages=st.lists(STAGES, max_size=6).map(tuple),
        submission=st.none() | st.builds(SubmissionRef, text, text, text, st.sampled_from(Target)),
        feedback=st.lists(findings, max_size=4).map(tuple),
        estimated_live=text,
        live_generation=text,
        preview_url=text,
        signoff=st.none() | signoffs,
    )


STATUSES = statuses(TEXT)
# One-line text of characters libyaml prints as they are: never double-quoted.
ORDINARY = st.one_of(
    st.sampled_from([t for t in _TRICKY if _ONE_PRINTED_LINE.fullmatch(t)]),
    st.text(_PRINTED.filter(lambda c: c != "\n"), max_size=40),
    st.text(_PRINTED.filter(lambda c: c != "\n"), max_size=12).map(lambda w: f"{w} " * 12),
)


def _reference(value: OfferStatus) -> str:
    return dump_yaml(status_io.to_dict(value))


@settings(max_examples=150, deadline=None)
@given(STATUSES)
def test_emitted_status_is_byte_identical_to_the_yaml_dump(value: OfferStatus) -> None:
    expected = _reference(value)
    try:
        emitted = statusemit.emit(value)
    except statusemit.NotCovered:
        assert ' "' in expected or "\u2028" in expected or "\u2029" in expected
    else:
        assert emitted == expected
    assert status_io.render(value) == f"{status_io.HEADER}\n{expected}"


@settings(max_examples=100, deadline=None)
@given(statuses(ORDINARY))
def test_a_status_of_ordinary_text_is_always_emitted_not_dumped(value: OfferStatus) -> None:
    assert statusemit.emit(value) == _reference(value)


@settings(max_examples=100, deadline=None)
@given(MOMENT)
def test_a_time_is_single_quoted_as_the_dump_quotes_it(moment: datetime) -> None:
    lines = statusemit._Lines()
    lines.time("t:", moment)
    assert "".join(lines.parts) == dump_yaml({"t": status_io.format_time(moment)})


def test_an_ordinary_status_is_emitted_not_dumped() -> None:
    t0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    value = OfferStatus(
        offer="contoso-x",
        phase=Phase.CERTIFYING,
        target=Target.LIVE,
        conditions=(
            Condition(
                ConditionType.READY,
                ConditionStatus.FALSE,
                "Certifying",
                "generation 1234: stage Certification in progress " * 3,
                t0,
            ),
        ),
        stages=(StageStatus(Stage.VALIDATION, StageState.SUCCEEDED, t0, t0),),
        feedback=(Finding("NameTooLong", "too long\nsee the docs", file="f.yaml", line=3),),
        signoff=SignOffVerdict(valid=False, approvers=("@a", "b@example.com")),
    )
    assert statusemit.emit(value) == _reference(value)


@pytest.mark.parametrize(
    "value",
    [
        OfferStatus("x", Phase.DRAFT, feedback=(Finding("C", "tab\there"),)),
        OfferStatus("x", Phase.DRAFT, conditions=(), observed_commit=123),  # type: ignore[arg-type]
        OfferStatus("x", Phase.DRAFT, feedback=(Finding("C", "m", line=1.5),)),  # type: ignore[arg-type]
        OfferStatus("x", Phase.DRAFT, signoff=SignOffVerdict(valid=None)),  # type: ignore[arg-type]
    ],
)
def test_what_emit_does_not_cover_is_rendered_by_the_dump(value: OfferStatus) -> None:
    with pytest.raises(statusemit.NotCovered):
        statusemit.emit(value)
    assert status_io.render(value) == f"{status_io.HEADER}\n{_reference(value)}"


def test_a_block_keeping_its_breaks_ends_the_document_as_libyaml_does() -> None:
    value = OfferStatus("x", Phase.DRAFT, preview_url="https://p.example/\n\n")
    assert statusemit.emit(value).endswith("...\n") and statusemit.emit(value) == _reference(value)
    later = OfferStatus(
        "x",
        Phase.DRAFT,
        feedback=(Finding("C", "kept\n\n"),),
        signoff=SignOffVerdict(valid=True, message="clipped\n"),
    )
    assert statusemit.emit(later) == _reference(later)
    assert not statusemit.emit(later).endswith("...\n")  # a later block closed it
