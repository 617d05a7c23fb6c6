"""JSON shapes of the REST API: round trips, and surprises turned into MarketplaceError."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from marketplace_helpers import payload

from controller.core.model import Finding, Stage, StageState, Target
from controller.marketplace import wire
from controller.marketplace.api import (
    MarketplaceError,
    OfferListing,
    StageProgress,
    Submission,
    SubmissionResult,
)

T0 = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)
SUB = Submission(
    id="sub-1",
    offer="o",
    generation="sha256:" + "a" * 64,
    idempotency_key="o@sha256:" + "a" * 64,
    target=Target.PREVIEW,
    created_at=T0,
    result=SubmissionResult.FAILED,
    stages=(
        StageProgress(Stage.VALIDATION, StageState.SUCCEEDED, T0, T0),
        StageProgress(Stage.CERTIFICATION, StageState.FAILED, T0, T0),
        StageProgress(Stage.PACKAGING, StageState.SKIPPED),
    ),
    feedback=(Finding("VirusFound", "bad", "$.spec.x", "Certification"),),
    preview_url="",
)


def doc() -> dict[str, Any]:
    return wire.submission_to_json(SUB)


class TestRoundTrips:
    """What the server writes, the client reads back unchanged."""

    def test_submission_round_trips(self) -> None:
        assert wire.submission_from_json(doc()) == SUB

    def test_listing_round_trips(self) -> None:
        listing = OfferListing("o", live_generation="g", withdrawing=True)
        assert wire.listing_from_json(wire.listing_to_json(listing)) == listing

    def test_payload_files_travel_as_base64(self) -> None:
        p = payload()
        encoded = wire.payload_to_json(p)
        assert all(isinstance(v, str) for v in encoded["files"].values())
        decoded = wire.payload_from_json(encoded)
        assert decoded.files == p.files
        assert decoded.spec == p.spec

    def test_timestamps_are_utc_with_z(self) -> None:
        assert doc()["createdAt"] == "2026-11-23T09:00:00.123456Z"

    def test_unknown_extra_fields_are_ignored(self) -> None:
        data = doc() | {"someNewField": {"x": 1}}
        assert wire.submission_from_json(data) == SUB


class TestSurprises:
    """A document of the wrong shape raises MarketplaceError, never KeyError or ValueError."""

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"result": "paused"}, "result"),
            ({"target": "beta"}, "target"),
            ({"stages": [{"name": "Review", "state": "Running"}]}, "name"),
            ({"stages": [{"name": "Validation", "state": "Sleeping"}]}, "state"),
            ({"stages": "Validation"}, "list"),
            ({"createdAt": "yesterday"}, "createdAt"),
            ({"createdAt": "2026-11-23T09:00:00"}, "time zone"),
            ({"id": 7}, "id"),
            ({"feedback": [{"code": "X"}]}, "message"),
            ({"feedback": [{"code": "X", "message": "m", "severity": "fatal"}]}, "severity"),
        ],
    )
    def test_bad_submission_document(self, change: dict[str, Any], message: str) -> None:
        with pytest.raises(MarketplaceError, match=message) as caught:
            wire.submission_from_json(doc() | change)
        assert isinstance(caught.value, wire.WireError)
        assert not caught.value.transient

    @pytest.mark.parametrize("missing", ["id", "offer", "generation", "result", "stages"])
    def test_missing_field(self, missing: str) -> None:
        data = doc()
        del data[missing]
        with pytest.raises(wire.WireError, match=missing):
            wire.submission_from_json(data)

    @pytest.mark.parametrize("value", [None, [], "x", 3])
    def test_not_an_object(self, value: Any) -> None:
        with pytest.raises(wire.WireError):
            wire.submission_from_json(value)

    def test_a_stage_named_twice_is_refused(self) -> None:
        stages = doc()["stages"]
        with pytest.raises(wire.WireError, match="twice"):
            wire.submission_from_json(doc() | {"stages": [stages[0], stages[0]]})

    def test_bad_base64_is_refused(self) -> None:
        with pytest.raises(wire.WireError, match="base64"):
            wire.payload_from_json({"spec": {}, "files": {"a": "!!notbase64"}})

    def test_listing_with_a_non_boolean_flag_is_refused(self) -> None:
        with pytest.raises(wire.WireError, match="withdrawn"):
            wire.listing_from_json({"offer": "o", "withdrawn": "yes"})
