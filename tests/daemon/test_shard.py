"""`--shard K/N`: parsing, and a stable assignment that covers every offer exactly once."""

from __future__ import annotations

import hashlib
import random

import pytest

from controller.core.errors import FatalError, UsageError
from controller.daemon.shard import ALL_SHARDS, Shard, parse_shard, shard_of
from controller.daemon.shardmap import ShardMap, decide, dumps, loads, on_exit, propose

OFFERS = [f"offer-{i:04d}" for i in range(2000)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0/1", Shard(0, 1)),
        ("2/3", Shard(2, 3)),
        (" 1 / 4 ", Shard(1, 4)),
        ("0/1024", Shard(0, 1024)),
    ],
)
def test_valid_shards_parse(text: str, expected: Shard) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("3/3", "K counts from 0"),
        ("1/0", "N must be between"),
        ("0/5000", "N must be between"),
        ("-1/3", "must look like K/N"),
        ("ordinal", "must look like K/N"),
        ("ord/3", "must look like K/N"),
        ("1", "must look like K/N"),
        ("a/b", "must look like K/N"),
        ("", "must look like K/N"),
    ],
)
def test_invalid_shards_are_usage_errors_that_say_why(text: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        parse_shard(text)


def test_the_assignment_is_the_documented_hash() -> None:
    # Pinned: changing the hash would silently move offers between running daemons.
    for offer in ("contoso-field-insights", "a", "offer-0001"):
        expected = int(hashlib.sha256(offer.encode()).hexdigest(), 16) % 7
        assert shard_of(offer, 7) == expected
    assert [shard_of("contoso-field-insights", n) for n in (2, 3, 5)] == [
        int(hashlib.sha256(b"contoso-field-insights").hexdigest(), 16) % n for n in (2, 3, 5)
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_every_offer_belongs_to_exactly_one_shard(count: int) -> None:
    shards = [Shard(k, count) for k in range(count)]
    for offer in OFFERS:
        assert sum(s.owns(offer) for s in shards) == 1


def test_shards_share_the_offers_roughly_evenly() -> None:
    counts = [sum(Shard(k, 4).owns(o) for o in OFFERS) for k in range(4)]
    assert all(400 <= c <= 600 for c in counts), counts


def test_the_single_shard_owns_everything() -> None:
    assert all(ALL_SHARDS.owns(o) for o in OFFERS)
    assert str(parse_shard("1/3")) == "1/3"


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("offerctl-0", Shard(0, 3)),
        ("offerctl-2", Shard(2, 3)),
        ("my-set-1.offerctl.ns.svc.cluster.local", Shard(1, 3)),
    ],
)
def test_ordinal_takes_k_from_the_statefulset_pod_name(hostname: str, expected: Shard) -> None:
    assert parse_shard("ordinal/3", hostname=hostname) == expected


@pytest.mark.parametrize(
    ("hostname", "complaint"),
    [
        ("offerctl", "does not end in -<number>"),
        ("offerctl-x", "does not end in -<number>"),
        ("offerctl-3", "K counts from 0"),  # ordinals.start moved past N, or replicas > N
    ],
)
def test_ordinal_without_a_usable_pod_index_is_a_usage_error(hostname: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        parse_shard("ordinal/3", hostname=hostname)


def test_ordinal_reads_this_hosts_name_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "offerctl-1")
    assert parse_shard("ordinal/2") == Shard(1, 2)


# --- changing N: the shard map's handover (controller/daemon/shardmap.py) ---------------


def test_the_first_shard_records_its_count_and_acts() -> None:
    step = decide(None, Shard(1, 3))
    assert step.act and step.write == ShardMap(3)


def test_a_shard_of_another_count_waits_until_the_operator_asks_for_it() -> None:
    step = decide(ShardMap(3), Shard(0, 4))
    assert not step.act and step.write is None
    assert "offerctl shards --set 4" in step.reason


