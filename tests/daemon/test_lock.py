"""One daemon per checkout: the flock on .git/offerctl/daemon.lock, across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.core.errors import FatalError
from controller.daemon.lock import DaemonLock, default_lock_path, git_dir

HOLDER = """
import sys, time
from pathlib import Path
from controller.daemon.lock import DaemonLock
lock = DaemonLock(Path(sys.argv[1]))
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def start_holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    proc.stdout.close()
    return proc


def checkout(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    return tmp_path / "repo"


def test_the_lock_lives_in_the_git_dir(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    assert default_lock_path(repo) == repo / ".git" / "offerctl" / "daemon.lock"


def test_a_second_daemon_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    path = default_lock_path(checkout(tmp_path))
    holder = start_holder(path)
    try:
        with pytest.raises(FatalError) as info:
            DaemonLock(path).acquire()
        message = str(info.value)
        assert f"another offerctl daemon (pid {holder.pid}) holds {path}" in message
    finally:
        holder.kill()
        holder.wait(timeout=5)


def test_a_sigkilled_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = default_lock_path(checkout(tmp_path))
    holder = start_holder(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=5)
    lock = DaemonLock(path)
    lock.acquire()  # the kernel dropped the flock with the process
    try:
        assert path.read_text().strip() == str(os.getpid())
    finally:
        lock.release()


def test_release_lets_the_next_daemon_in(tmp_path: Path) -> None:
    path = default_lock_path(checkout(tmp_path))
    with DaemonLock(path) as first:
        assert first.held
    with DaemonLock(path) as second:
        assert second.held
    assert not second.held


def test_a_second_lock_in_the_same_process_is_refused_too(tmp_path: Path) -> None:
    # flock locks belong to open file descriptions, so even one process cannot double up.
    path = default_lock_path(checkout(tmp_path))
    with DaemonLock(path), pytest.raises(FatalError, match=f"pid {os.getpid()}"):
        DaemonLock(path).acquire()


def test_a_worktree_has_its_own_lock(tmp_path: Path) -> None:
    repo = checkout(tmp_path)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    wt = tmp_path / "wt"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", str(wt)], check=True)
    assert git_dir(wt) == (repo / ".git" / "worktrees" / "wt").resolve()
    with DaemonLock(default_lock_path(repo)), DaemonLock(default_lock_path(wt)) as other:
        assert other.held


def test_a_directory_that_is_not_a_checkout_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="not a git checkout"):
        default_lock_path(tmp_path)


def test_the_holder_pid_appears_promptly(tmp_path: Path) -> None:
    path = default_lock_path(checkout(tmp_path))
    holder = start_holder(path)
    try:
        deadline = time.monotonic() + 5
        while path.read_text().strip() != str(holder.pid):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        holder.kill()
        holder.wait(timeout=5)
