"""How big a batch is, how often a full resync runs, and when /healthz calls the loop stalled.

All three follow what the daemon measured, within bounds the operator sets:

- batch size: a batch of n offers is taken to cost `fixed + per_offer * n` seconds
  (fixed: the commit and the git reads every batch makes), both fitted by least
  squares over the last `WINDOW` batches (with a single batch size seen so far,
  fixed = 0). Then n = clamp(floor((max(batch_seconds, AMORTISE * fixed) - fixed)
  / per_offer), 1, min(max_batch, 2 x the largest of the last `WINDOW` batches)):
  a batch aims at `batch_seconds`, but never spends more than 1/AMORTISE of its
  time on the fixed cost, so a full pass in batches takes at most
  AMORTISE/(AMORTISE-1) times as long as in one piece; and it grows at most
  twofold, so one noisy fit cannot make a batch that runs for many seconds. A
  change waits behind at most one routine batch, so this bounds the latency a
  busy daemon adds to an edit.
  Before any measurement: `INITIAL_BATCH`.
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
AMORTISE = 2.0
MIN_PER_OFFER = 1e-4  # seconds: a noisy fit never promises free offers
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
        self._full_pass: float | None = None
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._samples: deque[tuple[int, float]] = deque(maxlen=WINDOW)  # (offers, seconds)
        self._lock = threading.Lock()

    def batch_done(self, offers: int, seconds: float) -> None:
        """A batch of `offers` offers took `seconds`."""
        seconds = max(0.0, seconds)
        with self._lock:
            self._recent.append(seconds)
            if offers > 0:
                self._samples.append((offers, seconds))

    def full_pass_done(self, seconds: float) -> None:
        """A full pass (every offer, over however many batches) took `seconds` end to end."""
        with self._lock:
            self._full_pass = max(0.0, seconds)

    def cost(self) -> tuple[float, float] | None:
        """(fixed, per offer) seconds of a batch as fitted so far; None before any batch."""
        with self._lock:
            samples = list(self._samples)
        return fit_cost(samples)

    def batch_size(self) -> int:
        limit = max(1, self.bounds.max_batch)
        with self._lock:
            largest = max((n for n, _ in self._samples), default=0)
        cost = self.cost()
        if cost is None:
            return min(INITIAL_BATCH, limit)
        limit = min(limit, 2 * largest)
        fixed, per_offer = cost
        budget = max(self.bounds.batch_seconds, AMORTISE * fixed) - fixed
        return int(clamp(math.floor(budget / per_offer), 1, limit))

    def resync_every(self) -> float:
        with self._lock:
            measured = RESYNC_FACTOR * self._full_pass if self._full_pass is not None else 0.0
        return clamp(measured, self.bounds.resync_floor, self.bounds.resync_ceiling)

    def stall_after(self) -> float:
        with self._lock:
            longest = max(self._recent, default=0.0)
        return clamp(STALL_FACTOR * longest, self.bounds.stall_floor, self.bounds.stall_ceiling)


def fit_cost(samples: list[tuple[int, float]]) -> tuple[float, float] | None:
    """Least-squares (fixed, per offer) for `seconds = fixed + per_offer * offers`.

    Both are kept non-negative; with one batch size only, everything is per offer.
    """
    if not samples:
        return None
    count = len(samples)
    mean_n = sum(n for n, _ in samples) / count
    mean_t = sum(t for _, t in samples) / count
    var_n = sum((n - mean_n) ** 2 for n, _ in samples)
    if var_n <= 0.0:
        return 0.0, max(MIN_PER_OFFER, mean_t / mean_n)
    cov = sum((n - mean_n) * (t - mean_t) for n, t in samples)
    per_offer = max(MIN_PER_OFFER, cov / var_n)
    fixed = max(0.0, mean_t - per_offer * mean_n)
    return fixed, per_offer
