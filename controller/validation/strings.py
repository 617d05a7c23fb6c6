"""A document's strings, walked once and shared by every check that reads them.

Validation reads a manifest's strings three times over: for inline secrets
(`semantic.check_strings`, and `secret_paths` when a schema message must not
echo one), for links that are not https (`precheck.insecure_links`) and for
placeholder text in the listings (`precheck.placeholders`); the last two are
also what the simulated marketplace's certification runs. A `Strings` is that
walk done once per document: what secret each string looks like, decided once,
and the strings each check reads, with their JSON paths, in walk order. The
checks read it and produce exactly the findings, in exactly the
order, that walking the document each time gave (tests/validation/
test_shared_strings.py holds them to the old walks; docs/DESIGN.md §6).

Pure: a parsed document in, tuples out. The document is not copied, so a
`Strings` describes the document as it was when it was made; callers make one
right after loading and never change the document afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from controller.validation.issues import Path
from controller.validation.secrets import may_be_secret, secret_kind

LISTINGS: Path = ("spec", "listings")
# Listing values that are addresses or file names, not text a customer reads.
NOT_TEXT = frozenset({"url", "email", "phone", "path", "thumbnail", "helpLink", "logos"})


def walk_strings(
    document: Any, skip: frozenset[str] = frozenset()
) -> Iterator[tuple[Path, str, str]]:
    """(path, key under which it sits, value) for every string in the document, iteratively;
    nothing under a key in `skip` (at any depth) is walked.

    The order is a depth-first walk that takes a mapping's last key (a list's last
    item) first; keys that are not strings are not walked."""
    stack: list[tuple[Path, str, Any]] = [((), "", document)]
    push, pop = stack.append, stack.pop
    while stack:
        path, key, value = pop()
        if isinstance(value, str):
            yield path, key, value
        elif isinstance(value, dict):
            for k, v in value.items():  # a loop, not extend(generator): cheaper per item
                if isinstance(k, str) and k not in skip:
                    push(((*path, k), k, v))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                push(((*path, i), key, v))


class Strings:
    """What the checks need of one manifest's strings, sorted out in one walk.

    Each list keeps `walk_strings` order. `secrets`: (path, key, what) of every
    string that looks like a secret (`secret_kind`). `links`: (path, string) of
    every other string under `spec` holding "://". `texts`: per language key of
    `spec.listings` (a mapping), (path, string) of every string of that listing
    that a customer reads: none under a key in `NOT_TEXT`, at any depth.
    """

    __slots__ = ("every_secret", "links", "secrets", "texts")

    def __init__(
        self,
        secrets: list[tuple[Path, str, str]],
        links: list[tuple[Path, str]],
        texts: dict[str, list[tuple[Path, str]]],
        *,
        every_secret: bool = True,
    ) -> None:
        self.secrets = secrets
        self.links = links
        self.texts = texts
        self.every_secret = every_secret  # False: `secrets` holds only those holding "://"

    @classmethod
    def of(cls, document: Any, *, every_secret: bool = True) -> Strings:
        """Walk `document` once (the walk `walk_strings(document)` makes, without skips).

        Without `every_secret` only strings holding "://" are asked what secret they
        look like: enough to tell links from secrets, which is all precheck needs."""
        secrets: list[tuple[Path, str, str]] = []
        links: list[tuple[Path, str]] = []
        texts: dict[str, list[tuple[Path, str]]] = {}
        # (path, key, value, the listing's text list when the value is listing text)
        stack: list[tuple[Path, str, Any, list[tuple[Path, str]] | None]] = [
            ((), "", document, None)
        ]
        push, pop = stack.append, stack.pop
        while stack:
            path, key, value, text = pop()
            if isinstance(value, str):
                if text is not None:
                    text.append((path, value))
                if "://" in value:  # a link, unless it is a secret
                    what = secret_kind(value, key)
                    if what is not None:
                        secrets.append((path, key, what))
                    elif len(path) > 1 and path[0] == "spec":
                        links.append((path, value))
                elif every_secret and may_be_secret(value, key):
                    what = secret_kind(value, key)
                    if what is not None:
                        secrets.append((path, key, what))
            elif isinstance(value, dict):
                if text is None and path == LISTINGS:
                    for k, v in value.items():
                        if isinstance(k, str):
                            texts[k] = []
                            push(((*path, k), k, v, texts[k]))
                elif text is None:
                    for k, v in value.items():
                        if isinstance(k, str):
                            push(((*path, k), k, v, None))
                else:
                    for k, v in value.items():
                        if isinstance(k, str):
                            push(((*path, k), k, v, None if k in NOT_TEXT else text))
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    push(((*path, i), key, v, text))
        return cls(secrets, links, texts, every_secret=every_secret)

    @classmethod
    def of_spec(cls, spec: Any) -> Strings:
        """What precheck reads of a bare `spec` (links and listing texts): paths start
        with "spec", as in `Strings.of(manifest)` for the same spec."""
        return cls.of({"spec": spec}, every_secret=False)

    def secret_paths(self) -> frozenset[Path]:
        """JSON paths of the strings that look like secrets: never echo them in a message."""
        return frozenset(path for path, _, _ in self.all_secrets())

    def all_secrets(self) -> list[tuple[Path, str, str]]:
        """`secrets`, after checking that it holds every secret of the document."""
        if not self.every_secret:
            raise ValueError("this walk asked only links whether they are secrets")
        return self.secrets


__all__ = ["LISTINGS", "NOT_TEXT", "Strings", "walk_strings"]
