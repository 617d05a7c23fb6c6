"""A commit that changes one file on top of a base commit, made for a person by a verb.

`offerctl signoff` (signoff.yaml on a new branch) and `offerctl suspend` /
`resume` (offer.yaml, on a new branch or the current one) build their commit
the same way: the blob is stored with hash-object, the tree is the base's
with that one path replaced, built in a private index (never the user's), and
`git commit-tree` makes the commit with the user's own identity, signed with
their key when asked. Moving a ref is the caller's business; `create_branch`
is the "must not exist yet" case both share.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from controller.core.errors import UserError
from controller.git import history as githistory

IDENTITY_HINT = " (is your git user.name/user.email set?)"
SIGNING_HINT = (
    " (signing needs your key: git config user.signingKey, and gpg.format ssh for an ssh key)"
)


def store_blob(repo: Path, content: bytes) -> str:
    """Write `content` into the object database; its blob id."""
    blob = githistory.run_git(repo, ["hash-object", "-w", "--stdin"], stdin=content)
    return githistory.check_oid(blob.stdout.decode().strip())


def commit_file(
    repo: Path,
    base: str,
    path: str,
    blob_id: str,
    message: str,
    *,
    sign: bool,
    signing_hint: str = SIGNING_HINT,
) -> str:
    """A new commit whose parent is `base` and whose tree is base's with `path` = `blob_id`."""
    githistory.check_path(path)
    with tempfile.TemporaryDirectory(prefix="offerctl-commit-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}  # never the user's index
        githistory.run_git(repo, ["read-tree", "--end-of-options", base], env=env)
        githistory.run_git(
            repo, ["update-index", "--add", "--cacheinfo", f"100644,{blob_id},{path}"], env=env
        )
        tree = githistory.run_git(repo, ["write-tree"], env=env).stdout.decode().strip()
    signing = ["-S"] if sign else []
    proc = githistory.run_git(
        repo,
        ["commit-tree", *signing, githistory.check_oid(tree), "-p", base, "-F", "-"],
        stdin=message.encode(),
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = signing_hint if sign else IDENTITY_HINT
        raise UserError(
            "git could not create the commit: " + (detail[-1] if detail else "unknown error") + hint
        )
    return githistory.check_oid(proc.stdout.decode().strip())


def create_branch(repo: Path, branch: str, commit: str, reason: str) -> None:
    """Point the new `refs/heads/<branch>` at `commit`; never overwrite a branch someone made."""
    zero = "0" * len(commit)
    githistory.run_git(repo, ["update-ref", "-m", reason, f"refs/heads/{branch}", commit, zero])


def gpg_sign_configured(repo: Path) -> bool:
    """Whether git's `commit.gpgSign` asks for every commit to be signed."""
    configured = githistory.run_git(
        repo, ["config", "--bool", "--get", "commit.gpgSign"], check=False
    )
    return configured.returncode == 0 and configured.stdout.decode().strip() == "true"
