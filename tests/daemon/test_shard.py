"""`--shard K/N`: parsing, and a stable assignment that covers every offer exactly once."""

from __future__ import annotations

import hashlib

import pytest

from controller.core.errors import UsageError
from controller.daemon.shard import ALL_SHARDS, Shard, parse_shard, shard_of

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
