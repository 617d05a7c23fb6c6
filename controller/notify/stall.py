"""Telling the operator the daemon is stalled: the same verdict /healthz gives, pushed.

The daemon's loop cannot report its own stall (it is the thing stuck), so a
small thread of its own asks `stall_age()` every few seconds. When an
iteration has run longer than the /healthz threshold it hands one
`events.stalled` event to the notifier, whose worker sends it: once per stall,
named by when the stuck iteration began.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from controller.notify.events import Event, stalled

log = logging.getLogger(__name__)


class StallWatch:
    """Polls the loop's age; announces a stall once it passes `threshold` seconds.

    `threshold` may be a function, asked at each look: the daemon's stall threshold
    follows its measured batch durations (`controller.daemon.pacing`), and a stall
    is announced by the same measure `/healthz` fails on.
    """

    def __init__(
        self,
        age: Callable[[], float | None],
        threshold: float | Callable[[], float],
        announce: Callable[[Event], object],
        *,
        part: str = "",
        every: float | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._age = age
        self.threshold = threshold
        self._announce = announce
        self._part = part
        first = threshold() if callable(threshold) else threshold
        self._every = every if every is not None else max(0.05, min(30.0, first / 4))
        self._wall = wall
        self._since: datetime | None = None  # the stall being reported, if any
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="offerctl-stallwatch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def check(self) -> Event | None:
        """One look: the event to announce now, if a new stall began."""
        age = self._age()
        limit = self.threshold() if callable(self.threshold) else self.threshold
        if age is None or age <= limit:
            self._since = None
            return None
        if self._since is not None:
            return None  # this stall was announced
        since = (self._wall() - timedelta(seconds=age)).replace(microsecond=0)
        self._since = since
        return stalled(self._part, since, age, limit)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                event = self.check()
                if event is not None:
                    log.error("%s", event.title.removeprefix("offerctl: "))
                    self._announce(event)
            except Exception:  # the watch must outlive anything it watches
                log.exception("stall watch failed")
