"""What the next reconcile pass would do per offer, and why: the pure half of `offerctl plan`.

The reconciler's `plan_pass` runs the pass's own steps (validate, observe,
decide) and stops before acting; this module turns each `PlannedOffer` into
an `OfferPlan` people can read: the phase now and after, the marketplace
calls the pass would make, what it would wait for, and whether status.yaml
would change. Nothing here does I/O.

Plans are made from commits only. Files under offers/ that are not committed
yet are pointed out (`uncommitted_notes`), so an offer that passes `validate`
on disk but is missing from the plan does not go unexplained.

An offer has *changes pending* when the pass would call the marketplace
(submit, cancel, go live, withdraw) or commit a different status.yaml;
`offerctl plan --detailed-exitcode` exits 2 when any offer has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from controller.core import pipeline
from controller.core.generation import short
from controller.core.model import ConditionStatus, ConditionType, OfferStatus, Phase, StageState
from controller.core.timestamps import format_time
from controller.repo.layout import STATUS_FILE

# Renders a status as status.yaml's bytes (`repo.status.render`, encoded): passed in, so
# that this module needs no YAML library.
RenderStatus = Callable[[OfferStatus], bytes]


@dataclass(frozen=True, slots=True)
class PlannedOffer:
    """What a pass would do for one offer, decided but not done (see `Reconciler.plan_pass`)."""

    offer: str
    before: OfferStatus | None  # the committed status (None: none, or unreadable)
    after: OfferStatus | None  # the status the pass would write (None: left alone)
    actions: tuple[pipeline.Action, ...]  # the decision's actions, none of them run
    delete: bool  # the pass would delete status.yaml
    error: str  # why the offer could not be evaluated ("" when it was)


class Step(StrEnum):
    """The headline of an offer's plan, most consequential first."""

    ERROR = "error"  # the offer could not be evaluated (marketplace unreachable, a bug)
    SUBMIT = "submit"  # a generation would be submitted
    CANCEL = "cancel"  # an in-flight submission would be cancelled
    GO_LIVE = "go-live"  # a signed-off preview would be sent live
    WITHDRAW = "withdraw"  # the live offer would be withdrawn
    AWAIT_SIGNOFF = "await-signoff"  # preview ready; Go Live waits for a valid sign-off
    BLOCKED = "blocked"  # stalled: only a change to the manifest helps
    WAIT = "wait"  # the marketplace is working; nothing to do but look again later
    RECORD = "record"  # only status.yaml would change
    NOTHING = "nothing"  # at rest: nothing to do, nothing to write


_ACTION_STEP: dict[type, Step] = {
    pipeline.Submit: Step.SUBMIT,
    pipeline.Cancel: Step.CANCEL,
    pipeline.GoLive: Step.GO_LIVE,
    pipeline.Withdraw: Step.WITHDRAW,
}


@dataclass(frozen=True, slots=True)
class OfferPlan:
    offer: str
    step: Step
    before: Phase | None  # phase in the committed status.yaml (None: none yet)
    after: Phase | None  # phase the pass would write (None: status.yaml left alone or removed)
    actions: tuple[str, ...]  # the marketplace calls, in order, in words
    why: str  # the reason: Ready's message, what sign-off lacks, or the error
    writes_status: bool  # status.yaml would be written (or deleted)

    @property
    def changes(self) -> bool:
        return bool(self.actions) or self.writes_status

    def as_dict(self) -> dict[str, object]:
        return {
            "offer": self.offer,
            "step": self.step.value,
            "from": self.before.value if self.before else None,
            "to": self.after.value if self.after else None,
            "actions": list(self.actions),
            "why": self.why,
            "writesStatus": self.writes_status,
            "changes": self.changes,
        }


def plan_offer(planned: PlannedOffer, committed: bytes | None, render: RenderStatus) -> OfferPlan:
    """One offer's plan; `committed` is its status.yaml at the commit read (None: absent),
    `render` how the pass would write the new status."""
    before = planned.before.phase if planned.before else None
    if planned.error:
        return OfferPlan(planned.offer, Step.ERROR, before, before, (), planned.error, False)
    after = planned.after
    rendered = render(after) if after is not None else None
    writes = (planned.delete and committed is not None) or (
        rendered is not None and rendered != committed
    )
    calls = tuple(_describe(a) for a in planned.actions if not isinstance(a, pipeline.WaitUntil))
    step = _step(planned.actions, after, writes)
    return OfferPlan(
        planned.offer,
        step,
        before,
        after.phase if after is not None else None,
        calls,
        _why(step, planned.before, after, planned.delete),
        writes,
    )


def _step(actions: Sequence[pipeline.Action], after: OfferStatus | None, writes: bool) -> Step:
    for action in actions:
        if not isinstance(action, pipeline.WaitUntil):
            return _ACTION_STEP[type(action)]
    if after is not None and after.phase is Phase.AWAITING_SIGNOFF:
        return Step.AWAIT_SIGNOFF
    if after is not None and _true(after, ConditionType.STALLED):
        return Step.BLOCKED
    if any(isinstance(a, pipeline.WaitUntil) for a in actions):
        return Step.WAIT
    return Step.RECORD if writes else Step.NOTHING


