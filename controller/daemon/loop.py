"""The `Daemon`: triggers feed a keyed queue; due keys drain into one reconcile pass at a time.

The reconcile pass is injected (`Reconcile`), so the loop is tested with a
plain function and knows nothing about git or the marketplace. A pass gets
the offers that are due, or None for "every offer" (the first pass, a
remote change, a periodic resync). What it reports back (`PassOutcome`)
decides what happens next:

- offers in `failed_offers` come back after their own capped, jittered
  backoff; nobody else waits for them;
- offers in `next_due` get a timer for when their next stage is expected,
  so nothing polls while a week-long certification runs;
- a pass that failed as a whole (`ok` False, or a raised error) requeues its
  whole batch with backoff; a `FatalError` stops the daemon (exit 1).

The loop sleeps until the next timer or trigger. SIGTERM/SIGINT let the pass
in progress finish (its commit and push included), then the daemon exits 0;
a second signal falls through to the default action.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Protocol

from controller.core.errors import EXIT_OK, FatalError, OfferctlError, TransientError
from controller.daemon.http import HttpApp, HttpServer
from controller.daemon.metrics import CONTENT_TYPE, DaemonMetrics
from controller.daemon.shard import ALL_SHARDS, Shard
from controller.daemon.triggers import OffersWatcher, Probe, RemotePoller
from controller.daemon.webhook import PushEvent
from controller.daemon.workqueue import ALL, CHANGED, WorkQueue

log = logging.getLogger(__name__)


class PassOutcome(Protocol):
    """What the daemon needs to hear back from one reconcile pass."""

    @property
    def ok(self) -> bool:
        """The pass as a whole worked: the repo was read and status flushed (and pushed)."""
        ...

    @property
    def committed(self) -> bool:
        """A status commit was made (and pushed, with a remote)."""
        ...

    @property
    def next_due(self) -> Mapping[str, datetime]:
        """Per offer with work in flight: when (aware UTC, real wall clock, after any
        time-scale) its next stage is expected to have moved. Offers absent need no timer."""
        ...

    @property
    def failed_offers(self) -> Mapping[str, str]:
        """Offers whose part of the pass failed transiently -> a one-line reason."""
        ...

    @property
    def phases(self) -> Mapping[str, str]:
        """Offer -> phase after the pass, for every offer the pass looked at."""
        ...

    @property
    def push_retries(self) -> int:
        """How many times the status push was retried because the remote had moved."""
        ...

    @property
    def head(self) -> str:
        """The branch tip once the pass is done (its status commit, or the commit it read);
        "" if unknown. A later `CHANGED` trigger finding the same tip runs no pass."""
        ...


Reconcile = Callable[[frozenset[str] | None], PassOutcome]


@dataclass(frozen=True, slots=True)
class PassReport:
    """A ready-made `PassOutcome`, for adapters and tests."""

    ok: bool = True
    committed: bool = False
    next_due: Mapping[str, datetime] = field(default_factory=dict)
    failed_offers: Mapping[str, str] = field(default_factory=dict)
    phases: Mapping[str, str] = field(default_factory=dict)
    push_retries: int = 0
    head: str = ""


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """Timings of the loop; every one is in seconds."""

    interval: float = 30.0  # remote poll period
    resync_every: float = 300.0  # full pass regardless of triggers (missed events converge)
    debounce: float = 0.2  # a burst of file events within this window makes one pass
    heartbeat: float = 5.0  # longest sleep, so /healthz sees a live loop
    stall_after: float = 300.0  # /healthz turns 503 when one iteration runs longer than this
    min_timer_delay: float = 0.05  # floor for per-offer timers already overdue: no hot loop


def utc_now() -> datetime:
    return datetime.now(UTC)


class Daemon:
    """Runs reconcile passes when work is due, until stopped. `run()` returns the exit status."""

    def __init__(
        self,
        reconcile: Reconcile,
        *,
        config: DaemonConfig | None = None,
        shard: Shard = ALL_SHARDS,
        branch: str = "",
        watch_repo: Path | None = None,
        git_dir: Path | None = None,
        probe: Probe | None = None,
        tip: Probe | None = None,
        listen: tuple[str, int] | None = None,
        webhook_secret: bytes | None = None,
        page: Callable[[str], str] | None = None,
        queue: WorkQueue | None = None,
        metrics: DaemonMetrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config if config is not None else DaemonConfig()
        # `is not None`, not `or`: an empty queue is falsy (it has a length).
        self.queue = queue if queue is not None else WorkQueue()
        self.metrics = (
            metrics
            if metrics is not None
            else DaemonMetrics(queue_depth=lambda: float(len(self.queue)))
        )
        self.stop_event = threading.Event()
        self._reconcile = reconcile
        self._shard = shard
        self._branch = branch
        self._monotonic = monotonic
        self._wall = wall
        self._wake = threading.Event()
        self._alive = False
        self._heartbeat = monotonic()
        self._ready = False
        self._last_success: float | None = None
        self._fatal: FatalError | None = None
        self._tip = tip if tip is not None else probe
        self._head = ""  # the branch tip after the last successful pass
        self._watcher = (
            OffersWatcher(watch_repo, self.enqueue, self.config.debounce, git_dir=git_dir)
            if watch_repo is not None
            else None
        )
        self._poller = RemotePoller(
            self.enqueue,
            interval=self.config.interval,
            resync_every=self.config.resync_every,
            probe=probe,
            stop=self.stop_event,
            monotonic=monotonic,
        )
        self._http = (
            HttpServer(
                listen,
                HttpApp(
                    healthy=self.healthy,
                    ready=self.ready,
                    metrics=self.metrics.render,
                    metrics_content_type=CONTENT_TYPE,
                    on_push=self.on_push,
                    webhook_secret=webhook_secret,
                    # The timeline at the tip the last successful pass left ("" before one).
                    page=(lambda: page(self._head)) if page is not None else None,
                ),
            )
            if listen is not None
            else None
        )

    # --- triggers -------------------------------------------------------------------------

    def enqueue(self, keys: Iterable[str], source: str, delay: float = 0.0) -> None:
        """Make `keys` due after `delay`; offers outside this daemon's shard are dropped."""
        mine = [k for k in keys if k in (ALL, CHANGED) or self._shard.owns(k)]
        if not mine:
            return
        self.queue.add_all(mine, self._monotonic(), delay)
        self.metrics.triggers.labels(source=source).inc()
        self._wake.set()

    def on_push(self, push: PushEvent) -> str:
        """A verified webhook push: queue what it touched if it is our branch."""
        if self._branch and push.ref != f"refs/heads/{self._branch}":
            return f"ignored: {push.ref} is not the watched branch"
        if not push.keys:
            return "nothing to do: status changes only"
        self.enqueue(push.keys, "webhook")
        return "queued: " + ("all offers" if ALL in push.keys else ", ".join(sorted(push.keys)))

    # --- probes ---------------------------------------------------------------------------

    def healthy(self) -> tuple[bool, str]:
        if not self._alive:
            return False, "loop not running"
        age = self._monotonic() - self._heartbeat
        if age > self.config.stall_after:
            return False, f"loop stalled: no iteration finished for {age:.0f}s"
        return True, "ok"

    def stall_age(self) -> float | None:
        """Seconds since the loop last began an iteration; None while it is not running."""
        return self._monotonic() - self._heartbeat if self._alive else None

    def ready(self) -> tuple[bool, str]:
        if not self._ready or self._last_success is None:
            return False, "no successful pass yet"
        return True, f"ok: last successful pass {self._monotonic() - self._last_success:.1f}s ago"

    @property
    def http_address(self) -> tuple[str, int] | None:
        return self._http.address if self._http is not None else None

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        """Serve, watch and reconcile until `request_stop()` or SIGTERM/SIGINT; the exit status."""
        restore = self._install_signal_handlers()
        try:
            self._start_parts()
            self.enqueue((ALL,), "start")  # the first pass sees everything
            self._alive = True
            while not self.stop_event.is_set():
                self._heartbeat = self._monotonic()
                self.step()
                if self._fatal is not None:
                    break
                self._sleep()
        finally:
            self._alive = False
            self._stop_parts()
            restore()
        if self._fatal is not None:
            raise self._fatal
        log.info("stopped")
        return EXIT_OK

    def request_stop(self) -> None:
        """Ask the loop to stop after the pass in progress."""
        self.stop_event.set()
        self._wake.set()

    def step(self) -> bool:
        """Run one pass over every due key, if any; True if a pass ran."""
        keys = self.queue.pop_due(self._monotonic())
        if not keys:
            return False
        if ALL in keys:
            keys = {ALL}  # the full pass covers every offer key that came due with it
        elif keys == {CHANGED} and self._tip_is_known():
            return False  # our own status commit moved the branch: nothing new to read
        self._run_pass(keys)
        return True

    def _tip_is_known(self) -> bool:
        if not self._head or self._tip is None:
            return False
        try:
            return self._tip() == self._head
        except Exception:  # an unreadable tip: let the pass find out, and report it
            return False

    def _sleep(self) -> None:
        self._wake.clear()
        timeout = self.config.heartbeat
        due = self.queue.next_due()
        if due is not None:
            timeout = min(timeout, max(0.0, due - self._monotonic()))
        self._wake.wait(timeout)

    def _run_pass(self, keys: set[str]) -> None:
        offers = None if ALL in keys else frozenset(keys - {CHANGED})
        started = self._monotonic()
        try:
            outcome = self._reconcile(offers)
        except FatalError as exc:
            self._fatal = exc
            self.metrics.passes.labels(outcome="error").inc()
            log.error("stopping: %s", exc)
            return
        except TransientError as exc:
            self._pass_failed(keys, str(exc), exc.retry_after)
            return
        except OfferctlError as exc:
            self._pass_failed(keys, str(exc), None)
            return
        except Exception as exc:  # a bug in one pass must not end the daemon
            log.exception("reconcile pass crashed")
            self._pass_failed(keys, f"{type(exc).__name__}: {exc}", None)
            return
        finally:
            pass_seconds = max(0.0, self._monotonic() - started)
            self.metrics.pass_duration.observe(pass_seconds)
        self._record(keys, offers is None, outcome, pass_seconds)

    def _pass_failed(self, keys: set[str], reason: str, retry_after: float | None) -> None:
        self.metrics.passes.labels(outcome="error").inc()
        now = self._monotonic()
        delays = [self.queue.failed(key, now, retry_after) for key in sorted(keys)]
        log.warning(
            "pass failed, retrying in %.1fs: %s",
            min(delays),
            reason,
            extra={"keys": ",".join(sorted(keys))},
        )

    def _record(
        self, keys: set[str], full: bool, outcome: PassOutcome, pass_seconds: float = 0.0
    ) -> None:
        now = self._monotonic()
        self.metrics.record_phases(
            {o: p for o, p in outcome.phases.items() if self._shard.owns(o)},
            complete=full and outcome.ok,
        )
        if outcome.push_retries:
            self.metrics.push_retries.inc(outcome.push_retries)
        for offer, reason in sorted(outcome.failed_offers.items()):
            delay = self.queue.failed(offer, now)
            self.metrics.offer_errors.inc()
            log.warning("retrying in %.1fs: %s", delay, reason, extra={"offer": offer})
        if not outcome.ok:
            self._pass_failed(keys - set(outcome.failed_offers), "the pass did not complete", None)
        else:
            self.metrics.passes.labels(outcome="ok").inc()
            for key in keys - set(outcome.failed_offers):
                self.queue.succeeded(key)
            self._ready = True
            self._last_success = now
            self._head = outcome.head or self._head
            self.metrics.last_success.set(self._wall().timestamp())
        self._schedule(outcome.next_due, skip=set(outcome.failed_offers))
        log.log(
            logging.INFO if outcome.committed else logging.DEBUG,
            "pass done%s",
            " (status committed)" if outcome.committed else "",
            extra={
                "offers": "all" if full else ",".join(sorted(keys)),
                # wall time of the reconcile call: read, marketplace calls, commit and push
                "pass_seconds": round(pass_seconds, 3),
            },
        )

    def _schedule(self, next_due: Mapping[str, datetime], skip: set[str]) -> None:
        """Turn wall-clock due times into monotonic timers (the wall clock may jump)."""
        wall_now = self._wall()
        mono_now = self._monotonic()
        for offer, due in next_due.items():
            if offer in skip or not self._shard.owns(offer):
                continue
            delay = max(self.config.min_timer_delay, (due - wall_now).total_seconds())
            self.queue.schedule(offer, mono_now + delay)

    # --- parts ----------------------------------------------------------------------------

    def _start_parts(self) -> None:
        if self._http is not None:
            self._http.start()
            host, port = self._http.address
            log.info("listening on %s:%d", host, port)
        if self._watcher is not None:
            self._watcher.start()
        self._poller.start()

    def _stop_parts(self) -> None:
        self.stop_event.set()
        if self._watcher is not None:
            self._watcher.stop()
        if self._http is not None:
            self._http.stop()
        self._poller.join(timeout=5)

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # only the main thread may own signals (tests run us elsewhere)
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("%s received: finishing the pass in progress", signal.Signals(signum).name)
            # A second signal takes the default action: an impatient operator can still force it.
            signal.signal(signum, previous[signal.Signals(signum)])
            self.request_stop()

        for sig in previous:
            signal.signal(sig, handle)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore
