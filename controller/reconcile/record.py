"""The `record` step: what the next pass starts from, written once the branch has moved.

Two things: the last reconciled commit, in a ref under refs/offerctl/ (one per
watched branch and shard), and the offers still in flight with the commit they
were in flight at, in .git/offerctl/state/<key>.json. `scope` reads both back;
a missing or mismatched pair makes the next pass a full one. (What the
controller decided per offer is `controller.reconcile.records`, written as each
offer is evaluated, by `remember`.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from controller import __version__
from controller.failpoint import MID_STATE_WRITE
from controller.files.fsio import atomic_write
from controller.git.later import Later
from controller.git.repo import GitRepo
from controller.reconcile.records import RecordStore
from controller.reconcile.types import OfferInputs, Outcome, PassResult

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class InFlight:
    """The state file: the commit a pass recorded and the offers in flight at it."""

    commit: str
    offers: tuple[str, ...]
    # offer -> the ISO day its date-dependent estimated live date was computed for
    # (`controller.reconcile.calendar`); absent from older state files: none.
    estimates: Mapping[str, str] = field(default_factory=dict)


def record(
    repo: GitRepo,
    refs: Mapping[str, str | None],
    key: str,
    result: PassResult,
    estimates: Mapping[str, str] | None = None,
) -> None:
    """Record the pass: the reconciled refs and the offers the next pass must poll.

    `refs` maps each ref that records the pass (the reconciled one and the judged one)
    to the commit the pass read it at (None: not read): they move in one transaction,
    and an unchanged ref is not written again.

    The state file is written (and fsynced) while git moves the refs: neither order
    matters, since a state file that does not name the recorded commit makes the next
    pass a full one (`scope`), whichever of the two a crash or a failure left undone."""
    commit = result.commit or result.base
    saving = Later(lambda: save_state(repo, key, commit, result.in_flight, estimates))
    try:
        repo.record_reconciled_refs(refs, commit)
    except BaseException:
        saving.settle()
        raise
    saving.result()


def remember(store: RecordStore, work: OfferInputs, outcome: Outcome) -> None:
    """Keep what the controller decided for one offer (or forget an offer gone for good)."""
    if outcome.after is not None:
        store.save(work.offer, outcome.after)
    elif outcome.forget:
        store.drop(work.offer)


def state_path(repo: GitRepo, key: str) -> Path:
    return repo.private_dir / "state" / (re.sub(r"[^A-Za-z0-9._-]", "_", key) + ".json")


def load_state(repo: GitRepo, key: str) -> InFlight | None:
    """The state file as the last pass of this offerctl wrote it; None: unusable or absent."""
    try:
        data = json.loads(state_path(repo, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return None
    if data.get("controller") != __version__ or not isinstance(data.get("inflight"), list):
        return None  # another offerctl may judge differently: start from scratch
    commit = data.get("commit")
    if not isinstance(commit, str):
        return None
    raw = data.get("estimates")
    estimates = (
        {o: d for o, d in raw.items() if isinstance(o, str) and isinstance(d, str)}
        if isinstance(raw, dict)
        else {}
    )
    return InFlight(commit, tuple(o for o in data["inflight"] if isinstance(o, str)), estimates)


def save_state(repo: GitRepo, key: str, commit: str, in_flight: Iterable[str],
               estimates: Mapping[str, str] | None = None) -> None:  # fmt: skip
    data: dict[str, object] = {
        "version": STATE_VERSION,
        "controller": __version__,
        "commit": commit,
        "inflight": sorted(in_flight),
    }
    if estimates:
        data["estimates"] = dict(sorted(estimates.items()))
    atomic_write(
        state_path(repo, key),
        json.dumps(data, indent=1).encode("utf-8"),
        failpoint_name=MID_STATE_WRITE,
    )
