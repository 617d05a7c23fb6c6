"""The `land` step: render status.yaml, commit it, move the branch, rebuild on a race.

One commit with the controller's identity on top of the commit read, moved
onto the branch by one compare-and-swap (local) or one fast-forward push
(remote); when someone else got there first the pass re-reads what changed on
the new tip (the `rebuild` it is given), waits a little longer each time and
tries again, at most PUSH_ATTEMPTS times. Nothing is half-written: the branch
moves only by that one compare-and-swap or push.

Local mode commits onto the branch a person may have checked out. The commit
is built from the read commit's tree in a private index, so their index and
uncommitted edits are never swept in; after the branch moves, each status.yaml
the pass wrote is also updated in their index and working tree, but only when
they have not touched that file (see `GitRepo.sync_checked_out`), so `git
status` stays clean and a hand edit stays theirs. `finish_checkout_sync` does
the same for a status commit a killed pass left unsynced.

Every step here is a thin caller of `GitRepo`; the decisions (what to write,
the message) are plain functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from controller.core import pipeline
from controller.core.backoff import Backoff
from controller.core.errors import FatalError, TransientError
from controller.core.escaping import printable
from controller.core.model import OfferStatus
from controller.failpoint import AFTER_COMMIT_OBJECT, AFTER_REF_UPDATE, failpoint
from controller.git.later import Later
from controller.git.read import TreeChange
from controller.git.repo import OFFERS_DIR, GitRepo, Identity, PushRejected, RefMoved
from controller.git.tree import TreeSnapshot
from controller.reconcile.evaluate import STATUS_FILE
from controller.reconcile.rendered import RenderedOids
from controller.reconcile.types import Clock, Outcome, PassResult, Scope, Transition
from controller.repo import status
from controller.repo.layout import STATUS_MODE
from controller.validation import engine

log = logging.getLogger(__name__)

STATUS_SUBJECT = "status: "  # how every status commit's message begins (`commit_message`)
PUSH_ATTEMPTS = 5  # tries to land the status commit when the branch keeps moving
BACKOFF_SECONDS = 0.5  # first wait before rebuilding; doubles per attempt
_PUSH_BACKOFF = Backoff(base=BACKOFF_SECONDS, cap=60.0, jitter=0.0)

# The branch moved: (old base, outcomes) -> (new base, outcomes re-read where it changed).
Rebuild = Callable[[str, dict[str, Outcome]], tuple[str, dict[str, Outcome]]]


@dataclass(frozen=True, slots=True)
class Landing:
    """Where and as whom a pass lands its status commit."""

    repo: GitRepo
    branch: str
    remote: str | None  # None: move the local branch (and its checkout)
    identity: Callable[[str], Identity]  # the committer, as the commit read names it
    clock: Clock
    sleep: Callable[[float], None]
    rebuild: Rebuild
    # The blob ids of statuses rendered lately; the reconciler keeps one across passes.
    rendered: RenderedOids = field(default_factory=RenderedOids)


def land(landing: Landing, base: str, scope: Scope, outcomes: dict[str, Outcome]) -> PassResult:
    """Commit changed status files onto the branch; rebuild on a moved tip and retry."""
    attempts = 0
    while True:
        attempts += 1
        changes, written, storing = _status_updates(landing.repo, base, outcomes, landing.rendered)
        commit = None
        if changes:
            commit = _commit_onto(landing, base, changes, outcomes, written, storing=storing)
            if commit is None:  # the branch moved: someone pushed or committed
                if attempts >= PUSH_ATTEMPTS:
                    raise TransientError(
                        f"{landing.branch} kept moving; status not written after {attempts} tries",
                        retry_after=30,
                    )
                if landing.remote or attempts > 1:
                    # A local branch that moved once is a person's commit, not a crowd
                    # pushing: rebuild at once (the daemon's edit latency waits on this).
                    landing.sleep(_PUSH_BACKOFF.delay(attempts, 0.0))
                base, outcomes = landing.rebuild(base, outcomes)
                continue
        return PassResult(
            base=base,
            commit=commit,
            full=scope.full,
            evaluated=tuple(sorted(outcomes)),
            written=tuple(written),
            transitions=transitions(outcomes, written),
            in_flight=tuple(sorted(o.offer for o in outcomes.values() if o.in_flight)),
            errors={o.offer: o.error for o in outcomes.values() if o.error},
            attempts=attempts,
            wake_at=wake_times(outcomes.values()),
            statuses={o.offer: o.after for o in outcomes.values() if o.after is not None},
        )


def status_updates(
    repo: GitRepo,
    base: str,
    outcomes: Mapping[str, Outcome],
    rendered: RenderedOids | None = None,
) -> tuple[dict[str, str | None], list[str]]:
    """The status.yaml blob ids for the offers whose status differs from the commit's
    (None: delete), with those blobs stored in the object database.

    Each blob is stored as it is rendered, a few MiB per `git fast-import`, so a
    pass never holds every status file's bytes at once. A status rendered before
    (`rendered`) whose blob the commit already holds is not rendered again."""
    changes, written, storing = _status_updates(repo, base, outcomes, rendered)
    storing.result()
    return changes, written


def _status_updates(
    repo: GitRepo,
    base: str,
    outcomes: Mapping[str, Outcome],
    rendered: RenderedOids | None = None,
) -> tuple[dict[str, str | None], list[str], Later[None]]:
    """`status_updates`, a few blobs still being stored: the last of the three, which
    `commit_blobs` waits for (`GitRepo.store_blobs_soon`)."""
    rendered = rendered if rendered is not None else RenderedOids()
    existing = repo.snapshot(base, outcomes) if outcomes else None
    changes: dict[str, str | None] = {}
    written: list[str] = []

    def changed_blobs() -> Iterator[bytes]:  # fills `changes` and `written` as it goes
        for offer, outcome in sorted(outcomes.items()):
            path = f"{OFFERS_DIR}/{offer}/{STATUS_FILE}"
            entry = existing.entry(path) if existing is not None else None
            if outcome.delete and entry is not None:
                changes[path] = None
                written.append(offer)
                continue
            if outcome.after is None:
                continue
            if rendered.holds(outcome.after, entry):
                continue  # the commit holds this very status, as a regular file
            data, oid = rendered.render(outcome.after, repo.object_format)
            # Only a regular file counts: the same blob as a symlink or an executable has
            # the same id, and status.yaml is written as a plain file.
            if entry is not None and entry.mode == STATUS_MODE and entry.oid == oid:
                continue
            try:
                check_status(outcome.after)  # only what is written needs the schema's word
            except FatalError as exc:
                log.error("%s", exc)  # a bug: keep the old status, spare the other offers
                outcome.error = str(exc)
                continue
            changes[path] = oid
            written.append(offer)
            yield data

    storing = repo.store_blobs_soon(changed_blobs())  # reads `changed_blobs` to its end
    return changes, written, storing


def _commit_onto(
    landing: Landing,
    base: str,
    changes: Mapping[str, str | None],
    outcomes: Mapping[str, Outcome],
    written: Sequence[str],
    *,
    storing: Later[None],
) -> str | None:
    """Make the status commit and move the branch to it; None when the branch moved first.

    Three things at once where they do not wait for each other: the status blobs being
    stored (`storing`), the trees and commit written on top of them, and, in local mode,
    the checkout sync's checks (they need only how the paths change, not the commit).
    The blobs are in before the commit is returned, the checks made before the branch
    moves."""
    repo, branch = landing.repo, landing.branch
    message = commit_message(transitions(outcomes, written), written)
    planning = None
    if not landing.remote:
        # Every check of the checkout sync is made before the branch moves, so a person's
        # `git commit` right after it finds the index already at the new status files.
        known = moved_paths(repo.snapshot(base, outcomes), changes)
        planning = Later(lambda: repo.plan_checkout_sync(branch, base, None, changes, known=known))
    try:
        commit = repo.commit_blobs(
            base, changes, message, landing.identity(base),
            when=landing.clock().timestamp(), storing=storing,
        )  # fmt: skip
    except BaseException:
        storing.settle()  # waited for already unless the commit was never begun
        if planning is not None:
            planning.settle()
        raise
    plan = planning.result() if planning is not None else None
    if commit is None:  # pragma: no cover - updates were computed against base's blobs
        raise FatalError("the status commit came out identical to its parent")
    failpoint(AFTER_COMMIT_OBJECT)
    if landing.remote:
        try:
            repo.push(landing.remote, commit, branch)
        except PushRejected:
            return None
        return commit
    try:
        repo.update_ref(f"refs/heads/{branch}", commit, base, "offerctl: status")
    except RefMoved:
        return None
    failpoint(AFTER_REF_UPDATE)
    # Its one `git apply` runs while the caller records the pass (`GitRepo.start_checkout_
    # sync`: the unsynced note covers a crash meanwhile); the caller collects it.
    repo.start_checkout_sync(plan, commit)
    return commit


def moved_paths(existing: TreeSnapshot, changes: Mapping[str, str | None]) -> dict[str, TreeChange]:
    """How the status commit made from `existing`'s commit with `changes` differs from it:
    each changed path's old entry (from the listing the pass already holds) and new blob."""
    moved: dict[str, TreeChange] = {}
    for path, oid in changes.items():
        was = existing.entry(path)
        old = (was.mode, was.oid) if was is not None else (None, None)
        new = (STATUS_MODE, oid) if oid is not None else (None, None)
        if old != new:
            moved[path] = TreeChange(path, *old, *new)
    return moved


