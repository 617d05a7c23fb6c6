"""The controller's own per-offer records: written atomically, read back only when they fit."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from controller.core.model import OfferStatus, Phase, SubmissionRef, Target
from controller.reconcile.records import DisplayRecords, FileRecords

ALPHA = OfferStatus(
    "alpha-offer",
    Phase.CERTIFYING,
    Target.LIVE,
    observed_generation="sha256:" + "a" * 64,
    submission=SubmissionRef("sub-1", "sha256:" + "a" * 64, "alpha-offer@sha256:aa", Target.LIVE),
)


def test_a_saved_record_reads_back_equal(tmp_path: Path) -> None:
    records = FileRecords(tmp_path, "main")
    assert not records.exists()
    records.save("alpha-offer", ALPHA)
    assert records.exists()
    assert records.load("alpha-offer") == ALPHA
    assert FileRecords(tmp_path, "main", "origin").load("alpha-offer") is None
    assert FileRecords(tmp_path, "main", "local").load("alpha-offer") is None


def test_a_dropped_or_missing_record_is_none(tmp_path: Path) -> None:
    records = FileRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    records.drop("alpha-offer")
    records.drop("alpha-offer")  # twice is fine
    assert records.load("alpha-offer") is None


def test_a_record_holding_another_offers_status_is_not_used(tmp_path: Path) -> None:
    records = FileRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    moved = records.root / "beta-offer.json"
    (records.root / "alpha-offer.json").rename(moved)  # copied or renamed by hand
    assert records.load("beta-offer") is None


def test_an_unreadable_record_means_never_seen(tmp_path: Path) -> None:
    records = FileRecords(tmp_path, "main")
    records.root.mkdir(parents=True)
    (records.root / "alpha-offer.json").write_bytes(b"\xff{not json")
    assert records.load("alpha-offer") is None
    (records.root / "alpha-offer.json").write_text(json.dumps({"version": 99}))
    assert records.load("alpha-offer") is None


def test_branch_names_cannot_escape_the_records_folder_or_share_one(tmp_path: Path) -> None:
    records = FileRecords(tmp_path, "../../x", "..")
    records.save("alpha-offer", ALPHA)
    assert records.root.parent.parent == tmp_path / "records"
    assert FileRecords(tmp_path, "a/b").root != FileRecords(tmp_path, "a_b").root
    assert FileRecords(tmp_path, "a/b").root.parent == tmp_path / "records" / "local"


def test_display_records_only_show_each_offers_own_status() -> None:
    shown = DisplayRecords({"alpha-offer": ALPHA, "beta-offer": ALPHA})
    assert shown.load("alpha-offer") == ALPHA
    assert shown.load("beta-offer") is None  # a status naming another offer shows nothing
    assert not shown.exists()


def test_saves_are_in_place_at_once_and_flush_syncs_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = FileRecords(tmp_path, "main")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    records.save("alpha-offer", ALPHA)
    records.save("alpha-offer", ALPHA)  # unchanged: not written again
    beta = dataclasses.replace(ALPHA, offer="beta-offer")
    records.save("beta-offer", beta)
    assert synced == []  # no fsync per offer while a pass evaluates
    # Already in place for another process (a killed pass leaves them for the next one).
    assert FileRecords(tmp_path, "main").load("alpha-offer") == ALPHA
    assert FileRecords(tmp_path, "main").load("beta-offer") == beta
    records.flush()
    assert len(synced) == 3  # two files and their folder
    records.flush()
    assert len(synced) == 3  # nothing new to sync
    assert not list(records.root.glob(".*"))  # no temporary file left behind


def test_a_record_removed_since_the_last_pass_is_written_again(tmp_path: Path) -> None:
    records = FileRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    (records.root / "alpha-offer.json").unlink()  # by hand, between two passes
    assert records.load("alpha-offer") is None  # the next pass reads it first
    records.save("alpha-offer", ALPHA)
    assert FileRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_a_store_kept_across_passes_reads_what_another_process_wrote(tmp_path: Path) -> None:
    """The daemon keeps one store; a one-shot `offerctl reconcile` may replace a record
    between its passes. The kept status is used only while the file holds its bytes."""
    mine = FileRecords(tmp_path, "main")
    mine.save("alpha-offer", ALPHA)
    assert mine.load("alpha-offer") == ALPHA
    theirs = FileRecords(tmp_path, "main")
    moved = dataclasses.replace(ALPHA, phase=Phase.PACKAGING)
    theirs.save("alpha-offer", moved)
    assert mine.load("alpha-offer") == moved
    mine.save("alpha-offer", ALPHA)  # our pass decides again: the file follows
    assert FileRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_saving_an_equal_status_again_leaves_the_file_alone(tmp_path: Path) -> None:
    records = FileRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    path = records.root / "alpha-offer.json"
    before = path.stat()
    assert records.load("alpha-offer") == ALPHA
    records.save("alpha-offer", dataclasses.replace(ALPHA))  # equal, not the same object
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    records.save("alpha-offer", dataclasses.replace(ALPHA, phase=Phase.PACKAGING))
    assert path.stat().st_ino != before.st_ino  # replaced by rename
    assert FileRecords(tmp_path, "main").load("alpha-offer").phase is Phase.PACKAGING  # type: ignore[union-attr]


def test_a_record_corrupted_on_disk_is_not_answered_from_memory(tmp_path: Path) -> None:
    records = FileRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    assert records.load("alpha-offer") == ALPHA
    (records.root / "alpha-offer.json").write_bytes(b"{ half a rec")
    assert records.load("alpha-offer") is None
    records.save("alpha-offer", ALPHA)  # written again: the file did not hold it
    assert FileRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_an_oversized_record_is_replaced_by_the_next_save_of_the_same_status(
    tmp_path: Path,
) -> None:
    records = FileRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    assert records.load("alpha-offer") == ALPHA
    path = records.root / "alpha-offer.json"
    path.write_bytes(b" " * (2 * 1024 * 1024))  # grown past the cap by something else
    assert records.load("alpha-offer") is None
    records.save("alpha-offer", ALPHA)  # the pass decides the very status it remembers
    assert FileRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_a_pass_over_more_offers_than_the_memo_holds_reads_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = FileRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    records.expect(10**9)  # more offers than kept: the memo is emptied and left out
    assert len(records._kept) == 0
    assert records.load("alpha-offer") == ALPHA  # read and parsed from its file
    assert len(records._kept) == 0
    records.expect(1)
    assert records.load("alpha-offer") == ALPHA
    assert len(records._kept) == 1
