"""The `scope` step: which offers a pass evaluates.

All of them on a first pass, after a history rewrite or a policy change;
otherwise the offers whose folders changed since the last reconciled commit
plus the ones the last pass left in flight (`controller.reconcile.record`),
plus, on a later day, those whose estimated live date moves with the calendar
(`controller.reconcile.calendar`).
A missing or mismatched record, a rewritten history (the record is no longer
an ancestor) or a change to publishing.yaml or CODEOWNERS makes a full pass.
"""

from __future__ import annotations

import logging
from datetime import date

from controller.git.repo import OFFERS_DIR, POLICY_PATHS, GitRepo
from controller.reconcile import calendar
from controller.reconcile.record import InFlight
from controller.reconcile.types import EVERY_OFFER, Scope

log = logging.getLogger(__name__)


def scope(repo: GitRepo, base: str, recorded: str | None, state: InFlight | None,
          today: date | None = None, *, ancestor: bool = False) -> Scope:  # fmt: skip
    """The offers to evaluate at `base`, given the last reconciled commit and its state.

    `today` (the pass's date, UTC) adds the offers whose estimate is stale. `ancestor`:
    the caller knows `recorded` is on `base`'s history (its first-parent line), so git
    is not asked again.
    """
    if recorded is None or state is None or state.commit != recorded:
        return EVERY_OFFER
    if not ancestor and not repo.is_ancestor(recorded, base):
        log.warning("history was rewritten since %s; evaluating every offer", recorded[:12])
        return EVERY_OFFER
    changed = changed_offers(repo, recorded, base)
    if changed is None:
        return EVERY_OFFER
    stale = calendar.due(state.estimates, today) if today is not None else set()
    return Scope(False, frozenset(changed | set(state.offers) | stale))


def changed_offers(repo: GitRepo, old: str, new: str) -> set[str] | None:
    """Offers whose folders changed between two commits; None when the policy changed."""
    if old == new:
        return set()
    offers: set[str] = set()
    for path in repo.changed_paths(old, new):
        if path in POLICY_PATHS:
            return None
        parts = path.split("/")
        if len(parts) >= 3 and parts[0] == OFFERS_DIR:
            offers.add(parts[1])
    return offers
