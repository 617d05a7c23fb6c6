"""One reconcile pass: read desired state from a commit, move offers along, commit what was seen.

A pass is an ordered list of small steps, each changing only in-memory state:

    locate  -> the commit to read (the remote branch's tip after a fetch, or
               the checked-out branch's HEAD);
    scope   -> which offers to evaluate: all of them on a first pass, after a
               history rewrite or a policy change; otherwise the offers whose
               folders changed since the last reconciled commit plus the ones
               with work in flight;
    load    -> one snapshot of that commit's tree (only those offers);
    per offer: validate -> observe -> decide -> act (a fixpoint: decide, run
               the actions, observe again, decide again, at most MAX_ROUNDS);
    record  -> status.yaml bytes for every offer whose status changed;
    flush   -> one commit with the controller's identity on top of the read
               commit, moved onto the branch (compare-and-swap locally, a
               fast-forward push remotely; rebuilt on the new tip when someone
               else got there first), then the reconciled commit is recorded.

Local mode commits onto the branch a person may have checked out. The commit
is built from the read commit's tree in a private index, so their index and
uncommitted edits are never swept in; after the branch moves, each status.yaml
the pass wrote is also updated in their index and working tree, but only when
they have not touched that file (see `GitRepo.sync_checked_out`), so `git
status` stays clean and a hand edit stays theirs.

status.yaml is output only. What the controller last decided for an offer,
with the submission it follows, is its own record outside the working tree
(`controller.reconcile.records`, under .git/offerctl/records/); a status.yaml that was
hand-edited, copied from another folder or forged changes nothing but itself
and is rewritten. Every submission observed is checked to belong to the offer
it is observed for (the marketplace names each submission's offer), and only
such submissions are acted on.

Incremental passes: the last reconciled commit is kept in a ref under
refs/offerctl/ and the offers still in flight in .git/offerctl/state/; the
next pass diffs that commit against the new tip. A missing or mismatched
record, a rewritten history (the record is no longer an ancestor) or a change
to publishing.yaml or CODEOWNERS makes a full pass.

Errors are isolated per offer: an invalid manifest gives that offer phase
Invalid; a marketplace error sets a MarketplaceError condition on that offer
and keeps its last status; an unexpected exception leaves that offer's status
as it was. The flush runs for everything that was evaluated. Git failures end
the pass with the error; nothing is half-written because the branch moves
only by one compare-and-swap or one push.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from controller import __version__
from controller.core import pipeline
from controller.core.errors import FatalError, TransientError, UserError
from controller.core.escaping import printable
from controller.core.generation import file_digest, generation
from controller.core.model import (
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    SignOffVerdict,
    StageState,
    Target,
)
from controller.core.redaction import Redactor
from controller.failpoint import (
    AFTER_COMMIT_OBJECT,
    AFTER_GO_LIVE,
    AFTER_PUSH,
    AFTER_REF_UPDATE,
    AFTER_SUBMIT,
    MID_STATE_WRITE,
    failpoint,
)
from controller.files.fsio import atomic_write
from controller.files.yamlio import YamlError, load_mapping
from controller.git.repo import (
    OFFERS_DIR,
    POLICY_PATHS,
    GitRepo,
    Identity,
    PushRejected,
    RefMoved,
    check_branch_name,
)
from controller.git.repo import blob_oid as git_blob_oid
from controller.git.tree import GitTreeFiles, TreeSnapshot
from controller.marketplace.api import (
    Marketplace,
    MarketplaceError,
    NotFound,
    OfferListing,
    OfferPayload,
    Submission,
)
from controller.reconcile.records import FileRecords, RecordStore, watch_key
from controller.repo import status
from controller.repo.policy import POLICY_FILE, Policy, Provider, parse_policy
from controller.signoff import evaluate_signoff
from controller.signoff import rules as signoff_rules
from controller.signoff.operator import AzureDevOpsEndpoint, GitHubEndpoint
from controller.validation import engine
from controller.validation.files import FileSource

log = logging.getLogger(__name__)

MAX_ROUNDS = 3  # decide -> act -> observe rounds per offer and pass
MAX_ATTEMPT_PROBES = 16  # later attempts of one generation looked up past the expected ones
PUSH_ATTEMPTS = 5  # tries to land the status commit when the branch keeps moving
BACKOFF_SECONDS = 0.5  # first wait before rebuilding; doubles per attempt
STATE_VERSION = 1
STATUS_FILE = "status.yaml"
MANIFEST_FILE = "offer.yaml"
SIGNOFF_FILE = "signoff.yaml"

# Phases in which the marketplace moves on its own: such offers are polled every pass.
POLLED_PHASES = frozenset({
    Phase.VALIDATING, Phase.CERTIFYING, Phase.PACKAGING, Phase.PUBLISHING,
    Phase.GOING_LIVE, Phase.WITHDRAWING,
})  # fmt: skip
# Folder names a status.yaml may be written under; validation reports ids it does not accept.
# Lone surrogates: bytes that were not UTF-8 (surrogateescape); no status can name them.
_FOLDER = re.compile(r"^[^\x00-\x1f\x7f/\\.\ud800-\udfff][^\x00-\x1f\x7f/\\\ud800-\udfff]{0,254}$")

Clock = Callable[[], datetime]
# A marketplace's error text may quote a signed URL (SAS `sig=`) or a token; status.yaml,
# commit diffs and `offerctl reconcile` output get it with such values masked.
_REDACT = Redactor()


# ---------------------------------------------------------------- seams


@dataclass(frozen=True, slots=True)
class OfferCheck:
    """What validation says about one offer folder at the commit being read."""

    generation: str  # "" when the manifest could not be read far enough to have one
    target: Target | None
    suspend: bool
    findings: tuple[Finding, ...]
    spec: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)  # offer-relative asset bytes


class Validate(Protocol):
    """Validate offers/<offer>/ as the commit holds it (through `files`)."""

    def __call__(self, files: FileSource, offer: str) -> OfferCheck: ...


@dataclass(frozen=True, slots=True)
class SignOffQuestion:
    """Everything the sign-off check needs to judge one offer's signoff.yaml."""

    offer: str
    generation: str
    commit: str  # the commit being reconciled
    files: FileSource
    policy: Policy


