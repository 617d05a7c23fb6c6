"""`offerctl run --shard K/N` as processes sharing one remote, and the shard map between them."""

from __future__ import annotations

import copy
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import http, wait_until
from test_run_process import EXAMPLES, Daemon, World, git, settled

from controller.daemon.shardmap import ShardMap
from controller.daemon.shardref import ShardMapRef

pytestmark = pytest.mark.slow(budget=90)

# Shard 0 of 2 owns contoso (it waits for sign-off), shard 1 of 2 owns northwind (a draft).
OFFERS = ["contoso-field-insights", "northwind-loyalty-hub"]


def on_own_checkout(world: World, name: str) -> World:
    """The same remote and marketplace, another clone for another daemon."""
    other = copy.copy(world)
    other.checkout = world.root / name
    git(world.root, "clone", "-q", str(world.remote), str(other.checkout))
    return other


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)


def test_two_shards_split_the_offers_and_a_third_count_waits(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    world = World(tmp_path)
    for offer in OFFERS:
        shutil.copytree(EXAMPLES / offer, world.person / "offers" / offer)
    world.commit("Add two offers")
    daemons += [
        Daemon(world, "--shard", "0/2"),
        Daemon(on_own_checkout(world, "d1"), "--shard", "1/2"),
    ]
    try:
        wait_until(lambda: settled(world, OFFERS), timeout=40, what="every offer to settle")
    except AssertionError:
        raise AssertionError("\n".join(d.log()[-3000:] for d in daemons)) from None
    assert set(world.submissions_per_generation().values()) == {1}  # each submitted once

    stray = Daemon(on_own_checkout(world, "d2"), "--shard", "2/3")
    daemons.append(stray)
    port = stray.port()
    wait_until(lambda: "offerctl shards --set 3" in stray.log(), timeout=15, what="a refusal")
    assert http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 503

    assert daemons[1].stop(signal.SIGTERM) == 0
    current, _ = ShardMapRef(world.checkout, "main", "origin").read()
    assert current == ShardMap(2, None, frozenset({1}))
