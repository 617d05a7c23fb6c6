"""validate_repo: discovery, cross-offer id checks, parallel and serial runs agreeing."""

from __future__ import annotations

import shutil
from pathlib import Path

from offer_helpers import BASE, OFFER_ID, WriteOffer, write_assets

from controller.validation.engine import validate_repo
from controller.validation.files import WorktreeFiles


def _copy_offer(root: Path, new_id: str, name: str | None = None) -> None:
    folder = root / "offers" / new_id
    write_assets(folder)
    text = BASE.replace(f"name: {OFFER_ID}", f"name: {name or new_id}")
    text = text.replace(f"package/{OFFER_ID}.zip", f"package/{OFFER_ID}.zip")
    (folder / "offer.yaml").write_text(text, encoding="utf-8")


def test_folders_without_offer_yaml_are_not_offers(write_offer: WriteOffer) -> None:
    root = write_offer()
    (root / "offers" / "orphaned").mkdir()
    (root / "offers" / "orphaned" / "status.yaml").write_text("offer: orphaned\n")
    (root / "offers" / "README.md").write_text("notes")
    results = validate_repo(WorktreeFiles(root))
    assert [r.offer_id for r in results] == [OFFER_ID]


def test_ids_differing_only_in_case_collide(write_offer: WriteOffer) -> None:
    root = write_offer()
    _copy_offer(root, "Northwind-Loyalty-Hub", name=OFFER_ID)
    results = validate_repo(WorktreeFiles(root))
    by_id = {r.offer_id: r for r in results}
    codes = {f.code for f in by_id["Northwind-Loyalty-Hub"].findings}
    assert {"InvalidOfferId", "NameMismatch", "DuplicateOfferId"} <= codes
    collision = [f for f in by_id[OFFER_ID].findings if f.code == "DuplicateOfferId"]
    assert (
        f"offer folder '{OFFER_ID}' and 'Northwind-Loyalty-Hub' differ only in letter case"
        " or Unicode form"
    ) in [f.message for f in collision]


def test_the_same_id_in_two_folders_is_reported_at_the_second(write_offer: WriteOffer) -> None:
    root = write_offer()
    _copy_offer(root, "zz-copy", name=OFFER_ID)
    results = validate_repo(WorktreeFiles(root))
    second = next(r for r in results if r.offer_id == "zz-copy")
    duplicate = [f for f in second.findings if f.code == "DuplicateOfferId"]
    assert duplicate[0].message == (
        f"offer id '{OFFER_ID}' is also used by offers/{OFFER_ID}/offer.yaml"
    )
    assert duplicate[0].line == 4


def test_dot_git_and_dotted_folders_are_invalid_ids(write_offer: WriteOffer) -> None:
    root = write_offer()
    _copy_offer(root, ".git")
    result = next(r for r in validate_repo(WorktreeFiles(root)) if r.offer_id == ".git")
    assert "InvalidOfferId" in {f.code for f in result.findings}


def test_one_broken_offer_does_not_affect_the_others(write_offer: WriteOffer) -> None:
    root = write_offer()
    _copy_offer(root, "broken-offer")
    (root / "offers" / "broken-offer" / "offer.yaml").write_bytes(b"\x00\x01")
    results = {r.offer_id: r for r in validate_repo(WorktreeFiles(root))}
    assert results[OFFER_ID].ok
    assert [f.code for f in results["broken-offer"].findings] == ["NulByte"]


def test_parallel_and_serial_validation_agree(write_offer: WriteOffer) -> None:
    root = write_offer()
    for index in range(12):
        _copy_offer(root, f"offer-{index:02d}")
    shutil.copyfile(
        root / "offers" / OFFER_ID / "media" / "logo-90.png",
        root / "offers" / "offer-03" / "media" / "logo-216.png",
    )
    files = WorktreeFiles(root)
    serial = validate_repo(files, workers=1)
    parallel = validate_repo(files, workers=2)
    assert [(r.offer_id, r.findings) for r in serial] == [
        (r.offer_id, r.findings) for r in parallel
    ]
    assert [r.offer_id for r in serial if not r.ok] == ["offer-03"]
    assert parallel[0].referenced_files == serial[0].referenced_files
