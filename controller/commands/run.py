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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from controller.commands import statustrust
from controller.commands.wiring import (
    PassOptions,
    judge_from_args,
    known_tip,
    marketplace_at,
    watch_from_args,
)
from controller.core.errors import OfferctlError, TransientError, UsageError, UserError
from controller.daemon import logging as daemon_logging
from controller.daemon.http import parse_listen
from controller.daemon.lock import DaemonLock, default_lock_path
from controller.daemon.loop import Daemon, DaemonConfig, PassReport
from controller.daemon.metrics import DaemonMetrics, InstrumentedMarketplace
from controller.daemon.shard import ALL_SHARDS, parse_shard
from controller.daemon.shardref import ShardFence, ShardMapRef
from controller.daemon.timeline import TimelinePage
from controller.daemon.transitions import log_transitions
from controller.daemon.triggers import Probe, ls_remote_probe
from controller.daemon.webhook import secret_from_env
from controller.daemon.workqueue import ALL, WorkQueue
from controller.git.repo import OFFERS_DIR, POLICY_PATHS, GitRepo, PassLockBusy
from controller.http import RetryPolicy
from controller.marketplace.factory import resolve_time_scale
from controller.notify.stall import StallWatch
from controller.notify.wiring import open_notifier
from controller.prcheck.daemon_poster import StatusPublisher
from controller.prcheck.daemon_status import CONTEXT, PhaseBook, commit_status, context_for
from controller.prcheck.github import ChecksPoster, PostError, check_repository
from controller.reconcile.reconciler import (
    PassResult,
    Reconciler,
    Watch,
    build_reconciler,
)
from controller.signoff.operator import github_endpoint

if TYPE_CHECKING:
    from controller.notify.sender import Notifier

log = logging.getLogger("controller.run")

# The simulated marketplace's shortest stage (Validation) takes at least 3 minutes of
# marketplace time; polling an in-flight offer every minute of it sees each stage end.
IN_FLIGHT_POLL_SECONDS = 60.0
MIN_IN_FLIGHT_POLL = 0.05
# On SIGTERM, notifications already queued get this long to go out; the rest stay pending
# in the ledger and are sent by the next start.
NOTIFY_DRAIN_SECONDS = 5.0


