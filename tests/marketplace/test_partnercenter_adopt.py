"""A client without a record of a submission adopts it from Partner Center (shard handover).

Two `PartnerCenterMarketplace`s with separate state files stand for two
shards' clones; both talk real HTTP to one emulator subprocess.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from marketplace_helpers import payload, spec
from pc_helpers import Emulator, client, emulator, file_server

from controller.core.model import Stage, StageState, Target
from controller.marketplace.api import Submission, SubmissionResult, idempotency_key
from controller.marketplace.partnercenter import PartnerCenterMarketplace
from controller.marketplace.partnercenter.adopt import adoptable, offer_of_key

pytestmark = pytest.mark.slow

SAS_VAR = "CONTOSO_PACKAGE_SAS"
SAS = "sv=2024-01-01&sp=r&sig=c2VjcmV0LXNhcy1zaWduYXR1cmU"
GEN = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def package_url() -> Iterator[str]:
    from marketplace_helpers import clean_package

    with file_server({"app.zip": clean_package()}) as url:
        yield url


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator(tmp_path_factory.mktemp("pc-adopt-fast")) as running:
        yield running


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator(tmp_path_factory.mktemp("pc-adopt-slow"), time_scale="1") as running:
        yield running


@pytest.fixture
def shards(tmp_path: Path) -> Iterator[list[PartnerCenterMarketplace]]:
    made: list[PartnerCenterMarketplace] = []
    yield made
    for pc in made:
        pc.close()


def shard(emu: Emulator, tmp_path: Path, name: str,
          made: list[PartnerCenterMarketplace]) -> PartnerCenterMarketplace:  # fmt: skip
    pc = client(emu, tmp_path, env={SAS_VAR: SAS}, state=f"{name}.json")
    made.append(pc)
    return pc


def body(package_url: str) -> Any:
    return payload(spec({"technicalConfiguration.packageLocationUrl": f"{package_url}/app.zip",
                         "technicalConfiguration.sasTokenSecretRef": SAS_VAR}))  # fmt: skip


def made_by_offerctl(emu: Emulator, submission: Submission) -> int:
    stats = emu.stats()
    product = submission.id.split("/")[0]
    return int(stats["submissions"][product]) - int(stats["portalSubmissions"].get(product, 0))


def test_an_in_flight_submission_is_adopted_by_a_client_without_its_record(
    slow: Emulator, tmp_path: Path, package_url: str, shards: list[PartnerCenterMarketplace]
) -> None:
    offer = "t-adopt-in-flight"
    key = idempotency_key(offer, GEN)
    first = shard(slow, tmp_path, "a", shards).submit(offer, GEN, Target.LIVE, body(package_url),
                                                     key)  # fmt: skip
    assert first.result is SubmissionResult.PENDING
    other = shard(slow, tmp_path, "b", shards)
    found = other.find(key)
    assert found is not None and found.id == first.id
    assert (found.offer, found.generation, found.idempotency_key) == (offer, GEN, key)
    assert found.result is SubmissionResult.PENDING
    # Asked to submit the same key (what a reconciler without a record decides): the same one.
    again = other.submit(offer, GEN, Target.LIVE, body(package_url), key)
    assert again.id == first.id
    assert other.find(f"{key}#2") is None  # no later attempt, and no further listing
    assert made_by_offerctl(slow, first) == 1
    # A restart of b knows the submission from its own record now: an offer it has
    # submitted costs no lookup for keys it does not know.
    restarted = shard(slow, tmp_path, "b", shards)
    assert restarted.state.attempt(key) is not None
    calls = restarted.api.calls
    assert restarted.find(f"{key}#2") is None
    assert restarted.api.calls == calls
    # Without asking `find` first, a submit of the key adopts it too: the listing submit
    # makes before creating anything finds the key, and nothing is written or made.
    third = shard(slow, tmp_path, "c", shards)
    assert third.submit(offer, GEN, Target.LIVE, body(package_url), key).id == first.id
    assert made_by_offerctl(slow, first) == 1


def test_a_submission_awaiting_signoff_is_adopted_then_promoted_by_the_new_owner(
    fast: Emulator, tmp_path: Path, package_url: str, shards: list[PartnerCenterMarketplace]
) -> None:
    offer = "t-adopt-at-signoff"
    key = idempotency_key(offer, GEN)
    old = shard(fast, tmp_path, "a", shards)
    first = old.submit(offer, GEN, Target.LIVE, body(package_url), key)
    while not first.preview_url:
        first = old.get(first.id)
    new = shard(fast, tmp_path, "b", shards)
    found = new.find(key)
    assert found is not None and found.id == first.id
    assert found.stage(Stage.SIGNOFF).state is StageState.RUNNING
    assert new.submit(offer, GEN, Target.LIVE, body(package_url), key).id == first.id
    live = new.go_live(found.id)
    while live.result is SubmissionResult.PENDING:
        live = new.get(live.id)
    assert live.result is SubmissionResult.SUCCEEDED
    assert made_by_offerctl(fast, first) == 1
    assert sum(fast.stats()["promotes"].values()) >= 1
    # A third owner adopts the live submission as settled and promoted: nothing to do again.
    third = shard(fast, tmp_path, "c", shards)
    settled = third.find(key)
    assert settled is not None and settled.result is SubmissionResult.SUCCEEDED
    assert third.listing(offer).live_generation == GEN


def test_keys_of_another_shape_or_offer_are_never_adopted() -> None:
    assert offer_of_key("k1") == ""
    assert offer_of_key("x'y@sha256:1") == ""  # never put into an OData filter
    assert offer_of_key("contoso-app@sha256:1#2") == "contoso-app"
    items = [
        {"id": "1", "extendedProperties": [{"type": "offerctlIdempotencyKey",
                                            "value": "other-offer@sha256:1"}]},
        {"id": "2"},  # made in the portal: no key
        {"id": "3", "state": "Published", "substate": "InStore", "releaseNumber": 3,
         "extendedProperties": [{"type": "offerctlIdempotencyKey", "value": "my-offer@g#2"}]},
        {"id": "4", "extendedProperties": [{"type": "offerctlIdempotencyKey",
                                            "value": "my-offer@g"}]},
    ]  # fmt: skip
    got = adoptable("my-offer", "p1", items, known=["my-offer@g"])
    assert [(a.key, a.submission, a.generation, a.promoted, a.target) for a in got] == [
        ("my-offer@g#2", "3", "g", True, "live")
    ]
