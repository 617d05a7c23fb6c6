"""Checkout sync: after the controller moved the checked-out branch, bring its files along.

Local mode commits onto the branch the user has checked out; without this,
the index and working tree would still hold the old commit's status files
and `git status` would show them as reverted. For each path the commit
changed, only when both the index entry and the working-tree file still equal
the old version (the user has not touched it) is it replaced by the new one;
otherwise the user's edit stays and shows as a change against the new HEAD.

"Equal" is judged the way git judges it: the working file is hashed through
git's clean filters (`core.autocrlf`, `eol`/`text` attributes, filter
drivers), so a CRLF checkout of an untouched file still counts as untouched;
and a new version is written as git's checkout would write it (smudged, with
the checkout's line endings), so the next `git status` sees it unchanged.

A few paths (a one-offer pass's status file) are first tried the way git
itself moves a file between two commits: one `git apply --index` of a patch
naming only the two blob ids ("Binary files differ" with the full index line:
git takes the new blob from the object database, `_fast_patch`). Git then does
every check above itself, for all the paths at once: it refuses the patch
unless each index entry is the old blob and each working file matches its
index entry, and it writes the new version through the checkout's filters and
records it in the index, reading and writing the index once. One process
instead of four (`ls-files`, `hash-object`, `cat-file --filters`,
`update-index`), and the person's index read once less. Whatever git refuses
(an edit, a locked index, a conversion that fails) is done the way below.
A staged mode change of the file is the one thing judged differently: git
applies the new content and keeps the staged mode, so the person's next commit
changes the mode and does not revert the status.

Paths never go on a command line one per file without bound. Up to
`FEW_PATHS` paths (the usual pass), two `ls-tree` and one `ls-files` take
them as pathspecs; more are answered by one `diff-tree` (what moved) and one
`diff-index --cached` (what the user staged). `hash-object --stdin-paths`
hashes the working files and `update-index -z --stdin` refreshes the index.
New versions are read from the caller's `cat-file --batch`; only the paths a
conversion applies to (`core.autocrlf=true`, or a `text`, `eol`, `crlf`,
`filter`, `ident` or `working-tree-encoding` attribute, asked of one
`check-attr --stdin`) are read through `cat-file --filters`, one process
each: git's `--batch --filters` reports the unfiltered size, so its output
cannot be split. Without such settings a pass of any size is a fixed number
of git processes. A single file is read through `cat-file --filters` at once,
whatever applies: one process where asking would take two.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.files.fsio import atomic_write
from controller.git.read import TreeChange, decode_path, diff_trees, encode_path, ls_tree
from controller.git.runner import GitFailed, GitRunner

# Blobs' bytes by id, in the order asked (`ObjectReader.read_many`).
ReadBlobs = Callable[[Sequence[str]], Iterator[bytes]]

log = logging.getLogger(__name__)


def sync_checked_out(
    runner: GitRunner,
    worktree: Path,
    old: str,
    new: str,
    paths: Iterable[str],
    *,
    read_blobs: ReadBlobs,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str] | None:
    """Bring `paths` in `worktree` from `old`'s to `new`'s version where the user left
    them alone; the paths updated, sorted, or None when the index could not be
    refreshed (it stayed locked): the files are written and a later call with the
    same commits finishes the job. The caller checks that the branch that moved is
    the one checked out here. `plan_sync` then `apply_sync`."""
    plan = plan_sync(runner, worktree, old, new, paths, read_blobs=read_blobs)
    return apply_sync(runner, plan, sleep=sleep)


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What a sync will do, decided before the branch moves: files to delete, bytes to
    write (as git's checkout would), and files already right whose index entry is not.

    A file no conversion applies to is written as its blob's bytes: `copies` names the
    blob, read by `read_blobs` as the files are written (a batch of blobs at a time from
    the running `cat-file --batch`), so that a plan for 50,000 status files does not
    hold all their bytes (about 70 MB) beside the pass's statuses."""

    worktree: Path
    deletes: tuple[str, ...] = ()
    writes: tuple[tuple[str, bytes], ...] = ()
    refresh: tuple[str, ...] = ()
    copies: tuple[tuple[str, str], ...] = ()  # (path, blob id) written as the blob's bytes
    read_blobs: ReadBlobs | None = None
    # The optimistic way (`_fast_patch`): the patch `git apply --index` is given, the
    # paths it brings along, and the plan made path by path should git refuse it.
    patch: bytes = b""
    patched: tuple[str, ...] = ()
    otherwise: Callable[[], SyncPlan] | None = None


