"""Reconcile at scale: 10,000 offers in one git repository, against the simulated marketplace.

Times four passes over the same repository:
- full: the first pass, which validates, submits and commits status for every offer;
- settle: passes that poll the offers still in flight until none is (reported, not judged);
- no-op: nothing changed in git and nothing is in flight;
- one offer changed: a commit edits one manifest; only that offer is evaluated.

The one-offer pass must be at least 50x cheaper than the full pass. Peak
memory (this process, and the largest git child) is printed; the goal is
under 300 MB.

    python bench/bench_reconcile.py [--offers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from gen_offers import generate  # noqa: E402

from controller.git.repo import GitRepo  # noqa: E402
from controller.marketplace.simulated import SimulatedMarketplace  # noqa: E402
from controller.reconcile.reconciler import (  # noqa: E402
    PassResult,
    Reconciler,
    Watch,
    default_validate,
)

TIME_SCALE = 1_000_000.0  # a week of certification in 0.6 s
MIN_RATIO = 50.0
MEMORY_GOAL_MB = 300.0


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench Person",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench Person",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, check=True, text=True
    )
    return done.stdout


def _timed(run: Callable[[], PassResult]) -> tuple[float, PassResult]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def _mb(kilobytes: int) -> float:
    return kilobytes / 1024.0


def bench(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="offerctl-bench-") as tmp:
        repo_dir = Path(tmp) / "repo"
        repo_dir.mkdir()
        _git(repo_dir, "init", "-q", "-b", "main")
        _git(repo_dir, "config", "gc.auto", "0")  # a background gc would skew the timings
        started = time.perf_counter()
        manifests = generate(count, repo_dir)
        _git(repo_dir, "add", "-A")
        _git(repo_dir, "commit", "-q", "-m", f"{count} offers")
        print(
            f"  generated and committed {count:,} offers in {time.perf_counter() - started:.1f} s"
        )
        market = SimulatedMarketplace(Path(tmp) / "market.sqlite3", time_scale=TIME_SCALE)

        def one_pass() -> PassResult:
            with GitRepo(repo_dir) as repo:
                reconciler = Reconciler(
                    repo,
                    market,
                    validate=default_validate,
                    watch=Watch(),
                    clock=lambda: datetime.now(UTC),
                )
                return reconciler.run_pass()

        full_s, full = _timed(one_pass)
        print(
            f"  full pass:        {full_s:8.2f} s  ({len(full.evaluated):,} evaluated, "
            f"{len(full.written):,} written, {len(full.in_flight):,} in flight)"
        )
        for _ in range(6):
            if not full.in_flight:
                break
            time.sleep(1.0)  # at this time scale the pipeline moves on within a second
            settle_s, full = _timed(one_pass)
            print(
                f"  settle pass:      {settle_s:8.2f} s  ({len(full.evaluated):,} evaluated, "
                f"{len(full.in_flight):,} still in flight)"
            )
        noop_s, noop = _timed(one_pass)
        print(
            f"  no-op pass:       {noop_s:8.2f} s  ({len(noop.evaluated):,} evaluated, "
            f"commit: {noop.commit is not None})"
        )
        manifest = manifests[count // 2]
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("    alias: ", "    alias: Changed ", 1), "utf-8")
        _git(repo_dir, "commit", "-q", "-am", "change one offer")
        one_s, one = _timed(one_pass)
        print(
            f"  one-offer pass:   {one_s:8.2f} s  ({len(one.evaluated):,} evaluated, "
            f"{len(one.written):,} written)"
        )
    ratio = full_s / one_s if one_s > 0 else float("inf")
    own = _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    children = _mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(f"  full / one-offer: {ratio:8.1f}x  (must be >= {MIN_RATIO:.0f}x)")
    print(
        f"  peak memory:      {own:8.1f} MB  (largest git child {children:.1f} MB; "
        f"goal < {MEMORY_GOAL_MB:.0f} MB)"
    )
    return {"full": full_s, "noop": noop_s, "one": one_s, "ratio": ratio, "peak_mb": own}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offers", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(f"reconcile: {args.offers:,} offers, time scale {TIME_SCALE:,.0f}")
    figures = bench(args.offers)
    failed = figures["ratio"] < MIN_RATIO
    if failed:
        print(f"  FAIL: one-offer pass is only {figures['ratio']:.1f}x cheaper than a full pass")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
