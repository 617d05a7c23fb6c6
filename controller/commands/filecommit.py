"""A commit that changes one file on top of a base commit, made for a person by a verb.

`offerctl signoff` (signoff.yaml on a new branch) and `offerctl suspend` /
`resume` (offer.yaml, on a new branch or the current one) build their commit
with the one commit writer the reconciler uses
(`controller.git.write.commit_blobs`): the base's tree with that one path
replaced, no index (the user's or any other), and `git commit-tree` with the
user's own identity, signed with their key when asked. Moving a ref is the
caller's business; `create_branch` is the "must not exist yet" case both share.
"""

from __future__ import annotations

from pathlib import Path

from controller.core.errors import UserError
from controller.git import history as githistory
from controller.git.names import blob_oid, check_branch_name
from controller.git.read import ObjectReader
from controller.git.runner import GitFailed, GitRunner
from controller.git.write import RefMoved, commit_blobs, store_blobs, update_ref

IDENTITY_HINT = " (is your git user.name/user.email set?)"
SIGNING_HINT = (
    " (signing needs your key: git config user.signingKey, and gpg.format ssh for an ssh key)"
)


def _object_format(runner: GitRunner) -> str:
    return runner.out("rev-parse", "--show-object-format")


def store_blob(repo: Path, content: bytes) -> str:
    """Write `content` into the object database; its blob id."""
    runner = GitRunner(repo)
    object_format = _object_format(runner)
    store_blobs(runner, [content], object_format)
    return blob_oid(content, object_format)


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
    runner = GitRunner(repo)
    object_format = _object_format(runner)
    reader = ObjectReader(runner, object_format)
    try:
        commit = commit_blobs(
            runner, reader, base, {path: blob_id}, message,
            identity=None,  # the user's own identity
            sign=True if sign else None,  # else git's commit.gpgSign decides
            object_format=object_format,
            allow_empty=True,
        )  # fmt: skip
    except GitFailed as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = signing_hint if sign else IDENTITY_HINT
        raise UserError(
            "git could not create the commit: " + (detail[-1] if detail else "unknown error") + hint
        ) from None
    finally:
        reader.close()
    if commit is None:  # not with allow_empty; kept for the type checker
        raise UserError(f"git could not create the commit for {path}")
    return commit


def create_branch(repo: Path, branch: str, commit: str, reason: str) -> None:
    """Point the new `refs/heads/<branch>` at `commit`; never overwrite a branch someone made."""
    ref = f"refs/heads/{check_branch_name(branch)}"
    try:
        update_ref(GitRunner(repo), ref, commit, None, reason)
    except RefMoved:
        raise UserError(f"branch {branch} was created meanwhile; nothing was overwritten") from None


def gpg_sign_configured(repo: Path) -> bool:
    """Whether git's `commit.gpgSign` asks for every commit to be signed."""
    configured = githistory.run_git(
        repo, ["config", "--bool", "--get", "commit.gpgSign"], check=False
    )
    return configured.status == 0 and configured.stdout.decode().strip() == "true"
