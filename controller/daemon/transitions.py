"""One log line per offer transition: offer, from, to, and why, for people and for machines.

`log_transitions(result)` runs after each daemon pass. The line reads, as
text, `12:00:01 info    contoso-x moved Certifying -> Rejected: CertificationRejected:
certification returned 2 findings`; as JSON it carries the same in the fields
`offer`, `from`, `to` and `why` (the Ready condition's reason and message of
the new status, or the error that held the offer back). Untrusted text
(offer ids, marketplace messages) is escaped; the log handler redacts secrets.
"""

from __future__ import annotations

import logging

from controller.core.escaping import printable
from controller.core.model import ConditionType, OfferStatus
from controller.reconcile.reconciler import PassResult, Transition

log = logging.getLogger("controller.transitions")

MAX_WHY = 300  # characters of a condition message in one log line


def why(value: OfferStatus | None, error: str = "") -> str:
    """The reason of the new phase in words: `Reason: message` of Ready (else Stalled)."""
    if error:
        return _clip(error)
    if value is None:
        return "status removed"
    for kind in (ConditionType.READY, ConditionType.STALLED):
        condition = value.condition(kind)
        if condition is not None:
            text = f"{condition.reason}: {condition.message}" if condition.message else ""
            return _clip(text or condition.reason)
    return value.phase.value


def transition_fields(transition: Transition, result: PassResult) -> dict[str, str]:
    """The structured fields of one transition's log line."""
    value = result.statuses.get(transition.offer)
    fields = {
        "offer": printable(transition.offer),
        "from": transition.before.value if transition.before else "New",
        "to": transition.after.value,
        "why": why(value, result.errors.get(transition.offer, "")),
    }
    if value is not None and value.observed_generation:
        fields["generation"] = value.observed_generation
    return fields


def log_transitions(result: PassResult, logger: logging.Logger = log) -> int:
    """Log each transition of the pass as one line; how many were logged."""
    for transition in result.transitions:
        fields = transition_fields(transition, result)
        logger.info("moved %s -> %s: %s", fields["from"], fields["to"], fields["why"], extra=fields)
    return len(result.transitions)


def _clip(text: str) -> str:
    shown = printable(text)
    return shown if len(shown) <= MAX_WHY else shown[: MAX_WHY - 3] + "..."
