"""A bounded memo: the values of the last N keys used, least recently used out, thread-safe.

The caches that spare a pass repeated work (tree listings by commit, parsed
statuses by blob, sign-off histories by tip, ...) all keep answers to
questions whose answer never changes, and all must stay bounded whatever a
repository holds. One implementation serves them. A memo whose values differ
much in size (what a pull request chose to write) is also bounded in weight:
`weigh` says what one value costs, and the least recently used go until the
kept ones weigh at most `max_weight`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """The values of the last `limit` keys put or got; the least recently used go first."""

    def __init__(
        self, limit: int, *, weigh: Callable[[V], int] | None = None, max_weight: int = 0
    ) -> None:
        self.limit = limit
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._weigh = weigh
        self.max_weight = max_weight
        self.weight = 0  # of the values kept, when `weigh` is given

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._forget(key)
            self._values[key] = value
            if self._weigh is not None:
                self.weight += self._weigh(value)
            while len(self._values) > self.limit or (
                self._weigh is not None and self.weight > self.max_weight and self._values
            ):
                self._forget(next(iter(self._values)))

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

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self.weight = 0

    def _forget(self, key: K) -> None:
        """Drop `key` (the lock held), and its value's weight."""
        value = self._values.pop(key, None)
        if value is not None and self._weigh is not None:
            self.weight -= self._weigh(value)

    def __len__(self) -> int:
        return len(self._values)
