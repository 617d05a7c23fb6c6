"""The controller's own per-offer records: one SQLite database per watched branch, a row
per offer committed at once, durable at `flush`, read back only when they fit."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from controller.core.model import OfferStatus, Phase, SubmissionRef, Target
from controller.reconcile import records as records_module
from controller.reconcile.records import (
    DisplayRecords,
    RecordsBusy,
    RecordsUnusable,
    SqliteRecords,
    _document,
)

ALPHA = OfferStatus(
    "alpha-offer",
    Phase.CERTIFYING,
    Target.LIVE,
    observed_generation="sha256:" + "a" * 64,
    submission=SubmissionRef("sub-1", "sha256:" + "a" * 64, "alpha-offer@sha256:aa", Target.LIVE),
)
BETA = dataclasses.replace(ALPHA, offer="beta-offer")
ROOT = Path(__file__).resolve().parents[2]


def _rows(records: SqliteRecords) -> dict[str, bytes]:
    """The rows as another connection (another process) sees them."""
    with sqlite3.connect(records.path) as db:
        found = db.execute("SELECT offer, document FROM records")
        return {offer: bytes(document) for offer, document in found}


def _write_row(records: SqliteRecords, offer: str, document: bytes) -> None:
    """Replace a row by hand (another process, or someone with the sqlite3 shell)."""
    db = sqlite3.connect(records.path, isolation_level=None)
    db.execute("INSERT OR REPLACE INTO records VALUES (?, ?)", (offer, document))
    db.close()


def _flushes(path: Path) -> int:
    """How many synchronous commits `flush` made (a counter it bumps in the database)."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT flushes FROM meta").fetchone()[0])
    finally:
        db.close()


