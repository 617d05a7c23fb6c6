"""How big a batch is, how often a full resync runs, and when /healthz calls the loop stalled.

All three follow what the daemon measured, within bounds the operator sets:

- batch size = clamp(floor(batch_seconds / seconds per offer), 1, max_batch), where
  seconds per offer is a moving average (EWMA, weight `SMOOTHING`) over batches.
  A change waits behind at most one routine batch, so `batch_seconds` bounds the
  extra latency a busy daemon adds to an edit. Before any measurement: `INITIAL_BATCH`.
- resync period = clamp(RESYNC_FACTOR x the last full pass's duration,
  `resync_floor`, max(`resync_floor`, `resync_ceiling`)): `--resync` stays the
  shortest period, and a full pass that takes minutes is never re-queued before
  it has had time to finish and the daemon time to do anything else.
- stall threshold = clamp(STALL_FACTOR x the longest of the last `WINDOW` batches,
  `stall_floor`, max(`stall_floor`, `stall_ceiling`)): a loop iteration is one
  batch, so a slow marketplace that makes every batch slow raises the threshold
  instead of getting the process restarted, while a wedged batch still turns
  /healthz red.

Pure arithmetic on the durations it is told; no clock, no I/O; thread-safe
(the HTTP thread reads the stall threshold while the loop records batches).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

INITIAL_BATCH = 25
SMOOTHING = 0.3  # weight of the newest batch in the seconds-per-offer average
RESYNC_FACTOR = 4.0
STALL_FACTOR = 5.0
WINDOW = 20  # batches the stall threshold looks back over


@dataclass(frozen=True, slots=True)
class Bounds:
    """The operator's bounds; every time is in seconds."""

    batch_seconds: float = 0.5  # target duration of one batch
    max_batch: int = 200
    resync_floor: float = 300.0  # --resync: never resync more often than this
    resync_ceiling: float = 6 * 3600.0
    stall_floor: float = 300.0  # never call an iteration stalled sooner than this
    stall_ceiling: float = 3600.0


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), max(low, high))


class Pacing:
    """Batch size, resync period and stall threshold from the durations recorded so far."""

    def __init__(self, bounds: Bounds | None = None) -> None:
        self.bounds = bounds or Bounds()
        self._per_offer: float | None = None
        self._full_pass: float | None = None
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._lock = threading.Lock()

    def batch_done(self, offers: int, seconds: float) -> None:
        """A batch of `offers` offers took `seconds`."""
        seconds = max(0.0, seconds)
        with self._lock:
            self._recent.append(seconds)
            if offers <= 0:
                return
            sample = seconds / offers
            self._per_offer = (
                sample
                if self._per_offer is None
                else SMOOTHING * sample + (1.0 - SMOOTHING) * self._per_offer
            )

    def full_pass_done(self, seconds: float) -> None:
        """A full pass (every offer, over however many batches) took `seconds` end to end."""
        with self._lock:
            self._full_pass = max(0.0, seconds)

    def batch_size(self) -> int:
        with self._lock:
            per_offer = self._per_offer
        limit = max(1, self.bounds.max_batch)
        if per_offer is None:
            return min(INITIAL_BATCH, limit)
        if per_offer <= 0.0:
            return limit
        return int(clamp(math.floor(self.bounds.batch_seconds / per_offer), 1, limit))

    def resync_every(self) -> float:
        with self._lock:
            measured = RESYNC_FACTOR * self._full_pass if self._full_pass is not None else 0.0
        return clamp(measured, self.bounds.resync_floor, self.bounds.resync_ceiling)

    def stall_after(self) -> float:
        with self._lock:
            longest = max(self._recent, default=0.0)
        return clamp(STALL_FACTOR * longest, self.bounds.stall_floor, self.bounds.stall_ceiling)
