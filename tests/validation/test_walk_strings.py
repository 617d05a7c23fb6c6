"""Walking a document's strings: every string once, with its path; skipped keys prune whole."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.validation.strings import NOT_TEXT, walk_strings

NAMES = ["name", "url", "logos", "path", "caption", "items", "x"]
KEYS = st.sampled_from(NAMES) | st.integers(0, 2)  # an integer key is never walked
DOCUMENTS = st.recursive(
    st.text(max_size=3) | st.integers() | st.none() | st.booleans(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=30,
)


def _strings(value: Any, path: tuple[str | int, ...] = (), key: str = "") -> list[Any]:
    """The reference: a recursive walk in the walker's order (last child first)."""
    if isinstance(value, str):
        return [(path, key, value)]
    found: list[Any] = []
    if isinstance(value, dict):
        for k, v in reversed(list(value.items())):
            if isinstance(k, str):
                found += _strings(v, (*path, k), k)
    elif isinstance(value, list):
        for i, v in reversed(list(enumerate(value))):
            found += _strings(v, (*path, i), key)
    return found


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_every_string_is_walked_once_with_its_path_and_key(document: Any) -> None:
    assert list(walk_strings(document)) == _strings(document)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_skipping_keys_drops_exactly_the_strings_under_them(document: Any) -> None:
    unpruned = [
        found
        for found in walk_strings(document)
        if not any(part in NOT_TEXT for part in found[0] if isinstance(part, str))
    ]
    assert list(walk_strings(document, skip=NOT_TEXT)) == unpruned
