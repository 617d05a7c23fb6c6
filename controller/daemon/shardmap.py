"""The recorded shard count, and when a shard may act: a changing N never overlaps.

`--shard K/N` divides offers by `sha256(id) % N`, so changing N moves most
offers to another shard. During a rollout, daemons started with the old N and
with the new one run side by side; each computes ownership from its own N, so
an offer can be owned by an old shard and a new one at once. To keep every
offer handled by one shard at a time, the shards share one small record, the
shard map, kept in a ref next to the watched branch (`shardref`). All changes
to it are compare-and-swap, so they are totally ordered. It holds:

    count    the N whose shards may act;
    next     a change of N the operator asked for (`offerctl shards --set M`);
    stopped  the shards of `count` that have promised not to act again.

At the start of every pass, shard K/N (this process) asks `decide`:

- no map yet: record `count = N` and act (the first deployment);
- `count == N`, nothing pending: act; if K is in `stopped` (it stopped
  earlier, say on SIGTERM, and was started again), take K out first;
- `count == N`, `next` pending: add K to `stopped` and never act again in this
  process: the pass that just ended was this shard's last;
- `count != N`, `next == N` and every shard of `count` stopped: record
  `count = N` (the handover) and act;
- otherwise (`count != N` without that): wait, acting on nothing.

Because an old shard adds itself to `stopped` only between passes, and a new
shard acts only after every old shard is in `stopped`, no pass of an old shard
overlaps any pass of a new one. Offers are not dropped: they wait while the
handover runs, and a new shard's first pass is a full one (its reconciled
record is named after K and N). A shard stopping on a signal adds itself to
`stopped` (`on_exit`), so a shard that scale-down removes does not hold the
handover up; one killed without that (SIGKILL, a lost node) does, until the
operator says it is gone: `offerctl shards --set M --force`.

This module decides only; `shardref` reads and writes the ref.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from controller.core.errors import FatalError
from controller.daemon.shard import MAX_SHARDS, Shard

MAP_VERSION = 1


@dataclass(frozen=True, slots=True)
class ShardMap:
    count: int
    next: int | None = None
    stopped: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ValueError(f"shard count {self.count} out of range")
        if self.next is not None and not 1 <= self.next <= MAX_SHARDS:
            raise ValueError(f"next shard count {self.next} out of range")
        if self.next == self.count:
            raise ValueError("a pending change must change the count")
        if any(not 0 <= k < self.count for k in self.stopped):
            raise ValueError(f"stopped shards {sorted(self.stopped)} not all below {self.count}")

    @property
    def all_stopped(self) -> bool:
        return len(self.stopped) == self.count

    def __str__(self) -> str:
        text = f"{self.count} shards"
        if self.next is not None:
            text += f", changing to {self.next}"
        if self.stopped:
            text += f", stopped: {', '.join(map(str, sorted(self.stopped)))}"
        return text


@dataclass(frozen=True, slots=True)
class Step:
    """What a shard may do now: act or not, after writing `write` (None: nothing to write)."""

    act: bool
    write: ShardMap | None
    reason: str


def decide(current: ShardMap | None, me: Shard) -> Step:
    """Whether shard `me` may run a pass now, and the map to record first."""
    if current is None:
        return Step(True, ShardMap(me.count), f"recording the shard count {me.count}")
    if current.count == me.count:
        if current.next is not None:
            stopped = current.stopped | {me.index}
            write = (
                None
                if stopped == current.stopped
                else ShardMap(current.count, current.next, stopped)
            )
            return Step(
                False,
                write,
                f"the shard count is changing from {current.count} to {current.next}: "
                f"shard {me} has stopped and waits to be replaced",
            )
        if me.index in current.stopped:
            return Step(True, ShardMap(current.count, None, current.stopped - {me.index}), "")
        return Step(True, None, "")
    if current.next == me.count and current.all_stopped:
        return Step(
            True,
            ShardMap(me.count),
            f"every shard of {current.count} has stopped: {me.count} shards take over",
        )
    if current.next == me.count:
        waiting = sorted(set(range(current.count)) - current.stopped)
        return Step(
            False,
            None,
            f"the shard count is changing from {current.count} to {me.count}; waiting for "
            f"shards {', '.join(f'{k}/{current.count}' for k in waiting)} to stop",
        )
    return Step(
        False,
        None,
        f"the recorded shard count is {current.count}, this daemon runs {me}: it acts only "
        f"after `offerctl shards --set {me.count}` and every shard of {current.count} has "
        "stopped",
    )


def on_exit(current: ShardMap | None, me: Shard) -> ShardMap | None:
    """The map to record when shard `me` stops for good (None: nothing to record)."""
    if current is None or current.count != me.count or me.index in current.stopped:
        return None
    return ShardMap(current.count, current.next, current.stopped | {me.index})


def propose(current: ShardMap | None, count: int, *, force: bool = False) -> ShardMap:
    """The map after the operator asks for `count` shards (`force`: the old ones are gone)."""
    if force or current is None:
        return ShardMap(count)
    if current.count == count:
        return ShardMap(count, None, current.stopped)  # a change asked for is called off
    return ShardMap(current.count, count, current.stopped)


# --- the record's bytes ------------------------------------------------------------------


def dumps(value: ShardMap) -> str:
    return json.dumps(
        {
            "version": MAP_VERSION,
            "count": value.count,
            "next": value.next,
            "stopped": sorted(value.stopped),
        },
        sort_keys=True,
    )


def loads(text: str, where: str) -> ShardMap:
    """The map in `text`; FatalError naming `where` when it is not one."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != MAP_VERSION:
            raise ValueError(f"not a version-{MAP_VERSION} shard map")
        count, nxt, stopped = data["count"], data["next"], data["stopped"]
        numbers = [count, *([] if nxt is None else [nxt]), *stopped]
        if not isinstance(stopped, list) or not all(type(n) is int for n in numbers):
            raise ValueError("count, next and stopped must be whole numbers")
        return ShardMap(count, nxt, frozenset(stopped))
    except (ValueError, KeyError, TypeError) as exc:
        raise FatalError(
            f"{where} is not a shard map offerctl can read ({exc}); "
            "set it again with `offerctl shards --set N --force`"
        ) from None