def test_a_saved_record_reads_back_equal(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    assert not records.exists()
    records.save("alpha-offer", ALPHA)
    assert records.exists()
    assert records.load("alpha-offer") == ALPHA
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_distinct_branches_and_remotes_never_share_records(tmp_path: Path) -> None:
    SqliteRecords(tmp_path, "main").save("alpha-offer", ALPHA)
    for other in (
        SqliteRecords(tmp_path, "main", "origin"),
        SqliteRecords(tmp_path, "main", "local"),  # a remote named like the local folder
        SqliteRecords(tmp_path, "release"),
        SqliteRecords(tmp_path, "main.sqlite3"),  # a branch named like the database
        SqliteRecords(tmp_path, "main/x"),
    ):
        assert other.load("alpha-offer") is None
        assert not other.exists()
        other.save("beta-offer", BETA)
        assert other.load("alpha-offer") is None  # a database of its own, not inherited
    assert SqliteRecords(tmp_path, "main").load("beta-offer") is None


def test_a_dropped_or_missing_record_is_none(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.drop("alpha-offer")  # nothing recorded yet: nothing is created
    assert not records.exists()
    records.save("alpha-offer", ALPHA)
    records.drop("alpha-offer")
    records.drop("alpha-offer")  # twice is fine
    assert records.load("alpha-offer") is None
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") is None


def test_a_record_holding_another_offers_status_is_not_used(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    _write_row(records, "beta-offer", _rows(records)["alpha-offer"])  # copied by hand
    assert SqliteRecords(tmp_path, "main").load("beta-offer") is None


def test_an_unreadable_record_means_never_seen(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.save("beta-offer", BETA)
    _write_row(records, "alpha-offer", b"\xff{not json")
    assert records.load("alpha-offer") is None
    _write_row(records, "alpha-offer", json.dumps({"version": 99}).encode())
    assert records.load("alpha-offer") is None
    records.save("alpha-offer", ALPHA)  # the next save replaces it
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_branch_names_cannot_escape_the_records_folder_or_share_one(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "../../x", "..")
    records.save("alpha-offer", ALPHA)
    assert records.path.parent.parent == tmp_path / "records"
    assert records.path.is_file()
    assert SqliteRecords(tmp_path, "a/b").path != SqliteRecords(tmp_path, "a_b").path
    assert SqliteRecords(tmp_path, "a/b").path.parent == tmp_path / "records" / "local"
    long = SqliteRecords(tmp_path, "\u00e9" * 200)
    long.save("alpha-offer", ALPHA)
    assert len(long.path.name.encode()) <= 255 - len("-journal")


def test_display_records_only_show_each_offers_own_status() -> None:
    shown = DisplayRecords({"alpha-offer": ALPHA, "beta-offer": ALPHA})
    assert shown.load("alpha-offer") == ALPHA
    assert shown.load("beta-offer") is None  # a status naming another offer shows nothing
    assert not shown.exists()


def test_saves_are_committed_at_once_and_flush_is_one_durable_commit(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    records.save("alpha-offer", ALPHA)  # unchanged: not written again
    records.save("beta-offer", BETA)
    records.drop("beta-offer")
    # Already committed for another process (a killed pass leaves them for the next one).
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA
    assert "beta-offer" not in _rows(records)
    assert _flushes(records.path) == 0  # no synchronous commit while a pass evaluates
    records.flush()
    assert _flushes(records.path) == 1  # one for the pass
    records.flush()
    assert _flushes(records.path) == 1  # nothing new to sync
    with sqlite3.connect(records.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_caller_that_never_flushes_still_gets_its_rows_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_module, "_MAX_UNSYNCED", 3)
    records = SqliteRecords(tmp_path, "main")
    for n in range(7):
        offer = f"offer-{n}"
        records.save(offer, dataclasses.replace(ALPHA, offer=offer))
    assert _flushes(records.path) == 2  # after the 3rd and the 6th write


def test_a_record_removed_since_the_last_pass_is_written_again(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    with sqlite3.connect(records.path) as db:  # by hand, between two passes
        db.execute("DELETE FROM records")
    assert records.load("alpha-offer") is None  # the next pass reads it first
    records.save("alpha-offer", ALPHA)
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_a_store_kept_across_passes_reads_what_another_process_wrote(tmp_path: Path) -> None:
    """The daemon keeps one store; a one-shot `offerctl reconcile` may replace a record
    between its passes. The kept status is used only while the row holds its bytes."""
    mine = SqliteRecords(tmp_path, "main")
    mine.save("alpha-offer", ALPHA)
    assert mine.load("alpha-offer") == ALPHA
    theirs = SqliteRecords(tmp_path, "main")
    moved = dataclasses.replace(ALPHA, phase=Phase.PACKAGING)
    theirs.save("alpha-offer", moved)
    assert mine.load("alpha-offer") == moved
    mine.save("alpha-offer", ALPHA)  # our pass decides again: the row follows
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_saving_an_equal_status_again_leaves_the_row_alone(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    watcher = sqlite3.connect(records.path)
    before = watcher.execute("PRAGMA data_version").fetchone()[0]
    assert records.load("alpha-offer") == ALPHA
    records.save("alpha-offer", dataclasses.replace(ALPHA))  # equal, not the same object
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == before  # no commit
    records.save("alpha-offer", dataclasses.replace(ALPHA, phase=Phase.PACKAGING))
    assert watcher.execute("PRAGMA data_version").fetchone()[0] != before
    watcher.close()
    assert SqliteRecords(tmp_path, "main").load("alpha-offer").phase is Phase.PACKAGING  # type: ignore[union-attr]


def test_a_record_corrupted_in_the_database_is_not_answered_from_memory(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    assert records.load("alpha-offer") == ALPHA
    _write_row(records, "alpha-offer", b"{ half a rec")
    assert records.load("alpha-offer") is None
    records.save("alpha-offer", ALPHA)  # written again: the row did not hold it
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_an_oversized_record_is_replaced_by_the_next_save_of_the_same_status(
    tmp_path: Path,
) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    assert records.load("alpha-offer") == ALPHA
    _write_row(records, "alpha-offer", b" " * (2 * 1024 * 1024))  # grown past the cap
    assert records.load("alpha-offer") is None
    records.save("alpha-offer", ALPHA)  # the pass decides the very status it remembers
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_a_pass_over_more_offers_than_the_memo_holds_reads_every_row(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.save("alpha-offer", ALPHA)
    records.expect(10**9)  # more offers than kept: the memo is emptied and left out
    assert len(records._kept) == 0
    assert records.load("alpha-offer") == ALPHA  # read and parsed from its row
    assert len(records._kept) == 0
    records.expect(1)
    assert records.load("alpha-offer") == ALPHA
    assert len(records._kept) == 1


def test_statuses_lists_every_usable_record(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    assert list(records.statuses()) == []
    records.save("beta-offer", BETA)
    records.save("alpha-offer", ALPHA)
    _write_row(records, "gamma-offer", b"garbage")
    assert list(records.statuses()) == [ALPHA, BETA]


# -- a database that is not ours, or is corrupt ------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"\x00garbage, not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["garbage", "a-broken-header"],
)
def test_a_corrupt_database_is_a_clear_error_not_a_crash(tmp_path: Path, content: bytes) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.path.parent.mkdir(parents=True)
    records.path.write_bytes(content)
    assert records.exists()  # a controller ran here: `plan` must not take commits' word
    with pytest.raises(RecordsUnusable, match="move it aside with its -wal and -shm files"):
        records.check()
    with pytest.raises(RecordsUnusable, match=str(records.path)):
        records.load("alpha-offer")
    with pytest.raises(RecordsUnusable):
        records.save("alpha-offer", ALPHA)
    assert records.path.read_bytes() == content  # left for the operator to look at
    records.path.unlink()  # moved aside: the offers are never seen, and recorded anew
    records.save("alpha-offer", ALPHA)
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.path.parent.mkdir(parents=True)
    with sqlite3.connect(records.path) as db:
        db.execute("CREATE TABLE records (id INTEGER, body TEXT)")
        db.execute("INSERT INTO records VALUES (1, 'theirs')")
    with pytest.raises(RecordsUnusable, match="not a records database of this offerctl"):
        records.check()
    with pytest.raises(RecordsUnusable):
        records.save("alpha-offer", ALPHA)
    with sqlite3.connect(records.path) as db:
        assert db.execute("SELECT body FROM records").fetchall() == [("theirs",)]


def test_an_empty_database_file_is_made_ours(tmp_path: Path) -> None:
    """A writer killed between creating the file and its table leaves an empty one."""
    records = SqliteRecords(tmp_path, "main")
    records.path.parent.mkdir(parents=True)
    records.path.write_bytes(b"")
    assert records.load("alpha-offer") is None  # a reader does not make it ours
    records.save("alpha-offer", ALPHA)
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


def test_a_writer_held_up_by_another_process_gets_a_transient_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SqliteRecords(tmp_path, "main").save("beta-offer", BETA)
    monkeypatch.setattr(records_module, "BUSY_SECONDS", 0.05)
    records = SqliteRecords(tmp_path, "main")
    holder = sqlite3.connect(records.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's transaction that never ends
    try:
        assert records.load("beta-offer") == BETA  # readers are never blocked (WAL)
        with pytest.raises(RecordsBusy, match="held by another process"):
            records.save("alpha-offer", ALPHA)
    finally:
        holder.rollback()
        holder.close()
    records.save("alpha-offer", ALPHA)
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") == ALPHA


# -- an older offerctl's JSON files ------------------------------------------------------


def _legacy_files(private: Path, branch: str = "main", *statuses: OfferStatus) -> Path:
    """What an older offerctl left: one JSON file per offer, named as it named them."""
    folder = private / "records" / "local" / branch
    folder.mkdir(parents=True)
    for value in statuses:
        name = records_module._name(value.offer)
        (folder / f"{name}.json").write_bytes(_document(value.offer, value))
    return folder


def test_an_older_offerctls_record_files_are_read_before_any_database(tmp_path: Path) -> None:
    _legacy_files(tmp_path, "main", ALPHA)
    records = SqliteRecords(tmp_path, "main")
    assert records.exists()
    assert records.load("alpha-offer") == ALPHA
    assert records.load("beta-offer") is None
    assert list(records.statuses()) == [ALPHA]
    assert not records.path.exists()  # reading creates nothing (`offerctl plan`)
    assert SqliteRecords(tmp_path, "release").load("alpha-offer") is None


def test_the_first_writer_imports_an_older_offerctls_files_once(tmp_path: Path) -> None:
    odd = dataclasses.replace(ALPHA, offer="odd.name~\u00e9")
    gamma = dataclasses.replace(ALPHA, offer="gamma-offer")
    folder = _legacy_files(tmp_path, "main", ALPHA, odd, gamma)
    (folder / "broken-offer.json").write_bytes(b"\xff{half")
    (folder / f".{records_module._name('alpha-offer')}.json.tmp1").write_bytes(b"{")  # a temp

    records = SqliteRecords(tmp_path, "main")
    records.save("beta-offer", BETA)  # creates the database: imports every usable file
    assert not folder.exists()
    assert folder.with_name("main.migrated").is_dir()  # kept, never read again
    assert set(_rows(records)) == {"alpha-offer", "beta-offer", odd.offer, "gamma-offer"}
    fresh = SqliteRecords(tmp_path, "main")
    assert fresh.load("alpha-offer") == ALPHA
    assert fresh.load(odd.offer) == odd
    assert fresh.load("broken-offer") is None  # unreadable then, never seen now
    fresh.drop("gamma-offer")  # dropped after the import: gone for good
    assert SqliteRecords(tmp_path, "main").load("gamma-offer") is None
    assert _flushes(records.path) == 0  # the import was committed synchronously


def test_dropping_an_imported_record_before_the_database_exists(tmp_path: Path) -> None:
    _legacy_files(tmp_path, "main", ALPHA, BETA)
    records = SqliteRecords(tmp_path, "main")
    records.drop("alpha-offer")  # the first write: import, then drop
    assert SqliteRecords(tmp_path, "main").load("alpha-offer") is None
    assert SqliteRecords(tmp_path, "main").load("beta-offer") == BETA


# -- several processes, and a killed one --------------------------------------------------


def _child(code: str, *args: str) -> list[str]:
    """The command line of a process using `records`, the store at argv[1] for "main"."""
    script = textwrap.dedent(
        """
        import dataclasses, sys
        from pathlib import Path
        from controller.core.model import OfferStatus, Phase, SubmissionRef, Target
        from controller.reconcile.records import SqliteRecords
        ALPHA = OfferStatus(
            "alpha-offer", Phase.CERTIFYING, Target.LIVE,
            observed_generation="sha256:" + "a" * 64,
            submission=SubmissionRef(
                "sub-1", "sha256:" + "a" * 64, "alpha-offer@sha256:aa", Target.LIVE),
        )
        records = SqliteRecords(Path(sys.argv[1]), "main")
        """
    ) + textwrap.dedent(code)
    return [sys.executable, "-c", script, *args]


def test_two_processes_writing_one_database_lose_nothing(tmp_path: Path) -> None:
    """Shards sharing a clone (or a hand-run reconcile beside the daemon) write at once."""
    code = """
        prefix = sys.argv[2]
        for i in range(300):
            offer = f"{prefix}-{i}"
            records.save(offer, dataclasses.replace(ALPHA, offer=offer, observed_generation=str(i)))
            if i % 50 == 0:
                records.flush()
            if i % 7 == 0:
                records.drop(f"{prefix}-{i - 1}")
        records.flush()
    """
    children = [
        subprocess.Popen(_child(code, str(tmp_path), prefix), cwd=ROOT, stderr=subprocess.PIPE)
        for prefix in ("one", "two")
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode()
    records = SqliteRecords(tmp_path, "main")
    for prefix in ("one", "two"):
        for i in range(300):
            found = records.load(f"{prefix}-{i}")
            if i + 1 < 300 and (i + 1) % 7 == 0:
                assert found is None, (prefix, i)
            else:
                assert found is not None and found.observed_generation == str(i), (prefix, i)


def test_a_process_killed_mid_pass_leaves_whole_records_committed(tmp_path: Path) -> None:
    """SIGKILL while rows are written: every row the killed process committed is there,
    whole, without a flush; the database opens and is written again as before."""
    code = """
        i = 0
        while True:
            i += 1
            offer = f"offer-{i % 500}"
            records.save(offer, dataclasses.replace(ALPHA, offer=offer, observed_generation=str(i)))
            if i == 600:
                print(i, flush=True)
    """
    killed = subprocess.Popen(_child(code, str(tmp_path)), cwd=ROOT, stdout=subprocess.PIPE)
    assert killed.stdout is not None
    assert killed.stdout.readline().strip() == b"600"  # past the first round of rows
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    killed.stdout.close()

    records = SqliteRecords(tmp_path, "main")
    records.check()
    found = [records.load(f"offer-{n}") for n in range(500)]
    assert all(value is not None for value in found)  # never half a row: each one parses
    assert len(_rows(records)) == 500
    records.save("offer-0", dataclasses.replace(ALPHA, offer="offer-0"))
    records.flush()
    assert SqliteRecords(tmp_path, "main").load("offer-0") == dataclasses.replace(
        ALPHA, offer="offer-0"
    )
