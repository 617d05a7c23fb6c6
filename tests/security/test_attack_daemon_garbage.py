"""A daemon's passes do not keep their cyclic garbage for ever.

A pass raises the young generation's threshold (`controller.reconcile.collector`;
it once also froze what was alive). A daemon over a few offers runs small passes
one after another: each made a few KiB of cyclic garbage (json's encoder
closures) and never reached a collection, and the next pass froze that garbage
(or, without the freeze, promoted it to the oldest generation), so nothing
collected it; memory grew with every pass, for as long as the daemon ran. Here
one reconciler (as `offerctl run` keeps it) runs many settle passes with the
garbage collector left to itself, and the garbage found at the end must not
grow with the number of passes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from example_offers import offer_files
from git_helpers import GitRepos

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Watch, build_reconciler


def _garbage_after(passes: int, run: Callable[[], object]) -> int:
    """Unreachable objects waiting after `passes` passes, none collected by hand meanwhile."""
    gc.collect()
    for _ in range(passes):
        run()
    return gc.collect()


def test_many_small_passes_leave_no_more_garbage_than_a_few(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    files = {**offer_files("alpha-offer", "preview"), **offer_files("beta-offer", "draft")}
    repo = gitrepos.init("offers-repo", files)
    now = [datetime(2026, 1, 5, 9, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=clock)
    try:
        with GitRepo(repo) as handle:
            reconciler = build_reconciler(handle, market, Watch(), clock=clock)

            def one() -> object:
                now[0] += timedelta(minutes=7)
                return reconciler.run_pass()

            for _ in range(3):  # submitted and settled: what follows are polling passes
                one()
            few = _garbage_after(3, one)
            many = _garbage_after(30, one)
    finally:
        market.close()
    assert many <= 2 * few + 100, f"{few} after 3 passes, {many} after 30: kept for ever"
