"""The Partner Center v1 emulator over real HTTP: every answer checked against the v1 schemas."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from marketplace_helpers import StepClock, clean_package, eicar_package
from pcemu_helpers import (
    V1,
    ProductIds,
    create_product,
    file_server,
    shared_http,
    submission_request,
)

from controller.marketplace.faults import FaultConfig
from controller.marketplace.pcemu import PartnerCenterEmulator, running_emulator
from controller.marketplace.simulated import SimulatedMarketplace

PACKAGE_PATH = "/packages/app.zip"
EICAR_PATH = "/packages/eicar.zip"


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def package_host() -> Iterator[str]:
    with file_server({PACKAGE_PATH: clean_package(), EICAR_PATH: eicar_package()}) as url:
        yield url


def _emulator(tmp_path: Path, clock: StepClock, **options: Any) -> Any:
    engine = SimulatedMarketplace(tmp_path / "engine.sqlite3", clock=clock)
    return running_emulator(engine, **options)


@pytest.fixture
def emulator(tmp_path: Path, clock: StepClock) -> Iterator[PartnerCenterEmulator]:
    with _emulator(tmp_path, clock) as server:
        yield server


@pytest.fixture
def v1(emulator: PartnerCenterEmulator) -> Iterator[V1]:
    caller = V1(emulator.url)
    yield caller
    caller.close()


def _state(v1: V1, pid: str, sid: str) -> tuple[str, str]:
    sub = v1.call("GET", f"/products/{pid}/submissions/{sid}", expect=200)
    return sub["state"], sub["substate"]


def _steps(v1: V1, pid: str, sid: str) -> dict[str, list[tuple[str, str]]]:
    details = v1.call("GET", f"/products/{pid}/submissions/{sid}/workflowdetails")["value"]
    return {
        d["targetEnvironment"]: [(s["name"], s["state"]) for s in d["workflowSteps"]]
        for d in details
    }


def _submit(v1: V1, ids: ProductIds, key: str = "") -> dict[str, Any]:
    answer: dict[str, Any] = v1.call(
        "POST", f"/products/{ids.pid}/submissions", submission_request(ids, key), expect=201
    )
    return answer


class TestPublishing:
    """A submission walks the v1 states and workflow steps the engine's stages imply."""

    def test_preview_then_promote_then_in_store(
        self, v1: V1, clock: StepClock, package_host: str, emulator: PartnerCenterEmulator
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        sub = _submit(v1, ids, key="contoso-app@gen1")
        sid = sub["id"]
        assert (sub["state"], sub["substate"]) == ("InProgress", "Submitted")
        assert sub["extendedProperties"] == [
            {"type": "offerctlIdempotencyKey", "value": "contoso-app@gen1"}
        ]
        assert _steps(v1, ids.pid, sid)["Preview"][0] == ("Automated validation", "InProgress")

        clock.advance(days=9)
        assert _state(v1, ids.pid, sid) == ("Published", "ReadyToPublish")
        assert _steps(v1, ids.pid, sid) == {
            "Preview": [
                ("Automated validation", "Success"),
                ("Certification", "Success"),
                ("Preview Creation", "Success"),
                ("Publisher Signoff", "InProgress"),
            ],
            "Live": [("Publish", "NotStarted")],
        }
        (report,) = v1.call("GET", f"/products/{ids.pid}/submissions/{sid}/reports")["value"]
        assert report["status"] == "Passed"

        live = v1.call("POST", f"/products/{ids.pid}/submissions/{sid}/promote", expect=200)
        assert live["targetEnvironment"] == "Live"
        assert _state(v1, ids.pid, sid) == ("Published", "Publishing")
        again = v1.call("POST", f"/products/{ids.pid}/submissions/{sid}/promote", expect=409)
        assert "ReadyToPublish" in again["error"]["message"]

        clock.advance(days=5)
        assert _state(v1, ids.pid, sid) == ("Published", "InStore")
        assert emulator.stats()["promotes"] == {ids.pid: 1}

    def test_promote_before_ready_to_publish_is_refused(self, v1: V1, package_host: str) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        sid = _submit(v1, ids)["id"]
        v1.call("POST", f"/products/{ids.pid}/submissions/{sid}/promote", expect=409)
        assert _state(v1, ids.pid, sid) == ("InProgress", "Submitted")

    def test_certification_failure_reports_findings_behind_the_report_link(
        self, v1: V1, clock: StepClock, package_host: str
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + EICAR_PATH)
        sid = _submit(v1, ids)["id"]
        clock.advance(days=9)
        assert _state(v1, ids.pid, sid) == ("InProgress", "FailedInCertification")
        (report,) = v1.call("GET", f"/products/{ids.pid}/submissions/{sid}/reports")["value"]
        assert report["status"] == "Failed"
        findings = v1.http.get(report["fileUri"]).json()["findings"]
        assert any(f["code"] == "VirusFound" for f in findings), findings
        assert _steps(v1, ids.pid, sid)["Preview"][1] == ("Certification", "Failed")

    def test_an_unreachable_package_fails_automated_validation_with_items(
        self, v1: V1, clock: StepClock, package_host: str
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + "/packages/gone.zip")
        sid = _submit(v1, ids)["id"]
        clock.advance(hours=1)
        assert _state(v1, ids.pid, sid) == ("InProgress", "Failed")
        items = v1.call("GET", f"/products/{ids.pid}/submissions/{sid}/validations")["value"]
        assert {"errorCode": "PackageMissing", "severity": "Error"}.items() <= items[0].items()
        assert items[0]["resource"] == "$.spec.technicalConfiguration.packageFile"

    def test_certification_can_be_reported_in_the_live_push(
        self, tmp_path: Path, clock: StepClock, package_host: str
    ) -> None:
        with _emulator(tmp_path, clock, certification_after_signoff=True) as server:
            v1 = V1(server.url)
            ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
            sid = _submit(v1, ids)["id"]
            steps = _steps(v1, ids.pid, sid)
            v1.close()
        assert [name for name, _ in steps["Preview"]] == [
            "Automated validation",
            "Preview Creation",
            "Publisher Signoff",
        ]
        assert [name for name, _ in steps["Live"]] == ["Certification", "Publish"]


class TestEveryRoute:
    """The routes the publishing flow does not walk also answer v1 documents (checked by V1)."""

    def test_reads_writes_and_deletes_follow_the_schemas(self, v1: V1, package_host: str) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        pid = ids.pid
        assert v1.call("GET", f"/products/{pid}")["externalIDs"][0]["value"] == "contoso-app"
        assert v1.call("GET", f"/products/{pid}/setup")["sellingOption"] == "ListingOnly"
        v1.call("GET", f"/products/{pid}/leadconfiguration", expect=404)
        lead = {"resourceType": "HttpsEndpointLeadConfiguration",
                "httpsEndpointUri": "https://leads.contoso.example/in",
                "contactEmail": "leads@contoso.example"}  # fmt: skip
        v1.call("POST", f"/products/{pid}/leadconfiguration", lead, expect=200)
        assert v1.call("GET", f"/products/{pid}/leadconfiguration") == lead
        assert v1.call("GET", f"/products/{pid}/resellerConfiguration")["resourceType"] == (
            "ResellerConfiguration"
        )
        assert v1.call("GET", f"/products/{pid}/properties/{ids.prop['id']}")["categories"] == [
            "Sales"
        ]
        avail = v1.call("GET", f"/products/{pid}/featureavailabilities/{ids.availability['id']}")
        assert avail["marketStates"] is None  # only with $expand=MarketStates, as in v1
        package = v1.call("GET", f"/products/{pid}/packageconfigurations/{ids.package['id']}")
        assert package["baseLicenseModel"] == "User"
        listing_path = f"/products/{pid}/listings/{ids.listing}"
        asset = v1.call("POST", f"{listing_path}/assets", {
            "resourceType": "ListingAsset", "fileName": "scenario.pdf", "type": "PdfDocument",
            "state": "PendingUpload"}, expect=201)  # fmt: skip
        video = v1.call("POST", f"{listing_path}/videos", {
            "resourceType": "ListingVideo", "fileName": "intro.mp4", "state": "PendingUpload",
            "thumbnail": {"fileName": "intro.png", "title": "Intro", "state": "PendingUpload"},
        }, expect=201)  # fmt: skip
        assert [a["id"] for a in v1.call("GET", f"{listing_path}/assets")["value"]] == [asset["id"]]
        assert v1.call("GET", f"{listing_path}/videos/{video['id']}")["fileName"] == "intro.mp4"
        v1.call("DELETE", f"{listing_path}/assets/{asset['id']}", expect=204)
        assert v1.call("GET", f"{listing_path}/assets")["value"] == []
        v1.call("DELETE", listing_path, expect=204)
        v1.call("GET", listing_path, expect=404)

    def test_a_submission_freezes_the_instances_it_names(self, v1: V1, package_host: str) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        sub = _submit(v1, ids)
        frozen = {r["type"]: r["value"] for r in sub["resources"]}
        assert frozen["Listing"] != ids.drafts["Listing"]
        current = v1.call("GET", f"/products/{ids.pid}/listings/{ids.listing}")
        v1.call("PUT", f"/products/{ids.pid}/listings/{ids.listing}",
                {**current, "title": "Edited after submitting"},
                etag=current["@odata.etag"], expect=200)  # fmt: skip
        by_instance = f"/products/{ids.pid}/listings/getByInstanceID(instanceID={{}})"
        (listing,) = v1.call("GET", by_instance.format(frozen["Listing"]))["value"]
        (draft,) = v1.call("GET", by_instance.format(ids.drafts["Listing"]))["value"]
        assert (listing["title"], draft["title"]) == ("Contoso App", "Edited after submitting")


class TestConcurrency:
    """ETags, the one-in-progress rule, cancel, and edits made in the portal."""

    def test_a_put_without_or_with_a_stale_etag_is_refused(self, v1: V1, package_host: str) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        path = f"/products/{ids.pid}/properties/{ids.prop['id']}"
        body = {"resourceType": "AzureProperty", "appVersion": "2.0.0"}
        assert v1.call("PUT", path, body, expect=409)["error"]["code"] == "PreconditionRequired"
        v1.call("PUT", path, body, etag="*", expect=409)
        v1.call("PUT", path, body, etag='"0000000000000000"', expect=412)
        done = v1.call("PUT", path, body, etag=ids.prop["@odata.etag"], expect=200)
        assert done["@odata.etag"] != ids.prop["@odata.etag"]

    def test_a_portal_edit_changes_the_draft_and_its_etag_behind_the_client(
        self, v1: V1, emulator: PartnerCenterEmulator, package_host: str
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        edited = v1.http.post(
            f"{emulator.base_url}/_emulator/portal-edit",
            json={"productID": ids.pid, "module": "Listing", "changes": {"title": "Portal"}},
        ).json()
        (listing,) = v1.call(
            "GET",
            f"/products/{ids.pid}/listings/getByInstanceID(instanceID={ids.drafts['Listing']})",
        )["value"]
        assert listing["title"] == "Portal"
        assert listing["@odata.etag"] == edited["@odata.etag"]
        stale = v1.call(
            "PUT",
            f"/products/{ids.pid}/listings/{ids.listing}",
            {"resourceType": "AzureListing", "languageCode": "en-us", "title": "Git"},
            etag='"stale"',
            expect=412,
        )
        assert stale["error"]["code"] == "PreconditionFailed"

    def test_one_submission_in_progress_and_cancel_only_before_sign_off(
        self, v1: V1, clock: StepClock, emulator: PartnerCenterEmulator, package_host: str
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        first = _submit(v1, ids)["id"]
        busy = v1.call(
            "POST", f"/products/{ids.pid}/submissions", submission_request(ids), expect=409
        )
        assert "in progress" in busy["error"]["message"]
        v1.call("DELETE", f"/products/{ids.pid}/submissions/{first}", expect=204)
        v1.call("GET", f"/products/{ids.pid}/submissions/{first}", expect=404)
        second = _submit(v1, ids)["id"]
        clock.advance(days=9)
        assert _state(v1, ids.pid, second) == ("Published", "ReadyToPublish")
        v1.call("DELETE", f"/products/{ids.pid}/submissions/{second}", expect=409)
        listed = v1.call("GET", f"/products/{ids.pid}/submissions")["value"]
        assert [s["id"] for s in listed] == [second]
        assert emulator.stats()["submissions"] == {ids.pid: 2}

    def test_a_portal_made_submission_blocks_the_client_and_is_marked_in_stats(
        self, v1: V1, emulator: PartnerCenterEmulator, package_host: str
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        made = v1.http.post(
            f"{emulator.base_url}/_emulator/portal-submit", json={"productID": ids.pid}
        )
        assert made.status_code == 201
        assert made.json()["extendedProperties"] == []
        v1.call("POST", f"/products/{ids.pid}/submissions", submission_request(ids), expect=409)
        assert emulator.stats()["portalSubmissions"] == {ids.pid: 1}

    def test_a_body_off_the_v1_contract_is_refused_and_counted(
        self, v1: V1, emulator: PartnerCenterEmulator
    ) -> None:
        misspelt = {
            "resourceType": "AzureDynamics365ForCustomerEngagement",
            "name": "Contoso",
            "externalIds": [{"type": "AzureOfferId", "value": "contoso"}],
            "isModularPublishing": "yes",
        }
        answer = v1.http.post(f"{emulator.url}/products", json=misspelt, headers=v1.headers)
        assert answer.status_code == 400
        details = [d["message"] for d in answer.json()["error"]["details"]]
        assert any("'yes' is not of type 'boolean'" in d for d in details), details
        stats = emulator.stats()
        assert stats["contractViolations"] == 1
        assert "AzureProduct" in stats["lastViolations"][0]
        assert v1.call("GET", "/products")["value"] == []

    def test_a_submission_must_name_every_module_draft(self, v1: V1, package_host: str) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        request = submission_request(ids)
        no_reseller = {**request, "resources": request["resources"][:-1]}
        answer = v1.call("POST", f"/products/{ids.pid}/submissions", no_reseller, expect=400)
        assert answer["error"]["code"] == "Resell-20007"
        live_scope = {**request, "targets": [{"type": "Scope", "value": "live"}]}
        v1.call("POST", f"/products/{ids.pid}/submissions", live_scope, expect=400)


class TestListingFiles:
    """The documented upload flow: PendingUpload, PUT to fileSasUri, Uploaded, then Processed."""

    def _image(self, v1: V1, ids: ProductIds) -> dict[str, Any]:
        image: dict[str, Any] = v1.call(
            "POST",
            f"/products/{ids.pid}/listings/{ids.listing}/images",
            {
                "resourceType": "ListingImage",
                "fileName": "logo-216.png",
                "type": "AzureLogoLarge",
                "order": 0,
                "state": "PendingUpload",
            },
            expect=201,
        )
        return image

    def test_an_uploaded_image_is_processed(
        self, v1: V1, emulator: PartnerCenterEmulator, package_host: str
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        image = self._image(v1, ids)
        put = v1.http.put(
            image["fileSasUri"], content=b"\x89PNG", headers={"x-ms-blob-type": "BlockBlob"}
        )
        assert put.status_code == 201
        path = f"/products/{ids.pid}/listings/{ids.listing}/images/{image['id']}"
        uploaded = v1.call(
            "PUT", path, {**image, "state": "Uploaded"}, etag=image["@odata.etag"], expect=200
        )
        assert uploaded["state"] == "InProcessing"
        assert v1.call("GET", path)["state"] == "Processed"
        assert v1.http.get(image["fileSasUri"]).content == b"\x89PNG"
        assert emulator.stats()["uploads"] == 1

    def test_an_image_marked_uploaded_without_bytes_fails_processing(
        self, v1: V1, package_host: str
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        image = self._image(v1, ids)
        path = f"/products/{ids.pid}/listings/{ids.listing}/images/{image['id']}"
        v1.call("PUT", path, {**image, "state": "Uploaded"}, etag=image["@odata.etag"])
        assert v1.call("GET", path)["state"] == "ProcessFailed"

    def test_an_upload_needs_the_signature_and_the_blob_type(
        self, v1: V1, package_host: str
    ) -> None:
        ids = create_product(v1, "contoso-app", package_uri=package_host + PACKAGE_PATH)
        uri = self._image(v1, ids)["fileSasUri"]
        forged = uri.split("sig=")[0] + "sig=forged"
        blob = {"x-ms-blob-type": "BlockBlob"}
        assert v1.http.put(forged, content=b"x", headers=blob).status_code == 403
        assert v1.http.put(uri, content=b"x").status_code == 400


class TestAccess:
    """Authentication, the seller id header, throttling and paging."""

    def test_a_request_without_a_bearer_token_is_unauthorized(self, v1: V1) -> None:
        v1.headers.pop("Authorization")
        v1.call("GET", "/products", expect=401)

    def test_a_required_publisher_id_is_enforced_with_v1s_problem_document(
        self, tmp_path: Path, clock: StepClock
    ) -> None:
        with _emulator(tmp_path, clock, publisher_id="12345") as server:
            bare, seller = V1(server.url), V1(server.url, headers={"x-ms-publisherId": "12345"})
            problem = bare.call("GET", "/products", expect=400)
            seller.call("GET", "/products", expect=200)
            bare.close()
            seller.close()
        assert "x-ms-publisherId" in problem["errors"]

    @pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
    def test_throttling_answers_429_with_retry_after(
        self, tmp_path: Path, clock: StepClock, as_date: bool
    ) -> None:
        faults = FaultConfig(throttle=1.0, retry_after=7, retry_after_date=1.0 if as_date else 0)
        auth = {"Authorization": "Bearer t"}
        http = shared_http()
        with _emulator(tmp_path, clock, faults=faults) as server:
            answer = http.get(f"{server.url}/products", headers=auth)
            http.post(f"{server.base_url}/_emulator/faults", json={"settings": []})
            calm = http.get(f"{server.url}/products", headers=auth)
        assert answer.status_code == 429
        retry_after = answer.headers["Retry-After"]
        if as_date:
            assert email.utils.parsedate_to_datetime(retry_after).tzinfo is not None
        else:
            assert retry_after == "7"
        assert calm.status_code == 200

    def test_an_early_answer_leaves_no_body_behind_on_a_kept_alive_connection(
        self, tmp_path: Path, clock: StepClock
    ) -> None:
        product = {
            "resourceType": "AzureDynamics365ForCustomerEngagement",
            "name": "Contoso",
            "externalIDs": [{"type": "AzureOfferId", "value": "contoso"}],
        }
        with _emulator(tmp_path, clock, faults=FaultConfig(throttle=1.0)) as server:
            v1 = V1(server.url)
            v1.call("POST", "/products", product, expect=429)
            v1.headers["Authorization"] = "Basic not-a-bearer"
            v1.call("POST", "/products", product, expect=429)
            v1.http.post(f"{server.base_url}/_emulator/faults", json={"settings": []})
            v1.call("POST", "/products", product, expect=401)
            v1.headers["Authorization"] = "Bearer t"
            created = v1.call("POST", "/products", product, expect=201)
        assert created["name"] == "Contoso"

    def test_products_are_found_by_offer_id_and_paged(self, v1: V1) -> None:
        for n in range(102):
            v1.call(
                "POST",
                "/products",
                {
                    "resourceType": "AzureDynamics365ForCustomerEngagement",
                    "name": f"o{n}",
                    "externalIDs": [{"type": "AzureOfferId", "value": f"offer-{n}"}],
                },
                expect=201,
            )
        filtered = v1.call(
            "GET",
            "/products",
            params={
                "$filter": "ExternalIDs/Any(i:i/Type eq 'AzureOfferId' and i/Value eq 'offer-7')"
            },
        )
        assert [p["name"] for p in filtered["value"]] == ["o7"]
        first = v1.call("GET", "/products")
        assert len(first["value"]) == 100
        rest = v1.call("GET", first["@odata.nextLink"].removeprefix("/v1.0/ingestion"))
        assert [p["name"] for p in rest["value"]] == ["o100", "o101"]
        assert "@odata.nextLink" not in rest
