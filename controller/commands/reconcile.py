"""`offerctl reconcile`: one reconcile pass over a repository's committed offers, then exit.

Without `--remote` the pass reads HEAD of the checked-out branch (or
`--branch`) and moves that branch to its status commit; with `--remote NAME
--branch NAME` it fetches the branch, reads its tip and pushes the status
commit there. With OFFER ids, only those offers are evaluated and acted upon;
the others are left exactly as they are. Exit 0 when the pass completed (offers that are invalid or
rejected say so in their status.yaml), 1 when a git or marketplace failure
stopped it, or some offers could not be brought forward, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from controller.commands import statustrust
from controller.commands.wiring import (
    PassOptions,
    judge_from_args,
    known_tip,
    marketplace_at,
    watch_from_args,
)
from controller.core.errors import EXIT_FAIL, EXIT_OK, UsageError
from controller.git.repo import GitRepo
from controller.marketplace.api import Marketplace
from controller.notify.wiring import open_notifier
from controller.reconcile.reconciler import (
    JudgeSignOff,
    PassResult,
    Validate,
    Watch,
    build_reconciler,
    default_validate,
)
from controller.repo.statusread import check_offer_id

# Notifications of the pass get this long to go out before the command exits; what is
# left stays pending in the ledger and goes out with the next reconcile or daemon start.
NOTIFY_DRAIN_SECONDS = 30.0


def run(args: argparse.Namespace) -> int:
    offers = [check_offer_id(offer) for offer in getattr(args, "offers", None) or []]
    if offers and args.full:
        raise UsageError("--full evaluates every offer; name OFFERs or give --full, not both")
    options = PassOptions.from_args(args)
    watch = watch_from_args(options)
    repo_dir = Path(args.repo)
    with GitRepo(repo_dir) as repo:
        repo.status_signing_key = statustrust.signing_key(os.environ)  # signed status commits
        notifier = open_notifier(args, repo, watch)
        marketplace = marketplace_at(options, repo, known_tip(repo, watch))
        judge = judge_from_args(options, repo, watch)
        try:
            result = reconcile(
                repo, marketplace, watch, full=args.full, judge=judge, only=offers or None
            )
            if notifier is not None:  # after the commit: the status is out whatever happens
                notifier.observe(result.statuses)
        finally:
            if notifier is not None:
                notifier.close(timeout=NOTIFY_DRAIN_SECONDS)
    _report(result, watch, args.output, offers)
    return EXIT_FAIL if result.errors else EXIT_OK


def reconcile(
    repo: GitRepo,
    marketplace: Marketplace,
    watch: Watch,
    *,
    full: bool = False,
    validate: Validate = default_validate,
    judge: JudgeSignOff | None = None,
    only: Sequence[str] | None = None,
) -> PassResult:
    """One pass with the real validation and sign-off checks and the system clock."""
    reconciler = build_reconciler(repo, marketplace, watch, judge=judge, validate=validate)
    return reconciler.run_pass(full=full, only=only)


def _report(
    result: PassResult, watch: Watch, output: str, only: Sequence[str] | None = None
) -> None:
    if output == "json":
        data = {
            "base": result.base,
            "commit": result.commit,
            "full": result.full,
            "only": list(only) if only else None,
            "evaluated": len(result.evaluated),
            "written": list(result.written),
            "transitions": [
                {
                    "offer": t.offer,
                    "from": t.before.value if t.before else None,
                    "to": t.after.value,
                }
                for t in result.transitions
            ],
            "inFlight": list(result.in_flight),
            "errors": dict(result.errors),
            "attempts": result.attempts,
        }
        print(json.dumps(data, indent=2))
    else:
        kind = "full" if result.full else "incremental"
        if only:
            kind = "targeted"
        print(f"read {result.base[:12]} ({kind} pass, {len(result.evaluated)} offers evaluated)")
        for transition in result.transitions:
            print(f"  {transition}")
        if result.commit:
            where = f" and pushed to {watch.remote}" if watch.remote else ""
            print(f"status commit {result.commit[:12]}{where}: {len(result.written)} status files")
        else:
            print("no status changed; nothing committed")
    for offer, error in sorted(result.errors.items()):
        print(f"offerctl: {offer}: {error}", file=sys.stderr)
