"""Commit-message trailers as git parses them, and the people they name.

Git decides what a trailer is (only the last paragraph, its own rules on
separators and continuation lines); `controller.git.history` asks git for the
trailers already unfolded (`%(trailers:only,unfold)`), one `Key: value` per
line, and this module turns those lines into data. Nothing here parses a
commit message itself, so we can never disagree with git about what a
trailer is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Keys whose value names someone who approved the change.
APPROVAL_KEYS: frozenset[str] = frozenset({"approved-by", "reviewed-by"})
# Keys whose value names someone who wrote part of the change.
AUTHOR_KEYS: frozenset[str] = frozenset({"co-authored-by"})

_IDENTITY = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+@[^<>\s]+)>\s*$")
# GitHub's private commit emails: ID+login@users.noreply.github.com or login@...
_NOREPLY = re.compile(
    r"^(?:\d+\+)?(?P<login>[A-Za-z0-9][A-Za-z0-9-]*(?:\[bot\])?)@users\.noreply\.github\.com$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Trailer:
    key: str  # as written, e.g. "Approved-by"
    value: str

    @property
    def normalized_key(self) -> str:
        return self.key.strip().lower()


@dataclass(frozen=True, slots=True)
class NamedPerson:
    """`Name <email>` from a trailer or a commit header."""

    name: str
    email: str

    @property
    def github_login(self) -> str:
        """The GitHub login a noreply address stands for; "" for any other address."""
        match = _NOREPLY.match(self.email)
        return match.group("login") if match else ""


def parse_trailer_lines(text: str) -> tuple[Trailer, ...]:
    """Trailers from git's unfolded `Key: value` lines (other lines are skipped)."""
    out: list[Trailer] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or any(c.isspace() for c in key.strip()):
            continue
        out.append(Trailer(key.strip(), value.strip()))
    return tuple(out)


def parse_identity(value: str) -> NamedPerson | None:
    """`Name <email>` as git writes identities; None when the value is not one."""
    match = _IDENTITY.match(value)
    if not match:
        return None
    return NamedPerson(match.group("name"), match.group("email"))


def with_keys(trailers: tuple[Trailer, ...], keys: frozenset[str]) -> tuple[Trailer, ...]:
    return tuple(t for t in trailers if t.normalized_key in keys)
