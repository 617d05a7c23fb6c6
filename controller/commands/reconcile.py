"""`offerctl reconcile`: one reconcile pass over a repository's committed offers, then exit.

Without `--remote` the pass reads HEAD of the checked-out branch (or
`--branch`) and moves that branch to its status commit; with `--remote NAME
--branch NAME` it fetches the branch, reads its tip and pushes the status
commit there. Exit 0 when the pass completed (offers that are invalid or
rejected say so in their status.yaml), 1 when a git or marketplace failure
stopped it, or some offers could not be brought forward, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from controller.commands.wiring import (
    PassOptions,
    judge_from_args,
    known_tip,
    marketplace_at,
    watch_from_args,
)
from controller.core.errors import EXIT_FAIL, EXIT_OK
from controller.git.repo import GitRepo
from controller.marketplace.api import Marketplace
from controller.reconcile.reconciler import (
    JudgeSignOff,
    PassResult,
    Reconciler,
    Validate,
    Watch,
    default_judge,
    default_validate,
)


def run(args: argparse.Namespace) -> int:
    options = PassOptions.from_args(args)
    watch = watch_from_args(options)
    repo_dir = Path(args.repo)
    with GitRepo(repo_dir) as repo:
        marketplace = marketplace_at(options, repo, known_tip(repo, watch))
        judge = judge_from_args(options, repo, watch)
        result = reconcile(repo, marketplace, watch, full=args.full, judge=judge)
    _report(result, watch, args.output)
    return EXIT_FAIL if result.errors else EXIT_OK


def reconcile(
    repo: GitRepo,
    marketplace: Marketplace,
    watch: Watch,
    *,
    full: bool = False,
    validate: Validate = default_validate,
    judge: JudgeSignOff | None = None,
) -> PassResult:
    """One pass with the real validation and sign-off checks and the system clock."""
    reconciler = Reconciler(
        repo,
        marketplace,
        validate=validate,
        judge=judge or default_judge(repo),
        watch=watch,
        clock=lambda: datetime.now(UTC),
    )
    return reconciler.run_pass(full=full)


def _report(result: PassResult, watch: Watch, output: str) -> None:
    if output == "json":
        data = {
            "base": result.base,
            "commit": result.commit,
            "full": result.full,
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