def finish_checkout_sync(repo: GitRepo, branch: str, tip: str, recorded: str | None) -> None:
    """Bring the checkout along to a status commit a killed pass left unsynced.

    A pass killed between moving the branch and `sync_checked_out` leaves the
    user's index and working tree at the parent's status files: `git status`
    shows them reverted and the user's next commit would revert them. When the
    tip is not the recorded commit and changes only status files, sync now
    (a no-op for files the user has touched, or already synced). A recorded tip
    is synced again when its sync left the index at the old files (it stayed
    locked: `GitRepo.checkout_unsynced`): the pass that made it recorded it anyway.
    """
    repo.wait_checkout_sync()  # a sync this process left running ends first
    if tip == repo.synced_tip:
        return  # synced by this process (the daemon's last batch)
    if tip == recorded and not repo.checkout_unsynced(tip):
        return  # reconciled, and its checkout sync was done
    head = repo.commit_head(tip)  # no process: the batch reader is open
    if head is None:
        return  # not a commit we could read, so not a status commit of ours
    parents, subject = head
    if len(parents) != 1 or not subject.startswith(STATUS_SUBJECT):
        return  # a person's commit (a status commit has one parent and our subject)
    parent = parents[0]
    paths = repo.changed_paths(parent, tip)
    if paths and all(
        p.startswith(f"{OFFERS_DIR}/") and p.endswith(f"/{STATUS_FILE}") for p in paths
    ):
        repo.sync_checked_out(branch, parent, tip, paths)


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
        return f"{STATUS_SUBJECT}no change\n"
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    subject = f"{STATUS_SUBJECT}{lines[0]}{more}"
    body = "\n".join(lines[:200])
    if len(lines) > 200:
        body += f"\n... and {len(lines) - 200} more"
    return printable(f"{subject}\n\n{body}\n", lines=True)  # offer ids come from folder names


def transitions(outcomes: Mapping[str, Outcome], written: Sequence[str]) -> tuple[Transition, ...]:
    found = []
    for offer in written:
        outcome = outcomes[offer]
        before = outcome.before
        if outcome.after is not None and outcome.after.phase != before:
            found.append(Transition(offer, before, outcome.after.phase))
    return tuple(found)


def wake_times(outcomes: Iterable[Outcome]) -> dict[str, datetime]:
    """The earliest WaitUntil of each offer still in flight."""
    wake: dict[str, datetime] = {}
    for outcome in outcomes:
        waits = [a.when for a in outcome.actions if isinstance(a, pipeline.WaitUntil)]
        if outcome.in_flight and waits and not outcome.error:
            wake[outcome.offer] = min(waits)
    return wake
