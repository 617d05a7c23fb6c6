"""Scans of identical bytes done once: a bounded memo keyed by the bytes' SHA-256.

Scanning a package (the virus scan of every zip member, the AppSource
structure, the marketplace's deployment test) is a pure function of the bytes,
the file's name (it is in the messages) and the limits; generated and copied
offers share packages, and a settle pass or a resubmission sees the same ones
again. `memo` answers a repeated question from the first answer: hashing
bytes costs a small fraction of unpacking them. The answer kept is handed out
as a fresh list (callers extend what they get), and at most `MAX_ENTRIES`
answers are kept, the least recently used going first. Thread-safe: the
simulated marketplace serves from threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

MAX_ENTRIES = 4096  # answers are a few findings each: well under a few MiB in all

_answers: OrderedDict[tuple[Hashable, ...], object] = OrderedDict()
_lock = threading.Lock()


def memo(kind: str, data: bytes, extra: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
    """`compute()`'s answer for (`kind`, the bytes' digest, `extra`), computed once.

    `extra` holds everything else the answer depends on (a name, the limits).
    The caller must not mutate what it gets back; `memo_list` copies lists.
    """
    key = (kind, hashlib.sha256(data).digest(), len(data), *extra)
    with _lock:
        if key in _answers:
            _answers.move_to_end(key)
            return _answers[key]  # type: ignore[return-value]
    answer = compute()  # outside the lock: scans are slow and may run at once
    with _lock:
        _answers[key] = answer
        while len(_answers) > MAX_ENTRIES:
            _answers.popitem(last=False)
    return answer


def memo_list(
    kind: str, data: bytes, extra: tuple[Hashable, ...], compute: Callable[[], list[T]]
) -> list[T]:
    """`memo` for a list answer: each caller gets its own copy of the list."""
    return list(memo(kind, data, extra, lambda: tuple(compute())))


def clear() -> None:
    """Forget every answer (tests measure cold scans with it)."""
    with _lock:
        _answers.clear()
