"""CODEOWNERS: parsing the file and finding who owns a path, with GitHub's semantics.

Pure: text in, rules out; a path in, owners out. What GitHub does, and so
what we do:
- the first file found of `.github/CODEOWNERS`, `CODEOWNERS`,
  `docs/CODEOWNERS` is used (`LOCATIONS`, in that order); over 3 MB it is
  ignored, as GitHub ignores it;
- each line is a gitignore-style pattern and owners (`@login`,
  `@org/team`, or an email); `#` starts a comment; the *last* matching line
  wins, and a matching line with no owners leaves the path unowned;
- `*` matches within one path segment, `?` one character, `**` any number of
  segments; a pattern with a `/` at its start or middle is anchored at the
  repository root, otherwise it matches at any depth; a trailing `/` matches
  only a directory's contents; a pattern that matches a directory owns
  everything under it, except that a final lone `*` (`docs/*`) owns only the
  directory's direct children;
- gitignore syntax GitHub does not support (`!` negation, `[...]` ranges)
  makes the line an error, which is skipped; so is a line whose owners are
  all invalid. Problems are collected for status, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LOCATIONS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
MAX_BYTES = 3 * 1024 * 1024  # GitHub ignores a CODEOWNERS file of 3 MB or more

_LOGIN = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_TEAM = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]+$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True, slots=True)
class Rule:
    """One usable line: its pattern, owners (possibly none) and where it was written."""

    pattern: str
    owners: tuple[str, ...]
    line: int
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


@dataclass(frozen=True, slots=True)
class CodeOwners:
    """A parsed CODEOWNERS file."""

    file: str  # repository-relative path it was read from
    rules: tuple[Rule, ...]
    problems: tuple[str, ...] = ()  # "CODEOWNERS:7: ..." for each skipped line or owner

    def rule_for(self, path: str) -> Rule | None:
        """The last rule matching `path` (repository-relative, no leading slash), if any."""
        for rule in reversed(self.rules):
            if rule.matches(path):
                return rule
        return None

    def owners_of(self, path: str) -> tuple[str, ...]:
        rule = self.rule_for(path)
        return rule.owners if rule else ()


def parse(text: str, file: str = "CODEOWNERS") -> CodeOwners:
    rules: list[Rule] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = _tokens(raw)
        if not tokens:
            continue
        pattern, owner_tokens = tokens[0], tokens[1:]
        regex, error = compile_pattern(pattern)
        if regex is None:
            problems.append(f"{file}:{number}: {error}; line skipped")
            continue
        owners = []
        for owner in owner_tokens:
            if is_valid_owner(owner):
                owners.append(owner)
            else:
                problems.append(f"{file}:{number}: {owner!r} is not an @login, @org/team or email")
        if owner_tokens and not owners:
            problems.append(f"{file}:{number}: no valid owner; line skipped")
            continue
        rules.append(Rule(pattern, tuple(owners), number, regex))
    return CodeOwners(file, tuple(rules), tuple(problems))


def is_valid_owner(owner: str) -> bool:
    return bool(_LOGIN.match(owner) or _TEAM.match(owner) or _EMAIL.match(owner))


def _tokens(line: str) -> list[str]:
    """Whitespace-separated tokens up to a comment; `\\ ` and `\\#` stay part of a token."""
    tokens: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line):
            current.append(line[index : index + 2])
            index += 2
            continue
        if char == "#" and not current:  # a comment starts at a token boundary
            break
        if char.isspace():
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
        index += 1
    if current:
        tokens.append("".join(current))
    return tokens


def compile_pattern(pattern: str) -> tuple[re.Pattern[str] | None, str]:
    """The regex a CODEOWNERS pattern means, or None and why it is not accepted."""
    if pattern.startswith("!"):
        return None, f"negation ({pattern!r}) is not supported in CODEOWNERS"
    if _has_unescaped(pattern, "["):
        return None, f"character ranges ({pattern!r}) are not supported in CODEOWNERS"
    if pattern.strip("/") == "":
        return None, f"{pattern!r} is not a pattern"
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    segments = [s for s in pattern.strip("/").split("/") if s != ""]
    if not anchored and segments[0] != "**":
        segments.insert(0, "**")
    if pattern.endswith("/"):
        segments.append("**")  # a directory's contents, at any depth
    segments = _collapse_double_stars(segments)
    last = len(segments) - 1
    parts = ["^"]
    need_slash = False
    for index, segment in enumerate(segments):
        if segment == "**":
            if index == 0 and index == last:
                parts.append(".+")
            elif index == 0:
                parts.append("(?:.+/)?")
                need_slash = False
            elif index == last:
                parts.append("/.+")
            else:
                parts.append("(?:/.+)?")
                need_slash = True
            continue
        if need_slash:
            parts.append("/")
        parts.append("[^/]+" if segment == "*" else _segment_regex(segment))
        need_slash = True
    if segments[last] == "*":
        parts.append("$")  # `docs/*`: direct children only
    elif segments[last] != "**":
        parts.append("(?:/.*)?$")  # a file, or a directory and everything below it
    else:
        parts.append("$")
    return re.compile("".join(parts), re.DOTALL), ""


def _collapse_double_stars(segments: Sequence[str]) -> list[str]:
    out: list[str] = []
    for segment in segments:
        if segment == "**" and out and out[-1] == "**":
            continue
        out.append(segment)
    return out


def _segment_regex(segment: str) -> str:
    parts: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "\\" and index + 1 < len(segment):
            parts.append(re.escape(segment[index + 1]))
            index += 2
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(char))
        index += 1
    return "".join(parts)


def _has_unescaped(pattern: str, char: str) -> bool:
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
            continue
        if pattern[index] == char:
            return True
        index += 1
    return False


def first_present(files: Iterable[str]) -> str | None:
    """Which CODEOWNERS location GitHub would use, given the paths that exist."""
    present = set(files)
    for location in LOCATIONS:
        if location in present:
            return location
    return None
