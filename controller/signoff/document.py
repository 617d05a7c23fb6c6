"""signoff.yaml: from untrusted bytes to a `SignOffDocument`, or the reason it is not one.

Loading goes through `controller.files.yamlio` (size cap, no tags, no duplicate
keys, no alias bombs); the shape is checked against the `signoff` schema
through the validation engine, and independently here for the few fields we
read, so a document this module returns is always well-formed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from controller.core.model import API_VERSION
from controller.files.yamlio import YamlError, load_mapping
from controller.repo.layout import is_offer_id
from controller.signoff.rules import ParsedSignOff, SignOffDocument
from controller.validation.engine import check_instance

MAX_BYTES = 64 * 1024  # a sign-off is a few lines; anything bigger is not one
_GENERATION = re.compile(r"^sha256:[0-9a-f]{64}$")
_KEYS = frozenset({"apiVersion", "kind", "offer", "generation", "note"})


def parse_signoff(data: bytes, *, name: str) -> ParsedSignOff:
    try:
        loaded = load_mapping(data, name=name, max_bytes=MAX_BYTES)
    except YamlError as exc:
        return ParsedSignOff(None, str(exc))
    return from_mapping(loaded.document, name=name)


def from_mapping(data: Mapping[str, Any], *, name: str) -> ParsedSignOff:
    schema_problem = _schema_problem(data)
    own_problem = _own_problem(data)
    problem = schema_problem or own_problem
    if problem:
        return ParsedSignOff(None, f"{name}: {problem}")
    return ParsedSignOff(
        SignOffDocument(
            offer=data["offer"], generation=data["generation"], note=data.get("note") or ""
        )
    )


def _own_problem(data: Mapping[str, Any]) -> str:
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        return f"unknown key {unknown[0]!r} (expected {', '.join(sorted(_KEYS))})"
    if data.get("apiVersion") != API_VERSION:
        return f"apiVersion must be {API_VERSION}"
    if data.get("kind") != "SignOff":
        return "kind must be SignOff"
    offer = data.get("offer")
    if not is_offer_id(offer):
        return f"offer {offer!r} is not an offer id"
    generation = data.get("generation")
    if not isinstance(generation, str) or not _GENERATION.match(generation):
        return f"generation {generation!r} is not sha256: followed by 64 lowercase hex digits"
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        return "note must be text of at most 2,000 characters"
    return ""


def _schema_problem(data: Mapping[str, Any]) -> str:
    findings = check_instance("signoff", data)
    if not findings:
        return ""
    first = findings[0]
    return f"{first.message} (at {first.path})" if first.path else str(first.message)
