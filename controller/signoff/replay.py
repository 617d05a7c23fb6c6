"""Whether a sign-off was brought back by replacing the branch's history: the pure rule.

docs/DESIGN.md §5, "A replaced history". A sign-off is judged from the commit
that introduced it on the watched branch's first-parent history. A fast-forward
to a merge whose FIRST parent is an old commit (and whose second parent is the
tip, so the fast-forward is allowed) makes the old first-parent line the
branch's again: an old, genuinely approved introducing commit judges a
signoff.yaml that was since revoked or superseded.

The controller knows the last commit it reconciled (L). When L is still on the
judged tip's first-parent history, nothing was replaced. When it is not, a
sign-off introduced by a commit L can reach (so, by the time of L) counts only
if L's own first-parent history names the same introducing commit for that
path, i.e. the branch as the controller last saw it had it already. Sign-offs
introduced by commits L cannot reach are judged as always. A sign-off found
replayed stays distrusted while the same commit introduces it, also once the
replacement is itself the last reconciled commit (`Replay`, remembered by the
controller per offer, outside the repository). With no L (a first pass, a
fresh clone) nothing is compared.

This module decides only; `continuity` asks git, `evaluate` applies the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.core.model import SignOffVerdict
from controller.signoff.rules import SignOffReason


@dataclass(frozen=True, slots=True)
class Lineage:
    """How the judged tip's first-parent history relates to the last reconciled commit."""

    reconciled: str  # L: the last commit the controller reconciled on this branch
    kept: bool  # L is on the tip's first-parent history: nothing was replaced
    newer: frozenset[str]  # the tip's first-parent commits L cannot reach

    def asks(self, introducing: str) -> bool:
        """Whether a sign-off introduced by `introducing` must be compared with L's own."""
        return not self.kept and introducing not in self.newer


@dataclass(frozen=True, slots=True)
class Replay:
    """A sign-off found replayed: its introducing commit, and the L it was measured against."""

    commit: str
    reconciled: str


def lineage(tip: str, reconciled: str, since: Sequence[tuple[str, Sequence[str]]]) -> Lineage:
    """The lineage of `tip` from `since`, the (commit, parents) pairs of its first-parent
    history that `reconciled` cannot reach, newest first (`history.first_parent_since`).

    L is kept when it is the tip, or the first parent of the oldest such commit. An
    empty `since` with another tip means the tip is an ancestor of L: the branch was
    moved back, and every sign-off on it is compared with L's.
    """
    if not since:
        return Lineage(reconciled, tip == reconciled, frozenset())
    oldest_parents = since[-1][1]
    kept = bool(oldest_parents) and oldest_parents[0] == reconciled
    return Lineage(reconciled, kept, frozenset(commit for commit, _ in since))


def replayed(
    lineage: Lineage | None,
    introducing: str,
    *,
    at_reconciled: str | None,
    remembered: Replay | None = None,
) -> Replay | None:
    """The replay that distrusts a sign-off introduced by `introducing`; None: judge as always.

    `at_reconciled` is the commit that introduced the same path on L's first-parent
    history (None: absent there); it is read only when `lineage.asks(introducing)`.
    `remembered` is what the controller found for this offer on an earlier pass.
    """
    if remembered is not None and remembered.commit == introducing:
        return remembered
    if lineage is None or not lineage.asks(introducing):
        return None
    if at_reconciled == introducing:
        return None
    return Replay(introducing, lineage.reconciled)


def message(replay: Replay) -> str:
    return (
        f"signoff.yaml was introduced by {replay.commit[:12]} before the branch's history was "
        f"replaced (its first-parent history no longer contains {replay.reconciled[:12]}, the "
        "last commit the controller reconciled); approve it again: merge a changed "
        "signoff.yaml through review"
    )


def verdict(replay: Replay, generation: str) -> SignOffVerdict:
    """The verdict for a replayed sign-off of `generation` (the one its file names)."""
    return SignOffVerdict(
        valid=False,
        generation=generation,
        reason=SignOffReason.REPLAYED.value,
        message=message(replay),
        commit=replay.commit,
    )


def to_remember(
    value: SignOffVerdict | None, reconciled: str, remembered: Replay | None
) -> Replay | None:
    """The replay to write down after a verdict (None: nothing new): a verdict that found
    a replay against `reconciled` and is not the one `remembered` already."""
    if value is None or value.reason != SignOffReason.REPLAYED.value or not value.commit:
        return None
    if remembered is not None and remembered.commit == value.commit:
        return None
    return Replay(value.commit, reconciled)
