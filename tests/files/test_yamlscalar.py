"""yamlscalar writes a string value exactly as dump_yaml (libyaml) does, or says it does not."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from controller.files import yamlscalar
from controller.files.yamlio import dump_yaml, reads_as_text

# Texts whose style turns on one character: indicators, implicit types, edges, breaks.
TRICKY = [
    "", "no", "No", "yes", "on", "off", "true", "False", "null", "Null", "~", "1", "-1", "+1",
    "0x1f", "0o7", "0b1", "1_000", "1:20", "1.5", "1e3", ".inf", "-.inf", ".nan", "2026-01-01",
    "2026-01-01T10:00:00Z", "2026-01-01 10:00", "<<", "=", "!", "&", "*", "*a", "&a", "!tag",
    "a: b", "a:b", "a:", ":", ":a", ": a", "?", "?a", "? a", "-", "-a", "- a", "--", "---",
    "---a", "...", "...a", "..", "#c", "a #c", "a#c", "'q'", "it's", '"d"', "%x", "@x", "`x",
    "|x", ">x", "[x", "]x", "{x", "}x", ",x", "a,b", "a[b]", "a{b}", " lead", "trail ", "a  b",
    "é ü", "\u202e", "\u00a0", "\ufeff", "\ufffd", "\ufffe", "\U0001f600", "a\tb", "\t", "a\rb",
    "a\x85b", "a\u2028b", "a\u2029b", "a\x00b", "a\x7fb", "a\x1bb", "\\", "x\ny", "x\n", "\n",
    "\n\n", "x\n\n", "x\n\ny\n\n\n", " x\ny", "\nx", "x \ny", "x\n y", "x\ny ", "x\n\ty",
    "#x\ny", "- x\n- y", "x\u2028\ny", "no\n", "'\n'",
]  # fmt: skip

_ALPHABET = st.sampled_from([" ", " ", " ", "a", "b", "'", ":", "#", "-", "\n", "é", "\t", "\x85"])
_WORDY = st.lists(
    st.text(st.sampled_from("abcdefghij'#:-é"), min_size=0, max_size=14), min_size=1, max_size=25
).map(" ".join)  # long runs of words: folding at every column
TEXTS = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=40),
    st.text(_ALPHABET, max_size=60),
    _WORDY,
    st.lists(_WORDY, min_size=1, max_size=4).map("\n".join),
    st.builds(lambda a, b: a + b, st.sampled_from(TRICKY), st.text(max_size=20)),
)
# Keys as status.yaml's: letters that read as text, written plain.
KEYS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ"), min_size=1, max_size=40).filter(
    reads_as_text
)


def _documents(key: str, text: str) -> list[tuple[Any, str, int]]:
    """(data, the text before the value, the value's indent) for each place a value goes."""
    return [
        ({key: text}, f"{key}:", 2),
        ({"o": {key: text}}, f"o:\n  {key}:", 4),
        ({"l": [{key: text}]}, f"l:\n- {key}:", 4),
        ({"l": [{"k0": "v", key: text}]}, f"l:\n- k0: v\n  {key}:", 4),
        ({"o": {"l": [text]}}, "o:\n  l:\n  -", 4),
    ]


def _written(prefix: str, text: str, indent: int) -> str:
    line_start = prefix.rfind("\n") + 1
    written = yamlscalar.value(text, len(prefix) - line_start, indent)
    return prefix + written + ("...\n" if yamlscalar.literal_keeps(written) else "")


@settings(max_examples=400, deadline=None)
@given(KEYS, TEXTS)
@example("k", "x\n\n")
@example("message", "a " * 60)
@example("m", "x" * 98 + " y")
@example("m", "x" * 97 + " y")
@example("m", "x" * 95 + " '" + "y" * 10)
def test_a_value_is_written_as_dump_yaml_writes_it_or_refused_where_it_double_quotes(
    key: str, text: str
) -> None:
    for data, prefix, indent in _documents(key, text):
        expected = dump_yaml(data)
        try:
            got = _written(prefix, text, indent)
        except yamlscalar.NotCovered:
            # Refused only where libyaml writes a double-quoted scalar, or breaks a
            # line at U+2028/U+2029 (left to libyaml: no status holds one on purpose).
            separators = "\u2028" in text or "\u2029" in text
            assert separators or expected.startswith(prefix + ' "'), (text, expected)
            continue
        assert got == expected, (text, prefix)


@pytest.mark.parametrize("text", TRICKY)
def test_every_tricky_text_in_every_place(text: str) -> None:
    test_a_value_is_written_as_dump_yaml_writes_it_or_refused_where_it_double_quotes.hypothesis.inner_test(  # type: ignore[attr-defined]
        "key", text
    )


def test_what_is_refused_is_what_libyaml_double_quotes() -> None:
    refused = []
    for text in TRICKY:
        try:
            yamlscalar.value(text, 4, 2)
        except yamlscalar.NotCovered:
            refused.append(text)
    assert "a\tb" in refused and "\U0001f600" in refused and "x \ny" in refused
    assert "x\ny" not in refused and "it's" not in refused and "" not in refused


def test_a_long_message_folds_at_its_indent() -> None:
    text = "word " * 30 + "end"
    written = yamlscalar.value(text, len("  message:"), 4)
    lines = written.splitlines()
    assert len(lines) == 2 and lines[1].startswith("    word ")
    assert len("  message:" + lines[0]) == 105  # the space past column 100 is the break


def test_reads_as_text_agrees_with_the_resolver_on_the_tricky_texts() -> None:
    for text in TRICKY:
        if "\n" in text:
            continue
        quoted = dump_yaml({"k": text}) != f"k: {text}\n"
        if reads_as_text(text):
            continue  # plain unless an indicator or a character says otherwise
        assert quoted, text
