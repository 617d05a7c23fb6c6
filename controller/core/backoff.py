"""The one retry backoff: capped exponential, with part of each delay drawn at random.

Used by the HTTP client's retries (`controller.http`), the daemon's per-offer
retries (`controller.daemon.workqueue`) and the reconciler's retries when the
branch moves under its status commit. Pure: the random draw is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

# Past ~64 doublings every delay is the cap anyway; stop before floats overflow.
_MAX_EXPONENT = 64


@dataclass(frozen=True, slots=True)
class Backoff:
    """`base * factor**(n-1)` seconds before retry `n`, at most `cap`, then jittered.

    `jitter` is the fraction of the delay that is random: 0.5 means the
    actual delay lies in [delay/2, delay] ("equal jitter": never 0, spread
    out). Spreading retries keeps many clients or offers that failed together
    (a marketplace outage) from retrying in step.
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base < 0 or self.factor < 1 or self.cap < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("backoff needs base >= 0, factor >= 1, cap >= 0, 0 <= jitter <= 1")

    def ceiling(self, attempt: int) -> float:
        """The delay before retry number `attempt` (1-based) without jitter."""
        exponent = min(max(0, attempt - 1), _MAX_EXPONENT)
        return min(self.cap, self.base * self.factor**exponent)

    def delay(self, attempt: int, draw: float) -> float:
        """Seconds to wait before retry number `attempt`; `draw` is uniform in [0, 1)."""
        return self.ceiling(attempt) * (1.0 - self.jitter * draw)
