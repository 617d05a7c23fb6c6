"""Which status files a checkout sync must write through git's filters, asked in batches.

`check-attr` answers three fields per path and attribute; a pass of 50,000 status
files asks in batches of `ATTR_BATCH` paths so that its answer is never split into
millions of objects at once. A batch boundary must not change the answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import git

from controller.git import checkout
from controller.git.runner import GitRunner

PATHS = [f"offers/o{n}/status.yaml" for n in range(5)]


@pytest.mark.parametrize("batch", [1, 2, 1000], ids=["one-per-batch", "uneven", "one-batch"])
def test_paths_with_a_conversion_attribute_are_found_in_every_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / ".gitattributes").write_text("offers/o1/* eol=crlf\noffers/o4/* filter=x\n")
    monkeypatch.setattr(checkout, "ATTR_BATCH", batch)

    found = checkout._converted(GitRunner(repo), PATHS)

    assert found == {"offers/o1/status.yaml", "offers/o4/status.yaml"}


def test_no_path_is_converted_without_attributes_or_autocrlf(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))

    assert checkout._converted(GitRunner(repo), PATHS) == set()
