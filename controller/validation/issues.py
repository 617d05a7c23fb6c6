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

# A key is the pull request's text, and every finding under it repeats it in its path:
# one 500 KB key with 100 findings below would make a 50 MB status.yaml. A path shows
# each key up to KEY_CHARS characters (its start and end around "…"), and at most
# PATH_KEYS keys (the first and the last, around "…"); nesting is already capped at 64.
KEY_CHARS = 64
PATH_KEYS = 16


@dataclass(frozen=True, slots=True)
class Issue:
    code: str  # CamelCase, stable
    message: str
    path: Path = ()
    severity: Severity = Severity.ERROR
    at_key: bool = False  # point at the key naming `path` (unknown or forbidden properties)


def json_path(path: Sequence[PathItem]) -> str:
    """`("spec", "listings", "en-us")` -> `$.spec.listings.en-us`; indexes as `[0]`.

    Bounded whatever the document: long keys and deep paths are shown cut, with "…"
    (see KEY_CHARS); a cut path names the place for a reader, it is not a key to look up.
    """
    steps = [_step(item) for item in path]
    if len(steps) > PATH_KEYS:
        head = PATH_KEYS // 2
        steps = [*steps[:head], ".…", *steps[head - PATH_KEYS :]]
    return "$" + "".join(steps)


def _step(item: PathItem) -> str:
    if isinstance(item, int) and not isinstance(item, bool):
        return f"[{item}]"
    # YAML keys may also be null, true or 1.5: spell them as YAML does.
    key = item if isinstance(item, str) else json.dumps(item, default=str)
    if len(key) > KEY_CHARS:
        head = KEY_CHARS // 2
        key = f"{key[:head]}…{key[head + 1 - KEY_CHARS :]}"
    if _PLAIN_KEY.match(key):
        return f".{key}"
    # A key is the pull request's text: control and bidi characters escaped, so
    # a path printed to a terminal or a CI log cannot restyle or reorder it.
    escaped = printable(key.replace("\\", "\\\\").replace("'", "\\'"))
    return f"['{escaped}']"