def _why(step: Step, before: OfferStatus | None, after: OfferStatus | None, delete: bool) -> str:
    if after is None:
        if delete:
            return "the manifest is gone and nothing is in the marketplace: status.yaml goes"
        return "nothing to evaluate"
    if step is Step.SUBMIT:
        return _why_submit(before, after)
    if step is Step.AWAIT_SIGNOFF:
        signed = after.condition(ConditionType.SIGNED_OFF)
        if signed is not None and signed.status is not ConditionStatus.TRUE:
            return f"waiting for sign-off: {signed.message} ({signed.reason})"
    if step is Step.WAIT:
        running = next((s for s in after.stages if s.state is StageState.RUNNING), None)
        if running is not None and running.deadline is not None:
            until = format_time(running.deadline)
            return f"waiting for {running.name} to finish (at most until {until})"
        if running is not None:
            return f"waiting for {running.name} to finish"
    ready = after.condition(ConditionType.READY)
    return ready.message if ready is not None else after.phase.value


def _why_submit(before: OfferStatus | None, after: OfferStatus) -> str:
    old, new = (before.observed_generation if before else ""), after.observed_generation
    if not old:
        return "this offer has not been submitted yet"
    if old != new:
        return f"the offer changed: generation {short(old)} became {short(new)}"
    return "its last submission was cancelled or replaced, so this generation goes again"


def _true(value: OfferStatus, kind: ConditionType) -> bool:
    condition = value.condition(kind)
    return condition is not None and condition.status is ConditionStatus.TRUE


def _describe(action: pipeline.Action) -> str:
    if isinstance(action, pipeline.Submit):
        attempt = pipeline.attempt_of(action.idempotency_key)
        again = f" (attempt {attempt})" if attempt > 1 else ""
        return f"submit generation {short(action.generation)} for target {action.target}{again}"
    if isinstance(action, pipeline.Cancel):
        return f"cancel submission {action.submission_id}"
    if isinstance(action, pipeline.GoLive):
        return f"go live with submission {action.submission_id}"
    if isinstance(action, pipeline.Withdraw):
        return f"withdraw {action.offer} from the marketplace"
    return f"look again at {format_time(action.when)}"


@dataclass(frozen=True, slots=True)
class Summary:
    offers: int
    changed: int  # offers with changes pending
    marketplace_calls: int  # offers with at least one marketplace call
    status_writes: int
    errors: int

    @property
    def changes(self) -> bool:
        return self.marketplace_calls > 0 or self.status_writes > 0

    def line(self) -> str:
        if self.offers == 0:
            return "Plan: no offers."
        parts = [
            f"{self.marketplace_calls} offer(s) with marketplace calls",
            f"{self.status_writes} status file(s) to write",
            f"{self.offers - self.changed} unchanged",
        ]
        if self.errors:
            parts.append(f"{self.errors} could not be evaluated")
        return "Plan: " + ", ".join(parts) + "."


def summarize(plans: Sequence[OfferPlan]) -> Summary:
    return Summary(
        offers=len(plans),
        changed=sum(1 for p in plans if p.changes),
        marketplace_calls=sum(1 for p in plans if p.actions),
        status_writes=sum(1 for p in plans if p.writes_status),
        errors=sum(1 for p in plans if p.step is Step.ERROR),
    )


MAX_LISTED = 10  # uncommitted paths named one by one; the rest are counted


def uncommitted_notes(changes: Sequence[tuple[str, str]], planned: Sequence[str]) -> list[str]:
    """Hints about offer files not committed: (path, kind) pairs from `git status`.

    An offer folder with nothing committed is named once; changed files of
    offers in the plan are listed. status.yaml is left out: the controller
    writes it, and a local edit there means nothing to a plan.
    """
    relevant = [(p, k) for p, k in changes if not p.endswith(f"/{STATUS_FILE}")]
    folders: dict[str, list[tuple[str, str]]] = {}
    loose: list[tuple[str, str]] = []
    for path, kind in relevant:
        parts = path.split("/")
        if len(parts) >= 3:
            folders.setdefault(parts[1], []).append((path, kind))
        else:
            loose.append((path, kind))
    known = set(planned)
    new = sorted(o for o in folders if o not in known)
    edited = [c for o in sorted(folders) if o in known for c in folders[o]] + loose
    notes: list[str] = []
    if new:
        named = ", ".join(f"offers/{o}/" for o in new)
        notes.append(
            f"not committed yet, so not in this plan (a plan reads only commits): {named}; "
            "commit them to plan them"
        )
    if edited:
        listed = ", ".join(f"{p} ({k})" for p, k in edited[:MAX_LISTED])
        if len(edited) > MAX_LISTED:
            listed += f" and {len(edited) - MAX_LISTED} more"
        notes.append(f"uncommitted changes this plan does not include: {listed}")
    return notes
