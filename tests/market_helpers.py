"""Test helpers around the real simulated marketplace: a hand-moved clock, and a
pass-through that records the controller's effectful calls, can make the
marketplace fail for chosen offers, and can run a hook "meanwhile".

Nothing here fakes the marketplace: every call still reaches SimulatedMarketplace.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from controller.core.model import Target
from controller.marketplace.api import (
    MarketplaceError,
    OfferListing,
    OfferPayload,
    Submission,
)
from controller.marketplace.simulated import SimulatedMarketplace

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


class Clock:
    """A clock the test sets by hand, forwards or backwards (shared by market and reconciler)."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Interposed:
    """The simulated marketplace, seen through a test's hands.

    - `calls`: every effectful call that went through, as (verb, offer) — for
      cancel, (verb, submission id) — in order;
    - `down`: offers for which every call fails with a transient `message`;
    - `before_listing`: a hook run once, before the next listing call (a person
      pushes between the controller's fetch and its push).
    """

    def __init__(self, inner: SimulatedMarketplace, message: str = "service unavailable") -> None:
        self.inner = inner
        self.message = message
        self.down: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.before_listing: Callable[[], None] | None = None

    @property
    def submits(self) -> list[str]:
        return [offer for verb, offer in self.calls if verb == "submit"]

    def did(self, verb: str, offer: str) -> bool:
        return (verb, offer) in self.calls

    def _check(self, offer: str) -> None:
        if offer in self.down:
            raise MarketplaceError(self.message, transient=True)

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        self._check(offer)
        self.calls.append(("submit", offer))
        return self.inner.submit(offer, generation, target, payload, key)

    def find(self, key: str) -> Submission | None:
        self._check(key.split("@", 1)[0])
        return self.inner.find(key)

    def get(self, submission_id: str) -> Submission:
        return self.inner.get(submission_id)

    def go_live(self, submission_id: str) -> Submission:
        submission = self.inner.go_live(submission_id)
        self.calls.append(("go_live", submission.offer))
        return submission

    def cancel(self, submission_id: str) -> Submission:
        self.calls.append(("cancel", submission_id))
        return self.inner.cancel(submission_id)

    def withdraw(self, offer: str) -> OfferListing:
        self._check(offer)
        self.calls.append(("withdraw", offer))
        return self.inner.withdraw(offer)

    def listing(self, offer: str) -> OfferListing:
        if self.before_listing is not None:
            hook, self.before_listing = self.before_listing, None
            hook()
        self._check(offer)
        return self.inner.listing(offer)
