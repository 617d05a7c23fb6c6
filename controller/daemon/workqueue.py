"""The daemon's work queue: which offers are due for a pass, and when.

Keys are offer ids, plus `ALL` for "every offer" (a full resync) and
`CHANGED` for "the watched branch may have moved" (an incremental pass). Each key
has at most one due time: adding a key again keeps the earlier time, so a
burst of triggers for one offer coalesces into one entry. A failed key
comes back after a capped exponential backoff with jitter, on its own
timer, so one offer's errors never delay another's work.

A key added as `urgent` (a change someone made: an edit, a push) is handed out
before every routine key (a poll of an offer in flight, a retry, a resync), and
`pop_batch` hands out at most a bounded number of keys at a time, so a change
never waits behind more than one bounded batch of routine work (`choose_batch`
is the pure rule).

Time is a plain float on a monotonic scale passed in by the caller (`now`);
nothing here reads a clock or sleeps, so tests drive it with a fake clock.
The queue is safe to share between the trigger threads and the loop.
"""

from __future__ import annotations

import heapq
import random
import threading
from collections.abc import Iterable, Set

from controller.core.backoff import Backoff

ALL = "*"  # a full pass over every offer; never a valid offer id
CHANGED = "+"  # "the branch may have moved": an incremental pass, skipped if the tip is known


class WorkQueue:
    """Keyed due times with coalescing and per-key backoff. Thread-safe."""

    def __init__(self, backoff: Backoff | None = None, rng: random.Random | None = None) -> None:
        self._backoff = backoff or Backoff()
        # Jitter needs no cryptographic strength; a seeded Random makes tests exact.
        self._rng = rng or random.Random()  # noqa: S311
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []  # may hold stale entries; _due is the truth
        self._attempts: dict[str, int] = {}
        self._urgent: set[str] = set()  # queued keys a change asked for: handed out first
        self._lock = threading.Lock()

    def add(self, key: str, now: float, delay: float = 0.0, *, urgent: bool = False) -> None:
        """Make `key` due at `now + delay`, or keep its current time if that is earlier."""
        self.add_all((key,), now, delay, urgent=urgent)

    def add_all(
        self, keys: Iterable[str], now: float, delay: float = 0.0, *, urgent: bool = False
    ) -> None:
        """`urgent` marks the keys as a change's (kept until they are handed out)."""
        at = now + max(0.0, delay)
        with self._lock:
            for key in keys:
                self._set_earliest(key, at)
                if urgent:
                    self._urgent.add(key)

    def schedule(self, key: str, at: float) -> None:
        """Make `key` due at the absolute time `at` (coalescing like `add`)."""
        with self._lock:
            self._set_earliest(key, at)

    def pop_due(self, now: float) -> set[str]:
        """Remove and return every key due at or before `now`: one batch, one pass."""
        batch: set[str] = set()
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                at, key = heapq.heappop(self._heap)
                if self._due.get(key) == at:
                    del self._due[key]
                    self._urgent.discard(key)
                    batch.add(key)
        return batch

    def take(self, key: str, now: float) -> bool:
        """Remove `key` if it is due at or before `now`; True if it was."""
        with self._lock:
            at = self._due.get(key)
            if at is None or at > now:
                return False
            del self._due[key]  # its heap entry goes stale and is skipped later
            self._urgent.discard(key)
            return True

    def pop_batch(self, now: float, limit: int) -> list[str]:
        """Remove and return the next batch of due keys (`choose_batch`); the rest stay due."""
        with self._lock:
            due = [(at, key) for key, at in self._due.items() if at <= now]
            batch = choose_batch(due, self._urgent, limit)
            for key in batch:
                del self._due[key]
                self._urgent.discard(key)
        return batch

    def has_urgent(self, now: float) -> bool:
        """Whether a change's key is due: routine work should yield to it."""
        with self._lock:
            return any(self._due.get(key, now + 1.0) <= now for key in self._urgent)

    def pending(self) -> frozenset[str]:
        """Every queued key, due or not."""
        with self._lock:
            return frozenset(self._due)

    def next_due(self) -> float | None:
        """The earliest due time, or None when nothing is queued: how long the loop may sleep."""
        with self._lock:
            while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
                heapq.heappop(self._heap)  # drop entries superseded by an earlier time
            return self._heap[0][0] if self._heap else None

    def failed(self, key: str, now: float, retry_after: float | None = None) -> float:
        """Record a failure of `key` and requeue it after backoff; returns the delay chosen.

        A server's `retry_after` is honoured as a floor: retrying earlier would
        only be refused again.
        """
        with self._lock:
            attempt = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempt
            delay = self._backoff.delay(attempt, self._rng.random())
            if retry_after is not None:
                delay = max(delay, retry_after)
            # A failure overrides an earlier timer: retrying sooner than backoff
            # would defeat it. A later trigger (a new edit) may still pull it forward.
            self._due.pop(key, None)
            self._urgent.discard(key)  # a retry is routine work
            self._set_earliest(key, now + delay)
        return delay

    def succeeded(self, key: str) -> None:
        """Forget `key`'s failures: its next failure starts the backoff from the beginning."""
        with self._lock:
            self._attempts.pop(key, None)

    def attempts(self, key: str) -> int:
        """Consecutive failures of `key` so far."""
        with self._lock:
            return self._attempts.get(key, 0)

    def due_at(self, key: str) -> float | None:
        with self._lock:
            return self._due.get(key)

    def discard(self, key: str) -> None:
        """Forget `key` entirely (its offer left this daemon's shard or the repository)."""
        with self._lock:
            self._due.pop(key, None)
            self._attempts.pop(key, None)
            self._urgent.discard(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._due)

    def _set_earliest(self, key: str, at: float) -> None:
        current = self._due.get(key)
        if current is not None and current <= at:
            return
        self._due[key] = at
        heapq.heappush(self._heap, (at, key))


def choose_batch(due: Iterable[tuple[float, str]], urgent: Set[str], limit: int) -> list[str]:
    """The next batch from the due `(time, key)` pairs: at most `limit` keys (at least one).

    When any urgent key is due, the batch holds urgent keys only (earliest first), so
    a change's status is committed without waiting for routine work; otherwise the
    routine keys that have waited longest. Ties go by key, so the choice is repeatable.
    """
    ordered = sorted(due)
    pressing = [key for _, key in ordered if key in urgent]
    chosen = pressing or [key for _, key in ordered]
    return chosen[: max(1, limit)]
