"""The one git runner: a clean environment, a deadline, a protocol allow-list, one error type."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller.core.errors import TransientError
from controller.daemon.triggers import ls_remote_probe
from controller.git import history as githistory
from controller.git import remote
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