class JudgeSignOff(Protocol):
    def __call__(self, question: SignOffQuestion) -> SignOffVerdict | None: ...


def no_signoff(question: SignOffQuestion) -> SignOffVerdict | None:
    """A judge that never finds a sign-off (sign-off evaluation not configured)."""
    return None


def default_validate(files: FileSource, offer: str) -> OfferCheck:
    """The validation engine's verdict on offers/<offer>/, with the offer's generation."""
    result = engine.validate_offer(f"{OFFERS_DIR}/{offer}", files, collect_files=True)
    spec = result.manifest.get("spec") if result.manifest is not None else None
    if not isinstance(spec, dict):
        return OfferCheck("", None, False, result.findings or _unreadable(offer))
    raw_target = spec.get("target")
    target = Target(raw_target) if raw_target in set(Target) else None
    digests = {path: file_digest(data) for path, data in result.referenced_files.items()}
    try:
        gen = generation(spec, digests, offer=offer)
    except (TypeError, ValueError):
        # YAML allows keys JSON has no words for (`1:`, `null:`, `true:` beside text
        # keys): such a spec has no canonical form, so it is invalid, not a crash.
        return OfferCheck("", None, False, (*result.findings, _not_json(offer)))
    return OfferCheck(
        generation=gen,
        target=target,
        suspend=spec.get("suspend") is True,
        findings=result.findings,
        spec=spec,
        files=result.referenced_files,
    )


def _not_json(offer: str) -> Finding:
    return Finding(
        "ManifestNotJson",
        "offer.yaml's spec has a mapping key that is not text (such as 1, true or null "
        "beside text keys); quote the key",
        "$.spec",
        file=f"{OFFERS_DIR}/{offer}/{MANIFEST_FILE}",
        line=1,
        column=1,
    )


def _unreadable(offer: str) -> tuple[Finding, ...]:
    return (
        Finding(
            "ManifestUnreadable",
            "offer.yaml has no spec mapping",
            "$.spec",
            file=f"{OFFERS_DIR}/{offer}/{MANIFEST_FILE}",
            line=1,
            column=1,
        ),
    )


def default_judge(
    repo: GitRepo,
    *,
    endpoint: GitHubEndpoint | None = None,
    branch: str | None = None,
    azure_devops: AzureDevOpsEndpoint | None = None,
) -> JudgeSignOff:
    """Sign-off evaluation from git history (or GitHub, as publishing.yaml says).

    `endpoint` is the operator's GitHub API (None: from the environment);
    `branch` the watched branch's name (None: the branch checked out);
    `azure_devops` the operator's Azure DevOps server (None: from the environment).
    """

    def judge(question: SignOffQuestion) -> SignOffVerdict | None:
        path = f"{OFFERS_DIR}/{question.offer}/{SIGNOFF_FILE}"
        if question.files.kind(path) == "missing":
            # The common case, answered without asking git anything.
            return signoff_rules.precheck(
                question.offer,
                question.generation,
                None,
                question.policy.signoff,
                authorization=None,
            )
        return evaluate_signoff(
            repo,
            question.commit,
            question.offer,
            question.generation,
            question.policy,
            endpoint=endpoint,
            branch=branch,
            azure_devops=azure_devops,
        )

    return judge


