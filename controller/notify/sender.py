"""Delivering events to the operator's targets through apprise, once each, never in the way.

Targets are apprise URLs (`mailto://`, `json://`, `slack://`, `msteams://`,
...) from the operator only: `--notify URL` (repeatable) and the
`OFFERCTL_NOTIFY` environment variable (URLs separated by whitespace). The
offers repository never names one.

`Notifier.observe(statuses)` runs after a pass has committed: it derives each
offer's events (`events.derive`), writes the new ones to the ledger as
pending, and queues them. A worker thread sends them, one target at a time,
each within a socket timeout and a per-target rate limit (`limits`), and
records each delivery in the ledger. Nothing here raises into the pass: a
failure is logged (redacted) and counted, and the event stays pending: a
later pass queues it again once the target's wait is over (1 min, 5 min,
30 min, 2 h), up to `MAX_TRIES` per target; then it is dropped with an error
in the log and a count in the metrics.

Delivery is at-least-once: an event is written as pending *before* it is
sent and marked delivered after, so a crash between the two sends it again
(once) on restart, and a crash before the ledger write re-derives it from the
same state on the next pass. Nothing is dropped silently. Across restarts
and shards each event id (which names its offer) is sent once: an offer's
ledger file is written only by the shard that owns the offer.

The first time notifications are enabled for a branch (per shard), what
already holds is recorded as `baseline` and not sent: turning notifications
on does not announce every live offer.

Every title and body is redacted (`controller.core.redaction`) before it is
stored or sent: the values of secret-looking environment variables, SAS
signatures, bearer tokens, passwords in URLs and the targets' own URLs.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import apprise
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from controller.core.errors import UsageError
from controller.core.model import OfferStatus
from controller.core.redaction import Redactor
from controller.notify.events import Event, derive
from controller.notify.ledger import MAX_TRIES, Entry, Ledger, Page, State

log = logging.getLogger(__name__)

ENV_NOTIFY = "OFFERCTL_NOTIFY"
ENV_NOTIFY_RATE = "OFFERCTL_NOTIFY_RATE"
DEFAULT_RATE = "20/minute"  # per target; a burst of transitions beyond it waits its turn
SEND_TIMEOUT = 10.0  # seconds: connect and read timeout of each send, per target
QUEUE_LIMIT = 1000  # events waiting to be sent; beyond it, later passes queue them again
_MIN_TOKEN = 8  # URL parts at least this long, with a digit, are masked in messages

Outcome = Callable[[str, str], None]  # (event kind, outcome) -> count it


def utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One operator target: `key` (a digest of its URL) in the ledger, `name` in logs."""

    key: str
    name: str
    service: apprise.Apprise


def notify_urls(flags: Sequence[str] | None, environ: Mapping[str, str]) -> list[str]:
    """The operator's target URLs: every `--notify`, then `OFFERCTL_NOTIFY`'s, deduplicated."""
    urls = [*(flags or ()), *environ.get(ENV_NOTIFY, "").split()]
    return list(dict.fromkeys(u.strip() for u in urls if u.strip()))


def open_targets(urls: Iterable[str], timeout: float = SEND_TIMEOUT) -> list[Target]:
    """An apprise service per URL; a URL apprise does not know is a usage error (exit 2)."""
    targets = []
    for url in urls:
        service = apprise.Apprise()
        with _quiet_plugin_imports():
            added = service.add(url)
        if not added or len(service) != 1:
            scheme = url.split("://", 1)[0] if "://" in url else url[:12]
            raise UsageError(
                f"--notify: {scheme!r} is not a notification URL apprise understands "
                "(e.g. mailto://, json://, slack://, msteams://)"
            )
        plugin: Any = service[0]
        # Bound every send; a URL's own cto=/rto= wins.
        if "cto=" not in url:
            plugin.socket_connect_timeout = timeout
        if "rto=" not in url:
            plugin.socket_read_timeout = timeout
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        targets.append(Target(key, str(plugin.url(privacy=True)), service))
    return targets


