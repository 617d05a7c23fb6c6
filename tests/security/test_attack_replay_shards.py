"""A sign-off replay read first by a shard with no record of its own in the same clone.

Each daemon shard (`offerctl run --shard K/N`) keeps its own reconciled and
judged refs, named after K and N (`shard-K-of-N`). When the shard count
changes, or a clone that ran unsharded starts running shards, every shard's
first pass has no ref of its own: it compared with nothing, trusted the
replayed sign-off, and its judged ref moved to the replacement, after which S
looked like the branch's own sign-off for good. The clone knows better: the
other parts' refs (and the unsharded ones) are commits the controller judged on
the same branch.

Fixed: a part with no ref of its own compares with those (`Reconciler._reconciled`).
"""

from __future__ import annotations

from test_attack_replay_only_passes import approve_then_revoke, assert_replayed, main, replay
from test_attack_signoff_replay import Branch

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Watch, build_reconciler

__all__ = ["main"]  # the fixture


def shard_pass(branch: Branch, part: str) -> None:
    store = branch.path / ".git" / "offerctl" / "marketplace.sqlite3"
    with GitRepo(branch.path) as repo:
        market = SimulatedMarketplace(store, time_scale=1_000_000.0)
        shard = build_reconciler(repo, market, Watch(), include=lambda _offer: True, part=part)
        shard.run_pass()


def test_a_shard_with_no_record_of_its_own_distrusts_a_replay(main: Branch) -> None:
    approved = approve_then_revoke(main)
    main.reconcile()  # unsharded: the revocation is judged and recorded
    replay(main, approved)

    shard_pass(main, "shard-0-of-2")  # the clone now runs shards: no ref of their own

    assert_replayed(main, approved)
    shard_pass(main, "shard-0-of-2")
    assert_replayed(main, approved)


def test_a_new_shard_count_does_not_forget_what_the_old_shards_judged(main: Branch) -> None:
    approved = approve_then_revoke(main)
    shard_pass(main, "shard-1-of-2")
    replay(main, approved)

    shard_pass(main, "shard-2-of-3")

    assert_replayed(main, approved)
