"""One reconcile pass: read desired state from a commit, move offers along, commit what was seen.

A pass is its named steps, in order, each a module with one signature:

    locate    -> the commit to read (the remote branch's tip after a fetch, or
                 the checked-out branch's HEAD);
    scope     -> which offers to evaluate (`scope.scope`);
    evaluate  -> one snapshot of that commit's tree, then per offer its inputs:
                 the validated manifest, the sign-off verdict, the controller's
                 own record (`evaluate.read`, `evaluate.inputs`);
    converge  -> per offer: observe -> decide -> act against the marketplace, no
                 git (`converge.converge`), then what the repository adds
                 (`evaluate.settle`) and the per-offer record (`record.remember`);
    land      -> status.yaml rendered, one commit, compare-and-swap or push,
                 rebuilt on the new tip when someone else got there first
                 (`land.land`);
    record    -> the last reconciled ref and the offers in flight (`record.record`).

`Reconciler.plan` is the read-only path beside it (`controller.reconcile.plan`):
locate, evaluate, then decide once per offer without acting, saving or landing.
`build_reconciler` makes the reconciler `offerctl reconcile`, `plan` and `run` use.

status.yaml is output only. What the controller last decided for an offer,
with the submission it follows, is its own record outside the working tree
(`controller.reconcile.records`, under .git/offerctl/records/); a status.yaml that was
hand-edited, copied from another folder or forged changes nothing but itself
and is rewritten.

Errors are isolated per offer (`evaluate.each`, `converge.marketplace_failed`).
The land step runs for everything that was evaluated. Git failures end the
pass with the error; nothing is half-written because the branch moves only by
one compare-and-swap or one push.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from controller.core import eta
from controller.core.errors import UserError
from controller.core.model import OfferStatus
from controller.failpoint import AFTER_PUSH, failpoint
from controller.git.history import GitHistoryError
from controller.git.repo import GitRepo, Identity, check_branch_name
from controller.marketplace.api import Marketplace
from controller.reconcile import calendar, collector, evaluate, land, record
from controller.reconcile.converge import converge
from controller.reconcile.decisions import Decisions
from controller.reconcile.evaluate import (
    _last_status,
    _load_policy,
    default_judge,
    default_validate,
    policy_at,
)
from controller.reconcile.land import check_status, commit_message
from controller.reconcile.plan import plan as plan_offers
from controller.reconcile.records import RecordStore, ReplayRecords, SqliteRecords, watch_key
from controller.reconcile.rendered import RenderedOids
from controller.reconcile.reuse import CACHE_DIR, Reusing, VerdictStore, reusing
from controller.reconcile.scope import changed_offers, scope
from controller.reconcile.types import (
    EVERY_OFFER,
    Clock,
    JudgeSignOff,
    OfferCheck,
    Outcome,
    PassResult,
    PlannedOffer,
    Scope,
    SignOffQuestion,
    Transition,
    Validate,
    Watch,
    no_signoff,
)
from controller.signoff import continuity

__all__ = [  # the names commands and tests import from here
    "Clock",
    "JudgeSignOff",
    "OfferCheck",
    "PassResult",
    "PlannedOffer",
    "Reconciler",
    "SignOffQuestion",
    "Transition",
    "Validate",
    "Watch",
    "_last_status",
    "build_reconciler",
    "check_status",
    "commit_message",
    "default_judge",
    "default_validate",
    "no_signoff",
    "policy_at",
]

log = logging.getLogger(__name__)


class Reconciler:
    """Runs reconcile passes (and plans) for one watched branch of one repository."""

    def __init__(
        self,
        repo: GitRepo,
        marketplace: Marketplace,
        *,
        validate: Validate,
        judge: JudgeSignOff = no_signoff,
        watch: Watch | None = None,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        identity: Identity | None = None,
        include: Callable[[str], bool] | None = None,
        part: str = "",
        records: RecordStore | None = None,
    ) -> None:
        """`include` limits the pass to the offers it accepts (a daemon shard); such a
        subset must be named by `part` so that it keeps its own reconciled record.

        `records` is where the controller keeps what it decided per offer (default:
        files under the repository's private directory, per watched branch)."""
        if include is not None and not part:
            raise ValueError("a pass limited by `include` needs a `part` name")
        self.include = include
        self.part = part
        self.repo = repo
        self.marketplace = marketplace
        self.validate = validate
        self.judge = judge
        self.watch = watch or Watch()
        self.clock = clock
        self.sleep = sleep
        self.identity_override = identity
        self.records = records
        self.rendered = RenderedOids()  # status -> blob id, kept across passes
        self.decisions = Decisions()  # decide's clock-free half by input, kept across passes
        self._stores: dict[str, SqliteRecords] = {}  # branch -> its records, kept across passes

    def run_pass(
        self, *, full: bool = False, only: Iterable[str] | None = None, widen: bool = False
    ) -> PassResult:
        """One pass; `full` evaluates every offer regardless of what changed.

        `only` evaluates just those offers (`offerctl reconcile OFFER...`): the others
        are neither read nor acted upon nor have their status rewritten, and the pass
        records no reconciled commit, so the next pass still sees what changed since
        the last one that covered every offer. An id with no folder at the commit read
        is a UserError, raised before anything is evaluated. With `widen` (the daemon's
        batches), offers someone changed on the branch while the pass ran are evaluated
        and land in the same commit (they are in `evaluated`), instead of left out.
        """
        if only is not None:
            return self._run_offers(frozenset(only), widen=widen)
        branch = self._branch()
        key = watch_key(branch, self.watch.remote)
        if self.part:
            key = f"{key}@{self.part}"
        store = self.records_for(branch)
        with self.repo.pass_lock(key), collector.fewer_collections():
            self.repo.clear_stale_locks()
            recorded_ref = GitRepo.reconciled_ref(branch, self.watch.remote, self.part)
            base, recorded, judged_at = self._start(branch, recorded_ref)
            state = record.load_state(self.repo, key)
            if (
                not full
                and recorded is not None
                and recorded != base
                and state
                and state.commit == recorded
            ):
                # What `scope` will ask, asked now: git answers it while the history is
                # read for `_replaced` (two processes at once, one pass's wall time less).
                self.repo.prefetch_changed_paths(recorded, base)
            judged = self._reconciled(branch, base, recorded, judged_at=judged_at)
            if not self.watch.remote:  # crash recovery: a status commit left unsynced
                land.finish_checkout_sync(self.repo, branch, base, recorded)
            today = eta.start_of_day(self.clock()).date()  # date-dependent estimates
            if full or self._replaced(base, judged):
                which = EVERY_OFFER
            else:
                # `judged` is on `base`'s first-parent history (not replaced): when it is
                # the recorded commit too, that one is an ancestor without asking git.
                which = scope(self.repo, base, recorded, state, today, ancestor=recorded == judged)
            outcomes = self._evaluate(
                base, which, store, overrides={}, branch=branch, reconciled=judged
            )
            result = land.land(self._landing(branch, store), base, which, outcomes)
            failpoint(AFTER_PUSH)
            estimates = calendar.after(state.estimates if state else {}, result, today)
            # The judged and reconciled refs move together (one transaction): the judged
            # one is never behind the reconciled one.
            refs = {self._judged_ref(branch): judged_at, recorded_ref: recorded}
            record.record(self.repo, refs, key, result, estimates)
            self.repo.wait_checkout_sync()  # the checkout's `git apply`, run meanwhile
            return result

    def _run_offers(self, offers: frozenset[str], *, widen: bool = False) -> PassResult:
        """evaluate -> converge -> land for `offers` alone; no scope, no record."""
        branch = self._branch()
        key = watch_key(branch, self.watch.remote)
        if self.part:
            key = f"{key}@{self.part}"
        store = self.records_for(branch)
        # The same lock as a whole pass: never both at once.
        with self.repo.pass_lock(key), collector.fewer_collections():
            base = self._locate(branch)
            if not self.watch.remote:
                recorded_ref = GitRepo.reconciled_ref(branch, None, self.part)
                land.finish_checkout_sync(self.repo, branch, base, self.repo.resolve(recorded_ref))
            missing = offers - set(self.repo.snapshot(base, offers).offer_ids())
            if missing:
                raise UserError(
                    f"no offer {', '.join(sorted(missing))} at {base[:12]} (no offers/<id>/ "
                    "folder); `offerctl status` lists the offers"
                )
            which = Scope(False, offers)
            judged = self._reconciled(branch, base)
            outcomes = self._evaluate(
                base, which, store, overrides={}, only=offers, branch=branch, reconciled=judged
            )
            landing = self._landing(branch, store, only=offers, widen=widen)
            result = land.land(landing, base, which, outcomes)
            # No reconciled commit, but sign-offs were judged here: later passes compare
            # with this commit, unless its history replaced the one judged before (then
            # the next whole pass, which evaluates every offer, finds what was replayed).
            commit = result.commit or result.base
            if not self._replaced(commit, judged):
                self.repo.record_reconciled(self._judged_ref(branch), commit)
            self.repo.wait_checkout_sync()  # the checkout's `git apply`, run meanwhile
            return result

    def record_batched_pass(self, commit: str, in_flight: Iterable[str]) -> None:
        """Record `commit` as reconciled, with `in_flight` offers for the next pass to poll.

        The `record` step of `run_pass`, for a caller that covered every offer in
        `only=` batches (the daemon): it must have evaluated every offer at `commit`
        or at a commit whose only changes since are its own batches' status commits,
        and name in `in_flight` every offer that still needs looking at.
        """
        branch = self._branch()
        key = watch_key(branch, self.watch.remote)
        if self.part:
            key = f"{key}@{self.part}"
        with self.repo.pass_lock(key):
            recorded_ref = GitRepo.reconciled_ref(branch, self.watch.remote, self.part)
            refs: dict[str, str | None] = {self._judged_ref(branch): None, recorded_ref: None}
            self.repo.record_reconciled_refs(refs, commit)  # together: see run_pass
            record.save_state(self.repo, key, commit, in_flight)

    def plan(self, base: str | None = None) -> tuple[str, tuple[PlannedOffer, ...]]:
        """Evaluate every offer as a full pass would, running no action and writing nothing.

        For `offerctl plan` (see `controller.reconcile.plan`). `base` is the
        commit to read (default: the branch tip a pass would read, fetched
        first in remote mode). No lock, no commit, no record, no reconciled ref.
        """
        branch = self._branch()
        store = self.records_for(branch)
        base = base or self._locate(branch)
        snapshot = evaluate.read(
            self.repo, base, EVERY_OFFER, self.include,
            reconciled=self._reconciled(branch, base),
            replays=ReplayRecords(self.repo.private_dir, branch, self.watch.remote, writable=False),
            branch=branch,
        )  # fmt: skip
        with collector.fewer_collections():
            planned = plan_offers(
                snapshot,
                store,
                self.marketplace,
                self.clock,
                validate=self.validate,
                judge=self.judge,
            )
        if isinstance(self.validate, Reusing):
            self.validate.flush()  # the next plan or pass of these trees reuses its verdicts
        return base, planned

    def branch_records(self) -> RecordStore:
        """The records a pass on the watched branch would read and write."""
        return self.records_for(self._branch())

    def records_for(self, branch: str) -> RecordStore:
        """The records a pass on `branch` reads and writes."""
        if self.records is not None:
            return self.records
        store = self._stores.get(branch)
        if store is None:  # one per branch for the reconciler's life: it remembers what it read
            store = self._stores[branch] = SqliteRecords(
                self.repo.private_dir, branch, self.watch.remote
            )
        return store

    # -- the steps' wiring -------------------------------------------------------------

    def _branch(self) -> str:
        if self.watch.branch:
            # Validated here too, not only by the commands: the name reaches git's argv.
            return check_branch_name(self.watch.branch)
        if self.watch.remote:
            raise UserError("--remote needs --branch: name the remote branch to reconcile")
        branch = self.repo.head_branch()
        if branch is None:
            raise UserError("HEAD is detached; check out a branch or pass --branch")
        return branch

    def _reconciled(
        self, branch: str, tip: str, recorded: str | None = None, *, judged_at: str | None = None
    ) -> str:
        """The commit sign-offs on `branch` at `tip` are compared with ("": none yet;
        docs/DESIGN.md §5, "A replaced history"): the last one a pass judged
        (`_judged_ref`, at `judged_at` when the caller read it: "" for none), else the last
        one a whole pass reconciled (`recorded`, read here when not given), else another
        part's."""
        judged = self.repo.resolve(self._judged_ref(branch)) if judged_at is None else judged_at
        if judged:
            return judged
        if recorded is None:
            recorded = self.repo.resolve(
                GitRepo.reconciled_ref(branch, self.watch.remote, self.part)
            )
        if recorded:
            return recorded
        # None of its own (a new shard count, a first sharded pass): another part's
        # record in this clone is a commit the controller judged on the same branch too.
        others = self.repo.branch_records(branch, self.watch.remote)
        for other in others:  # the first one `tip` no longer keeps, if any
            if self._replaced(tip, other):
                return other
        return others[0] if others else ""

    def _judged_ref(self, branch: str) -> str:
        """Where the last commit whose sign-offs a pass judged is kept: moved by every
        whole pass, and by a pass over some offers whose history keeps the one before."""
        return GitRepo.judged_ref(branch, self.watch.remote, self.part)

    def _replaced(self, tip: str, judged: str) -> bool:
        """Whether `judged` is no longer on `tip`'s first-parent history (a replaced or
        rewound history; also when git cannot tell): a whole pass then evaluates every
        offer, so each replayed sign-off is found and remembered before the ref moves."""
        if not judged:
            return False
        try:
            kept = continuity.lineage_at(self.repo, tip, judged).kept
        except GitHistoryError as exc:
            log.warning("cannot tell whether %s is still on the branch: %s", judged[:12], exc)
            return True
        if not kept:
            log.warning("the branch's history no longer contains %s, judged last", judged[:12])
        return not kept

    def _start(self, branch: str, recorded_ref: str) -> tuple[str, str | None, str]:
        """What a whole pass reads first: the commit to read (`_locate`), the recorded
        reconciled commit (None: none) and the judged one ("": none), the refs read
        with the tip's one git process where the branch is local."""
        judged_ref = self._judged_ref(branch)
        base, found = self._locate_with(branch, [recorded_ref, judged_ref])
        return base, found[recorded_ref], found[judged_ref] or ""

    def _locate(self, branch: str) -> str:
        """The commit whose desired state this pass reads."""
        return self._locate_with(branch, ())[0]

    def _locate_with(self, branch: str, refs: Sequence[str]) -> tuple[str, dict[str, str | None]]:
        """`_locate`, and the commits `refs` name (None: absent), read with it: one
        `for-each-ref` for all of them where the branch is local (after the fetch where
        it is a remote's)."""
        if self.watch.remote:
            base = self.repo.fetch(self.watch.remote, branch)
            return base, self.repo.resolve_refs(refs) if refs else {}
        tip_ref = f"refs/heads/{branch}"
        self.repo.objects.start()  # every pass reads objects: git starts it meanwhile
        found = self.repo.resolve_refs([tip_ref, *refs])
        tip = found.pop(tip_ref)
        if tip is None:
            raise UserError(f"branch {branch!r} does not exist or has no commits; nothing to do")
        return tip, found

    def _evaluate(
        self,
        base: str,
        which: Scope,
        store: RecordStore,
        overrides: Mapping[str, OfferStatus],
        only: frozenset[str] | None = None,
        *,
        branch: str,
        reconciled: str | None = None,
    ) -> dict[str, Outcome]:
        """evaluate -> converge -> settle -> remember, for each offer in `which` (and `only`).

        Sign-offs are judged against the last reconciled commit and the replays the
        controller remembers (docs/DESIGN.md §5, "A replaced history"); `reconciled` is
        that commit when the caller has read it already."""
        include = self.include
        if only is not None:  # also when a moved branch is re-read (`_rebuild`)
            include = _within(only, self.include)
        replays = ReplayRecords(self.repo.private_dir, branch, self.watch.remote)
        if reconciled is None:
            reconciled = self._reconciled(branch, base)
        snapshot = evaluate.read(
            self.repo, base, which, include, reconciled=reconciled, replays=replays, branch=branch
        )

        def step(offer: str) -> Outcome:
            last = overrides.get(offer) or store.load(offer)
            work = evaluate.inputs(
                snapshot, offer, last, self.validate, self.judge, rendered=self.rendered
            )
            converged = converge(work, self.marketplace, self.clock, decide=self.decisions.decide)
            outcome = evaluate.settle(snapshot, work, converged)
            record.remember(store, work, outcome)
            return outcome

        # Per-offer memos that cannot hold this pass's offers would only cost memory.
        count = len(snapshot.offers)
        self.decisions.expect(count)
        self.rendered.expect(count)
        if isinstance(store, SqliteRecords):
            store.check()  # a database that is not ours stops the pass before any action
            store.expect(count)
        if isinstance(self.validate, Reusing):
            self.validate.expect(count)
        outcomes = evaluate.each(snapshot.offers, step)
        store.flush()  # the pass's records are durable before its status commit lands
        if isinstance(self.validate, Reusing):
            self.validate.flush()
        return outcomes

    def _landing(
        self,
        branch: str,
        store: RecordStore,
        *,
        only: frozenset[str] | None = None,
        widen: bool = False,
    ) -> land.Landing:
        def rebuild(old_base: str, outcomes: dict[str, Outcome]) -> tuple[str, dict[str, Outcome]]:
            return self._rebuild(branch, store, old_base, outcomes, only, widen=widen)

        return land.Landing(
            self.repo,
            branch,
            self.watch.remote,
            identity=self._identity,
            clock=self.clock,
            sleep=self.sleep,
            rebuild=rebuild,
            rendered=self.rendered,
        )

    def _rebuild(
        self,
        branch: str,
        store: RecordStore,
        old_base: str,
        outcomes: dict[str, Outcome],
        only: frozenset[str] | None = None,
        *,
        widen: bool = False,
    ) -> tuple[str, dict[str, Outcome]]:
        """The branch moved: re-read what changed on it; our statuses stand for the rest.
        With `widen`, offers changed outside `only` are evaluated too (not when every
        offer may have changed: that stays a full pass's job)."""
        new_base = self._locate(branch)
        changed = (
            changed_offers(self.repo, old_base, new_base)
            if self.repo.is_ancestor(old_base, new_base)
            else None
        )
        overrides = {o.offer: o.after for o in outcomes.values() if o.after is not None}
        which = EVERY_OFFER if changed is None else Scope(False, frozenset(changed))
        if which.full or changed:
            log.info(
                "%s moved to %s; re-evaluating %s",
                branch,
                new_base[:12],
                "every offer" if which.full else ", ".join(sorted(changed or ())),
            )
            limit = None if widen and not which.full else only
            fresh = self._evaluate(new_base, which, store, overrides, limit, branch=branch)
            for offer, outcome in fresh.items():
                if offer in outcomes:  # transitions are told against the committed status
                    outcome.before = outcomes[offer].before
            outcomes = {**outcomes, **fresh}
        return new_base, outcomes

    def _identity(self, base: str) -> Identity:
        if self.identity_override is not None:
            return self.identity_override
        who = _load_policy(self.repo.snapshot(base, ())).controller
        return Identity(who.name, who.email)


def _within(only: frozenset[str], include: Callable[[str], bool] | None) -> Callable[[str], bool]:
    """The offers in `only` that `include` (a shard, when set) also accepts."""
    return lambda offer: offer in only and (include is None or include(offer))


def _now() -> datetime:
    return datetime.now(UTC)


def build_reconciler(
    repo: GitRepo,
    marketplace: Marketplace,
    watch: Watch | None = None,
    *,
    judge: JudgeSignOff | None = None,
    validate: Validate = default_validate,
    clock: Clock = _now,
    include: Callable[[str], bool] | None = None,
    part: str = "",
    records: RecordStore | None = None,
) -> Reconciler:
    """The reconciler `offerctl reconcile`, `plan` and `run` use.

    The real validation, sign-offs judged from git history (or the platform
    publishing.yaml names) unless `judge` is given, the system clock. The real
    validation's verdicts are reused while nothing an offer's validation read
    has changed (`controller.reconcile.reuse`).
    """
    if validate is default_validate:
        validate = reusing(validate, VerdictStore(repo.private_dir / CACHE_DIR))
    return Reconciler(
        repo,
        marketplace,
        validate=validate,
        judge=judge or default_judge(repo),
        watch=watch,
        clock=clock,
        include=include,
        part=part,
        records=records,
    )
