"""Read-only questions about a repository's history, for sign-off.

The sign-off module needs what the reconciler's snapshot does not carry: the
first-parent history of one path, a commit's parents, people, dates and
trailers, the commits a merge brought in, and whether a commit's signature
verifies against a set of trusted keys. Every call here:
- runs through the one runner (`controller.git.runner`: fixed argv, the
  environment allow-list, a 60 s timeout), user-derived revisions after
  `--end-of-options` and paths after `--`;
- takes commit ids only as validated hex and paths only as plain relative
  paths (`controller.git.names`);
- never writes to the repository (verification's allowed-signers file is a
  private temporary file outside it);
- raises `GitHistoryError` (a `TransientError`: git could not answer, try
  again) rather than guessing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from controller.core.errors import FatalError, TransientError
from controller.git.names import check_oid, check_path
from controller.git.runner import GitResult, GitRunner
from controller.git.tree import TreeEntry

_TIMEOUT = 60.0  # seconds; a git command that takes longer is treated as failed
_MAX_CHANGE_COMMITS = 500  # a merge bringing in more commits than this is not judged at all
_FIELD = "%x00"
_RECORD = "%x1e"
_COMMIT_FORMAT = _FIELD.join(
    ["%H", "%P", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%(trailers:only=true,unfold=true)"]
)

__all__ = ["check_oid", "check_path"]  # re-exported: callers check ids before asking


class GitHistoryError(TransientError):
    """Git could not answer a history question (missing object, broken repo, timeout)."""


@runtime_checkable
class _HasGitDir(Protocol):
    @property
    def git_dir(self) -> str | os.PathLike[str]: ...


RepoHandle = str | os.PathLike[str] | _HasGitDir
"""A repository: a path (working tree or bare), or an object with `git_dir` (our GitRepo,
GitPython's Repo)."""


def runner_for(repo: RepoHandle) -> GitRunner:
    """The runner for `repo`: `-C path`, or `--git-dir` for an object that has one."""
    if isinstance(repo, str | os.PathLike):
        return GitRunner(repo, timeout=_TIMEOUT)
    return GitRunner(git_dir=repo.git_dir, timeout=_TIMEOUT)


def run_git(
    repo: RepoHandle,
    args: Sequence[str],
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    config: Sequence[tuple[str, str]] = (),
    check: bool = True,
) -> GitResult:
    """`git <args>` in `repo` through the one runner; GitHistoryError (transient) on
    failure when `check`, and always on a timeout or a missing git."""
    try:
        return runner_for(repo).run(args, stdin=stdin, env=env, config=config, check=check)
    except FatalError as exc:  # GitFailed, or git missing: the question has no answer now
        raise GitHistoryError(str(exc)) from None
    except TransientError as exc:
        raise GitHistoryError(str(exc)) from None


# ---------------------------------------------------------------- revisions and trees


def resolve_commit(repo: RepoHandle, revision: str) -> str | None:
    """The commit id `revision` names (a ref name or an id), or None when there is none."""
    proc = run_git(
        repo,
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
        check=False,
    )
    if proc.status != 0:
        return None
    return check_oid(proc.stdout.decode().strip())


def current_branch(repo: RepoHandle) -> str | None:
    """The branch HEAD points at, or None when HEAD is detached."""
    proc = run_git(repo, ["symbolic-ref", "--quiet", "--short", "HEAD"], check=False)
    return proc.stdout.decode().strip() or None if proc.status == 0 else None


def tree_entry(repo: RepoHandle, commit: str, path: str) -> TreeEntry | None:
    """The entry at `path` in `commit`'s tree, or None when the path is not there."""
    check_oid(commit)
    check_path(path)
    out = run_git(
        repo, ["ls-tree", "-z", "-l", "--full-tree", "--end-of-options", commit, "--", path]
    ).stdout
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, _type, oid, size = meta.decode().split()
        if name.decode("utf-8", "surrogateescape") == path:
            return TreeEntry(path, mode, oid, 0 if size == "-" else int(size))
    return None


def read_blob(repo: RepoHandle, oid: str, max_bytes: int) -> bytes:
    """A blob's bytes; GitHistoryError when it is larger than `max_bytes`."""
    check_oid(oid)
    size = int(run_git(repo, ["cat-file", "-s", oid]).stdout.decode().strip())
    if size > max_bytes:
        raise GitHistoryError(f"blob {oid[:12]} is {size:,} bytes; the limit is {max_bytes:,}")
    return run_git(repo, ["cat-file", "blob", oid]).stdout


def read_file(repo: RepoHandle, commit: str, path: str, max_bytes: int) -> bytes | None:
    """A regular file's bytes at `commit`; None when absent (or not a regular file)."""
    entry = tree_entry(repo, commit, path)
    if entry is None or entry.mode not in {"100644", "100755"}:
        return None
    return read_blob(repo, entry.oid, max_bytes)


# ---------------------------------------------------------------- history


def introducing_commit(repo: RepoHandle, tip: str, path: str) -> str | None:
    """The commit on `tip`'s first-parent history that made `path` what it is at `tip`.

    That is the newest first-parent commit whose `path` differs from its first
    parent's: for a merged pull request, the merge (or squash) commit, not the
    branch commit that first wrote the file. None when `path` is absent at `tip`.
    """
    check_oid(tip)
    check_path(path)
    current = tree_entry(repo, tip, path)
    if current is None:
        return None
    out = (
        run_git(
            repo,
            ["rev-list", "--first-parent", "--max-count=1", "--end-of-options", tip, "--", path],
        )
        .stdout.decode()
        .strip()
    )
    if not out:
        return None
    found = check_oid(out)
    # Guard against any history simplification surprise: the found commit must
    # hold today's content, and its first parent must not.
    here = tree_entry(repo, found, path)
    parents = commit_parents(repo, found)
    before = tree_entry(repo, parents[0], path) if parents else None
    if here is None or here.oid != current.oid or (before is not None and before.oid == here.oid):
        raise GitHistoryError(f"could not tell which commit introduced {path} at {tip[:12]}")
    return found


def versions_since(repo: RepoHandle, since: str, tip: str, path: str) -> set[tuple[str, str]]:
    """Every (mode, blob) `path` took in a commit between `since` and `tip`, changes only.

    The commits are those that descend from `since` and lead to `tip`
    (`--ancestry-path`), whichever parent each was reached through
    (`--full-history`), and the versions are what each made the path when it
    differed from a parent (a deletion is ("000000", zeros)). More than
    `_MAX_CHANGE_COMMITS` such commits is an error rather than a partial answer.
    """
    check_oid(since)
    check_oid(tip)
    check_path(path)
    args = ["log", "--full-history", "--ancestry-path", "-m", "--raw", "--no-abbrev",
            "--no-renames", "--format=%x1e%H", f"--max-count={_MAX_CHANGE_COMMITS + 1}",
            "--end-of-options", tip, f"^{since}", "--", path]  # fmt: skip
    out = run_git(repo, args).stdout.decode("utf-8", "surrogateescape")
    versions: set[tuple[str, str]] = set()
    commits = 0
    for record in out.split("\x1e"):
        lines = [line for line in record.split("\n") if line]
        if not lines:
            continue
        commits += 1
        for line in lines[1:]:
            if line.startswith(":"):  # ":100644 100644 <old> <new> M\tpath"
                fields = line.split("\t", 1)[0].split()
                versions.add((fields[1], fields[3]))
    if commits > _MAX_CHANGE_COMMITS:
        raise GitHistoryError(
            f"more than {_MAX_CHANGE_COMMITS} commits changed {path} since {since[:12]}"
        )
    return versions


def roots_since(repo: RepoHandle, since: str, tip: str) -> tuple[str, ...]:
    """Commits without parents from `since` (itself included) to `tip`: where history is cut.

    In a shallow clone the boundary commits have no parents, so nothing can be
    said about what they changed or what came before them; in a full clone a
    root here is an unrelated history merged in after `since`. Either way the
    history between the two commits cannot be judged from what is present.
    """
    check_oid(since)
    check_oid(tip)
    parents = commit_parents(repo, since)
    args = ["rev-list", "--max-parents=0", "--end-of-options", tip, *(f"^{p}" for p in parents)]
    args.append("--")
    out = run_git(repo, args).stdout.decode().split()
    return tuple(check_oid(c) for c in out)


def first_parent_since(
    repo: RepoHandle, tip: str, since: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(commit, parents) for each commit on `tip`'s first-parent history that `since` cannot
    reach, newest first: the commits a branch gained since `since` as its first-parent line
    tells it (`git rev-list --first-parent tip --not since`; `since` excludes everything it
    reaches through any parent). Empty when `tip` is `since` or one of its ancestors."""
    check_oid(tip)
    check_oid(since)
    args = ["rev-list", "--first-parent", "--parents", "--end-of-options", tip, f"^{since}", "--"]
    out = run_git(repo, args).stdout.decode()
    found: list[tuple[str, tuple[str, ...]]] = []
    for line in out.splitlines():
        ids = [check_oid(i) for i in line.split()]
        if ids:
            found.append((ids[0], tuple(ids[1:])))
    return tuple(found)


def commit_parents(repo: RepoHandle, commit: str) -> tuple[str, ...]:
    check_oid(commit)
    out = run_git(repo, ["rev-list", "--parents", "--max-count=1", "--end-of-options", commit])
    ids = out.stdout.decode().split()
    return tuple(check_oid(i) for i in ids[1:])


class Verification(StrEnum):
    """What `git verify-commit` said about a commit."""

    GOOD = "good"  # signed by a trusted key
    BAD = "bad"  # signed, but not verifiable against the trusted keys (or tampered)
    UNSIGNED = "unsigned"  # no signature at all
    NOT_CHECKED = "not-checked"  # no trusted keys configured, so nothing was verified


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """One commit's metadata; trailers as git parsed them, unfolded `Key: value` lines."""

    id: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored_at: datetime
    committer_name: str
    committer_email: str
    committed_at: datetime
    trailers_text: str
    signed: bool  # carries a gpgsig header (verified or not); set by commit_info only

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def commit_info(repo: RepoHandle, commit: str) -> CommitInfo:
    check_oid(commit)
    infos = _log(repo, ["--no-walk", "--end-of-options", commit])
    if len(infos) != 1:
        raise GitHistoryError(f"commit {commit[:12]} not found")
    return _with_signed_flag(repo, infos[0])


def merged_commits(repo: RepoHandle, merge: CommitInfo) -> tuple[CommitInfo, ...]:
    """The commits a merge brought in: reachable from its other parents, not the first.

    Merge commits on the merged branch are included: one can write content
    itself (an "update branch" merge that edits the file), so its author
    wrote part of the change. More than `_MAX_CHANGE_COMMITS` is an error
    rather than a truncated list: an author cut off the list would be one
    whose approval counts.
    """
    if not merge.is_merge:
        return ()
    first, *others = merge.parents
    found = _log(
        repo,
        [
            f"--max-count={_MAX_CHANGE_COMMITS + 1}",
            "--end-of-options",
            *others,
            f"^{first}",
        ],
    )
    if len(found) > _MAX_CHANGE_COMMITS:
        raise GitHistoryError(
            f"merge {merge.id[:12]} brings in more than {_MAX_CHANGE_COMMITS} commits; "
            "too many to tell who wrote the change (merge the sign-off on its own)"
        )
    return found


def _log(repo: RepoHandle, revs: Sequence[str]) -> tuple[CommitInfo, ...]:
    out = run_git(
        repo, ["log", "--no-show-signature", f"--format={_COMMIT_FORMAT}{_RECORD}", *revs, "--"]
    ).stdout.decode("utf-8", "replace")
    infos: list[CommitInfo] = []
    for raw_record in out.split("\x1e"):
        record = raw_record.lstrip("\n")
        if not record:
            continue
        fields = record.split("\x00")
        if len(fields) != 9:
            raise GitHistoryError("unexpected git log output")
        sha, parents, an, ae, at, cn, ce, ct, trailers = fields
        infos.append(
            CommitInfo(
                id=check_oid(sha),
                parents=tuple(check_oid(p) for p in parents.split()),
                author_name=an,
                author_email=ae,
                authored_at=datetime.fromtimestamp(int(at), UTC),
                committer_name=cn,
                committer_email=ce,
                committed_at=datetime.fromtimestamp(int(ct), UTC),
                trailers_text=trailers,
                signed=False,
            )
        )
    return tuple(infos)


def _with_signed_flag(repo: RepoHandle, info: CommitInfo) -> CommitInfo:
    raw = run_git(repo, ["cat-file", "commit", info.id]).stdout
    header = raw.split(b"\n\n", 1)[0]
    signed = any(line.startswith((b"gpgsig ", b"gpgsig-sha256 ")) for line in header.split(b"\n"))
    if not signed:
        return info
    return CommitInfo(
        info.id,
        info.parents,
        info.author_name,
        info.author_email,
        info.authored_at,
        info.committer_name,
        info.committer_email,
        info.committed_at,
        info.trailers_text,
        True,
    )


# ---------------------------------------------------------------- signatures


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    status: Verification
    detail: str = ""  # git's own words, one line (which key, or why it failed)


def verify_commit(
    repo: RepoHandle,
    commit: str,
    *,
    allowed_signers: bytes | None = None,
    gpg_home: str = "",
) -> SignatureCheck:
    """Whether `commit`'s signature verifies against the given ssh signers and/or gpg keyring.

    `allowed_signers` is the content of an ssh allowed_signers file (read by
    the caller from a trusted commit); it is written to a private temporary
    file for git, outside the repository. With neither signers nor keyring,
    nothing is trusted and the answer is NOT_CHECKED.
    """
    check_oid(commit)
    raw = run_git(repo, ["cat-file", "commit", commit]).stdout.split(b"\n\n", 1)[0]
    if not any(line.startswith((b"gpgsig ", b"gpgsig-sha256 ")) for line in raw.split(b"\n")):
        return SignatureCheck(Verification.UNSIGNED, "the commit is not signed")
    if allowed_signers is None and not gpg_home:
        return SignatureCheck(Verification.NOT_CHECKED, "no trusted keys are configured")
    with tempfile.TemporaryDirectory(prefix="offerctl-signers-") as tmp:
        # Without a configured keyring, gpg gets an empty one: the controller
        # user's own keyring must never decide what is trusted.
        empty_home = Path(tmp) / "gnupg"
        empty_home.mkdir(mode=0o700)
        env = {"GNUPGHOME": gpg_home or str(empty_home)}
        signers = Path(tmp) / "allowed_signers"
        # An empty file trusts no ssh key at all, rather than git's configured default.
        signers.write_bytes(allowed_signers or b"")
        signers.chmod(0o600)
        proc = run_git(
            repo,
            ["verify-commit", "--end-of-options", commit],
            config=[("gpg.ssh.allowedSignersFile", str(signers))],
            env=env,
            check=False,
        )
    lines = [
        line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()
    ]
    if proc.status == 0:
        good = next((line for line in lines if line.startswith("Good")), "")
        return SignatureCheck(Verification.GOOD, good or (lines[0] if lines else ""))
    # ssh prints "Good signature" for the cryptography before "No principal matched":
    # the reason it failed is in the other lines.
    reasons = [line for line in lines if not line.startswith("Good")]
    return SignatureCheck(Verification.BAD, "; ".join(reasons) or "the signature does not verify")
