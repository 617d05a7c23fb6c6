"""status.yaml: `OfferStatus` to plain data and text, and back.

Writing follows the agreed shape exactly (schemas/status.schema.json accepts
what `to_dict` returns): camelCase keys in a fixed order, timestamps as
RFC 3339 UTC with a `Z`, optional fields left out when empty, and the lists
`conditions`, `stages` and `feedback` always present. `render` puts the
`HEADER` comment on top.

Reading is for the controller's own memory only (condition transition times,
which submission it followed). A status file is never obeyed: people may have
edited or broken it, so `from_dict` and `parse` never raise; they return a
best-effort status (dropping entries they cannot read) or None when not even
the offer and phase are there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from controller.core import timestamps
from controller.core.model import (
    Condition,
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    Severity,
    SignOffVerdict,
    Stage,
    StageState,
    StageStatus,
    SubmissionRef,
    Target,
)
from controller.files.yamlio import YamlError, dump_yaml, load_mapping
from controller.repo import statusemit

HEADER = "# Written by offerctl. Edits here are overwritten."

# ---------------------------------------------------------------- writing


format_time = timestamps.format_time


def to_dict(status: OfferStatus) -> dict[str, Any]:
    """The status as plain data in status.yaml's key order."""
    data: dict[str, Any] = {"offer": status.offer}
    _put(data, "observedGeneration", status.observed_generation)
    _put(data, "observedCommit", status.observed_commit)
    _put(data, "target", str(status.target) if status.target else "")
    data["phase"] = str(status.phase)
    data["conditions"] = [_condition_dict(c) for c in status.conditions]
    data["stages"] = [_stage_dict(s) for s in status.stages]
    if status.submission is not None:
        ref = status.submission
        data["submission"] = {
            "id": ref.id,
            "generation": ref.generation,
            "idempotencyKey": ref.idempotency_key,
            "target": str(ref.target),
        }
    data["feedback"] = [_finding_dict(f) for f in status.feedback]
    _put(data, "estimatedLive", status.estimated_live)
    _put(data, "liveGeneration", status.live_generation)
    _put(data, "previewUrl", status.preview_url)
    if status.signoff is not None:
        data["signOff"] = _signoff_dict(status.signoff)
    return data


def render(status: OfferStatus) -> str:
    """The text of status.yaml: the header comment, then the YAML.

    Written by `statusemit.emit`, which gives `dump_yaml(to_dict(status))`'s very
    text for the strings it covers, else by `dump_yaml` itself."""
    try:
        document = statusemit.emit(status)
    except statusemit.NotCovered:
        data = to_dict(status)
        try:
            document = dump_yaml(data)
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text holds it
            document = dump_yaml(_without_surrogates(data))
    return f"{HEADER}\n{document}"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> Any:
    """`value` with every lone surrogate in its strings replaced by U+FFFD.

    A marketplace answer's JSON may escape one (`"\\udcff"`), and a name git gave as
    bytes that were not UTF-8 carries them (`surrogateescape`): written as they are,
    the status would not encode, and the pass that lands it would stop for every offer.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    return value


def _put(data: dict[str, Any], key: str, value: str) -> None:
    if value:
        data[key] = value


def _condition_dict(c: Condition) -> dict[str, Any]:
    return {
        "type": str(c.type),
        "status": str(c.status),
        "reason": c.reason,
        "message": c.message,
        "lastTransitionTime": format_time(c.last_transition_time),
    }


def _stage_dict(s: StageStatus) -> dict[str, Any]:
    data: dict[str, Any] = {"name": str(s.name), "state": str(s.state)}
    for key, moment in (
        ("startedAt", s.started_at),
        ("finishedAt", s.finished_at),
        ("deadline", s.deadline),
    ):
        if moment is not None:
            data[key] = format_time(moment)
    return data


def _finding_dict(f: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {"code": f.code, "message": f.message}
    _put(data, "path", f.path)
    _put(data, "stage", f.stage)
    data["severity"] = str(f.severity)
    _put(data, "file", f.file)
    if f.line > 0:
        data["line"] = f.line
    if f.column > 0:
        data["column"] = f.column
    return data


def _signoff_dict(v: SignOffVerdict) -> dict[str, Any]:
    data: dict[str, Any] = {
        "valid": v.valid,
        "generation": v.generation,
        "reason": v.reason,
        "message": v.message,
        "approvers": list(v.approvers),
    }
    _put(data, "commit", v.commit)
    _put(data, "pullRequest", v.pull_request)
    if v.approved_at is not None:
        data["approvedAt"] = format_time(v.approved_at)
    _put(data, "trust", v.trust)
    return data


# ---------------------------------------------------------------- reading

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


def parse(data: bytes, *, name: str = "status.yaml") -> OfferStatus | None:
    """A status from status.yaml's bytes; None when it is not YAML or not a status."""
    try:
        loaded = load_mapping(data, name=name)
    except YamlError:
        return None
    return from_dict(loaded.document)


