"""The one git runner: a clean environment, a deadline, a protocol allow-list, one error type."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller.core.errors import TransientError
from controller.daemon.triggers import ls_remote_probe
from controller.git import history as githistory
from controller.git import remote
from controller.git.names import blob_oid
from controller.git.repo import GitRepo
from controller.git.runner import GitFailed, GitRunner, GitTimeout, clean_env


def test_inherited_git_variables_are_dropped_but_remote_settings_kept() -> None:
    env = clean_env(
        {
            "PATH": "/usr/bin",
            "GIT_DIR": "/elsewhere/.git",
            "GIT_WORK_TREE": "/elsewhere",
            "GIT_INDEX_FILE": "/tmp/index",
            "GIT_OBJECT_DIRECTORY": "/tmp/objects",
            "GIT_CONFIG_PARAMETERS": "'core.hooksPath'='/tmp/hooks'",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "core.fsmonitor",
            "GIT_CONFIG_VALUE_0": "/tmp/evil",
            "GIT_SSH_COMMAND": "ssh -i key",
            "GIT_CONFIG_GLOBAL": "/home/op/.gitconfig",
        }
    )
    assert env["PATH"] == "/usr/bin"
    assert env["GIT_SSH_COMMAND"] == "ssh -i key"
    assert env["GIT_CONFIG_GLOBAL"] == "/home/op/.gitconfig"
    assert not {k for k in env if k.startswith("GIT_CONFIG_") and k != "GIT_CONFIG_GLOBAL"}
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        assert name not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["LC_ALL"] == "C"


def test_an_inherited_git_dir_points_no_reader_elsewhere(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = gitrepos.init("ours", {"a.txt": "ours\n"})
    other = gitrepos.init("other", {"a.txt": "other\n"})
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    head = git(ours, "--git-dir", str(ours / ".git"), "rev-parse", "HEAD").strip()

    with GitRepo(ours) as repo:
        assert repo.resolve("HEAD") == head
    assert githistory.resolve_commit(ours, "HEAD") == head


def test_every_call_has_a_deadline(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("slow", {"a.txt": "x\n"})
    runner = GitRunner(repo)
    started = time.monotonic()
    with pytest.raises(GitTimeout, match="longer than"):
        runner.run(["slow"], config=[("alias.slow", "!sleep 3")], timeout=0.3)
    assert time.monotonic() - started < 2.5


def test_megabytes_in_and_out_pass_whole(gitrepos: GitRepos) -> None:
    # More than a pipe holds each way: the input is written as git makes room for it.
    repo = gitrepos.init("big", {"a.txt": "x\n"})
    runner = GitRunner(repo)
    data = bytearray(os.urandom(3 * 1024 * 1024))
    oid = runner.out("hash-object", "-w", "--stdin", stdin=bytes(data))
    assert oid == blob_oid(bytes(data))
    assert runner.run(["cat-file", "blob", oid]).stdout == data


def test_input_git_does_not_read_is_no_error(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("unread", {"a.txt": "x\n"})
    done = GitRunner(repo).run(["rev-parse", "HEAD"], stdin=b"x" * (2 * 1024 * 1024))
    assert done.status == 0 and len(done.text.strip()) == 40


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on a pidfd")
def test_the_exit_is_waited_for_without_polling_sleeps(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    # subprocess's own wait with a timeout sleeps 1 ms, 2 ms, ... until a child that has
    # closed its pipes is reaped: most of a short git's run.
    repo = gitrepos.init("fast", {"a.txt": "x\n"})
    runner = GitRunner(repo)

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s waiting for git")

    monkeypatch.setattr(time, "sleep", no_sleep)  # subprocess waits with time.sleep
    for _ in range(30):
        runner.run(["rev-parse", "HEAD"])


def test_failures_carry_git_s_words_with_credentials_redacted(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "repo")
    runner = GitRunner(tmp_path / "repo")
    with pytest.raises(GitFailed) as caught:
        runner.run(["ls-remote", "https://user:s3cret@127.0.0.1:9/x.git"], remote=True, timeout=20)
    assert caught.value.status != 0
    assert "s3cret" not in str(caught.value)
    assert str(caught.value).startswith("git ls-remote failed: ")


def test_remote_operations_refuse_protocols_outside_the_allow_list(
    gitrepos: GitRepos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = gitrepos.init("victim", {"a.txt": "x\n"})
    marker = tmp_path / "pwned"
    git(repo, "remote", "add", "evil", f"ext::sh -c touch% {marker}")
    with pytest.raises(TransientError):
        remote.fetch(GitRunner(repo), "evil", "main")
    assert not marker.exists()

    # The operator narrows the list: a plain path (file://) is then refused too.
    bare = gitrepos.bare("origin.git", {"a.txt": "x\n"})
    git(repo, "remote", "add", "origin", str(bare))
    remote.fetch(GitRunner(repo), "origin", "main")
    monkeypatch.setenv("OFFERCTL_GIT_PROTOCOLS", "https")
    with pytest.raises(TransientError, match=r"not allowed|transport"):
        remote.fetch(GitRunner(repo), "origin", "main")
    with pytest.raises(TransientError, match="git ls-remote origin failed"):
        ls_remote_probe(repo, "origin", "main")()
