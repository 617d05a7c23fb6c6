"""The work queue: coalescing, due times, batches and per-key backoff, on a fake clock."""

from __future__ import annotations

import threading

import pytest
from daemon_helpers import seeded

from controller.daemon.workqueue import ALL, Backoff, WorkQueue


class FakeClock:
    """Seconds on a monotonic scale that only moves when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def no_jitter() -> Backoff:
    return Backoff(base=1.0, factor=2.0, cap=30.0, jitter=0.0)


class TestCoalescing:
    """Duplicate triggers for one key make one entry, due at the earliest time asked."""

    def test_the_same_key_added_many_times_is_one_entry(self) -> None:
        clock = FakeClock()
        q = WorkQueue()
        for _ in range(100):
            q.add("a", clock())
        assert len(q) == 1
        assert q.pop_due(clock()) == {"a"}
        assert len(q) == 0

    def test_a_later_add_does_not_postpone_an_earlier_due_time(self) -> None:
        clock = FakeClock()
        q = WorkQueue()
        q.add("a", clock(), delay=1.0)
        q.add("a", clock(), delay=5.0)
        assert q.due_at("a") == clock.now + 1.0

    def test_an_earlier_add_pulls_a_key_forward(self) -> None:
        clock = FakeClock()
        q = WorkQueue()
        q.add("a", clock(), delay=60.0)
        q.add("a", clock(), delay=0.5)
        assert q.next_due() == clock.now + 0.5
        clock.advance(0.5)
        assert q.pop_due(clock()) == {"a"}
        assert q.next_due() is None  # the superseded 60 s entry is gone too
        assert q.pop_due(clock.advance(120)) == set()


class TestDueTimes:
    """Keys come out only when due, all due keys at once, and next_due says how long to sleep."""

    def test_nothing_is_due_before_its_time(self) -> None:
        clock = FakeClock()
        q = WorkQueue()
        q.add("a", clock(), delay=2.0)
        assert q.pop_due(clock.advance(1.999)) == set()
        assert q.pop_due(clock.advance(0.001)) == {"a"}

    def test_every_due_key_comes_out_in_one_batch(self) -> None:
        clock = FakeClock()
        q = WorkQueue()
        for i, key in enumerate(["a", "b", "c", ALL]):
            q.add(key, clock(), delay=0.1 * i)
        q.add("later", clock(), delay=10.0)
        assert q.pop_due(clock.advance(1.0)) == {"a", "b", "c", ALL}
        assert len(q) == 1

    def test_next_due_is_the_earliest_time_or_none(self) -> None:
        clock = FakeClock()
        q = WorkQueue()
        assert q.next_due() is None
        q.add("b", clock(), delay=7.0)
        q.schedule("a", clock.now + 3.0)
        assert q.next_due() == clock.now + 3.0
        q.pop_due(clock.advance(3.0))
        assert q.next_due() == clock.now + 4.0

    def test_negative_delays_mean_now(self) -> None:
        clock = FakeClock()
        q = WorkQueue()
        q.add("a", clock(), delay=-5.0)
        assert q.due_at("a") == clock.now

    def test_discard_forgets_a_key_and_its_failures(self) -> None:
        clock = FakeClock()
        q = WorkQueue(no_jitter())
        q.failed("a", clock())
        q.discard("a")
        assert len(q) == 0
        assert q.attempts("a") == 0
        assert q.next_due() is None


class TestBackoff:
    """A failing key retries after capped exponential backoff with jitter, on its own timer."""

    def test_delays_double_up_to_the_cap(self) -> None:
        clock = FakeClock()
        q = WorkQueue(no_jitter())
        delays = [q.failed("a", clock()) for _ in range(8)]
        assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
        assert q.attempts("a") == 8

    def test_jitter_stays_within_its_fraction_of_the_delay(self) -> None:
        backoff = Backoff(base=10.0, factor=2.0, cap=100.0, jitter=0.5)
        rng = seeded(7)
        for attempt in range(1, 10):
            raw = min(100.0, 10.0 * 2 ** (attempt - 1))
            for _ in range(50):
                assert raw / 2 <= backoff.delay(attempt, rng.random()) <= raw

    def test_jitter_spreads_keys_that_failed_together(self) -> None:
        clock = FakeClock()
        q = WorkQueue(Backoff(base=10.0, jitter=0.5), seeded(1))
        delays = {q.failed(f"offer-{i}", clock()) for i in range(20)}
        assert len(delays) == 20

    def test_a_seeded_rng_makes_the_delays_reproducible(self) -> None:
        def run() -> list[float]:
            q = WorkQueue(Backoff(jitter=0.5), seeded(42))
            return [q.failed("a", 0.0) for _ in range(5)]

        assert run() == run()

    def test_one_failing_key_does_not_delay_another(self) -> None:
        clock = FakeClock()
        q = WorkQueue(no_jitter())
        for _ in range(4):
            q.failed("broken", clock())  # now 8 s away
        q.add("healthy", clock())
        assert q.pop_due(clock()) == {"healthy"}
        assert q.pop_due(clock.advance(7.9)) == set()
        assert q.pop_due(clock.advance(0.1)) == {"broken"}

    def test_a_failure_overrides_an_earlier_timer(self) -> None:
        clock = FakeClock()
        q = WorkQueue(no_jitter())
        q.add("a", clock(), delay=0.1)  # a stage timer, say
        q.failed("a", clock())
        assert q.due_at("a") == clock.now + 1.0

    def test_a_new_trigger_can_still_pull_a_backed_off_key_forward(self) -> None:
        clock = FakeClock()
        q = WorkQueue(no_jitter())
        for _ in range(5):
            q.failed("a", clock())
        q.add("a", clock(), delay=0.2)  # the user edited the offer: try the fix now
        assert q.pop_due(clock.advance(0.2)) == {"a"}

    def test_success_restarts_the_backoff_from_the_beginning(self) -> None:
        clock = FakeClock()
        q = WorkQueue(no_jitter())
        for _ in range(5):
            q.failed("a", clock())
        q.succeeded("a")
        assert q.attempts("a") == 0
        assert q.failed("a", clock()) == 1.0

    def test_retry_after_from_the_server_is_a_floor(self) -> None:
        clock = FakeClock()
        q = WorkQueue(no_jitter())
        assert q.failed("a", clock(), retry_after=12.5) == 12.5
        assert q.failed("b", clock(), retry_after=0.1) == 1.0

    @pytest.mark.parametrize("attempt", [0, 1, 50, 5000])
    def test_huge_attempt_counts_stay_at_the_cap(self, attempt: int) -> None:
        assert no_jitter().delay(attempt, seeded(0).random()) <= 30.0


def test_concurrent_adds_from_many_threads_coalesce() -> None:
    q = WorkQueue()
    keys = [f"offer-{i}" for i in range(50)]

    def hammer() -> None:
        for _ in range(20):
            q.add_all(keys, 0.0)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert q.pop_due(0.0) == set(keys)
    assert q.next_due() is None
