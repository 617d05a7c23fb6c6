"""The HTML check's no-parser shortcut accepts exactly the texts it accepted before."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.validation import html

# The shortcut as it was: one character or one allowed tag at a time.
_ONE_AT_A_TIME = re.compile(r"(?:[^<]|</?(?:p|b|i|em|br|ul|ol|li|h[1-6])\s*/?>)*")

CHARS = "<>/!?pbrhli1 \t\n\r\x0bxé"
PIECES = ["<p>", "</p>", "<br/>", "<br />", "<h1>", "<h7>", "<li\n>", "</ li>", "<a href=x>"]
TEXT = st.lists(st.sampled_from(PIECES) | st.text(CHARS, max_size=6), max_size=6).map("".join)


@settings(max_examples=1000, deadline=None)
@given(TEXT)
def test_runs_of_text_between_tags_match_what_one_step_at_a_time_matched(text: str) -> None:
    assert bool(html._PLAINLY_ALLOWED.fullmatch(text)) == bool(_ONE_AT_A_TIME.fullmatch(text))
