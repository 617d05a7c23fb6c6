"""The generation of an offer: a digest of which offer would be submitted, and with what.

A generation covers the offer id, the canonical spec (sorted-key JSON) and
the content digests of the asset files the spec refers to, so replacing a
logo or the technical package makes a new generation just as a spec edit
does. The id is part of it because the spec leaves out `metadata.name`: a
folder copied under another name must be a different generation, or a
sign-off of the copy would approve the original's content (issue 10).

`spec.target` and `spec.suspend` are left out: they say what to do with the
content, not what the content is. Raising a preview to live must promote the
very submission that was previewed (and that a sign-off approved), and
suspending an offer for a day must not restart a week of certification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from json import encoder
from typing import Any

PREFIX = "sha256:"

# Spec fields that steer the controller rather than describe the offer.
CONTROL_FIELDS = frozenset({"target", "suspend"})

# What json.dumps calls for a value JSON has no form for: a TypeError naming its type.
_NOT_JSON = json.JSONEncoder().default
# The C encoder json.dumps ends in, and its string escape (None without the accelerator).
_MAKE_ENCODER: Callable[..., Callable[[Any, int], list[str]]] | None = getattr(
    encoder, "c_make_encoder", None
)
_ESCAPE: Callable[[str], str] | None = getattr(encoder, "c_encode_basestring", None)


def canonical_json(value: Any, *, allow_nan: bool = True) -> str:
    """Sorted-key, whitespace-free JSON: equal data always gives equal text. Without
    `allow_nan`, a NaN or infinity (which JSON cannot give back equal) raises ValueError.

    The text `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    allow_nan=allow_nan)` gives, from the C encoder it ends in, made here directly: the
    JSONEncoder object and the calls around it cost as much as encoding a small record,
    and a pass encodes a spec and a verdict per offer. A new encoder per call (its
    circular-reference markers are its own), so it is safe from any thread."""
    make, escape = _MAKE_ENCODER, _ESCAPE
    if make is None or escape is None:  # no C accelerator: json.dumps itself
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan
        )
    return "".join(make({}, _NOT_JSON, escape, None, ":", ",", True, False, allow_nan)(value, 0))


def file_digest(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


def generation(
    spec: Mapping[str, Any], file_digests: Mapping[str, str] | None = None, *, offer: str
) -> str:
    """`sha256:<hex>` of the offer id, the spec less its control fields, and the files' digests.

    The digest is of one canonical JSON object `{"offer", "spec", "files"}`;
    files are folded in under their offer-relative paths.
    """
    if not offer:
        raise ValueError("a generation needs the offer id it belongs to")
    content = {key: value for key, value in spec.items() if key not in CONTROL_FIELDS}
    text = canonical_json({"offer": offer, "spec": content, "files": dict(file_digests or {})})
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def short(gen: str, length: int = 12) -> str:
    """The first hex digits of a generation, for branch names and messages."""
    return gen.removeprefix(PREFIX)[:length]
