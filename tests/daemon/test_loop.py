"""The Daemon's loop, driven by a plain reconcile function in real (short) time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from daemon_helpers import RecordingReconcile, http, running, seeded, wait_until

from controller.core.errors import FatalError, TransientError
from controller.daemon.loop import Daemon, DaemonConfig, PassOutcome, PassReport, utc_now
from controller.daemon.shard import Shard
from controller.daemon.workqueue import ALL, CHANGED, Backoff, WorkQueue

FAST = DaemonConfig(heartbeat=0.2, debounce=0.05, min_timer_delay=0.01)


class PausableClock:
    """time.monotonic that a test can hold still for a moment; it never runs backwards."""

    def __init__(self) -> None:
        self._held: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._held if self._held is not None else time.monotonic()

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            self._held = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._held = None


def fast_queue(base: float = 0.1, cap: float = 1.0) -> WorkQueue:
    return WorkQueue(Backoff(base=base, cap=cap, jitter=0.0), seeded(0))


class TestPasses:
    """What the loop asks the reconcile pass for."""

    def test_the_first_pass_covers_every_offer(self) -> None:
        reconcile = RecordingReconcile()
        with running(Daemon(reconcile, config=FAST)):
            assert reconcile.wait_for(1) == [None]

    def test_a_burst_of_triggers_makes_one_pass(self) -> None:
        # The burst is logically instantaneous: the daemon's clock stands still while the
        # 30 triggers arrive, so a loaded machine that takes longer than the coalescing
        # delay to run the loop below cannot split it into two passes.
        clock = PausableClock()
        reconcile = RecordingReconcile()
        daemon = Daemon(reconcile, config=FAST, monotonic=clock)
        with running(daemon):
            reconcile.wait_for(1)
            with clock.paused():
                for i in range(30):
                    daemon.enqueue([f"offer-{i % 10}"], "watch", delay=0.1)
            calls = reconcile.wait_for(2)
            time.sleep(0.3)
            assert reconcile.snapshot() == [None, frozenset(f"offer-{i}" for i in range(10))]
            assert calls[1] is not None

    def test_a_full_pass_absorbs_the_offer_keys_due_with_it(self) -> None:
        reconcile = RecordingReconcile()
        daemon = Daemon(reconcile, config=FAST)
        with running(daemon):
            reconcile.wait_for(1)
            daemon.enqueue(["a", "b", ALL], "test", delay=0.05)
            reconcile.wait_for(2)
            time.sleep(0.2)
            assert reconcile.snapshot() == [None, None]

    def test_offers_outside_the_shard_are_never_queued(self) -> None:
        shard = Shard(0, 2)
        mine = next(o for o in (f"o-{i}" for i in range(100)) if shard.owns(o))
        theirs = next(o for o in (f"o-{i}" for i in range(100)) if not shard.owns(o))
        reconcile = RecordingReconcile()
        daemon = Daemon(reconcile, config=FAST, shard=shard)
        with running(daemon):
            reconcile.wait_for(1)
            daemon.enqueue([mine, theirs], "test")
            assert reconcile.wait_for(2)[1] == frozenset({mine})


class TestTimers:
    """Offers with work in flight come back when their next stage is due, and not before."""

    def test_an_offer_is_looked_at_again_when_its_stage_is_due(self) -> None:
        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            if n == 0:
                return PassReport(next_due={"a": utc_now() + timedelta(seconds=0.3)})
            return PassReport()

        reconcile = RecordingReconcile(script)
        with running(Daemon(reconcile, config=FAST)):
            reconcile.wait_for(1)
            started = time.monotonic()
            assert reconcile.wait_for(2)[1] == frozenset({"a"})
            assert time.monotonic() - started >= 0.25

    def test_an_idle_daemon_runs_no_passes(self) -> None:
        reconcile = RecordingReconcile()
        with running(Daemon(reconcile, config=FAST)):
            reconcile.wait_for(1)
            time.sleep(0.8)  # four heartbeats
            assert reconcile.snapshot() == [None]

    def test_an_overdue_stage_does_not_spin_the_loop(self) -> None:
        # The pass keeps saying "due a minute ago": the floor keeps it to one pass per tick.
        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            return PassReport(next_due={"a": utc_now() - timedelta(minutes=1)})

        reconcile = RecordingReconcile(script)
        config = DaemonConfig(heartbeat=0.2, min_timer_delay=0.1)
        with running(Daemon(reconcile, config=config)):
            time.sleep(0.55)
            assert 3 <= len(reconcile.snapshot()) <= 8


class TestFailures:
    """Failures back off per key; a fatal error stops the daemon; a crash does not."""

    def test_one_failing_offer_backs_off_without_delaying_others(self) -> None:
        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            failing = {"bad": "marketplace said 503"} if offers and "bad" in offers else {}
            return PassReport(failed_offers=failing)

        reconcile = RecordingReconcile(script)
        queue = fast_queue(base=0.2, cap=5.0)
        daemon = Daemon(reconcile, config=FAST, queue=queue)
        with running(daemon):
            reconcile.wait_for(1)
            daemon.enqueue(["bad"], "test")
            reconcile.wait_for(2)
            daemon.enqueue(["good"], "test")
            assert reconcile.wait_for(3)[2] == frozenset({"good"})  # did not wait for "bad"
            wait_until(lambda: queue.attempts("bad") >= 3, timeout=3, what="bad retried")
            calls = reconcile.snapshot()
            assert calls.count(frozenset({"bad"})) >= 3
            assert queue.attempts("good") == 0

    def test_a_transient_pass_error_retries_after_its_retry_after(self) -> None:
        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            if n == 0:
                raise TransientError("remote unreachable", retry_after=0.3)
            return PassReport()

        reconcile = RecordingReconcile(script)
        daemon = Daemon(reconcile, config=FAST, queue=fast_queue(base=0.01))
        with running(daemon):
            reconcile.wait_for(1)
            assert daemon.ready() == (False, "no successful pass yet")
            failed_at = time.monotonic()
            assert reconcile.wait_for(2)[1] is None  # the full pass is retried as a full pass
            assert time.monotonic() - failed_at >= 0.25
            wait_until(lambda: daemon.ready()[0], what="ready")

    def test_a_pass_that_did_not_complete_is_retried(self) -> None:
        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            return PassReport(ok=n > 1)

        reconcile = RecordingReconcile(script)
        daemon = Daemon(reconcile, config=FAST, queue=fast_queue(base=0.05))
        with running(daemon):
            assert reconcile.wait_for(3) == [None, None, None]
            wait_until(lambda: daemon.ready()[0], what="ready")
            assert daemon.queue.attempts(ALL) == 0

    def test_a_crashing_pass_is_logged_and_retried(self, caplog: pytest.LogCaptureFixture) -> None:
        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            if n == 0:
                raise KeyError("bug")
            return PassReport()

        reconcile = RecordingReconcile(script)
        daemon = Daemon(reconcile, config=FAST, queue=fast_queue(base=0.05))
        with running(daemon):
            reconcile.wait_for(2)
            wait_until(lambda: daemon.ready()[0], what="ready")
        assert "reconcile pass crashed" in caplog.text

    def test_a_fatal_error_stops_the_daemon(self) -> None:
        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            raise FatalError("repository is gone")

        reconcile = RecordingReconcile(script)
        daemon = Daemon(reconcile, config=FAST)
        with pytest.raises(FatalError, match="repository is gone"), running(daemon):
            reconcile.wait_for(1)
            wait_until(lambda: not daemon.healthy()[0], what="loop ended")
        assert reconcile.snapshot() == [None]


class TestStopping:
    """Stopping lets the pass in progress finish."""

    def test_stop_during_a_pass_waits_for_it_to_finish(self) -> None:
        entered = threading.Event()
        finished: list[bool] = []

        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            entered.set()
            time.sleep(0.3)  # "committing"
            finished.append(True)
            return PassReport(committed=True)

        daemon = Daemon(RecordingReconcile(script), config=FAST)
        with running(daemon):
            assert entered.wait(5)
            daemon.request_stop()
        assert finished == [True]


class TestProbes:
    """/healthz and /readyz over HTTP."""

    def test_ready_only_after_the_first_successful_pass(self) -> None:
        gate = threading.Event()

        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            gate.wait(5)
            return PassReport()

        daemon = Daemon(RecordingReconcile(script), config=FAST, listen=("127.0.0.1", 0))
        with running(daemon):
            wait_until(lambda: daemon.http_address is not None and daemon.healthy()[0])
            base = f"http://127.0.0.1:{daemon.http_address[1]}"  # type: ignore[index]
            assert http("GET", base + "/readyz")[0] == 503
            assert http("GET", base + "/healthz") == (200, "ok\n")
            gate.set()
            wait_until(lambda: http("GET", base + "/readyz")[0] == 200, what="ready")
            assert http("GET", base + "/nothing")[0] == 404

    def test_a_wedged_pass_turns_healthz_red(self) -> None:
        gate = threading.Event()

        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            gate.wait(5)
            return PassReport()

        config = DaemonConfig(heartbeat=0.1, stall_after=0.2)
        reconcile = RecordingReconcile(script)
        daemon = Daemon(reconcile, config=config)
        with running(daemon):
            reconcile.wait_for(1)
            wait_until(lambda: not daemon.healthy()[0], what="stalled")
            assert "stalled" in daemon.healthy()[1]
            gate.set()
            wait_until(lambda: daemon.healthy()[0], what="healthy again")


class TestBranchMoves:
    """`CHANGED` runs a pass only when the tip differs from the one the last pass left."""

    def test_our_own_status_commit_does_not_trigger_another_pass(self) -> None:
        tip = {"value": "c1"}

        def script(offers: frozenset[str] | None, n: int) -> PassOutcome:
            tip["value"] = f"status-{n}"  # the pass committed status: the branch moved
            return PassReport(committed=True, head=tip["value"])

        reconcile = RecordingReconcile(script)
        daemon = Daemon(reconcile, config=FAST, tip=lambda: tip["value"])
        with running(daemon):
            reconcile.wait_for(1)
            daemon.enqueue([CHANGED], "watch")  # the ref event our own commit caused
            time.sleep(0.3)
            assert reconcile.snapshot() == [None]
            tip["value"] = "human-commit"
            daemon.enqueue([CHANGED], "watch")
            assert reconcile.wait_for(2)[1] == frozenset()  # incremental: whatever changed


def test_a_daemon_that_fails_to_start_releases_its_port(tmp_path: Path) -> None:
    missing = tmp_path / "not-there"  # watchdog refuses a directory that does not exist
    daemon = Daemon(RecordingReconcile(), config=FAST, watch_repo=missing, listen=("127.0.0.1", 0))
    address = daemon.http_address
    assert address is not None
    with pytest.raises(OSError):
        daemon.run()
    # The port is free again: a restarted daemon can bind it.
    again = Daemon(RecordingReconcile(), config=FAST, listen=address)
    assert again.http_address == address
    again._http.stop()  # type: ignore[union-attr]
