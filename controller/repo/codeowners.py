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

from controller.repo.layout import CODEOWNERS_PATHS

LOCATIONS: tuple[str, ...] = CODEOWNERS_PATHS
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
    glob: Glob

    def matches(self, path: str) -> bool:
        return self.glob.matches(path)


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
        glob, error = compile_pattern(pattern)
        if glob is None:
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
        rules.append(Rule(pattern, tuple(owners), number, glob))
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


def compile_pattern(pattern: str) -> tuple[Glob | None, str]:
    """The matcher a CODEOWNERS pattern means, or None and why it is not accepted."""
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
    parts = tuple(None if s == "**" else _segment_tokens(s) for s in segments)
    return Glob(pattern, parts, children_only=segments[-1] == "*"), ""


# One token of a path segment's pattern: a literal character, `?` (ANY_ONE) or `*` (ANY_RUN).
ANY_ONE = "?"
ANY_RUN = "*"
_Token = tuple[str, str]  # (kind, literal): kind is "lit", ANY_ONE or ANY_RUN
_Segment = tuple[_Token, ...]


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled CODEOWNERS pattern, matched without backtracking.

    `parts` holds one entry per pattern segment: None for `**` (any number of
    whole path segments) or the tokens of a one-segment glob. Matching walks
    the path's segments once per part, keeping the set of positions reachable
    so far, and matches each segment glob with the greedy two-pointer method,
    so the cost is bounded by (pattern length x path length) whatever the
    pattern: a line such as `/offers/*a*a*a*a*a*a*a*a*z/` cannot stall a pass
    the way a backtracking regex does.
    """

    pattern: str
    parts: tuple[_Segment | None, ...]
    children_only: bool  # the last part is a lone `*`: direct children only

    def matches(self, path: str) -> bool:
        """Whether `path` (repository-relative, no leading slash) is owned by this pattern."""
        if path == "":
            return False
        names = path.split("/")
        count = len(names)
        last = len(self.parts) - 1
        reach = [True] + [False] * count  # reach[j]: the parts so far matched names[:j]
        for index, part in enumerate(self.parts):
            first = min((j for j in range(count + 1) if reach[j]), default=None)
            if first is None:
                return False
            if part is None:
                if index == last:  # trailing `**`: at least one more name
                    return first < count
                # `**` before something else: zero or more whole names
                reach = [j >= first for j in range(count + 1)]
                continue
            step = [False] * (count + 1)
            for j in range(count):
                if reach[j] and _segment_matches(part, names[j]):
                    step[j + 1] = True
            reach = step
        if self.children_only:
            return reach[count]
        # A file, or a directory and everything below it.
        return any(reach)


def _segment_tokens(segment: str) -> _Segment:
    tokens: list[_Token] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "\\" and index + 1 < len(segment):
            tokens.append(("lit", segment[index + 1]))
            index += 2
            continue
        if char == "*":
            if tokens and tokens[-1][0] == ANY_RUN:
                index += 1
                continue  # `a**b` inside one segment is the same as `a*b`
            tokens.append((ANY_RUN, ""))
        elif char == "?":
            tokens.append((ANY_ONE, ""))
        else:
            tokens.append(("lit", char))
        index += 1
    if segment == "*":
        return ((ANY_ONE, ""), (ANY_RUN, ""))  # a lone `*` needs a non-empty name
    return tuple(tokens)


def _segment_matches(tokens: _Segment, name: str) -> bool:
    """Glob match of one path segment: greedy, backing up only to the latest `*`.

    Each `*` that is passed fixes everything before it for good, so the
    work is at most len(tokens) x len(name) steps (the classic wildcard
    two-pointer algorithm), never exponential.
    """
    t = n = 0
    star_t = star_n = -1
    while n < len(name):
        if t < len(tokens) and tokens[t][0] == ANY_RUN:
            star_t, star_n = t, n
            t += 1
        elif t < len(tokens) and (tokens[t][0] == ANY_ONE or tokens[t][1] == name[n]):
            t += 1
            n += 1
        elif star_t >= 0:
            t = star_t + 1
            star_n += 1
            n = star_n
        else:
            return False
    while t < len(tokens) and tokens[t][0] == ANY_RUN:
        t += 1
    return t == len(tokens)


def _collapse_double_stars(segments: Sequence[str]) -> list[str]:
    out: list[str] = []
    for segment in segments:
        if segment == "**" and out and out[-1] == "**":
            continue
        out.append(segment)
    return out


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
