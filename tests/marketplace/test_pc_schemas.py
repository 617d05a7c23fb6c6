"""The Partner Center v1 JSON Schemas: valid schemas, strict on names, casing and enums."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pc_contract import SCHEMA_DIR, documents, errors

SUBMISSION: dict[str, Any] = {
    "resourceType": "Submission",
    "id": "1152921505695125040",
    "state": "Published",
    "substate": "InStore",
    "targets": [{"type": "Scope", "value": "Preview"}],
    "publishedTimeInUtc": "2022-08-04T13:53:31.2590809Z",
    "pendingUpdateInfo": {"updateType": "Create", "status": "Completed"},
    "releaseNumber": 28,
    "friendlyName": "Submission 28",
    "areResourcesReady": True,
}


@pytest.mark.parametrize("document", documents())
def test_every_schema_is_a_valid_draft_2020_12_schema(document: str) -> None:
    schema = json.loads((SCHEMA_DIR / f"{document}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(f"/partnercenter/{document}.schema.json")


def test_the_documented_sample_submission_follows_the_schema() -> None:
    assert errors("Submission", SUBMISSION) == []


@pytest.mark.parametrize(
    ("document", "instance", "expected"),
    [
        ("Submission", {**SUBMISSION, "substate": "Ready"}, "'Ready' is not one of"),
        ("Submission", {**SUBMISSION, "subState": "InStore"}, "'subState' was unexpected"),
        (
            "AzureProduct",
            {"resourceType": "AzureDynamics365ForCustomerEngagement", "externalIDS": []},
            "'externalIDS' was unexpected",
        ),
        ("AzureListing", {"languageCode": "en-us"}, "'resourceType' is a required property"),
        (
            "FeatureAvailability",
            {
                "resourceType": "FeatureAvailability",
                "marketStates": [{"marketCode": "US", "state": "Selling"}],
            },
            "'Selling' is not one of",
        ),
        ("SubmissionCollection", {"items": []}, "'value' is a required property"),
    ],
    ids=[
        "unknown-substate",
        "wrong-casing",
        "externalIDS",
        "no-resourceType",
        "market-state",
        "collection-needs-value",
    ],
)
def test_a_document_off_the_v1_contract_is_refused(
    document: str, instance: dict[str, Any], expected: str
) -> None:
    assert any(expected in line for line in errors(document, instance))


def test_package_regions_are_not_limited_to_the_stale_swagger_enum() -> None:
    doc = {
        "resourceType": "Dynamics365CustomerEngagementPackageConfiguration",
        "packageRegionAvailabilities": [{"region": "UnitedArabEmirates", "isAvailable": True}],
    }
    assert errors("Dynamics365CustomerEngagementPackageConfiguration", doc) == []
