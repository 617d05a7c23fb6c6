"""Scans of identical bytes done once: a bounded memo keyed by the bytes' SHA-256.

Scanning a package (the virus scan of every zip member, the AppSource
structure, the marketplace's deployment test) is a pure function of the bytes,
the file's name (it is in the messages) and the limits; generated and copied
offers share packages, and a settle pass or a resubmission sees the same ones
again. `memo` answers a repeated question from the first answer: hashing
bytes costs a small fraction of unpacking them, and the same bytes object (a
blob the git layer keeps) is hashed once (`core.digests`). The answer kept is
handed out as a fresh list (callers extend what they get). Thread-safe: the simulated
marketplace serves from threads. `precheck` keeps its whole answer here as
well, the bytes being its question (the marshalled spec and the files' digests).

The memo is bounded by what its answers weigh, not only by their number: an
answer names zip members, and a pull request chooses their names, so a 400 KB
package whose 2,000 infected members sit in a folder with a 60 KB name gives
120 MB of messages. At most `MAX_ENTRIES` answers of at most `MAX_WEIGHT`
bytes in all are kept, the least recently used going first; an answer heavier
than `MAX_ANSWER_WEIGHT` is not kept at all (it is computed again when asked).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from controller.core import digests

T = TypeVar("T")

MAX_ENTRIES = 4096  # answers are a few findings each: well under a few MiB in all
MAX_WEIGHT = 32 * 1024 * 1024  # bytes of text held by every answer kept
MAX_ANSWER_WEIGHT = 1024 * 1024  # one answer heavier than this is not kept

_answers: OrderedDict[tuple[Hashable, ...], tuple[object, int]] = OrderedDict()
_weight = 0
_lock = threading.Lock()


def memo(
    kind: str,
    data: bytes,
    extra: tuple[Hashable, ...],
    compute: Callable[[], T],
    *,
    shared: bool = True,
) -> T:
    """`compute()`'s answer for (`kind`, the bytes' digest, `extra`), computed once.

    `extra` holds everything else the answer depends on (a name, the limits).
    The caller must not mutate what it gets back; `memo_list` copies lists.
    `shared`: `data` is a file's bytes, which recur as the very same object (the git
    layer keeps blobs), so its digest is worked out once per object (`core.digests`);
    False for bytes made for this one question (a marshalled spec), which never recur:
    kept there they would only push files' digests out.
    """
    global _weight  # noqa: PLW0603 - the memo is the module's one piece of state
    digest = digests.sha256(data) if shared else hashlib.sha256(data).digest()
    key = (kind, digest, len(data), *extra)
    with _lock:
        kept = _answers.get(key)
        if kept is not None:
            _answers.move_to_end(key)
            return kept[0]  # type: ignore[return-value]
    answer = compute()  # outside the lock: scans are slow and may run at once
    weight = weigh(answer)
    if weight > MAX_ANSWER_WEIGHT:
        return answer
    with _lock:
        if key in _answers:  # another thread computed it meanwhile
            _weight -= _answers[key][1]
        _answers[key] = (answer, weight)
        _weight += weight
        while len(_answers) > MAX_ENTRIES or _weight > MAX_WEIGHT:
            _weight -= _answers.popitem(last=False)[1][1]
    return answer


def memo_list(
    kind: str,
    data: bytes,
    extra: tuple[Hashable, ...],
    compute: Callable[[], list[T]],
    *,
    shared: bool = True,
) -> list[T]:
    """`memo` for a list answer: each caller gets its own copy of the list."""
    return list(memo(kind, data, extra, lambda: tuple(compute()), shared=shared))


def weigh(value: object) -> int:
    """Roughly the bytes an answer holds: its text, through tuples, lists and dataclasses."""
    if isinstance(value, str | bytes):
        return len(value) + 64
    if isinstance(value, tuple | list):
        return sum(map(weigh, value), 64)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum((weigh(getattr(value, f.name)) for f in dataclasses.fields(value)), 64)
    return 64


def weight() -> int:
    """The bytes of text the answers kept hold now (for tests and metrics)."""
    with _lock:
        return _weight


def clear() -> None:
    """Forget every answer (tests measure cold scans with it)."""
    global _weight  # noqa: PLW0603 - see memo
    with _lock:
        _answers.clear()
        _weight = 0
