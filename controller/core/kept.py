"""A bounded memo: the values of the last N keys used, least recently used out, thread-safe.

The caches that spare a pass repeated work (tree listings by commit, parsed
statuses by blob, sign-off histories by tip, ...) all keep answers to
questions whose answer never changes, and all must stay bounded whatever a
repository holds. One implementation serves them. A memo whose values differ
much in size (what a pull request chose to write: a status.yaml may hold a
hundred long findings) is also bounded in weight: each value weighs what `put`
is told (the bytes it was made from is close enough), else what `weigh` says of
it, and the least recently used go until both bounds hold.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """The values of the last `limit` keys put or got, together weighing at most
    `max_weight` (None: no such bound); the least recently used go first."""

    def __init__(
        self,
        limit: int,
        *,
        weigh: Callable[[V], int] | None = None,
        max_weight: int | None = None,
    ) -> None:
        self.limit = limit
        self.max_weight = max_weight
        self._weigh = weigh
        self._values: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self._scanned = False  # see `expect`

    def get(self, key: K) -> V | None:
        with self._lock:
            kept = self._values.get(key)
            if kept is None:
                return None
            self._values.move_to_end(key)
            return kept[0]

    def put(self, key: K, value: V, *, weight: int | None = None) -> None:
        """Keep `value` for `key`, weighing `weight` (default: `weigh(value)`, or 0); a
        value heavier than `max_weight` on its own is not kept."""
        if weight is None:
            weight = self._weigh(value) if self._weigh is not None else 0
        with self._lock:
            self._forget(key)
            if self._scanned:
                return
            if self.max_weight is not None and weight > self.max_weight:
                return
            self._values[key] = (value, weight)
            self._weight += weight
            while len(self._values) > self.limit or (
                self.max_weight is not None and self._weight > self.max_weight
            ):
                self._forget(next(iter(self._values)))

    def items(self) -> list[tuple[K, V]]:
        """What is kept, least recently used first (a copy: no use is recorded)."""
        with self._lock:
            return [(key, kept[0]) for key, kept in self._values.items()]

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for `key`, or `make()`'s, kept (made outside the lock)."""
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def pop(self, key: K) -> None:
        with self._lock:
            self._forget(key)

    def expect(self, keys: int) -> None:
        """The next round of use (a pass) asks about `keys` keys. Past `limit`, asked in the
        same order round after round, least recently used out, this memo would never hit:
        it is emptied and keeps nothing until a round it can hold."""
        with self._lock:
            self._scanned = keys > self.limit
            if self._scanned:
                self._values.clear()
                self._weight = 0

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._weight = 0

    @property
    def weight(self) -> int:
        """What the kept values weigh together."""
        return self._weight

    def _forget(self, key: K) -> None:
        """Drop `key` and its weight (the lock held)."""
        old = self._values.pop(key, None)
        if old is not None:
            self._weight -= old[1]

    def __len__(self) -> int:
        return len(self._values)
