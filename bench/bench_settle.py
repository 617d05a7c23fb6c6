"""A settle pass costs about what its marketplace observations cost: validation is reused.

Generates N offers (bench/gen_offers.py), runs one full pass with the
reconciler `offerctl reconcile` builds (`build_reconciler`) against a
simulated marketplace slow enough (time scale 1) that every submitted offer
stays in flight, then one settle pass (it reads the statuses the full pass
wrote; printed), then times the next `--passes` settle passes together, the
daemon's steady state (`offerctl run` keeps one reconciler across passes):
nothing changed in git, every in-flight offer is polled. Each marketplace read
those passes make (`find`, `get`, `listing`) is recorded and then replayed bare
against the same marketplace, in the same run, as the baseline. Several passes,
so that one pass's share of a garbage collection or a scheduling hiccup does
not decide a figure whose baseline is 40 ms at 1,000 offers.

Goal: settle-pass CPU per in-flight offer <= 3x the bare observation's CPU
per offer. Why 3x: with its verdict reused an unchanged offer still has its
record loaded and saved, its pipeline decided, its committed status read and
its status rendered (to find it unchanged), each about as dear as one
observation; more than 3x means work proportional to the offer's content
(validation, blob reads, scans) crept back into the per-offer path.

CPU is this process's plus its git children's (`getrusage`, to the microsecond). `--no-reuse`
validates afresh each pass (the figure before verdicts were reused).

    python bench/bench_settle.py [--offers N | --sizes 1000,10000] [--passes 5] [--no-reuse]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import goals  # noqa: E402
from bench_floor import cpu_seconds, git  # noqa: E402
from gen_offers import generate  # noqa: E402

from controller.git.repo import GitRepo  # noqa: E402
from controller.marketplace.api import OfferListing, Submission  # noqa: E402
from controller.marketplace.simulated import SimulatedMarketplace  # noqa: E402
from controller.reconcile.reconciler import (  # noqa: E402
    PassResult,
    build_reconciler,
    default_validate,
    no_signoff,
)

TIME_SCALE = 1.0  # certification takes days: every submitted offer stays in flight
GOAL = 3.0


class Recording:
    """The marketplace, noting every read a pass makes so that it can be replayed bare.

    The reads note themselves in one list append each: this wrapper's cost is counted
    in the settle pass's CPU, not in the bare observation's, so it is kept small.
    """

    def __init__(self, inner: SimulatedMarketplace) -> None:
        self.inner = inner
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.recording = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the writes, unrecorded

    def find(self, key: str) -> Submission | None:
        if self.recording:
            self.calls.append(("find", (key,)))
        return self.inner.find(key)

    def get(self, submission_id: str) -> Submission:
        if self.recording:
            self.calls.append(("get", (submission_id,)))
        return self.inner.get(submission_id)

    def listing(self, offer: str) -> OfferListing:
        if self.recording:
            self.calls.append(("listing", (offer,)))
        return self.inner.listing(offer)

    def replay(self) -> float:
        """CPU seconds of the recorded reads, made again against the same marketplace."""
        started = cpu_seconds()
        for name, args in self.calls:
            getattr(self.inner, name)(*args)
        return cpu_seconds() - started


def bench(count: int, *, reuse: bool, passes: int = 5) -> float:
    with tempfile.TemporaryDirectory(prefix="offerctl-bench-settle-") as tmp:
        repo_dir = Path(tmp) / "repo"
        repo_dir.mkdir()
        git(repo_dir, "init", "-q", "-b", "main")
        git(repo_dir, "config", "gc.auto", "0")
        generate(count, repo_dir)
        git(repo_dir, "add", "-A")
        git(repo_dir, "commit", "-q", "-m", f"{count} offers")
        market = Recording(SimulatedMarketplace(Path(tmp) / "m.sqlite3", time_scale=TIME_SCALE))
        with GitRepo(repo_dir) as repo:
            validate: Any = default_validate if reuse else _fresh
            reconciler = build_reconciler(
                repo,
                market,  # type: ignore[arg-type]
                judge=no_signoff,
                validate=validate,
                clock=lambda: datetime.now(UTC),
            )
            started = cpu_seconds()
            first = _run(reconciler.run_pass)
            flying = len(first.in_flight)
            print(
                f"  full pass: {cpu_seconds() - started:.2f} s CPU, "
                f"{len(first.evaluated):,} evaluated, {flying:,} in flight"
            )
            started = cpu_seconds()
            warm = _run(reconciler.run_pass)  # the first to read the statuses just written
            print(
                f"  first settle pass: {cpu_seconds() - started:.2f} s CPU over "
                f"{len(warm.evaluated):,} in-flight offers"
            )
            market.recording = True
            started = cpu_seconds()
            polled = sum(len(_run(reconciler.run_pass).evaluated) for _ in range(passes))
            settle_cpu = cpu_seconds() - started
            market.recording = False
        flying = polled // passes
        observe_cpu = market.replay()
    per_offer = settle_cpu / max(polled, 1)
    per_observation = observe_cpu / max(polled, 1)
    ratio = per_offer / per_observation if per_observation > 0 else float("inf")
    print(
        f"  {passes} settle passes: {settle_cpu:.2f} s CPU over {flying:,} in-flight offers "
        f"({per_offer * 1000:.3f} ms each); bare observation {observe_cpu:.2f} s "
        f"({per_observation * 1000:.3f} ms each, {len(market.calls):,} reads); "
        f"{'reused' if reuse else 'fresh'} verdicts"
    )
    return ratio


def _fresh(files: Any, offer: str) -> Any:
    """The engine every pass (`--no-reuse`): not the default seam, so not wrapped."""
    return default_validate(files, offer)


def _run(run: Callable[[], PassResult]) -> PassResult:
    return run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offers", type=int, default=None, help="one size instead of --sizes")
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated offer counts")
    parser.add_argument("--no-reuse", action="store_true", help="validate afresh every pass")
    parser.add_argument("--passes", type=int, default=5, help="settle passes timed together")
    args = parser.parse_args(argv)
    sizes = [args.offers] if args.offers else [int(s) for s in args.sizes.split(",")]
    failed = False
    for count in sizes:
        print(f"settle: {count:,} offers, time scale {TIME_SCALE:g}")
        ratio = bench(count, reuse=not args.no_reuse, passes=max(1, args.passes))
        met = goals.goal(
            "settle",
            "settle-pass CPU per in-flight offer / bare observation",
            ratio,
            GOAL,
            offers=count,
        ).met
        failed = failed or not met
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
