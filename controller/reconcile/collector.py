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
Both are undone when the last pass running in the process ends: cyclic
garbage made meanwhile is collected later, not lost, and only
`PASS_YOUNG` objects more can wait for it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PASS_YOUNG = 50_000  # objects the young generation holds during a pass (default 700)


class _Setting:
    """The passes running in this process (threads), and the thresholds found before the
    first of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.saved: tuple[int, int, int] | None = None

    def enter(self) -> None:
        with self.lock:
            if self.running == 0:
                saved = self.saved = gc.get_threshold()
                gc.freeze()
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
