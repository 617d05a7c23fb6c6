"""Checkout sync and the commit writer with more path bytes than fit on one command line.

Before controller/git/checkout.py, `sync_checked_out` passed one pathspec per
status file to `ls-tree` and `ls-files`: past ARG_MAX the pass moved the branch
and then crashed, and so did every later pass. Here one pass writes more path
bytes than ARG_MAX, and must land, sync and leave `git status` clean.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from git_helpers import git

from controller.git.repo import GitRepo, Identity

# more path bytes than ARG_MAX in one pass
pytestmark = pytest.mark.slow(budget=30)

OFFERS = 20
# Long paths (12 folders of 240 bytes): ARG_MAX worth of paths in a few hundred files,
# so the test stays fast where each file written costs milliseconds.
DEEP = "/".join(f"{n:02d}" + "d" * 238 for n in range(12))


def _status_path(offer: int, i: int) -> str:
    return f"offers/o{offer:02d}/{DEEP}/status-{i:04d}.yaml"


def _fast_import(repo: Path, files: dict[str, bytes]) -> None:
    """One commit on main holding `files`, written with one `git fast-import`."""
    stream = bytearray(b"commit refs/heads/main\ncommitter Pat <pat@example.com> 0 +0000\n")
    stream += b"data 4\nbase\n"
    for path, data in files.items():
        stream += b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)
    stream += b"done\n"
    git(repo, "fast-import", "--quiet", "--done", input=bytes(stream))


def test_a_pass_with_more_path_bytes_than_arg_max(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arg_max = os.sysconf("SC_ARG_MAX")
    per_offer = arg_max // (len(_status_path(0, 0)) * OFFERS) + 10
    paths = [_status_path(o, i) for o in range(OFFERS) for i in range(per_offer)]
    assert sum(len(p) + 1 for p in paths) > arg_max  # one argv could not hold them

    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    base_files = {f"offers/o{o:02d}/offer.yaml": b"kind: Offer\n" for o in range(OFFERS)}
    base_files.update(dict.fromkeys(paths[::2], b"phase: Old\n"))  # half exist already
    _fast_import(repo, base_files)
    git(repo, "reset", "-q", "--hard", "main")
    # A person's edit of one status file, which the sync must keep.
    kept = paths[0]
    (repo / kept).write_bytes(b"phase: Mine\n")
    # The sync's durability is not under test here; 6 ms of fsync per file is.
    monkeypatch.setattr(os, "fsync", lambda fd: None)

    started = time.monotonic()
    with GitRepo(repo) as grepo:
        base = grepo.resolve("refs/heads/main")
        assert base is not None
        updates: dict[str, bytes | None] = dict.fromkeys(paths, b"phase: New\n")
        commit = grepo.write_commit(base, updates, "status", Identity(), when=0)
        assert commit is not None
        grepo.update_ref("refs/heads/main", commit, base, "offerctl: status")
        synced = grepo.sync_checked_out("main", base, commit, paths)
    elapsed = time.monotonic() - started

    assert set(synced) == set(paths) - {kept}
    assert (repo / kept).read_bytes() == b"phase: Mine\n"
    assert (repo / paths[1]).read_bytes() == b"phase: New\n"
    assert (repo / paths[2]).read_bytes() == b"phase: New\n"
    listed = git(repo, "ls-tree", "-r", "--name-only", "-z", commit).split("\0")
    assert set(paths) <= set(listed)
    # The index follows the new commit except at the person's own edit, which keeps the
    # old version staged (as before the pass) and their bytes on disk.
    status = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=no").split("\0")
    assert [s for s in status if s] == [f"MM {kept}"]
    assert elapsed < 30, f"the pass took {elapsed:.1f} s"
