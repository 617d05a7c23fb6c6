"""Every signoff.yaml's history at one commit, from one walk of the first-parent history.

Judging a sign-off needs the commit that brought the file in: the newest
commit on the watched branch's first-parent history whose signoff.yaml differs
from its first parent's (`controller.git.history.introducing_commit`). Asked
per offer that was about five git processes each, a `rev-list` over history
among them. A pass asks it for every signed-off offer at the same commit, so
here one `git log --first-parent` over `offers/*/signoff.yaml` answers it for
all of them, and one `cat-file --batch-check` gives every file's size.

The same `cat-file` asks which folders hold an offer.yaml at the tip, and one
`cat-file --batch` preloads the signoff.yaml of those offers only, smallest
first, up to PRELOAD_BYTES: folders are a pull request's choice, so a
signoff.yaml in a folder that is no offer (or one past the budget) is read
from git only when a sign-off is judged from it. What an index holds then
follows the offers, not the bytes a pull request adds.

An index is immutable (a commit's history never changes), so it is kept per
(repository, commit) and built once per pass.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from controller.core.kept import Kept
from controller.git import history as githistory
from controller.git.history import GitHistoryError, RepoHandle
from controller.git.tree import TreeEntry
from controller.repo.layout import MANIFEST_FILE, OFFERS_DIR

SIGNOFF_GLOB = f"{OFFERS_DIR}/*/signoff.yaml"  # a constant: `*` never crosses a `/`
BLOB_BYTES = 64 * 1024  # signoff.yaml's own limit (`controller.signoff.document`)
# Bytes of signoff.yaml an index preloads: a 1,000-offer repository's sign-offs are some
# 100 KiB; past this, sign-offs are read one by one when judged (slower, never wrong).
PRELOAD_BYTES = 4 * 1024 * 1024
_KEPT = 4  # indexes kept (one per commit a pass reads; a daemon's shards share them)


@dataclass(frozen=True, slots=True)
class Change:
    """The newest first-parent change of one signoff.yaml, as of the indexed commit."""

    commit: str
    parents: tuple[str, ...]
    entry: TreeEntry | None  # the file after the change (None: the change deleted it)
    before_oid: str  # its blob id in the first parent ("": absent there)


@dataclass(frozen=True, slots=True)
class SignOffHistory:
    """Per signoff.yaml path, its newest first-parent change at `tip`."""

    tip: str
    changes: dict[str, Change]
    blobs: dict[str, bytes]  # blob id -> bytes, preloaded: offers' sign-offs, PRELOAD_BYTES
    parents_of: dict[str, tuple[str, ...]]  # every commit the walk listed
    # commit -> path -> blob id ("": absent), for merged-in parents; filled in as asked
    merged_sides: dict[str, dict[str, str]] = field(default_factory=dict)

    def entry(self, path: str) -> TreeEntry | None:
        """`path`'s entry at the tip (None: absent), as `githistory.tree_entry` gives it."""
        change = self.changes.get(path)
        return change.entry if change is not None else None

    def introducing_commit(self, path: str) -> str | None:
        """`githistory.introducing_commit(repo, tip, path)`, from the index."""
        change = self.changes.get(path)
        if change is None or change.entry is None:
            return None
        if change.before_oid == change.entry.oid:  # a mode change only: not a new content
            raise GitHistoryError(
                f"could not tell which commit introduced {path} at {self.tip[:12]}"
            )
        return change.commit

    def parents(self, commit: str) -> tuple[str, ...] | None:
        """A commit's parents when the walk met it (None: ask git)."""
        return self.parents_of.get(commit)