def policy_at(repo: GitRepo, commit: str) -> Policy:
    """publishing.yaml as `commit` holds it (defaults when absent or broken)."""
    return _load_policy(repo.snapshot(commit, ()))


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Watch:
    """The branch a pass reads and writes: local (checked-out or named branch) or remote."""

    branch: str | None = None  # None: the branch checked out in the repository
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    offer: str
    before: Phase | None
    after: Phase

    def __str__(self) -> str:
        before = self.before.value if self.before else "New"
        return f"{self.offer} {before}\u2192{self.after.value}"


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one pass did."""

    base: str  # the commit read
    commit: str | None  # the status commit that landed on the branch; None: nothing changed
    full: bool  # every offer was evaluated (not an incremental pass)
    evaluated: tuple[str, ...]
    written: tuple[str, ...]  # offers whose status.yaml changed
    transitions: tuple[Transition, ...]
    in_flight: tuple[str, ...]  # offers the next pass will poll
    errors: Mapping[str, str]  # offer -> why it could not be brought forward this pass
    attempts: int = 1  # commits built before one landed
    # offer -> when the pipeline next expects news (its WaitUntil), in marketplace time;
    # in-flight offers missing here have no expected time (e.g. awaiting a review).
    wake_at: Mapping[str, datetime] = field(default_factory=dict)
    # offer -> the status the pass computed for it (evaluated offers that have one): what
    # notifications and transition logs read, never the committed status.yaml.
    statuses: Mapping[str, OfferStatus] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlannedOffer:
    """What a pass would do for one offer, decided but not done (see `Reconciler.plan_pass`)."""

    offer: str
    before: OfferStatus | None  # the committed status (None: none, or unreadable)
    after: OfferStatus | None  # the status the pass would write (None: left alone)
    actions: tuple[pipeline.Action, ...]  # the decision's actions, none of them run
    delete: bool  # the pass would delete status.yaml
    error: str  # why the offer could not be evaluated ("" when it was)


@dataclass(slots=True)
class _Outcome:
    """One offer after evaluation: its new status (None: leave status.yaml alone)."""

    offer: str
    before: OfferStatus | None
    after: OfferStatus | None
    in_flight: bool = False
    error: str = ""
    delete: bool = False  # remove status.yaml (manifest gone and nothing in the marketplace)
    actions: tuple[pipeline.Action, ...] = ()  # the last decision's actions (for `plan_pass`)


@dataclass(slots=True)
class _Work:
    """One offer's inputs while it is evaluated."""

    offer: str
    policy: Policy
    last: OfferStatus | None  # the controller's own record (never status.yaml)
    committed: OfferStatus | None = None  # status.yaml at the commit: shown, never obeyed
    desired: pipeline.Desired | None = None
    payload: OfferPayload | None = None
    verdict: SignOffVerdict | None = None

    @property
    def generation(self) -> str | None:
        return self.desired.generation if self.desired is not None else None

    def input(
        self, last: OfferStatus | None, observed: pipeline.Observation
    ) -> pipeline.PipelineInput:
        return pipeline.PipelineInput(
            offer=self.offer,
            desired=self.desired,
            last=last,
            observed=observed,
            prune=self.policy.prune,
            holiday_country=self.policy.holidays_country,
        )


@dataclass(frozen=True, slots=True)
class _Scope:
    full: bool
    offers: frozenset[str] | None  # None: every offer in the snapshot


# ---------------------------------------------------------------- the reconciler


