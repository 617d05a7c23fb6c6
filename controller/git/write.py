"""Writing: the one commit writer, and compare-and-swap ref updates.

`write_commit(runner, reader, base, updates, message, ...)` makes a commit
whose tree is `base`'s with `updates` applied ({path: bytes}, None deletes)
and whose only parent is `base`. It is what the reconciler's status commit,
`offerctl signoff`'s branch and any other verb that commits files use. No
index file is involved, the user's or a private one, and the whole tree is
never read: the new blobs go in with one `git fast-import`, then only the
trees on the changed paths are read (through the caller's `cat-file --batch`),
rewritten here and stored with one `git hash-object -t tree` (many at once: one
`git index-pack` of a pack built here), so a one-file commit costs the
same in a repository of 100 or 100,000 files (plus the size of the folders
it touches). The result equals what `read-tree base; update-index
--index-info; write-tree` gives for the same changes (tested), except that
entries the change does not touch keep their stored mode.

No ref moves in `write_commit`; `update_ref` is the separate compare-and-swap.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
import tempfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.core.errors import FatalError, TransientError
from controller.git.later import Later
from controller.git.names import blob_oid, check_oid, check_ref_name, object_oid
from controller.git.read import ObjectReader, encode_path, entry_mode, entry_oid
from controller.git.runner import GitFailed, GitRunner

FILE_MODE_BYTES = b"100644"
TREE_MODE_BYTES = b"40000"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a commit is authored and committed by (the controller's own, by default)."""

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


class RefMoved(Exception):
    """A compare-and-swap ref update found another value than expected."""


def check_tree_path(path: str) -> str:
    """`path` if it can name a file in a tree: no empty, '.', '..' or '.git' component."""
    parts = path.split("/")
    if any(p in {"", ".", "..", ".git"} for p in parts) or "\x00" in path:
        raise ValueError(f"not a path a commit can hold: {path!r}")
    return path


def write_commit(
    runner: GitRunner,
    reader: ObjectReader,
    base: str,
    updates: Mapping[str, bytes | None],
    message: str,
    *,
    identity: Identity | None = None,
    when: float | None = None,
    sign: bool | None = False,
    object_format: str = "sha1",
    ssh_key: str = "",
) -> str | None:
    """A new commit: `base`'s tree with `updates` applied (None deletes), parent `base`.

    `identity` None commits as the user's configured git identity; `sign`
    True signs (`-S`, the user's key), False never signs, None leaves it to
    `commit.gpgSign`. Returns None when the tree equals base's (nothing to
    commit). GitFailed when git cannot make the commit (no identity, no key).
    """
    for path in updates:
        check_tree_path(path)
    store_blobs(runner, [d for d in updates.values() if d is not None], object_format)
    changes = {
        path: None if data is None else blob_oid(data, object_format)
        for path, data in updates.items()
    }
    return commit_blobs(
        runner, reader, base, changes, message,
        identity=identity, when=when, sign=sign, object_format=object_format, ssh_key=ssh_key,
    )  # fmt: skip


def commit_blobs(
    runner: GitRunner,
    reader: ObjectReader,
    base: str,
    changes: Mapping[str, str | None],
    message: str,
    *,
    identity: Identity | None = None,
    when: float | None = None,
    sign: bool | None = False,
    object_format: str = "sha1",
    allow_empty: bool = False,
    ssh_key: str = "",
    storing: Later[None] | None = None,
) -> str | None:
    """`write_commit` for blobs already in the object database: {path: blob id or None}.

    With `allow_empty`, a commit is made even when the tree equals base's. `storing`:
    the blobs' `store_blobs_soon`, waited for before the commit is returned (and its
    error raised), so a caller never holds a commit whose blobs may be missing.
    """
    try:
        made = _commit_blobs(
            runner, reader, base, changes, message, identity=identity, when=when,
            sign=sign, object_format=object_format, allow_empty=allow_empty, ssh_key=ssh_key,
        )  # fmt: skip
    except BaseException:
        if storing is not None:
            storing.settle()
        raise
    if storing is not None:
        storing.result()
    return made


