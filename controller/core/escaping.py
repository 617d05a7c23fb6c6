"""Text from the repository made safe to show: control, bidi and invisible characters escaped.

Folder names, manifest fields and git paths come from whoever can open a pull
request. Printed raw, a right-to-left override (U+202E) makes
`offers/evil<U+202E>lmy.txt` read as something else, an escape sequence can retitle
or repaint the operator's terminal, and a zero-width space makes two ids look
alike. `printable` rewrites every such character as a visible escape
(`\\u202e`, `\\x1b`; a byte that was not UTF-8, carried as a lone surrogate
by `surrogateescape`, as `\\xff`) and leaves all other text alone.

`EscapingStream` applies it to everything written to a stream; the CLI puts
it in front of stdout and stderr once, so tables, plans, errors and log
lines are covered without each view remembering to call it. It lets our own
colour (SGR) sequences through so styled terminal output still works; any
other escape sequence is escaped. Commit messages call `printable` directly.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

# Cc (controls) other than tab and newline, Cs (surrogates), Zl, Zp, and Cf (format
# characters: bidi embeddings, overrides and isolates, zero-width and invisible ones).
_UNSAFE_CLASS = (
    "\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = re.compile(f"[{_UNSAFE_CLASS}\x1b\t\n]")
_UNSAFE_KEEP_LINES = re.compile(f"[{_UNSAFE_CLASS}\x1b]")
_UNSAFE_KEEP_SGR = re.compile(f"[{_UNSAFE_CLASS}]|\x1b(?!\\[[0-9;]*m)")
# On a terminal rich also redraws in place (`status --watch`): carriage return, cursor
# moves, line erase and cursor show/hide. Titles, hyperlinks, clipboard (OSC) and
# device strings stay escaped.
_CURSOR_CLASS = _UNSAFE_CLASS.replace("\x0b-\x1a", "\x0b\x0c\x0e-\x1a")
_UNSAFE_KEEP_CURSOR = re.compile(f"[{_CURSOR_CLASS}]|\x1b(?!\\[\\??[0-9;]*[A-HJKhlm])")


_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)[0]
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _escape_portable(match: re.Match[str]) -> str:
    """`\\uXXXX` (a surrogate pair above U+FFFF): valid inside JSON and YAML strings too."""
    char = match.group(0)[0]
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with every control, bidi and invisible character shown as an escape.

    With `lines`, newlines and tabs stay (a commit message, a multi-line
    report); without, they are escaped too (an id, a one-line field).
    """
    return (_UNSAFE_KEEP_LINES if lines else _UNSAFE).sub(_escape, text)


def terminal_safe(text: str) -> str:
    """Like `printable(text, lines=True)`, but SGR colour sequences pass (our own styling).

    Escapes are always `\\uXXXX` here: this runs over whole outputs, including
    `-o json`, and a JSON string must stay valid JSON meaning the same text.
    """
    return _UNSAFE_KEEP_SGR.sub(_escape_portable, text)


def terminal_safe_redraw(text: str) -> str:
    """`terminal_safe`, also passing the cursor sequences rich redraws a live view with."""
    return _UNSAFE_KEEP_CURSOR.sub(_escape_portable, text)


class EscapingStream:
    """A text stream that escapes unsafe characters in everything written through it.

    Everything else (isatty, encoding, fileno, flush, buffer) is the wrapped
    stream's, so rich and logging treat it exactly like the original.
    """

    def __init__(self, stream: TextIO) -> None:
        self.wrapped = stream
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        self._escape = terminal_safe_redraw if tty else terminal_safe

    def write(self, text: str) -> int:
        self.wrapped.write(self._escape(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)
