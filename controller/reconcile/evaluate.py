"""The `evaluate` step: one snapshot of a commit -> each offer's inputs to `converge`.

`read` takes the commit's tree (only the offers in scope), its publishing.yaml
and the folders a status may be written under; `inputs` validates one offer's
folder and asks the sign-off judge; `settle` applies what the repository says
after `converge` (a platform review keeps the offer polled; a deleted manifest
with nothing in the marketplace deletes status.yaml); `each` runs one offer at
a time so that one offer's bug never stops the others.

Errors are isolated per offer: an invalid manifest gives that offer phase
Invalid; an unexpected exception leaves that offer's status as it was.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from controller.core import digests, pipeline
from controller.core.generation import PREFIX, generation
from controller.core.model import Finding, OfferStatus, Phase, SignOffVerdict, Target
from controller.git.repo import OFFERS_DIR, GitRepo
from controller.git.tree import GitTreeFiles, TreeSnapshot
from controller.marketplace.api import OfferPayload
from controller.reconcile.rendered import RenderedOids
from controller.reconcile.types import (
    JudgeSignOff,
    OfferCheck,
    OfferInputs,
    Outcome,
    Scope,
    SignOffQuestion,
    Validate,
)
from controller.repo import layout, readback
from controller.repo.policy import Policy, Provider
from controller.signoff import replay as signoff_replay
from controller.signoff import rules as signoff_rules
from controller.signoff.evaluate import evaluate_signoff
from controller.signoff.operator import AzureDevOpsEndpoint, GitHubEndpoint
from controller.signoff.replay import Replay
from controller.validation import engine
from controller.validation.files import FileSource

log = logging.getLogger(__name__)

STATUS_FILE = layout.STATUS_FILE
MANIFEST_FILE = layout.MANIFEST_FILE
SIGNOFF_FILE = layout.SIGNOFF_FILE

# Folder names a status.yaml may be written under; validation reports ids it does not accept.
# Lone surrogates: bytes that were not UTF-8 (surrogateescape); no status can name them.
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_FOLDER = re.compile(r"^[^\x00-\x1f\x7f/\\.\ud800-\udfff][^\x00-\x1f\x7f/\\\ud800-\udfff]{0,254}$")
# The targets a spec may name, made once (not a set per offer).
_TARGETS = frozenset(Target)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One commit as a pass reads it: its tree, its policy, the offers to evaluate."""

    tree: TreeSnapshot
    files: GitTreeFiles
    policy: Policy
    offers: tuple[str, ...]
    # The last commit reconciled on the branch ("": none known) and the sign-off replays
    # the controller remembers, for the sign-off judge (docs/DESIGN.md §5, "A replaced history").
    reconciled: str = ""
    replays: Replays | None = None
    branch: str | None = None  # the watched branch (None: the one checked out)

    @property
    def commit(self) -> str:
        return self.tree.commit


class Replays(Protocol):
    """Where the controller remembers sign-offs it found replayed (`records.ReplayRecords`)."""

    def load(self, offer: str) -> Replay | None: ...

    def save(self, offer: str, value: Replay) -> None: ...


def read(
    repo: GitRepo,
    base: str,
    scope: Scope,
    include: Callable[[str], bool] | None = None,
    *,
    reconciled: str = "",
    replays: Replays | None = None,
    branch: str | None = None,
) -> Snapshot:
    """`base` as the pass reads it: the offers in `scope` (and `include`) it may write.

    `reconciled` and `replays` go to the sign-off judge with each question."""
    tree = repo.snapshot(base, scope.offers)
    offers = tree.offer_ids() if scope.offers is None else sorted(scope.offers)
    if include is not None:
        offers = [offer for offer in offers if include(offer)]
    twins = _case_twins(repo, tree, scope, offers)
    kept: list[str] = []
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
        kept.append(offer)
    return Snapshot(
        tree, GitTreeFiles(tree), _load_policy(tree), tuple(kept), reconciled, replays, branch
    )


def _case_twins(
    repo: GitRepo, snapshot: TreeSnapshot, scope: Scope, offers: Iterable[str]
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
        else repo.snapshot(snapshot.commit).offer_ids()  # rare: only for odd names
    )
    twins: dict[str, str] = {}
    for offer in mixed:
        others = [n for n in every if n != offer and n.casefold() == offer.casefold()]
        if others:
            twins[offer] = min(others, key=lambda n: (n != n.casefold(), n))
    return twins


def each(offers: Iterable[str], step: Callable[[str], Outcome]) -> dict[str, Outcome]:
    """`step` for every offer; an unexpected exception costs only that offer its pass."""
    outcomes: dict[str, Outcome] = {}
    for offer in offers:
        try:
            outcomes[offer] = step(offer)
        except Exception as exc:  # one offer's bug must not stop the others
            log.exception("offer %s: unexpected error; its status is left as it was", offer)
            outcomes[offer] = Outcome(
                offer, None, None, in_flight=True, error=f"{type(exc).__name__}: {exc}"
            )
    return outcomes