_FIRST_YEAR, _LAST_YEAR = 1900, 9000  # plausible times; estimates add at most months


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string (or a datetime); None if it is neither."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 with a negative offset, for one
        return None
    # A status file can be anyone's edit: a time near the ends of the calendar would
    # overflow the first deadline or estimate computed from it.
    return moment if _FIRST_YEAR <= moment.year <= _LAST_YEAR else None


def from_dict(data: object) -> OfferStatus | None:
    """Best effort: unreadable entries are dropped; None without a readable offer and phase."""
    if not isinstance(data, Mapping):
        return None
    offer = _text(data.get("offer"))
    phase = _enum(Phase, data.get("phase"))
    if not offer or phase is None:
        return None
    return OfferStatus(
        offer=offer,
        phase=phase,
        target=_enum(Target, data.get("target")),
        observed_generation=_text(data.get("observedGeneration")),
        observed_commit=_text(data.get("observedCommit")),
        conditions=_unique_conditions(_items(data.get("conditions"), _read_condition)),
        stages=_items(data.get("stages"), _read_stage),
        submission=_read_submission(data.get("submission")),
        feedback=_items(data.get("feedback"), _read_finding),
        estimated_live=_text(data.get("estimatedLive")),
        live_generation=_text(data.get("liveGeneration")),
        preview_url=_text(data.get("previewUrl")),
        signoff=_read_signoff(data.get("signOff")),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _enum(kind: type[E], value: object) -> E | None:
    if not isinstance(value, str):
        return None
    try:
        return kind(value)
    except ValueError:
        return None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _items(value: object, read: Callable[[Mapping[str, Any]], T | None]) -> tuple[T, ...]:
    if not isinstance(value, list):
        return ()
    read_items = (read(item) for item in value if isinstance(item, Mapping))
    return tuple(item for item in read_items if item is not None)


def _unique_conditions(conditions: tuple[Condition, ...]) -> tuple[Condition, ...]:
    """At most one condition per type (a hand edit may duplicate one): the first wins."""
    seen: dict[ConditionType, Condition] = {}
    for condition in conditions:
        seen.setdefault(condition.type, condition)
    return tuple(seen.values())


def _read_condition(item: Mapping[str, Any]) -> Condition | None:
    type_ = _enum(ConditionType, item.get("type"))
    status = _enum(ConditionStatus, item.get("status"))
    since = parse_time(item.get("lastTransitionTime"))
    if type_ is None or status is None or since is None:
        return None
    return Condition(type_, status, _text(item.get("reason")), _text(item.get("message")), since)


def _read_stage(item: Mapping[str, Any]) -> StageStatus | None:
    name = _enum(Stage, item.get("name"))
    state = _enum(StageState, item.get("state"))
    if name is None or state is None:
        return None
    return StageStatus(
        name,
        state,
        started_at=parse_time(item.get("startedAt")),
        finished_at=parse_time(item.get("finishedAt")),
        deadline=parse_time(item.get("deadline")),
    )


def _read_submission(value: object) -> SubmissionRef | None:
    if not isinstance(value, Mapping):
        return None
    fields = [_text(value.get(k)) for k in ("id", "generation", "idempotencyKey")]
    target = _enum(Target, value.get("target"))
    if not all(fields) or target is None:
        return None
    return SubmissionRef(fields[0], fields[1], fields[2], target)


def _read_finding(item: Mapping[str, Any]) -> Finding | None:
    code = _text(item.get("code"))
    if not code:
        return None
    return Finding(
        code=code,
        message=_text(item.get("message")),
        path=_text(item.get("path")),
        stage=_text(item.get("stage")),
        severity=_enum(Severity, item.get("severity")) or Severity.ERROR,
        file=_text(item.get("file")),
        line=_count(item.get("line")),
        column=_count(item.get("column")),
    )


def _read_signoff(value: object) -> SignOffVerdict | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("valid"), bool):
        return None
    approvers = value.get("approvers")
    return SignOffVerdict(
        valid=value["valid"],
        generation=_text(value.get("generation")),
        reason=_text(value.get("reason")),
        message=_text(value.get("message")),
        approvers=tuple(a for a in approvers if isinstance(a, str))
        if isinstance(approvers, list)
        else (),
        commit=_text(value.get("commit")),
        pull_request=_text(value.get("pullRequest")),
        approved_at=parse_time(value.get("approvedAt")),
        trust=_text(value.get("trust")),
    )
