"""A sign-off replay between the daemon's batches, and across its batched record.

The daemon keeps one reconciler and cuts its work into batches
(`run_pass(only=..., widen=True)`), recording a reconciled commit only when a
whole resync is done (`record_batched_pass`). A batch judged the revocation R;
a fast-forward to a merge M onto the approval S's line follows; the next batch
must distrust S (it is compared with R, the commit the batch before judged,
not with the older reconciled one), and so must the batches after the resync
recorded M's line as reconciled (the replay is remembered).
"""

from __future__ import annotations

from test_attack_replay_only_passes import (
    OFFER,
    approve_then_revoke,
    assert_replayed,
    main,
    replay,
)
from test_attack_signoff_replay import Branch

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Watch, build_reconciler

__all__ = ["main"]  # the fixture


def test_a_replay_between_daemon_batches_stays_distrusted_after_the_resync(main: Branch) -> None:
    store = main.path / ".git" / "offerctl" / "marketplace.sqlite3"
    with GitRepo(main.path) as repo:
        market = SimulatedMarketplace(store, time_scale=1_000_000.0)
        daemon = build_reconciler(repo, market, Watch())
        approved = approve_then_revoke(main)
        daemon.run_pass(only={OFFER}, widen=True)  # a batch reads R
        replay(main, approved)

        batch = daemon.run_pass(only={OFFER}, widen=True)
        assert_replayed(main, approved)

        daemon.record_batched_pass(batch.commit or batch.base, ())  # the resync is done
        daemon.run_pass(only={OFFER}, widen=True)
        daemon.run_pass(full=True)
        assert_replayed(main, approved)
