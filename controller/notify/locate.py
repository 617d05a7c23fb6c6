"""Where a certification finding points in the repository: file and line, for the message.

The marketplace reports findings against the manifest by JSON path
(`$.spec.listings.en-us.name`); a person fixes them in a file at a line.
`FindingLocator` reads offer.yaml at the commit the status observed (the
generation that was certified) and turns each path into
`offers/OFFER/offer.yaml:LINE`. Anything it cannot read or find leaves the
finding as it was: the message then names the manifest and the path.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import replace
from functools import lru_cache

from controller.core.errors import OfferctlError
from controller.core.model import Finding, OfferStatus
from controller.files.yamlio import LoadedYaml, PathItem, load_yaml
from controller.git.repo import OFFERS_DIR, GitRepo

log = logging.getLogger(__name__)

MANIFEST = "offer.yaml"
_STEP = re.compile(
    r"\.(?P<key>[A-Za-z_][A-Za-z0-9_-]*)|\[(?P<index>\d+)\]"
    r"|\[(?P<quoted>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]"
)


def parse_path(path: str) -> list[PathItem] | None:
    """`$.a.b[0]['odd key']` as items; None when it is not that notation."""
    if not path.startswith("$"):
        return None
    items: list[PathItem] = []
    at = 1
    while at < len(path):
        match = _STEP.match(path, at)
        if match is None:
            return None
        if match["key"] is not None:
            items.append(match["key"])
        elif match["index"] is not None:
            items.append(int(match["index"]))
        else:
            try:
                items.append(str(ast.literal_eval(match["quoted"])))
            except (ValueError, SyntaxError):
                return None
        at = match.end()
    return items


class FindingLocator:
    """Fills in file and line of findings that carry only a JSON path."""

    def __init__(self, repo: GitRepo) -> None:
        self._repo = repo
        self._load = lru_cache(maxsize=64)(self._manifest)

    def __call__(self, value: OfferStatus) -> OfferStatus:
        if not value.feedback or not any(not f.file and f.path for f in value.feedback):
            return value
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", value.observed_commit):
            return value
        loaded = self._load(value.observed_commit, value.offer)
        if loaded is None:
            return value
        file = f"{OFFERS_DIR}/{value.offer}/{MANIFEST}"
        return replace(value, feedback=tuple(_place(f, loaded, file) for f in value.feedback))

    def _manifest(self, commit: str, offer: str) -> LoadedYaml | None:
        path = f"{OFFERS_DIR}/{offer}/{MANIFEST}"
        try:
            snapshot = self._repo.snapshot(commit, [offer])
            if snapshot.entry(path) is None:
                return None
            return load_yaml(snapshot.read(path), name=path)
        except (OfferctlError, OSError, ValueError) as exc:
            log.debug("cannot place findings of %s in %s: %s", offer, path, exc)
            return None


def _place(finding: Finding, loaded: LoadedYaml, file: str) -> Finding:
    if finding.file or not finding.path:
        return finding
    items = parse_path(finding.path)
    if items is None:
        return finding
    where = loaded.locate(items)
    return replace(finding, file=file, line=where.line, column=where.column)
