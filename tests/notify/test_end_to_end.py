"""Real passes over the shipped offers with the simulated marketplace, notifying a webhook."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from git_helpers import GitRepos
from market_helpers import Clock
from notify_helpers import NOW, webhook_receiver

from controller.commands.run import ReconcilerPass
from controller.gitrepo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.notify.ledger import Ledger
from controller.notify.locate import FindingLocator
from controller.notify.sender import Notifier, open_targets
from controller.reconcile import Reconciler, default_validate
from controller.redaction import Redactor

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("contoso-field-insights", "tailspin-quote-builder")


@pytest.mark.slow
def test_a_rejection_and_a_preview_reach_the_webhook_once_with_file_and_line(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    files: dict[str, str | bytes | None] = {}
    for offer in SHIPPED:
        for path in (ROOT / "offers" / offer).rglob("*"):
            if path.is_file() and path.name != "status.yaml":
                files[str(path.relative_to(ROOT))] = path.read_bytes()
    repo_dir = gitrepos.init("offers-repo", files)
    clock = Clock(NOW)
    with webhook_receiver() as hooks, GitRepo(repo_dir) as repo:
        notifier = Notifier(
            open_targets([f"json://127.0.0.1:{hooks.port}/"]),
            Ledger(repo.private_dir, "main"),
            redactor=Redactor(),
            locate=FindingLocator(repo),
            clock=clock,
        )
        notifier.baseline([])
        reconciler = Reconciler(
            repo,
            SimulatedMarketplace(tmp_path / "market.sqlite3", clock=clock),
            validate=default_validate,
            clock=clock,
        )
        adapter = ReconcilerPass(reconciler, repo, in_flight_poll=1.0, notifier=notifier)
        passes = 0
        while len(hooks.bodies) < 2 and passes < 12:
            adapter(None)  # a daemon pass: reconcile, commit, then notify
            assert notifier.drain(10)
            clock.advance(days=3)
            passes += 1
        for _ in range(1):  # the same states again: nothing new to say
            adapter(None)
        assert notifier.drain(10)
        notifier.close()
    by_title = {b["title"]: b["message"] for b in hooks.bodies}
    assert len(by_title) == len(hooks.bodies) == 2
    rejected = by_title["offerctl: tailspin-quote-builder rejected by certification"]

    assert re.search(r"offers/tailspin-quote-builder/offer\.yaml:\d+ \(\$\.spec", rejected)
    preview = by_title["offerctl: contoso-field-insights preview ready for sign-off"]
    assert "offerctl signoff contoso-field-insights" in preview
