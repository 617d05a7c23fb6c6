"""The simulated marketplace's store: one kept SQLite connection vs one per call.

A reconcile pass makes about six marketplace calls per offer. This replays that
mix (find, submit, get, listing, find, get) for N offers twice in the same run,
each on a fresh database: once on `SimulatedMarketplace` as shipped (one
connection per instance), once on a subclass that opens and closes a connection
around every call, as the store did before. Prints calls per second of each
and the ratio; judged on CPU time (the commits' fsyncs are wall time both pay).

Goal: the kept connection at least 3x cheaper per call in CPU.

    python bench/bench_store.py [--offers N]
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from controller.core.model import Target  # noqa: E402
from controller.marketplace.api import OfferPayload, idempotency_key  # noqa: E402
from controller.marketplace.simulated import SimulatedMarketplace  # noqa: E402

GOAL_RATIO = 3.0
CALLS_PER_OFFER = 6
GENERATION = "sha256:" + "b" * 64


class PerCallConnection(SimulatedMarketplace):
    """The store as it was: a connection opened and closed around every call."""

    @contextlib.contextmanager
    def _transaction(self, begin: str, commit: str) -> Iterator[sqlite3.Connection]:
        try:
            with super()._transaction(begin, commit) as db:
                yield db
        finally:
            with self._db_lock:
                self._drop_connection()


def _payload(offer: str) -> OfferPayload:
    # Small on purpose: certification runs in both arms alike and is not the store.
    return OfferPayload(spec={"listing": {"title": f"Bench {offer}"}}, files={})


def replay(market: SimulatedMarketplace, offers: int) -> tuple[float, float]:
    """(wall, cpu) seconds for the per-offer call mix over `offers` offers."""
    names = [f"bench-offer-{i:05d}" for i in range(offers)]
    payloads = [_payload(name) for name in names]
    wall, cpu = time.perf_counter(), time.process_time()
    for name, payload in zip(names, payloads, strict=True):
        key = idempotency_key(name, GENERATION)
        market.find(key)
        submission = market.submit(name, GENERATION, Target.PREVIEW, payload, key)
        market.get(submission.id)
        market.listing(name)
        market.find(key)
        market.get(submission.id)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(kind: type[SimulatedMarketplace], offers: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="offerctl-bench-store-") as tmp:
        market = kind(Path(tmp) / "market.sqlite3", time_scale=1_000_000.0)
        try:
            return replay(market, offers)
        finally:
            market.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=1000)
    args = parser.parse_args(argv)
    calls = args.offers * CALLS_PER_OFFER
    print(f"store: {args.offers:,} offers x {CALLS_PER_OFFER} simulated-marketplace calls")
    figures = {}
    for label, kind in (("one connection", SimulatedMarketplace), ("per call", PerCallConnection)):
        wall, cpu = measure(kind, args.offers)
        figures[label] = cpu
        print(
            f"  {label:<15} {calls / wall:9,.0f} calls/s wall ({wall:6.2f} s)"
            f"  {calls / cpu:9,.0f} calls/s cpu ({cpu:6.2f} s)",
            flush=True,
        )
    ratio = figures["per call"] / figures["one connection"]
    met = ratio >= GOAL_RATIO
    print(
        f"goal: one connection >= {GOAL_RATIO:.0f}x cheaper per call than one per call (cpu): "
        f"{'met' if met else 'NOT met'} ({ratio:.1f}x)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