def url_secrets(urls: Iterable[str]) -> list[str]:
    """Parts of the target URLs to mask wherever they might be echoed: tokens, passwords.

    A user name and password always; a path segment or query value when it looks like a
    token (slack://T1JJ3T3L2/A1BRTD4JD/..., a Teams webhook's GUIDs): at least
    `_MIN_TOKEN` characters with a digit in them, so that a plain word such as the
    `offerctl` in `json://hooks.example.com/offerctl` is not masked out of every message.
    """
    found: list[str] = []
    for url in urls:
        found.append(url)
        parts = urlsplit(url)
        found += [unquote(p) for p in (parts.username, parts.password) if p]
        pieces = [*parts.path.split("/"), *parts.netloc.split("@")[0].split(":")]
        pieces += [v for q in parts.query.split("&") for v in q.split("=")[1:]]
        found += [
            unquote(p) for p in pieces if len(p) >= _MIN_TOKEN and any(c.isdigit() for c in p)
        ]
    return found


@contextmanager
def _quiet_plugin_imports() -> Iterator[None]:
    # apprise's e-mail plugin imports the stdlib's imghdr, deprecated in 3.11 and gone in
    # 3.13, which apprise shims; the warning is theirs and says nothing to an operator.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
        yield


class _Captured(logging.Handler):
    """apprise's own log lines during one send: the reason a target refused, for our log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


# apprise logs through the `apprise` logger; with no handler of ours it would fall through
# to Python's last-resort stderr handler, unredacted. We log what matters ourselves.
logging.getLogger("apprise").addHandler(logging.NullHandler())


# ------------------------------------------------------------------------- the notifier


class Notifier:
    """Derives, records and sends the events of one watched branch (one shard of it)."""

    def __init__(
        self,
        targets: Sequence[Target],
        ledger: Ledger,
        *,
        redactor: Redactor,
        part: str = "",
        owns: Callable[[str], bool] = lambda offer: True,
        rate: str = DEFAULT_RATE,
        count: Outcome | None = None,
        locate: Callable[[OfferStatus], OfferStatus] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not targets:
            raise ValueError("a Notifier needs at least one target")
        self.targets = tuple(targets)
        self.ledger = ledger
        self.part = part
        self._redact = redactor
        self._owns = owns
        self._limits: list[RateLimitItem] = rate_limits(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._count = count or (lambda kind, outcome: None)
        self._locate = locate or (lambda value: value)
        self._clock = clock
        self._lock = threading.Lock()  # one read-modify-write of a ledger page at a time
        self._queue: queue.Queue[tuple[Path, str] | None] = queue.Queue(QUEUE_LIMIT)
        self._queued: set[tuple[Path, str]] = set()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # -- the pass's side: derive and record (fast, local), then queue -----------------------

    def baseline(self, statuses: Iterable[OfferStatus]) -> int:
        """Record what already holds as not-to-send, once per branch and shard; the count."""
        if self.ledger.has_baseline(self.part):
            return 0
        now = self._clock()
        taken = 0
        with self._lock:
            for value in statuses:
                if not self._owns(value.offer):
                    continue
                path = self.ledger.offer_path(value.offer)
                page = self.ledger.load(path)
                entries = dict(page.entries)
                for event in derive(page.previous, value, now):
                    if event.id not in entries:
                        entries[event.id] = Entry.of(
                            self._redacted(event), State.BASELINE, _iso(now)
                        )
                        taken += 1
                self.ledger.save(path, Page(value, entries))
            self.ledger.mark_baseline(self.part)
        log.info(
            "notifications enabled: %d event(s) already true are not sent; changes from now on are",
            taken,
        )
        return taken

    def observe(self, statuses: Mapping[str, OfferStatus]) -> int:
        """After a pass: record each offer's new events as pending and queue them. Never raises.

        Returns how many events are queued for sending.
        """
        queued = 0
        for offer, value in sorted(statuses.items()):
            if not self._owns(offer) or value.offer != offer:
                continue
            try:
                pending = self._record(value)
            except Exception as exc:  # a notification problem must never stop the daemon
                log.warning("notifications for %s not recorded: %s", offer, self._redact(repr(exc)))
                self._count("", "error")
                continue
            for event_id in pending:
                queued += self._enqueue(self.ledger.offer_path(offer), event_id)
        return queued

    def announce(self, event: Event) -> bool:
        """Record and queue an event about the controller itself (a stall). Never raises."""
        path = self.ledger.controller_path(self.part)
        try:
            with self._lock:
                page = self.ledger.load(path)
                if event.id in page.entries:
                    return False
                entries = {k: e for k, e in page.entries.items() if e.state is State.PENDING}
                entries[event.id] = Entry.of(
                    self._redacted(event), State.PENDING, _iso(self._clock())
                )
                self.ledger.save(path, Page(None, entries))
        except Exception as exc:
            log.warning("notification not recorded: %s", self._redact(repr(exc)))
            self._count(event.kind.value, "error")
            return False
        return self._enqueue(path, event.id) > 0

    def resume(self) -> int:
        """Queue what a previous run left pending (it may have crashed before sending)."""
        queued = 0
        mine = self.ledger.controller_path(self.part)
        for path in self.ledger.pages():
            with self._lock:
                page = self.ledger.load(path)
            if path.parent == mine.parent and path != mine:
                continue  # another shard's stalls are that shard's to send
            for event_id, entry in sorted(page.entries.items()):
                if entry.offer and not self._owns(entry.offer):
                    continue
                if entry.state is State.PENDING:
                    queued += self._enqueue(path, event_id)
        return queued

    def _record(self, value: OfferStatus) -> list[str]:
        now = self._clock()
        path = self.ledger.offer_path(value.offer)
        with self._lock:
            page = self.ledger.load(path)
            derived = derive(page.previous, self._locate(value), now)
            current = {event.id for event in derived}
            # Finished episodes are forgotten once their state has moved on; pending ones stay.
            entries = {
                k: e for k, e in page.entries.items() if k in current or e.state is State.PENDING
            }
            for event in derived:
                if event.id not in entries:
                    entries[event.id] = Entry.of(self._redacted(event), State.PENDING, _iso(now))
                    log.info(
                        "notification queued: %s",
                        event.kind.value,
                        extra={"offer": value.offer, "event": event.id},
                    )
            self.ledger.save(path, Page(value, entries))
        return [k for k, e in sorted(entries.items()) if e.state is State.PENDING]

    def _redacted(self, event: Event) -> Event:
        return replace(event, title=self._redact(event.title), body=self._redact(event.body))

    # -- the worker's side: send ------------------------------------------------------------

    def _enqueue(self, path: Path, event_id: str) -> int:
        item = (path, event_id)
        with self._lock:
            if item in self._queued or self._stop.is_set():
                return 0
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self._count("", "queue_full")
                return 0  # still pending in the ledger: a later pass queues it again
            self._queued.add(item)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="offerctl-notify", daemon=True
                )
                self._worker.start()
        return 1

    def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the queue to empty; True if it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._queued:
                    return True
            time.sleep(0.02)
        with self._lock:
            return not self._queued

    def close(self, timeout: float = 5.0) -> None:
        """Send what can be sent within `timeout`, then stop the worker (pending stays pending)."""
        self.drain(timeout)
        self._stop.set()
        with self._lock:
            worker = self._worker
        if worker is not None:
            with self._lock:
                self._queued.clear()
            with suppress(queue.Full):
                self._queue.put_nowait(None)
            worker.join(timeout=1.0)

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            try:
                self._deliver(*item)
            except Exception as exc:  # the worker outlives any one bad event
                log.warning("notification not sent: %s", self._redact(repr(exc)))
            finally:
                with self._lock:
                    self._queued.discard(item)

    def _deliver(self, path: Path, event_id: str) -> None:
        with self._lock:
            entry = self.ledger.load(path).entries.get(event_id)
        if entry is None or entry.state is not State.PENDING:
            return
        for target in self.targets:
            if target.key in entry.delivered or entry.tries.get(target.key, 0) >= MAX_TRIES:
                continue
            if not entry.due(target.key, self._clock()):
                continue  # failed lately: a pass after its wait queues it again
            if not self._acquire(target, entry.kind):
                return  # stopping: the event stays pending for the next run
            ok = self._send(target, entry)
            self._count(entry.kind, "sent" if ok else "failed")
            entry = self._update(path, event_id, target, ok)
            if entry is None:
                return

    def _update(self, path: Path, event_id: str, target: Target, ok: bool) -> Entry | None:
        with self._lock:
            page = self.ledger.load(path)
            entry = page.entries.get(event_id)
            if entry is None:
                return None
            entry = (
                entry.with_delivery(target.key)
                if ok
                else entry.with_failure(target.key, self._clock())
            )
            keys = [t.key for t in self.targets]
            if all(k in entry.delivered for k in keys):
                entry = replace(entry, state=State.SENT)
            elif all(k in entry.delivered or entry.tries.get(k, 0) >= MAX_TRIES for k in keys):
                entry = replace(entry, state=State.DROPPED)
                self._count(entry.kind, "dropped")
                log.error(
                    "notification %s given up after %d failed tries to %s",
                    event_id,
                    MAX_TRIES,
                    ", ".join(t.name for t in self.targets if t.key not in entry.delivered),
                    extra={"offer": entry.offer},
                )
            self.ledger.save(path, Page(page.previous, {**page.entries, event_id: entry}))
            return entry

    def _acquire(self, target: Target, kind: str) -> bool:
        """Wait for a send allowed by the target's rate limits; False when stopping."""
        limited = False
        while not self._stop.is_set():
            if all(self._limiter.test(item, target.key) for item in self._limits):
                for item in self._limits:
                    self._limiter.hit(item, target.key)
                return True
            if not limited:
                limited = True
                self._count(kind, "rate_limited")
                log.info("notifications to %s rate-limited; waiting", target.name)
            resets = [self._limiter.get_window_stats(i, target.key)[0] for i in self._limits]
            self._stop.wait(min(5.0, max(0.05, min(resets) - time.time())))
        return False

    def _send(self, target: Target, entry: Entry) -> bool:
        captured = _Captured()
        apprise_log = logging.getLogger("apprise")
        apprise_log.addHandler(captured)
        try:
            with _quiet_plugin_imports():
                result: Any = target.service.notify(
                    body=entry.body,
                    title=entry.title,
                    notify_type=entry.level,
                    body_format=apprise.NotifyFormat.TEXT,
                )
            ok = bool(result)
        except Exception as exc:  # a plugin bug is one failed send, not a dead worker
            captured.lines.append(repr(exc))
            ok = False
        finally:
            apprise_log.removeHandler(captured)
        if not ok:
            why = captured.lines[-1] if captured.lines else "no reason given"
            log.warning(
                "notification to %s failed: %s",
                target.name,
                self._redact(why),
                extra={"offer": entry.offer} if entry.offer else {},
            )
        return ok


def rate_limits(rate: str) -> list[RateLimitItem]:
    """`20/minute`, `5/minute;100/hour`: the limits' own notation; a bad one is a usage error."""
    try:
        items = parse_many(rate)
    except ValueError as exc:
        raise UsageError(
            f"--notify-rate {rate!r}: {exc} (e.g. 20/minute or 5/minute;100/hour)"
        ) from None
    if not items:
        raise UsageError(f"--notify-rate {rate!r}: no limit given (e.g. 20/minute)")
    return list(items)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