def inputs(
    snapshot: Snapshot,
    offer: str,
    last: OfferStatus | None,
    validate: Validate,
    judge: JudgeSignOff,
    *,
    rendered: RenderedOids | None = None,
) -> OfferInputs:
    """One offer's inputs: its validated manifest, the sign-off verdict, the controller's record.

    `last` is the controller's own record of the offer; status.yaml is read only
    to tell transitions against (`committed`), never obeyed. When the committed
    status.yaml is the very blob `last` renders to (`rendered` remembers it or
    renders it: about what a parse costs), it is `last`, not parsed and held
    again (render and parse round-trip: tests/test_fuzz.py).
    """
    folder = f"{OFFERS_DIR}/{offer}"
    policy = snapshot.policy
    entry = snapshot.tree.entry(f"{folder}/{STATUS_FILE}")
    ours = last is not None and rendered is not None and rendered.renders(last, entry)
    work = OfferInputs(
        offer,
        last=last,
        committed=last if ours else _last_status(snapshot.tree, folder),
        prune=policy.prune,
        holiday_country=policy.holidays_country,
    )
    if snapshot.tree.entry(f"{folder}/{MANIFEST_FILE}") is not None:
        check = validate(snapshot.files, offer)
        work.desired = _desired(check, work.last, snapshot.commit)
        work.payload = OfferPayload(spec=check.spec, files=check.files)
        if check.generation and work.desired.target is not Target.DRAFT:
            work.verdict = _judged(snapshot, offer, check.generation, judge)
    return work


def _judged(snapshot: Snapshot, offer: str, gen: str, judge: JudgeSignOff) -> SignOffVerdict | None:
    """The judge's verdict, with what the controller remembers of replays in and out."""
    replays = snapshot.replays
    remembered = replays.load(offer) if replays is not None else None
    question = SignOffQuestion(
        offer, gen, snapshot.commit, snapshot.files, snapshot.policy,
        reconciled=snapshot.reconciled, remembered=remembered, branch=snapshot.branch,
    )  # fmt: skip
    verdict = judge(question)
    found = signoff_replay.to_remember(verdict, snapshot.reconciled, remembered)
    if found is not None and replays is not None:
        replays.save(offer, found)
    return verdict


def settle(snapshot: Snapshot, work: OfferInputs, outcome: Outcome) -> Outcome:
    """What the repository adds to `converge`'s outcome (in place; returned for chaining)."""
    if (
        snapshot.policy.signoff.provider in {Provider.GITHUB, Provider.AZURE_DEVOPS}
        and outcome.after is not None
        and outcome.after.phase is Phase.AWAITING_SIGNOFF
    ):
        outcome.in_flight = True  # reviews arrive on the platform without a commit here
    gone = work.desired is None and outcome.after is not None
    if gone and outcome.after is not None and outcome.after.phase is Phase.WITHDRAWN:
        # Manifest deleted and nothing in the marketplace: the offer is gone for good.
        outcome.after = None
        outcome.forget = True
        path = f"{OFFERS_DIR}/{work.offer}/{STATUS_FILE}"
        outcome.delete = snapshot.tree.entry(path) is not None
    return outcome


def _desired(check: OfferCheck, last: OfferStatus | None, commit: str) -> pipeline.Desired:
    """The pipeline's input; observedCommit stays while the generation does, so it is stable."""
    observed_commit = commit
    if (
        last is not None
        and last.observed_generation == check.generation
        and _COMMIT_ID.fullmatch(last.observed_commit or "")
    ):
        observed_commit = last.observed_commit
    return pipeline.Desired(
        target=check.target or Target.DRAFT,
        generation=check.generation,
        suspend=check.suspend,
        observed_commit=observed_commit,
        findings=check.findings,
    )


# ---------------------------------------------------------------- the default seams


def default_validate(files: FileSource, offer: str) -> OfferCheck:
    """The validation engine's verdict on offers/<offer>/, with the offer's generation."""
    result = engine.validate_offer(f"{OFFERS_DIR}/{offer}", files, collect_files=True)
    spec = result.manifest.get("spec") if result.manifest is not None else None
    if not isinstance(spec, dict):
        return OfferCheck("", None, False, result.findings or _unreadable(offer))
    raw_target = spec.get("target")
    # Text first: a list or a mapping (the schema reports it) cannot be looked up in a set.
    target = Target(raw_target) if isinstance(raw_target, str) and raw_target in _TARGETS else None
    # `generation.file_digest` of each file, its bytes hashed once (`core.digests`): precheck
    # has just asked for the same bytes' SHA-256, often of the very objects (kept blobs).
    file_digests = {
        path: PREFIX + digests.sha256(data).hex() for path, data in result.referenced_files.items()
    }
    try:
        gen = generation(spec, file_digests, offer=offer)
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
            # Named once by the pass: asking git for the checked-out branch per offer
            # cost a process each.
            branch=branch if branch is not None else question.branch,
            azure_devops=azure_devops,
            reconciled=question.reconciled,
            remembered=question.remembered,
        )

    return judge


# ---------------------------------------------------------------- repository reads
# (to be re-pointed at the repository-contract module; names kept for that)


def policy_at(repo: GitRepo, commit: str) -> Policy:
    """publishing.yaml as `commit` holds it (defaults when absent or broken)."""
    return _load_policy(repo.snapshot(commit, ()))


def _last_status(snapshot: TreeSnapshot, folder: str) -> OfferStatus | None:
    """Unreadable or oversized: None, start afresh (the controller rewrites it)."""
    return readback.status_in(snapshot, folder.rpartition("/")[2]).status


def _load_policy(snapshot: TreeSnapshot) -> Policy:
    """publishing.yaml at the commit; a broken file voids sign-offs rather than loosening them."""
    return readback.policy_in(snapshot)
