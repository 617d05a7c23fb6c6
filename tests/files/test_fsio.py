"""atomic_write leaves the old content or the new, and no temporary file behind."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from controller.files import fsio
from controller.files.fsio import atomic_write


def test_it_creates_parents_and_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "state.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic_write(target, b"old")

    # A write that fails mid-way (here: not bytes) must not touch the target.
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_the_file_is_private_as_mkstemp_made_it(tmp_path: Path) -> None:
    target = tmp_path / "status.yaml"
    atomic_write(target, b"x", durable=False)
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_temporary_file_a_killed_process_left_under_our_name_is_stepped_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fsio, "_temp_names", itertools.count(7))
    stale = tmp_path / f".state.json.{os.getpid()}-7"
    stale.write_bytes(b"left by a killed writer")
    atomic_write(tmp_path / "state.json", b"new")
    assert (tmp_path / "state.json").read_bytes() == b"new"
    assert stale.read_bytes() == b"left by a killed writer"  # not ours to remove
    assert sorted(p.name for p in tmp_path.iterdir()) == [stale.name, "state.json"]
