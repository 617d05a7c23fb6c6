"""Fault injection for the simulated marketplace: what can go wrong on a call, and how often.

A `FaultConfig` holds rates (each in [0, 1], summing to at most 1) of:

- `error`: a transient server error (HTTP 503) before the call takes effect;
- `timeout`: no answer in time (HTTP: the server holds the request past the
  client's timeout, then answers 504); the call does not take effect;
- `throttle`: HTTP 429 with `Retry-After: retry_after` seconds (as an HTTP
  date instead when `retry_after_date` is non-zero); no effect;
- `reset`: the call *takes effect*, then the connection drops before the
  answer: the caller cannot tell, which is what idempotency keys are for.

A `FaultInjector` draws one fault (or none) per call from an RNG seeded by
`seed`, so a run with the same calls in the same order sees the same faults;
tests can also script the exact sequence.
The in-process `SimulatedMarketplace` turns faults into `MarketplaceError`s;
the HTTP server turns them into status codes and dropped connections.
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from enum import StrEnum


class Fault(StrEnum):
    ERROR = "error"
    TIMEOUT = "timeout"
    THROTTLE = "throttle"
    RESET = "reset"


# Faults that happen before the marketplace acts, so the call has no effect.
BEFORE_CALL = frozenset({Fault.ERROR, Fault.TIMEOUT, Fault.THROTTLE})


class FaultConfigError(ValueError):
    """A fault specification that does not parse or does not make sense."""


@dataclass(frozen=True, slots=True)
class FaultConfig:
    error: float = 0.0
    timeout: float = 0.0
    throttle: float = 0.0
    reset: float = 0.0
    retry_after: float = 1.0  # seconds announced with a throttle
    timeout_delay: float = 30.0  # seconds the HTTP server holds a timed-out request
    retry_after_date: float = 0.0  # non-zero: announce Retry-After as an HTTP date, not seconds
    seed: int = 0

    def __post_init__(self) -> None:
        for kind in Fault:
            rate = getattr(self, kind.value)
            if not (isinstance(rate, int | float) and math.isfinite(rate) and 0 <= rate <= 1):
                raise FaultConfigError(f"fault rate {kind.value}={rate!r} is not within [0, 1]")
        if self.total > 1 + 1e-9:
            raise FaultConfigError(f"fault rates add up to {self.total:g}, more than 1")
        for name in ("retry_after", "timeout_delay", "retry_after_date"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise FaultConfigError(f"{name}={value!r} must be a non-negative number")

    @property
    def total(self) -> float:
        return self.error + self.timeout + self.throttle + self.reset

    @property
    def enabled(self) -> bool:
        return self.total > 0

    @classmethod
    def parse(cls, text: str) -> FaultConfig:
        """`error=0.05,throttle=0.1,retry_after=2,seed=7` (or space-separated); "": no faults."""
        return cls().with_settings([text])

    def with_settings(self, settings: list[str]) -> FaultConfig:
        """This config with `name=value` settings applied (several per item, comma-separated)."""
        known = {f.name for f in fields(self)}
        changes: dict[str, float | int] = {}
        items = [part for setting in settings for part in setting.replace(",", " ").split()]
        for item in items:
            name, sep, raw = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in known:
                raise FaultConfigError(
                    f"bad fault setting {item!r}; expected NAME=VALUE with NAME one of "
                    + ", ".join(sorted(known))
                )
            try:
                changes[name] = int(raw) if name == "seed" else float(raw)
            except ValueError:
                raise FaultConfigError(f"bad fault setting {item!r}: not a number") from None
        return replace(self, **changes)  # type: ignore[arg-type]


class FaultInjector:
    """Draws faults for calls; thread-safe, reproducible for a given seed and call order."""

    def __init__(self, config: FaultConfig, *, script: Iterable[Fault | None] = ()) -> None:
        """`script`: faults (None: no fault) to hand out first, in order, before drawing."""
        self.config = config
        self._rng = random.Random(config.seed)  # noqa: S311 - simulation, not security
        self._lock = threading.Lock()
        self._script = deque(script)
        self.counts: dict[Fault, int] = dict.fromkeys(Fault, 0)

    def draw(self) -> Fault | None:
        with self._lock:
            if self._script:
                scripted = self._script.popleft()
                if scripted is not None:
                    self.counts[scripted] += 1
                return scripted
            if not self.config.enabled:
                return None
            roll = self._rng.random()
            edge = 0.0
            for kind in Fault:
                edge += getattr(self.config, kind.value)
                if roll < edge:
                    self.counts[kind] += 1
                    return kind
        return None


def as_injector(faults: FaultConfig | FaultInjector | None) -> FaultInjector | None:
    """An injector for a config (a fresh, seeded one) or the given injector itself."""
    if faults is None or isinstance(faults, FaultInjector):
        return faults
    return FaultInjector(faults)
