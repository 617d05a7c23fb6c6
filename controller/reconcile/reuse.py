"""Reusing an offer's validation verdict while nothing it read has changed.

Validating an offer is a pure function of what it reads through its
`FileSource`: the manifest, the assets the manifest names, the directories it
lists (docs/DESIGN.md §6, "Work done once"). So the first time an offer is
validated at a commit, `RecordingFiles` writes down every question validation
asked of the tree and the answer it got, answers taken from the tree's entries
alone: a path's kind, a read file's mode, blob id and size, a directory's
names. The verdict is kept with that list, keyed by offer id, in
`<git-dir>/offerctl/cache/verdicts.sqlite3`.

At a later pass the list is asked again of the new tree. When every answer is
the same, validation would read the same bytes and so say the same thing: the
verdict is reused without reading any blob (the asset bytes a submission needs
are read only when a submission is made: `LazyFiles`). One answer that
differs, including a file that appeared or went away, is a miss, and the offer
is validated again. The key also holds the validator's own identity (the
offerctl version, Python's and the validation libraries' versions, and a
digest of every file of the package), so an upgrade never reuses an old
verdict.

The store is the controller's own computation in its own directory; nothing
the repository holds decides a hit but the blob ids git computed. A file that
cannot be read or holds an entry that does not decode is a miss (a corrupt
database is set aside and started again); losing the store costs one
validation per offer, never a wrong answer. Writes are not synced, and a
pass's are written in one transaction when it ends (`flush`): the store is a
cache. It is bounded (`MAX_ENTRIES` verdicts of at most `MAX_BODY_BYTES`
each), since a pull request chooses how many folders `plan` meets and how
large their manifests are.

A `reusing` validator also keeps each offer's last verdict in memory
(`MEMO_ENTRIES`, `MEMO_BYTES`) with the digest of its folder's tree entries
(path, mode, blob id of each: `tree.FolderKey`), and reuses it while the
entries are the same: everything validation asks about a path inside the
folder follows from those, so a
settle or polling pass over an unchanged offer asks again only the few
questions about paths outside it (the policy file) and neither queries nor
decodes the store. What decides a hit is what git computed for the commit
read, never what a file says.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from functools import cache
from importlib import metadata
from importlib.resources import files as package_files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from controller import __version__
from controller.core import kept as memo
from controller.core.generation import canonical_json
from controller.core.model import Finding, Severity, Target
from controller.git.tree import FolderKey, GitTreeFiles, TreeSnapshot, within
from controller.reconcile.types import OfferCheck, Validate
from controller.repo.layout import POLICY_FILE, offer_dir
from controller.validation.files import FileSource, Kind

log = logging.getLogger(__name__)

CACHE_DIR = "cache"
DB_NAME = "verdicts.sqlite3"
SCHEMA_VERSION = 2  # the table's layout (PRAGMA user_version); part of the identity
# Libraries whose behaviour is part of a verdict: the YAML loader, the schema checker and
# its registry, the market codes, the XML reader of packages.
_VERDICT_DISTRIBUTIONS = (
    "PyYAML",
    "jsonschema",
    "jsonschema-specifications",
    "referencing",
    "pycountry",
    "defusedxml",
)
# The store's bound: at most MAX_ENTRIES verdicts (the oldest written go first) of at most
# MAX_BODY_BYTES each. A pull request chooses how many offer folders it adds and how big
# their manifests are (up to 1 MiB each), and `plan` of it writes here; without a bound
# every id ever met stayed. A real offer's verdict is a few KiB; a larger one is validated
# every time instead of kept.
MAX_BODY_BYTES = 128 * 1024
MAX_ENTRIES = 20_000
# Verdicts put are written in one transaction per pass (`Reusing.flush`), or when this
# many wait: one INSERT per offer, each its own transaction, cost a tenth of a full pass.
PENDING_ENTRIES = 512
# The in-memory memo's bound: offers, and the bytes of their verdicts. A kept verdict
# holds neither its spec (`LazySpec`: read back only by a pass that submits) nor its
# questions, and its folder's entries only as their 32-byte digest (`tree.FolderKey`,
# however many files a pull request put in the folder); it is weighed as its stored JSON
# less the spec, an upper bound of what it holds (~2-3 KiB for a generated offer). So
# 10,000 offers weigh ~30 MiB.
MEMO_ENTRIES = 16_384
MEMO_BYTES = 64 * 1024 * 1024

Question = tuple[str, str, int]  # (kind|read|list, repo-relative path, read limit or 0)
_POLICY: Question = ("read", POLICY_FILE, 0)


@cache
def validator_identity() -> str:
    """A digest of what decides a verdict: the version, Python, the libraries validation
    uses, and every source and schema file of the package.

    The whole package, not a list of modules: validation's imports reach well beyond
    `controller.validation` (the path rules in `controller.files.source`, the entry kinds
    in `controller.git.tree`), and a module missed would let an upgrade reuse verdicts
    its own code would not give. Hashing about 2 MB once per process takes a few ms.
    """
    digest = hashlib.sha256(
        f"offerctl {__version__}\0reuse {SCHEMA_VERSION}\0python {sys.version}\0".encode()
    )
    for name in _VERDICT_DISTRIBUTIONS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name} {version}\0".encode())
    for path, source in _package_files(package_files("controller"), ""):
        digest.update(path.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def _package_files(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    """Every .py and .json file under `folder`, by path, sorted (no byte-code caches)."""
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        path = f"{prefix}{item.name}"
        if item.is_dir():
            if item.name != "__pycache__":
                yield from _package_files(item, f"{path}/")
        elif item.name.endswith((".py", ".json")):
            yield path, item


class RecordingFiles:
    """A `FileSource` over a commit that notes every question asked and its answer."""

    def __init__(self, files: GitTreeFiles) -> None:
        self._files = files
        self.questions: list[tuple[Question, Any]] = []

    def kind(self, path: str) -> Kind:
        answer = self._files.kind(path)
        self.questions.append((("kind", path, 0), answer))
        return answer

    def read(self, path: str, limit: int) -> bytes:
        self.questions.append((("read", path, limit), answer(self._files, ("read", path, limit))))
        return self._files.read(path, limit)

    def list_dir(self, path: str) -> list[str]:
        names = self._files.list_dir(path)
        self.questions.append((("list", path, 0), list(names)))
        return names


def answer(files: GitTreeFiles, question: Question) -> Any:
    """What `files` says to `question`, from tree entries only (no blob is read)."""
    what, path, _limit = question
    if what == "kind":
        return files.kind(path)
    if what == "list":
        return list(files.list_dir(path))
    kind = files.kind(path)
    entry = files.entry(path) if kind == "file" else None
    if entry is None:
        return [kind]
    return [entry.mode, entry.oid, entry.size]


class LazyFiles(Mapping[str, bytes]):
    """Offer-relative path -> bytes, each blob read from the commit only when asked for."""

    def __init__(self, tree: TreeSnapshot, oids: Mapping[str, str]) -> None:
        self._tree = tree
        self._oids = dict(oids)
        self._read: dict[str, bytes] = {}

    def __getitem__(self, path: str) -> bytes:
        if path not in self._read:
            self._read[path] = self._tree.read_blob(self._oids[path])
        return self._read[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._oids)

    def __len__(self) -> int:
        return len(self._oids)


class LazySpec(Mapping[str, Any]):
    """A manifest's spec, made by `load` when first read.

    A settle pass reads no spec (it submits nothing), so the verdicts kept in memory
    hold none: a reused verdict's spec is read back from the store, or validated
    again, only by a pass that submits it (`_spec_again`). One read from the store
    is decoded from its JSON text only if read.
    """

    __slots__ = ("_decoded", "_load")

    def __init__(self, load: Callable[[], Mapping[str, Any]]) -> None:
        self._load = load
        self._decoded: Mapping[str, Any] | None = None

    @classmethod
    def of_text(cls, text: str) -> LazySpec:
        return cls(lambda: _json_object(text))

    def _spec(self) -> Mapping[str, Any]:
        if self._decoded is None:
            self._decoded = self._load()
        return self._decoded

    def __getitem__(self, key: str) -> Any:
        return self._spec()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._spec())

    def __len__(self) -> int:
        return len(self._spec())


def _json_object(text: str) -> dict[str, Any]:
    decoded = json.loads(text)
    if not isinstance(decoded, dict):  # `_decode` checked its first character only
        raise TypeError("a kept spec is not a JSON object")
    return decoded


@dataclass(frozen=True, slots=True)
class Kept:
    """One stored verdict: what validation asked, and what it concluded."""

    questions: list[tuple[Question, Any]]
    check: OfferCheck
    file_oids: dict[str, str]  # offer-relative asset path -> blob id
    size: int = 0  # bytes of its stored JSON text (0: not known)


@dataclass(frozen=True, slots=True)
class Memo:
    """An offer's verdict kept in memory: for which folder entries, and the questions those
    entries do not answer (the verdict's own question list is not kept: they answer it)."""

    entries: FolderKey
    kept: Kept
    outside: tuple[tuple[Question, Any], ...]
    weight: int  # about the bytes held (see MEMO_BYTES)


class VerdictStore:
    """Verdicts by offer id in one SQLite file; every failure is a miss, never an error."""

    def __init__(self, directory: Path, identity: str | None = None) -> None:
        self._path = directory / DB_NAME
        self._identity = identity or validator_identity()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, tuple[str, str]] = {}  # offer -> (body, spec), not yet written
        self._broken = False
        self._warned = False
        self.hits = 0
        self.misses = 0

    def get(self, offer: str) -> Kept | None:
        with self._lock:
            waiting = self._pending.get(offer)
        row = waiting or self._query(
            "SELECT body, spec FROM verdicts WHERE offer = ? AND identity = ?", offer
        )
        if row is None:
            return None
        try:
            return _decode(row[0], row[1])
        except (ValueError, KeyError, TypeError, IndexError):
            log.debug("verdict cache: entry for %s does not decode; validating again", offer)
            return None

    def put(self, offer: str, kept: Kept) -> Kept | None:
        """Store `kept` (written at the next `flush`); it with its size known (its stored
        JSON less the spec's: see MEMO_BYTES), or None when it is not kept (see `_encode`)."""
        encoded = _encode(kept)
        if encoded is None:
            return None
        body, spec_text = encoded
        size = len(body.encode())
        if size + len(spec_text.encode()) > MAX_BODY_BYTES:
            return None
        with self._lock:
            self._pending.pop(offer, None)  # written again: the newest (see MAX_ENTRIES)
            self._pending[offer] = (body, spec_text)
            full = len(self._pending) >= PENDING_ENTRIES
        if full:
            self.flush()
        return replace(kept, size=size)

    def flush(self) -> None:
        """Write the verdicts put since the last flush, in one transaction, and drop the
        oldest past the bound. Not synced (a cache: a lost write is a later miss)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            if not pending:
                return
            db = self._connect()
            if db is None:
                return
            try:
                db.execute("BEGIN")
                db.executemany(
                    "INSERT OR REPLACE INTO verdicts (offer, identity, body, spec)"
                    " VALUES (?, ?, ?, ?)",
                    [(o, self._identity, body, spec) for o, (body, spec) in pending.items()],
                )
                # A replaced row gets a new rowid: rowid order is the order of writing.
                db.execute(
                    "DELETE FROM verdicts WHERE rowid IN (SELECT rowid FROM verdicts "
                    "ORDER BY rowid LIMIT max(0, (SELECT count(*) FROM verdicts) - ?))",
                    (MAX_ENTRIES,),
                )
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._fail(exc)

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _query(self, sql: str, offer: str) -> tuple[str, str] | None:
        with self._lock:
            db = self._connect()
            if db is None:
                return None
            try:
                row: tuple[str, str] | None = db.execute(sql, (offer, self._identity)).fetchone()
            except sqlite3.Error as exc:
                self._fail(exc)
                return None
            return row

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # Held at once, so that `_fail` closes it when what follows fails.
            db = self._db = sqlite3.connect(
                self._path, timeout=1.0, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is a later miss
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # Another layout's rows (an older offerctl's) are only misses: start afresh.
                db.executescript(
                    "BEGIN IMMEDIATE; DROP TABLE IF EXISTS verdicts;"
                    " CREATE TABLE verdicts (offer TEXT PRIMARY KEY, identity TEXT NOT NULL,"
                    " body TEXT NOT NULL, spec TEXT NOT NULL);"
                    f" PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)
            return None
        return db

    def _fail(self, exc: BaseException) -> None:
        """Close the database; a corrupt one is set aside so that the next call starts afresh.

        A busy or read-only one is tried again at the next call; a directory that
        cannot be made ends the use of the store for this process.
        """
        if not self._warned:
            log.warning("verdict cache %s: %s; validating afresh", self._path, exc)
            self._warned = True
        if self._db is not None:
            self._db.close()
            self._db = None
        if isinstance(exc, OSError):
            self._broken = True
        elif isinstance(exc, sqlite3.DatabaseError) and not isinstance(
            exc, sqlite3.OperationalError
        ):  # "file is not a database", "database disk image is malformed"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self._path}{suffix}").unlink(missing_ok=True)


class Reusing:
    """`validate`, answered from `store` while everything it read is unchanged.

    The last verdicts are also kept in memory by the offer's folder entries
    (`Memo`): an offer whose folder is entry for entry the same is asked only
    the questions about paths outside it. A pass that will ask about more offers
    than the memo holds says so first (`expect`): a least-recently-used memo
    asked about more keys than it holds, in the same order pass after pass, never
    hits, so it is emptied and left out until the passes are small enough again.
    """

    def __init__(self, validate: Validate, store: VerdictStore) -> None:
        self.validate = validate
        self.store = store
        self.memos: memo.Kept[str, Memo] = memo.Kept(
            MEMO_ENTRIES, weigh=lambda m: m.weight, max_weight=MEMO_BYTES
        )

    def expect(self, offers: int) -> None:
        """The next pass asks about `offers` offers (`Kept.expect`)."""
        self.memos.expect(offers)

    def flush(self) -> None:
        """Write the verdicts this pass made to the store (`VerdictStore.flush`)."""
        self.store.flush()

    def __call__(self, files: FileSource, offer: str) -> OfferCheck:
        validate, store, memos = self.validate, self.store, self.memos
        if not isinstance(files, GitTreeFiles):
            return validate(files, offer)  # a working tree has no blob ids
        entries = files.snapshot.offer_entries(offer)
        found = memos.get(offer)
        if (
            found is not None
            and found.entries == entries
            and all(answer(files, q) == a for q, a in found.outside)
        ):
            store.hits += 1
            generation = found.kept.check.generation

            def spec_again() -> Mapping[str, Any]:
                return _spec_again(store, validate, files, offer, generation)

            return _reused(found.kept, files, LazySpec(spec_again))
        kept = store.get(offer)
        if kept is not None and all(answer(files, q) == a for q, a in kept.questions):
            store.hits += 1
            _remember(memos, offer, entries, kept)
            return _reused(kept, files, kept.check.spec)
        store.misses += 1
        recording = RecordingFiles(files)
        # Validation does not read publishing.yaml today; asked anyway, so that no verdict
        # outlives a policy change should validation ever come to depend on the policy.
        recording.questions.append((_POLICY, answer(files, _POLICY)))
        result = validate(recording, offer)
        oids = _file_oids(files, offer, result)
        if oids is not None:
            stored = store.put(offer, Kept(recording.questions, result, oids))
            if stored is not None:
                _remember(memos, offer, entries, stored)
        return result


def reusing(validate: Validate, store: VerdictStore) -> Reusing:
    """`validate`, answered from `store` while everything it read is unchanged (`Reusing`)."""
    return Reusing(validate, store)


def _remember(memos: memo.Kept[str, Memo], offer: str, entries: FolderKey, kept: Kept) -> None:
    """Keep `kept` in memory for the folder `entries`; only a verdict the store could keep
    (so one of known, bounded size)."""
    if not kept.size:
        return
    folder = offer_dir(offer)
    outside = tuple((q, a) for q, a in kept.questions if not within(q[1], folder))
    weight = kept.size + len(entries)
    # Neither the spec (see LazySpec) nor the asset bytes a fresh verdict read: `_reused`
    # reads them again from the commit (`LazyFiles`), and only for a pass that submits.
    held = replace(kept, questions=[], check=replace(kept.check, spec={}, files={}))
    memos.put(offer, Memo(entries, held, outside, weight))


def _reused(kept: Kept, files: GitTreeFiles, spec: Mapping[str, Any]) -> OfferCheck:
    c = kept.check
    lazy = LazyFiles(files.snapshot, kept.file_oids)
    return OfferCheck(c.generation, c.target, c.suspend, c.findings, spec, lazy)


def _spec_again(
    store: VerdictStore, validate: Validate, files: GitTreeFiles, offer: str, generation: str
) -> Mapping[str, Any]:
    """The spec of a verdict kept in memory without it, for a pass that submits it: the
    store's, when it still holds that generation for what `files` holds (every question it
    asked answered the same), else validated again from the commit the verdict was reused
    for. A generation alone is not enough: it leaves out `target` and `suspend`, and the
    store is shared with other passes (`plan` of a pull request) over other commits."""
    kept = store.get(offer)
    if (
        kept is not None
        and kept.check.generation == generation
        and all(answer(files, q) == a for q, a in kept.questions)
    ):
        return dict(kept.check.spec)
    again = validate(files, offer)
    if again.generation != generation:  # validation is a function of what the key holds
        raise RuntimeError(f"validating {offer} again gave another generation")
    return again.spec


def _file_oids(files: GitTreeFiles, offer: str, result: OfferCheck) -> dict[str, str] | None:
    """The blob id of each submitted asset; None when one cannot be named (not kept)."""
    oids: dict[str, str] = {}
    for path in result.files:
        entry = files.entry(f"offers/{offer}/{path}")
        if entry is None:
            return None
        oids[path] = entry.oid
    return oids


def _encode(kept: Kept) -> tuple[str, str] | None:
    """JSON text of `kept` less its spec, and of its spec (kept apart, so that a read need
    not decode it); None when the spec does not survive JSON unchanged.

    The spec is a loaded manifest's (`yamlio`: text keys only, refused at load), so what
    JSON cannot give back equal is a NaN or an infinity: refused by `allow_nan=False`.
    """
    c = kept.check
    try:
        text = canonical_json(c.spec, allow_nan=False)
    except (TypeError, ValueError):
        return None
    if not text.startswith("{"):
        return None
    body = {
        "questions": [[list(q), a] for q, a in kept.questions],
        "generation": c.generation,
        "target": c.target.value if c.target is not None else None,
        "suspend": c.suspend,
        "findings": [asdict(f) for f in c.findings],
        "files": kept.file_oids,
    }
    try:
        return canonical_json(body), text
    except (TypeError, ValueError):
        return None


def _decode(text: str, spec: str) -> Kept:
    """The verdict stored as `text` with its spec's text `spec`; raises ValueError (or
    KeyError, ...) if it is not one."""
    body = json.loads(text)
    questions: list[tuple[Question, Any]] = []
    for (what, path, limit), value in body["questions"]:
        if what not in ("kind", "read", "list") or not isinstance(path, str):
            raise ValueError("not a question")
        questions.append(((what, path, int(limit)), value))
    findings = tuple(
        Finding(**{**f, "severity": Severity(f["severity"])}) for f in body["findings"]
    )
    target = Target(body["target"]) if body["target"] is not None else None
    files = body["files"]
    if not isinstance(files, dict) or not isinstance(spec, str) or not spec.startswith("{"):
        raise ValueError("not a verdict")
    check = OfferCheck(
        str(body["generation"]), target, bool(body["suspend"]), findings, LazySpec.of_text(spec), {}
    )
    files_kept = {str(k): str(v) for k, v in files.items()}
    return Kept(questions, check, files_kept, len(text.encode()))