def _commit_blobs(
    runner: GitRunner,
    reader: ObjectReader,
    base: str,
    changes: Mapping[str, str | None],
    message: str,
    *,
    identity: Identity | None,
    when: float | None,
    sign: bool | None,
    object_format: str,
    allow_empty: bool,
    ssh_key: str,
) -> str | None:
    check_oid(base)
    base_tree = _tree_of(reader, base)
    tree = build_tree(runner, reader, base_tree, changes, object_format)
    if tree == base_tree and not allow_empty:
        return None
    signing = ["-S"] if sign or ssh_key else ["--no-gpg-sign"] if sign is False else []
    commit = runner.run(
        ["commit-tree", *signing, tree, "-p", base, "-F", "-"],
        stdin=message.encode("utf-8"),
        env=identity.env(when) if identity is not None else None,
        config=ssh_signing(ssh_key),
    ).text.strip()  # fmt: skip
    return check_oid(commit)


def ssh_signing(key: str) -> list[tuple[str, str]]:
    """git config that signs a commit with the SSH key file `key` ("" : none).

    For status commits (`GitRepo.status_signing_key`, set from the operator's
    OFFERCTL_STATUS_SIGNING_KEY): `offerctl wait --allowed-signers` believes a
    status.yaml only at a commit this key signed. Only the path is passed;
    ssh-keygen reads the key, and it never appears in an argument list.
    """
    return [("gpg.format", "ssh"), ("user.signingKey", key)] if key else []


def _tree_of(reader: ObjectReader, commit: str) -> str:
    header = reader.read(commit, kind="commit").split(b"\n", 1)[0]
    if not header.startswith(b"tree "):
        raise FatalError(f"commit {commit} has no tree")
    return check_oid(header[5:].decode("ascii"))


# Bytes of blobs one `git fast-import` takes: a pass writing 50,000 status files holds
# this much of its stream at a time (handed to git as it is, not copied), not all of it.
# A process per 4 MiB (about 3,000 status files) costs little beside their rendering.
STORE_BATCH_BYTES = 4 * 1024 * 1024


# Fewer blobs than this are written as loose objects by one `hash-object`: fast-import
# would pack them and then (below git's unpack limit, also 100) run `unpack-objects` to
# make them loose anyway, two processes and twice the CPU for a one-offer pass's blob.
FEW_BLOBS = 100


def store_blobs(runner: GitRunner, blobs: Iterable[bytes], object_format: str) -> None:
    """Write blobs into the object database: fewer than FEW_BLOBS by one `hash-object`,
    more by one `git fast-import` per STORE_BATCH_BYTES."""
    blobs = iter(blobs)
    first = list(itertools.islice(blobs, FEW_BLOBS))
    if len(first) < FEW_BLOBS:
        _hash_blobs(runner, first, object_format)
        return
    stream = bytearray()
    for data in itertools.chain(first, blobs):
        stream += b"blob\ndata %d\n" % len(data)
        stream += data
        stream += b"\n"
        if len(stream) >= STORE_BATCH_BYTES:
            _fast_import(runner, stream)
            stream = bytearray()
    if stream:
        _fast_import(runner, stream)


def store_blobs_soon(runner: GitRunner, blobs: Iterable[bytes], object_format: str) -> Later[None]:
    """`store_blobs`, its `hash-object` of fewer than FEW_BLOBS left running on a thread
    (more are stored before it returns). `blobs` is read to its end before it returns
    either way. Hand the answer to `commit_blobs` (`storing`), which waits for it:
    the commit may be written meanwhile (neither `hash-object -t tree` nor `commit-tree`
    looks for the blobs), never a ref moved to it."""
    blobs = iter(blobs)
    first = list(itertools.islice(blobs, FEW_BLOBS))
    if not first:
        return Later.answered(None)
    if len(first) < FEW_BLOBS:
        return Later(lambda: _hash_blobs(runner, first, object_format))
    store_blobs(runner, itertools.chain(first, blobs), object_format)
    return Later.answered(None)


def _hash_blobs(runner: GitRunner, blobs: Sequence[bytes], object_format: str) -> None:
    """Write a few blobs as loose objects, their bytes as they are (no clean filter)."""
    _write_loose(runner, "blob", blobs, [blob_oid(data, object_format) for data in blobs])


