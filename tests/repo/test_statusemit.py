"""statusemit writes status.yaml byte for byte as `dump_yaml(to_dict(status))`, the reference."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from status_strategies import MOMENT, ONE_PRINTED_LINE, PRINTED, STATUSES, TRICKY, statuses

from controller.core.model import (
    Condition,
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    SignOffVerdict,
    Stage,
    StageState,
    StageStatus,
    Target,
)
from controller.files.yamlio import dump_yaml
from controller.repo import status as status_io
from controller.repo import statusemit

# One-line text of characters libyaml prints as they are: never double-quoted.
ORDINARY = st.one_of(
    st.sampled_from([t for t in TRICKY if ONE_PRINTED_LINE.fullmatch(t)]),
    st.text(PRINTED.filter(lambda c: c != "\n"), max_size=40),
    st.text(PRINTED.filter(lambda c: c != "\n"), max_size=12).map(lambda w: f"{w} " * 12),
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
