"""Generated statuses for the tests that write a status straight from it (statusemit, statusjson):
every field of `OfferStatus`, with text a pull request or a marketplace answer can hold."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

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

TRICKY = [
    "", "no", "true", "null", "~", "1", "1.5", "2026-01-01", "a: b", "- x", "#c", "it's",
    '"d"', " lead", "trail ", "é ü", "\u202e", "x\ny", "x\n", "x\n\n", "\n", " x\ny",
    "a\tb", "\U0001f600", "x \ny", "*a", "!!python/object:os.system", "---", "...",
    "sha256:" + "a" * 64, "https://preview.example/offers/x?a=1#f",
]  # fmt: skip
_WORDY = st.lists(st.text(st.sampled_from("abcdefgh'#:-é"), max_size=12), min_size=1, max_size=22)
# Text a pull request or a marketplace answer can put in a status: anything at all.
# What libyaml prints unescaped: most text people write (Latin, CJK, symbols, quotes).
PRINTED = st.characters(
    max_codepoint=0xFFFD,
    exclude_categories=("Cc", "Cs"),
    exclude_characters="\ufeff\u2028\u2029\ufffe",
)
ONE_PRINTED_LINE = re.compile(
    "[^\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufeff\\u2028\\u2029\\ufffe\\uffff\\U00010000-\\U0010ffff]*"
)
TEXT = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=30),
    st.text(PRINTED, max_size=40),
    st.text(PRINTED, max_size=12).map(lambda word: f"{word} " * 12),
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
