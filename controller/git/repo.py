"""The reconciler's git adapter: every git command the reconcile pass runs goes through here.

Git runs as the system binary with a fixed argv (through GitPython's command
wrapper); user-derived values come after `--end-of-options` or as literal
pathspecs, and ref, remote and branch names are checked before use. Nothing
here touches the user's working tree or real index, with one narrow,
documented exception (`sync_checked_out`).

What it offers the reconciler:
- read a commit's tree as a `TreeSnapshot` with one `ls-tree` and one
  long-lived `cat-file --batch` process for blob contents;
- `changed_paths` between two commits and `is_ancestor` (history rewritten?);
- `write_commit`: a commit built from a base tree plus {path: bytes} in a
  private index (GIT_INDEX_FILE under .git/offerctl/), with the controller's
  identity, then `update_ref` as a compare-and-swap;
- remote mode: `fetch` one branch with an explicit refspec, `push` without
  force, telling a rejected push (someone pushed first) from other failures;
- the last reconciled commit, kept in a ref under refs/offerctl/ so it
  survives restarts and keeps that commit reachable for diffs;
- stale lock files left by a killed git are removed after a while, with a
  warning; a live one is a TransientError.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
from git.exc import GitCommandError, GitCommandNotFound

from controller.core.errors import FatalError, TransientError, UsageError, UserError
from controller.failpoint import BEFORE_PUSH, failpoint
from controller.files.fsio import atomic_write
from controller.git.tree import DEFAULT_MAX_BLOB_BYTES, TreeEntry, TreeSnapshot
from controller.repo import layout

log = logging.getLogger(__name__)

# The paths the reconciler reads from a commit: offers and the repository policy.
POLICY_PATHS = layout.POLICY_PATHS
OFFERS_DIR = layout.OFFERS_DIR

# Protocols a fetch or push may use; blocks ext:: and fd:: transport tricks.
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"

# Lock files a killed git leaves that would block a pass (gc.log.lock and the like do not).
BLOCKING_LOCKS: tuple[str, ...] = ("index.lock", "HEAD.lock", "packed-refs.lock", "shallow.lock")

# Over this many offers, one listing of offers/ beats pathspecs on the command line.
MAX_PATHSPECS = 500

_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


# --- names --------------------------------------------------------------------


def check_ref_name(name: str, *, what: str = "ref name") -> str:
    """`name` if it is a safe git ref name (check-ref-format rules, and no leading '-').

    Raises UsageError naming the rule it breaks: a ref name reaches git's
    argv, and CVE-2023-41040 used `..` in one to read outside .git.
    """
    problem = _ref_name_problem(name)
    if problem:
        raise UsageError(f"invalid {what} {name!r}: {problem}")
    return name


def _ref_name_problem(name: str) -> str:
    if not name:
        return "empty"
    if name.startswith("-"):
        return "starts with '-'"
    if _BAD_REF_CHARS.search(name):
        return "contains a space, control character or one of ~^:?*[\\"
    if ".." in name:
        return "contains '..'"
    if "@{" in name or name == "@":
        return "contains '@{' or is '@'"
    if name.endswith(("/", ".")) or name.startswith("/") or "//" in name:
        return "has an empty component or ends with '/' or '.'"
    for component in name.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            return "a component starts with '.' or ends with '.lock'"
    return ""


def check_branch_name(name: str) -> str:
    """A branch name (the part after refs/heads/)."""
    check_ref_name(name, what="branch name")
    if name == "HEAD":
        raise UsageError("invalid branch name 'HEAD'")
    return name


def check_remote_name(name: str) -> str:
    """A configured remote's name: letters, digits, '.', '_', '-'; no URLs, no '/'."""
    if not _REMOTE_NAME.match(name) or ".." in name or name.endswith(".lock"):
        raise UsageError(f"invalid remote name {name!r}: use the name of a configured remote")
    return name


def check_oid(oid: str) -> str:
    if not _HEX.match(oid):
        raise ValueError(f"not an object id: {oid!r}")
    return oid


def redact(text: str) -> str:
    """`text` with credentials in URLs (https://user:token@host) masked."""
    return _CREDENTIALS.sub("***@", text)


