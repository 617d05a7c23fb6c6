"""`offerctl plan`: what the next reconcile pass would do per offer, and why, changing nothing.

It runs the pass's own steps (validate, ask the marketplace, decide: see
`Reconciler.plan_pass`) and stops before any action: no submission, no
cancel, no commit, no push. The marketplace is only read (a fetch happens
with --remote, as for reconcile). Exit status: 0 when the plan was made, 1
when an offer could not be evaluated or the repository could not be read, 2
on usage errors; with `--detailed-exitcode` (as terraform plan): 0 nothing
to do, 2 changes pending (a marketplace call, or a status.yaml to write), 1
error.

Where the observations come from (issue 11): the marketplace named by
--marketplace (or the environment, or publishing.yaml), or the simulated one
when its store exists in this repository's git directory (the controller's
own clone). Elsewhere, a publisher's clone or a CI runner, an empty local
simulator would claim every Live offer "will be resubmitted"; there the plan
is made from the statuses the controller last committed, and says so. Those
statuses are a display of what the controller observed: plan never acts, and
reconcile never reads them back.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.commands.options import ENV_MARKETPLACE
from controller.commands.wiring import (
    judge_from_args,
    marketplace_at,
    warn_moved_keys,
    watch_from_args,
)
from controller.core.errors import EXIT_FAIL, EXIT_OK, UsageError
from controller.core.model import API_VERSION, OfferStatus
from controller.core.planning import OfferPlan, plan_offer, summarize, uncommitted_notes
from controller.git.repo import OFFERS_DIR, BlobTooLarge, GitRepo
from controller.marketplace.committed import CommittedObservations
from controller.marketplace.factory import SIM_NAMES, default_db_path
from controller.present import data
from controller.present.console import make_console, show, unicode_ok
from controller.present.plan import plan_view
from controller.reconcile.reconciler import (
    PlannedOffer,
    Reconciler,
    Watch,
    default_validate,
)
from controller.reconcile.records import DisplayRecords
from controller.repo.statusread import (
    MAX_STATUS_BYTES,
    check_offer_id,
    read_statuses,
    resolve,
    status_path,
)

EXIT_CHANGES = 2  # --detailed-exitcode: changes pending (terraform's convention; it is also
# the usage-error status, as it is for terraform: scripts tell them apart by stderr)


@dataclass(frozen=True, slots=True)
class Made:
    """A plan as `make_plan` made it: the commit planned, per offer what the pass decided."""

    commit: str
    planned: tuple[PlannedOffer, ...]
    plans: list[OfferPlan]
    from_committed: bool
    notes: list[str]


def run(args: argparse.Namespace) -> int:
    wanted = [check_offer_id(o) for o in args.offers]
    console = make_console(args.color)
    with GitRepo(Path(args.repo)) as repo:
        made = make_plan(args, repo, wanted)
    commit, plans, from_committed, notes = made.commit, made.plans, made.from_committed, made.notes
    missing = sorted(set(wanted) - {p.offer for p in plans})
    if missing:
        raise UsageError(f"no offer {', '.join(missing)} at {commit[:12]}")
    summary = summarize(plans)
    if args.output == "text":
        view = plan_view(
            plans,
            summary,
            commit=commit,
            unicode=unicode_ok(console),
            from_committed=from_committed,
            notes=notes,
        )
        show(console, view)
    else:
        document = plan_data(plans, commit, from_committed=from_committed, notes=notes)
        show(console, data.dumps(document, args.output))
    if summary.errors:
        return EXIT_FAIL
    if args.detailed_exitcode and summary.changes:
        return EXIT_CHANGES
    return EXIT_OK


def make_plan(
    args: argparse.Namespace,
    repo: GitRepo,
    wanted: Sequence[str] = (),
    *,
    statuses_at: str | None = None,
) -> Made:
    """What `offerctl plan` shows, before it is shown; also `offerctl pr-check`'s plan.

    `statuses_at` names the commit whose committed statuses stand in for the
    controller's observations and records (default: the commit planned);
    pr-check passes the pull request's base, so a pull request's own
    status.yaml edits are not what its plan is made from.
    """
    watch = _watch(args)
    if watch.remote and watch.branch:
        base = None  # plan_pass fetches, then reads the tip
        policy_commit = repo.resolve(repo.tracking_ref(watch.remote, watch.branch))
    else:
        base = policy_commit = resolve(repo, _local_rev(args))
    from_committed = not _marketplace_here(args, repo, policy_commit)
    if from_committed:
        if policy_commit:  # marketplace_at, which warns otherwise, is not called here
            warn_moved_keys(repo, policy_commit)
        if base is None and watch.remote and watch.branch:
            base = repo.fetch(watch.remote, watch.branch)
        if base is None:  # pragma: no cover - set above in both modes
            raise UsageError("nothing to plan against")
        committed = _committed_statuses(repo, statuses_at or base)
        reconciler = Reconciler(
            repo,
            CommittedObservations(committed),
            validate=default_validate,
            judge=judge_from_args(args, repo, watch),
            watch=watch,
            clock=lambda: datetime.now(UTC),
            records=DisplayRecords(committed),
        )
    else:
        reconciler = Reconciler(
            repo,
            marketplace_at(args, repo, policy_commit),
            validate=default_validate,
            judge=judge_from_args(args, repo, watch),
            watch=watch,
            clock=lambda: datetime.now(UTC),
        )
        if not reconciler.branch_records().exists():
            # Not the controller's clone: no record of what it decided. Show the
            # committed statuses as the last decision (times, the submission
            # followed); the marketplace still says which submissions are whose.
            if base is None and watch.remote and watch.branch:
                base = repo.fetch(watch.remote, watch.branch)
            if base is not None:
                reconciler.records = DisplayRecords(_committed_statuses(repo, statuses_at or base))
    commit, planned = reconciler.plan_pass(base)
    plans = [_plan(repo, commit, p) for p in planned if not wanted or p.offer in wanted]
    notes = _uncommitted_notes(args, repo, watch, [p.offer for p in planned])
    return Made(commit, planned, plans, from_committed, notes)


def plan_data(
    plans: list[OfferPlan],
    commit: str,
    *,
    from_committed: bool = False,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    summary = summarize(plans)
    return {
        "apiVersion": API_VERSION,
        "kind": "Plan",
        "commit": commit,
        # Where observations came from: the marketplace, or the committed statuses.
        "observedFrom": "committedStatus" if from_committed else "marketplace",
        "changes": summary.changes,
        "offers": [p.as_dict() for p in plans],
        "notes": list(notes),
    }


def _marketplace_here(args: argparse.Namespace, repo: GitRepo, commit: str | None) -> bool:
    """Whether a marketplace with the controller's observations can be asked from here.

    Any marketplace named by the operator (flag, environment) is (publishing.yaml
    may not name one: a pull request must not pick where a token goes); the
    simulated default is only when its store already exists in this
    repository's git directory, i.e. in the controller's own clone.
    """
    url = args.marketplace or os.environ.get(ENV_MARKETPLACE) or ""
    if (url or "").strip().lower() not in SIM_NAMES:
        return True
    return default_db_path(repo.common_dir).exists()


def _committed_statuses(repo: GitRepo, commit: str) -> dict[str, OfferStatus]:
    return {e.offer: e.status for e in read_statuses(repo, commit) if e.status is not None}


def _uncommitted_notes(
    args: argparse.Namespace, repo: GitRepo, watch: Watch, planned: Sequence[str]
) -> list[str]:
    """Hints about offer files on disk that the plan (of commits) cannot see."""
    if watch.remote or args.rev or args.branch:
        return []  # not a plan of the checkout: its working tree is beside the point
    return uncommitted_notes(repo.uncommitted(OFFERS_DIR), planned)


def _plan(repo: GitRepo, commit: str, planned: PlannedOffer) -> OfferPlan:
    path = status_path(planned.offer)
    entry = repo.snapshot(commit, [planned.offer]).entry(path)
    committed = None
    if entry is not None:
        try:
            committed = repo.read_blob(entry.oid, MAX_STATUS_BYTES)
        except BlobTooLarge:
            committed = b""  # anyone's edit, and not ours: the pass would rewrite it
    return plan_offer(planned, committed)


def _watch(args: argparse.Namespace) -> Watch:
    if args.remote and args.rev:
        raise UsageError("--rev and --remote exclude each other: --remote plans the fetched tip")
    return watch_from_args(args)


def _local_rev(args: argparse.Namespace) -> str:
    if args.rev:
        return str(args.rev)
    return f"refs/heads/{args.branch}" if args.branch else "HEAD"
