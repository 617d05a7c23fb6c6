"""Asking git what `replay` needs: the tip's lineage from the last reconciled commit.

docs/DESIGN.md §5, "A replaced history". One `rev-list` per (tip, last reconciled
commit) says whether that commit is still on the tip's first-parent history and
which first-parent commits came after it; it is kept for the rest of the pass,
so a pass pays it once however many sign-offs it judges. Only when the history
was replaced is the last reconciled commit's own sign-off history read (one
more `git log`, `history_index.at`), and only for sign-offs it could reach.
"""

from __future__ import annotations

from controller.core.kept import Kept
from controller.git import history as githistory
from controller.git.history import RepoHandle
from controller.signoff import history_index, replay
from controller.signoff.replay import Lineage, Replay

_KEPT = 4  # lineages kept (one per pass; a daemon's shards share them)
_LINEAGES: Kept[tuple[str, str, str], Lineage] = Kept(_KEPT)


def lineage_at(repo: RepoHandle, tip: str, reconciled: str) -> Lineage:
    """`tip`'s lineage from `reconciled`; GitHistoryError when git cannot tell."""
    if tip == reconciled:  # a pass over the commit the last one left: nothing to ask
        return replay.lineage(tip, reconciled, ())
    return _LINEAGES.get_or_make(
        (history_index.repo_key(repo), tip, reconciled),
        lambda: replay.lineage(
            tip, reconciled, githistory.first_parent_since(repo, tip, reconciled)
        ),
    )


def replayed(
    repo: RepoHandle, tip: str, path: str, *, reconciled: str, remembered: Replay | None
) -> Replay | None:
    """The replay that distrusts `path`'s sign-off at `tip` (None: judge it as always).

    `reconciled` is the last commit the controller reconciled ("": none known);
    `remembered` the replay it found for this offer before. GitHistoryError when
    git cannot answer (the caller fails closed)."""
    introducing = history_index.introducing_commit(repo, tip, path)
    if introducing is None:
        return None  # no signoff.yaml: nothing to replay
    line = lineage_at(repo, tip, reconciled) if reconciled else None
    at_reconciled = None
    if line is not None and line.asks(introducing):
        at_reconciled = history_index.introducing_commit(repo, reconciled, path)
    return replay.replayed(line, introducing, at_reconciled=at_reconciled, remembered=remembered)
