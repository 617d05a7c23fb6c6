"""A problem found in a document, before it has a line number: the currency of the checks.

Checks return `Issue`s keyed by a JSON path (a tuple of keys and indexes); the
engine turns them into `model.Finding`s with file, line and column once, and
only when there is something to report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from controller.core.escaping import printable
from controller.core.model import Severity

PathItem = str | int
Path = tuple[PathItem, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class Issue:
    code: str  # CamelCase, stable
    message: str
    path: Path = ()
    severity: Severity = Severity.ERROR
    at_key: bool = False  # point at the key naming `path` (unknown or forbidden properties)


def json_path(path: Sequence[PathItem]) -> str:
    """`("spec", "listings", "en-us")` -> `$.spec.listings.en-us`; indexes as `[0]`."""
    out = ["$"]
    for item in path:
        if isinstance(item, int) and not isinstance(item, bool):
            out.append(f"[{item}]")
            continue
        # YAML keys may also be null, true or 1.5: spell them as YAML does.
        key = item if isinstance(item, str) else json.dumps(item, default=str)
        if _PLAIN_KEY.match(key):
            out.append(f".{key}")
        else:
            # A key is the pull request's text: control and bidi characters escaped, so
            # a path printed to a terminal or a CI log cannot restyle or reorder it.
            escaped = printable(key.replace("\\", "\\\\").replace("'", "\\'"))
            out.append(f"['{escaped}']")
    return "".join(out)
