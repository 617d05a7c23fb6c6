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


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_cyclic_garbage_is_collected_once_the_pass_ends() -> None:
    """What the pass froze is unfrozen after it: a cycle that was garbage when the pass
    started, or became garbage during it, is collected then, not kept for ever."""
    gc.collect()
    before = _cycle()  # garbage already, but not yet collected: frozen by the pass
    with collector.fewer_collections():
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