def test_old_shards_stop_once_a_change_is_asked_and_new_ones_wait_for_all_of_them() -> None:
    asked = propose(ShardMap(3), 4)
    assert asked == ShardMap(3, 4)
    waiting = decide(asked, Shard(3, 4))
    assert not waiting.act and "waiting for shards 0/3, 1/3, 2/3" in waiting.reason
    current = asked
    for k in range(3):
        step = decide(current, Shard(k, 3))
        assert not step.act and step.write is not None
        current = step.write
        assert not decide(current, Shard(k, 3)).act  # stays stopped
    takeover = decide(current, Shard(3, 4))
    assert takeover.act and takeover.write == ShardMap(4)
    assert decide(ShardMap(4), Shard(0, 4)).act
    assert not decide(ShardMap(4), Shard(0, 3)).act  # an old pod not yet replaced


def test_a_stopped_shard_restarted_without_a_change_asked_takes_part_again() -> None:
    stopped = on_exit(ShardMap(2), Shard(1, 2))
    assert stopped == ShardMap(2, None, frozenset({1}))
    step = decide(stopped, Shard(1, 2))
    assert step.act and step.write == ShardMap(2)
    assert on_exit(ShardMap(3), Shard(0, 2)) is None  # not its count: nothing to record


def test_asking_for_the_current_count_calls_a_change_off_and_force_skips_the_wait() -> None:
    assert propose(ShardMap(3, 4, frozenset({0})), 3) == ShardMap(3, None, frozenset({0}))
    assert propose(ShardMap(3, 4, frozenset({0})), 4, force=True) == ShardMap(4)
    assert propose(None, 5) == ShardMap(5)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        '{"version": 1, "count": 0, "next": null, "stopped": []}',
        '{"version": 1, "count": 2, "next": 2, "stopped": []}',
        '{"version": 1, "count": 2, "next": null, "stopped": [5]}',
        '{"version": 1, "count": "2", "next": null, "stopped": []}',
    ],
)
def test_an_unreadable_map_is_a_fatal_error_that_says_how_to_reset_it(text: str) -> None:
    with pytest.raises(FatalError, match="--set N --force"):
        loads(text, "refs/offerctl/shards/main")


def test_a_map_round_trips() -> None:
    value = ShardMap(3, 5, frozenset({0, 2}))
    assert loads(dumps(value), "x") == value


@pytest.mark.parametrize("seed", range(25))
def test_no_offer_is_handled_by_two_shards_during_a_random_rollout(seed: int) -> None:
    """Shards of 3 and of 5 (and 2, scaled down) check in any order; the CAS makes each
    decide-and-write atomic, as the ref's compare-and-swap does. A shard is mid-pass from
    a check that let it act until its next check. At every step, the shards mid-pass
    must own disjoint offers, and once every old shard has stopped the new ones act."""
    rng = random.Random(seed)  # noqa: S311 - a schedule, not a secret
    old_count, new_count = 3, rng.choice([2, 5])
    shards = [Shard(k, old_count) for k in range(old_count)]
    shards += [Shard(k, new_count) for k in range(new_count)]
    owned = {s: frozenset(o for o in OFFERS[:300] if s.owns(o)) for s in shards}
    current: ShardMap | None = None
    acting: set[Shard] = set()
    asked_at = rng.randrange(5, 30)
    exited: set[Shard] = set()
    for tick in range(200):
        if tick == asked_at:
            current = propose(current, new_count)
        live = [s for s in shards if s not in exited]
        shard = rng.choice(live)
        acting.discard(shard)  # its pass (if any) ended: it checks again
        if shard.count == old_count and tick > asked_at and rng.random() < 0.1:
            update = on_exit(current, shard)  # SIGTERM: the pod is replaced
            current = update or current
            exited.add(shard)
            continue
        step = decide(current, shard)
        current = step.write or current
        if step.act:
            acting.add(shard)
        handled = sum(len(owned[s]) for s in acting)
        assert handled == len(frozenset().union(*(owned[s] for s in acting))), (
            seed,
            tick,
            sorted(map(str, acting)),
        )
    assert current is not None
    for shard in shards:
        if shard.count == old_count and shard not in exited:
            current = decide(current, shard).write or current
    for k in range(new_count):
        step = decide(current, Shard(k, new_count))
        current = step.write or current
        assert step.act, (seed, str(current))
