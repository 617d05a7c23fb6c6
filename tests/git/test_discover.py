"""A plain checkout's layout read from its files must be git's answer, or not be read at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import GitRepos, git

from controller.git import discover
from controller.git.repo import GitRepo, _ask_layout
from controller.git.runner import GitRunner


def asked(path: Path) -> discover.Layout:
    return _ask_layout(GitRunner(path), path)


def test_a_plain_checkout_is_read_as_git_says(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("plain", {"a.txt": "x\n"})
    found = discover.plain_checkout(repo)
    assert found is not None
    assert found == asked(repo)


def test_a_fresh_init_without_commits_and_a_clone_are_read_too(gitrepos: GitRepos) -> None:
    empty = gitrepos.init("empty")
    assert discover.plain_checkout(empty) == asked(empty)
    bare = gitrepos.bare("origin.git", {"a.txt": "x\n"})
    clone = gitrepos.clone(bare, "clone")
    assert discover.plain_checkout(clone) == asked(clone)


def test_a_path_through_a_symbolic_link_is_resolved_as_git_resolves_it(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    repo = gitrepos.init("real", {"a.txt": "x\n"})
    link = tmp_path / "link"
    link.symlink_to(repo)
    found = discover.plain_checkout(link)
    assert found is not None and found == asked(link)
    assert found.toplevel == repo.resolve()


def test_a_subfolder_a_bare_repository_and_a_git_dir_are_left_to_git(
    gitrepos: GitRepos,
) -> None:
    repo = gitrepos.init("plain", {"sub/a.txt": "x\n"})
    assert discover.plain_checkout(repo / "sub") is None
    assert discover.plain_checkout(repo / ".git") is None
    assert discover.plain_checkout(gitrepos.bare("b.git")) is None


def test_a_linked_worktree_is_left_to_git(gitrepos: GitRepos, tmp_path: Path) -> None:
    repo = gitrepos.init("main", {"a.txt": "x\n"})
    git(repo, "worktree", "add", "-q", str(tmp_path / "linked"), "-b", "side")
    assert discover.plain_checkout(tmp_path / "linked") is None  # .git is a gitdir file
    with GitRepo(tmp_path / "linked") as opened:
        assert opened.common_dir == (repo / ".git").resolve()
        assert opened.git_dir != opened.common_dir


@pytest.mark.parametrize(
    "setting",
    [
        ("core.worktree", "/elsewhere"),
        ("core.bare", "true"),
        ("core.repositoryformatversion", "1"),
        ("extensions.worktreeConfig", "true"),
        ("include.path", "other.config"),
    ],
)
def test_a_config_that_could_change_git_s_answer_is_left_to_git(
    gitrepos: GitRepos, setting: tuple[str, str]
) -> None:
    repo = gitrepos.init("configured", {"a.txt": "x\n"})
    git(repo, "config", *setting)
    assert discover.plain_checkout(repo) is None


def test_a_sha256_repository_is_left_to_git(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--object-format=sha256", "s")
    assert discover.plain_checkout(tmp_path / "s") is None
    with GitRepo(tmp_path / "s") as opened:
        assert opened.object_format == "sha256"


def test_a_dot_git_git_would_not_take_for_a_repository_is_left_to_git(
    gitrepos: GitRepos,
) -> None:
    repo = gitrepos.init("broken", {"a.txt": "x\n"})
    (repo / ".git" / "HEAD").write_text("not a ref\n")
    assert discover.plain_checkout(repo) is None


@pytest.mark.parametrize(
    "config",
    [
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
        "[core]\nrepositoryformatversion=0\nbare=false ; a comment\n",
    ],
)
def test_plain_configs_are_read(config: str) -> None:
    assert discover._plain_config(config)


@pytest.mark.parametrize(
    "config",
    [
        "[core]\n\trepositoryformatversion = 0\n",  # bare not said: ask
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tbare\n",  # bare alone: true
        "[core] bare = true\n\trepositoryformatversion = 0\n\tbare = false\n",
        '[core]\n\trepositoryformatversion = 0\n\tbare = false\n[alias]\n\tx = "a \\\n'
        'bare = true"\n',
        "[core]\n\trepositoryFormatVersion = 01\n\tbare = false\n",
        "[core]\n\trepositoryformatversion = 0\n\tbare = no\n",
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworkTree = /x\n",
    ],
)
def test_configs_that_are_not_plainly_plain_are_left_to_git(config: str) -> None:
    assert not discover._plain_config(config)


def test_opening_a_plain_checkout_runs_no_git(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = gitrepos.init("plain", {"a.txt": "x\n"})
    expected = asked(repo)

    def no_git(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"git ran: {args[1:]}")

    monkeypatch.setattr(GitRunner, "run", no_git)
    with GitRepo(repo) as opened:
        assert (opened.git_dir, opened.common_dir, opened.worktree) == (
            expected.git_dir,
            expected.common_dir,
            expected.toplevel,
        )
        assert (opened.bare, opened.object_format) == (False, "sha1")
