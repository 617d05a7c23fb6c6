"""Fewer garbage collections while a pass runs.

A pass allocates in bursts (every manifest's YAML nodes, every status's
dictionaries) and frees almost all of it by reference counting: at 10,000
offers, CPython's default thresholds (a young collection every 700 net
allocations, the older generations every 10 of those) ran thousands of
collections that found next to nothing (about 250 unreachable objects) while
scanning the pass's live statuses again and again: 1.5 s, a fifteenth of the
pass. During a pass (`fewer_collections`) the young generation holds
`PASS_YOUNG` objects before a collection: the collections that still come find
the same garbage, and the pass's objects are scanned a seventieth as often.

Nothing is frozen: freezing what is alive at a pass's start (`gc.freeze`)
saved no more CPU at 1,000 or 10,000 offers, froze garbage too, and cost a
small settle pass a tenth of its CPU in the bookkeeping it needed. A daemon's
passes follow one another with hardly an allocation between, so a pass starts
by collecting the young generations (what the last pass left there, and the
little made since): otherwise a small pass's cyclic garbage, never reaching a
collection of its own, was promoted into the oldest generation by the next
pass's first collection and waited there for a full one
(tests/security/test_attack_daemon_garbage.py). When the last pass running in
the process ends, the thresholds it found are back.
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
                gc.collect(1)  # the young garbage left since the last pass: see above
                gc.set_threshold(max(PASS_YOUNG, saved[0]), saved[1], saved[2])
            self.running += 1

    def leave(self) -> None:
        with self.lock:
            self.running -= 1
            if self.running == 0 and self.saved is not None:
                gc.set_threshold(*self.saved)
                self.saved = None


_SETTING = _Setting()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young generation's threshold for a pass.

    Passes in several threads share one setting: the first sets it, the last to end
    restores the thresholds found."""
    _SETTING.enter()
    try:
        yield
    finally:
        _SETTING.leave()
