"""`offerctl plan`: what the next reconcile pass would do per offer, and why, changing nothing.

It runs the pass's own steps (validate, ask the marketplace, decide: see
`Reconciler.plan_pass`) and stops before any action: no submission, no
cancel, no commit, no push. The marketplace is only read (a fetch happens
with --remote, as for reconcile). Exit status: 0 when the plan was made, 1
when an offer could not be evaluated or the repository could not be read, 2
on usage errors; with `--detailed-exitcode` (as terraform plan): 0 nothing
to do, 2 changes pending (a marketplace call, or a status.yaml to write), 1
error.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.commands.options import (
    add_branch_options,
    add_marketplace_options,
    add_repo_option,
)
from controller.commands.status import add_color_options
from controller.commands.wiring import judge_from_args, marketplace_at, watch_from_args
from controller.errors import EXIT_FAIL, EXIT_OK, UsageError
from controller.gitrepo import GitRepo
from controller.model import API_VERSION
from controller.planning import OfferPlan, plan_offer, summarize
from controller.present import data
from controller.present.console import make_console, show, unicode_ok
from controller.present.plan import plan_view
from controller.reconcile import (
    PlannedOffer,
    Reconciler,
    Watch,
    default_validate,
)
from controller.statusread import check_offer_id, resolve, status_path

EXIT_CHANGES = 2  # --detailed-exitcode: changes pending (terraform's convention; it is also
# the usage-error status, as it is for terraform: scripts tell them apart by stderr)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="what the next reconcile pass would do per offer, and why; changes nothing",
        description=(
            "Validate every offer, ask the marketplace where each stands, and decide as a "
            "reconcile pass would, then stop: nothing is submitted, cancelled or committed. "
            "Each offer shows its phase now and next, the marketplace calls the pass would "
            "make (submit, cancel, go live, withdraw) or what it waits for, and why."
        ),
    )
    parser.add_argument("offers", nargs="*", metavar="OFFER", help="show only these offers")
    add_repo_option(parser)
    parser.add_argument(
        "--rev",
        metavar="REV",
        default=None,
        help="commit to plan against (default: HEAD; with --remote, the fetched branch tip)",
    )
    add_branch_options(
        parser,
        remote_help="configured remote to fetch first",
        branch_help="branch a pass would reconcile",
    )
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing would change, 2 when changes are pending, 1 on errors",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", *data.DATA_FORMATS),
        default="text",
        help="text (default), json or yaml",
    )
    add_color_options(parser)
    add_marketplace_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    wanted = [check_offer_id(o) for o in args.offers]
    watch = _watch(args)
    console = make_console(args.color)
    with GitRepo(Path(args.repo)) as repo:
        if watch.remote and watch.branch:
            base = None  # plan_pass fetches, then reads the tip
            policy_commit = repo.resolve(repo.tracking_ref(watch.remote, watch.branch))
        else:
            base = policy_commit = resolve(repo, _local_rev(args))
        marketplace = marketplace_at(args, repo, policy_commit)
        reconciler = Reconciler(
            repo,
            marketplace,
            validate=default_validate,
            judge=judge_from_args(args, repo, watch),
            watch=watch,
            clock=lambda: datetime.now(UTC),
        )
        commit, planned = reconciler.plan_pass(base)
        plans = [_plan(repo, commit, p) for p in planned if not wanted or p.offer in wanted]
    missing = sorted(set(wanted) - {p.offer for p in plans})
    if missing:
        raise UsageError(f"no offer {', '.join(missing)} at {commit[:12]}")
    summary = summarize(plans)
    if args.output == "text":
        show(console, plan_view(plans, summary, commit=commit, unicode=unicode_ok(console)))
    else:
        show(console, data.dumps(plan_data(plans, commit), args.output))
    if summary.errors:
        return EXIT_FAIL
    if args.detailed_exitcode and summary.changes:
        return EXIT_CHANGES
    return EXIT_OK


def plan_data(plans: list[OfferPlan], commit: str) -> dict[str, Any]:
    summary = summarize(plans)
    return {
        "apiVersion": API_VERSION,
        "kind": "Plan",
        "commit": commit,
        "changes": summary.changes,
        "offers": [p.as_dict() for p in plans],
    }


def _plan(repo: GitRepo, commit: str, planned: PlannedOffer) -> OfferPlan:
    path = status_path(planned.offer)
    entry = repo.snapshot(commit, [planned.offer]).entry(path)
    committed = repo.read_blob(entry.oid) if entry is not None else None
    return plan_offer(planned, committed)


def _watch(args: argparse.Namespace) -> Watch:
    if args.remote and args.rev:
        raise UsageError("--rev and --remote exclude each other: --remote plans the fetched tip")
    return watch_from_args(args)


def _local_rev(args: argparse.Namespace) -> str:
    if args.rev:
        return str(args.rev)
    return f"refs/heads/{args.branch}" if args.branch else "HEAD"