def _write_loose(runner: GitRunner, kind: str, objects: Sequence[bytes], ids: list[str]) -> None:
    """Store `objects` of type `kind` as loose objects with one `hash-object -w`, which
    checks a tree's format and applies no clean filter (`--no-filters`): one through
    stdin, more through temporary files. FatalError if git names one other than `ids`."""
    if not objects:
        return
    args = ["hash-object", "-t", kind, "-w", "--no-filters"]
    if len(objects) == 1:
        out = runner.run([*args, "--stdin"], stdin=objects[0]).text
    else:
        with tempfile.TemporaryDirectory(prefix="offerctl-objects-") as tmp:
            files = []
            for i, data in enumerate(objects):
                path = Path(tmp) / f"{i}"
                path.write_bytes(data)
                files.append(str(path))
            out = runner.run(
                [*args, "--stdin-paths"], stdin="".join(f"{f}\n" for f in files).encode()
            ).text
    if out.split() != ids:
        raise FatalError(f"git stored a {kind} under another id than computed")


def _fast_import(runner: GitRunner, stream: bytearray) -> None:
    stream += b"done\n"
    runner.run(["fast-import", "--quiet", "--done"], stdin=stream)  # not copied to bytes


_Node = dict[bytes, "_Node | str | None"]


def build_tree(
    runner: GitRunner,
    reader: ObjectReader,
    base_tree: str,
    changes: Mapping[str, str | None],
    object_format: str = "sha1",
) -> str:
    """`base_tree` with each path set to a regular file holding blob `changes[path]`
    (None removes it): the id of the resulting tree. Only the trees along the
    changed paths are read; the new ones are serialized here and stored with one
    `git hash-object -t tree -w --stdin-paths`, which checks their format, or, when
    there are many, one `git index-pack` (`_NewTrees`). The blobs must exist already."""
    root: _Node = {}
    for path, oid in sorted(changes.items()):
        *folders, name = [encode_path(p) for p in check_tree_path(path).split("/")]
        node = root
        for folder in folders:
            child = node.setdefault(folder, {})
            if not isinstance(child, dict):
                raise ValueError(f"changes both write {path!r} and a file above it")
            node = child
        if name in node:
            raise ValueError(f"changes both write {path!r} and files below it")
        node[name] = None if oid is None else check_oid(oid)
    written = _NewTrees(object_format)
    new = _rewrite(reader, written, base_tree, root, object_format)
    if new is None:  # every file went: the empty tree
        new = object_oid("tree", b"", object_format)
        written[new] = b""
    written.store(runner)
    return new


# From this many new trees on, they are stored as one pack (`_NewTrees`); fewer as loose
# objects, as `git fast-import` unpacks fewer objects than its `unpackLimit` (100), so
# small commits (the daemon's edits) add no pack file each.
PACK_MIN_TREES = 100
_PACK_TREE = 2  # the pack format's object type of a tree
_PACK_HEADER = 12  # "PACK", version, object count


class _NewTrees:
    """The trees `build_tree` makes, by id, and their storing.

    A few are kept as bytes and stored as loose objects by one `hash-object`. From
    PACK_MIN_TREES on, each is compressed into one pack as it is made (a pass writing
    50,000 offers' status makes as many trees, whose bytes are then not all held), and
    the pack is stored by one `git index-pack`: a loose object costs a file (and
    `hash-object` a temporary one) each, most of a 1,000-offer status commit's time.
    index-pack names each object by the hash of its bytes, as hash-object does, and
    fails on a pack whose checksum is not in the repository's object format;
    commit-tree then refuses a root tree that is not there.
    """

    def __init__(self, object_format: str) -> None:
        self.object_format = object_format
        self.ids: set[str] = set()
        self.loose: dict[str, bytes] = {}  # until PACK_MIN_TREES are made
        self.pack: bytearray | None = None  # its header is written by `store`

    def __setitem__(self, oid: str, data: bytes) -> None:
        if oid in self.ids:
            return  # the same bytes: stored once
        self.ids.add(oid)
        if self.pack is not None:
            _append_tree(self.pack, data)
            return
        self.loose[oid] = data
        if len(self.loose) >= PACK_MIN_TREES:
            self.pack = bytearray(_PACK_HEADER)
            for kept in self.loose.values():
                _append_tree(self.pack, kept)
            self.loose = {}

    def store(self, runner: GitRunner) -> None:
        """Write the trees; FatalError if git hashes a loose one differently."""
        if self.pack is not None:
            self.pack[:_PACK_HEADER] = b"PACK" + struct.pack(">II", 2, len(self.ids))
            self.pack += hashlib.new(self.object_format, self.pack).digest()
            runner.run(["index-pack", "--stdin"], stdin=self.pack)
            return
        _write_loose(runner, "tree", list(self.loose.values()), list(self.loose))


