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

The same comparison tells `evaluate` whether the committed status.yaml is the
controller's own record rendered (`renders`): then the record stands for it,
and the file is neither parsed nor held a second time (a settle pass of a
fresh process would otherwise hold two statuses per offer in flight).

Both memos are bounded in entries and in the bytes of status.yaml their
statuses rendered to, since they keep those statuses alive.
"""

from __future__ import annotations

from controller.core.kept import Kept
from controller.core.model import OfferStatus
from controller.git.names import blob_oid
from controller.git.tree import TreeEntry
from controller.repo import status
from controller.repo.layout import STATUS_MODE

MAX_KEPT = 16_384  # statuses remembered, least recently used dropped first
MAX_KEPT_BYTES = 16 * 1024 * 1024  # ... and at most this many bytes of theirs rendered


class RenderedOids:
    """status -> the blob id of its status.yaml, for the last MAX_KEPT statuses rendered
    (and MAX_KEPT_BYTES of status.yaml: the statuses are kept alive as keys)."""

    def __init__(self, limit: int = MAX_KEPT, max_bytes: int = MAX_KEPT_BYTES) -> None:
        # (object format, status) -> (its blob id, its bytes' length)
        self._oids: Kept[tuple[str, OfferStatus], tuple[str, int]] = Kept(
            limit, max_weight=max_bytes
        )
        # (id of a status object, object format) -> (that object, its blob id)
        self._by_identity: Kept[tuple[int, str], tuple[OfferStatus, str]] = Kept(
            limit, max_weight=max_bytes
        )

    def expect(self, offers: int) -> None:
        """The next pass is about `offers` offers (`Kept.expect`: past what the memos hold
        they keep nothing, and statuses are rendered to compare)."""
        self._oids.expect(offers)
        self._by_identity.expect(offers)

    def known(self, value: OfferStatus, object_format: str, *, remember: bool = True) -> str | None:
        """The blob id `value` renders to, when it was rendered here before; `remember`
        also keeps `value` itself, so that the next question about it is by identity."""
        mine = self._by_identity.get((id(value), object_format))
        if mine is not None and mine[0] is value:
            return mine[1]
        found = self._oids.get((object_format, value))
        if found is None:
            return None
        oid, size = found
        if remember:
            self._by_identity.put((id(value), object_format), (value, oid), weight=size)
        return oid

    def holds(self, value: OfferStatus, entry: TreeEntry | None) -> bool:
        """Whether `entry` is status.yaml as written from `value` here: a regular file
        (STATUS_MODE) holding the blob `value` was rendered to, its bytes exactly."""
        if entry is None or entry.mode != STATUS_MODE:
            return False
        return self.known(value, _format(entry)) == entry.oid

    def renders(self, value: OfferStatus, entry: TreeEntry | None) -> bool:
        """`holds`, rendering `value` when its blob id is not known yet. Not remembered:
        `value` is the record a pass replaces, and kept as a key it would stay alive."""
        if entry is None or entry.mode != STATUS_MODE:
            return False
        object_format = _format(entry)
        oid = self.known(value, object_format, remember=False)
        if oid is None:
            oid = blob_oid(status.render(value).encode("utf-8"), object_format)
        return oid == entry.oid

    def render(self, value: OfferStatus, object_format: str) -> tuple[bytes, str]:
        """status.yaml's bytes for `value` and their blob id (remembered)."""
        data = status.render(value).encode("utf-8")
        oid = blob_oid(data, object_format)
        self._oids.put((object_format, value), (oid, len(data)), weight=len(data))
        self._by_identity.put((id(value), object_format), (value, oid), weight=len(data))
        return data, oid


def _format(entry: TreeEntry) -> str:
    return "sha1" if len(entry.oid) == 40 else "sha256"
