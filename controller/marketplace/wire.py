"""The JSON shapes of the marketplace REST API, shared by the HTTP client and server.

`*_to_json` turn the interface's dataclasses into plain dicts (camelCase keys,
RFC 3339 UTC timestamps, base64 file contents); `*_from_json` check a decoded
document field by field and raise `WireError` (a non-transient
`MarketplaceError`) for anything missing, mistyped or outside an enum, so a
surprising answer becomes an error in status instead of a crash.

Unknown extra keys are ignored: an API that grows a field must not break
clients that do not know it yet (tolerant reader). Unknown *values* of known
enums are errors: the controller cannot reason about a state it has no name for.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from controller.core.model import Finding, Severity, Stage, StageState, Target

from .api import (
    MarketplaceError,
    OfferListing,
    OfferPayload,
    StageProgress,
    Submission,
    SubmissionResult,
)

E = TypeVar("E", bound=StrEnum)
V = TypeVar("V")


class WireError(MarketplaceError):
    """A document that does not have the agreed shape."""

    def __init__(self, message: str) -> None:
        super().__init__(f"unexpected marketplace data: {message}", transient=False)


# --- encoding -----------------------------------------------------------------------------


def timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def finding_to_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "message": finding.message,
        "path": finding.path,
        "stage": finding.stage,
        "severity": finding.severity.value,
    }


def stage_to_json(progress: StageProgress) -> dict[str, Any]:
    out: dict[str, Any] = {"name": progress.name.value, "state": progress.state.value}
    if progress.started_at is not None:
        out["startedAt"] = timestamp(progress.started_at)
    if progress.finished_at is not None:
        out["finishedAt"] = timestamp(progress.finished_at)
    return out


def submission_to_json(submission: Submission) -> dict[str, Any]:
    return {
        "id": submission.id,
        "offer": submission.offer,
        "generation": submission.generation,
        "idempotencyKey": submission.idempotency_key,
        "target": submission.target.value,
        "createdAt": timestamp(submission.created_at),
        "result": submission.result.value,
        "stages": [stage_to_json(p) for p in submission.stages],
        "feedback": [finding_to_json(f) for f in submission.feedback],
        "previewUrl": submission.preview_url,
    }


def listing_to_json(listing: OfferListing) -> dict[str, Any]:
    return {
        "offer": listing.offer,
        "liveGeneration": listing.live_generation,
        "withdrawn": listing.withdrawn,
        "withdrawing": listing.withdrawing,
    }


def payload_to_json(payload: OfferPayload) -> dict[str, Any]:
    return {
        "spec": dict(payload.spec),
        "files": {
            path: base64.b64encode(data).decode("ascii") for path, data in payload.files.items()
        },
    }


def submit_request_to_json(
    offer: str, generation: str, target: Target, payload: OfferPayload, key: str
) -> dict[str, Any]:
    return {
        "offer": offer,
        "generation": generation,
        "target": Target(target).value,
        "idempotencyKey": key,
        "payload": payload_to_json(payload),
    }


def error_to_json(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


# --- decoding -----------------------------------------------------------------------------


def finding_from_json(data: Any, where: str = "finding") -> Finding:
    obj = _object(data, where)
    return Finding(
        code=_str(obj, "code", where),
        message=_str(obj, "message", where),
        path=_str(obj, "path", where, default=""),
        stage=_str(obj, "stage", where, default=""),
        severity=_enum(
            Severity, _str(obj, "severity", where, default="error"), f"{where}.severity"
        ),
    )


def stage_from_json(data: Any, where: str = "stage") -> StageProgress:
    obj = _object(data, where)
    return StageProgress(
        name=_enum(Stage, _str(obj, "name", where), f"{where}.name"),
        state=_enum(StageState, _str(obj, "state", where), f"{where}.state"),
        started_at=_optional_time(obj, "startedAt", where),
        finished_at=_optional_time(obj, "finishedAt", where),
    )


def submission_from_json(data: Any, where: str = "submission") -> Submission:
    obj = _object(data, where)
    stages = tuple(
        stage_from_json(item, f"{where}.stages[{i}]")
        for i, item in enumerate(_list(obj, "stages", where))
    )
    names = [p.name for p in stages]
    if len(set(names)) != len(names):
        raise WireError(f"{where}.stages names a stage twice")
    created = _optional_time(obj, "createdAt", where)
    if created is None:
        raise WireError(f"{where}.createdAt is missing")
    return Submission(
        id=_str(obj, "id", where),
        offer=_str(obj, "offer", where),
        generation=_str(obj, "generation", where),
        idempotency_key=_str(obj, "idempotencyKey", where),
        target=_enum(Target, _str(obj, "target", where), f"{where}.target"),
        created_at=created,
        result=_enum(SubmissionResult, _str(obj, "result", where), f"{where}.result"),
        stages=stages,
        feedback=tuple(
            finding_from_json(item, f"{where}.feedback[{i}]")
            for i, item in enumerate(_list(obj, "feedback", where, default=[]))
        ),
        preview_url=_str(obj, "previewUrl", where, default=""),
    )


def submissions_from_json(data: Any, where: str = "submissions") -> list[Submission]:
    obj = _object(data, where)
    return [
        submission_from_json(item, f"{where}.items[{i}]")
        for i, item in enumerate(_list(obj, "items", where))
    ]


def listing_from_json(data: Any, where: str = "listing") -> OfferListing:
    obj = _object(data, where)
    return OfferListing(
        offer=_str(obj, "offer", where),
        live_generation=_str(obj, "liveGeneration", where, default=""),
        withdrawn=_bool(obj, "withdrawn", where),
        withdrawing=_bool(obj, "withdrawing", where),
    )


def payload_from_json(data: Any, where: str = "payload") -> OfferPayload:
    obj = _object(data, where)
    spec = _object(obj.get("spec"), f"{where}.spec")
    files_obj = _object(obj.get("files", {}), f"{where}.files")
    files: dict[str, bytes] = {}
    for path, encoded in files_obj.items():
        if not isinstance(encoded, str):
            raise WireError(f"{where}.files[{path!r}] is not a base64 string")
        try:
            files[path] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise WireError(f"{where}.files[{path!r}] is not valid base64") from None
    return OfferPayload(spec=spec, files=files)


def error_from_json(data: Any) -> tuple[str, str]:
    """(code, message) of an error document; ("", "") when it is not one."""
    if isinstance(data, Mapping):
        err = data.get("error")
        if isinstance(err, Mapping):
            return str(err.get("code", "")), str(err.get("message", ""))
    return "", ""


# --- field helpers ------------------------------------------------------------------------


def _object(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise WireError(f"{where} is {type(data).__name__}, not an object")
    return data


_MISSING: Any = object()


def _str(obj: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> str:
    value = obj.get(key, default)
    if value is _MISSING:
        raise WireError(f"{where}.{key} is missing")
    if not isinstance(value, str):
        raise WireError(f"{where}.{key} is {type(value).__name__}, not a string")
    return value


def _bool(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise WireError(f"{where}.{key} is {type(value).__name__}, not a boolean")
    return value


def _list(obj: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> list[Any]:
    value = obj.get(key, default)
    if value is _MISSING:
        raise WireError(f"{where}.{key} is missing")
    if not isinstance(value, list):
        raise WireError(f"{where}.{key} is {type(value).__name__}, not a list")
    return value


def _enum(kind: type[E], value: str, where: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise WireError(f"{where} is {value!r}, not one of {allowed}") from None


def _optional_time(obj: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(f"{where}.{key} is {type(value).__name__}, not a timestamp string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise WireError(f"{where}.{key} is {value!r}, not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise WireError(f"{where}.{key} is {value!r}, which has no time zone")
    return parsed.astimezone(UTC)
