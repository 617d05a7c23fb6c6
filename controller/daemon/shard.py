"""Which offers one daemon owns when several share a repository: `--shard K/N`.

An offer belongs to shard `int(sha256(offer_id)) % N`. The hash depends on the
offer id alone, so the assignment is stable across restarts, hosts and Python
versions (unlike `hash()`), and adding offers never moves existing ones.
Shards are numbered from 0: `--shard 0/3`, `1/3`, `2/3` cover everything.

`--shard ordinal/N` takes K from the host name's trailing `-<digits>`: a
Kubernetes StatefulSet names its pods (and their host names) `<set>-0`,
`<set>-1`, ..., so one pod template serves every shard (deploy/README.md).
"""

from __future__ import annotations

import hashlib
import re
import socket
from dataclasses import dataclass

from controller.core.errors import UsageError

_SHARD = re.compile(r"^\s*(\d+|ordinal)\s*/\s*(\d+)\s*$")
_ORDINAL = re.compile(r"-(\d+)$")  # a StatefulSet pod's name ends in -<ordinal>
ORDINAL = "ordinal"
MAX_SHARDS = 1024  # far beyond any sane deployment; catches typos like 1/30000


def shard_of(offer_id: str, count: int) -> int:
    """The shard (0..count-1) that owns `offer_id`."""
    digest = hashlib.sha256(offer_id.encode("utf-8")).hexdigest()
    return int(digest, 16) % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` of `count`; `Shard(0, 1)` owns every offer."""

    index: int = 0
    count: int = 1

    def owns(self, offer_id: str) -> bool:
        return self.count == 1 or shard_of(offer_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


ALL_SHARDS = Shard(0, 1)


def ordinal_of(hostname: str) -> int:
    """The StatefulSet ordinal at the end of `hostname` (`offerctl-2` -> 2)."""
    match = _ORDINAL.search(hostname.split(".", 1)[0])
    if match is None:
        raise UsageError(
            f"--shard ordinal/N: host name {hostname!r} does not end in -<number>; "
            "run it as a StatefulSet pod, or give K explicitly"
        )
    return int(match.group(1))


def parse_shard(text: str, hostname: str | None = None) -> Shard:
    """`"K/N"` -> Shard(K, N); UsageError with the rule that was broken otherwise.

    `"ordinal/N"` takes K from `hostname` (default: this host's name).
    """
    match = _SHARD.match(text)
    if match is None:
        raise UsageError(f"--shard must look like K/N or ordinal/N (for example 0/3), not {text!r}")
    count = int(match.group(2))
    if match.group(1) == ORDINAL:
        index = ordinal_of(socket.gethostname() if hostname is None else hostname)
    else:
        index = int(match.group(1))
    if not 1 <= count <= MAX_SHARDS:
        raise UsageError(f"--shard {text}: N must be between 1 and {MAX_SHARDS}")
    if index >= count:
        raise UsageError(f"--shard {text}: K counts from 0, so it must be below N (0..{count - 1})")
    return Shard(index, count)
