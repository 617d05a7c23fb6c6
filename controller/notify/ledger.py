"""What the notifier has sent: the dedup state, kept in the controller's private directory.

    <git-dir>/offerctl/notify/<local | remote=NAME>/<branch>/
        offers/<offer>.json        one per offer, written only by the shard owning it
        controller/<part>.json     events about the daemon itself (a stall), per shard
        baseline/<part>            present once notifications were first enabled here

(names percent-encoded as in `controller.reconcile.records`). An offer file holds the
phase the notifier last looked at (`previous`, for wording only) and one entry
per event id it derived: pending (some target has not had it yet), sent,
dropped (given up after `MAX_TRIES`), or baseline (true when notifications were
first enabled, so never sent). Files are replaced atomically (`fsio`), so a
crash leaves the old file or the new, never half of one.

Because an offer's file belongs to the offer, not to a shard, moving offers
between shards (a new `--shard K/N`) moves their history with them: nothing
is sent twice. Nothing from the offers repository is read here, and no secret
is written: entries hold the redacted text that was (or will be) sent and, per
target, only a digest of its URL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from controller.core.model import OfferStatus
from controller.files.fsio import atomic_write
from controller.notify.events import Event, Kind, Level
from controller.reconcile.records import (
    _name as segment,  # one encoding for every private file name
)
from controller.reconcile.records import branch_folder
from controller.repo import status

log = logging.getLogger(__name__)

LEDGER_VERSION = 1
NOTIFY_DIR = "notify"
MAX_LEDGER_BYTES = 4 * 1024 * 1024  # a status and a few dozen messages: a few KiB
MAX_TRIES = 5  # sends per target before an event is given up (logged and counted)
# Wait after the Nth failed send to a target before the next (a later pass queues it again):
# a target down for a couple of hours still gets the event.
RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)


class State(StrEnum):
    PENDING = "pending"  # some target has not had it yet
    SENT = "sent"  # every target had it (or it is no longer anyone's to send)
    DROPPED = "dropped"  # a target failed MAX_TRIES times: given up, logged, counted
    BASELINE = "baseline"  # already true when notifications were enabled: never sent


@dataclass(frozen=True, slots=True)
class Entry:
    """One event as the ledger keeps it: its redacted text and who has had it."""

    kind: str
    offer: str
    title: str
    body: str
    level: str
    state: State
    first_seen: str  # ISO time the event was first derived
    delivered: tuple[str, ...] = ()  # target keys that accepted it
    tries: Mapping[str, int] = field(default_factory=dict)  # target key -> failed sends
    retry_at: Mapping[str, str] = field(default_factory=dict)  # target key -> ISO time

    @classmethod
    def of(cls, event: Event, state: State, now: str) -> Entry:
        return cls(event.kind.value, event.offer, event.title, event.body, event.level.value,
                   state, now)  # fmt: skip

    def event(self, event_id: str) -> Event:
        return Event(
            event_id, Kind(self.kind), self.offer, self.title, self.body, Level(self.level)
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data["delivered"] = list(self.delivered)
        data["tries"] = dict(self.tries)
        data["retry_at"] = dict(self.retry_at)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Entry | None:
        try:
            entry = cls(
                kind=str(data["kind"]),
                offer=str(data["offer"]),
                title=str(data["title"]),
                body=str(data["body"]),
                level=str(data["level"]),
                state=State(data["state"]),
                first_seen=str(data["first_seen"]),
                delivered=tuple(str(k) for k in data.get("delivered", ())),
                tries={str(k): int(v) for k, v in dict(data.get("tries", {})).items()},
                retry_at={str(k): str(v) for k, v in dict(data.get("retry_at", {})).items()},
            )
            Kind(entry.kind)
            Level(entry.level)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        return entry

    def with_delivery(self, target: str) -> Entry:
        return replace(self, delivered=(*self.delivered, target))

    def with_failure(self, target: str, now: datetime) -> Entry:
        tries = self.tries.get(target, 0) + 1
        wait = RETRY_AFTER[min(tries, len(RETRY_AFTER)) - 1]
        retry = (now + wait).astimezone(UTC).isoformat(timespec="seconds")
        return replace(
            self,
            tries={**self.tries, target: tries},
            retry_at={**self.retry_at, target: retry},
        )

    def due(self, target: str, now: datetime) -> bool:
        """Whether `target` may be tried now: never failed, or its wait is over."""
        when = self.retry_at.get(target)
        if not when:
            return True
        try:
            return datetime.fromisoformat(when) <= now
        except ValueError:
            return True


@dataclass(frozen=True, slots=True)
class Page:
    """One ledger file: what was last looked at, and every event derived for it."""

    previous: OfferStatus | None = None
    entries: Mapping[str, Entry] = field(default_factory=dict)


class Ledger:
    """The notifier's files for one watched branch."""

    def __init__(self, private_dir: Path, branch: str, remote: str | None = None) -> None:
        self.root = branch_folder(private_dir, NOTIFY_DIR, branch, remote)

    # -- where -------------------------------------------------------------------------

    def offer_path(self, offer: str) -> Path:
        return self.root / "offers" / f"{segment(offer)}.json"

    def controller_path(self, part: str) -> Path:
        return self.root / "controller" / f"{segment(part or 'all')}.json"

    def _baseline_path(self, part: str) -> Path:
        return self.root / "baseline" / segment(part or "all")

    # -- baseline ----------------------------------------------------------------------

    def has_baseline(self, part: str) -> bool:
        return self._baseline_path(part).exists()

    def mark_baseline(self, part: str) -> None:
        atomic_write(self._baseline_path(part), b"notifications enabled\n")

    # -- pages -------------------------------------------------------------------------

    def load(self, path: Path) -> Page:
        """The page at `path`; an empty one when missing or unreadable (logged)."""
        try:
            if path.stat().st_size > MAX_LEDGER_BYTES:
                log.warning("notification ledger %s is oversized; starting it afresh", path)
                return Page()
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Page()
        except (OSError, ValueError) as exc:
            log.warning("notification ledger %s is unreadable (%s); starting it afresh", path, exc)
            return Page()
        if not isinstance(data, dict) or data.get("version") != LEDGER_VERSION:
            return Page()
        raw = data.get("events")
        entries: dict[str, Entry] = {}
        if isinstance(raw, dict):
            for event_id, value in raw.items():
                entry = Entry.from_json(value)
                if entry is not None:
                    entries[str(event_id)] = entry
        previous = status.from_dict(data.get("previous")) if data.get("previous") else None
        return Page(previous, entries)

    def save(self, path: Path, page: Page) -> None:
        # Of the status looked at, only its phase is kept: it words the next message, and a
        # full status would keep marketplace text (feedback) that was never redacted.
        previous = page.previous
        document = {
            "version": LEDGER_VERSION,
            "previous": {"offer": previous.offer, "phase": previous.phase.value}
            if previous is not None
            else None,
            "events": {k: e.to_json() for k, e in sorted(page.entries.items())},
        }
        data = json.dumps(document, indent=1, sort_keys=True, default=str).encode("utf-8")
        try:
            if path.read_bytes() == data:
                return
        except OSError:
            pass
        atomic_write(path, data)

    def pages(self) -> Iterator[Path]:
        """Every page file kept here (offers' and the controller's)."""
        for folder in ("offers", "controller"):
            where = self.root / folder
            if where.is_dir():
                yield from sorted(where.glob("*.json"))
