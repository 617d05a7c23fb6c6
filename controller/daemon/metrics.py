"""The daemon's Prometheus metrics, on a registry of its own.

A dedicated `CollectorRegistry` (not the process-global one) means two
daemons in one test process, or a test and the daemon, never collide.
`InstrumentedMarketplace` counts marketplace calls by operation and outcome
without the reconcile pass knowing metrics exist.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Callable, Mapping
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from controller.core.model import Phase, Target
from controller.marketplace.api import (
    Marketplace,
    MarketplaceError,
    OfferListing,
    OfferPayload,
    Submission,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Passes take milliseconds on a small repo and many seconds with slow remotes.
PASS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

T = TypeVar("T")


class DaemonMetrics:
    """Every metric `offerctl run` exports; `render()` gives the exposition text."""

    def __init__(self, queue_depth: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.passes = Counter(
            "offerctl_passes",
            "Reconcile passes run, by outcome (ok, error).",
            ["outcome"],
            registry=r,
        )
        self.pass_duration = Histogram(
            "offerctl_pass_duration_seconds",
            "Wall time of one reconcile pass.",
            buckets=PASS_BUCKETS,
            registry=r,
        )
        self.offers = Gauge(
            "offerctl_offers", "Offers this daemon reconciles, by phase.", ["phase"], registry=r
        )
        self.marketplace_calls = Counter(
            "offerctl_marketplace_calls",
            "Marketplace calls, by operation and outcome (ok, transient, error).",
            ["operation", "outcome"],
            registry=r,
        )
        self.push_retries = Counter(
            "offerctl_push_retries", "Status pushes retried after the remote moved.", registry=r
        )
        self.offer_errors = Counter(
            "offerctl_offer_errors",
            "Offers whose part of a pass failed (retried with backoff).",
            registry=r,
        )
        self.triggers = Counter(
            "offerctl_triggers", "Work triggers received, by source.", ["source"], registry=r
        )
        self.queue_depth = Gauge(
            "offerctl_queue_depth", "Keys waiting in the work queue.", registry=r
        )
        if queue_depth is not None:
            self.queue_depth.set_function(queue_depth)
        self.last_success = Gauge(
            "offerctl_last_successful_pass_timestamp_seconds",
            "Unix time at which the last successful pass finished.",
            registry=r,
        )
        self.notifications = Counter(
            "offerctl_notifications",
            "Notifications by event kind and outcome (sent, failed, dropped, rate_limited, "
            "error, queue_full); one per target and try.",
            ["kind", "outcome"],
            registry=r,
        )
        self._phases: dict[str, str] = {}
        self._lock = threading.Lock()
        # Series exist from the start, so rate() and absent() alerts work before the first error.
        for outcome in ("ok", "error"):
            self.passes.labels(outcome=outcome)
        for phase in Phase:
            self.offers.labels(phase=phase.value).set(0)

    def record_phases(self, phases: Mapping[str, str], *, complete: bool) -> None:
        """Fold a pass's phases in; `complete` (a full pass) replaces the whole picture."""
        with self._lock:
            if complete:
                self._phases = dict(phases)
            else:
                self._phases.update(phases)
            counts = Tally(self._phases.values())
            for phase in set(counts) | {p.value for p in Phase}:
                self.offers.labels(phase=phase).set(counts.get(phase, 0))

    def record_marketplace_call(self, operation: str, outcome: str) -> None:
        self.marketplace_calls.labels(operation=operation, outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class InstrumentedMarketplace:
    """A Marketplace that counts each call's outcome, then behaves exactly like `inner`."""

    def __init__(self, inner: Marketplace, metrics: DaemonMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def _call(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            result = fn()
        except MarketplaceError as exc:
            outcome = "transient" if exc.transient else "error"
            self._metrics.record_marketplace_call(operation, outcome)
            raise
        except Exception:
            self._metrics.record_marketplace_call(operation, "error")
            raise
        self._metrics.record_marketplace_call(operation, "ok")
        return result

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        return self._call(
            "submit", lambda: self._inner.submit(offer, generation, target, payload, key)
        )

    def find(self, key: str) -> Submission | None:
        return self._call("find", lambda: self._inner.find(key))

    def get(self, submission_id: str) -> Submission:
        return self._call("get", lambda: self._inner.get(submission_id))

    def go_live(self, submission_id: str) -> Submission:
        return self._call("go_live", lambda: self._inner.go_live(submission_id))

    def cancel(self, submission_id: str) -> Submission:
        return self._call("cancel", lambda: self._inner.cancel(submission_id))

    def withdraw(self, offer: str) -> OfferListing:
        return self._call("withdraw", lambda: self._inner.withdraw(offer))

    def listing(self, offer: str) -> OfferListing:
        return self._call("listing", lambda: self._inner.listing(offer))