def _rewrite(
    reader: ObjectReader,
    written: _NewTrees,
    tree: str | None,
    node: _Node,
    fmt: str,
    *,
    data: bytes | None = None,
) -> str | None:
    """The id of `tree` (None: an empty one) with `node`'s changes; None if it ends empty.
    `data`: the tree's bytes, when read already.

    Entries stay raw bytes; only the changed names are looked at, so a folder of
    10,000 offers costs a few C-speed passes over its bytes, not 10,000 objects.
    """
    width = reader.oid_width
    if data is None:
        data = reader.read(tree, kind="tree") if tree else b""
    if tree is not None and len(node) <= FEW_NAMES:
        spliced = _splice(reader, written, tree, data, node, fmt=fmt)
        if not isinstance(spliced, _Unclear):
            return spliced
    original = reader.parse_tree(tree, data) if tree else {}
    entries = dict(original)
    # The trees below that change (every offer folder of a full pass's commit) are read
    # in batches as the loop reaches them, not one request each (`read_many`).
    below_trees = [
        entry_oid(raw, width)
        for name, child in node.items()
        if isinstance(child, dict)
        and (raw := entries.get(name)) is not None
        and entry_mode(raw) == TREE_MODE_BYTES
    ]
    read_ahead = reader.read_many(below_trees, kind="tree")
    reorder = False  # a new name, or a file turned folder, moves in git's order
    for name, child in node.items():
        existing = entries.get(name)
        is_tree = existing is not None and entry_mode(existing) == TREE_MODE_BYTES
        if isinstance(child, dict):
            below = entry_oid(existing, width) if existing is not None and is_tree else None
            sub = _rewrite(
                reader, written, below, child, fmt, data=next(read_ahead) if below else None
            )
            if sub is None:
                if is_tree:
                    del entries[name]
                continue
            reorder |= not is_tree
            entries[name] = _entry(TREE_MODE_BYTES, name, sub)
        elif child is None:
            if existing is not None and not is_tree:
                del entries[name]  # a folder is not a file: deleting the path leaves it
        else:
            reorder |= existing is None or is_tree
            entries[name] = _entry(FILE_MODE_BYTES, name, child)
    if not entries:
        return None
    if tree is not None and entries == original:
        return tree
    if reorder:
        entries = dict(sorted(entries.items(), key=_order))
    data = b"".join(entries.values())
    oid = object_oid("tree", data, fmt)
    written[oid] = data
    return oid


# Up to this many changed names in one tree are edited in its bytes where they sit
# (`_splice`); more, or a name added or turned from file to folder, parse it whole.
FEW_NAMES = 8


class _Unclear:
    """`_splice` cannot edit this tree in place."""


_UNCLEAR = _Unclear()


