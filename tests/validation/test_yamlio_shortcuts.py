"""yamlio's shortcuts answer exactly as the plain computations they replace."""

from __future__ import annotations

import re

import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from controller.files import yamlio

_LINE_PREFIX = re.compile(rb"^[ \-?:]*", re.MULTILINE)


def _within_bound_by_every_line(text: str) -> bool:
    """The reference: measure every line's prefix (as `_check_depth` did before)."""
    raw = text.encode("utf-8")
    brackets = raw.count(b"[") + raw.count(b"{")
    if brackets + 1 > yamlio.MAX_DEPTH:
        return False
    prefix = max((len(m) for m in _LINE_PREFIX.findall(raw)), default=0)
    return brackets + prefix + 1 <= yamlio.MAX_DEPTH


PIECES = [" ", " " * 8, " " * 30, "-", "- ", "?", ":", "\n", "[", "{", "x", "é", "\r", "\t", "#"]
TEXT = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=80).map("".join)


@settings(max_examples=3000, deadline=None)
@given(TEXT)
def test_the_depth_bound_is_the_longest_line_prefix_plus_the_brackets(text: str) -> None:
    assert yamlio._within_bound(text) == _within_bound_by_every_line(text)


def test_the_bound_at_its_edges() -> None:
    limit = yamlio.MAX_DEPTH
    for text in (
        "",
        " " * (limit - 1) + "x",
        " " * limit + "x",
        "a\n" + " " * (limit - 1),
        "a\n" + " " * limit,
        "[" * (limit - 1),
        "[" * limit,
        "[" * 10 + "\n" + " " * (limit - 11),
        "[" * 10 + "\n" + " " * (limit - 10),
        "- " * 40,
    ):
        assert yamlio._within_bound(text) == _within_bound_by_every_line(text), repr(text)


DATA = st.recursive(
    st.text(max_size=8) | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(DATA, st.sampled_from([None, True, False]))
def test_loading_builds_what_pyyaml_builds(data: object, flow: bool | None) -> None:
    """`_build` (plain strings inline, the rest through `make`) against PyYAML's own."""
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    # PyYAML's own round trip is not always faithful ('\x85' in a quoted key folds to a
    # space, making a duplicate key that yamlio refuses): compare only where it is.
    assume(yaml.safe_load(text) == data)
    assert yamlio.load_yaml(text.encode("utf-8"), name="x").document == yaml.safe_load(text)
