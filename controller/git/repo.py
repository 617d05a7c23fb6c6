"""`GitRepo`: one repository opened for the reconciler, a facade over controller/git/.

The code lives in the modules beside this one; `GitRepo` keeps one runner
(`runner.py`), one object reader (`read.py`) and the repository's locations,
so call sites stay short:

- names (`names.py`): ref, branch, remote names and object ids are checked
  before they reach git's argv;
- reading (`read.py`): a commit's tree as a `TreeSnapshot` from one
  `ls-tree` and blobs from one long-lived `cat-file --batch`;
  `changed_paths` and `is_ancestor`;
- writing (`write.py`): `write_commit`, the one commit writer (the base tree
  plus the changed paths, no index), and `update_ref` as a compare-and-swap;
- remotes (`remote.py`): `fetch` one branch, `push` never forced;
- checkout sync (`checkout.py`): the checked-out branch's files follow the
  controller's commits where the user has not touched them;
- locks (`locks.py`): the pass lock and stale git lock files;
- the last reconciled commit, kept in a ref under refs/offerctl/ so it
  survives restarts and keeps that commit reachable for diffs.

Nothing here touches the user's working tree or index except checkout sync.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from controller.core.errors import FatalError
from controller.core.kept import Kept
from controller.git import checkout, locks, remote, write
from controller.git.locks import BLOCKING_LOCKS, PassLockBusy
from controller.git.names import (
    blob_oid,
    check_branch_name,
    check_oid,
    check_ref_name,
    check_remote_name,
    redact,
)
from controller.git.read import BlobTooLarge, ObjectReader, ls_tree
from controller.git.remote import PushRejected
from controller.git.runner import GitFailed, GitRunner
from controller.git.tree import DEFAULT_MAX_BLOB_BYTES, TreeEntry, TreeIndex, TreeSnapshot
from controller.git.write import Identity, RefMoved
from controller.repo import layout

# The paths the reconciler reads from a commit: offers and the repository policy.
POLICY_PATHS = layout.POLICY_PATHS
OFFERS_DIR = layout.OFFERS_DIR

# Over this many offers, one listing of offers/ beats pathspecs on the command line.
MAX_PATHSPECS = 500
# Tree listings kept per repository, keyed by commit and paths: a commit's tree never
# changes, so a pass (and the next, while nothing was committed) lists it once.
KEPT_LISTINGS = 2
# Small blobs kept by id (`GitRepo.read_blob`): at most KEPT_BLOBS * KEPT_BLOB_BYTES (16 MiB).
KEPT_BLOBS = 256
KEPT_BLOB_BYTES = 64 * 1024

__all__ = [
    "BLOCKING_LOCKS",
    "MAX_PATHSPECS",
    "OFFERS_DIR",
    "POLICY_PATHS",
    "BlobTooLarge",
    "GitRepo",
    "Identity",
    "PassLockBusy",
    "PushRejected",
    "RefMoved",
    "blob_oid",
    "check_branch_name",
    "check_oid",
    "check_ref_name",
    "check_remote_name",
    "redact",
]


class GitRepo:
    """One repository (working tree or bare), opened for the reconciler.

    Keep it open for a pass (or a daemon's lifetime) and `close()` it: it holds
    a `git cat-file --batch` process for reading blobs.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.runner = GitRunner(path)
        # An SSH private key file that signs the status commits (`write.ssh_signing`);
        # "" leaves them unsigned. Set by the commands from the operator's environment.
        self.status_signing_key = ""
        try:
            out = self.runner.out(
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
            self.worktree = Path(self.runner.out("rev-parse", "--show-toplevel"))
        self.objects = ObjectReader(self.runner, object_format)
        # The last commit this object brought the checkout to, every path done: a
        # status commit of our own needs no second look (`land.finish_checkout_sync`).
        self.synced_tip: str | None = None
        self._listings: Kept[tuple[str, tuple[str, ...]], TreeIndex]
        self._listings = Kept(KEPT_LISTINGS)
        self._blobs: Kept[str, bytes] = Kept(KEPT_BLOBS)  # small blobs by id: `read_blob`

    def close(self) -> None:
        self.objects.close()

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- refs and commits ---------------------------------------------------------------

    def resolve(self, ref: str) -> str | None:
        """The commit `ref` names, or None when it does not exist."""
        found = self.runner.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            check=False,
        )
        return (found.text.strip() or None) if found.status == 0 else None

    def head_branch(self) -> str | None:
        """The checked-out branch's name, or None for a detached HEAD."""
        found = self.runner.run(["symbolic-ref", "--quiet", "--short", "HEAD"], check=False)
        return (found.text.strip() or None) if found.status == 0 else None

    def has_commit(self, oid: str) -> bool:
        found = self.runner.run(["cat-file", "-e", f"{check_oid(oid)}^{{commit}}"], check=False)
        return found.status == 0

    def is_ancestor(self, old: str, new: str) -> bool:
        """True when `old` is `new` or reachable from it (history was not rewritten)."""
        if not self.has_commit(old):
            return False
        if old == new:
            return True  # what merge-base answers for a commit that exists, without asking
        found = self.runner.run(
            ["merge-base", "--is-ancestor", check_oid(old), check_oid(new)], check=False
        )
        if found.status == 1:
            return False
        if found.status != 0:
            raise GitFailed(
                f"git merge-base failed: {redact(found.stderr.decode('utf-8', 'replace').strip())}",
                status=found.status,
                stdout=found.stdout,
                stderr=found.stderr,
            )
        return True

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between two commits (added, modified, deleted; renames as both)."""
        out = self.runner.run(
            ["diff-tree", "-r", "-z", "--name-only", "--no-renames", "--no-ext-diff",
             check_oid(old), check_oid(new), "--"]
        ).stdout  # fmt: skip
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\x00") if p]

    def tree_of(self, commit: str) -> str:
        return self.runner.out("rev-parse", "--verify", f"{check_oid(commit)}^{{tree}}")

    def update_ref(self, ref: str, new: str, expected_old: str | None, reason: str) -> None:
        """Set `ref` to `new` only if it still holds `expected_old` (None: must not exist)."""
        write.update_ref(self.runner, ref, new, expected_old, reason)

    def delete_ref(self, ref: str) -> None:
        write.delete_ref(self.runner, ref)

    # -- reading a commit ---------------------------------------------------------------

    def snapshot(
        self,
        commit: str,
        offers: Iterable[str] | None = None,
        *,
        max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
    ) -> TreeSnapshot:
        """Entries under offers/ (or only the listed offers) and the policy files at `commit`.

        Listings are kept (`_listing`) and shared: treat a snapshot's entries as read-only."""
        check_oid(commit)
        wanted = None if offers is None else sorted(set(offers))
        if wanted is None or len(wanted) > MAX_PATHSPECS:
            paths = (OFFERS_DIR, *POLICY_PATHS)
        else:
            paths = (*(f"{OFFERS_DIR}/{offer}/" for offer in wanted), *POLICY_PATHS)
        index = self._listing(commit, paths)
        if wanted is not None and len(wanted) > MAX_PATHSPECS:
            index = index.subset(frozenset(wanted))
        return TreeSnapshot(
            commit=commit,
            entries=index.entries,
            read_blob=self.read_blob,
            max_blob_bytes=max_blob_bytes,
            complete=wanted is None,
            index=index,
        )

    def _listing(self, commit: str, paths: tuple[str, ...]) -> TreeIndex:
        """`ls_tree`, kept for the last KEPT_LISTINGS questions: a commit's tree never changes."""
        return self._listings.get_or_make(
            (commit, paths), lambda: TreeIndex(self.ls_tree(commit, paths))
        )

    def ls_tree(self, commit: str, paths: Sequence[str]) -> dict[str, TreeEntry]:
        """Every blob, symlink and submodule under `paths` at `commit`, by path, with sizes."""
        return ls_tree(self.runner, commit, paths)

    def read_blob(self, oid: str, limit: int | None = None) -> bytes:
        """A blob's bytes, from one long-lived `git cat-file --batch` process.

        With `limit`, the size is asked first of a `--batch-check` process, and a
        larger blob is never read, by us or by git (`cat-file --batch` inflates a
        whole object into its own memory), and BlobTooLarge raised: its size is the
        author's choice.

        Blobs of at most KEPT_BLOB_BYTES are kept by id (the last KEPT_BLOBS read), so
        files that folders share (a logo, a package) are read from git once a pass,
        not once an offer. An id names its bytes: nothing a repository holds makes a
        kept blob answer for other bytes.
        """
        kept = self._blobs.get(oid)
        if kept is not None and (limit is None or len(kept) <= limit):
            return kept
        data = self.objects.read(oid, limit)
        if len(data) <= KEPT_BLOB_BYTES:
            self._blobs.put(oid, data)
        return data

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
        """A new commit: `base`'s tree with `updates` applied (None deletes), parent `base`,
        by `identity`, signed only with `status_signing_key`; only files inside offers/<id>/
        (ValueError otherwise).

        Returns None when the result's tree equals base's (nothing to commit).
        No ref is moved. See `write.write_commit`.
        """
        _check_offer_paths(updates)
        return write.write_commit(
            self.runner, self.objects, base, updates, message,
            identity=identity, when=when, sign=False, object_format=self.object_format,
            ssh_key=self.status_signing_key,
        )  # fmt: skip

    def store_blobs(self, blobs: Iterable[bytes]) -> None:
        """Write blobs into the object database (a few MiB per `git fast-import`)."""
        write.store_blobs(self.runner, blobs)

    def commit_blobs(
        self,
        base: str,
        changes: Mapping[str, str | None],
        message: str,
        identity: Identity,
        *,
        when: float | None = None,
    ) -> str | None:
        """`write_commit` for blobs already stored (`store_blobs`): {path: blob id or None}."""
        _check_offer_paths(changes)
        return write.commit_blobs(
            self.runner, self.objects, base, changes, message,
            identity=identity, when=when, sign=False, object_format=self.object_format,
            ssh_key=self.status_signing_key,
        )  # fmt: skip

    # -- the checked-out branch ----------------------------------------------------------

    def sync_checked_out(self, branch: str, old: str, new: str, paths: Iterable[str]) -> list[str]:
        """After `branch` moved from `old` to `new`, bring the controller's own `paths` along
        in the working tree and index where the user left them alone (`checkout.py`).
        Returns the paths updated; does nothing unless `branch` is checked out here."""
        return self.apply_checkout_sync(self.plan_checkout_sync(branch, old, new, paths), new)

    def plan_checkout_sync(
        self, branch: str, old: str, new: str, paths: Iterable[str]
    ) -> checkout.SyncPlan | None:
        """`sync_checked_out`'s checks and reads, before `branch` moves from `old` to `new`;
        None unless `branch` is checked out here. Nothing is written."""
        if self.worktree is None or self.head_branch() != branch:
            return None
        return checkout.plan_sync(
            self.runner, self.worktree, old, new, paths, read_blob=self.objects.read
        )

    def apply_checkout_sync(self, plan: checkout.SyncPlan | None, new: str) -> list[str]:
        """Write what `plan_checkout_sync` planned, once the branch is at `new`."""
        if plan is None:
            return []
        synced = checkout.apply_sync(self.runner, plan)
        if synced is None:  # the index stayed locked: `finish_checkout_sync` tries again
            self.synced_tip = None
            return []
        self.synced_tip = new
        return synced

    # -- remotes ------------------------------------------------------------------------

    def tracking_ref(self, remote_name: str, branch: str) -> str:
        return remote.tracking_ref(remote_name, branch)

    def fetch(self, remote_name: str, branch: str) -> str:
        """Fetch `branch` from `remote_name` and return its tip; TransientError if unreachable."""
        remote.fetch(self.runner, remote_name, branch)
        tip = self.resolve(remote.tracking_ref(remote_name, branch))
        if tip is None:
            raise FatalError(f"fetched {remote_name}/{branch} but cannot read its tip")
        return tip

    def push(self, remote_name: str, commit: str, branch: str) -> None:
        """Push `commit` to `branch` as a fast-forward, never forced (`remote.push`)."""
        remote.push(self.runner, remote_name, commit, branch)

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

    @staticmethod
    def judged_ref(branch: str, remote: str | None = None, part: str = "") -> str:
        """Where the last commit whose sign-offs a pass judged is recorded, beside the
        reconciled one (docs/DESIGN.md §5, "A replaced history"); also by passes over
        some offers, which record no reconciled commit."""
        reconciled = GitRepo.reconciled_ref(branch, remote, part)
        if part:
            return reconciled.replace(f"/parts/{part}/", f"/parts/{part}/judged/", 1)
        return reconciled.replace("refs/offerctl/reconciled/", "refs/offerctl/judged/", 1)

    def branch_records(self, branch: str, remote: str | None = None) -> list[str]:
        """The commits the reconciled and judged refs of `branch` name, for every part
        (the unsharded one first, then each shard's by name; a judged ref before its
        part's reconciled one)."""
        tail = GitRepo.reconciled_ref(branch, remote).removeprefix("refs/offerctl/reconciled/")
        found = self.runner.run(
            ["for-each-ref", "--format=%(objectname) %(refname)", "refs/offerctl/"]
        )
        own, parts = [], []
        for line in found.text.splitlines():
            oid, _, name = line.partition(" ")
            rest = name.removeprefix("refs/offerctl/")
            if rest in (f"reconciled/{tail}", f"judged/{tail}"):
                own.append((name, oid))
                continue
            part, _, under = rest.removeprefix("parts/").partition("/")
            if rest.startswith("parts/") and part and under in (tail, f"judged/{tail}"):
                parts.append((name, oid))

        def judged_first(item: tuple[str, str]) -> tuple[bool, str]:
            return "/judged/" not in item[0], item[0]

        return [oid for _, oid in sorted(own, key=judged_first) + sorted(parts, key=judged_first)]

    def record_reconciled(self, ref: str, commit: str, *, holds: str | None = None) -> None:
        """Point `ref` at `commit`; nothing to do when the caller read it holding `commit`
        already (`holds`, under the pass lock that guards every write of it)."""
        if holds == commit:
            return
        try:
            write.set_ref(self.runner, ref, commit, "offerctl: reconciled")
        except GitFailed as exc:
            raise FatalError(f"could not record the reconciled commit: {exc}") from None

    def uncommitted(self, folder: str) -> list[tuple[str, str]]:
        """Files under `folder` whose working-tree or index copy differs from HEAD.

        Pairs of (path, "untracked" | "deleted" | "modified"), sorted; empty in a
        bare repository. `folder` is a fixed name of ours (`offers`), never input.
        """
        if self.worktree is None:
            return []
        out = self.runner.run(
            ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames",
             "--", folder]
        ).text  # fmt: skip
        found: list[tuple[str, str]] = []
        for item in out.split("\0"):
            if len(item) < 4:
                continue
            code, path = item[:2], item[3:]
            kind = "untracked" if code == "??" else "deleted" if "D" in code else "modified"
            found.append((path, kind))
        return sorted(found)

    @property
    def private_dir(self) -> Path:
        """.git/offerctl: the controller's own files (state, pass lock)."""
        path = self.common_dir / "offerctl"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextlib.contextmanager
    def pass_lock(self, name: str) -> Iterator[None]:
        """Hold an exclusive lock for one watched branch (PassLockBusy if another has it)."""
        with locks.pass_lock(self.private_dir, name):
            yield

    def clear_stale_locks(self, max_age: float = 600.0, now: float | None = None) -> list[Path]:
        """Remove git lock files a killed git left behind (`locks.clear_stale_locks`)."""
        return locks.clear_stale_locks(
            {self.common_dir, self.git_dir},
            filter(None, [self.worktree]),
            own_pids=self.objects.pids,
            max_age=max_age,
            now=now,
        )


# --- helpers ----------------------------------------------------------------------


def _check_offer_paths(paths: Iterable[str]) -> None:
    bad = sorted(p for p in paths if not _safe_tree_path(p))
    if bad:
        raise ValueError(f"refusing to write outside offers/: {bad}")


def _safe_tree_path(path: str) -> bool:
    """Only files inside offers/<id>/ are the controller's to write."""
    parts = path.split("/")
    return (
        len(parts) >= 3
        and parts[0] == OFFERS_DIR
        and all(p and p not in {".", "..", ".git"} for p in parts)
        and not any(ch in path for ch in "\x00\n\r\\")
    )