def run(args: argparse.Namespace) -> int:
    options = PassOptions.from_args(args)
    watch = watch_from_args(options)
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
    notifier: Notifier | None = None
    watchdog: StallWatch | None = None
    publisher = open_status_publisher(args)
    try:
        with (
            DaemonLock(default_lock_path(repo_dir)),
            GitRepo(repo_dir) as repo,
            TimelinePage(repo_dir, include=shard.owns if shard.count > 1 else None) as page,
        ):
            repo.status_signing_key = statustrust.signing_key(os.environ)  # signed status
            queue = WorkQueue()
            metrics = DaemonMetrics(queue_depth=lambda: float(len(queue)))
            notifier = open_notifier(
                args,
                repo,
                watch,
                part=_part(shard.index, shard.count),
                owns=shard.owns,
                count=lambda kind, outcome: metrics.notifications.labels(
                    kind=kind, outcome=outcome
                ).inc(),
                extra_secrets=(secret.decode(),) if secret else (),
            )
            marketplace = InstrumentedMarketplace(
                marketplace_at(options, repo, known_tip(repo, watch)), metrics
            )
            branch = watch.branch or repo.head_branch() or ""
            # With --shard, a pass runs only while the recorded shard count allows it,
            # so that changing N never lets two shards handle one offer (shardmap).
            fence = None
            if args.shard:
                if not branch:
                    raise UsageError("--shard needs a branch: check one out, or give --branch")
                fence = ShardFence(ShardMapRef(repo_dir, branch, watch.remote), shard)
            reconciler = build_reconciler(
                repo,
                marketplace,
                watch,
                judge=judge_from_args(options, repo, watch),
                # Each shard keeps its own reconciled record, so daemons over
                # disjoint offer sets never mistake each other's progress for theirs.
                include=shard.owns if shard.count > 1 else None,
                part=_part(shard.index, shard.count),
            )
            adapter = ReconcilerPass(
                reconciler,
                repo,
                in_flight_poll=_in_flight_poll(options.time_scale),
                time_scale=_time_scale(options.time_scale),
                fence=fence,
                fence_retry=max(1.0, args.interval),
                notifier=notifier,
                publisher=publisher,
                status_context=context_for(shard.index, shard.count),
                status_url=args.status_url or "",
            )
            daemon = Daemon(
                adapter,
                scope=adapter,
                config=DaemonConfig(interval=args.interval, resync_every=args.resync),
                shard=shard,
                branch=branch,
                watch_repo=repo.worktree,
                git_dir=repo.git_dir if not watch.remote else None,
                probe=ls_remote_probe(repo_dir, watch.remote, watch.branch or "")
                if watch.remote
                else None,
                tip=_local_tip(repo, watch) if not watch.remote else None,
                listen=listen,
                webhook_secret=secret,
                page=page.render,
                queue=queue,
                metrics=metrics,
            )
            log.info(
                "offerctl daemon started (pid %d) on %s",
                os.getpid(),
                f"{watch.remote}/{watch.branch}" if watch.remote else repo_dir.resolve(),
            )
            if notifier is not None:
                watchdog = StallWatch(
                    daemon.stall_age,
                    daemon.pacing.stall_after,  # the /healthz threshold, as measured
                    notifier.announce,
                    part=_part(shard.index, shard.count),
                )
                watchdog.start()
            try:
                return daemon.run()
            finally:
                # No pass is running any more and none will: a handover need not wait.
                if fence is not None:
                    _release(fence)
    finally:
        if watchdog is not None:
            watchdog.stop()
        if notifier is not None:
            notifier.close(timeout=NOTIFY_DRAIN_SECONDS)
        if publisher is not None:
            publisher.close(timeout=NOTIFY_DRAIN_SECONDS)
        logging.getLogger("controller").removeHandler(handler)