class Reconciler:
    """Runs reconcile passes for one watched branch of one repository."""

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
        self._store: RecordStore | None = None  # the records of the branch being read
        self._dry_run = False  # set only inside `plan_pass`: decide, never act
        self._only: frozenset[str] | None = None  # set only inside `_run_offers`

    # -- the pass ---------------------------------------------------------------------

    def run_pass(self, *, full: bool = False, only: Iterable[str] | None = None) -> PassResult:
        """One pass; `full` evaluates every offer regardless of what changed.

        `only` evaluates just those offers (`offerctl reconcile OFFER...`): the others
        are neither read nor acted upon nor have their status rewritten, and the pass
        records no reconciled commit, so the next pass still sees what changed since
        the last one that covered every offer. An id with no folder at the commit read
        is a UserError, raised before anything is evaluated.
        """
        if only is not None:
            return self._run_offers(frozenset(only))
        branch = self._branch()
        key = watch_key(branch, self.watch.remote)
        self._store = self.records_for(branch)
        if self.part:
            key = f"{key}@{self.part}"
        with self.repo.pass_lock(key):
            self.repo.clear_stale_locks()
            base = self._locate(branch)
            recorded_ref = GitRepo.reconciled_ref(branch, self.watch.remote, self.part)
            if not self.watch.remote:
                self._finish_checkout_sync(branch, base, self.repo.resolve(recorded_ref))
            scope = _Scope(True, None) if full else self._scope(base, recorded_ref, key)
            outcomes = self._evaluate(base, scope, overrides={})
            result = self._flush(branch, base, scope, outcomes)
            failpoint(AFTER_PUSH)
            self.repo.record_reconciled(recorded_ref, result.commit or base)
            self._save_state(key, result.commit or base, result.in_flight)
            return result

    def _run_offers(self, offers: frozenset[str]) -> PassResult:
        branch = self._branch()
        key = watch_key(branch, self.watch.remote)
        self._store = self.records_for(branch)
        if self.part:
            key = f"{key}@{self.part}"
        with self.repo.pass_lock(key):  # the same lock as a whole pass: never both at once
            base = self._locate(branch)
            if not self.watch.remote:
                recorded_ref = GitRepo.reconciled_ref(branch, None, self.part)
                self._finish_checkout_sync(branch, base, self.repo.resolve(recorded_ref))
            missing = offers - set(self.repo.snapshot(base, offers).offer_ids())
            if missing:
                raise UserError(
                    f"no offer {', '.join(sorted(missing))} at {base[:12]} (no offers/<id>/ "
                    "folder); `offerctl status` lists the offers"
                )
            self._only = offers
            try:
                scope = _Scope(False, offers)
                return self._flush(branch, base, scope, self._evaluate(base, scope, overrides={}))
            finally:
                self._only = None

    def plan_pass(self, base: str | None = None) -> tuple[str, tuple[PlannedOffer, ...]]:
        """Evaluate every offer as a full pass would, running no action and writing nothing.

        For `offerctl plan`: the same validate -> observe -> decide steps, stopped
        before the first act, with only the marketplace's read calls. `base` is
        the commit to read (default: the branch tip a pass would read, fetched
        first in remote mode). No lock, no commit, no reconciled record.
        """
        self._dry_run = True
        try:
            branch = self._branch()
            self._store = self.records_for(branch)
            base = base or self._locate(branch)
            outcomes = self._evaluate(base, _Scope(True, None), overrides={})
        finally:
            self._dry_run = False
        planned = tuple(
            PlannedOffer(o.offer, o.before, o.after, o.actions, o.delete, o.error)
            for _, o in sorted(outcomes.items())
        )
        return base, planned

    def branch_records(self) -> RecordStore:
        """The records a pass on the watched branch would read and write."""
        return self.records_for(self._branch())

    def records_for(self, branch: str) -> RecordStore:
        """The records a pass on `branch` reads and writes."""
        if self.records is not None:
            return self.records
        return FileRecords(self.repo.private_dir, branch, self.watch.remote)

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

    def _locate(self, branch: str) -> str:
        """The commit whose desired state this pass reads."""
        if self.watch.remote:
            return self.repo.fetch(self.watch.remote, branch)
        tip = self.repo.resolve(f"refs/heads/{branch}")
        if tip is None:
            raise UserError(f"branch {branch!r} does not exist or has no commits; nothing to do")
        return tip

    def _finish_checkout_sync(self, branch: str, tip: str, recorded: str | None) -> None:
        """Bring the checkout along to a status commit a killed pass left unsynced.

        A pass killed between moving the branch and `sync_checked_out` leaves the
        user's index and working tree at the parent's status files: `git status`
        shows them reverted and the user's next commit would revert them. When the
        tip is not the recorded commit and changes only status files, sync now
        (a no-op for files the user has touched, or already synced).
        """
        if recorded == tip:
            return
        parent = self.repo.resolve(f"{tip}~1")
        if parent is None:
            return
        paths = self.repo.changed_paths(parent, tip)
        if paths and all(
            p.startswith(f"{OFFERS_DIR}/") and p.endswith(f"/{STATUS_FILE}") for p in paths
        ):
            self.repo.sync_checked_out(branch, parent, tip, paths)

    # -- scope: what changed since the last reconciled commit -------------------------------

    def _scope(self, base: str, recorded_ref: str, key: str) -> _Scope:
        recorded = self.repo.resolve(recorded_ref)
        state = self._load_state(key)
        if recorded is None or state is None or state.get("commit") != recorded:
            return _Scope(True, None)
        if not self.repo.is_ancestor(recorded, base):
            log.warning("history was rewritten since %s; evaluating every offer", recorded[:12])
            return _Scope(True, None)
        changed = self._changed_offers(recorded, base)
        if changed is None:
            return _Scope(True, None)
        return _Scope(False, frozenset(changed | set(state.get("inflight", ()))))

    def _changed_offers(self, old: str, new: str) -> set[str] | None:
        """Offers whose folders changed between two commits; None when the policy changed."""
        if old == new:
            return set()
        offers: set[str] = set()
        for path in self.repo.changed_paths(old, new):
            if path in POLICY_PATHS:
                return None
            parts = path.split("/")
            if len(parts) >= 3 and parts[0] == OFFERS_DIR:
                offers.add(parts[1])
        return offers

    def _state_path(self, key: str) -> Path:
        return self.repo.private_dir / "state" / (re.sub(r"[^A-Za-z0-9._-]", "_", key) + ".json")

    def _load_state(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._state_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return None
        if data.get("controller") != __version__ or not isinstance(data.get("inflight"), list):
            return None  # another offerctl may judge differently: start from scratch
        return data

    def _save_state(self, key: str, commit: str, in_flight: Iterable[str]) -> None:
        data = {
            "version": STATE_VERSION,
            "controller": __version__,
            "commit": commit,
            "inflight": sorted(in_flight),
        }
        atomic_write(
            self._state_path(key),
            json.dumps(data, indent=1).encode("utf-8"),
            failpoint_name=MID_STATE_WRITE,
        )

    # -- evaluate: validate, observe, decide, act ---------------------------------------

    def _evaluate(
        self, base: str, scope: _Scope, overrides: Mapping[str, OfferStatus]
    ) -> dict[str, _Outcome]:
        snapshot = self.repo.snapshot(base, scope.offers)
        policy = _load_policy(snapshot)
        files = GitTreeFiles(snapshot)
        offers = snapshot.offer_ids() if scope.offers is None else sorted(scope.offers)
        if self.include is not None:
            offers = [offer for offer in offers if self.include(offer)]
        if self._only is not None:  # also when a moved branch is re-read (`_rebuild`)
            offers = [offer for offer in offers if offer in self._only]
        twins = self._case_twins(snapshot, scope, offers)
        outcomes: dict[str, _Outcome] = {}
        for offer in offers:
            if not _FOLDER.match(offer):
                log.warning(
                    "skipping folder offers/%r: not a name a status can be written under", offer
                )
                continue
            if offer in twins:
                log.warning(
                    "skipping folder offers/%r: its name differs only in case from offers/%r; "
                    "on a case-insensitive file system its status.yaml would overwrite that "
                    "offer's (rename or remove the folder)",
                    offer,
                    twins[offer],
                )
                continue
            try:
                outcomes[offer] = self._offer(snapshot, files, policy, offer, overrides.get(offer))
            except Exception as exc:  # one offer's bug must not stop the others
                log.exception("offer %s: unexpected error; its status is left as it was", offer)
                outcomes[offer] = _Outcome(
                    offer, None, None, in_flight=True, error=f"{type(exc).__name__}: {exc}"
                )
        return outcomes

    def _case_twins(
        self, snapshot: TreeSnapshot, scope: _Scope, offers: Sequence[str]
    ) -> dict[str, str]:
        """Folders to skip because their name case-folds onto another folder's: folder -> other.

        A case-insensitive checkout (macOS, Windows) holds such folders as one
        directory, so writing a status.yaml into one overwrites the other's
        (the live offer's, typically). The folder whose name is already folded
        (the only kind that can be a valid offer id) keeps its status.
        """
        mixed = [offer for offer in offers if offer != offer.casefold()]
        if not mixed:
            return {}
        every = (
            snapshot.offer_ids()
            if scope.offers is None
            else self.repo.snapshot(snapshot.commit).offer_ids()  # rare: only for odd names
        )
        twins: dict[str, str] = {}
        for offer in mixed:
            others = [n for n in every if n != offer and n.casefold() == offer.casefold()]
            if others:
                twins[offer] = min(others, key=lambda n: (n != n.casefold(), n))
        return twins

    def _offer(
        self,
        snapshot: TreeSnapshot,
        files: GitTreeFiles,
        policy: Policy,
        offer: str,
        override: OfferStatus | None,
    ) -> _Outcome:
        folder = f"{OFFERS_DIR}/{offer}"
        store = self._store
        if store is None:  # pragma: no cover - set by run_pass and plan_pass
            raise FatalError("no records to read: evaluate only within a pass")
        committed = _last_status(snapshot, folder)
        work = _Work(offer, policy, last=override or store.load(offer), committed=committed)
        if snapshot.entry(f"{folder}/{MANIFEST_FILE}") is not None:
            check = self.validate(files, offer)
            work.desired = _desired(check, work.last, snapshot.commit)
            work.payload = OfferPayload(spec=check.spec, files=check.files)
            if check.generation and work.desired.target is not Target.DRAFT:
                work.verdict = self.judge(
                    SignOffQuestion(offer, check.generation, snapshot.commit, files, policy)
                )
        outcome = self._converge(work)
        if (
            policy.signoff.provider in {Provider.GITHUB, Provider.AZURE_DEVOPS}
            and outcome.after is not None
            and outcome.after.phase is Phase.AWAITING_SIGNOFF
        ):
            outcome.in_flight = True  # reviews arrive on the platform without a commit here
        gone = work.desired is None and outcome.after is not None
        if gone and outcome.after is not None and outcome.after.phase is Phase.WITHDRAWN:
            # Manifest deleted and nothing in the marketplace: the offer is gone for good.
            outcome.after = None
            outcome.delete = snapshot.entry(f"{folder}/{STATUS_FILE}") is not None
        if not self._dry_run:
            if outcome.after is not None:
                store.save(offer, outcome.after)
            elif gone or outcome.delete:
                store.drop(offer)
        return outcome

    def _converge(self, work: _Work) -> _Outcome:
        """Decide, act, observe again, until nothing effectful is left (at most MAX_ROUNDS)."""
        previous = work.last
        decision: pipeline.Decision | None = None
        try:
            observed = self._observe(work.offer, work.generation, previous, work.verdict)
            for _ in range(MAX_ROUNDS):
                decision = pipeline.decide(work.input(previous, observed), self.clock())
                if not decision.effectful or self._dry_run:
                    break
                owned = frozenset(s.id for s in observed.submissions)
                returned = self._act(work.offer, decision.effectful, work.payload, owned)
                previous = decision.status
                observed = self._observe(
                    work.offer, work.generation, previous, work.verdict, returned
                )
        except MarketplaceError as exc:
            return self._marketplace_failed(work, decision, exc)
        if decision is None:  # pragma: no cover - MAX_ROUNDS >= 1
            raise FatalError("no decision was made")
        after = pipeline.remove_condition(decision.status, ConditionType.MARKETPLACE_ERROR)
        after = pipeline.remove_condition(after, ConditionType.DRIFT)
        return _Outcome(
            work.offer,
            work.committed,
            after,
            in_flight=_in_flight(decision),
            actions=decision.actions,
        )

    def _observe(
        self,
        offer: str,
        generation: str | None,
        last: OfferStatus | None,
        verdict: SignOffVerdict | None,
        returned: Sequence[Submission] = (),
    ) -> pipeline.Observation:
        """What the marketplace says now: the submissions `pipeline.lookups` names, the listing.

        `last` is the controller's own record. Only submissions the marketplace
        says belong to `offer` are kept: an id that names another offer's
        submission (a stale or tampered record) is dropped with a warning, so
        nothing is ever decided, let alone done, about another offer's work.
        """
        wanted = pipeline.lookups(offer, generation, last)
        found: dict[str, Submission] = {s.id: s for s in returned}
        read: set[str] = set()  # ids read just now by their key: not read again by id
        for key in wanted.keys:
            submission = self.marketplace.find(key)
            if submission is not None:
                found[submission.id] = submission
                read.add(submission.id)
        if generation is not None and wanted.keys:
            later = self._later_attempts(offer, generation, wanted.keys[-1], found)
            found.update(later)
            read.update(later)
        for submission_id in wanted.submission_ids:
            if submission_id in read:
                continue  # the same submission, read a moment ago: a second read costs a call
            with contextlib.suppress(NotFound):  # a record naming an unknown id: ignore it
                found[submission_id] = self.marketplace.get(submission_id)
        mine = {i: s for i, s in found.items() if _belongs(s, offer)}
        for submission_id in sorted(set(found) - set(mine)):
            log.warning(
                "offer %s: submission %s belongs to offer %r; ignored",
                offer,
                submission_id,
                found[submission_id].offer,
            )
        try:
            listing = self.marketplace.listing(offer)
        except NotFound:
            listing = OfferListing(offer)
        return pipeline.Observation(listing, tuple(mine.values()), verdict)

    def _later_attempts(
        self, offer: str, generation: str, last_key: str, found: Mapping[str, Submission]
    ) -> dict[str, Submission]:
        """Attempts after the last expected one, when that one exists (e.g. no record is left).

        `lookups` expects the attempt the record follows and the one after it;
        without a record it expects the first two. When the second exists there
        may be more: look them up by key, so a lost record never resubmits a
        generation that already has a later attempt in the marketplace.
        """
        if not any(s.idempotency_key == last_key for s in found.values()):
            return {}
        more: dict[str, Submission] = {}
        attempt = pipeline.attempt_of(last_key)
        for _ in range(MAX_ATTEMPT_PROBES):
            attempt += 1
            submission = self.marketplace.find(pipeline.attempt_key(offer, generation, attempt))
            if submission is None:
                break
            more[submission.id] = submission
        return more

    def _act(
        self,
        offer: str,
        actions: Sequence[pipeline.Action],
        payload: OfferPayload | None,
        owned: frozenset[str],
    ) -> list[Submission]:
        """Run the actions in order; the first failure raises and ends the round.

        `owned` are the ids the marketplace just said belong to `offer`: a go-live
        or cancel of any other id is refused (the pipeline never asks for one).
        """
        returned: list[Submission] = []
        for action in actions:
            if isinstance(action, pipeline.GoLive | pipeline.Cancel) and (
                action.submission_id not in owned
            ):
                raise MarketplaceError(
                    f"{offer}: refusing to act on submission {action.submission_id}, "
                    "which the marketplace does not list as this offer's",
                    transient=False,
                )
            if isinstance(action, pipeline.Submit):
                if payload is None:
                    raise MarketplaceError(f"{offer}: nothing to submit", transient=False)
                returned.append(
                    self.marketplace.submit(
                        action.offer,
                        action.generation,
                        action.target,
                        payload,
                        action.idempotency_key,
                    )
                )
                failpoint(AFTER_SUBMIT)
            elif isinstance(action, pipeline.GoLive):
                returned.append(self.marketplace.go_live(action.submission_id))
                failpoint(AFTER_GO_LIVE)
            elif isinstance(action, pipeline.Cancel):
                returned.append(self.marketplace.cancel(action.submission_id))
            elif isinstance(action, pipeline.Withdraw):
                self.marketplace.withdraw(action.offer)
        return returned

    def _marketplace_failed(
        self, work: _Work, decision: pipeline.Decision | None, exc: MarketplaceError
    ) -> _Outcome:
        """Keep what is known, flag the error; the same error again changes nothing."""
        last = work.last  # the record: what is known
        base = decision.status if decision is not None else last
        if base is None:
            # First sight and the marketplace is down: what validation alone can tell.
            empty = pipeline.Observation(OfferListing(work.offer), (), work.verdict)
            base = pipeline.decide(work.input(None, empty), self.clock()).status
        # An adapter may name the condition and reason (e.g. Drift, PortalSubmissionInProgress).
        kind = getattr(exc, "condition", ConditionType.MARKETPLACE_ERROR)
        held = last.condition(kind) if last else None
        if held is not None and held.status is ConditionStatus.TRUE:
            reason, message = held.reason, held.message
        else:
            reason = getattr(exc, "reason", "") or (
                "MarketplaceUnavailable" if exc.transient else "MarketplaceCallFailed"
            )
            message = _REDACT(str(exc)) or type(exc).__name__
        after = pipeline.set_condition(
            base,
            kind,
            ConditionStatus.TRUE,
            reason,
            message,
            now=self.clock(),
        )
        log.warning("offer %s: marketplace error: %s", work.offer, exc)
        return _Outcome(work.offer, work.committed, after, in_flight=True, error=_REDACT(str(exc)))

    # -- record and flush -------------------------------------------------------------------

    def _flush(
        self, branch: str, base: str, scope: _Scope, outcomes: dict[str, _Outcome]
    ) -> PassResult:
        """Commit changed status files onto the branch; rebuild on a moved tip and retry."""
        attempts = 0
        delay = BACKOFF_SECONDS
        while True:
            attempts += 1
            updates, written = self._updates(base, outcomes)
            commit = None
            if updates:
                commit = self._land(branch, base, updates, outcomes, written)
                if commit is None:  # the branch moved: someone pushed or committed
                    if attempts >= PUSH_ATTEMPTS:
                        raise TransientError(
                            f"{branch} kept moving; status not written after {attempts} tries",
                            retry_after=30,
                        )
                    self.sleep(delay)
                    delay *= 2
                    base, outcomes = self._rebuild(branch, base, outcomes)
                    continue
            return PassResult(
                base=base,
                commit=commit,
                full=scope.full,
                evaluated=tuple(sorted(outcomes)),
                written=tuple(written),
                transitions=_transitions(outcomes, written),
                in_flight=tuple(sorted(o.offer for o in outcomes.values() if o.in_flight)),
                errors={o.offer: o.error for o in outcomes.values() if o.error},
                attempts=attempts,
                wake_at=_wake_times(outcomes.values()),
                statuses={o.offer: o.after for o in outcomes.values() if o.after is not None},
            )

    def _updates(
        self, base: str, outcomes: Mapping[str, _Outcome]
    ) -> tuple[dict[str, bytes | None], list[str]]:
        """status.yaml bytes for the offers whose status differs from the commit's."""
        existing = self.repo.snapshot(base, outcomes) if outcomes else None
        updates: dict[str, bytes | None] = {}
        written: list[str] = []
        for offer, outcome in sorted(outcomes.items()):
            path = f"{OFFERS_DIR}/{offer}/{STATUS_FILE}"
            entry = existing.entry(path) if existing is not None else None
            if outcome.delete and entry is not None:
                updates[path] = None
                written.append(offer)
                continue
            if outcome.after is None:
                continue
            data = status.render(outcome.after).encode("utf-8")
            if entry is None or entry.oid != git_blob_oid(data, self.repo.object_format):
                try:
                    check_status(outcome.after)  # only what is written needs the schema's word
                except FatalError as exc:
                    log.error("%s", exc)  # a bug: keep the old status, spare the other offers
                    outcome.error = str(exc)
                    continue
                updates[path] = data
                written.append(offer)
        return updates, written

    def _land(
        self,
        branch: str,
        base: str,
        updates: Mapping[str, bytes | None],
        outcomes: Mapping[str, _Outcome],
        written: Sequence[str],
    ) -> str | None:
        """Make the status commit and move the branch to it; None when the branch moved first."""
        message = commit_message(_transitions(outcomes, written), written)
        commit = self.repo.write_commit(
            base, updates, message, self._identity(base), when=self.clock().timestamp()
        )
        if commit is None:  # pragma: no cover - updates were computed against base's blobs
            raise FatalError("the status commit came out identical to its parent")
        failpoint(AFTER_COMMIT_OBJECT)
        if self.watch.remote:
            try:
                self.repo.push(self.watch.remote, commit, branch)
            except PushRejected:
                return None
            return commit
        try:
            self.repo.update_ref(f"refs/heads/{branch}", commit, base, "offerctl: status")
        except RefMoved:
            return None
        failpoint(AFTER_REF_UPDATE)
        self.repo.sync_checked_out(branch, base, commit, updates)
        return commit

    def _rebuild(
        self, branch: str, old_base: str, outcomes: dict[str, _Outcome]
    ) -> tuple[str, dict[str, _Outcome]]:
        """The branch moved: re-read what changed on it; our statuses stand for the rest."""
        new_base = self._locate(branch)
        changed = (
            self._changed_offers(old_base, new_base)
            if self.repo.is_ancestor(old_base, new_base)
            else None
        )
        overrides = {o.offer: o.after for o in outcomes.values() if o.after is not None}
        scope = _Scope(True, None) if changed is None else _Scope(False, frozenset(changed))
        if scope.full or changed:
            log.info(
                "%s moved to %s; re-evaluating %s",
                branch,
                new_base[:12],
                "every offer" if scope.full else ", ".join(sorted(changed or ())),
            )
            fresh = self._evaluate(new_base, scope, overrides)
            for offer, outcome in fresh.items():
                if offer in outcomes:  # transitions are told against the committed status
                    outcome.before = outcomes[offer].before
            outcomes = {**outcomes, **fresh}
        return new_base, outcomes

    def _identity(self, base: str) -> Identity:
        if self.identity_override is not None:
            return self.identity_override
        snapshot = self.repo.snapshot(base, ())
        who = _load_policy(snapshot).controller
        return Identity(who.name, who.email)


# ---------------------------------------------------------------- pure helpers


def check_status(value: OfferStatus) -> None:
    """Refuse to write a status that schemas/status.schema.json does not accept (a bug here)."""
    problems = engine.check_instance("status", status.to_dict(value))
    if problems:
        first = problems[0]
        raise FatalError(
            f"offerctl built a status for {value.offer} that its own schema refuses: "
            f"{first.path}: {first.message}"
        )


def commit_message(transitions: Sequence[Transition], written: Sequence[str]) -> str:
    """`status: contoso-x Certifying→Packaging (+2 more)`, then one line per offer."""
    lines = [str(t) for t in transitions]
    changed = {t.offer for t in transitions}
    lines += [f"{offer} updated" for offer in written if offer not in changed]
    if not lines:
        return "status: no change\n"
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    subject = f"status: {lines[0]}{more}"
    body = "\n".join(lines[:200])
    if len(lines) > 200:
        body += f"\n... and {len(lines) - 200} more"
    return printable(f"{subject}\n\n{body}\n", lines=True)  # offer ids come from folder names


def _transitions(
    outcomes: Mapping[str, _Outcome], written: Sequence[str]
) -> tuple[Transition, ...]:
    found = []
    for offer in written:
        outcome = outcomes[offer]
        before = outcome.before.phase if outcome.before else None
        if outcome.after is not None and outcome.after.phase != before:
            found.append(Transition(offer, before, outcome.after.phase))
    return tuple(found)


def _desired(check: OfferCheck, last: OfferStatus | None, commit: str) -> pipeline.Desired:
    """The pipeline's input; observedCommit stays while the generation does, so it is stable."""
    observed_commit = commit
    if (
        last is not None
        and last.observed_generation == check.generation
        and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", last.observed_commit or "")
    ):
        observed_commit = last.observed_commit
    return pipeline.Desired(
        target=check.target or Target.DRAFT,
        generation=check.generation,
        suspend=check.suspend,
        observed_commit=observed_commit,
        findings=check.findings,
    )


def _wake_times(outcomes: Iterable[_Outcome]) -> dict[str, datetime]:
    """The earliest WaitUntil of each offer still in flight."""
    wake: dict[str, datetime] = {}
    for outcome in outcomes:
        waits = [a.when for a in outcome.actions if isinstance(a, pipeline.WaitUntil)]
        if outcome.in_flight and waits and not outcome.error:
            wake[outcome.offer] = min(waits)
    return wake


def _in_flight(decision: pipeline.Decision) -> bool:
    """Whether the marketplace may move this offer without a commit: poll it next pass."""
    if decision.actions or decision.status.phase in POLLED_PHASES:
        return True
    return any(
        s.state is StageState.RUNNING and s.deadline is not None for s in decision.status.stages
    )


def _belongs(submission: Submission, offer: str) -> bool:
    """Whether the marketplace lists `submission` as `offer`'s."""
    return submission.offer == offer


def _last_status(snapshot: TreeSnapshot, folder: str) -> OfferStatus | None:
    path = f"{folder}/{STATUS_FILE}"
    if snapshot.entry(path) is None:
        return None
    try:
        return status.parse(snapshot.read(path), name=path)
    except UserError:  # unreadable or oversized: start afresh, the controller rewrites it
        return None


def _load_policy(snapshot: TreeSnapshot) -> Policy:
    """publishing.yaml at the commit; a broken file voids sign-offs rather than loosening them."""
    if snapshot.entry(POLICY_FILE) is None:
        return parse_policy(None)[0]
    try:
        loaded = load_mapping(snapshot.read(POLICY_FILE), name=POLICY_FILE)
    except (YamlError, UserError) as exc:
        policy = parse_policy(None)[0]
        signoff = replace(policy.signoff, problems=(f"{POLICY_FILE}: {exc}",))
        return replace(policy, signoff=signoff)
    return parse_policy(loaded.document)[0]
