"""The controller's own state is the only source of what it submitted; losing it is safe.

A controller that lost its state (a new machine, a fresh clone against the
same marketplace) must neither submit again nor take a status.yaml's word
for anything: it finds the offer's submissions in the marketplace by the
idempotency keys the marketplace binds to the offer.
"""

from __future__ import annotations

import shutil

import pytest
import yaml
from git_helpers import GitRepos
from status_world import REAL, OffersWorld, offer_files

from controller.core.pipeline import attempt_key
from controller.marketplace.api import SubmissionResult
from controller.marketplace.simulated import SimulatedMarketplace

pytestmark = pytest.mark.slow  # several reconcile passes through the CLI each

OFFER = "victim-offer"
MANIFEST = f"offers/{OFFER}/offer.yaml"


def _lose_controller_state(world: OffersWorld) -> None:
    """What a new machine has: the marketplace, but none of the controller's own files."""
    private = world.repo / ".git" / "offerctl"
    for name in ("records", "state"):
        shutil.rmtree(private / name, ignore_errors=True)
    for ref in ("refs/offerctl",):
        shutil.rmtree(world.repo / ".git" / ref, ignore_errors=True)


def _market(world: OffersWorld) -> SimulatedMarketplace:
    return SimulatedMarketplace(world.repo / ".git/offerctl/marketplace.sqlite3", time_scale=1.0)


def _retarget(world: OffersWorld, target: str) -> None:
    text = (world.repo / MANIFEST).read_text()
    text = text.replace("  target: preview", f"  target: {target}", 1)
    text = text.replace("  target: draft", f"  target: {target}", 1)
    world.commit({MANIFEST: text}, f"Target {target}")
    world.reconcile(REAL)


def test_lost_state_neither_resubmits_nor_obeys_a_hand_edited_status(
    gitrepos: GitRepos,
) -> None:
    world = OffersWorld(gitrepos, offer_files(OFFER, "preview"))
    world.reconcile(REAL)  # Validation takes 15 minutes at this scale
    first = world.status(OFFER)
    assert first["phase"] == "Validating"
    _lose_controller_state(world)
    edited = dict(first)
    edited["submission"] = {**first["submission"], "id": "sub-forged"}
    world.commit({f"offers/{OFFER}/status.yaml": yaml.safe_dump(edited)}, "Hand edit")

    world.reconcile(REAL)

    again = world.status(OFFER)
    assert again["submission"] == first["submission"]  # found by key, not by the edit
    assert again["phase"] == "Validating"
    generation = first["observedGeneration"]
    assert _market(world).find(attempt_key(OFFER, generation, 2)) is None  # not submitted again


def test_lost_state_follows_the_latest_attempt_of_a_generation(gitrepos: GitRepos) -> None:
    world = OffersWorld(gitrepos, offer_files(OFFER, "preview"))
    world.reconcile(REAL)
    for target in ("draft", "preview", "draft", "preview"):  # cancel, submit again, twice
        _retarget(world, target)
    latest = world.status(OFFER)["submission"]
    generation = world.status(OFFER)["observedGeneration"]
    assert latest["idempotencyKey"] == attempt_key(OFFER, generation, 3)
    _lose_controller_state(world)

    world.reconcile(REAL)

    assert world.status(OFFER)["submission"] == latest
    market = _market(world)
    assert market.find(attempt_key(OFFER, generation, 4)) is None
    assert market.get(latest["id"]).result is SubmissionResult.PENDING
