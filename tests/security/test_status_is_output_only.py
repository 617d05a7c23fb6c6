"""status.yaml is output only: a copied, hand-written or forged one changes nothing but itself.

Issue 10. Each test is one way someone who can only push to the offers
repository could try to steer another offer's submission by writing a
status.yaml, driven through `offerctl reconcile` on a real git repository
against the simulated marketplace. Before the fix the controller read the
submission id back from status.yaml and acted on it.
"""

from __future__ import annotations

import pytest
import yaml
from git_helpers import GitRepos
from status_world import (
    FAST,
    NONE_POLICY,
    REAL,
    OffersWorld,
    condition,
    offer_files,
    signoff_yaml,
)

from controller.core.model import Stage, StageState
from controller.marketplace.api import SubmissionResult

pytestmark = pytest.mark.slow  # several reconcile passes through the CLI each


def _copied_status(world: OffersWorld, original: str, copy: str) -> str:
    """The original's committed status.yaml, as if it were the copy's."""
    return world.status_text(original).replace(f"offer: {original}\n", f"offer: {copy}\n", 1)


class TestACopiedFolderCannotSteerTheOriginal:
    """A folder copied from another offer, with that offer's status, acts only on itself."""

    def test_signing_off_the_copy_does_not_send_the_original_live(self, gitrepos: GitRepos) -> None:
        world = OffersWorld(
            gitrepos, {"publishing.yaml": NONE_POLICY, **offer_files("alpha-offer", "live")}
        )
        world.reconcile_until("alpha-offer", "AwaitingSignOff", FAST)
        original = world.status("alpha-offer")["submission"]["id"]

        # The attacker copies the folder (same spec) with the original's status.yaml ...
        clone = offer_files("contoso-clone", "live")
        clone["offers/contoso-clone/status.yaml"] = _copied_status(
            world, "alpha-offer", "contoso-clone"
        ).encode()
        world.commit(clone, "Add contoso-clone")
        world.reconcile(FAST)
        # ... and gets a sign-off of the copy's generation that counts (provider none).
        copy_generation = world.status("contoso-clone")["observedGeneration"]
        world.commit(
            {"offers/contoso-clone/signoff.yaml": signoff_yaml("contoso-clone", copy_generation)},
            "Sign off contoso-clone",
        )
        world.reconcile(FAST)  # on the old code, this pass sent the original live
        world.reconcile(FAST)

        signoff = world.submission(original).stage(Stage.SIGNOFF)
        assert signoff.state is StageState.RUNNING  # nobody pressed Go Live on it
        assert world.live_generation("alpha-offer") == ""
        alpha = world.status("alpha-offer")
        assert alpha["phase"] == "AwaitingSignOff"
        assert alpha["submission"]["id"] == original
        assert condition(alpha, "SignedOff")["status"] == "False"
        assert world.status("contoso-clone")["submission"]["id"] != original
        assert copy_generation != alpha["observedGeneration"]  # the id is in the generation

    def test_a_copy_naming_an_in_flight_submission_does_not_cancel_it(
        self, gitrepos: GitRepos
    ) -> None:
        world = OffersWorld(gitrepos, offer_files("victim-offer", "preview"))
        world.reconcile(REAL)  # Validation takes 15 minutes at this scale: in flight throughout
        victim = world.status("victim-offer")
        assert victim["phase"] == "Validating"

        forged = yaml.safe_load(_copied_status(world, "victim-offer", "mallory-offer"))
        forged["observedGeneration"] = "sha256:" + "0" * 64  # an "older generation" in flight
        forged["submission"]["generation"] = forged["observedGeneration"]
        # A spec of its own: on the old code, the victim's submission was then an
        # "older generation still in flight" of mallory-offer's, to be cancelled.
        mallory = offer_files("mallory-offer", "preview", version="6.6")
        mallory["offers/mallory-offer/status.yaml"] = yaml.safe_dump(forged).encode()
        world.commit(mallory, "Add mallory-offer")
        world.reconcile(REAL)
        world.reconcile(REAL)

        submitted = world.submission(victim["submission"]["id"])
        assert submitted.result is SubmissionResult.PENDING  # not cancelled
        after = world.status("victim-offer")
        assert after["phase"] == "Validating"
        assert after["submission"] == victim["submission"]  # no resubmission either
        assert world.status("mallory-offer")["submission"]["id"] != victim["submission"]["id"]


class TestAForgedStatusIsRewrittenNotObeyed:
    """A status.yaml edited to claim progress or another submission is overwritten, once."""

    def test_a_status_claiming_going_live_with_another_offers_submission_changes_nothing(
        self, gitrepos: GitRepos
    ) -> None:
        world = OffersWorld(
            gitrepos,
            {
                "publishing.yaml": NONE_POLICY,
                **offer_files("alpha-offer", "live"),
                **offer_files("beta-offer", "live"),
            },
        )
        world.reconcile_until("alpha-offer", "AwaitingSignOff", FAST)
        world.reconcile_until("beta-offer", "AwaitingSignOff", FAST)
        alpha, beta = world.status("alpha-offer"), world.status("beta-offer")

        forged = dict(alpha)
        forged["phase"] = "GoingLive"
        forged["submission"] = beta["submission"]
        forged["conditions"] = [
            {**c, "status": "True"} if c["type"] in {"SignedOff", "Ready"} else c
            for c in alpha["conditions"]
        ]
        world.commit(
            {"offers/alpha-offer/status.yaml": yaml.safe_dump(forged, sort_keys=False)},
            "It is going live, trust me",
        )
        world.reconcile(FAST)

        for offer, seen in (("alpha-offer", alpha), ("beta-offer", beta)):
            submitted = world.submission(seen["submission"]["id"])
            assert submitted.stage(Stage.SIGNOFF).state is StageState.RUNNING
            assert world.live_generation(offer) == ""
        rewritten = world.status("alpha-offer")
        assert rewritten["phase"] == "AwaitingSignOff"
        assert rewritten["submission"] == alpha["submission"]
        assert condition(rewritten, "SignedOff")["status"] == "False"
        assert world.status("beta-offer") == beta
        head = world.head()
        world.reconcile(FAST)
        assert world.head() == head  # rewritten once, then stable