def plan_sync(
    runner: GitRunner,
    worktree: Path,
    old: str,
    new: str | None,
    paths: Iterable[str],
    *,
    read_blobs: ReadBlobs,
    known: Mapping[str, TreeChange] | None = None,
) -> SyncPlan:
    """Every check and read of a sync, and nothing written: for a commit that exists and
    a branch that may not have moved yet, so that once it moves only `apply_sync`'s
    writes and one `update-index` stand between the branch and the index (a person's
    `git commit` in that window would take the old status files into their commit).

    `known` is how the wanted paths differ between `old` and `new` when the caller made
    `new` from `old` itself (the status commit): git is then not asked again, and `new`
    may be None (the commit is being written meanwhile)."""
    wanted = set(paths)
    if not wanted:
        return SyncPlan(worktree)
    if known is not None:
        moved = {path: change for path, change in known.items() if path in wanted}
    elif new is None:
        raise ValueError("plan_sync needs the new commit or how the paths change")
    else:
        moved = _moved(runner, old, new, wanted)
    if not moved:
        return SyncPlan(worktree)
    patch = _fast_patch(worktree, moved)
    if patch and not _filter_required(runner):
        return SyncPlan(
            worktree,
            patch=patch,
            patched=tuple(sorted(moved)),
            otherwise=lambda: _plan_moved(runner, worktree, old, moved, read_blobs),
        )
    return _plan_moved(runner, worktree, old, moved, read_blobs)


def _plan_moved(
    runner: GitRunner,
    worktree: Path,
    old: str,
    moved: Mapping[str, TreeChange],
    read_blobs: ReadBlobs,
) -> SyncPlan:
    """`plan_sync` path by path: what is staged, what is on disk, what to write."""
    staged_changes = _staged_differs(runner, old, moved)
    local = GitRunner(worktree, timeout=runner.timeout)
    on_disk = _worktree_oids(local, worktree, sorted(moved))
    wanted_writes: list[tuple[str, str]] = []
    deletes: list[str] = []
    refresh: list[str] = []
    for path, change in sorted(moved.items()):
        if path in staged_changes:
            continue  # the user staged their own version of this path: leave it alone
        if change.new_oid is not None and on_disk.get(path) == change.new_oid:
            refresh.append(path)  # written by a sync whose index refresh failed: refresh now
            continue
        if on_disk.get(path) != change.old_oid:
            continue  # the user has their own version of this path: leave it alone
        if change.new_oid is None:
            deletes.append(path)
        else:
            wanted_writes.append((path, change.new_oid))
    if len(wanted_writes) == 1:
        # One file (a one-offer pass): git's filters asked directly, one process, instead
        # of asking first whether any applies (`config`, `check-attr`: two).
        converted = {wanted_writes[0][0]}
    else:
        converted = _converted(local, [p for p, _ in wanted_writes])
    copies = tuple((path, oid) for path, oid in wanted_writes if path not in converted)
    writes = tuple(
        (path, data)
        for path, data in _checkout_bytes(
            local, [(p, oid) for p, oid in wanted_writes if p in converted]
        )
        if data is not None  # a smudge filter failed: the file shows as changed, nothing lost
    )
    return SyncPlan(worktree, tuple(deletes), writes, tuple(refresh), copies, read_blobs)


