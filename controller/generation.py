"""The generation of an offer: a digest of what would be submitted.

A generation covers the canonical spec (sorted-key JSON) and the content
digests of the asset files the spec refers to, so replacing a logo or the
technical package makes a new generation just as a spec edit does.

`spec.target` and `spec.suspend` are left out: they say what to do with the
content, not what the content is. Raising a preview to live must promote the
very submission that was previewed (and that a sign-off approved), and
suspending an offer for a day must not restart a week of certification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

PREFIX = "sha256:"

# Spec fields that steer the controller rather than describe the offer.
CONTROL_FIELDS = frozenset({"target", "suspend"})


def canonical_json(value: Any) -> str:
    """Sorted-key, whitespace-free JSON: equal data always gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def file_digest(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


def generation(spec: Mapping[str, Any], file_digests: Mapping[str, str] | None = None) -> str:
    """`sha256:<hex>` of the spec less its control fields, and of the files' digests when given.

    With no files the digest is of the spec's canonical JSON alone, as DESIGN.md
    describes; files are folded in under their offer-relative paths.
    """
    content = {key: value for key, value in spec.items() if key not in CONTROL_FIELDS}
    text = canonical_json(content)
    if file_digests:
        text = canonical_json({"spec": content, "files": dict(file_digests)})
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def short(gen: str, length: int = 12) -> str:
    """The first hex digits of a generation, for branch names and messages."""
    return gen.removeprefix(PREFIX)[:length]
