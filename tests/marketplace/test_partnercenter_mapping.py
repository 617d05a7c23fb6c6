"""Manifest → v1 documents and v1 reads → stages and findings: pure, no HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pc_contract
import pytest
import yaml

from controller.core.model import Severity, Stage, StageState
from controller.marketplace.api import SubmissionResult
from controller.marketplace.partnercenter import mapping

OFFERS = Path(__file__).resolve().parents[2] / "offers"
EXAMPLES = sorted(p.name for p in OFFERS.iterdir() if (p / "offer.yaml").is_file())


def example(offer: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    folder = OFFERS / offer
    spec = yaml.safe_load((folder / "offer.yaml").read_text(encoding="utf-8"))["spec"]
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
             if p.is_file()}  # fmt: skip
    return spec, files


def secret(name: str) -> str:
    return f"value-of-{name}"


@pytest.mark.parametrize("offer", EXAMPLES)
def test_every_document_of_a_shipped_offer_follows_the_v1_schemas(offer: str) -> None:
    spec, files = example(offer)
    pc_contract.check("AzureProduct", mapping.product_document(offer, spec))
    pc_contract.check("AzureProductSetup", mapping.setup_document(spec))
    pc_contract.check("AzureProperty", mapping.property_document(spec))
    availability = mapping.availability_document(spec, stop_selling=False)
    pc_contract.check("FeatureAvailability", availability)
    package = mapping.package_document(spec, "https://a.blob.core.windows.net/c/p.zip?sig=x")
    pc_contract.check("Dynamics365CustomerEngagementPackageConfiguration", package)
    for language, listing in spec["listings"].items():
        pc_contract.check("AzureListing", mapping.listing_document(language, listing, spec))
        for media in mapping.media_of(listing, files):
            kind = {"images": "ListingImage", "videos": "ListingVideo", "assets": "ListingAsset"}
            pc_contract.check(kind[media.collection], media.document())
    leads = mapping.lead_document(spec, secret)
    if leads is not None:
        pc_contract.check("LeadConfiguration", leads)
    request = mapping.submission_request({"Property": "i"}, "k")
    pc_contract.check("SubmissionCreationRequest", request)


def test_media_are_named_by_content_so_a_changed_file_is_uploaded_again() -> None:
    listing = {"logos": {"large": "m/logo.png"}}
    before = mapping.media_of(listing, {"m/logo.png": b"one"})[0]
    same = mapping.media_of(listing, {"m/logo.png": b"one"})[0]
    after = mapping.media_of(listing, {"m/logo.png": b"two"})[0]
    assert before.file_name == same.file_name and before.file_name.endswith("-logo.png")
    assert after.file_name != before.file_name


def test_media_missing_from_the_offer_is_a_mapping_error() -> None:
    with pytest.raises(mapping.MappingError, match=r"m/logo\.png"):
        mapping.media_of({"logos": {"large": "m/logo.png"}}, {})


def test_withdrawn_availability_stops_selling_in_every_market() -> None:
    spec = {"availability": {"markets": ["us", "DE"]}}
    doc = mapping.availability_document(spec, stop_selling=True)
    assert doc["marketStates"] == [{"marketCode": "DE", "state": "StopSelling"},
                                   {"marketCode": "US", "state": "StopSelling"}]  # fmt: skip


def test_lead_secrets_come_from_the_resolver_and_are_listed_as_secret() -> None:
    spec = {
        "offerSetup": {
            "customerLeads": {
                "leadDestination": "azureTable",
                "azureTable": {"connectionStringSecretRef": "X"},
            }
        }
    }
    doc = mapping.lead_document(spec, secret)
    assert doc == {"resourceType": "AzureTableLeadConfiguration", "connectionString": "value-of-X"}
    assert "connectionString" in mapping.LEAD_SECRETS


def test_managed_differences_name_only_managed_fields_that_differ() -> None:
    desired = {"title": "A", "keywords": ["x"], "nested": {"a": 1}}
    actual = {"title": "B", "keywords": ["x"], "nested": {"a": 2}, "unmanaged": 5, "id": "1"}
    assert mapping.managed_differences(desired, actual) == ["title", "nested.a"]


def steps(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"type": "Push", "workflowSteps": [{"name": n, "state": s} for n, s in pairs]}]


class TestProgress:
    """Stages follow the steps Partner Center reports, in whatever order it reports them."""

    def test_ready_to_publish_waits_at_signoff(self) -> None:
        progress = mapping.progress_of(
            {"state": "Published", "substate": "ReadyToPublish"},
            steps(("Automated validation", "Success"), ("Certification", "Success"),
                  ("Preview Creation", "Success"), ("Publisher Signoff", "InProgress")),
        )  # fmt: skip
        states = {p.name: p.state for p in progress.stages}
        assert states[Stage.SIGNOFF] is StageState.RUNNING
        assert states[Stage.PUBLISHING] is StageState.PENDING
        assert progress.awaiting_promote and progress.result is SubmissionResult.PENDING

    def test_certification_reported_after_signoff_is_its_own_stage(self) -> None:
        progress = mapping.progress_of(
            {"state": "Published", "substate": "Publishing"},
            steps(("Automated validation", "Success"), ("Preview Creation", "Success"),
                  ("Publisher Signoff", "Success"), ("Certification", "InProgress"),
                  ("Publish", "NotStarted")),
        )  # fmt: skip
        states = {p.name: p.state for p in progress.stages}
        assert states[Stage.CERTIFICATION] is StageState.RUNNING
        assert states[Stage.SIGNOFF] is StageState.SUCCEEDED
        assert not progress.awaiting_promote and not progress.in_progress

    def test_failed_in_certification_fails_the_certification_stage(self) -> None:
        progress = mapping.progress_of(
            {"state": "InProgress", "substate": "FailedInCertification"},
            steps(("Automated validation", "Success"), ("Certification", "Failed")),
        )
        assert progress.result is SubmissionResult.FAILED
        assert progress.stages[1].state is StageState.FAILED

    def test_in_store_is_live(self) -> None:
        progress = mapping.progress_of({"state": "Published", "substate": "InStore"}, [])
        assert progress.result is SubmissionResult.SUCCEEDED
        assert all(p.state is StageState.SUCCEEDED for p in progress.stages)

    def test_an_unknown_step_state_is_a_failure_not_a_crash(self) -> None:
        progress = mapping.progress_of({"state": "InProgress", "substate": "Submitted"},
                                       steps(("Automated validation", "Exploded")))  # fmt: skip
        assert progress.result is SubmissionResult.FAILED


def test_validation_items_and_failed_reports_become_findings_with_the_link() -> None:
    found = mapping.findings_of(
        [{"errorCode": "Resell-20007", "severity": "Error", "message": "module missing",
          "resource": "Resell"},
         {"errorCode": "minor_thing", "severity": "Warning", "message": "m"}],
        [{"status": "Failed", "fileUri": "https://reports.example/r.pdf"}, {"status": "Passed"}],
    )  # fmt: skip
    assert [f.code for f in found] == ["Resell20007", "MinorThing", "CertificationFailed"]
    assert found[0].severity is Severity.ERROR and found[1].severity is Severity.WARNING
    assert "https://reports.example/r.pdf" in found[2].message