def apply_sync(
    runner: GitRunner,
    plan: SyncPlan,
    *,
    sleep: Callable[[float], None] = time.sleep,
    patched: bool | None = None,
) -> list[str] | None:
    """Carry out `plan_sync`'s plan: the paths updated, sorted; None when the index stayed
    locked (the files are written; `finish_checkout_sync` refreshes the index later).
    `patched`: what `apply_patch` answered for the plan, when the caller ran it."""
    if plan.patch:
        if patched is None:
            patched = apply_patch(runner, plan)
        if patched:
            return list(plan.patched)
        if plan.otherwise is None:  # pragma: no cover - plan_sync sets both
            raise ValueError("a sync plan with a patch needs its path-by-path plan")
        # Git refused some path (the person's edit, a locked index): decide each one.
        plan = plan.otherwise()
    for path in plan.deletes:
        (plan.worktree / path).unlink(missing_ok=True)
    for path, data in _planned_bytes(plan):
        # Not fsynced, as git's own checkout does not: the commit holds the truth, and a
        # file a power cut lost shows as a change that `git checkout -- <path>` undoes.
        atomic_write(plan.worktree / path, data, durable=False, private=False)
    written = (p for p, _ in (*plan.writes, *plan.copies))
    synced = sorted([*plan.deletes, *written, *plan.refresh])
    local = GitRunner(plan.worktree, timeout=runner.timeout)
    if synced and not _refresh_index(local, synced, sleep):
        return None
    return synced


# Paths the fast patch names as they are: `git apply` reads the names from its
# `diff --git a/<path> b/<path>` line, which quoting or a space would make ambiguous.
_PATCH_PATH = re.compile(r"[A-Za-z0-9._+@-]+(?:/[A-Za-z0-9._+@-]+)*")


def _fast_patch(worktree: Path, moved: Mapping[str, TreeChange]) -> bytes:
    """The patch `git apply --index` brings `moved` along with, or b"" where this way
    does not fit: more than FEW_PATHS paths, a deletion, anything but a regular file in
    either commit, a name the patch would have to quote, or a working tree that already
    tells the answer (no file where the old commit has one; a file where it has none:
    `git apply` would check the first out from the index, and refuses the second).

    Each path's patch names both blob ids in full and carries no data: git checks
    the old blob against the index entry and takes the new one, stored by the status
    commit, from the object database (the patch of `git diff --full-index` for a
    binary file). The index line names no mode: the person's staged mode is kept."""
    if len(moved) > FEW_PATHS:
        return b""
    patch = bytearray()
    for path, change in sorted(moved.items()):
        if change.new_oid is None or change.new_mode != _FILE_MODE:
            return b""
        if change.old_oid is not None and change.old_mode != _FILE_MODE:
            return b""
        if not _PATCH_PATH.fullmatch(path) or any(
            p in (".", "..") or p.lower() == ".git" for p in path.split("/")
        ):
            return b""
        try:
            found = os.lstat(worktree / path).st_mode
        except FileNotFoundError:
            found = None
        except OSError:
            return b""
        if change.old_oid is None:
            if found is not None:
                return b""
            zero = "0" * len(change.new_oid)
            patch += (
                f"diff --git a/{path} b/{path}\nnew file mode {_FILE_MODE}\n"
                f"index {zero}..{change.new_oid}\n"
                f"Binary files /dev/null and b/{path} differ\n"
            ).encode("ascii")
        else:
            if found is None or not stat.S_ISREG(found):
                return b""
            patch += (
                f"diff --git a/{path} b/{path}\nindex {change.old_oid}..{change.new_oid}\n"
                f"Binary files a/{path} and b/{path} differ\n"
            ).encode("ascii")
    return bytes(patch)


_FILE_MODE = "100644"


