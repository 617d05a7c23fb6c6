"""The Partner Center adapter against the emulator in a subprocess, over real loopback HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pc_contract
import pytest
from azurite_helpers import Azurite
from marketplace_helpers import clean_package, eicar_package, payload, spec
from pc_helpers import Emulator, client, emulator, file_server

from controller.core.model import Stage, StageState, Target
from controller.marketplace.api import (
    InvalidState,
    MarketplaceError,
    Submission,
    SubmissionResult,
)
from controller.marketplace.partnercenter import PartnerCenterMarketplace
from controller.marketplace.partnercenter.client import Drift, PortalSubmission
from controller.marketplace.partnercenter.package import BlobPackageStore, sas_expiry

pytestmark = pytest.mark.slow  # a subprocess per test; each still takes about a second

SAS_VAR = "CONTOSO_PACKAGE_SAS"
SAS = "sv=2024-01-01&sp=r&sig=c2VjcmV0LXNhcy1zaWduYXR1cmU"


@pytest.fixture
def packages() -> Iterator[tuple[str, dict[str, bytes]]]:
    files = {"app.zip": clean_package(), "eicar.zip": eicar_package()}
    with file_server(files) as url:
        yield url, files


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One fast emulator (a week in a tenth of a second) for the module; offers differ per test."""
    with emulator(tmp_path_factory.mktemp("pc-fast")) as running:
        yield running


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator in real time: submissions stay in progress for the whole test."""
    with emulator(tmp_path_factory.mktemp("pc-slow"), time_scale="1") as running:
        yield running


@pytest.fixture
def offer(request: pytest.FixtureRequest) -> str:
    """An offer id of this test's own, so tests can share an emulator."""
    name = request.node.name.removeprefix("test_").replace("_", "-")
    return f"t-{name}"[:50].rstrip("-")


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[list[PartnerCenterMarketplace]]:
    made: list[PartnerCenterMarketplace] = []
    yield made
    for pc in made:
        pc.close()


def offer_payload(package_url: str, package: str = "app.zip",
                  changes: dict[str, Any] | None = None) -> Any:  # fmt: skip
    changed = spec({
        "technicalConfiguration.packageLocationUrl": f"{package_url}/{package}",
        "technicalConfiguration.sasTokenSecretRef": SAS_VAR,
        **(changes or {}),
    })  # fmt: skip
    body = eicar_package() if package == "eicar.zip" else None
    return payload(changed, package=body)


def pc_client(emu: Emulator, tmp_path: Path, made: list[PartnerCenterMarketplace],
              **kwargs: Any) -> PartnerCenterMarketplace:  # fmt: skip
    env = {SAS_VAR: SAS, **kwargs.pop("env", {})}
    pc = client(emu, tmp_path, env=env, **kwargs)
    made.append(pc)
    return pc


def wait_for(pc: PartnerCenterMarketplace, submission: Submission, done: Any) -> Submission:
    deadline = time.monotonic() + 30
    while not done(submission):
        assert time.monotonic() < deadline, submission
        time.sleep(0.05)
        submission = pc.get(submission.id)
    return submission


def at_signoff(s: Submission) -> bool:
    return s.result is not SubmissionResult.PENDING or s.stage(Stage.SIGNOFF).state is (
        StageState.RUNNING
    )


def product_of(s: Submission) -> str:
    return s.id.split("/")[0]


def settled(s: Submission) -> bool:
    return s.result is not SubmissionResult.PENDING


