"""The daemon's word on a reconciled commit, as a GitHub commit status (pure).

After each pass, `offerctl run --github-status-repo OWNER/NAME` posts one
commit status on the commit it reconciled (context `offerctl/daemon`), so
the pull request that merged it, and the branch's commit list, show where
its offers stand without opening the repository:

- `failure` when an offer is Invalid, Rejected or Failed, or could not be
  brought forward (its error is in the pass result);
- `pending` while any offer is still in the marketplace's pipeline or
  waiting for sign-off;
- `success` when every offer has settled (Draft, Preview, Live, Withdrawn,
  Suspended).

The description counts offers per phase ("2 Live, 1 AwaitingSignOff"),
clipped to GitHub's 140 characters. Phases are the controller's enum, never
repository text, so nothing untrusted reaches the status. The counts cover
every offer the daemon knows, not only those the pass evaluated
(`PhaseBook` keeps the last phase of each).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.core.model import OfferStatus, Phase

CONTEXT = "offerctl/daemon"
MAX_DESCRIPTION = 140

_FAILING = frozenset({Phase.INVALID, Phase.REJECTED, Phase.FAILED})
_SETTLED = frozenset({Phase.DRAFT, Phase.PREVIEW, Phase.LIVE, Phase.WITHDRAWN, Phase.SUSPENDED})


@dataclass(slots=True)
class PhaseBook:
    """The last phase of every offer the daemon has seen, fed by each pass's statuses."""

    phases: dict[str, Phase] = field(default_factory=dict)

    def update(
        self, statuses: Mapping[str, OfferStatus], *, full: bool, evaluated: Iterable[str]
    ) -> None:
        """Fold one pass in. A full pass that did not return an offer means it is gone."""
        if full:
            for offer in set(self.phases) - set(statuses):
                del self.phases[offer]
        else:
            for offer in evaluated:
                if offer not in statuses:
                    self.phases.pop(offer, None)
        for offer, status in statuses.items():
            self.phases[offer] = status.phase


def state_of(phases: Mapping[str, Phase], errors: Mapping[str, str]) -> str:
    """failure, pending or success: see the module docstring."""
    if errors or any(phase in _FAILING for phase in phases.values()):
        return "failure"
    if any(phase not in _SETTLED for phase in phases.values()):
        return "pending"
    return "success"


def description(phases: Mapping[str, Phase], errors: Mapping[str, str]) -> str:
    """ "2 Live, 1 AwaitingSignOff; 1 not brought forward", most common phase first."""
    if not phases and not errors:
        return "no offers"
    counts = Counter(phases.values())
    parts = [f"{n} {phase.value}" for phase, n in sorted(counts.items(), key=_order)]
    text = ", ".join(parts)
    if errors:
        text += f"; {len(errors)} not brought forward"
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 1] + "…"
    return text


def context_for(shard_index: int, shard_count: int) -> str:
    """One context per shard, so N daemons never overwrite each other's word."""
    if shard_count <= 1:
        return CONTEXT
    return f"{CONTEXT} (shard {shard_index}/{shard_count})"


def commit_status(
    phases: Mapping[str, Phase],
    errors: Mapping[str, str],
    *,
    context: str = CONTEXT,
    target_url: str = "",
) -> dict[str, object]:
    """The body of POST /repos/{owner}/{repo}/statuses/{sha}."""
    body: dict[str, object] = {
        "state": state_of(phases, errors),
        "context": context,
        "description": description(phases, errors),
    }
    if target_url.startswith("https://"):
        body["target_url"] = target_url
    return body


def _order(item: tuple[Phase, int]) -> tuple[int, str]:
    phase, n = item
    return (-n, phase.value)
