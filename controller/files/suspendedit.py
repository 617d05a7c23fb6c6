"""Set `spec.suspend` in a person's offer.yaml by changing one line and nothing else.

`offerctl suspend` and `offerctl resume` edit a file someone wrote by hand:
its comments, key order, quoting and blank lines are theirs, so the YAML is
never dumped again. The existing `suspend:` line has its value replaced (a
comment after it stays), or, when there is none, one `suspend: true` line is
inserted under `spec:` right after `target:` (else before spec's first key),
at the indentation of spec's keys and with the file's own line ending.

The result is parsed again and must equal the original document with only
`spec.suspend` changed; anything this cannot do safely (a flow-style
`spec: {...}`, a quoted or multi-line value, a file that does not parse) is a
UserError asking for the edit by hand, never a guess. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from controller.core.errors import UserError
from controller.files.yamlio import LoadedYaml, YamlError, load_mapping

_BOM = b"\xef\xbb\xbf"
# The line breaks PyYAML counts lines by (its marks are what `locate` reports).
_LINES = re.compile(r"[^\n\r\x85\u2028\u2029]*(?:\r\n|[\n\r\x85\u2028\u2029]|$)")
_BOOL_WORDS = {"true": True, "false": False}


def lines_of(text: str) -> list[str]:
    """`text` split into lines as YAML counts them, each with its own line break."""
    return [line for line in _LINES.findall(text) if line]


def set_suspend(data: bytes, value: bool, *, name: str) -> bytes | None:
    """`data` with spec.suspend set to `value`; None when it already is (nothing to change)."""
    loaded = _load(data, name)
    spec = loaded.document.get("spec")
    if not isinstance(spec, dict) or not spec:
        raise UserError(f"{name}: no spec mapping to set suspend in; fix the manifest first")
    current = spec.get("suspend", False)
    if "suspend" in spec and not isinstance(current, bool):
        raise UserError(f"{name}: spec.suspend is {current!r}, not true or false; fix it by hand")
    if current is value:
        return None
    lines = lines_of(loaded.text)
    if "suspend" in spec:
        lines = _replace_value(loaded, lines, value, name)
    else:
        lines = _insert_line(loaded, spec, lines, value, name)
    edited = data[: len(_BOM)] if data.startswith(_BOM) else b""
    edited += "".join(lines).encode("utf-8")
    _check(loaded.document, edited, value, name)
    return edited


def _load(data: bytes, name: str) -> LoadedYaml:
    try:
        return load_mapping(data, name=name)
    except YamlError as exc:
        raise UserError(f"{exc}; fix the manifest before suspending or resuming it") from None


def _replace_value(loaded: LoadedYaml, lines: list[str], value: bool, name: str) -> list[str]:
    where = loaded.locate(["spec", "suspend"])
    word = where.plain_scalar
    row = where.line - 1
    if word is None or row >= len(lines):
        raise _by_hand(name, "its spec.suspend value is quoted or not a plain word")
    line = lines[row]
    start = where.column - 1
    if line[start : start + len(word)] != word:
        raise _by_hand(name, "its spec.suspend value spans more than one line")
    new_word = _spelled_like(word, value)
    lines[row] = line[:start] + new_word + line[start + len(word) :]
    return lines


def _spelled_like(word: str, value: bool) -> str:
    """`true`/`false` in the case the person wrote the old value (True, TRUE, true)."""
    new = "true" if value else "false"
    if word.lower() not in _BOOL_WORDS:  # YAML 1.1's yes/no/on/off: say it plainly
        return new
    if word.isupper():
        return new.upper()
    if word[:1].isupper():
        return new.capitalize()
    return new


def _insert_line(
    loaded: LoadedYaml, spec: dict[str, Any], lines: list[str], value: bool, name: str
) -> list[str]:
    keys = [key for key in spec if isinstance(key, str)]
    if not keys:
        raise _by_hand(name, "spec has no keys to put suspend beside")
    anchor = "target" if "target" in spec else keys[0]
    key_at = loaded.locate_key(["spec", anchor])
    row, column = key_at.line - 1, key_at.column - 1
    if row >= len(lines) or lines[row][:column].strip(" ") or not column:
        raise _by_hand(name, "spec is not a block mapping indented under `spec:`")
    indent = lines[row][:column]
    if anchor == "target":
        value_at = loaded.locate(["spec", "target"])
        row = value_at.line  # the line after target's value (its own line, or the key's)
    ending = _ending(lines, key_at.line - 1)
    new_line = f"{indent}suspend: {'true' if value else 'false'}{ending}"
    if row >= len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += ending  # target was the last line, without a line break
    lines.insert(row, new_line)
    return lines


def _ending(lines: list[str], row: int) -> str:
    for line in (lines[row], *lines):
        stripped = line.rstrip("\r\n\x85\u2028\u2029")
        if stripped != line:
            return line[len(stripped) :]
    return "\n"


def _check(before: dict[str, Any], edited: bytes, value: bool, name: str) -> None:
    """The edited file must say exactly what the original said, plus the new suspend."""
    try:
        after = load_mapping(edited, name=name).document
    except YamlError:
        raise _by_hand(name, "the edited file would not parse") from None
    # A new spec mapping, not the old one changed: where `spec` is an alias (or is
    # aliased), a deep copy keeps the aliasing, and setting suspend in it would
    # change every alias alike, hiding an edit that changed them all.
    expected = copy.deepcopy(before)
    expected["spec"] = {**expected["spec"], "suspend": value}
    if after != expected:
        raise _by_hand(name, "changing one line would have changed more than spec.suspend")


def _by_hand(name: str, why: str) -> UserError:
    return UserError(
        f"{name}: cannot set spec.suspend by changing one line ({why}); edit it by hand"
    )