def _part(index: int, count: int) -> str:
    """The shard's name in the controller's private files ("" for the only daemon)."""
    return f"shard-{index}-of-{count}" if count > 1 else ""


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

    Phases for the metrics come from the statuses the pass returned; no
    status.yaml is read back for them.
    """

    reconciler: Reconciler
    repo: GitRepo
    in_flight_poll: float  # seconds; for offers in flight with no expected time
    time_scale: float = 1.0  # marketplace seconds per wall-clock second
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    fence: ShardFence | None = None  # with --shard: may this shard act now?
    fence_retry: float = 30.0  # seconds until a shard that may not act asks again
    notifier: Notifier | None = None
    # with --github-status-repo: the daemon's commit status, posted off the pass's path
    publisher: StatusPublisher | None = None
    status_context: str = CONTEXT
    status_url: str = ""
    book: PhaseBook = field(default_factory=PhaseBook)
    head: str | None = None  # every change up to this commit is accounted for
    in_flight: set[str] = field(default_factory=set)  # per the latest evaluation of each

    def __call__(self, offers: frozenset[str] | None) -> PassReport:
        if self.fence is not None:
            step = self.fence.check()
            if not step.act:
                raise TransientError(f"not reconciling: {step.reason}", self.fence_retry)
        if offers is not None:
            return self._batch(offers)
        try:
            result = self.reconciler.run_pass(full=True)
        except PassLockBusy as exc:  # a one-shot `offerctl reconcile` holds the branch
            raise TransientError(str(exc), retry_after=1.0) from None
        return self._report(result, frozenset())

    def _report(self, result: PassResult, changed: frozenset[str]) -> PassReport:
        """After the pass's commit: log, notify and post its outcome; what the loop hears."""
        log_transitions(result)
        if self.notifier is not None:  # after the commit; queues, never sends or raises here
            self.notifier.observe(result.statuses)
        if self.publisher is not None:  # hands the body to a thread; never blocks or raises
            self.book.update(result.statuses, full=result.full, evaluated=result.evaluated)
            self.publisher.offer(
                result.base,
                commit_status(
                    self.book.phases,
                    result.errors,
                    context=self.status_context,
                    target_url=self.status_url,
                ),
            )
        return PassReport(
            ok=True,
            committed=result.commit is not None,
            next_due=self._next_due(result),
            failed_offers=dict(result.errors),
            # The statuses the pass holds: no status.yaml is read back for the gauge.
            phases={offer: st.phase.value for offer, st in result.statuses.items()},
            push_retries=max(0, result.attempts - 1),
            head=result.commit or result.base,
            changed=changed,
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
                result = self.reconciler.run_pass(only=offers, widen=True)
            except UserError:  # an offer left the branch: evaluate the ones still on it
                tip = self._tip()
                present = offers & self._ids(tip, offers) if tip else frozenset()
                if not present:  # nothing to evaluate, nothing to write
                    self.in_flight -= offers
                    return PassReport(ok=True, head=tip)
                result = self.reconciler.run_pass(only=present, widen=True)
        except PassLockBusy as exc:  # a one-shot `offerctl reconcile` holds the branch
            raise TransientError(str(exc), retry_after=1.0) from None
        except UserError as exc:  # yet another offer vanished meanwhile: retry soon
            raise TransientError(str(exc), retry_after=0.1) from None
        changed = self._changed_between(self.head, result.base)
        others = frozenset({ALL}) if changed is None else changed - set(result.evaluated)
        self.head = result.commit or result.base
        for offer in offers | set(result.evaluated):  # with those a move made it read
            if offer in result.in_flight:
                self.in_flight.add(offer)
            else:
                self.in_flight.discard(offer)
        return self._report(result, others)

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


def _release(fence: ShardFence) -> None:
    try:
        fence.release()
    except OfferctlError as exc:  # the next handover waits for this shard; say so
        log.warning("could not record shard %s as stopped: %s", fence.shard, exc)


def _local_tip(repo: GitRepo, watch: Watch) -> Probe:
    ref = f"refs/heads/{watch.branch}" if watch.branch else "HEAD"
    return lambda: repo.resolve(ref) or ""


def _time_scale(flag: float | None) -> float:
    """The simulated marketplace's time scale; 1 for a real (http) marketplace."""
    try:
        return resolve_time_scale(flag)
    except UsageError:
        return 1.0


def _in_flight_poll(time_scale: float | None) -> float:
    """How often an offer in flight with no expected time is looked at: a marketplace minute."""
    return max(MIN_IN_FLIGHT_POLL, IN_FLIGHT_POLL_SECONDS / _time_scale(time_scale))


ENV_GITHUB_STATUS_REPO = "OFFERCTL_GITHUB_STATUS_REPO"
# A status is only the latest word: a short try, and the next pass offers it again.
STATUS_POST_POLICY = RetryPolicy(timeout=10.0, max_attempts=3, backoff=1.0, max_backoff=5.0)


def open_status_publisher(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> StatusPublisher | None:
    """The commit-status poster when the operator named a repository, else None.

    The repository, the API and the token all come from the operator (flags and
    environment); a usage error names what is missing, never a token.
    """
    env = os.environ if env is None else env
    repository = args.github_status_repo or env.get(ENV_GITHUB_STATUS_REPO) or ""
    if not repository:
        return None
    if args.status_url and not args.status_url.startswith("https://"):
        raise UsageError(f"--status-url {args.status_url!r} must be an https:// URL")
    try:
        check_repository(repository)
        poster = ChecksPoster(
            github_endpoint(args.github_api_url, env), repository, policy=STATUS_POST_POLICY
        )
    except (ValueError, PostError) as exc:
        raise UsageError(f"--github-status-repo: {exc}") from None
    return StatusPublisher(poster)
