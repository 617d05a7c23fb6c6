"""The SHA-256 of a bytes object, worked out once while the object is held.

One offer's files are hashed by three readers: its generation
(`generation.file_digest`), precheck's memo key (`precheck._question`) and the
scan memo's key (`scanmemo.memo`); the simulated marketplace's certification
asks precheck again. And the files that offer folders share come from the blob
cache (`GitRepo.read_blob`) as the very same object for every offer. So each
digest is kept with the object it is of, by the object's id.

Sound because the memo holds the object: while it is held no other object can
have its id, and a `bytes` never changes, so a kept digest is always the digest
of the bytes asked about (the object found under the id is checked to be the
one asked about all the same). Only exact `bytes` are kept: a bytearray or a
memoryview can change under the memo, and a subclass is not worth trusting.
Nothing a repository holds takes part in a lookup but the object itself.

Bounded: at most `MAX_ENTRIES` objects holding `MAX_WEIGHT` bytes in all, the
oldest kept going first (most objects are the blob cache's already, held there
too). An object over `MAX_OBJECT_BYTES` is hashed every time: hashing it costs
far more than asking, and holding it would keep a package in memory.
Thread-safe: the simulated marketplace certifies from its server's threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

MAX_ENTRIES = 1024
MAX_WEIGHT = 16 * 1024 * 1024  # bytes the kept objects hold in all
MAX_OBJECT_BYTES = 4 * 1024 * 1024  # a larger object is hashed every time, never held

# id(object) -> (the object, its SHA-256), oldest kept first (the first to go).
_kept: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()
_weight = 0
_lock = threading.Lock()


def sha256(data: bytes) -> bytes:
    """`hashlib.sha256(data).digest()`, hashed once per object while the memo holds it.

    Raises as hashlib does for what is not bytes-like (a str: TypeError)."""
    kept = _kept.get(id(data))
    if kept is not None and kept[0] is data:
        return kept[1]
    digest = hashlib.sha256(data).digest()
    if type(data) is bytes and len(data) <= MAX_OBJECT_BYTES:
        _keep(data, digest)
    return digest


def _keep(data: bytes, digest: bytes) -> None:
    global _weight  # noqa: PLW0603 - the memo is the module's one piece of state
    with _lock:
        old = _kept.pop(id(data), None)
        if old is not None:  # another thread kept it meanwhile
            _weight -= len(old[0])
        _kept[id(data)] = (data, digest)
        _weight += len(data)
        while len(_kept) > MAX_ENTRIES or _weight > MAX_WEIGHT:
            _weight -= len(_kept.popitem(last=False)[1][0])


def held() -> tuple[int, int]:
    """(objects, bytes) the memo holds now (for tests)."""
    with _lock:
        return len(_kept), _weight


def clear() -> None:
    """Forget every digest (tests measure cold work with it)."""
    global _weight  # noqa: PLW0603 - see _keep
    with _lock:
        _kept.clear()
        _weight = 0
