"""`offerctl run`: the daemon. Watch, reconcile, write status, until SIGTERM/SIGINT.

The composition root for `controller.daemon`: takes the checkout's daemon
lock, opens the repository and the marketplace once, and hands the `Daemon`
a reconcile callable (`ReconcilerPass`) that adapts `Reconciler.run_pass`
to the daemon's `PassOutcome`. Exit 0 after a signal, 1 when another daemon
holds the checkout or a pass hits a fatal error, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.commands.wiring import judge_from_args, known_tip, marketplace_at, watch_from_args
from controller.core.errors import OfferctlError, TransientError, UsageError, UserError
from controller.daemon import logging as daemon_logging
from controller.daemon.http import parse_listen
from controller.daemon.lock import DaemonLock, default_lock_path
from controller.daemon.loop import Daemon, DaemonConfig, PassReport
from controller.daemon.metrics import DaemonMetrics, InstrumentedMarketplace
from controller.daemon.shard import ALL_SHARDS, parse_shard
from controller.daemon.triggers import Probe, ls_remote_probe
from controller.daemon.webhook import secret_from_env
from controller.daemon.workqueue import ALL, WorkQueue
from controller.git.repo import OFFERS_DIR, POLICY_PATHS, GitRepo, PassLockBusy
from controller.marketplace.factory import resolve_time_scale
from controller.reconcile.reconciler import (
    PassResult,
    Reconciler,
    Watch,
    default_validate,
)
from controller.repo import status

log = logging.getLogger("controller.run")

# The simulated marketplace's shortest stage (Validation) takes at least 3 minutes of
# marketplace time; polling an in-flight offer every minute of it sees each stage end.
IN_FLIGHT_POLL_SECONDS = 60.0
MIN_IN_FLIGHT_POLL = 0.05


def run(args: argparse.Namespace) -> int:
    watch = watch_from_args(args)
    listen = parse_listen(args.listen)
    shard = parse_shard(args.shard) if args.shard else ALL_SHARDS
    secret = secret_from_env(args.webhook_secret_env)
    json_lines = {"auto": None, "json": True, "text": False}[args.log_format]
    handler = daemon_logging.configure(
        level=logging.DEBUG if args.verbose else logging.INFO,
        json_lines=json_lines,
        extra_secrets=[secret.decode()] if secret else (),
    )
    repo_dir = Path(args.repo)
    try:
        with DaemonLock(default_lock_path(repo_dir)), GitRepo(repo_dir) as repo:
            queue = WorkQueue()
            metrics = DaemonMetrics(queue_depth=lambda: float(len(queue)))
            marketplace = InstrumentedMarketplace(
                marketplace_at(args, repo, known_tip(repo, watch)), metrics
            )
            reconciler = Reconciler(
                repo,
                marketplace,
                validate=default_validate,
                judge=judge_from_args(args, repo, watch),
                watch=watch,
                clock=lambda: datetime.now(UTC),
                # Each shard keeps its own reconciled record, so daemons over
                # disjoint offer sets never mistake each other's progress for theirs.
                include=shard.owns if shard.count > 1 else None,
                part=f"shard-{shard.index}-of-{shard.count}" if shard.count > 1 else "",
            )
            adapter = ReconcilerPass(
                reconciler,
                repo,
                in_flight_poll=_in_flight_poll(args),
                time_scale=_time_scale(args),
            )
            daemon = Daemon(
                adapter,
                scope=adapter,
                config=DaemonConfig(interval=args.interval, resync_every=args.resync),
                shard=shard,
                branch=watch.branch or repo.head_branch() or "",
                watch_repo=repo.worktree,
                git_dir=repo.git_dir if not watch.remote else None,
                probe=ls_remote_probe(repo_dir, watch.remote, watch.branch or "")
                if watch.remote
                else None,
                tip=_local_tip(repo, watch) if not watch.remote else None,
                listen=listen,
                webhook_secret=secret,
                queue=queue,
                metrics=metrics,
            )
            log.info(
                "offerctl daemon started (pid %d) on %s",
                os.getpid(),
                f"{watch.remote}/{watch.branch}" if watch.remote else repo_dir.resolve(),
            )
            return daemon.run()
    finally:
        logging.getLogger("controller").removeHandler(handler)


@dataclass
class ReconcilerPass:
    """Adapts `Reconciler.run_pass` to the daemon's `Reconcile` and `Scope` interfaces.

    None (every offer) runs one whole full pass. A set of offers is a batch:
    `run_pass(only=...)` evaluates just those (the ones still at the tip) and
    commits their status. As the daemon's `Scope` it tracks `head`, the commit
    every change up to which is accounted for (evaluated, or handed to the daemon
    to queue): `changed()` diffs it against the tip, and each batch diffs it
    against the commit the batch read, so a commit someone made between batches
    is never skipped (its offers come back in `changed`). `record` then writes
    `head` as the reconciled commit with every offer in flight or still queued.

    Phases for the metrics come from what the passes returned (their
    transitions); an offer's status.yaml is read only the first time the
    daemon meets it, to seed its phase.
    """

    reconciler: Reconciler
    repo: GitRepo
    in_flight_poll: float  # seconds; for offers in flight with no expected time
    time_scale: float = 1.0  # marketplace seconds per wall-clock second
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    head: str | None = None  # every change up to this commit is accounted for
    in_flight: set[str] = field(default_factory=set)  # per the latest evaluation of each
    phase: dict[str, str] = field(default_factory=dict)  # offer -> its latest phase

    def __call__(self, offers: frozenset[str] | None) -> PassReport:
        if offers is not None:
            return self._batch(offers)
        try:
            result = self.reconciler.run_pass(full=True)
        except PassLockBusy as exc:  # a one-shot `offerctl reconcile` holds the branch
            raise TransientError(str(exc), retry_after=1.0) from None
        head = result.commit or result.base
        return PassReport(
            ok=True,
            committed=result.commit is not None,
            next_due=self._next_due(result),
            failed_offers=dict(result.errors),
            phases=self._phases(result, head),
            push_retries=max(0, result.attempts - 1),
            head=head,
        )

    # --- the daemon's Scope ------------------------------------------------------------

    def offers(self) -> frozenset[str]:
        """Every offer at the tip; from here on the scope accounts for changes."""
        tip = self._tip()
        self.head = tip
        if not tip:
            return frozenset()
        return self._ids(tip)

    def changed(self) -> frozenset[str] | None:
        tip = self._tip()
        changed = self._changed_between(self.head, tip)
        self.head = tip or self.head
        return changed

    def record(self, pending: frozenset[str]) -> None:
        if self.head:
            self.reconciler.record_batched_pass(self.head, self.in_flight | pending)

    # --- one batch -----------------------------------------------------------------------

    def _batch(self, offers: frozenset[str]) -> PassReport:
        try:
            try:
                result = self.reconciler.run_pass(only=offers)
            except UserError:  # an offer left the branch: evaluate the ones still on it
                tip = self._tip()
                present = offers & self._ids(tip, offers) if tip else frozenset()
                if not present:  # nothing to evaluate, nothing to write
                    self.in_flight -= offers
                    return PassReport(ok=True, head=tip)
                result = self.reconciler.run_pass(only=present)
        except PassLockBusy as exc:  # a one-shot `offerctl reconcile` holds the branch
            raise TransientError(str(exc), retry_after=1.0) from None
        except UserError as exc:  # yet another offer vanished meanwhile: retry soon
            raise TransientError(str(exc), retry_after=0.1) from None
        changed = self._changed_between(self.head, result.base)
        others = frozenset({ALL}) if changed is None else changed - set(result.evaluated)
        head = result.commit or result.base
        self.head = head
        for offer in offers:
            if offer in result.in_flight:
                self.in_flight.add(offer)
            else:
                self.in_flight.discard(offer)
        return PassReport(
            ok=True,
            committed=result.commit is not None,
            next_due=self._next_due(result),
            failed_offers=dict(result.errors),
            phases=self._batch_phases(result, head),
            push_retries=max(0, result.attempts - 1),
            head=head,
            changed=others,
        )

    def _tip(self) -> str:
        watch = self.reconciler.watch
        if watch.remote:
            return self.repo.fetch(watch.remote, watch.branch or "")
        branch = watch.branch or self.repo.head_branch() or ""
        return (self.repo.resolve(f"refs/heads/{branch}") if branch else None) or ""

    def _ids(self, commit: str, offers: frozenset[str] | None = None) -> frozenset[str]:
        ids = self.repo.snapshot(commit, offers).offer_ids()
        include = self.reconciler.include
        return frozenset(o for o in ids if include is None or include(o))

    def _changed_between(self, old: str | None, new: str) -> frozenset[str] | None:
        """Offers whose folders differ between two commits; None: every offer may have
        changed (no known start, a rewritten history, or a policy file changed)."""
        if not new or old == new:
            return frozenset()
        if not old or not self.repo.is_ancestor(old, new):
            return None
        offers: set[str] = set()
        for path in self.repo.changed_paths(old, new):
            if path in POLICY_PATHS:
                return None
            parts = path.split("/")
            if len(parts) >= 3 and parts[0] == OFFERS_DIR:
                offers.add(parts[1])
        return frozenset(offers)

    def _batch_phases(self, result: PassResult, head: str) -> dict[str, str]:
        """The phase of every offer the batch evaluated: from its transitions, else the
        phase already known; status.yaml is read only for an offer never seen before."""
        for transition in result.transitions:
            self.phase[transition.offer] = transition.after.value
        unseen = [o for o in result.evaluated if o not in self.phase]
        if unseen:
            self.phase.update(self._read_phases(head, unseen))
        return {o: self.phase[o] for o in result.evaluated if o in self.phase}

    def _next_due(self, result: PassResult) -> dict[str, datetime]:
        """A timer per offer in flight, due when the pipeline next expects news of it.

        The pipeline's wait is in marketplace time; a compressed clock brings it
        closer by the time scale. Offers with no expected time are polled at the
        flat in-flight interval.
        """
        now = self.clock()
        fallback = now + timedelta(seconds=self.in_flight_poll)
        due: dict[str, datetime] = {}
        for offer in result.in_flight:
            if offer in result.errors:
                continue  # the queue backs failed offers off on its own
            wake = result.wake_at.get(offer)
            if wake is None:
                due[offer] = fallback
                continue
            delay = (wake - now).total_seconds() / self.time_scale
            due[offer] = now + timedelta(seconds=max(MIN_IN_FLIGHT_POLL, delay))
        return due

    def _phases(self, result: PassResult, head: str) -> dict[str, str]:
        """Every offer's phase after a full pass; the offers that changed phase otherwise."""
        if not result.full:
            return {t.offer: t.after.value for t in result.transitions}
        return self._read_phases(head, None)

    def _read_phases(self, head: str, offers: list[str] | None) -> dict[str, str]:
        """Phases as written in status.yaml at `head` (all offers, or just `offers`)."""
        snapshot = self.repo.snapshot(head, offers)
        phases: dict[str, str] = {}
        for offer in snapshot.offer_ids():
            path = f"offers/{offer}/status.yaml"
            if snapshot.entry(path) is None:
                continue
            try:
                parsed = status.parse(snapshot.read(path), name=path)
            except OfferctlError as exc:  # an unreadable status only leaves a gap in a gauge
                log.debug("no phase for %s: %s", offer, exc)
                continue
            if parsed is not None:
                phases[offer] = parsed.phase.value
        return phases


def _local_tip(repo: GitRepo, watch: Watch) -> Probe:
    ref = f"refs/heads/{watch.branch}" if watch.branch else "HEAD"
    return lambda: repo.resolve(ref) or ""


def _time_scale(args: argparse.Namespace) -> float:
    """The simulated marketplace's time scale; 1 for a real (http) marketplace."""
    try:
        return resolve_time_scale(args.time_scale)
    except UsageError:
        return 1.0


def _in_flight_poll(args: argparse.Namespace) -> float:
    """How often an offer in flight with no expected time is looked at: a marketplace minute."""
    return max(MIN_IN_FLIGHT_POLL, IN_FLIGHT_POLL_SECONDS / _time_scale(args))
