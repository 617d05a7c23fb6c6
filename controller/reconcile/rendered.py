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

The same comparison tells `evaluate` whether the committed status.yaml is the
controller's own record rendered (`renders`): then the record stands for it,
and the file is neither parsed nor held a second time (a settle pass of a
fresh process would otherwise hold two statuses per offer in flight).
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
        self._oids: Kept[tuple[str, OfferStatus], str] = Kept(limit, max_size=max_bytes)

    def known(self, value: OfferStatus, object_format: str) -> str | None:
        """The blob id `value` renders to, when it was rendered here before."""
        return self._oids.get((object_format, value))

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
        oid = self.known(value, object_format)
        if oid is None:
            oid = blob_oid(status.render(value).encode("utf-8"), object_format)
        return oid == entry.oid

    def render(self, value: OfferStatus, object_format: str) -> tuple[bytes, str]:
        """status.yaml's bytes for `value` and their blob id (remembered)."""
        data = status.render(value).encode("utf-8")
        oid = blob_oid(data, object_format)
        self._oids.put((object_format, value), oid, size=len(data))
        return data, oid


def _format(entry: TreeEntry) -> str:
    return "sha1" if len(entry.oid) == 40 else "sha256"
