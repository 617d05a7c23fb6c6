"""The listing description's HTML subset: which tags are allowed, checked with html.parser.

The marketplace accepts only `p b i em br ul ol li h1-h6`, without attributes.
The text is parsed, never rendered; each disallowed construct is one message.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

ALLOWED_TAGS = frozenset(
    {"p", "b", "i", "em", "br", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"}
)
ALLOWED_TEXT = "p, b, i, em, br, ul, ol, li, h1-h6"


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def _note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self._note(f"HTML tag <{_clean(tag)}> is not allowed; use only {ALLOWED_TEXT}")
        elif attrs:
            names = ", ".join(sorted({_clean(name) for name, _ in attrs}))
            self._note(f"HTML attributes are not allowed (<{tag}> has {names})")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self._note(f"HTML tag <{_clean(tag)}> is not allowed; use only {ALLOWED_TEXT}")

    def handle_comment(self, data: str) -> None:
        self._note("HTML comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        self._note("HTML declarations (<!...>) are not allowed")

    def handle_pi(self, data: str) -> None:
        self._note("HTML processing instructions (<?...>) are not allowed")

    def unknown_decl(self, data: str) -> None:
        self._note("HTML declarations (<!...>) are not allowed")


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:30])


# Text whose every "<" opens a bare allowed tag needs no parser. Written as runs of
# text between tags rather than one character or tag at a time: the same strings
# match (tests/validation/test_html_shortcut.py), with a fraction of the steps.
_PLAINLY_ALLOWED = re.compile(r"[^<]*(?:</?(?:p|b|i|em|br|ul|ol|li|h[1-6])\s*/?>[^<]*)*")


def html_problems(text: str) -> list[str]:
    """Messages for every disallowed tag, attribute or construct in `text` (empty when fine)."""
    if "<" not in text or _PLAINLY_ALLOWED.fullmatch(text):
        return []
    checker = _Checker()
    checker.feed(text)
    checker.close()
    return checker.problems
