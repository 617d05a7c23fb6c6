"""A pass runs with fewer garbage collections, and leaves the collector as it found it."""

from __future__ import annotations

import gc
import threading
import weakref

from controller.reconcile import collector


def test_a_pass_raises_the_young_threshold_then_restores_it() -> None:
    before = gc.get_threshold()
    with collector.fewer_collections():
        assert gc.get_threshold() == (max(collector.PASS_YOUNG, before[0]), *before[1:])
        assert gc.get_freeze_count() == 0, "nothing is frozen: garbage stays collectable"
    assert gc.get_threshold() == before


class _Node:
    other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_cyclic_garbage_of_a_pass_goes_with_the_next_young_collection_after_it() -> None:
    """No collection by hand: a cycle made during a pass waits in the young generation,
    and the allocations after the pass (past the restored threshold) collect it."""
    gc.collect()
    assert gc.isenabled()
    with collector.fewer_collections():
        left = _cycle()
        made = [[] for _ in range(2 * gc.get_threshold()[1] * 700 // 700 + 1000)]
        assert left() is not None, "a thousand allocations: no collection in a pass"
    made = [[] for _ in range(5 * gc.get_threshold()[0])]
    assert left() is None, "the restored threshold collected it"
    del made


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
    assert gc.get_threshold() == before