def _filter_required(runner: GitRunner) -> bool:
    """Whether a filter driver is configured as required (`filter.<driver>.required`,
    as `git lfs install` sets for LFS): the fast patch is then not tried.

    `git apply` writes a file by removing the old one and then creating the new one
    through the checkout's conversions, and a required smudge filter that fails makes
    it die in between, leaving the file empty or gone. A filter that is not required
    and fails leaves the bytes as they are, as `cat-file --filters` does; no other
    conversion can fail. Asked of git, which reads every config file and include."""
    found = runner.run(
        ["config", "-z", "--type=bool", "--get-regexp", r"^filter\..*\.required$"],
        check=False,
    )
    if found.status == 1:
        return False  # none configured
    if found.status != 0:
        return True  # a value git cannot read as a boolean: not sure, so the slow way
    return any(item.endswith(b"\ntrue") for item in found.stdout.split(b"\x00"))


def apply_patch(runner: GitRunner, plan: SyncPlan) -> bool:
    """Whether `git apply --index` took the plan's fast patch (`_fast_patch`): one git
    process and nothing else, so a caller may run it on a thread of its own and hand
    the answer to `apply_sync`. Git applies every path or none; a refusal (an edit, a
    locked index) is left to the path-by-path way, which waits for the lock."""
    if not plan.patch:
        return False
    local = GitRunner(plan.worktree, timeout=runner.timeout)
    try:
        local.run(["apply", "--index", "-p1", "-"], stdin=plan.patch)
    except GitFailed as exc:
        log.debug("git apply refused the status files' patch; path by path: %s", exc)
        return False
    return True


# A person's `git add` or `git commit` holds index.lock for a moment: wait this long for it,
# a little longer each try, before leaving the refresh to the next pass.
INDEX_LOCK_WAITS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.3)


def _refresh_index(local: GitRunner, paths: Sequence[str], sleep: Callable[[float], None]) -> bool:
    """Record the written files in the index; False when it stayed locked (or git failed).

    An index left at the old version would make the person's next commit revert the
    status files, so a lock held by their own git is waited out for about a second.
    """
    stdin = b"".join(encode_path(p) + b"\x00" for p in paths)
    for wait in (*INDEX_LOCK_WAITS, None):
        try:
            local.run(
                ["update-index", "--add", "--remove", "-z", "--stdin"],
                stdin=stdin,
                env={"GIT_OPTIONAL_LOCKS": "1"},
            )
        except GitFailed as exc:
            if wait is not None and "index.lock" in str(exc):
                sleep(wait)
                continue
            # The commit is made; the next pass's `finish_checkout_sync` tries again.
            log.warning("could not refresh the index for status files: %s", exc)
            return False
        return True
    return False  # pragma: no cover - the loop always returns


def _moved(runner: GitRunner, old: str, new: str, wanted: set[str]) -> dict[str, TreeChange]:
    """The wanted paths that differ between `old` and `new`: for a few, two `ls-tree` of
    just them; for more, one `diff-tree` of the whole change."""
    if len(wanted) > FEW_PATHS:
        return {c.path: c for c in diff_trees(runner, old, new) if c.path in wanted}
    paths = sorted(wanted)
    before = ls_tree(runner, old, paths, sizes=False)
    after = ls_tree(runner, new, paths, sizes=False)
    moved: dict[str, TreeChange] = {}
    for path in paths:
        a, b = before.get(path), after.get(path)
        if a != b:
            moved[path] = TreeChange(
                path,
                a.mode if a else None,
                a.oid if a else None,
                b.mode if b else None,
                b.oid if b else None,
            )
    return moved


# Up to this many paths go to `ls-files` as pathspecs (at most 64 x PATH_MAX bytes of
# argv); more are answered by one `diff-index --cached` against the old commit.
FEW_PATHS = 64


