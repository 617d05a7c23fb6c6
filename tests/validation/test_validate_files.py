"""WorktreeFiles: confined to its root, never opens FIFOs, caps reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from controller.validation.files import FileReadError, WorktreeFiles, is_safe_relative


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "offers" / "a").mkdir(parents=True)
    (root / "offers" / "a" / "f.txt").write_text("hello")
    (tmp_path / "outside.txt").write_text("secret")
    return root


def test_regular_file_is_read(tree: Path) -> None:
    files = WorktreeFiles(tree)
    assert files.kind("offers/a/f.txt") == "file"
    assert files.read("offers/a/f.txt", 100) == b"hello"


def test_directories_list_sorted(tree: Path) -> None:
    (tree / "offers" / "0").mkdir()
    assert WorktreeFiles(tree).list_dir("offers") == ["0", "a"]


def test_file_over_the_limit_is_refused(tree: Path) -> None:
    with pytest.raises(FileReadError) as caught:
        WorktreeFiles(tree).read("offers/a/f.txt", 3)
    assert caught.value.code == "FileTooLarge"


@pytest.mark.parametrize(
    "path", ["../outside.txt", "/etc/passwd", "offers/../../outside.txt", "a\\b", ""]
)
def test_paths_that_climb_or_are_absolute_are_not_read(tree: Path, path: str) -> None:
    files = WorktreeFiles(tree)
    assert not is_safe_relative(path)
    assert files.kind(path) == "missing"
    with pytest.raises(FileReadError):
        files.read(path, 100)


def test_symlink_leaving_the_repository_is_not_followed(tree: Path) -> None:
    (tree / "offers" / "a" / "link.txt").symlink_to(tree.parent / "outside.txt")
    files = WorktreeFiles(tree)
    assert files.kind("offers/a/link.txt") == "symlink"
    with pytest.raises(FileReadError) as caught:
        files.read("offers/a/link.txt", 100)
    assert caught.value.code == "OutsideRepository"


def test_symlinked_directory_leaving_the_repository_is_not_followed(tree: Path) -> None:
    (tree / "offers" / "a" / "media").symlink_to(tree.parent)
    assert WorktreeFiles(tree).kind("offers/a/media/outside.txt") == "symlink"


def test_symlink_inside_the_repository_is_refused_as_a_commit_would_refuse_it(
    tree: Path,
) -> None:
    # A commit stores only the link text, so reconcile cannot submit what it points at;
    # validate must not pass what reconcile refuses (issue 11).
    (tree / "offers" / "a" / "same.txt").symlink_to("f.txt")
    files = WorktreeFiles(tree)
    assert files.kind("offers/a/same.txt") == "symlink"
    with pytest.raises(FileReadError) as caught:
        files.read("offers/a/same.txt", 100)
    assert "is a symlink" in caught.value.message
    assert "outside the repository" not in caught.value.message


def test_folder_symlink_inside_the_repository_is_refused(tree: Path) -> None:
    (tree / "offers" / "b").symlink_to("a")
    assert WorktreeFiles(tree).kind("offers/b/f.txt") == "symlink"


def test_symlink_loop_is_reported_not_followed(tree: Path) -> None:
    (tree / "offers" / "a" / "loop1").symlink_to("loop2")
    (tree / "offers" / "a" / "loop2").symlink_to("loop1")
    assert WorktreeFiles(tree).kind("offers/a/loop1") == "symlink"


def test_fifo_is_never_opened(tree: Path) -> None:
    os.mkfifo(tree / "offers" / "a" / "pipe")
    files = WorktreeFiles(tree)
    started = time.monotonic()
    assert files.kind("offers/a/pipe") == "other"
    with pytest.raises(FileReadError) as caught:
        files.read("offers/a/pipe", 100)
    assert caught.value.code == "NotAFile"
    assert time.monotonic() - started < 1.0


def test_missing_file(tree: Path) -> None:
    files = WorktreeFiles(tree)
    assert files.kind("offers/a/nope") == "missing"
    with pytest.raises(FileReadError) as caught:
        files.read("offers/a/nope", 100)
    assert caught.value.code == "FileMissing"
