"""A pass runs with fewer garbage collections, and leaves the collector as it found it."""

from __future__ import annotations

import gc
import threading
import weakref

from controller.reconcile import collector


def test_a_pass_raises_the_threshold_and_freezes_then_restores_both() -> None:
    before = gc.get_threshold()
    with collector.fewer_collections():
        assert gc.get_threshold()[0] == max(collector.PASS_YOUNG, before[0])
        assert gc.get_freeze_count() > 0, "what was alive before the pass is left out"
        made: list[list[int]] = [[] for _ in range(10)]
        assert all(gc.is_tracked(m) for m in made)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


class _Node:
    other: _Node | None = None


def _pair() -> _Node:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return a


def _cycle() -> weakref.ref[_Node]:
    return weakref.ref(_pair())


def test_cyclic_garbage_is_collected_once_the_pass_ends() -> None:
    """What the pass froze is unfrozen after it: a cycle that was alive when the pass
    started and became garbage during it, or was made during it, is collected then,
    not kept for ever. (Garbage already there when a pass starts is collected before
    the freeze: see the next test.)"""
    gc.collect()
    held = [_pair()]
    before = weakref.ref(held[0])  # alive when the pass starts: frozen by it
    with collector.fewer_collections():
        held.clear()
        during = _cycle()
        gc.collect()
        assert before() is not None, "frozen: left out of collections during the pass"
        assert during() is None, "made during the pass: collected by a collection"
        after = _cycle()
    gc.collect()
    assert before() is None and after() is None


def test_overlapping_passes_restore_the_setting_only_when_the_last_ends() -> None:
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def other_pass() -> None:
        with collector.fewer_collections():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other_pass)
    with collector.fewer_collections():
        thread.start()
        assert inside.wait(10)
    assert gc.get_threshold()[0] == max(collector.PASS_YOUNG, before[0]), "still in a pass"
    release.set()
    thread.join(10)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_garbage_a_small_pass_leaves_is_collected_when_the_next_one_starts() -> None:
    """A pass too small to reach a collection leaves its cyclic garbage young; the next
    pass must not freeze it (frozen, it is never collected: a daemon's passes follow one
    another with hardly an allocation in between)."""
    gc.collect()
    with collector.fewer_collections():
        left = _cycle()  # garbage at the pass's end, no collection since
    assert left() is not None, "nothing collected it yet"
    with collector.fewer_collections():
        assert left() is None


def test_what_died_while_frozen_is_collected_once_the_objects_grew_by_a_quarter() -> None:
    """Objects alive when a pass starts and garbage by its end wait in the oldest
    generation: a full collection comes once what a pass freezes has grown by
    1/FULL_GROWTH since the last one (as CPython's own rule would), not never."""
    gc.collect()
    gc.disable()  # no automatic collection: only what the collector itself does counts
    try:
        with collector.fewer_collections():
            pass  # the baseline is known (a first pass, or an earlier test's)
        held = [_pair() for _ in range(100)]
        dead = [weakref.ref(n) for n in held]
        with collector.fewer_collections():
            held.clear()  # frozen when they died
        with collector.fewer_collections():
            assert all(d() is not None for d in dead), "no growth yet: not collected"
        last = collector._SETTING.collected  # at the last full collection (an earlier test's)
        wanted = last + last // collector.FULL_GROWTH + 1000
        grown = [[] for _ in range(max(0, wanted - len(gc.get_objects())))]
        with collector.fewer_collections():
            assert all(d() is None for d in dead)
        del grown
    finally:
        gc.enable()
