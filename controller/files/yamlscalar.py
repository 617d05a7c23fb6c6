"""One string value of block YAML, written as `yamlio.dump_yaml` writes it, without PyYAML.

`dump_yaml` hands its nodes to libyaml's emitter (width 100, unicode allowed,
strings holding a line break asked for as `|` blocks). For one string value
after a `key:` or a `- ` that emitter decides, from the string alone:

- plain, when nothing in it reads as YAML syntax in block context (a leading
  indicator such as `#`, `&`, `'`, `- `, `? `, `: `; `: ` or ` #` inside; a
  leading or trailing space; a leading `---` or `...`) and it reads back as
  text, not as one of YAML 1.1's implicit types (`yamlio.reads_as_text`:
  `no`, `1.5`, `2026-01-01`, the empty string, ...);
- else single-quoted, quotes doubled;
- a string with a line break: a `|` literal block, with an indentation hint
  `2` when it starts with a space or a break and a chomping hint (`-` without
  a final break, `+` with more than one; a `+` block also makes libyaml end
  the document with `...`, which `literal_keeps` tells the caller);

and folds a plain or single-quoted line at a single space once the line is
past column 100, continuing at the value's indentation. Only characters
libyaml prints as they are take these paths: a string holding a control
character, a tab, a character outside the Basic Multilingual Plane, U+FEFF,
U+0085, U+2028 or U+2029, or (for a block) a space before a line break or at
the end, is written double-quoted with escapes, which this module does not
do: `value` raises `NotCovered` and the caller uses `dump_yaml` for the
document. tests/files/test_yamlscalar.py holds every path to `dump_yaml`'s
bytes.
"""

from __future__ import annotations

import re
from itertools import pairwise

from controller.files.yamlio import reads_as_text

WIDTH = 100  # dump_yaml's line width

# Characters libyaml writes unescaped (`IS_PRINTABLE`) that are not line breaks.
_PRINTED = "\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
_ONE_LINE = re.compile(f"[{_PRINTED}]*")
_LINES = re.compile(f"[\n{_PRINTED}]*")
# What keeps a one-line string from being written plain in block context
# (libyaml's `yaml_emitter_analyze_scalar`: block indicators, edge spaces).
_NOT_PLAIN = re.compile(r"\A(?:[ #,\[\]{}&*!|>'\"%@`]|[-?:](?: |\Z)|---|\.\.\.)|: |:\Z| #| \Z")

_FORMS: dict[str, str] = {}  # one-line text -> its unfolded form (plain or quoted)
_FORM_TEXT = 128  # characters of a text worth remembering (enum values, repeated messages)
_FORMS_MAX = 20_000  # texts remembered at most


class NotCovered(Exception):
    """A string this module does not write (libyaml would double-quote it)."""


def value(text: str, column: int, indent: int) -> str:
    """`text` as libyaml writes it after an indicator (`key:` or `-`) ending at `column`:
    from the space that follows the indicator through the line break that ends the
    value. `indent` is where folded or block lines start (the parent's indentation
    plus 2)."""
    form = _FORMS.get(text)
    if form is None:
        if "\n" in text:
            return _literal(text, indent)
        form = _form(text)
    if column + len(form) > WIDTH:  # a space in it may stand past the width: fold
        if form[0] == "'":
            return f" '{_fold(form[1:-1], column + 2, indent)}'\n"
        return f" {_fold(form, column + 1, indent)}\n"
    return f" {form}\n"


def literal_keeps(written: str) -> bool:
    """Whether a `value` is a `|+` block (trailing line breaks kept), after which libyaml
    ends the document with `...` unless another block scalar follows."""
    if written[1] != "|":
        return False
    return written[written.index("\n") - 1] == "+"


def _form(text: str) -> str:
    if _ONE_LINE.fullmatch(text) is None:
        raise NotCovered(text)
    if _NOT_PLAIN.search(text) is None and reads_as_text(text):
        form = text
    else:
        form = "'" + text.replace("'", "''") + "'"
    if len(text) <= _FORM_TEXT and len(_FORMS) < _FORMS_MAX:
        _FORMS[text] = form
    return form


def _fold(content: str, start: int, indent: int) -> str:
    """`content` (starting at column `start`) broken at each single space that stands past
    WIDTH, the next line starting at `indent` (libyaml's plain and single-quoted writers)."""
    words = content.split(" ")
    out = [words[0]]
    column = start + len(words[0])
    margin = " " * indent
    for before, word in pairwise(words):
        # The space between `before` and `word` stands at `column`. A run of spaces (an
        # empty word on either side), a first and a last character are never broken.
        if before and word and column > WIDTH:
            out.append("\n")
            out.append(margin)
            column = indent
        else:
            out.append(" ")
            column += 1
        out.append(word)
        column += len(word)
    return "".join(out)


def _literal(text: str, indent: int) -> str:
    """A string with a line break as a `|` block; NotCovered where libyaml double-quotes."""
    if _LINES.fullmatch(text) is None or text.endswith(" ") or " \n" in text:
        raise NotCovered(text)
    hints = "2" if text[0] in " \n" else ""
    if not text.endswith("\n"):
        hints += "-"
    elif len(text) == 1 or text[-2] == "\n":
        hints += "+"
    margin = " " * indent
    body = "\n".join(margin + line if line else "" for line in text.split("\n"))
    return f" |{hints}\n{body}" if text.endswith("\n") else f" |{hints}\n{body}\n"
