"""Which blob each status renders to, remembered: an unchanged status is not rendered again.

`land` compares each offer's new status with the status.yaml the commit
holds by blob id, which needs the status rendered and hashed. A settle pass
finds most statuses unchanged, so rendering them all (YAML emitting, the
dearest step of an unchanged offer) would be work proportional to every
in-flight offer's status for nothing. `render` is a pure function of the
status (an `OfferStatus` is frozen and hashable), so the blob id of each
status rendered lately is kept, by status and object format: a status equal
to one rendered before has the same blob id, and when the commit already
holds that blob nothing needs rendering.

Hashing a status walks all of it, and a settle pass asks about every offer's
twice (its record, then the status it lands), mostly the very object the
record store handed out the pass before. So each status object asked about
is also remembered by identity (the object itself is held, so its id cannot
be reused while the entry lasts).
"""

from __future__ import annotations

from controller.core.kept import Kept
from controller.core.model import OfferStatus
from controller.git.names import blob_oid
from controller.git.tree import TreeEntry
from controller.repo import status
from controller.repo.layout import STATUS_MODE

MAX_KEPT = 16_384  # statuses remembered, least recently used dropped first


class RenderedOids:
    """status -> the blob id of its status.yaml, for the last MAX_KEPT statuses rendered."""

    def __init__(self, limit: int = MAX_KEPT) -> None:
        self._oids: Kept[tuple[str, OfferStatus], str] = Kept(limit)
        # (id of a status object, object format) -> (that object, its blob id)
        self._by_identity: Kept[tuple[int, str], tuple[OfferStatus, str]] = Kept(limit)

    def known(self, value: OfferStatus, object_format: str) -> str | None:
        """The blob id `value` renders to, when it was rendered here before."""
        mine = self._by_identity.get((id(value), object_format))
        if mine is not None and mine[0] is value:
            return mine[1]
        oid = self._oids.get((object_format, value))
        if oid is not None:
            self._by_identity.put((id(value), object_format), (value, oid))
        return oid

    def holds(self, value: OfferStatus, entry: TreeEntry | None) -> bool:
        """Whether `entry` is status.yaml as written from `value` here: a regular file
        (STATUS_MODE) holding the blob `value` was rendered to, its bytes exactly."""
        if entry is None or entry.mode != STATUS_MODE:
            return False
        return self.known(value, "sha1" if len(entry.oid) == 40 else "sha256") == entry.oid

    def render(self, value: OfferStatus, object_format: str) -> tuple[bytes, str]:
        """status.yaml's bytes for `value` and their blob id (remembered)."""
        data = status.render(value).encode("utf-8")
        oid = blob_oid(data, object_format)
        self._oids.put((object_format, value), oid)
        self._by_identity.put((id(value), object_format), (value, oid))
        return data, oid
