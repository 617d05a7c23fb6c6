"""An asset is read at once; its kind is asked only to say why it could not be read.

The findings are those of asking the kind first (the reference below), for every
kind of path a source knows, through a working tree and through a commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.files.source import FileReadError, FileSource, Kind
from controller.files.yamlio import show_text
from controller.git.tree import GitTreeFiles, TreeEntry, TreeSnapshot
from controller.validation.assets import check_assets
from controller.validation.files import WorktreeFiles
from controller.validation.issues import Issue
from controller.validation.limits import MAX_IMAGE_BYTES, MAX_PACKAGE_BYTES, SYMLINK_RULE
from controller.validation.semantic import AssetRef

FOLDER = "offers/alpha-offer"


def reference_issue(ref: AssetRef, files: FileSource) -> Issue | None:
    """The check as it was: the kind first, then a read of a regular file."""
    shown = show_text(ref.file)
    path = f"{FOLDER}/{ref.file}"
    kind = files.kind(path)
    if kind == "missing":
        return Issue("AssetMissing", f"{ref.what} {shown} does not exist in the offer folder")
    if kind == "symlink":
        return Issue("AssetSymlink", f"{ref.what} {shown} {SYMLINK_RULE}")
    if kind != "file":
        return Issue("AssetNotAFile", f"{ref.what} {shown} is not a regular file")
    limit = MAX_PACKAGE_BYTES if ref.png_size is None else MAX_IMAGE_BYTES
    try:
        files.read(path, limit)
    except FileReadError as exc:
        return Issue(exc.code, f"{ref.what} {shown} {exc.message}")
    return None


class Asking:
    """A source that notes the questions asked of it."""

    def __init__(self, files: FileSource) -> None:
        self.files = files
        self.asked: list[tuple[str, str]] = []

    def kind(self, path: str) -> Kind:
        self.asked.append(("kind", path))
        return self.files.kind(path)

    def read(self, path: str, limit: int) -> bytes:
        self.asked.append(("read", path))
        return self.files.read(path, limit)

    def list_dir(self, path: str) -> list[str]:
        return self.files.list_dir(path)


NAMES = ["logo.png", "gone.png", "link.png", "folder", "fifo", "huge.png"]


def _worktree(root: Path) -> WorktreeFiles:
    offer = root / FOLDER
    offer.mkdir(parents=True)
    (offer / "logo.png").write_bytes(b"png")
    (offer / "target.png").write_bytes(b"png")
    (offer / "link.png").symlink_to("target.png")
    (offer / "folder").mkdir()
    os.mkfifo(offer / "fifo")
    (offer / "huge.png").write_bytes(b"x" * (MAX_IMAGE_BYTES + 1))
    return WorktreeFiles(root)


def _commit() -> GitTreeFiles:
    entries = {
        f"{FOLDER}/logo.png": TreeEntry(f"{FOLDER}/logo.png", "100644", "a" * 40, 3),
        f"{FOLDER}/link.png": TreeEntry(f"{FOLDER}/link.png", "120000", "b" * 40, 10),
        f"{FOLDER}/folder/x": TreeEntry(f"{FOLDER}/folder/x", "100644", "c" * 40, 1),
        f"{FOLDER}/fifo": TreeEntry(f"{FOLDER}/fifo", "160000", "d" * 40, 0),
        f"{FOLDER}/huge.png": TreeEntry(
            f"{FOLDER}/huge.png", "100644", "e" * 40, MAX_IMAGE_BYTES + 1
        ),
    }
    return GitTreeFiles(TreeSnapshot("f" * 40, entries, lambda oid: b"png"))


@pytest.mark.parametrize("source", ["worktree", "commit"])
def test_each_kind_of_path_gets_the_finding_asking_the_kind_first_gave(
    source: str, tmp_path: Path
) -> None:
    files = _worktree(tmp_path) if source == "worktree" else _commit()
    for name in NAMES:
        ref = AssetRef(("spec", "x"), name, "large logo", (216, 216))
        result = check_assets([ref], FOLDER, files, collect=True)
        expected = reference_issue(ref, files)
        want = [] if expected is None else [Issue(expected.code, expected.message, ref.path)]
        assert result.issues == want, name
        assert (name in result.files) == (expected is None), name


def test_a_readable_asset_costs_one_question(tmp_path: Path) -> None:
    asking = Asking(_worktree(tmp_path))
    refs = [AssetRef(("spec", "a"), name, "large logo", (216, 216)) for name in NAMES]
    check_assets(refs, FOLDER, asking, collect=False)
    asked = [(what, path.rsplit("/", 1)[1]) for what, path in asking.asked]
    assert asked[:1] == [("read", "logo.png")]  # read, no kind asked first
    for name in NAMES[1:]:  # each unreadable one: read, then its kind, to say why
        assert [q for q in asked if q[1] == name] == [("read", name), ("kind", name)]
