"""`plan`: what a pass would decide for every offer, running no action and writing nothing.

The read-only path beside the pass, not a flag inside it: the same `evaluate`
step, then `converge.preview` (observe, decide once) instead of `converge`,
then the same `settle`; no record is saved, nothing is landed or recorded.
Only the marketplace's read calls are made.
"""

from __future__ import annotations

from controller.core.model import OfferStatus
from controller.marketplace.api import Marketplace
from controller.reconcile import evaluate
from controller.reconcile.converge import preview
from controller.reconcile.evaluate import Snapshot
from controller.reconcile.records import RecordStore
from controller.reconcile.types import (
    Clock,
    JudgeSignOff,
    Outcome,
    PlannedOffer,
    Validate,
)


def plan(
    snapshot: Snapshot,
    records: RecordStore,
    marketplace: Marketplace,
    clock: Clock,
    *,
    validate: Validate,
    judge: JudgeSignOff,
) -> tuple[PlannedOffer, ...]:
    """Per offer of `snapshot`, by offer id: the status and actions a pass would decide."""

    committed: dict[str, OfferStatus | None] = {}  # an outcome keeps only its phase

    def step(offer: str) -> Outcome:
        work = evaluate.inputs(snapshot, offer, records.load(offer), validate, judge)
        committed[offer] = work.committed
        return evaluate.settle(snapshot, work, preview(work, marketplace, clock))

    outcomes = evaluate.each(snapshot.offers, step)
    return tuple(
        PlannedOffer(o.offer, committed.get(o.offer), o.after, o.actions, o.delete, o.error)
        for _, o in sorted(outcomes.items())
    )
