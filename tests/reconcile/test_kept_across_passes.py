"""What one reconciler keeps across passes (the daemon's case) never hides a change.

The daemon keeps one reconciler: its tree listings (by commit), records (by
the bytes of each record file) and status blob ids (by status) outlive a pass.
A person's commit that rewrites status.yaml, or another process that replaces
a record, must still be seen by the next pass of the same reconciler.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from example_offers import offer_files
from git_helpers import GitRepos
from market_helpers import Clock

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Watch, build_reconciler, no_signoff

STATUS = "offers/alpha-offer/status.yaml"


def test_a_hand_written_status_is_overwritten_by_the_next_pass_of_the_same_reconciler(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    repo_dir = gitrepos.init("repo", offer_files("alpha-offer", "preview"))
    clock = Clock()
    market = SimulatedMarketplace(tmp_path / "m.db", time_scale=1.0, clock=clock)
    with GitRepo(repo_dir) as repo:
        reconciler = build_reconciler(repo, market, Watch(), judge=no_signoff, clock=clock)
        first = reconciler.run_pass()
        assert first.commit is not None
        ours = (repo_dir / STATUS).read_bytes()
        assert reconciler.run_pass().commit is None  # nothing changed: nothing written
        forged = ours.replace(b"phase: ", b"phase: Live\nx-was: ", 1)
        gitrepos.commit(repo_dir, {STATUS: forged}, "edit status by hand")
        again = reconciler.run_pass()
        assert again.written == ("alpha-offer",)
        assert (repo_dir / STATUS).read_bytes() == ours
        assert reconciler.run_pass().commit is None


def test_a_record_replaced_between_passes_is_read_again(gitrepos: GitRepos, tmp_path: Path) -> None:
    repo_dir = gitrepos.init("repo", offer_files("alpha-offer", "preview"))
    clock = Clock()
    market = SimulatedMarketplace(tmp_path / "m.db", time_scale=1.0, clock=clock)
    with GitRepo(repo_dir) as repo:
        daemon = build_reconciler(repo, market, Watch(), judge=no_signoff, clock=clock)
        daemon.run_pass()
        kept = daemon.branch_records().load("alpha-offer")
        assert kept is not None and kept.submission is not None
        # Another process (a one-shot reconcile) forgets the offer's record.
        other = build_reconciler(repo, market, Watch(), judge=no_signoff, clock=clock)
        other.branch_records().drop("alpha-offer")
        assert daemon.branch_records().load("alpha-offer") is None
        daemon.run_pass(full=True)  # finds its submission again by idempotency key
        again = daemon.branch_records().load("alpha-offer")
        assert again is not None and again.submission == kept.submission


def test_refs_that_hold_the_commit_are_not_written_again_and_a_new_commit_moves_them(
    gitrepos: GitRepos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_dir = gitrepos.init("repo", offer_files("alpha-offer", "preview"))
    clock = Clock()
    market = SimulatedMarketplace(tmp_path / "m.db", time_scale=1.0, clock=clock)
    with GitRepo(repo_dir) as repo:
        reconciler = build_reconciler(repo, market, Watch(), judge=no_signoff, clock=clock)
        reconciler.run_pass()
        reconciler.run_pass()
        commands: list[str] = []
        run = repo.runner.run

        def noted(args: Sequence[str], *rest: Any, **options: Any) -> Any:
            commands.append(args[0])
            return run(args, *rest, **options)

        monkeypatch.setattr(repo.runner, "run", noted)
        assert reconciler.run_pass().commit is None
        assert "update-ref" not in commands, "both refs already held the commit"
        assert "merge-base" not in commands, "a commit is its own ancestor"
        tip = gitrepos.commit(repo_dir, {"README.md": b"elsewhere\n"}, "an unrelated change")
        reconciler.run_pass()
        assert repo.resolve(GitRepo.reconciled_ref("main")) == tip
        assert repo.resolve(GitRepo.judged_ref("main")) == tip