def build(repo: RepoHandle, tip: str) -> SignOffHistory:
    """One `git log` and one `cat-file --batch-check`; GitHistoryError when git fails."""
    githistory.check_oid(tip)
    out = githistory.run_git(
        repo,
        [
            "log",
            "--first-parent",
            "--diff-merges=first-parent",
            "--root",
            "--no-renames",
            "--raw",
            "-z",
            "--no-abbrev",
            "--format=%x1e%H %P",
            "--end-of-options",
            tip,
            "--",
            SIGNOFF_GLOB,
        ],
        env={"GIT_LITERAL_PATHSPECS": "0", "GIT_GLOB_PATHSPECS": "1"},
    ).stdout
    found: dict[str, tuple[str, tuple[str, ...], str, str, str]] = {}
    parents_of: dict[str, tuple[str, ...]] = {}
    for record in out.split(b"\x1e"):
        if not record:
            continue
        head, _, rest = record.partition(b"\0")
        ids = head.decode().split()
        commit, parents = githistory.check_oid(ids[0]), tuple(map(githistory.check_oid, ids[1:]))
        parents_of[commit] = parents
        fields = rest.lstrip(b"\n").split(b"\0")
        for meta, raw_path in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(b":"):
                continue
            _old_mode, new_mode, old_oid, new_oid, _status = meta[1:].decode().split()
            path = raw_path.decode("utf-8", "surrogateescape")
            if path not in found:  # newest first: the first change met is the one
                found[path] = (commit, parents, new_mode, new_oid, old_oid)
    regular = {"100644", "100755"}
    present = [v[3] for v in found.values() if v[2] in regular and set(v[3]) != {"0"}]
    sizes, offers = _sizes_and_offers(repo, tip, present, list(found))
    changes: dict[str, Change] = {}
    for path, (commit, parents, mode, oid, old) in found.items():
        entry = None if set(oid) == {"0"} else TreeEntry(path, mode, oid, sizes.get(oid, 0))
        changes[path] = Change(commit, parents, entry, "" if set(old) == {"0"} else old)
    wanted = {
        change.entry.oid
        for path, change in changes.items()
        if change.entry is not None and change.entry.mode in regular and path in offers
    }
    return SignOffHistory(tip, changes, _read_blobs(repo, _preload(wanted, sizes)), parents_of)


def _preload(oids: set[str], sizes: dict[str, int]) -> list[str]:
    """The blobs worth reading ahead: each at most BLOB_BYTES, smallest first, within
    PRELOAD_BYTES in all (so one large file cannot push many small ones out)."""
    chosen: list[str] = []
    left = PRELOAD_BYTES
    for size, oid in sorted((sizes[oid], oid) for oid in oids if oid in sizes):
        if size > BLOB_BYTES or size > left:
            break
        chosen.append(oid)
        left -= size
    return chosen


