"""Which offers an incremental pass re-evaluates only because the date changed (issue #14).

An offer waiting for its sign-off (target live) shows an estimated live date
that assumes a sign-off today (`core.eta`): nothing in the repository or the
marketplace changes, yet tomorrow the estimate is a day later. Such an offer
is not in flight (it is not polled), so an incremental pass would leave its
estimate in the past. The state file (`record.py`) therefore keeps, per offer
whose last computed status has a date-dependent estimate, the day that
estimate was computed for; the next pass on a later day evaluates exactly
those offers again. The facts come from the statuses the controller computed
(`PassResult.statuses`), never from status.yaml.

Pure: the state's entries in, the entries to write out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from controller.core.eta import depends_on_day
from controller.reconcile.types import PassResult


def due(estimates: Mapping[str, str], today: date) -> set[str]:
    """Offers whose date-dependent estimate was computed for a day before `today`."""
    day = today.isoformat()
    return {offer for offer, computed in estimates.items() if computed < day}


def after(previous: Mapping[str, str], result: PassResult, today: date) -> dict[str, str]:
    """The entries to keep after `result`: re-evaluated offers replace theirs, others carry on.

    A full pass evaluated every offer, so nothing carries over from before it.
    """
    if result.full:
        kept: dict[str, str] = {}
    else:
        evaluated = set(result.evaluated)  # a tuple: asked once per kept entry
        kept = {o: d for o, d in previous.items() if o not in evaluated}
    for offer, status in result.statuses.items():
        if status.estimated_live and depends_on_day(status.stages):
            kept[offer] = today.isoformat()
    return kept
