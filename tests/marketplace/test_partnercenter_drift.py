"""Drift of a resting offer's draft, seen without a new commit, against the emulator subprocess.

A portal edit after offerctl's last submission is found by the drift check
(a few reads of the draft at most once per drift interval), remembered, told
on every pass at no cost, and cleared by the next submission of a new
generation. Offers being polled are never drift-checked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from marketplace_helpers import clean_package, payload, spec
from pc_helpers import FAST_RETRIES, TOKEN, Emulator, emulator, file_server

from controller.core.model import Target
from controller.marketplace.api import Submission, SubmissionResult
from controller.marketplace.partnercenter import PartnerCenterMarketplace, open_partnercenter
from controller.marketplace.partnercenter.client import DEFAULT_DRIFT_INTERVAL

pytestmark = pytest.mark.slow  # an emulator subprocess for the module

SAS_VAR = "CONTOSO_PACKAGE_SAS"
SAS = "sv=2024-01-01&sp=r&sig=c2VjcmV0LXNhcy1zaWduYXR1cmU"
DRAFT_READS = 8  # the four branches and the four draft modules


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator(tmp_path_factory.mktemp("pc-drift")) as running:
        yield running


@pytest.fixture
def package_url() -> Iterator[str]:
    with file_server({"app.zip": clean_package()}) as url:
        yield url


@pytest.fixture
def offer(request: pytest.FixtureRequest) -> str:
    return f"d-{request.node.name.removeprefix('test_').replace('_', '-')}"[:50].rstrip("-")


@pytest.fixture
def made() -> Iterator[list[PartnerCenterMarketplace]]:
    clients: list[PartnerCenterMarketplace] = []
    yield clients
    for pc in clients:
        pc.close()


def open_pc(emu: Emulator, tmp_path: Path, made: list[PartnerCenterMarketplace], clock: Clock,
            **env: str) -> PartnerCenterMarketplace:  # fmt: skip
    pc = open_partnercenter(
        f"partnercenter+{emu.url}", repo_git_dir=None, poll_interval=0.0, policy=FAST_RETRIES,
        clock=clock, env={"OFFERCTL_PARTNERCENTER_TOKEN": TOKEN, SAS_VAR: SAS,
                          "OFFERCTL_PARTNERCENTER_STATE": str(tmp_path / "pc-state.json"), **env},
    )  # fmt: skip
    made.append(pc)
    return pc


def body(package_url: str, **changes: Any) -> Any:
    given = {"technicalConfiguration.packageLocationUrl": f"{package_url}/app.zip",
             "technicalConfiguration.sasTokenSecretRef": SAS_VAR}  # fmt: skip
    return payload(spec({**given, **changes}))


def at_preview(pc: PartnerCenterMarketplace, submission: Submission) -> Submission:
    deadline = time.monotonic() + 30
    while not submission.preview_url and submission.result is SubmissionResult.PENDING:
        assert time.monotonic() < deadline, submission
        time.sleep(0.05)
        submission = pc.get(submission.id)
    assert submission.preview_url, submission
    return submission


def calls_of(pc: PartnerCenterMarketplace, offer: str) -> tuple[str, int]:
    before = pc.api.calls
    drift = pc.listing(offer).drift
    return drift, pc.api.calls - before


def portal_edit(emu: Emulator, product: str, module: str, changes: dict[str, Any]) -> None:
    emu.admin("portal-edit", {"productID": product, "module": module, "changes": changes})


def test_a_portal_edit_is_told_within_one_drift_interval_and_remembered_at_no_cost(
    emu: Emulator, tmp_path: Path, made: list[PartnerCenterMarketplace], offer: str,
    package_url: str,
) -> None:  # fmt: skip
    clock = Clock()
    pc = open_pc(emu, tmp_path, made, clock)
    assert pc.drift_interval == DEFAULT_DRIFT_INTERVAL
    ready = at_preview(pc, pc.submit(offer, "sha256:a", Target.PREVIEW, body(package_url), "k1"))
    product = ready.id.split("/")[0]
    assert calls_of(pc, offer) == ("", 0)  # the submission compared the draft a moment ago
    portal_edit(emu, product, "Property", {"appVersion": "9.9.9"})
    clock.now += timedelta(seconds=DEFAULT_DRIFT_INTERVAL - 1)
    assert calls_of(pc, offer) == ("", 0)  # within the interval: no call, nothing known yet
    clock.now += timedelta(seconds=1)
    drift, calls = calls_of(pc, offer)
    assert "Property.appVersion" in drift and "sha256:a" in drift
    assert calls == DRAFT_READS
    assert calls_of(pc, offer) == (drift, 0)  # remembered: told again at no cost
    # Another process (a one-shot `offerctl reconcile`) reads the same record.
    again = open_pc(emu, tmp_path, made, clock)
    assert calls_of(again, offer) == (drift, 0)
    # The portal edit stays: no call changed the draft back.
    remote = pc.remote_offer(offer)
    assert remote is not None and remote.documents["Property"]["appVersion"] == "9.9.9"


def test_an_undrifted_draft_stays_quiet_and_a_new_generation_clears_a_drift(
    emu: Emulator, tmp_path: Path, made: list[PartnerCenterMarketplace], offer: str,
    package_url: str,
) -> None:  # fmt: skip
    clock = Clock()
    pc = open_pc(emu, tmp_path, made, clock, OFFERCTL_DRIFT_INTERVAL="0")
    ready = at_preview(pc, pc.submit(offer, "sha256:a", Target.PREVIEW, body(package_url), "k1"))
    product = ready.id.split("/")[0]
    assert calls_of(pc, offer) == ("", DRAFT_READS)  # every pass at interval 0: still no drift
    portal_edit(emu, product, "Listing", {"title": "Edited in the portal"})
    drift, _ = calls_of(pc, offer)
    assert "Listing.en-us.title" in drift
    # A new commit overwrites the portal's edit (the Drift message says so) and clears it.
    newer = pc.submit(
        offer,
        "sha256:b",
        Target.PREVIEW,
        body(package_url, **{"listings.en-us.name": "Contoso Renamed"}),
        "k2",
    )
    at_preview(pc, newer)
    assert calls_of(pc, offer)[0] == ""
    remote = pc.remote_offer(offer)
    assert remote is not None and remote.documents["Listing.en-us"]["title"] == "Contoso Renamed"


def test_an_offer_in_flight_is_never_drift_checked(
    tmp_path: Path, made: list[PartnerCenterMarketplace], offer: str, package_url: str,
) -> None:  # fmt: skip
    with emulator(tmp_path, time_scale="1") as slow:  # stays in progress
        clock = Clock()
        pc = open_pc(slow, tmp_path, made, clock, OFFERCTL_DRIFT_INTERVAL="0")
        first = pc.submit(offer, "sha256:a", Target.PREVIEW, body(package_url), "k1")
        pc.get(first.id)
        assert pc.get(first.id).result is SubmissionResult.PENDING
        clock.now += timedelta(days=1)
        assert calls_of(pc, offer) == ("", 0)
