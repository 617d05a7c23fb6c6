"""statusjson writes a status's JSON byte for byte as the encoder writes `to_dict(status)`,
and a record's bytes are the document `json.dumps` makes, whichever writes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from status_strategies import STATUSES, TEXT, statuses

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
    SubmissionRef,
    Target,
)
from controller.reconcile import records
from controller.repo import status as status_io
from controller.repo import statusjson

# What JSON escapes: quotes, backslashes, control characters, anything past ASCII, lone
# surrogates (a marketplace answer's JSON may escape one) and characters past the BMP.
ESCAPED = st.one_of(
    st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "\ud800", "\udcff", "é"]),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
    st.characters(min_codepoint=0x10000),
    st.characters(max_codepoint=0x7F, exclude_categories=()),
)
JSON_TEXT = st.one_of(TEXT, st.text(ESCAPED, max_size=12))
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _reference(value: OfferStatus) -> str:
    return json.dumps(status_io.to_dict(value), sort_keys=True, separators=(",", ":"))


@settings(max_examples=200, deadline=None)
@given(st.one_of(STATUSES, statuses(JSON_TEXT)))
def test_written_status_is_byte_identical_to_the_encoded_dict(value: OfferStatus) -> None:
    assert statusjson.dumps(value) == _reference(value)


@settings(max_examples=100, deadline=None)
@given(JSON_TEXT, statuses(JSON_TEXT))
def test_a_record_is_the_document_json_dumps_makes(offer: str, value: OfferStatus) -> None:
    document = {
        "version": records.RECORD_VERSION,
        "offer": offer,
        "status": status_io.to_dict(value),
    }
    expected = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    assert records._document(offer, value) == expected


def test_every_field_of_a_full_status_is_written() -> None:
    value = OfferStatus(
        offer="contoso-x",
        phase=Phase.AWAITING_SIGNOFF,
        target=Target.LIVE,
        observed_generation="sha256:" + "a" * 64,
        observed_commit="c" * 40,
        conditions=(Condition(ConditionType.READY, ConditionStatus.FALSE, "R", "m", T0),),
        stages=(
            StageStatus(Stage.VALIDATION, StageState.SUCCEEDED, T0, T0),
            StageStatus(Stage.CERTIFICATION, StageState.RUNNING, T0, None, T0),
        ),
        submission=SubmissionRef("sub-1", "g", "k", Target.LIVE),
        feedback=(Finding("C", "m", "$.spec", "Certification", file="f", line=3, column=4),),
        estimated_live="2026-12-01",
        live_generation="g0",
        preview_url="https://preview.example/x",
        signoff=SignOffVerdict(True, "g", "SignOffAccepted", "ok", ("@a",), "c", "7", T0, "s"),
    )
    written = statusjson.dumps(value)
    assert written == _reference(value)
    assert set(json.loads(written)) == set(status_io.to_dict(value))  # every key there is


OTHER: list[Any] = [
    OfferStatus("x", Phase.DRAFT, observed_commit=123),  # type: ignore[arg-type]
    OfferStatus("x", Phase.DRAFT, feedback=(Finding("C", "m", line=1.5),)),  # type: ignore[arg-type]
    OfferStatus("x", Phase.DRAFT, feedback=(Finding("C", "m", column=True),)),  # type: ignore[arg-type]
    OfferStatus("x", Phase.DRAFT, signoff=SignOffVerdict(valid=None)),  # type: ignore[arg-type]
    OfferStatus("x", Phase.DRAFT, signoff=SignOffVerdict(valid=1)),  # type: ignore[arg-type]
    OfferStatus("x", Phase.DRAFT, signoff=SignOffVerdict(False, approvers=(7,))),  # type: ignore[arg-type]
    OfferStatus(
        "x",
        Phase.DRAFT,
        conditions=(Condition(ConditionType.READY, ConditionStatus.TRUE, Phase.LIVE, "m", T0),),
    ),  # a str subclass where a str belongs: the encoder's, not a guess at it
    OfferStatus("x", Phase.DRAFT, stages=(StageStatus(Stage.LIVE, deadline="today"),)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("value", OTHER)
def test_what_is_not_of_its_type_is_left_to_the_encoder(value: OfferStatus) -> None:
    with pytest.raises(statusjson.NotCovered):
        statusjson.dumps(value)
    try:
        expected = json.dumps(
            {"version": 1, "offer": "x", "status": status_io.to_dict(value)},
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
    except (AttributeError, TypeError) as exc:  # what to_dict itself cannot write
        with pytest.raises(type(exc)):
            records._document("x", value)
    else:
        assert records._document("x", value) == expected
