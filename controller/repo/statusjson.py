"""A status as compact JSON written straight from an `OfferStatus`: the very text of
`json.dumps(status.to_dict(status), sort_keys=True, separators=(",", ":"))`.

The controller's record of an offer (`reconcile/records.py`) is that JSON, made for
every offer whose status changed, every pass: the dict of `status.to_dict` and the
encoder's walk over it cost about three times what writing the same pieces does. The
document's shape is fixed (`status.to_dict`: known keys, optional ones left out when
empty, lists of mappings), so the keys are written here in the order `sort_keys` puts
them, and each string is escaped by the function the encoder itself uses
(`json.encoder.encode_basestring_ascii`: ASCII, every other character escaped).

`dumps` writes only what it is sure of: a field whose value is not of its declared
type (a str, an int, a bool, a datetime) raises `NotCovered`, and the caller encodes
`to_dict`'s dict instead. tests/repo/test_statusjson.py checks `dumps` against the
encoder over generated statuses, hostile strings included (as statusemit is checked
against the YAML dump).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii

from controller.core.model import Condition, Finding, OfferStatus, SignOffVerdict, StageStatus
from controller.core.timestamps import format_time

__all__ = ["NotCovered", "dumps"]


class NotCovered(ValueError):
    """A value `dumps` does not write as the encoder would (not of its declared type)."""


def _text(value: object) -> str:
    """A str as the encoder writes it (quoted, escaped); NotCovered for anything else."""
    if type(value) is not str:
        raise NotCovered(f"a {type(value).__name__} where a str belongs")
    return encode_basestring_ascii(value)


def _name(value: object) -> str:
    """`str(value)` as the encoder writes it: `to_dict` writes enum fields so."""
    return encode_basestring_ascii(str(value))


def _time(moment: object) -> str:
    """A time as `to_dict` writes it (`format_time`), quoted; NotCovered for a non-time."""
    if not isinstance(moment, datetime):
        raise NotCovered(f"a {type(moment).__name__} where a time belongs")
    return encode_basestring_ascii(format_time(moment))


def _positive(parts: list[str], key: str, value: object) -> None:
    """An int under `key` when it is above 0 (`to_dict` leaves out the others)."""
    if type(value) is not int:
        raise NotCovered(f"a {type(value).__name__} where an int belongs")
    if value > 0:
        parts += (key, str(value))


def dumps(status: OfferStatus) -> str:
    """`status.to_dict(status)` as `json.dumps(..., sort_keys=True, separators=(",", ":"))`
    writes it; NotCovered when a value is not of its declared type."""
    parts = ['{"conditions":[']
    _conditions(parts, status.conditions)
    parts.append("]")
    if status.estimated_live:
        parts += (',"estimatedLive":', _text(status.estimated_live))
    parts.append(',"feedback":[')
    _feedback(parts, status.feedback)
    parts.append("]")
    if status.live_generation:
        parts += (',"liveGeneration":', _text(status.live_generation))
    if status.observed_commit:
        parts += (',"observedCommit":', _text(status.observed_commit))
    if status.observed_generation:
        parts += (',"observedGeneration":', _text(status.observed_generation))
    parts += (',"offer":', _text(status.offer), ',"phase":', _name(status.phase))
    if status.preview_url:
        parts += (',"previewUrl":', _text(status.preview_url))
    if status.signoff is not None:
        parts.append(',"signOff":')
        _signoff(parts, status.signoff)
    parts.append(',"stages":[')
    _stages(parts, status.stages)
    parts.append("]")
    ref = status.submission
    if ref is not None:
        parts += (
            ',"submission":{"generation":', _text(ref.generation),
            ',"id":', _text(ref.id),
            ',"idempotencyKey":', _text(ref.idempotency_key),
            ',"target":', _name(ref.target), "}",
        )  # fmt: skip
    target = str(status.target) if status.target else ""
    if target:
        parts += (',"target":', encode_basestring_ascii(target))
    parts.append("}")
    return "".join(parts)


def _conditions(parts: list[str], conditions: Sequence[Condition]) -> None:
    separator = "{"
    for c in conditions:
        parts += (
            separator, '"lastTransitionTime":', _time(c.last_transition_time),
            ',"message":', _text(c.message),
            ',"reason":', _text(c.reason),
            ',"status":', _name(c.status),
            ',"type":', _name(c.type), "}",
        )  # fmt: skip
        separator = ",{"


def _stages(parts: list[str], stages: Sequence[StageStatus]) -> None:
    separator = "{"
    for s in stages:
        parts.append(separator)
        if s.deadline is not None:
            parts += ('"deadline":', _time(s.deadline), ",")
        if s.finished_at is not None:
            parts += ('"finishedAt":', _time(s.finished_at), ",")
        parts += ('"name":', _name(s.name))
        if s.started_at is not None:
            parts += (',"startedAt":', _time(s.started_at))
        parts += (',"state":', _name(s.state), "}")
        separator = ",{"


def _feedback(parts: list[str], feedback: Sequence[Finding]) -> None:
    separator = "{"
    for f in feedback:
        parts += (separator, '"code":', _text(f.code))
        _positive(parts, ',"column":', f.column)
        if f.file:
            parts += (',"file":', _text(f.file))
        _positive(parts, ',"line":', f.line)
        parts += (',"message":', _text(f.message))
        if f.path:
            parts += (',"path":', _text(f.path))
        parts += (',"severity":', _name(f.severity))
        if f.stage:
            parts += (',"stage":', _text(f.stage))
        parts.append("}")
        separator = ",{"


def _signoff(parts: list[str], v: SignOffVerdict) -> None:
    if type(v.valid) is not bool:
        raise NotCovered(f"a {type(v.valid).__name__} where a bool belongs")
    parts.append("{")
    if v.approved_at is not None:
        parts += ('"approvedAt":', _time(v.approved_at), ",")
    parts.append('"approvers":[')
    parts.append(",".join(_text(approver) for approver in v.approvers))
    parts.append("]")
    if v.commit:
        parts += (',"commit":', _text(v.commit))
    parts += (',"generation":', _text(v.generation), ',"message":', _text(v.message))
    if v.pull_request:
        parts += (',"pullRequest":', _text(v.pull_request))
    parts += (',"reason":', _text(v.reason))
    if v.trust:
        parts += (',"trust":', _text(v.trust))
    parts += (',"valid":', "true" if v.valid else "false", "}")
