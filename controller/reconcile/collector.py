"""Fewer garbage collections while a pass runs.

A pass allocates in bursts (every manifest's YAML nodes, every status's
dictionaries) and frees almost all of it by reference counting: at 10,000
offers, CPython's default thresholds (a young collection every 700 net
allocations, the older generations every 10 of those) ran thousands of
collections that found next to nothing (about 250 unreachable objects) while
scanning the pass's live statuses again and again: 1.5 s, a fifteenth of the
pass. During a pass (`fewer_collections`) the young generation holds
`PASS_YOUNG` objects before a collection, and what was alive before the pass (the
modules, the memos kept across passes) is left out of collections (`gc.freeze`).
Both are undone when the last pass running in the process ends.

Freezing keeps what it freezes out of every collection until it is unfrozen,
garbage included, and a daemon's passes follow one another with little made in
between: a pass too small to reach a collection (a few offers, a settle pass)
left its cyclic garbage (json's encoder closures, a few KiB a pass) to be frozen
by the next pass, and so on for ever, never collected. So a pass first collects
the young generations (what the last pass and the time since left: cheap, they
hold only what is new), and when what it would freeze has grown by a quarter
since the last full collection (`FULL_GROWTH`, CPython's own rule for one) it
collects everything first: what was alive at a pass's start and died in it
waits for that, as it would without the freeze.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PASS_YOUNG = 50_000  # objects the young generation holds during a pass (default 700)
FULL_GROWTH = 4  # a full collection before freezing once the objects grew by 1/FULL_GROWTH


class _Setting:
    """The passes running in this process (threads), and the thresholds found before the
    first of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.saved: tuple[int, int, int] | None = None
        self.collected = 0  # objects frozen after the last full collection (or the first pass)

    def enter(self) -> None:
        with self.lock:
            if self.running == 0:
                saved = self.saved = gc.get_threshold()
                gc.collect(1)  # young garbage frozen now would never be collected
                gc.freeze()
                alive = gc.get_freeze_count()
                if not self.collected:
                    self.collected = alive  # the first pass: what a process starts with
                elif alive > self.collected + self.collected // FULL_GROWTH:
                    gc.unfreeze()
                    gc.collect()
                    gc.freeze()
                    self.collected = gc.get_freeze_count()
                gc.set_threshold(max(PASS_YOUNG, saved[0]), saved[1], saved[2])
            self.running += 1

    def leave(self) -> None:
        with self.lock:
            self.running -= 1
            if self.running == 0 and self.saved is not None:
                gc.set_threshold(*self.saved)
                gc.unfreeze()
                self.saved = None


_SETTING = _Setting()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young generation's threshold and freeze what is alive, for a pass.

    Passes in several threads share one setting: the first sets it, the last to end
    restores the thresholds found and unfreezes."""
    _SETTING.enter()
    try:
        yield
    finally:
        _SETTING.leave()
