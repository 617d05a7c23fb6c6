"""The converge step without git: one offer's inputs, a marketplace, a clock -> its outcome.

Against the real simulated marketplace (through `Interposed`, which records the
effectful calls and can take an offer down); no repository anywhere.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from appsource_helpers import appsource_package
from market_helpers import Clock, Interposed

from controller.core import pipeline
from controller.core.generation import generation
from controller.core.model import (
    ConditionStatus,
    ConditionType,
    OfferStatus,
    Phase,
    SignOffVerdict,
    Target,
)
from controller.marketplace.api import MarketplaceError, OfferListing, OfferPayload, Submission
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


class Logged:
    """The simulated marketplace, logging every call (reads too) as (verb, argument)."""

    def __init__(self, inner: SimulatedMarketplace) -> None:
        self.inner = inner
        self.log: list[tuple[str, str]] = []

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        self.log.append(("submit", key))
        return self.inner.submit(offer, generation, target, payload, key)

    def find(self, key: str) -> Submission | None:
        self.log.append(("find", key))
        return self.inner.find(key)

    def get(self, submission_id: str) -> Submission:
        self.log.append(("get", submission_id))
        return self.inner.get(submission_id)

    def go_live(self, submission_id: str) -> Submission:
        self.log.append(("go_live", submission_id))
        return self.inner.go_live(submission_id)

    def cancel(self, submission_id: str) -> Submission:
        self.log.append(("cancel", submission_id))
        return self.inner.cancel(submission_id)

    def withdraw(self, offer: str) -> OfferListing:
        self.log.append(("withdraw", offer))
        return self.inner.withdraw(offer)

    def listing(self, offer: str) -> OfferListing:
        self.log.append(("listing", offer))
        return self.inner.listing(offer)


def test_a_round_asks_nothing_the_step_already_has_an_answer_for(
    tmp_path: Path, clock: Clock
) -> None:
    market = Logged(SimulatedMarketplace(tmp_path / "marketplace.db", clock=clock, seed=1))
    first, second = (pipeline.attempt_key(OFFER, GEN, n) for n in (1, 2))

    outcome = converge(inputs(), market, clock)

    assert market.log == [
        ("find", first),
        ("find", second),
        ("listing", OFFER),
        ("submit", first),
        # The submit answered for `first`, `second` was found missing a moment ago: only
        # the listing is read again.
        ("listing", OFFER),
    ]
    assert outcome.after is not None and outcome.after.submission is not None
    assert outcome.after.submission.idempotency_key == first
    # What the round decided from the submit's answer is what reading it back decides.
    market.log.clear()
    again = preview(inputs(last=outcome.after), market, clock)
    assert market.log == [("find", first), ("find", second), ("listing", OFFER)]
    assert again.after == outcome.after and again.actions == outcome.actions
    # A new step asks again: a key found missing is remembered within one step only.
    market.log.clear()
    converge(inputs(last=outcome.after), market, clock)
    assert market.log == [("find", first), ("find", second), ("listing", OFFER)]


def test_a_go_live_answer_is_not_read_again_by_id_or_key(tmp_path: Path, clock: Clock) -> None:
    market = Logged(SimulatedMarketplace(tmp_path / "marketplace.db", clock=clock, seed=1))
    # A package certification passes, so the submission comes to await sign-off.
    certifiable = OfferPayload(spec=PAYLOAD.spec, files={"package/p.zip": appsource_package()})
    gen = generation(certifiable.spec, offer=OFFER)
    signed = SignOffVerdict(valid=True, generation=gen, reason="SignOffAccepted", message="ok")
    live = OfferInputs(
        OFFER,
        last=None,
        desired=pipeline.Desired(Target.LIVE, gen),
        payload=certifiable,
        verdict=signed,
    )
    submitted = converge(live, market, clock)
    assert submitted.after is not None and submitted.after.submission is not None
    sub_id = submitted.after.submission.id
    clock.advance(days=30)  # past packaging: awaiting sign-off
    market.log.clear()

    went = converge(replace(live, last=submitted.after), market, clock)

    assert ("go_live", sub_id) in market.log
    after_go_live = market.log[market.log.index(("go_live", sub_id)) + 1 :]
    first = pipeline.attempt_key(OFFER, gen, 1)
    assert ("find", first) not in after_go_live and ("get", sub_id) not in after_go_live
    assert went.after is not None and went.after.phase is Phase.PUBLISHING
