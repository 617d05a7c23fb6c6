"""What the daemon serves at `/`: the timeline page of the commit its last pass left.

The last successful pass leaves the branch tip it committed or read
(`PassOutcome.head`), and the page shows the committed statuses there:
what `offerctl status` would show at that commit, so the page never runs
ahead of or behind what is on the branch. Reading is lazy (nothing happens
until somebody asks) and cached by commit id: requests for the same commit
parse nothing, and a new commit re-parses only the status files whose blob
changed (a pass commits a few of them; the others keep their parsed value,
keyed by blob id). The page itself shows ages, so it is rendered again
when the commit changes or the last rendering is REUSE_SECONDS old: a client
that asks many times a second costs one rendering per interval, whatever
the number of offers.

It opens its own `GitRepo` (its own `git cat-file` process), because the
reconcile pass's is not safe to share across threads, and reads git for one
request at a time. Status files are untrusted input: an oversized, unreadable
or non-file status.yaml becomes a row saying so, never an error page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.core.errors import UserError
from controller.core.model import OfferStatus
from controller.git.repo import OFFERS_DIR, GitRepo
from controller.present.page import render_page, waiting_page
from controller.repo import status
from controller.repo.statusread import MANIFEST_FILE, MAX_STATUS_BYTES, OfferEntry, status_path

REUSE_SECONDS = 5.0  # how long one rendering answers every request for the same commit
WAITING = "No successful reconcile pass yet: the page appears after the first one"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _recent(moment: datetime, now: datetime) -> bool:
    """Rendered under REUSE_SECONDS ago (a clock that went back makes it stale too)."""
    return timedelta(0) <= now - moment < timedelta(seconds=REUSE_SECONDS)


class TimelinePage:
    """`render(commit)` -> the page's HTML; statuses cached by commit and by blob id."""

    def __init__(
        self,
        repo_path: Path,
        *,
        include: Callable[[str], bool] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._path = repo_path
        self._include = include
        self._clock = clock
        self._lock = threading.Lock()
        self._repo: GitRepo | None = None
        self._commit = ""
        self._entries: tuple[OfferEntry, ...] = ()
        # (path, mode, blob id) -> (status, problem)
        self._parsed: dict[str, tuple[OfferStatus | None, str]] = {}
        self._rendered: tuple[str, datetime, str] | None = None  # (commit, when, html)
        self.reads = 0  # commits read from git (a measure for tests: cache hits add none)
        self.parses = 0  # status blobs parsed
        self.renders = 0  # pages rendered

    def render(self, commit: str) -> str:
        """The page for the statuses at `commit`; "" means no pass has succeeded yet."""
        now = self._clock()
        if not commit:
            return waiting_page(now, WAITING)
        entries = self.entries(commit)
        with self._lock:
            last = self._rendered
            if last is None or last[0] != commit or not _recent(last[1], now):
                last = self._rendered = (commit, now, render_page(entries, commit=commit, now=now))
                self.renders += 1
            return last[2]

    def entries(self, commit: str) -> tuple[OfferEntry, ...]:
        """Every offer folder at `commit` with its status, sorted; cached by commit."""
        with self._lock:
            if commit != self._commit:
                self._entries = self._read(commit)
                self._commit = commit
            return self._entries

    def _read(self, commit: str) -> tuple[OfferEntry, ...]:
        if self._repo is None:
            self._repo = GitRepo(self._path)
        snapshot = self._repo.snapshot(commit)
        self.reads += 1
        entries: list[OfferEntry] = []
        parsed: dict[str, tuple[OfferStatus | None, str]] = {}
        for offer in snapshot.offer_ids():
            if self._include is not None and not self._include(offer):
                continue
            manifest = snapshot.entry(f"{OFFERS_DIR}/{offer}/{MANIFEST_FILE}") is not None
            path = status_path(offer)
            entry = snapshot.entry(path)
            if entry is None:
                if manifest:
                    entries.append(OfferEntry(offer, None))
                continue
            key = f"{path} {entry.mode} {entry.oid}"  # the problem text names the path
            if key not in parsed:
                parsed[key] = self._parsed.get(key) or self._parse(snapshot.read, path, entry.size)
            current, problem = parsed[key]
            entries.append(OfferEntry(offer, current, problem, manifest))
        self._parsed = parsed  # only this commit's blobs stay: memory follows the repository
        return tuple(entries)

    def _parse(
        self, read: Callable[[str], bytes], path: str, size: int
    ) -> tuple[OfferStatus | None, str]:
        if size > MAX_STATUS_BYTES:
            return None, f"{path} is {size:,} bytes"
        self.parses += 1
        try:
            current = status.parse(read(path), name=path)
        except UserError as exc:  # a symlink or another non-file where status.yaml should be
            return None, str(exc)
        return current, "" if current is not None else f"{path} is not a readable status"

    def close(self) -> None:
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None

    def __enter__(self) -> TimelinePage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
