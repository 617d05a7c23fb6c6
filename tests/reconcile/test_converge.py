"""The converge step without git: one offer's inputs, a marketplace, a clock -> its outcome.

Against the real simulated marketplace (through `Interposed`, which records the
effectful calls and can take an offer down); no repository anywhere.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from market_helpers import Clock, Interposed

from controller.core import pipeline
from controller.core.generation import generation
from controller.core.model import ConditionStatus, ConditionType, OfferStatus, Phase, Target
from controller.marketplace.api import MarketplaceError, OfferPayload
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.converge import act, converge, preview
from controller.reconcile.types import OfferInputs

OFFER = "contoso-converge"


def _payload() -> OfferPayload:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("solution.xml", "<solution/>")
    spec = {
        "type": "dynamics-365-customer-engagement",
        "listings": {
            "en-us": {
                "name": "Contoso Converge",
                "searchResultsSummary": "A test offer",
                "description": "<p>Release 1</p>",
            }
        },
        "properties": {"legal": {"privacyPolicyUrl": "https://contoso.example/privacy"}},
        "technicalConfiguration": {"packageFile": "package/p.zip"},
    }
    return OfferPayload(spec=spec, files={"package/p.zip": buffer.getvalue()})


PAYLOAD = _payload()
GEN = generation(PAYLOAD.spec, offer=OFFER)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def market(tmp_path: Path, clock: Clock) -> Interposed:
    return Interposed(SimulatedMarketplace(tmp_path / "marketplace.db", clock=clock, seed=1))


def inputs(last: OfferStatus | None = None) -> OfferInputs:
    return OfferInputs(
        OFFER, last=last, desired=pipeline.Desired(Target.PREVIEW, GEN), payload=PAYLOAD
    )


def test_a_round_that_finds_nothing_new_hands_back_the_records_own_status(
    market: Interposed, clock: Clock
) -> None:
    first = converge(inputs(), market, clock)
    assert first.after is not None
    record = pipeline.remove_condition(first.after, ConditionType.READY)  # a copy
    settled = converge(inputs(last=first.after), market, clock)
    assert settled.after is first.after, "equal to the record: that very object"
    moved = converge(inputs(last=record), market, clock)
    assert moved.after is not record and moved.after == first.after


def test_converge_submits_once_and_the_next_pass_follows_the_record(
    market: Interposed, clock: Clock
) -> None:
    first = converge(inputs(), market, clock)

    assert market.submits == [OFFER]
    assert first.error == "" and first.in_flight
    assert first.after is not None and first.after.phase is Phase.VALIDATING
    assert first.after.submission is not None and first.after.submission.generation == GEN

    clock.advance(minutes=1)
    second = converge(inputs(last=first.after), market, clock)
    assert market.submits == [OFFER]  # followed, not resubmitted
    assert second.after is not None and second.after.submission == first.after.submission


def test_preview_decides_the_submit_and_makes_no_effectful_call(
    market: Interposed, clock: Clock
) -> None:
    planned = preview(inputs(), market, clock)

    assert [type(a) for a in planned.actions if not isinstance(a, pipeline.WaitUntil)] == [
        pipeline.Submit
    ]
    assert market.calls == []
    assert market.inner.find(pipeline.attempt_key(OFFER, GEN, 1)) is None


def test_an_outage_flags_the_condition_and_keeps_the_offer_polled(
    market: Interposed, clock: Clock
) -> None:
    market.down.add(OFFER)

    outcome = converge(inputs(), market, clock)

    assert outcome.error == "service unavailable" and outcome.in_flight
    assert outcome.after is not None
    held = outcome.after.condition(ConditionType.MARKETPLACE_ERROR)
    assert held is not None and held.status is ConditionStatus.TRUE
    assert held.reason == "MarketplaceUnavailable"
    assert market.submits == []


def test_act_refuses_a_go_live_for_a_submission_the_offer_does_not_own(
    market: Interposed,
) -> None:
    with pytest.raises(MarketplaceError, match="does not list as this offer's"):
        act(market, OFFER, [pipeline.GoLive("sub-of-another-offer")], PAYLOAD, frozenset())
    assert market.calls == []


def test_the_step_and_the_pass_types_load_no_git() -> None:
    """What the hypothesis test and `planning` import reaches neither GitPython nor git code."""
    code = (
        "import sys\n"
        "import controller.reconcile.converge, controller.reconcile.types\n"
        "import controller.core.planning\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'git'"
        " or m.startswith('controller.git')))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"
