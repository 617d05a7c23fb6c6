"""/metrics: the daemon's own registry, with the metrics issue #6 lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from daemon_helpers import RecordingReconcile, http, running, wait_until
from prometheus_client.parser import text_string_to_metric_families

from controller.daemon.loop import Daemon, DaemonConfig, PassOutcome, PassReport
from controller.daemon.metrics import DaemonMetrics, InstrumentedMarketplace
from controller.marketplace.api import MarketplaceError, NotFound, OfferListing

FAST = DaemonConfig(heartbeat=0.2, debounce=0.05)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_the_metrics_endpoint_reports_passes_phases_and_queue() -> None:
    def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
        if offers is None:
            return PassReport(
                phases={"a": "Live", "b": "Certifying", "c": "Certifying"},
                push_retries=2,
                committed=True,
            )
        return PassReport(phases={"b": "Packaging"})

    reconcile = RecordingReconcile(script)
    daemon = Daemon(reconcile, config=FAST, listen=("127.0.0.1", 0))
    with running(daemon):
        reconcile.wait_for(1)
        daemon.enqueue(["b"], "watch")
        reconcile.wait_for(2)
        daemon.enqueue(["later"], "watch", delay=60)
        wait_until(lambda: daemon.metrics.passes.labels(outcome="ok")._value.get() == 2)
        address = daemon.http_address
        assert address is not None
        status, text = http("GET", f"http://127.0.0.1:{address[1]}/metrics")
    assert status == 200
    got = samples(text)
    assert got[("offerctl_passes_total", (("outcome", "ok"),))] == 2
    assert got[("offerctl_pass_duration_seconds_count", ())] == 2
    assert got[("offerctl_offers", (("phase", "Live"),))] == 1
    assert got[("offerctl_offers", (("phase", "Certifying"),))] == 1
    assert got[("offerctl_offers", (("phase", "Packaging"),))] == 1
    assert got[("offerctl_offers", (("phase", "Rejected"),))] == 0  # every phase is present
    assert got[("offerctl_push_retries_total", ())] == 2
    assert got[("offerctl_queue_depth", ())] == 1
    assert got[("offerctl_triggers_total", (("source", "watch"),))] == 2
    last = got[("offerctl_last_successful_pass_timestamp_seconds", ())]
    assert abs(last - datetime.now(UTC).timestamp()) < 60


def test_a_full_pass_replaces_the_phase_picture() -> None:
    metrics = DaemonMetrics()
    metrics.record_phases({"a": "Live", "b": "Live"}, complete=True)
    metrics.record_phases({"a": "Live"}, complete=True)  # b's manifest was deleted
    got = samples(metrics.render().decode())
    assert got[("offerctl_offers", (("phase", "Live"),))] == 1


def test_two_daemons_in_one_process_do_not_share_metrics() -> None:
    first, second = DaemonMetrics(), DaemonMetrics()
    first.passes.labels(outcome="ok").inc()
    assert samples(second.render().decode())[("offerctl_passes_total", (("outcome", "ok"),))] == 0


class Flaky:
    """A marketplace whose listing call fails as told; nothing else is used here."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def listing(self, offer: str) -> OfferListing:
        if self.error is not None:
            raise self.error
        return OfferListing(offer=offer)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "ok"),
        (MarketplaceError("throttled", transient=True, retry_after=1.0), "transient"),
        (NotFound("no such offer"), "error"),
        (OSError("connection reset"), "error"),
    ],
)
def test_marketplace_calls_are_counted_by_outcome(error: Exception | None, outcome: str) -> None:
    metrics = DaemonMetrics()
    market: Any = InstrumentedMarketplace(Flaky(error), metrics)  # type: ignore[arg-type]
    if error is None:
        assert market.listing("a") == OfferListing(offer="a")
    else:
        with pytest.raises(type(error)):
            market.listing("a")
    got = samples(metrics.render().decode())
    key = ("offerctl_marketplace_calls_total", (("operation", "listing"), ("outcome", outcome)))
    assert got[key] == 1