def blob_oid(data: bytes, object_format: str = "sha1") -> str:
    """The object id git gives a blob holding `data` (no subprocess needed)."""
    digest = hashlib.new(object_format)
    digest.update(b"blob %d\x00" % len(data))
    digest.update(data)
    return digest.hexdigest()


# --- plain data -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the controller commits as."""

    name: str = "offerctl"
    email: str = "offerctl@localhost"

    def env(self, when: float | None = None) -> dict[str, str]:
        env = {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }
        if when is not None:
            stamp = f"@{int(when)} +0000"
            env["GIT_AUTHOR_DATE"] = stamp
            env["GIT_COMMITTER_DATE"] = stamp
        return env


class PassLockBusy(FatalError):
    """Another offerctl process is reconciling the same branch: fatal for a one-shot
    command, only a short wait for the daemon."""


class BlobTooLarge(UserError):
    """A blob over the size its reader allows; it was not read."""


class PushRejected(Exception):
    """The remote refused a fast-forward-only push: someone pushed first. Fetch and rebuild."""


class RefMoved(Exception):
    """A compare-and-swap ref update found another value than expected."""


# --- the adapter ------------------------------------------------------------------


class GitRepo:
    """One repository (working tree or bare), opened for the reconciler.

    Keep it open for a pass (or a daemon's lifetime) and `close()` it: it holds
    a `git cat-file --batch` process for reading blobs.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._cmd = git.Git(str(path))
        self._env: dict[str, str] = {
            "GIT_LITERAL_PATHSPECS": "1",  # offer ids from the tree are never pathspec magic
            "GIT_TERMINAL_PROMPT": "0",  # a daemon must fail, not wait for a password
            "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
            "GIT_OPTIONAL_LOCKS": "0",  # reading never takes index.lock behind the user's back
        }
        try:
            out = self._git(
                "rev-parse",
                "--path-format=absolute",
                "--git-dir",
                "--git-common-dir",
                "--is-bare-repository",
                "--show-object-format",
            )
        except FatalError as exc:
            raise FatalError(f"{path}: not a git repository ({exc})") from None
        git_dir, common_dir, bare, object_format = out.splitlines()[:4]
        self.git_dir = Path(git_dir)
        self.common_dir = Path(common_dir)
        self.bare = bare == "true"
        self.object_format = object_format
        self.worktree: Path | None = None
        if not self.bare:
            self.worktree = Path(self._git("rev-parse", "--show-toplevel").strip())
        self._batch: Any = None
        self._batch_handle: Any = None
        self._check: Any = None  # `cat-file --batch-check`: sizes without reading
        self._check_handle: Any = None

    # -- plumbing ---------------------------------------------------------------------

    def _git(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        binary: bool = False,
    ) -> Any:
        """Run `git <args>`; stdout as text (or bytes). FatalError on failure."""
        try:
            return self._run(args, env=env, stdin=stdin, binary=binary)
        except GitCommandError as exc:
            raise FatalError(f"git {args[0]} failed: {_stderr(exc)}") from None

    def _run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        binary: bool = False,
    ) -> Any:
        """Run git and let GitCommandError through, for callers that read its exit status."""
        full_env = dict(self._env)
        if env:
            full_env.update(env)
        kwargs: dict[str, Any] = {
            "env": full_env,
            "stdout_as_string": not binary,
            "strip_newline_in_stdout": False,
        }
        try:
            if stdin is None:
                return self._cmd.execute(["git", *args], **kwargs)
            # GitPython feeds stdin from a file; a temp file avoids pipe deadlocks.
            with tempfile.TemporaryFile() as fh:
                fh.write(stdin)
                fh.seek(0)
                return self._cmd.execute(["git", *args], istream=fh, **kwargs)
        except GitCommandNotFound:
            raise FatalError("git is not installed or not on PATH") from None

    def close(self) -> None:
        procs = [self._batch, self._check]
        self._batch = self._batch_handle = self._check = self._check_handle = None
        for proc in filter(None, procs):
            with contextlib.suppress(OSError):
                proc.stdin.close()
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- refs and commits ---------------------------------------------------------------

    def resolve(self, ref: str) -> str | None:
        """The commit `ref` names, or None when it does not exist."""
        try:
            out: str = self._run(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
            )
        except GitCommandError:
            return None
        return out.strip() or None

    def head_branch(self) -> str | None:
        """The checked-out branch's name, or None for a detached HEAD."""
        try:
            out: str = self._run(["symbolic-ref", "--quiet", "--short", "HEAD"])
        except GitCommandError:
            return None
        return out.strip() or None

    def has_commit(self, oid: str) -> bool:
        try:
            self._run(["cat-file", "-e", f"{check_oid(oid)}^{{commit}}"])
        except GitCommandError:
            return False
        return True

    def is_ancestor(self, old: str, new: str) -> bool:
        """True when `old` is `new` or reachable from it (history was not rewritten)."""
        if not self.has_commit(old):
            return False
        try:
            self._run(["merge-base", "--is-ancestor", check_oid(old), check_oid(new)])
        except GitCommandError as exc:
            if exc.status == 1:
                return False
            raise FatalError(f"git merge-base failed: {_stderr(exc)}") from None
        return True

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between two commits (added, modified, deleted; renames as both)."""
        out: bytes = self._git(
            "diff-tree",
            "-r",
            "-z",
            "--name-only",
            "--no-renames",
            "--no-ext-diff",
            check_oid(old),
            check_oid(new),
            "--",
            binary=True,
        )
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\x00") if p]

    def tree_of(self, commit: str) -> str:
        out: str = self._git("rev-parse", "--verify", f"{check_oid(commit)}^{{tree}}")
        return out.strip()

    def update_ref(self, ref: str, new: str, expected_old: str | None, reason: str) -> None:
        """Set `ref` to `new` only if it still holds `expected_old` (None: must not exist)."""
        check_ref_name(ref)
        old = expected_old if expected_old is not None else "0" * len(new)
        try:
            self._run(["update-ref", "-m", reason, ref, check_oid(new), check_oid(old)])
        except GitCommandError as exc:
            message = _stderr(exc)
            if "lock" in message and "exists" in message:
                raise TransientError(f"{ref} is locked: {message}", retry_after=5) from None
            raise RefMoved(f"{ref} moved: {message}") from None

    def delete_ref(self, ref: str) -> None:
        with contextlib.suppress(GitCommandError):
            self._run(["update-ref", "-d", check_ref_name(ref)])

    # -- reading a commit ---------------------------------------------------------------

    def snapshot(
        self,
        commit: str,
        offers: Iterable[str] | None = None,
        *,
        max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
    ) -> TreeSnapshot:
        """Entries under offers/ (or only the listed offers) and the policy files at `commit`."""
        check_oid(commit)
        wanted = None if offers is None else sorted(set(offers))
        if wanted is None or len(wanted) > MAX_PATHSPECS:
            paths = [OFFERS_DIR, *POLICY_PATHS]
        else:
            paths = [f"{OFFERS_DIR}/{offer}/" for offer in wanted] + list(POLICY_PATHS)
        entries = self.ls_tree(commit, paths)
        if wanted is not None and len(wanted) > MAX_PATHSPECS:
            keep = set(wanted)
            entries = {
                p: e
                for p, e in entries.items()
                if not p.startswith("offers/") or p.split("/", 2)[1] in keep
            }
        return TreeSnapshot(
            commit=commit,
            entries=entries,
            read_blob=self.read_blob,
            max_blob_bytes=max_blob_bytes,
            complete=wanted is None,
        )

    def ls_tree(self, commit: str, paths: Sequence[str]) -> dict[str, TreeEntry]:
        """Every blob, symlink and submodule under `paths` at `commit`, by path."""
        out: bytes = self._git(
            "ls-tree",
            "-r",
            "-z",
            "-l",
            "--full-tree",
            check_oid(commit),
            "--",
            *paths,
            binary=True,
        )
        entries: dict[str, TreeEntry] = {}
        for record in out.split(b"\x00"):
            if not record:
                continue
            meta, _, raw_path = record.partition(b"\t")
            mode, _type, oid, size = meta.decode("ascii").split(None, 3)
            path = raw_path.decode("utf-8", "surrogateescape")
            entries[path] = TreeEntry(
                path=path, mode=mode, oid=oid, size=int(size) if size.isdigit() else 0
            )
        return entries

    def read_blob(self, oid: str, limit: int | None = None) -> bytes:
        """A blob's bytes, from one long-lived `git cat-file --batch` process.

        With `limit`, the size is asked first of a `--batch-check` process, and a
        larger blob is never read, by us or by git (`cat-file --batch` inflates a
        whole object into its own memory), and BlobTooLarge raised: its size is the
        author's choice.
        """
        if limit is not None:
            size = self._blob_size(oid)
            if size > limit:
                raise BlobTooLarge(f"object {oid} is {size:,} bytes; the limit is {limit:,}")
        proc = self._batch_process()
        try:
            proc.stdin.write(check_oid(oid).encode("ascii") + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().split()
        except OSError as exc:
            self.close()
            raise FatalError(f"git cat-file stopped: {exc}") from None
        if len(header) != 3:
            raise FatalError(f"object {oid} is missing from the repository")
        size = int(header[2])
        data: bytes = proc.stdout.read(size)
        proc.stdout.read(1)  # the newline after each object
        return data

    def _blob_size(self, oid: str) -> int:
        if self._check is None:
            self._check_handle = self._start_cat_file("--batch-check")
            self._check = self._check_handle.proc
        try:
            self._check.stdin.write(check_oid(oid).encode("ascii") + b"\n")
            self._check.stdin.flush()
            header = self._check.stdout.readline().split()
        except OSError as exc:
            self.close()
            raise FatalError(f"git cat-file stopped: {exc}") from None
        if len(header) != 3:
            raise FatalError(f"object {oid} is missing from the repository")
        return int(header[2])

    def _batch_process(self) -> Any:
        if self._batch is None:
            self._batch_handle = self._start_cat_file("--batch")
            self._batch = self._batch_handle.proc
        return self._batch

    def _start_cat_file(self, mode: str) -> Any:
        env = dict(os.environ)
        env.update(self._env)
        # Keep GitPython's handle alive: dropping it terminates the process.
        return self._cmd.execute(["git", "cat-file", mode], as_process=True, istream=-1, env=env)

    # -- writing a commit ---------------------------------------------------------------

    def write_commit(
        self,
        base: str,
        updates: Mapping[str, bytes | None],
        message: str,
        identity: Identity,
        *,
        when: float | None = None,
    ) -> str | None:
        """A new commit: `base`'s tree with `updates` applied (None deletes), parent `base`.

        The tree is built in a private index file, so the user's index and
        working tree are never read or written. Returns None when the
        result's tree equals base's (nothing to commit). No ref is moved.
        """
        check_oid(base)
        changes = {p: d for p, d in updates.items() if _safe_tree_path(p)}
        if len(changes) != len(updates):
            bad = sorted(set(updates) - set(changes))
            raise ValueError(f"refusing to write outside offers/: {bad}")
        self._store_blobs([d for d in changes.values() if d is not None])
        private = self.common_dir / "offerctl"
        private.mkdir(parents=True, exist_ok=True)
        index = private / f"index.{os.getpid()}.{secrets.token_hex(4)}"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            self._git("read-tree", base, env=env)
            records = b"".join(
                _index_info(path, data, self.object_format) for path, data in changes.items()
            )
            self._git("update-index", "-z", "--index-info", env=env, stdin=records)
            tree = self._git("write-tree", env=env).strip()
        finally:
            with contextlib.suppress(FileNotFoundError):
                index.unlink()
        if tree == self.tree_of(base):
            return None
        out: str = self._git(
            "commit-tree",
            "--no-gpg-sign",
            tree,
            "-p",
            base,
            "-F",
            "-",
            env=identity.env(when),
            stdin=message.encode("utf-8"),
        )
        return out.strip()

    def _store_blobs(self, blobs: Sequence[bytes]) -> None:
        """Write blobs into the object database with one `git fast-import` process."""
        if not blobs:
            return
        stream = bytearray()
        for data in blobs:
            stream += b"blob\ndata %d\n" % len(data)
            stream += data
            stream += b"\n"
        stream += b"done\n"
        self._git("fast-import", "--quiet", "--done", stdin=bytes(stream))

    # -- the checked-out branch ----------------------------------------------------------

    def sync_checked_out(self, branch: str, old: str, new: str, paths: Iterable[str]) -> list[str]:
        """After `branch` moved from `old` to `new`, bring the controller's own paths along.

        Local mode commits onto the branch the user has checked out; without
        this, the index and working tree would still hold `old`'s status files
        and `git status` would show them as reverted. For each path, only when
        both the index entry and the working-tree file still equal `old`'s
        version (the user has not touched it) is it replaced by `new`'s;
        otherwise the user's edit stays, and shows as a change against the new
        HEAD. Returns the paths updated. Does nothing unless `branch` is checked
        out here.

        "Equal" is judged the way git judges it: the working file is hashed
        through git's clean filters (`core.autocrlf`, `eol`/`text` attributes,
        filter drivers), so a CRLF checkout of an untouched file still counts
        as untouched; and a new version is written as git's checkout would
        write it (smudged, with the checkout's line endings), so the next
        `git status` sees it unchanged.
        """
        worktree = self.worktree
        if worktree is None or self.head_branch() != branch:
            return []
        paths = sorted(set(paths))
        if not paths:
            return []
        old_entries = self.ls_tree(old, paths)
        new_entries = self.ls_tree(new, paths)
        moved = [p for p in paths if old_entries.get(p) != new_entries.get(p)]
        if not moved:
            return []
        staged = self._staged(moved)
        on_disk = self._worktree_oids(worktree, moved)
        synced: list[str] = []
        for path in moved:
            before = old_entries.get(path)
            after = new_entries.get(path)
            before_oid = before.oid if before else None
            if staged.get(path) != before_oid or on_disk.get(path) != before_oid:
                continue  # the user has their own version of this path: leave it alone
            target = worktree / path
            if after is None:
                target.unlink(missing_ok=True)
            else:
                data = self._checkout_bytes(worktree, path, after.oid)
                if data is None:
                    continue  # a smudge filter failed: the file shows as changed, nothing lost
                atomic_write(target, data)
            synced.append(path)
        if synced:
            try:
                self._run(
                    ["update-index", "--add", "--remove", "--", *synced],
                    env={
                        "GIT_OPTIONAL_LOCKS": "1",
                    },
                )
            except GitCommandError as exc:
                # The commit is made; a busy index only means `git status` re-hashes later.
                log.warning("could not refresh the index for status files: %s", _stderr(exc))
        return synced

    def _staged(self, paths: Sequence[str]) -> dict[str, str]:
        out: bytes = self._git("ls-files", "-s", "-z", "--", *paths, binary=True)
        staged: dict[str, str] = {}
        for record in out.split(b"\x00"):
            if record:
                meta, _, raw = record.partition(b"\t")
                staged[raw.decode("utf-8", "surrogateescape")] = meta.split()[1].decode()
        return staged

    def _worktree_oids(self, worktree: Path, paths: Sequence[str]) -> dict[str, str | None]:
        """Each path's working-tree file as git would store it: its blob id after the clean
        filters, None when absent, "symlink"/"other" for what is not a regular file."""
        found: dict[str, str | None] = {}
        files: list[str] = []
        for path in paths:
            target = worktree / path
            if target.is_symlink():
                found[path] = "symlink"
            elif not target.exists():
                found[path] = None
            elif not target.is_file() or "\n" in path:
                found[path] = "other"  # never hashed: treated as the user's own version
            else:
                files.append(path)
        if files:
            try:
                out: str = self._run(
                    ["-C", str(worktree), "hash-object", "--stdin-paths"],
                    stdin="".join(f"{path}\n" for path in files).encode("utf-8", "surrogateescape"),
                )
            except GitCommandError as exc:  # a filter that fails: leave these paths alone
                log.warning("could not hash status files in the working tree: %s", _stderr(exc))
                return {**found, **dict.fromkeys(files, "other")}
            found.update(zip(files, out.split(), strict=True))
        return found

    def _checkout_bytes(self, worktree: Path, path: str, oid: str) -> bytes | None:
        """The bytes `git checkout` would write for blob `oid` at `path` (smudge, eol);
        None, with a warning, when a configured filter fails."""
        try:
            data: bytes = self._run(
                ["-C", str(worktree), "cat-file", "--filters", f"--path={path}", oid],
                binary=True,
            )
        except GitCommandError as exc:
            log.warning("could not write %s through git's filters: %s", path, _stderr(exc))
            return None
        return data

    # -- remotes ------------------------------------------------------------------------

    def tracking_ref(self, remote: str, branch: str) -> str:
        return f"refs/remotes/{check_remote_name(remote)}/{check_branch_name(branch)}"

    def fetch(self, remote: str, branch: str) -> str:
        """Fetch `branch` from `remote` and return its tip; TransientError if unreachable."""
        self._check_remote(remote)
        refspec = f"+refs/heads/{check_branch_name(branch)}:{self.tracking_ref(remote, branch)}"
        try:
            self._run(
                [
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--no-recurse-submodules",
                    "--no-write-fetch-head",
                    "--end-of-options",
                    remote,
                    refspec,
                ]
            )
        except GitCommandError as exc:
            message = _stderr(exc)
            if "couldn't find remote ref" in message:
                raise UserError(
                    f"branch {branch!r} does not exist on remote {remote!r}; nothing was changed"
                ) from None
            raise TransientError(
                f"could not fetch {branch!r} from {remote!r}: {message}", retry_after=30
            ) from None
        tip = self.resolve(self.tracking_ref(remote, branch))
        if tip is None:
            raise FatalError(f"fetched {remote}/{branch} but cannot read its tip")
        return tip

    def push(self, remote: str, commit: str, branch: str) -> None:
        """Push `commit` to `remote`'s `branch` as a fast-forward; never forced.

        PushRejected when the branch moved on the remote (fetch, rebuild, retry);
        UserError when the remote refuses for another reason (protected branch,
        hook); TransientError when it cannot be reached.
        """
        self._check_remote(remote)
        refspec = f"{check_oid(commit)}:refs/heads/{check_branch_name(branch)}"
        failpoint(BEFORE_PUSH)
        try:
            self._run(["push", "--porcelain", "--quiet", "--end-of-options", remote, refspec])
        except GitCommandError as exc:
            out = f"{_text(exc.stdout)}\n{_text(exc.stderr)}"
            if "[remote rejected]" in out:
                reason = _bracket_reason(out, "[remote rejected]")
                raise UserError(
                    f"{remote} refused the status commit on {branch!r}: {redact(reason)}"
                ) from None
            if "[rejected]" in out or "non-fast-forward" in out or "fetch first" in out:
                raise PushRejected(f"{remote}/{branch} moved since it was fetched") from None
            raise TransientError(
                f"could not push to {remote!r}: {_stderr(exc)}", retry_after=30
            ) from None

    def _check_remote(self, remote: str) -> None:
        check_remote_name(remote)
        out: str = self._git("remote")
        if remote not in out.split():
            raise UsageError(f"no remote named {remote!r} in this repository")

    # -- the last reconciled commit -----------------------------------------------------

    @staticmethod
    def reconciled_ref(branch: str, remote: str | None = None, part: str = "") -> str:
        """Where the last reconciled commit of a watched branch is recorded.

        `part` names a subset of offers reconciled on its own (a daemon shard),
        which keeps its own record.
        """
        root = "refs/offerctl/reconciled"
        if part:
            root = f"refs/offerctl/parts/{check_ref_name(part, what='part name')}"
        if remote is None:
            return f"{root}/heads/{check_branch_name(branch)}"
        return f"{root}/remotes/{check_remote_name(remote)}/{check_branch_name(branch)}"

    def record_reconciled(self, ref: str, commit: str) -> None:
        try:
            self._run(
                ["update-ref", "-m", "offerctl: reconciled", check_ref_name(ref), check_oid(commit)]
            )
        except GitCommandError as exc:
            raise FatalError(f"could not record the reconciled commit: {_stderr(exc)}") from None

    def uncommitted(self, folder: str) -> list[tuple[str, str]]:
        """Files under `folder` whose working-tree or index copy differs from HEAD.

        Pairs of (path, "untracked" | "deleted" | "modified"), sorted; empty in a
        bare repository. `folder` is a fixed name of ours (`offers`), never input.
        """
        if self.worktree is None:
            return []
        out = self._git(
            "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames",
            "--", folder,
        )  # fmt: skip
        found: list[tuple[str, str]] = []
        for item in str(out).split("\0"):
            if len(item) < 4:
                continue
            code, path = item[:2], item[3:]
            kind = "untracked" if code == "??" else "deleted" if "D" in code else "modified"
            found.append((path, kind))
        return sorted(found)

    @property
    def private_dir(self) -> Path:
        """.git/offerctl: the controller's own files (state, private indexes, pass lock)."""
        path = self.common_dir / "offerctl"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextlib.contextmanager
    def pass_lock(self, name: str) -> Iterator[None]:
        """Hold an exclusive lock for one watched branch; FatalError if another offerctl has it."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        path = self.private_dir / f"pass.{safe}.lock"
        with path.open("a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PassLockBusy(
                    f"another offerctl is reconciling {name} in this repository"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- stale locks --------------------------------------------------------------------

    def clear_stale_locks(self, max_age: float = 600.0, now: float | None = None) -> list[Path]:
        """Remove git lock files older than `max_age` seconds that no live git process holds.

        A git killed mid-operation leaves `index.lock`, `HEAD.lock` or a ref's
        `.lock` behind and every later write fails forever (Argo CD #2351).
        A younger lock, or any lock while a git process runs in this
        repository, is a TransientError: retry later. Returns what was removed.
        """
        now = time.time() if now is None else now
        locks = [p for p in self._lock_files() if p.exists()]
        if not locks:
            return []
        own = {proc.pid for proc in (self._batch, self._check) if proc is not None}
        busy = _git_running_in(
            {self.common_dir, self.git_dir, *filter(None, [self.worktree])}, exclude=own
        )
        removed: list[Path] = []
        for lock in locks:
            try:
                age = now - lock.stat().st_mtime
            except FileNotFoundError:
                continue
            if busy or age < max_age:
                raise TransientError(
                    f"{lock} is held (age {age:.0f}s); another git command is running",
                    retry_after=min(60.0, max(5.0, max_age - age)),
                )
            log.warning(
                "removing stale git lock %s (%.0f s old, no git process running)", lock, age
            )
            lock.unlink(missing_ok=True)
            removed.append(lock)
        return removed

    def _lock_files(self) -> Iterator[Path]:
        """The locks that block what a pass writes: the index, HEAD, refs, packed-refs."""
        for base in {self.git_dir, self.common_dir}:
            for name in BLOCKING_LOCKS:
                yield base / name
            refs = base / "refs"
            if refs.is_dir():
                yield from refs.rglob("*.lock")


# --- helpers ----------------------------------------------------------------------


def _safe_tree_path(path: str) -> bool:
    """Only files inside offers/<id>/ are the controller's to write."""
    parts = path.split("/")
    return (
        len(parts) >= 3
        and parts[0] == OFFERS_DIR
        and all(p and p not in {".", "..", ".git"} for p in parts)
        and not any(ch in path for ch in "\x00\n\r\\")
    )


def _index_info(path: str, data: bytes | None, object_format: str) -> bytes:
    raw = path.encode("utf-8")
    if data is None:
        zero = "0" * (40 if object_format == "sha1" else 64)
        return b"0 " + zero.encode() + b"\t" + raw + b"\x00"
    return b"100644 " + blob_oid(data, object_format).encode() + b"\t" + raw + b"\x00"


def _git_running_in(dirs: set[Path], exclude: set[int]) -> bool:
    """Whether a live `git` process works in one of `dirs` (Linux /proc; else assume yes)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True  # cannot tell: never remove a lock that might be live
    resolved = {d.resolve() for d in dirs}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            if (entry / "comm").read_text().strip() not in {"git", "git-remote-http"}:
                continue
            cwd = (entry / "cwd").resolve()
        except OSError:
            continue
        if any(cwd == d or d in cwd.parents or cwd in d.parents for d in resolved):
            return True
    return False


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


def _stderr(exc: GitCommandError) -> str:
    text = _text(exc.stderr).strip()
    # GitPython wraps stderr as "\n  stderr: '...'"; keep only git's own words.
    text = text.removeprefix("stderr:").strip().strip("'").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return redact("; ".join(lines[:3])) or f"exit status {exc.status}"


def _bracket_reason(out: str, marker: str) -> str:
    for line in out.splitlines():
        if marker in line:
            return line.split(marker, 1)[1].strip(" ()") or "no reason given"
    return "no reason given"
