"""Reading committed status.yaml back: each (path, blob) is parsed once per process."""

from __future__ import annotations

import uuid

from controller.core.model import OfferStatus, Phase
from controller.git.names import blob_oid
from controller.git.tree import TreeEntry, TreeSnapshot
from controller.repo import readback
from controller.repo import status as status_io

PATH = "offers/memo-offer/status.yaml"


def _snapshot(data: bytes, reads: list[str]) -> TreeSnapshot:
    oid = blob_oid(data)

    def read_blob(wanted: str) -> bytes:
        reads.append(wanted)
        assert wanted == oid
        return data

    entry = TreeEntry(PATH, "100644", oid, len(data))
    return TreeSnapshot("a" * 40, {PATH: entry}, read_blob)


def _status(phase: Phase) -> bytes:
    """A status no other test writes (the memo is the process's)."""
    status = OfferStatus("memo-offer", phase, observed_generation="sha256:" + uuid.uuid4().hex * 2)
    return status_io.render(status).encode()


def test_an_unchanged_status_blob_is_read_and_parsed_once() -> None:
    reads: list[str] = []
    data = _status(Phase.CERTIFYING)
    first = readback.status_in(_snapshot(data, reads), "memo-offer")
    second = readback.status_in(_snapshot(data, reads), "memo-offer")
    assert first.status is not None and first.status.phase is Phase.CERTIFYING
    assert second == first
    assert len(reads) == 1, "the second read of the same blob must come from memory"


def test_a_changed_status_blob_is_read_again() -> None:
    reads: list[str] = []
    readback.status_in(_snapshot(_status(Phase.CERTIFYING), reads), "memo-offer")
    later = readback.status_in(_snapshot(_status(Phase.PACKAGING), reads), "memo-offer")
    assert later.status is not None and later.status.phase is Phase.PACKAGING
    assert len(reads) == 2


def test_a_broken_status_is_remembered_as_broken_with_its_problem() -> None:
    reads: list[str] = []
    data = f"phase: [unclosed {uuid.uuid4()}\n".encode()
    first = readback.status_in(_snapshot(data, reads), "memo-offer")
    again = readback.status_in(_snapshot(data, reads), "memo-offer")
    assert first.status is None and first.problem
    assert again == first and len(reads) == 1
