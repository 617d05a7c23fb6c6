"""Where a repository's parts are, without a git process when the layout is the plain one.

`GitRepo` asks git once (`rev-parse --git-dir --git-common-dir
--is-bare-repository --show-object-format --show-toplevel`) where the git
directory, the common directory and the top of the working tree are, and the
object format. In a working tree whose `.git` is the repository itself, as
`git init` and `git clone` make it, every answer is in the files: the top is
the folder (symbolic links resolved, as git resolves them), its `.git` the
git directory and the common one, the format SHA-1. Reading them saves a
process of a one-offer pass that creates its `GitRepo` (`offerctl reconcile`).

Only that layout is read, and anything that could make git answer otherwise
sends the question to git (`plain_checkout` returns None):
- `.git` not a directory (a linked worktree's or a submodule's `gitdir:` file,
  a symbolic link), or a `commondir` in it (a linked worktree's git directory);
- a `.git` git itself would not take for a repository (no `objects/` or
  `refs/`, a HEAD that is not a ref or an object id): git would look further up;
- a folder or `.git` owned by another user (git's `safe.directory` check);
- a config that names anything but format version 0 and `bare = false`: an
  `extensions` section (the object format, a worktree config), `core.worktree`,
  an include; or a config that cannot be read.
Git's environment (`GIT_DIR`, `GIT_WORK_TREE` ...) is not consulted: the runner
drops it for every git process (`runner.clean_env`), so git would not either.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

_HEAD = re.compile(rb"ref: refs/[^\x00-\x20]+\n|[0-9a-f]{40}\n")
# Words that, anywhere in the config, send the question to git (a conservative net: a
# remote's URL that holds one costs a process, never a wrong answer).
_ASK_GIT = ("extensions", "worktree", "include", "objectformat")
_SETTING = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*?))?\s*$")


@dataclass(frozen=True, slots=True)
class Layout:
    """What `rev-parse` says of a repository."""

    git_dir: Path
    common_dir: Path
    bare: bool
    object_format: str
    toplevel: Path | None  # None in a bare repository


def plain_checkout(path: str | os.PathLike[str]) -> Layout | None:
    """`path`'s layout when it is the top of a working tree whose `.git` is a plain
    repository directory (see the module docstring); None: ask git."""
    try:
        top = Path(os.path.realpath(path))
        dot_git = top / ".git"
        geteuid = getattr(os, "geteuid", None)
        if geteuid is None:
            return None  # no owners to compare as git does
        uid = geteuid()
        if top.stat().st_uid != uid:
            return None
        found = dot_git.lstat()
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != uid:
            return None
        if os.path.lexists(dot_git / "commondir"):
            return None
        if not (dot_git / "objects").is_dir() or not (dot_git / "refs").is_dir():
            return None
        with (dot_git / "HEAD").open("rb") as head:
            if not _HEAD.fullmatch(head.read(4096)):
                return None
        config = (dot_git / "config").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not _plain_config(config):
        return None
    return Layout(dot_git, dot_git, False, "sha1", top)


def _plain_config(text: str) -> bool:
    """Whether a repository config leaves git's answers at the plain layout's: format
    version 0, not bare, no worktree elsewhere, nothing included, no extensions."""
    lowered = text.lower()
    if any(word in lowered for word in _ASK_GIT):
        return False
    version = bare = False
    for raw in lowered.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()  # comments: values here hold none
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                return False  # `[core] bare = true` on one line: not worth reading here
            continue
        setting = _SETTING.match(line)
        if setting is None:
            return False  # a continued or quoted value: not worth reading here
        key, value = setting.group(1), setting.group(2)
        if key == "repositoryformatversion":
            if value != "0":
                return False
            version = True
        elif key == "bare":
            if value != "false":
                return False
            bare = True
    return version and bare
