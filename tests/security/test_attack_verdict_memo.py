"""The in-memory verdict memo (`reuse.reusing`) stays within its byte budget.

A kept verdict holds its offer folder's tree entries (`FolderKey`: path, mode and
blob id of every file) beside the verdict. A pull request chooses how many files a
folder holds and how long their paths are, and a validator asks about only the few
the manifest names, so the verdict stays small while the folder is huge. An offer
folder of thousands of files, added and then deleted, must not stay in memory
beyond MEMO_BYTES, however many offer ids come and go.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pytest

from controller.core.model import Target
from controller.git.tree import GitTreeFiles, TreeEntry, TreeSnapshot
from controller.reconcile import reuse
from controller.reconcile.reuse import VerdictStore, reusing
from controller.reconcile.types import OfferCheck
from controller.validation.files import FileSource

FILES_PER_OFFER = 3_000
PATH_PAD = "p" * 120  # long, attacker-chosen file names


def _validate(files: FileSource, offer: str) -> OfferCheck:
    """A validator that reads the manifest only (as the real one reads what it names)."""
    files.read(f"offers/{offer}/offer.yaml", 1 << 20)
    return OfferCheck("g-" + offer, Target.DRAFT, False, (), {"name": offer}, {})


def _snapshot(offer: str) -> TreeSnapshot:
    entries = {
        f"offers/{offer}/offer.yaml": TreeEntry(f"offers/{offer}/offer.yaml", "100644", "a" * 40, 9)
    }
    for i in range(FILES_PER_OFFER):
        path = f"offers/{offer}/junk/{PATH_PAD}{i:06d}"
        entries[path] = TreeEntry(path, "100644", f"{i:040x}", 1)
    return TreeSnapshot(commit="c" * 40, entries=entries, read_blob=lambda oid: b"kind: x\n")


def test_folder_entries_count_against_the_memo_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 1 << 20
    monkeypatch.setattr(reuse, "MEMO_BYTES", budget)
    check = reusing(_validate, VerdictStore(tmp_path))
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for n in range(12):  # offers that come and go: each snapshot is dropped after its pass
            offer = f"junk-offer-{n:03d}"
            check(GitTreeFiles(_snapshot(offer)), offer)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Each folder's entries take ~0.6 MB; twelve of them kept would be ~7 MB.
    assert retained < 3 * budget, f"{retained:,} bytes kept for a {budget:,} byte budget"


def test_an_ordinary_offer_is_still_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fix must not make the memo useless: a small folder is answered from memory."""
    store = VerdictStore(tmp_path)
    check = reusing(_validate, store)
    snapshot = TreeSnapshot(
        commit="c" * 40,
        entries={
            "offers/ok-offer/offer.yaml": TreeEntry(
                "offers/ok-offer/offer.yaml", "100644", "b" * 40, 9
            )
        },
        read_blob=lambda oid: b"kind: x\n",
    )
    check(GitTreeFiles(snapshot), "ok-offer")
    asked: list[str] = []
    monkeypatch.setattr(store, "get", asked.append)
    check(GitTreeFiles(snapshot), "ok-offer")
    assert store.hits == 1 and asked == []  # a memory hit: the store was not asked


def test_a_fresh_verdicts_asset_bytes_are_not_kept_in_memory(tmp_path: Path) -> None:
    """Validation reads an offer's assets (a package may be tens of megabytes); the memo
    keeps their blob ids, and a later pass reads them from the commit if it submits."""
    size = 2 << 20

    def with_assets(files: FileSource, offer: str) -> OfferCheck:
        files.read(f"offers/{offer}/offer.yaml", 1 << 20)
        package = bytes([len(offer) % 251]) * size  # each offer's own bytes
        return OfferCheck("g-" + offer, Target.DRAFT, False, (), {}, {"package.zip": package})

    check = reusing(with_assets, VerdictStore(tmp_path))
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for n in range(8):
            offer = f"offer-{n:02d}" + "x" * n
            folder = f"offers/{offer}"
            snapshot = TreeSnapshot(
                commit="c" * 40,
                entries={
                    f"{folder}/offer.yaml": TreeEntry(
                        f"{folder}/offer.yaml", "100644", "a" * 40, 9
                    ),
                    f"{folder}/package.zip": TreeEntry(
                        f"{folder}/package.zip", "100644", f"{n:040x}", size
                    ),
                },
                read_blob=lambda oid: b"kind: x\n",
            )
            check(GitTreeFiles(snapshot), offer)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert retained < size, f"{retained:,} bytes kept: the memo holds a verdict's assets"
