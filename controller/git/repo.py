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
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from controller.core.errors import FatalError
from controller.core.kept import Kept
from controller.files.fsio import atomic_write
from controller.git import checkout, discover, locks, remote, write
from controller.git.later import Later
from controller.git.locks import BLOCKING_LOCKS, PassLockBusy
from controller.git.names import (
    blob_oid,
    check_branch_name,
    check_oid,
    check_ref_name,
    check_remote_name,
    redact,
    ref_name_problem,
)
from controller.git.read import BlobTooLarge, ObjectReader, TreeChange, ls_tree
from controller.git.remote import PushRejected
from controller.git.runner import GitFailed, GitRunner, describe_failure
from controller.git.tree import DEFAULT_MAX_BLOB_BYTES, TreeEntry, TreeIndex, TreeSnapshot
from controller.git.write import Identity, RefMoved
from controller.repo import layout

log = logging.getLogger(__name__)

# The paths the reconciler reads from a commit: offers and the repository policy.
_HEAD_PREFIX = "ref: refs/heads/"  # a HEAD file that names a branch
MAX_COMMIT_BYTES = 1024 * 1024  # a commit `commit_head` reads; a status commit is < 1 KiB
POLICY_PATHS = layout.POLICY_PATHS
POLICY_SCAN_ENTRIES = 4096  # a kept listing this small is scanned for the policy files
# In the git directory of a checkout (its index's): the status commit whose checkout sync
# left the index at the old status files (`GitRepo.checkout_unsynced`).
UNSYNCED_FILE = "offerctl-unsynced"
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
        found = discover.plain_checkout(path) or _ask_layout(self.runner, path)
        self.git_dir = found.git_dir
        self.common_dir = found.common_dir
        self.bare = found.bare
        self.object_format = found.object_format
        self.worktree: Path | None = found.toplevel
        self.objects = ObjectReader(self.runner, found.object_format)
        # The last commit this object brought the checkout to, every path done: a
        # status commit of our own needs no second look (`land.finish_checkout_sync`).
        self.synced_tip: str | None = None
        self._listings: Kept[tuple[str, tuple[str, ...]], TreeIndex]
        self._listings = Kept(KEPT_LISTINGS)
        self._blobs: Kept[str, bytes] = Kept(KEPT_BLOBS)  # small blobs by id: `read_blob`
        self._prefetched: tuple[tuple[str, str], Later[list[str]]] | None = None
        # A checkout sync's `git apply` still running (`start_checkout_sync`).
        self._pending_sync: tuple[checkout.SyncPlan, str, Later[bool]] | None = None

    def close(self) -> None:
        try:
            self.wait_checkout_sync()
        except Exception as exc:
            log.warning("could not finish bringing the checkout along: %s", exc)
        finally:
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

    def resolve_refs(self, refs: Sequence[str]) -> dict[str, str | None]:
        """`resolve` of several full ref names (`refs/...`) with one `for-each-ref`: the
        commit each names, None for those that do not exist.

        A pass reads its branch and its own refs this way, one process instead of one
        each. A name for-each-ref would match as a pattern beyond itself (`refs/heads/a`
        also matches `refs/heads/a/b`) is kept only when it is the ref itself; ref names
        hold no glob characters (git refuses `*`, `?` and `[`). A ref that names no
        commit directly or through one tag is asked of `resolve`, which peels as
        `rev-parse` does."""
        wanted = list(dict.fromkeys(refs))
        for ref in wanted:
            if not ref.startswith("refs/") or any(c in ref for c in "*?[\\"):
                raise ValueError(f"not a full ref name: {ref!r}")
        found: dict[str, str | None] = dict.fromkeys(wanted)
        if not wanted:
            return found
        out = self.runner.run(
            ["for-each-ref",
             "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname)",
             "--", *wanted]
        ).text  # fmt: skip
        for line in out.splitlines():
            fields = line.split(" ", 4)
            if len(fields) != 5 or fields[4] not in found:
                continue
            oid, kind, peeled, peeled_kind, name = fields
            if kind == "commit":
                found[name] = check_oid(oid)
            elif kind == "tag" and peeled_kind == "commit":
                found[name] = check_oid(peeled)
            else:
                found[name] = self.resolve(name)
        return found

    def head_branch(self) -> str | None:
        """The checked-out branch's name, or None for a detached HEAD (or a HEAD that
        names something other than a branch).

        Read from the HEAD file when it is the plain `ref: refs/heads/<name>` git's files
        backend writes (by lock and rename, so never half-written): a pass asks twice,
        and a process each cost more than the rest of a one-offer pass's bookkeeping.
        Anything else (a reftable repository's placeholder HEAD, a detached HEAD, an odd
        file) is asked of `git symbolic-ref`. The full name is kept, not git's `--short`
        form, which turns `main` into `heads/main` when a tag `main` exists too."""
        try:
            with (self.git_dir / "HEAD").open("rb") as head:
                text = head.read(4096).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        if text.startswith(_HEAD_PREFIX) and text.endswith("\n") and text.count("\n") == 1:
            name = text[len(_HEAD_PREFIX) : -1]
            if name not in (".invalid", "HEAD") and not ref_name_problem(name):
                return name
        found = self.runner.run(["symbolic-ref", "--quiet", "HEAD"], check=False)
        full = found.text.strip() if found.status == 0 else ""
        name = full.removeprefix("refs/heads/")
        return name if full.startswith("refs/heads/") and name else None

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

    def prefetch_changed_paths(self, old: str, new: str) -> None:
        """Start `changed_paths(old, new)` on a thread of its own: the next call with these
        commits collects it (a pass asks it while it reads the branch's history). One is
        kept; a prefetch nobody collects costs a `diff-tree` and is dropped by the next."""
        check_oid(old)
        check_oid(new)
        self._prefetched = ((old, new), Later(lambda: self._changed_paths(old, new)))

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between two commits (added, modified, deleted; renames as both)."""
        if self._prefetched is not None and self._prefetched[0] == (old, new):
            pending = self._prefetched[1]
            self._prefetched = None
            return pending.result()  # two commits' trees never change: always the answer
        return self._changed_paths(old, new)

    def _changed_paths(self, old: str, new: str) -> list[str]:
        out = self.runner.run(
            ["diff-tree", "-r", "-z", "--name-only", "--no-renames", "--no-ext-diff",
             check_oid(old), check_oid(new), "--"]
        ).stdout  # fmt: skip
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\x00") if p]

    def commit_head(self, commit: str) -> tuple[tuple[str, ...], str] | None:
        """A commit's parents and the first line of its message, read through the
        long-lived batch reader (no process of its own); None when it is not a commit
        or larger than MAX_COMMIT_BYTES (a message is the author's choice)."""
        try:
            data = self.objects.read_within(check_oid(commit), MAX_COMMIT_BYTES, kind="commit")
        except FatalError:
            return None
        if data is None:
            return None
        header, _, message = data.partition(b"\n\n")
        parents = tuple(
            check_oid(line[7:].decode("ascii"))
            for line in header.split(b"\n")
            if line.startswith(b"parent ")
        )
        return parents, message.split(b"\n", 1)[0].decode("utf-8", "replace")

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
        index = self._policy_listing(commit) if wanted == [] else None
        if index is None:
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
        shared = OFFERS_DIR in paths  # every folder: shared blobs' sizes asked once
        return self._listings.get_or_make(
            (commit, paths), lambda: TreeIndex(ls_tree(self.runner, commit, paths, shared=shared))
        )

    def _policy_listing(self, commit: str) -> TreeIndex | None:
        """The policy files' entries at `commit` taken from a small listing kept for it
        (every listing names POLICY_PATHS too), or None: ask git. A pass reads the
        policy again to name its committer; that took a process of its own."""
        found = self._listings.get((commit, POLICY_PATHS))
        if found is not None:
            return found
        outside = f"{OFFERS_DIR}/"
        for (at, paths), index in self._listings.items():
            if at != commit or paths[-len(POLICY_PATHS) :] != POLICY_PATHS:
                continue
            if len(index.entries) > POLICY_SCAN_ENTRIES:
                continue  # a whole listing: scanning it costs more than a process
            found = TreeIndex({p: e for p, e in index.entries.items() if not p.startswith(outside)})
            self._listings.put((commit, POLICY_PATHS), found)
            return found
        return None

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
        write.store_blobs(self.runner, blobs, self.object_format)

    def store_blobs_soon(self, blobs: Iterable[bytes]) -> Later[None]:
        """`store_blobs`, a few blobs' process left running: hand it to `commit_blobs`
        (`write.store_blobs_soon`)."""
        return write.store_blobs_soon(self.runner, blobs, self.object_format)

    def commit_blobs(
        self,
        base: str,
        changes: Mapping[str, str | None],
        message: str,
        identity: Identity,
        *,
        when: float | None = None,
        storing: Later[None] | None = None,
    ) -> str | None:
        """`write_commit` for blobs already stored (`store_blobs`), or being stored
        (`storing`: waited for before it returns): {path: blob id or None}."""
        _check_offer_paths(changes)
        return write.commit_blobs(
            self.runner, self.objects, base, changes, message,
            identity=identity, when=when, sign=False, object_format=self.object_format,
            ssh_key=self.status_signing_key, storing=storing,
        )  # fmt: skip

    # -- the checked-out branch ----------------------------------------------------------

    def sync_checked_out(self, branch: str, old: str, new: str, paths: Iterable[str]) -> list[str]:
        """After `branch` moved from `old` to `new`, bring the controller's own `paths` along
        in the working tree and index where the user left them alone (`checkout.py`).
        Returns the paths updated; does nothing unless `branch` is checked out here."""
        return self.apply_checkout_sync(self.plan_checkout_sync(branch, old, new, paths), new)

    def plan_checkout_sync(
        self,
        branch: str,
        old: str,
        new: str | None,
        paths: Iterable[str],
        *,
        known: Mapping[str, TreeChange] | None = None,
    ) -> checkout.SyncPlan | None:
        """`sync_checked_out`'s checks and reads, before `branch` moves from `old` to `new`;
        None unless `branch` is checked out here. Nothing is written. `known`: how the
        paths differ, when the caller made `new` from `old` (`checkout.plan_sync`); `new`
        is then not looked at, and may be None (not written yet)."""
        self.wait_checkout_sync()
        if self.worktree is None or self.head_branch() != branch:
            return None
        return checkout.plan_sync(
            self.runner,
            self.worktree,
            old,
            new,
            paths,
            read_blobs=self.objects.read_many,
            known=known,
        )

    def apply_checkout_sync(self, plan: checkout.SyncPlan | None, new: str) -> list[str]:
        """Write what `plan_checkout_sync` planned, once the branch is at `new`."""
        self.wait_checkout_sync()
        if plan is None:
            return []
        return self._synced(new, checkout.apply_sync(self.runner, plan))

    def start_checkout_sync(self, plan: checkout.SyncPlan | None, new: str) -> None:
        """`apply_checkout_sync`, its one `git apply` (a plan's fast patch) left running
        while the caller records the pass; `wait_checkout_sync` collects it (and every
        other use of the checkout waits for it first).

        The unsynced note for `new` is written before git starts and removed once the
        index holds the new files: a pass that records `new` as reconciled meanwhile and
        is then killed leaves the next pass the note, and that pass syncs again."""
        self.wait_checkout_sync()
        if plan is None:
            return
        if plan.patch and self._note_unsynced(new):
            self._pending_sync = (plan, new, Later(lambda: checkout.apply_patch(self.runner, plan)))
            return
        self._synced(new, checkout.apply_sync(self.runner, plan))

    def wait_checkout_sync(self) -> list[str] | None:
        """Finish the sync `start_checkout_sync` left running: the paths updated (as
        `apply_checkout_sync` answers), or None when none was running."""
        pending, self._pending_sync = self._pending_sync, None
        if pending is None:
            return None
        plan, new, applying = pending
        try:
            patched = applying.result()
        except FatalError as exc:  # git could not run: the path-by-path way says why
            log.warning("git apply of the status files failed: %s", exc)
            patched = False
        return self._synced(new, checkout.apply_sync(self.runner, plan, patched=patched))

    def _synced(self, new: str, synced: list[str] | None) -> list[str]:
        """Note how a checkout sync to `new` ended: `synced` paths, or None (the index
        stayed locked, `finish_checkout_sync` tries again)."""
        if synced is None:
            self.synced_tip = None
            # Remembered on disk: the pass goes on to record `new` as reconciled, and a
            # later pass (another process) must still know this tip needs its index synced.
            self._note_unsynced(new)
            return []
        self.synced_tip = new
        if self._unsynced_note(new):
            (self.git_dir / UNSYNCED_FILE).unlink(missing_ok=True)
        return synced

    def _note_unsynced(self, tip: str) -> bool:
        marker = self.git_dir / UNSYNCED_FILE
        try:
            atomic_write(marker, f"{tip}\n".encode("ascii"), durable=False)
        except OSError as exc:
            log.warning("could not note the unsynced index in %s: %s", marker, exc)
            return False
        return True

    def checkout_unsynced(self, tip: str) -> bool:
        """Whether a checkout sync to `tip` wrote the files but left the index at the old
        ones (it stayed locked): read from a small file, no git process."""
        self.wait_checkout_sync()
        return self._unsynced_note(tip)

    def _unsynced_note(self, tip: str) -> bool:
        try:
            text = (self.git_dir / UNSYNCED_FILE).read_bytes()
        except OSError:
            return False
        return text.strip() == tip.encode("ascii")

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
        self.record_reconciled_refs({ref: holds}, commit)

    def record_reconciled_refs(self, refs: Mapping[str, str | None], commit: str) -> None:
        """`record_reconciled` of several refs ({ref: what the caller read it holding}) in
        one transaction: they move together or not at all."""
        moving = [ref for ref, holds in refs.items() if holds != commit]
        if not moving:
            return
        try:
            write.set_refs(self.runner, moving, commit, "offerctl: reconciled")
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


def _ask_layout(runner: GitRunner, path: str | os.PathLike[str]) -> discover.Layout:
    """Where the repository at `path` keeps its parts, as git says (`discover` reads
    them itself from a plain checkout's files)."""
    # One process answers all five in a working tree; in a bare repository git prints
    # the first four and then refuses `--show-toplevel` (exit 128).
    found = runner.run(
        ["rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir",
         "--is-bare-repository", "--show-object-format", "--show-toplevel"],
        check=False,
    )  # fmt: skip
    lines = found.text.splitlines()
    if len(lines) < 4 or (found.status != 0 and lines[2] != "true"):
        # Not a repository, or the git directory of a working tree (no top level).
        why = describe_failure("rev-parse", found.status, found.stderr)
        raise FatalError(f"{path}: not a git repository or working tree ({why})")
    git_dir, common_dir, bare, object_format = lines[:4]
    top = None if bare == "true" else Path(lines[4])
    return discover.Layout(Path(git_dir), Path(common_dir), bare == "true", object_format, top)


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
