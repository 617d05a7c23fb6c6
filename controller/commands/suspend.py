"""`offerctl suspend OFFER` / `offerctl resume OFFER`: the commit that flips spec.suspend.

The edit is one line of offers/OFFER/offer.yaml as committed at HEAD (see
`controller.files.suspendedit`); the rest of the person's file stays byte for byte.
The commit is made with the user's own git identity (signed when
`commit.gpgSign` or `--sign` says so) through the same one-file commit path
as `offerctl signoff`:

- `--branch NAME`: on a new branch NAME off HEAD, for a pull request; the
  working tree, index and current branch are not touched;
- otherwise directly on the checked-out branch, which moves by
  compare-and-swap, and offer.yaml in the index and working tree follows it.

Refused (exit 1) when offer.yaml has uncommitted changes, in either mode: the
commit is made from what is committed, and a person's pending edit must be
neither lost nor mistaken for part of it. Nothing is pushed unless `--push`
(to `--remote`, default origin). Already suspended (resumed): exit 0, no commit.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from controller.commands import filecommit
from controller.core.errors import EXIT_OK, UsageError, UserError
from controller.core.escaping import printable
from controller.files.suspendedit import set_suspend
from controller.git import history as githistory
from controller.git.history import GitHistoryError
from controller.git.repo import (
    GitRepo,
    PushRejected,
    RefMoved,
    check_branch_name,
    check_remote_name,
)
from controller.repo.statusread import check_offer_id

_MAX_MANIFEST = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Request:
    repo: Path
    offer: str
    suspend: bool
    branch: str | None
    push: bool
    remote: str
    reason: str
    sign: bool | None

    @property
    def path(self) -> str:
        return f"offers/{self.offer}/offer.yaml"

    @property
    def verb(self) -> str:
        return "Suspend" if self.suspend else "Resume"


def run(args: argparse.Namespace) -> int:
    """`offerctl suspend`."""
    return _run(args, suspend=True)


def run_resume(args: argparse.Namespace) -> int:
    """`offerctl resume` (controller/commands/resume.py)."""
    return _run(args, suspend=False)


def _run(args: argparse.Namespace, *, suspend: bool) -> int:
    if args.branch:
        check_branch_name(args.branch)
    check_remote_name(args.remote)
    reason = printable(" ".join(str(args.reason or "").split()))  # one line, no controls
    if len(reason) > 500:
        raise UsageError("--reason is limited to 500 characters")
    request = _Request(
        Path(args.repo),
        check_offer_id(args.offer),
        suspend,
        args.branch,
        args.push,
        args.remote,
        reason,
        args.sign,
    )
    try:
        return _flip(request)
    except GitHistoryError as exc:
        raise UserError(f"{request.repo}: {exc}") from None


def _flip(request: _Request) -> int:
    repo_dir, path = request.repo, request.path
    base = githistory.resolve_commit(repo_dir, "HEAD")
    if base is None:
        raise UserError(f"{repo_dir}: no commit at HEAD (is this an offers repository?)")
    current = githistory.current_branch(repo_dir)
    if request.branch is None and current is None:
        raise UserError("HEAD is detached: check out a branch, or give --branch NAME")
    with GitRepo(repo_dir) as repo:
        pending = [p for p, _ in repo.uncommitted(f"offers/{request.offer}") if p == path]
        if pending:
            raise UserError(
                f"{path} has uncommitted changes: commit or stash them first "
                f"(`offerctl {request.verb.lower()}` changes only what is committed)"
            )
        data = githistory.read_file(repo_dir, base, path, _MAX_MANIFEST)
        if data is None:
            raise UserError(f"no {path} at HEAD ({base[:12]}); `offerctl status` lists the offers")
        edited = set_suspend(data, request.suspend, name=path)
        if edited is None:
            state = "suspended" if request.suspend else "not suspended"
            print(f"{request.offer} is already {state} at HEAD ({base[:12]}); nothing to commit")
            return EXIT_OK
        if request.branch is not None and githistory.resolve_commit(
            repo_dir, f"refs/heads/{request.branch}"
        ):
            raise UserError(f"branch {request.branch} already exists; choose another name")
        commit = _commit(request, base, edited)
        where = request.branch or current
        assert where is not None  # noqa: S101 - checked above
        if request.branch is not None:
            filecommit.create_branch(repo_dir, request.branch, commit, f"offerctl {request.verb}")
        else:
            try:
                repo.update_ref(f"refs/heads/{where}", commit, base, f"offerctl {request.verb}")
            except RefMoved:
                raise UserError(f"{where} moved while the commit was made; run again") from None
            repo.sync_checked_out(where, base, commit, [path])
        done = "Suspended" if request.suspend else "Resumed"
        print(
            f"{done} {request.offer}: commit {commit[:12]} on {where} sets "
            f"spec.suspend: {'true' if request.suspend else 'false'} in {path}"
        )
        if request.push:
            _push(repo, request, commit, where)
        else:
            print(f"Push it when ready: git push {request.remote} {where}")
    return EXIT_OK


def _commit(request: _Request, base: str, content: bytes) -> str:
    blob = filecommit.store_blob(request.repo, content)
    sign = request.sign
    if sign is None:
        sign = filecommit.gpg_sign_configured(request.repo)
    return filecommit.commit_file(
        request.repo, base, request.path, blob, _message(request), sign=sign
    )


def _message(request: _Request) -> str:
    if request.suspend:
        subject = f"Suspend {request.offer}"
        body = (
            f"Sets spec.suspend: true in {request.path}: offerctl keeps observing the offer\n"
            "and writing its status, but sends nothing to the marketplace until it is resumed.\n"
        )
    else:
        subject = f"Resume {request.offer}"
        body = (
            f"Sets spec.suspend: false in {request.path}: offerctl drives the offer toward\n"
            "its target again.\n"
        )
    if request.reason:
        body += f"\nReason: {request.reason}\n"
    return f"{subject}\n\n{body}"


def _push(repo: GitRepo, request: _Request, commit: str, branch: str) -> None:
    try:
        repo.push(request.remote, commit, branch)
    except PushRejected:
        raise UserError(
            f"{request.remote}/{branch} has commits this checkout lacks: the commit "
            f"{commit[:12]} is made here; pull (rebase) and push it yourself"
        ) from None
    print(f"Pushed {branch} to {request.remote}")