def _splice(
    reader: ObjectReader,
    written: _NewTrees,
    tree: str,
    data: bytes,
    node: _Node,
    *,
    fmt: str,
) -> str | _Unclear | None:
    """`_rewrite` for a few changed names that all exist with their kind unchanged: their
    entries are replaced or cut in `data` where they sit, the rest never parsed. A
    folder of 10,000 offers then costs a few passes of C over its bytes, not 10,000
    Python objects; `_UNCLEAR` when a name is new, changes kind, or cannot be found."""
    width = reader.oid_width
    edits: list[tuple[int, int, bytes]] = []
    for name, child in node.items():
        found = reader.find_entry(data, name)
        if found is None:
            return _UNCLEAR  # a new name (goes in git's order), or hard to tell
        start, end = found
        raw = data[start:end]
        is_tree = entry_mode(raw) == TREE_MODE_BYTES
        if isinstance(child, dict) != is_tree and not (child is None and is_tree):
            return _UNCLEAR  # a file becomes a folder or the other way: order changes
        edits.append((start, end, raw))
    pieces: list[bytes] = []
    last = 0
    for (start, end, raw), (name, child) in sorted(
        zip(edits, node.items(), strict=True), key=lambda pair: pair[0][0]
    ):
        pieces.append(data[last:start])
        last = end
        if isinstance(child, dict):
            sub = _rewrite(reader, written, entry_oid(raw, width), child, fmt)
            if sub is not None:
                pieces.append(_entry(TREE_MODE_BYTES, name, sub))
        elif child is None:
            if entry_mode(raw) == TREE_MODE_BYTES:
                pieces.append(raw)  # a folder is not a file: deleting the path leaves it
        else:
            pieces.append(_entry(FILE_MODE_BYTES, name, child))
    pieces.append(data[last:])
    new = b"".join(pieces)
    if not new:
        return None
    if new == data:
        return tree
    oid = object_oid("tree", new, fmt)
    written[oid] = new
    return oid


def _entry(mode: bytes, name: bytes, oid: str) -> bytes:
    return mode + b" " + name + b"\x00" + bytes.fromhex(oid)


def _order(item: tuple[bytes, bytes]) -> bytes:
    """git's tree order: a folder sorts as `name/`."""
    name, raw = item
    return name + b"/" if entry_mode(raw) == TREE_MODE_BYTES else name


def _append_tree(pack: bytearray, data: bytes) -> None:
    """Add a tree's bytes to `pack` as one packed object."""
    pack += _pack_header(_PACK_TREE, len(data))
    pack += zlib.compress(data, 1)


def _pack_header(kind: int, size: int) -> bytes:
    """A packed object's header: its type and size, seven bits a byte after the first four."""
    first = (kind << 4) | (size & 0x0F)
    size >>= 4
    out = bytearray()
    while size:
        out.append(first | 0x80)
        first = size & 0x7F
        size >>= 7
    out.append(first)
    return bytes(out)


def update_ref(
    runner: GitRunner, ref: str, new: str, expected_old: str | None, reason: str
) -> None:
    """Set `ref` to `new` only if it still holds `expected_old` (None: must not exist).

    RefMoved when it holds something else; TransientError when its lock is taken.
    """
    check_ref_name(ref)
    old = expected_old if expected_old is not None else "0" * len(new)
    try:
        runner.run(["update-ref", "-m", reason, ref, check_oid(new), check_oid(old)])
    except GitFailed as exc:
        message = str(exc)
        if "lock" in message and "exists" in message:
            raise TransientError(f"{ref} is locked: {message}", retry_after=5) from None
        raise RefMoved(f"{ref} moved: {message}") from None


def set_ref(runner: GitRunner, ref: str, commit: str, reason: str) -> None:
    """Point `ref` at `commit` whatever it held (records of our own, never branches)."""
    runner.run(["update-ref", "-m", reason, check_ref_name(ref), check_oid(commit)])


def set_refs(runner: GitRunner, refs: Sequence[str], commit: str, reason: str) -> None:
    """Point every ref of `refs` at `commit` in one transaction (`update-ref --stdin`):
    all move or none does, one process for them all."""
    if len(refs) == 1:
        set_ref(runner, refs[0], commit, reason)
        return
    oid = check_oid(commit)
    stdin = b"".join(f"update {check_ref_name(ref)} {oid}\n".encode("ascii") for ref in refs)
    runner.run(["update-ref", "-m", reason, "--stdin"], stdin=stdin)


def delete_ref(runner: GitRunner, ref: str) -> None:
    """Delete `ref` if it exists."""
    runner.run(["update-ref", "-d", check_ref_name(ref)], check=False)
