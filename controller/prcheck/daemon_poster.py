"""Posting the daemon's commit status off the reconcile path.

`StatusPublisher.offer` is called after a pass has landed; it only hands the
latest (commit, body) to a worker thread and returns. The worker posts it
through `ChecksPoster.post_status` (the operator's GitHub API and token,
`controller.signoff.operator`). Only the newest offer waits: when GitHub is
slow, intermediate states are skipped, never queued without bound. A body
already posted for that commit is not posted again. A failure is logged
(the daemon's log handler masks secrets) and counted, never raised: GitHub
being down never holds up or fails a pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from controller.prcheck.github import ChecksPoster, PostError

log = logging.getLogger(__name__)

Body = Mapping[str, object]


class StatusPublisher:
    """One worker thread posting the newest commit status it was offered."""

    def __init__(
        self, poster: ChecksPoster, *, on_result: Callable[[str], None] | None = None
    ) -> None:
        self._poster = poster
        self._on_result = on_result or (lambda outcome: None)
        self._cond = threading.Condition()
        self._pending: tuple[str, dict[str, object]] | None = None
        self._posted: tuple[str, dict[str, object]] | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="commit-status", daemon=True)
        self._thread.start()

    def offer(self, sha: str, body: Body) -> None:
        """Post `body` on `sha` soon, replacing anything not yet posted. Never blocks."""
        item = (sha, dict(body))
        with self._cond:
            if item == self._posted or self._closed:
                return
            self._pending = item
            self._cond.notify()

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is pending or being posted (for tests and shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.drain(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self._poster.close()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                item, self._pending = self._pending, None
                self._busy = True
            outcome = self._post(*item)
            with self._cond:
                if outcome == "posted":
                    self._posted = item
                self._busy = False
                self._cond.notify_all()
            self._on_result(outcome)

    def _post(self, sha: str, body: dict[str, object]) -> str:
        try:
            self._poster.post_status(sha, body)
        except (PostError, ValueError) as exc:
            log.warning("posting the commit status on %s failed: %s", sha[:12], exc)
            return "failed"
        except Exception:  # never let the worker die; a later pass offers again
            log.exception("posting the commit status on %s failed", sha[:12])
            return "failed"
        log.info("posted commit status %s on %s", body.get("state"), sha[:12])
        return "posted"