class TestPublish:
    """A submission goes through the reported stages to a preview, and live only on go_live."""

    def test_preview_target_reaches_signoff_and_is_never_promoted(
        self,
        emu: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(emu, tmp_path, clients)
        first = pc.submit(offer, "sha256:a", Target.PREVIEW, offer_payload(packages[0]), "k1")
        done = wait_for(pc, first, at_signoff)
        assert done.result is SubmissionResult.PENDING
        assert done.stage(Stage.VALIDATION).state is StageState.SUCCEEDED
        assert done.stage(Stage.PACKAGING).state is StageState.SUCCEEDED
        assert done.stage(Stage.PUBLISHING).state is StageState.PENDING
        stats, product = emu.stats(), product_of(done)
        assert done.offer == offer and stats["products"][offer] == product
        assert stats["submissions"][product] == 1
        assert stats["promotes"].get(product, 0) == 0

    def test_live_target_is_promoted_once_and_goes_live(
        self,
        emu: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(emu, tmp_path, clients)
        first = pc.submit(offer, "sha256:a", Target.LIVE, offer_payload(packages[0]), "k1")
        waiting = wait_for(pc, first, at_signoff)
        assert waiting.result is SubmissionResult.PENDING
        promoted = pc.go_live(waiting.id)
        again = pc.go_live(promoted.id) if not settled(promoted) else promoted
        live = wait_for(pc, again, settled)
        assert live.result is SubmissionResult.SUCCEEDED
        assert all(p.state is StageState.SUCCEEDED for p in live.stages)
        assert pc.listing(offer).live_generation == "sha256:a"
        assert emu.stats()["promotes"][product_of(live)] == 1

    def test_submitting_the_same_key_again_returns_the_same_submission(
        self,
        emu: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(emu, tmp_path, clients)
        body = offer_payload(packages[0])
        first = pc.submit(offer, "sha256:a", Target.LIVE, body, "k1")
        # A fresh client on the same state file: as after a restart.
        again = pc_client(emu, tmp_path, clients)
        second = again.submit(offer, "sha256:a", Target.LIVE, body, "k1")
        assert second.id == first.id
        assert emu.stats()["submissions"][product_of(first)] == 1

    def test_go_live_before_ready_to_publish_is_refused(
        self,
        slow: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(slow, tmp_path, clients)
        first = pc.submit(offer, "sha256:a", Target.LIVE, offer_payload(packages[0]), "k1")
        with pytest.raises(InvalidState, match="ReadyToPublish"):
            pc.go_live(first.id)
        assert slow.stats()["promotes"].get(product_of(first), 0) == 0


class TestFaults:
    """Throttling and server errors are retried; a lost answer never makes a second submission."""

    def test_a_storm_of_429_and_5xx_converges_to_one_submission(
        self,
        emu: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(emu, tmp_path, clients)
        body = offer_payload(packages[0])
        emu.admin("faults", {"settings": ["throttle=0.3", "error=0.2", "retry_after=0"]})
        try:
            submission = None
            for _ in range(30):  # as passes of the reconciler would: look up, else submit
                try:
                    submission = pc.find("k1") or pc.submit(offer, "sha256:a", Target.LIVE,
                                                            body, "k1")  # fmt: skip
                    break
                except MarketplaceError as exc:
                    assert exc.transient, exc
        finally:
            emu.admin("faults", {"settings": []})
        assert submission is not None
        assert pc.api.http.retries > 0
        assert emu.stats()["submissions"][product_of(submission)] == 1
        wait_for(pc, submission, at_signoff)


class TestFindings:
    """Certification failures come back as findings with the report's link."""

    def test_certification_failure_has_findings_and_the_report_link(
        self,
        emu: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(emu, tmp_path, clients)
        body = offer_payload(packages[0], "eicar.zip")
        failed = wait_for(pc, pc.submit(offer, "sha256:e", Target.LIVE, body, "k1"), settled)
        assert failed.result is SubmissionResult.FAILED
        assert failed.stage(Stage.CERTIFICATION).state is StageState.FAILED
        assert failed.feedback, failed
        assert any("https://" in f.message or "http://" in f.message for f in failed.feedback)
        assert emu.stats()["promotes"].get(product_of(failed), 0) == 0


class TestOwnership:
    """Submissions made in the portal are never cancelled; our own are adopted after a crash."""

    def test_a_portal_submission_in_progress_makes_submit_wait(
        self,
        slow: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(slow, tmp_path, clients)
        first = pc.submit(offer, "sha256:a", Target.LIVE, offer_payload(packages[0]), "k1")
        pc.cancel(first.id)
        product = first.id.split("/")[0]
        slow.admin("portal-submit", {"productID": product})
        with pytest.raises(PortalSubmission, match="not by offerctl"):
            pc.submit(offer, "sha256:b", Target.LIVE, offer_payload(packages[0]), "k2")
        stats = slow.stats()
        assert stats["submissions"][product] - stats["portalSubmissions"][product] == 1

    def test_cancel_is_refused_for_a_submission_offerctl_did_not_make(
        self,
        slow: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(slow, tmp_path, clients)
        first = pc.submit(offer, "sha256:a", Target.LIVE, offer_payload(packages[0]), "k1")
        pc.cancel(first.id)
        other = pc_client(slow, tmp_path, clients, state="other-state.json")
        with pytest.raises(InvalidState, match="not made by offerctl"):
            other.cancel(first.id)


class TestDrift:
    """A portal edit of the draft is reported as drift, never blindly overwritten."""

    def test_a_portal_edit_of_the_listing_gives_drift_naming_the_field(
        self,
        emu: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(emu, tmp_path, clients)
        first = pc.submit(offer, "sha256:a", Target.PREVIEW, offer_payload(packages[0]), "k1")
        wait_for(pc, first, at_signoff)
        product = first.id.split("/")[0]
        emu.admin("portal-edit", {"productID": product, "module": "Listing",
                                  "changes": {"title": "Edited in the portal"}})  # fmt: skip
        changed = offer_payload(packages[0], changes={"listings.en-us.name": "Contoso App 2"})
        with pytest.raises(Drift) as caught:
            pc.submit(offer, "sha256:b", Target.PREVIEW, changed, "k2")
        assert "Listing.en-us.title" in caught.value.fields
        assert "Listing.en-us.title" in str(caught.value)
        assert emu.stats()["submissions"][product] == 1
        # A new commit after the drift was reported overrides it.
        newer = offer_payload(packages[0], changes={"listings.en-us.name": "Contoso App 3"})
        third = pc.submit(offer, "sha256:c", Target.PREVIEW, newer, "k3")
        assert third.id != first.id


class TestContract:
    """Every request the client sends, and every answer it reads, matches the v1 schemas."""

    def test_every_request_and_response_of_a_full_publish_follows_the_v1_schemas(
        self,
        emu: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(emu, tmp_path, clients)
        seen: list[tuple[str, str, bytes, int, bytes]] = []

        def record(response: httpx.Response) -> None:
            response.read()
            request = response.request
            seen.append((request.method, str(request.url), request.content,
                         response.status_code, response.content))  # fmt: skip

        pc.api.http._client.event_hooks["response"].append(record)
        first = pc.submit(offer, "sha256:a", Target.LIVE, offer_payload(packages[0]), "k1")
        pc.go_live(wait_for(pc, first, at_signoff).id)
        checked = 0
        for method, url, sent, status, answer in seen:
            if "/v1.0/ingestion/" not in url:
                continue  # the media bytes PUT to a fileSasUri
            path = pc_contract.api_path(url)
            wanted = pc_contract.request_document(method, path)
            if sent:
                assert wanted is not None, (method, path)
                pc_contract.check(wanted, json.loads(sent))
            got = pc_contract.response_document(method, path, status)
            if got is not None and answer.strip():
                pc_contract.check(got, json.loads(answer))
            checked += 1
        assert checked > 20
        assert {m for m, *_ in seen} >= {"GET", "PUT", "POST"}


class TestPackageUpload:
    """With only packageFile, the zip goes to the operator's container with a renewed SAS."""

    def test_an_expiring_sas_is_renewed_and_the_package_is_not_uploaded_again(
        self,
        azurite: Azurite,
        tmp_path: Path,
        offer: str,
        monkeypatch: pytest.MonkeyPatch,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        trust = {k: v for k, v in azurite.env().items()
                 if k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}  # fmt: skip
        for name, value in trust.items():
            monkeypatch.setenv(name, value)
        body = payload(spec({"technicalConfiguration.packageLocationUrl": None}))
        container = azurite.container_url("packages")
        short = BlobPackageStore(container, connection_string=azurite.connection_string,
                                 sas_days=10)  # fmt: skip
        renewing = BlobPackageStore(container, connection_string=azurite.connection_string)
        with emulator(tmp_path, env_extra=trust) as running:
            pc = pc_client(running, tmp_path, clients, package_store=short)
            first = wait_for(pc, pc.submit(offer, "sha256:a", Target.PREVIEW, body, "k1"),
                             at_signoff)  # fmt: skip
            assert first.result is SubmissionResult.PENDING, first.feedback  # the package was read
            product = product_of(first)
            uri = draft_package_uri(pc, product)
            assert "sig=" in uri and "spr=https" in uri and "sp=r" in uri
            assert timedelta(days=9) < days_left(uri) < timedelta(days=11)
            # Fewer than 30 days left: the next submission carries a fresh 45-day SAS.
            pc = pc_client(running, tmp_path, clients, package_store=renewing)
            # Waited for: one submission in progress per product, so the next one
            # can follow only once this one rests at sign-off (slow on a busy machine).
            wait_for(pc, pc.submit(offer, "sha256:b", Target.PREVIEW, body, "k2"), at_signoff)
            renewed = draft_package_uri(pc, product)
            assert days_left(renewed) >= timedelta(days=44)
            assert renewed.split("?")[0] == uri.split("?")[0]  # same blob: named by content
            assert short.uploads == 1 and renewing.uploads == 0
            # 45 days left: kept as it is, no new SAS.
            pc.submit(offer, "sha256:c", Target.PREVIEW, body, "k3")
            assert draft_package_uri(pc, product) == renewed


def days_left(uri: str) -> timedelta:
    expiry = sas_expiry(uri)
    assert expiry is not None, "the SAS has no expiry"
    return expiry - datetime.now(UTC)


def draft_package_uri(pc: PartnerCenterMarketplace, product: str) -> str:
    instance = pc.api.branch_instance(product, "Package")
    found = pc.api.by_instance(product, "packageConfigurations", instance)
    return str(found[0]["packageLocationUri"])


class TestPollingCost:
    """An in-flight submission costs one call per poll; a settled one none."""

    def test_polls_during_validation_cost_one_call_each(
        self,
        slow: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        running = pc_client(slow, tmp_path, clients)
        first = running.submit(offer, "sha256:a", Target.LIVE, offer_payload(packages[0]), "k1")
        running.get(first.id)
        before = running.api.calls
        for _ in range(3):
            running.get(first.id)
        assert running.api.calls - before == 3  # the workflow details only

    def test_polls_at_signoff_cost_one_call_and_a_live_submission_none(
        self,
        emu: Emulator,
        tmp_path: Path,
        packages: tuple[str, dict[str, bytes]],
        offer: str,
        clients: list[PartnerCenterMarketplace],
    ) -> None:
        pc = pc_client(emu, tmp_path, clients)
        body = offer_payload(packages[0])
        # Wait until Published/ReadyToPublish was read: the steady state at sign-off.
        ready = wait_for(pc, pc.submit(offer, "sha256:a", Target.LIVE, body, "k1"),
                         lambda s: bool(s.preview_url))  # fmt: skip
        before = pc.api.calls
        for _ in range(3):
            pc.get(ready.id)
        assert pc.api.calls - before == 3  # the submission only
        live = wait_for(pc, pc.go_live(ready.id), settled)
        before = pc.api.calls
        pc.get(live.id)
        assert pc.api.calls == before
