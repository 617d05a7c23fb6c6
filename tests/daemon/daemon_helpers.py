"""Helpers for the daemon tests: a recording reconcile pass, a daemon in a thread, HTTP calls.

`RecordingReconcile` is a plain implementation of the `Reconcile` interface,
not a mock: it records which offers each pass was asked for and answers with
whatever outcome the test scripts.
"""

from __future__ import annotations

import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from controller.daemon.loop import Daemon, PassOutcome, PassReport

Script = Callable[[frozenset[str] | None, int], PassOutcome]


class RecordingReconcile:
    """Records every pass's argument; `script(offers, n)` decides the outcome (default: ok)."""

    def __init__(self, script: Script | None = None) -> None:
        self.calls: list[frozenset[str] | None] = []
        self._script = script
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    def __call__(self, offers: frozenset[str] | None) -> PassOutcome:
        with self._lock:
            n = len(self.calls)
            self.calls.append(offers)  # recorded on entry: a pass that raises still counts
            self.changed.notify_all()
        return self._script(offers, n) if self._script else PassReport()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[frozenset[str] | None]:
        """Block until at least `count` passes ran; fails the test after `timeout`."""
        with self._lock:
            if not self.changed.wait_for(lambda: len(self.calls) >= count, timeout):
                raise AssertionError(f"{len(self.calls)} passes after {timeout}s: {self.calls}")
            return list(self.calls)

    def snapshot(self) -> list[frozenset[str] | None]:
        with self._lock:
            return list(self.calls)


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    """Run `daemon` in a thread for the block; stop it and check it ended cleanly."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["code"] = daemon.run()
        except BaseException as exc:  # reported to the test below
            result["error"] = exc

    thread = threading.Thread(target=target, name="test-daemon")
    thread.start()
    try:
        yield daemon
    finally:
        daemon.request_stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "daemon did not stop within 10 s"
    if "error" in result:
        raise result["error"]
    assert result["code"] == 0


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.01)


def http(
    method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """One HTTP request; (status, body text) for any status, errors included."""
    assert url.startswith("http://127.0.0.1:")
    req = urllib.request.Request(  # noqa: S310 - checked above: plain http to loopback
        url, data=body, method=method, headers=dict(headers or {})
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode()


def seeded(seed: int) -> random.Random:
    """A reproducible RNG for jitter (never for anything secret)."""
    return random.Random(seed)  # noqa: S311
