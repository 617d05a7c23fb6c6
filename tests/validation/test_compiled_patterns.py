"""The compiled schema's rewritten patterns match exactly the strings the schema's own do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.validation.compiled import EQUIVALENT_PATTERNS

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

# Characters every rule of these patterns turns on, so short random texts meet them all.
CHARS = "<>/!?pbrh1 \t\n\r\x0b\u00a0\u2028xé"
PIECES = ["<p>", "</p>", "<br/>", "<br />", "<h1>", "<h7>", "<li\n>", "</ li>", "<a href=x>"]
TEXT = st.lists(st.sampled_from(PIECES) | st.text(CHARS, max_size=6), max_size=6).map("".join)


def _patterns(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_patterns(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(value) for value in node))
    return set()


def test_every_rewritten_pattern_is_a_pattern_of_a_shipped_schema() -> None:
    shipped = set().union(
        *(_patterns(json.loads(p.read_text("utf-8"))) for p in SCHEMAS.glob("*.schema.json"))
    )
    assert set(EQUIVALENT_PATTERNS) <= shipped


@pytest.mark.parametrize(("original", "rewritten"), sorted(EQUIVALENT_PATTERNS.items()))
@settings(max_examples=1000, deadline=None)
@given(text=TEXT)
def test_the_rewrite_matches_the_same_strings(original: str, rewritten: str, text: str) -> None:
    assert bool(re.search(original, text)) == bool(re.search(rewritten, text))
