"""A bounded memo: the values of the last N keys used, least recently used out, thread-safe.

The caches that spare a pass repeated work (tree listings by commit, parsed
statuses by blob, sign-off histories by tip, ...) all keep answers to
questions whose answer never changes, and all must stay bounded whatever a
repository holds. One implementation serves them. A memo whose values a
repository sizes (a status.yaml may hold a hundred long findings) is bounded
in bytes too: each value is put with its size (the bytes it was made from is
close enough), and the least recently used go until both bounds hold.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """The values of the last `limit` keys put or got, together at most `max_size` in the
    sizes they were put with (None: no such bound); the least recently used go first."""

    def __init__(self, limit: int, *, max_size: int | None = None) -> None:
        self.limit = limit
        self.max_size = max_size
        self._values: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            kept = self._values.get(key)
            if kept is None:
                return None
            self._values.move_to_end(key)
            return kept[0]

    def put(self, key: K, value: V, *, size: int = 0) -> None:
        """Keep `value` for `key`; `size` counts against `max_size` (a value larger than
        all of it is not kept)."""
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._size -= old[1]
            if self.max_size is not None and size > self.max_size:
                return
            self._values[key] = (value, size)
            self._size += size
            while len(self._values) > self.limit or (
                self.max_size is not None and self._size > self.max_size
            ):
                _, (_, dropped) = self._values.popitem(last=False)
                self._size -= dropped

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for `key`, or `make()`'s, kept (made outside the lock)."""
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def pop(self, key: K) -> None:
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._size -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._size = 0

    @property
    def size(self) -> int:
        """The sum of the sizes the kept values were put with."""
        return self._size

    def __len__(self) -> int:
        return len(self._values)