def _sizes_and_offers(
    repo: RepoHandle, tip: str, oids: list[str], paths: list[str]
) -> tuple[dict[str, int], set[str]]:
    """Each blob's size, and which signoff.yaml paths sit beside an offer.yaml at `tip`,
    from one `cat-file --batch-check` (its answers come one line per question, in order)."""
    unique = sorted(set(oids))
    # A path with a newline cannot be asked on one line: it is then not preloaded.
    folders = [p for p in paths if "\n" not in p]
    questions = [*unique, *(f"{tip}:{_manifest_of(p)}" for p in folders)]
    if not questions:
        return {}, set()
    out = githistory.run_git(
        repo,
        ["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
        stdin="".join(f"{q}\n" for q in questions).encode("utf-8", "surrogateescape"),
    ).stdout.decode("utf-8", "surrogateescape")
    lines = out.splitlines()
    if len(lines) != len(questions):
        raise GitHistoryError(f"could not read signoff.yaml sizes at {tip[:12]}")
    sizes: dict[str, int] = {}
    for oid, line in zip(unique, lines, strict=False):
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            sizes[oid] = int(parts[2])
    offers = {
        path
        for path, line in zip(folders, lines[len(unique) :], strict=True)
        if _is_blob(line.split())
    }
    return sizes, offers


def _is_blob(parts: list[str]) -> bool:
    """A `%(objectname) %(objecttype) %(objectsize)` answer for a blob ("<asked> missing",
    whatever was asked, ends in a word, not a size)."""
    return len(parts) == 3 and parts[1] == "blob" and parts[2].isdigit()


def _manifest_of(signoff_path: str) -> str:
    return f"{signoff_path.rsplit('/', 1)[0]}/{MANIFEST_FILE}"


def _read_blobs(repo: RepoHandle, oids: list[str]) -> dict[str, bytes]:
    """Every blob in `oids` (each at most BLOB_BYTES) through one `cat-file --batch`."""
    if not oids:
        return {}
    out = githistory.run_git(repo, ["cat-file", "--batch"], stdin=_lines(oids)).stdout
    blobs: dict[str, bytes] = {}
    at = 0
    for oid in oids:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if len(header) != 3 or header[1] != b"blob":
            raise GitHistoryError(f"blob {oid[:12]} could not be read")
        size = int(header[2])
        blobs[oid] = out[end + 1 : end + 1 + size]
        at = end + 1 + size + 1
    return blobs


def _lines(items: list[str]) -> bytes:
    return "".join(f"{item}\n" for item in items).encode()


_KEPT_INDEXES: Kept[tuple[str, str], SignOffHistory] = Kept(_KEPT)
_LOCK = threading.Lock()  # an index's `merged_sides`, filled as merges are asked about


def at(repo: RepoHandle, tip: str) -> SignOffHistory:
    """The index for `tip`, built on first use and kept for the rest of the pass."""
    return _KEPT_INDEXES.get_or_make((repo_key(repo), tip), lambda: build(repo, tip))


def repo_key(repo: RepoHandle) -> str:
    """One repository's key in the memos, however it was named (path, GitRepo)."""
    git_dir = getattr(repo, "git_dir", None)
    return os.path.realpath(git_dir if git_dir is not None else str(repo))


def is_signoff_path(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 3 and parts[0] == OFFERS_DIR and parts[2] == "signoff.yaml"


def introducing_commit(repo: RepoHandle, tip: str, path: str) -> str | None:
    """`githistory.introducing_commit`, answered from the tip's index for a signoff.yaml."""
    if not is_signoff_path(path):
        return githistory.introducing_commit(repo, tip, path)
    githistory.check_path(path)
    return at(repo, tip).introducing_commit(path)


def tree_entry(repo: RepoHandle, tip: str, path: str) -> TreeEntry | None:
    """`githistory.tree_entry`, answered from the tip's index for a signoff.yaml."""
    if not is_signoff_path(path):
        return githistory.tree_entry(repo, tip, path)
    githistory.check_path(path)
    return at(repo, tip).entry(path)


def read_blob(repo: RepoHandle, tip: str, oid: str, max_bytes: int) -> bytes:
    """`githistory.read_blob`, from the tip's index when it holds the blob."""
    data = at(repo, tip).blobs.get(oid)
    if data is None or len(data) > max_bytes:
        return githistory.read_blob(repo, oid, max_bytes)
    return data


def commit_parents(repo: RepoHandle, tip: str, commit: str) -> tuple[str, ...]:
    """`githistory.commit_parents`, from the tip's walk when it listed the commit."""
    known = at(repo, tip).parents(commit)
    return known if known is not None else githistory.commit_parents(repo, commit)


_INFOS_KEPT = 1024
_INFOS: Kept[tuple[str, str], githistory.CommitInfo] = Kept(_INFOS_KEPT)


def commit_info(repo: RepoHandle, commit: str) -> githistory.CommitInfo:
    """`githistory.commit_info` once per (repository, commit): a commit never changes, and
    many offers' sign-offs arrive in one merge."""
    key = (repo_key(repo), commit)
    return _INFOS.get_or_make(key, lambda: githistory.commit_info(repo, commit))


def blob_in(repo: RepoHandle, tip: str, commit: str, path: str) -> str:
    """The blob id at `path` in `commit` ("" when absent or not a blob), for a commit a merge
    on `tip`'s history brought in. One `cat-file --batch-check` answers every signoff.yaml
    whose introducing merge has `commit` as a parent; other paths are asked on their own."""
    githistory.check_oid(commit)
    githistory.check_path(path)
    if "\n" in path or not is_signoff_path(path):
        entry = githistory.tree_entry(repo, commit, path)
        return entry.oid if entry is not None and entry.mode != "160000" else ""
    index = at(repo, tip)
    with _LOCK:
        side = index.merged_sides.setdefault(commit, {})
        known = side.get(path)
    if known is not None:
        return known
    wanted = [
        p
        for p, change in index.changes.items()
        if commit in change.parents[1:] and p not in side and "\n" not in p
    ]
    if path not in wanted:
        wanted.append(path)
    found = _blob_ids(repo, commit, wanted)
    with _LOCK:
        side.update(found)
    return found[path]


def _blob_ids(repo: RepoHandle, commit: str, paths: list[str]) -> dict[str, str]:
    out = githistory.run_git(
        repo,
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        stdin="".join(f"{commit}:{p}\n" for p in paths).encode("utf-8", "surrogateescape"),
    ).stdout.decode()
    lines = out.splitlines()
    if len(lines) != len(paths):
        raise GitHistoryError(f"could not read signoff.yaml entries at {commit[:12]}")
    found: dict[str, str] = {}
    for path, line in zip(paths, lines, strict=True):
        parts = line.split()
        found[path] = parts[0] if len(parts) == 2 and parts[1] == "blob" else ""
    return found


_MERGED: Kept[tuple[str, str], tuple[githistory.CommitInfo, ...]] = Kept(_INFOS_KEPT)


def merged_commits(
    repo: RepoHandle, merge: githistory.CommitInfo
) -> tuple[githistory.CommitInfo, ...]:
    """`githistory.merged_commits` once per (repository, merge): one merge often brings
    many offers' sign-offs."""
    key = (repo_key(repo), merge.id)
    return _MERGED.get_or_make(key, lambda: githistory.merged_commits(repo, merge))
