"""The work queue's batches: changes ahead of routine work, bounded, nothing lost (pure)."""

from __future__ import annotations

import pytest
from daemon_helpers import seeded

from controller.daemon.workqueue import Backoff, WorkQueue, choose_batch


def queue() -> WorkQueue:
    return WorkQueue(Backoff(base=1.0, cap=8.0, jitter=0.0), seeded(0))


class TestChooseBatch:
    def test_urgent_keys_go_first_even_when_routine_ones_waited_longer(self) -> None:
        due = [(1.0, "poll-a"), (2.0, "poll-b"), (5.0, "edit")]
        assert choose_batch(due, {"edit"}, limit=10) == ["edit"]

    def test_without_urgent_keys_the_longest_waiting_come_first(self) -> None:
        due = [(3.0, "c"), (1.0, "b"), (1.0, "a"), (2.0, "d")]
        assert choose_batch(due, set(), limit=3) == ["a", "b", "d"]

    def test_a_batch_never_exceeds_its_limit(self) -> None:
        due = [(float(i), f"o{i:02d}") for i in range(10)]
        assert choose_batch(due, {"o05", "o07", "o09"}, limit=2) == ["o05", "o07"]
        assert choose_batch(due, set(), limit=4) == ["o00", "o01", "o02", "o03"]

    @pytest.mark.parametrize("limit", [0, -3])
    def test_a_batch_holds_at_least_one_key(self, limit: int) -> None:
        assert choose_batch([(0.0, "a"), (1.0, "b")], set(), limit) == ["a"]

    def test_nothing_due_is_an_empty_batch(self) -> None:
        assert choose_batch([], {"a"}, limit=5) == []


class TestPopBatch:
    def test_a_change_added_during_a_long_pass_comes_out_in_the_next_batch(self) -> None:
        q = queue()
        q.add_all([f"offer-{i:03d}" for i in range(100)], now=0.0)  # a full pass: routine
        first = q.pop_batch(now=0.0, limit=10)
        assert first == [f"offer-{i:03d}" for i in range(10)]
        q.add("offer-077", now=1.0, urgent=True)  # someone edited offer-077
        assert q.has_urgent(now=1.0)
        assert q.pop_batch(now=1.0, limit=10) == ["offer-077"]
        assert not q.has_urgent(now=1.0)
        assert q.pop_batch(now=1.0, limit=10) == [f"offer-{i:03d}" for i in range(10, 20)]

    def test_every_key_comes_out_exactly_once_across_batches(self) -> None:
        q = queue()
        keys = {f"k{i}" for i in range(23)}
        q.add_all(keys, now=0.0)
        q.add_all({"k3", "k20", "new"}, now=0.5, urgent=True)
        seen: list[str] = []
        while batch := q.pop_batch(now=1.0, limit=4):
            assert len(batch) <= 4
            seen += batch
        assert sorted(seen) == sorted(keys | {"new"})
        assert seen[:3] == ["k20", "k3", "new"]  # the urgent ones (all due at 0.0 or 0.5)
        assert len(q) == 0

    def test_keys_not_yet_due_stay_queued(self) -> None:
        q = queue()
        q.add("later", now=0.0, delay=5.0, urgent=True)
        q.add("now", now=0.0)
        assert not q.has_urgent(now=1.0)
        assert q.pop_batch(now=1.0, limit=10) == ["now"]
        assert q.pending() == frozenset({"later"})
        assert q.pop_batch(now=5.0, limit=10) == ["later"]

    def test_an_urgent_key_that_fails_retries_as_routine_work(self) -> None:
        q = queue()
        q.add("edited", now=0.0, urgent=True)
        assert q.pop_batch(now=0.0, limit=5) == ["edited"]
        assert q.failed("edited", now=0.0) == 1.0
        q.add("other-edit", now=0.9, urgent=True)
        assert q.pop_batch(now=1.0, limit=5) == ["other-edit"]  # the retry is not urgent
        assert q.pop_batch(now=1.0, limit=5) == ["edited"]

    def test_take_removes_one_due_key_only(self) -> None:
        q = queue()
        q.add("*", now=0.0, delay=2.0)
        q.add("a", now=0.0)
        assert not q.take("*", now=1.0)
        assert not q.take("missing", now=1.0)
        assert q.take("*", now=2.0)
        assert q.pending() == frozenset({"a"})
        assert q.next_due() == 0.0
