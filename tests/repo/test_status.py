"""status.yaml: writing the agreed shape, reading it back, surviving hand edits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

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
from controller.repo import status as status_io

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "status.schema.json").read_text()
)
STATUS_SCHEMA = jsonschema.Draft202012Validator(SCHEMA)
GEN = "sha256:" + "a" * 64
COMMIT = "3f2c9e1" + "0" * 33
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def full_status() -> OfferStatus:
    return OfferStatus(
        offer="contoso-field-insights",
        phase=Phase.CERTIFYING,
        target=Target.LIVE,
        observed_generation=GEN,
        observed_commit=COMMIT,
        conditions=(
            Condition(ConditionType.READY, ConditionStatus.FALSE, "Certifying", "in progress", T0),
            Condition(
                ConditionType.SIGNED_OFF, ConditionStatus.FALSE, "SignOffMissing", "none", T0
            ),
        ),
        stages=(
            StageStatus(Stage.VALIDATION, StageState.SUCCEEDED, T0, T0 + timedelta(minutes=9)),
            StageStatus(
                Stage.CERTIFICATION,
                StageState.RUNNING,
                T0 + timedelta(minutes=9),
                deadline=T0 + timedelta(days=7, minutes=9),
            ),
            *(StageStatus(s) for s in list(Stage)[2:]),
        ),
        submission=SubmissionRef("sub-1", GEN, f"contoso-field-insights@{GEN}", Target.LIVE),
        feedback=(
            Finding(
                "InsecureLink",
                "use https",
                path="$.spec.listings.en-us.helpLink",
                stage="Certification",
                severity=Severity.WARNING,
            ),
            Finding("NameTooLong", "too long", file="offers/x/offer.yaml", line=7, column=3),
        ),
        estimated_live="2026-12-07",
        live_generation="sha256:" + "b" * 64,
        preview_url="https://preview.marketplace.example/offers/x/sub-1",
        signoff=SignOffVerdict(
            valid=True,
            generation=GEN,
            reason="SignOffAccepted",
            message="approved",
            approvers=("ann@example.com",),
            commit="c" * 40,
            approved_at=T0,
            trust="protected-branch",
        ),
    )


class TestWriting:
    """to_dict writes the agreed shape, and the schema accepts it."""

    def test_full_status_matches_the_schema(self) -> None:
        STATUS_SCHEMA.validate(status_io.to_dict(full_status()))

    def test_keys_come_in_the_documented_order(self) -> None:
        assert list(status_io.to_dict(full_status())) == [
            "offer",
            "observedGeneration",
            "observedCommit",
            "target",
            "phase",
            "conditions",
            "stages",
            "submission",
            "feedback",
            "estimatedLive",
            "liveGeneration",
            "previewUrl",
            "signOff",
        ]

    def test_minimal_status_omits_empty_optionals_but_keeps_the_lists(self) -> None:
        data = status_io.to_dict(OfferStatus(offer="x-offer", phase=Phase.DRAFT))
        assert data == {
            "offer": "x-offer",
            "phase": "Draft",
            "conditions": [],
            "stages": [],
            "feedback": [],
        }
        STATUS_SCHEMA.validate(data)

    def test_timestamps_are_utc_with_z(self) -> None:
        data = status_io.to_dict(full_status())
        assert data["conditions"][0]["lastTransitionTime"] == "2026-11-24T10:00:00Z"
        assert data["stages"][1] == {
            "name": "Certification",
            "state": "Running",
            "startedAt": "2026-11-24T10:09:00Z",
            "deadline": "2026-12-01T10:09:00Z",
        }

    def test_other_time_zones_are_written_in_utc(self) -> None:
        plus_two = T0.astimezone(UTC).replace(tzinfo=None)
        assert status_io.format_time(plus_two) == "2026-11-24T10:00:00Z"
        cet = datetime(2026, 11, 24, 11, 0, tzinfo=UTC) - timedelta(hours=1)
        assert status_io.format_time(cet) == "2026-11-24T10:00:00Z"

    def test_finding_omits_unknown_position(self) -> None:
        data = status_io.to_dict(full_status())
        assert data["feedback"] == [
            {
                "code": "InsecureLink",
                "message": "use https",
                "path": "$.spec.listings.en-us.helpLink",
                "stage": "Certification",
                "severity": "warning",
            },
            {
                "code": "NameTooLong",
                "message": "too long",
                "severity": "error",
                "file": "offers/x/offer.yaml",
                "line": 7,
                "column": 3,
            },
        ]

    def test_render_starts_with_the_header_and_is_block_yaml(self) -> None:
        text = status_io.render(full_status())
        assert text.startswith("# Written by offerctl. Edits here are overwritten.\n")
        assert "offer: contoso-field-insights\n" in text
        assert "status: 'False'" in text or 'status: "False"' in text

    def test_rendering_is_deterministic(self) -> None:
        assert status_io.render(full_status()) == status_io.render(full_status())

    def test_a_lone_surrogate_is_written_as_a_replacement_character(self) -> None:
        # A marketplace answer's JSON can escape one ("\\udcff"); a name git gave as bytes
        # that were not UTF-8 carries them. No UTF-8 text holds one: U+FFFD stands in.
        value = OfferStatus(
            "x",
            Phase.DRAFT,
            feedback=(Finding("C", "bad \udcff byte", file="offers/x/\ud800.png"),),
            signoff=SignOffVerdict(valid=False, approvers=("a\udfffb",)),
        )
        data = status_io.render(value).encode("utf-8")
        back = status_io.parse(data)
        assert back is not None
        assert back.feedback[0].message == "bad \ufffd byte"
        assert back.feedback[0].file == "offers/x/\ufffd.png"
        assert back.signoff is not None and back.signoff.approvers == ("a\ufffdb",)


class TestRoundTrip:
    """What is written reads back as the same status."""

    def test_full_status_round_trips_through_text(self) -> None:
        original = full_status()
        assert status_io.parse(status_io.render(original).encode()) == original

    def test_sub_second_times_survive(self) -> None:
        moment = T0 + timedelta(microseconds=123456)
        assert status_io.parse_time(status_io.format_time(moment)) == moment


def parsed(data: Any) -> OfferStatus | None:
    return status_io.from_dict(data)


class TestToleratesHandEdits:
    """A broken status never raises: it reads as None or as whatever parts still make sense."""

    @pytest.mark.parametrize(
        "data",
        [
            None,
            [],
            "text",
            42,
            {},
            {"offer": "x"},
            {"phase": "Live"},
            {"offer": 1, "phase": "Live"},
            {"offer": "x", "phase": "Exploded"},
            {"offer": "x", "phase": ["Live"]},
        ],
    )
    def test_without_offer_and_phase_there_is_no_status(self, data: Any) -> None:
        assert parsed(data) is None

    @pytest.mark.parametrize(
        "text",
        [
            b"",
            b"# only a comment\n",
            b"offer: [unclosed\n",
            b"\xff\xfe\x00bad",
            b"- a\n- b\n",
            b"offer: x\noffer: y\nphase: Live\n",
            b"!!python/object:os.system {}\n",
        ],
    )
    def test_unreadable_text_is_no_status(self, text: bytes) -> None:
        assert status_io.parse(text) is None

    def test_bad_entries_are_dropped_and_the_rest_kept(self) -> None:
        good = {
            "type": "Ready",
            "status": "True",
            "reason": "Live",
            "message": "ok",
            "lastTransitionTime": "2026-11-24T10:00:00Z",
        }
        data = {
            "offer": "x-offer",
            "phase": "Live",
            "target": "sideways",
            "conditions": [
                {**good, "status": "Maybe"},
                {**good, "lastTransitionTime": "yesterday"},
                "not a mapping",
                good,
                {**good, "message": "duplicate of Ready"},
            ],
            "stages": [{"name": "Validation", "state": "Succeeded", "startedAt": 5}, {"name": 3}],
            "submission": {"id": "sub-1", "generation": GEN},
            "feedback": [{"code": "X", "line": -4, "column": True}, {"message": "no code"}],
            "signOff": {"valid": "yes"},
            "estimatedLive": 20261207,
        }
        status = parsed(data)
        assert status is not None
        assert status.target is None
        assert [c.message for c in status.conditions] == ["ok"]
        assert status.stages == (StageStatus(Stage.VALIDATION, StageState.SUCCEEDED),)
        assert status.submission is None
        assert status.feedback == (Finding("X", ""),)
        assert status.signoff is None
        assert status.estimated_live == ""

    def test_yaml_timestamps_loaded_as_datetimes_are_accepted(self) -> None:
        naive = datetime(2026, 11, 24, 10, 0)  # what a YAML 1.1 loader gives
        cond = {
            "type": "Ready",
            "status": "True",
            "reason": "Live",
            "message": "",
            "lastTransitionTime": naive,
        }
        status = parsed({"offer": "x", "phase": "Live", "conditions": [cond]})
        assert status is not None
        assert status.conditions[0].last_transition_time == T0

    @pytest.mark.parametrize(
        "value", ["0001-01-01T00:00:00+01:00", "2026-13-01T00:00:00Z", "", "Z", None, 3.5]
    )
    def test_impossible_times_read_as_none(self, value: Any) -> None:
        assert status_io.parse_time(value) is None
