"""Shared fixtures: a pinned, isolated git environment and real repositories in tmp dirs.

Every test runs with HOME and the global git config pointed at a temporary
directory and a fixed identity, so no developer's or CI machine's git
settings (signing, hooks, default branch) leak in. `gitrepos` makes working
repositories, bare remotes and clones; `make_repo` is its shortcut.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

PERSON = ("Pat Person", "pat@example.com")


@pytest.fixture(scope="session", autouse=True)
def _pinned_git_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Pat Person\n\temail = pat@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        "[commit]\n\tgpgSign = false\n"
        "[tag]\n\tgpgSign = false\n"
        '[protocol "file"]\n\tallow = always\n'
        "[gc]\n\tauto = 0\n"
    )
    pinned = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": PERSON[0],
        "GIT_AUTHOR_EMAIL": PERSON[1],
        "GIT_COMMITTER_NAME": PERSON[0],
        "GIT_COMMITTER_EMAIL": PERSON[1],
        "GIT_TERMINAL_PROMPT": "0",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in pinned.items():
            mp.setenv(key, value)
        for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
            mp.delenv(key, raising=False)
        yield


def git(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None
) -> str:
    """Run git in `cwd` and return its stdout; fails the test on a non-zero exit."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=full_env, input=input, capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()}"
        )
    return proc.stdout.decode()


FileMap = Mapping[str, str | bytes | None]


class GitRepos:
    """Makes real repositories under one tmp dir; each method says what git would do."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
        return git(repo, *args, env=env)

    def init(
        self, name: str = "repo", files: FileMap | None = None, message: str = "Initial commit"
    ) -> Path:
        """A working repository on branch main; with `files`, one commit holding them."""
        repo = self.root / name
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        if files:
            self.commit(repo, files, message)
        return repo

    def write(self, repo: Path, files: FileMap) -> None:
        """Write (or, for None, delete) files in the working tree; no git involved."""
        for rel, content in files.items():
            path = repo / rel
            if content is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)

    def commit(
        self, repo: Path, files: FileMap, message: str = "Change", author: tuple[str, str] = PERSON
    ) -> str:
        """Write `files`, stage exactly them, commit as `author`; the new commit's id."""
        self.write(repo, files)
        git(repo, "add", "-A", "--", *files)
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
        }
        git(repo, "commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.head(repo)

    def head(self, repo: Path, ref: str = "HEAD") -> str:
        return git(repo, "rev-parse", ref).strip()

    def bare(self, name: str = "remote.git", files: FileMap | None = None) -> Path:
        """A bare repository; with `files`, seeded with one commit on main."""
        bare = self.root / name
        git(self.root, "init", "-q", "--bare", "-b", "main", str(bare))
        if files:
            seed = self.init(f"{name}-seed", files)
            git(seed, "push", "-q", str(bare), "main:main")
        return bare

    def clone(self, bare: Path, name: str) -> Path:
        """A clone of `bare` with remote 'origin' and main checked out."""
        dest = self.root / name
        git(self.root, "clone", "-q", str(bare), str(dest))
        return dest

    def show(self, repo: Path, commit: str, path: str) -> str:
        return git(repo, "show", f"{commit}:{path}")

    def status(self, repo: Path) -> str:
        """`git status --porcelain` output: empty when the working tree is clean."""
        return git(repo, "status", "--porcelain")


@pytest.fixture
def gitrepos(tmp_path: Path) -> GitRepos:
    return GitRepos(tmp_path)


@pytest.fixture
def make_repo(gitrepos: GitRepos) -> Callable[..., Path]:
    """`make_repo(files, name='repo') -> Path`: a repository with one commit of `files`."""

    def make(files: FileMap, name: str = "repo") -> Path:
        return gitrepos.init(name, files)

    return make