def _staged_differs(runner: GitRunner, old: str, moved: Mapping[str, TreeChange]) -> set[str]:
    """The moved paths whose index entry is not `old`'s version (staged edits, conflicts)."""
    if len(moved) > FEW_PATHS:
        out = runner.run(
            ["diff-index", "--cached", "-z", "--no-renames", "--name-only", old, "--"]
        ).stdout
        return {decode_path(p) for p in out.split(b"\x00") if p} & set(moved)
    out = runner.run(["ls-files", "-s", "-z", "--", *moved]).stdout
    staged: dict[str, list[tuple[str, str]]] = {}
    for record in out.split(b"\x00"):
        if record:
            meta, _, raw = record.partition(b"\t")
            mode, oid, _stage = meta.decode("ascii").split()
            staged.setdefault(decode_path(raw), []).append((mode, oid))
    return {
        path
        for path, change in moved.items()
        if staged.get(path, [])
        != ([] if change.old_oid is None else [(change.old_mode, change.old_oid)])
    }


def _worktree_oids(
    runner: GitRunner, worktree: Path, paths: Sequence[str]
) -> dict[str, str | None]:
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
            out = runner.run(
                ["hash-object", "--stdin-paths"],
                stdin=b"".join(encode_path(p) + b"\n" for p in files),
            ).text
        except GitFailed as exc:  # a filter that fails: leave these paths alone
            log.warning("could not hash status files in the working tree: %s", exc)
            return {**found, **dict.fromkeys(files, "other")}
        found.update(zip(files, out.split(), strict=True))
    return found


def _planned_bytes(plan: SyncPlan) -> Iterator[tuple[str, bytes]]:
    """Each file `plan` writes with its bytes, a copied blob read only when its turn comes."""
    yield from plan.writes
    read = plan.read_blobs
    if not plan.copies:
        return
    if read is None:  # pragma: no cover - plan_sync sets both
        raise ValueError("a sync plan that copies blobs needs a blob reader")
    paths = [path for path, _ in plan.copies]
    yield from zip(paths, read([oid for _, oid in plan.copies]), strict=True)


def _checkout_bytes(
    runner: GitRunner, wanted: Sequence[tuple[str, str]]
) -> list[tuple[str, bytes | None]]:
    """The bytes `git checkout` would write for each (path, blob id) a conversion applies
    to (smudge, eol); None, with a warning, where a configured filter fails."""
    results: list[tuple[str, bytes | None]] = []
    for path, oid in wanted:
        try:
            data = runner.run(["cat-file", "--filters", f"--path={path}", oid]).stdout
        except GitFailed as exc:
            log.warning("could not write %s through git's filters: %s", path, exc)
            results.append((path, None))
            continue
        results.append((path, data))
    return results


_CONVERSION_ATTRIBUTES = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")


def _converted(runner: GitRunner, paths: Sequence[str]) -> set[str]:
    """The paths whose checkout is not the blob's bytes as stored (all of them under
    `core.autocrlf=true`, else those with a conversion attribute set)."""
    if not paths:
        return set()
    autocrlf = runner.run(["config", "--get", "core.autocrlf"], check=False).text.strip()
    if autocrlf.lower() in {"true", "yes", "on", "1"}:
        return set(paths)
    # check-attr reads the whole index (10,000 offers: 20,000 entries and their cache
    # tree) only to find .gitattributes files that are staged but absent from the working
    # tree. An index that does not exist keeps it O(paths), and asks the same sources
    # `hash-object --stdin-paths` (the untouched check) and a person's editor see.
    # Its answer is three fields per path and attribute: split at once for 50,000 paths,
    # 900,000 small objects at the pass's peak; ATTR_BATCH paths per process are not.
    found: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="offerctl-attr-") as empty:
        for start in range(0, len(paths), ATTR_BATCH):
            out = runner.run(
                ["check-attr", "-z", "--stdin", *_CONVERSION_ATTRIBUTES],
                stdin=b"".join(encode_path(p) + b"\x00" for p in paths[start : start + ATTR_BATCH]),
                env={"GIT_INDEX_FILE": str(Path(empty) / "no-index")},
            ).stdout
            fields = out.split(b"\x00")
            for i in range(0, len(fields) - 2, 3):
                if fields[i + 2] != b"unspecified":
                    found.add(decode_path(fields[i]))
    return found


ATTR_BATCH = 2_000  # paths per `check-attr` (a few hundred KB of its answer)
