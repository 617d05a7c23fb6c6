"""The command line under a hostile machine: closed pipes, full or read-only disks, a corrupt store.

Each test runs `python -m controller` as a child process on a real repository
and checks what the user sees: no traceback, a one-line error, and an exit
status that tells a supervisor the truth (2 only for a wrong command line:
the shipped systemd unit never restarts on 2). Full and read-only
filesystems are real: a small tmpfs mounted for the test (root only).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from git_helpers import GitRepos, git
from robust_helpers import (
    FAST,
    child_env,
    no_offerctl_env,
    offerctl_here,
    offerctl_into_closed_pipe,
    offers_repo,
)

from controller.core.errors import EXIT_BROKEN_PIPE, EXIT_FAIL

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signoff"))

from signoff_helpers import OFFER, make_offers_repo

EXAMPLE = "fabrikam-case-triage"
pytestmark = pytest.mark.usefixtures("no_offerctl_env")
__all__ = ["no_offerctl_env"]  # the fixture, imported for pytest to find


def assert_one_line_error(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("offerctl: error:")]
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], stderr


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs the test can fill or make read-only; unmounted afterwards."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(directory: Path) -> None:
    """Write zeros until the filesystem holding `directory` has no space left."""
    block = b"\0" * 4096  # tmpfs hands out whole pages: page-sized writes fill it exactly
    with (directory / "fill").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError:
            pass


def repo_on(tmpfs: Path, gitrepos: GitRepos) -> Path:
    source = offers_repo(gitrepos, [EXAMPLE])
    repo = tmpfs / "offers"
    git(tmpfs, "clone", "-q", str(source), str(repo))
    return repo


class TestStoreAndDiskFailuresAreNotUsageErrors:
    """A corrupt marketplace store or a full disk exits 1 with one line, never 2."""

    def test_corrupt_marketplace_database_exits_1_and_says_so(self, gitrepos: GitRepos) -> None:
        repo = offers_repo(gitrepos, [EXAMPLE])
        assert offerctl_here("reconcile", "--repo", str(repo), *FAST).code == 0
        db = repo / ".git" / "offerctl" / "marketplace.sqlite3"
        for leftover in db.parent.glob("marketplace.sqlite3-*"):
            leftover.unlink()
        db.write_bytes(b"this is not an SQLite database\n" * 200)

        ran = offerctl_here("reconcile", "--repo", str(repo), *FAST)

        assert ran.code == EXIT_FAIL, ran.err
        assert_one_line_error(ran.err, "corrupt", str(db))

    def test_full_disk_during_reconcile_exits_1_with_one_line(
        self, tmpfs: Path, gitrepos: GitRepos
    ) -> None:
        repo = repo_on(tmpfs, gitrepos)
        assert offerctl_here("reconcile", "--repo", str(repo), *FAST).code == 0
        git(repo, "commit", "-q", "--allow-empty", "-m", "Touch")
        fill(tmpfs)

        ran = offerctl_here("reconcile", "--repo", str(repo), *FAST)

        assert ran.code == EXIT_FAIL, ran.err
        assert_one_line_error(ran.err)

    def test_daemon_on_a_full_disk_exits_1_with_one_line(
        self, tmpfs: Path, gitrepos: GitRepos
    ) -> None:
        repo = repo_on(tmpfs, gitrepos)
        fill(tmpfs)

        ran = offerctl_here("run", "--repo", str(repo), *FAST)

        assert ran.code == EXIT_FAIL, ran.err
        assert_one_line_error(ran.err, "no space left on device")

    def test_daemon_on_a_read_only_filesystem_exits_1_with_one_line(
        self, tmpfs: Path, gitrepos: GitRepos
    ) -> None:
        repo = repo_on(tmpfs, gitrepos)
        subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)

        ran = offerctl_here("run", "--repo", str(repo), *FAST)

        assert ran.code == EXIT_FAIL, ran.err
        assert_one_line_error(ran.err, "read-only file system")


class TestAClosedPipeEndsTheCommandQuietly:
    """`offerctl status | head -1` and friends: no BrokenPipeError, no message."""

    @pytest.fixture
    def repo(self, gitrepos: GitRepos) -> Path:
        repo = offers_repo(gitrepos, [EXAMPLE])
        assert offerctl_here("reconcile", "--repo", str(repo), *FAST).code == 0
        return repo

    @pytest.mark.parametrize(
        "argv",
        [
            ("status", "--repo", "{repo}"),
            ("status", "--repo", "{repo}", "-o", "json"),
            ("plan", "--repo", "{repo}", *FAST),
            ("history", EXAMPLE, "--repo", "{repo}"),
        ],
        ids=["status", "status-json", "plan", "history"],
    )
    def test_reader_gone(self, repo: Path, argv: tuple[str, ...]) -> None:
        ran = offerctl_into_closed_pipe(*(a.format(repo=repo) for a in argv))

        assert ran.err == ""
        assert ran.code == EXIT_BROKEN_PIPE

    def test_signoff_into_a_closed_pipe(self, gitrepos: GitRepos) -> None:
        offers = make_offers_repo(gitrepos)
        status = (
            "# Written by offerctl. Edits here are overwritten.\n"
            f"offer: {OFFER}\nobservedGeneration: {offers.generation()}\ntarget: live\n"
            "phase: AwaitingSignOff\nconditions: []\nstages: []\nfeedback: []\n"
        )
        offers.commit({f"offers/{OFFER}/status.yaml": status}, "Update status")

        ran = offerctl_into_closed_pipe("signoff", OFFER, "--repo", str(offers.path))

        assert ran.err == ""
        assert ran.code == EXIT_BROKEN_PIPE

    @pytest.mark.slow
    def test_head_sees_the_first_line_and_the_command_ends_quietly(self, repo: Path) -> None:
        producer = subprocess.Popen(
            [sys.executable, "-m", "controller", "status", "--repo", str(repo)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
        )
        assert producer.stdout is not None
        first = producer.stdout.readline()
        producer.stdout.close()  # what head does after its line
        _, err = producer.communicate(timeout=60)

        assert first.split()[0] == b"OFFER"
        assert b"Traceback" not in err
        assert b"BrokenPipe" not in err
