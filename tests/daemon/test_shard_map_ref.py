"""The shard map in git: compare-and-swap locally and on a remote, the fence, `offerctl shards`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from git_helpers import GitRepos

from controller.cli import main
from controller.commands.run import ReconcilerPass
from controller.core.errors import TransientError
from controller.daemon.shard import Shard
from controller.daemon.shardmap import ShardMap
from controller.daemon.shardref import MapMoved, ShardFence, ShardMapRef


@pytest.fixture
def remote(gitrepos: GitRepos) -> Path:
    return gitrepos.bare(files={"offers/.keep": ""})


def test_a_local_map_moves_only_from_the_map_it_was_read_as(gitrepos: GitRepos) -> None:
    repo = gitrepos.init(files={"a": "1"})
    ref = ShardMapRef(repo, "main")
    assert ref.read() == (None, None)
    first = ref.write(ShardMap(3), None)
    assert ref.read() == (ShardMap(3), first)
    with pytest.raises(MapMoved):
        ref.write(ShardMap(4), None)  # someone recorded a map since "none" was read
    second = ref.write(ShardMap(3, 4), first)
    with pytest.raises(MapMoved):
        ref.write(ShardMap(5), first)
    assert ref.read() == (ShardMap(3, 4), second)
    assert gitrepos.status(repo) == ""  # the branch and the working tree are untouched


def test_two_checkouts_racing_on_a_remote_map_cannot_both_win(
    gitrepos: GitRepos, remote: Path
) -> None:
    one = ShardMapRef(gitrepos.clone(remote, "one"), "main", "origin")
    two = ShardMapRef(gitrepos.clone(remote, "two"), "main", "origin")
    assert two.read() == (None, None)
    one.write(ShardMap(2), None)
    with pytest.raises(MapMoved):
        two.write(ShardMap(7), None)
    current, oid = two.read()
    assert current == ShardMap(2)
    _, same = one.read()
    assert same == oid
    one.write(ShardMap(2, 3), oid)
    with pytest.raises(MapMoved):
        two.write(ShardMap(2, None, frozenset({1})), oid)  # based on a map that is gone
    assert two.read()[0] == ShardMap(2, 3)
    assert gitrepos.run(remote, "rev-parse", "main") == gitrepos.run(
        gitrepos.root / "one", "rev-parse", "origin/main"
    )  # the watched branch never moved


def test_an_unreachable_remote_is_a_transient_error(gitrepos: GitRepos, remote: Path) -> None:
    clone = gitrepos.clone(remote, "c")
    gitrepos.run(clone, "remote", "set-url", "origin", str(gitrepos.root / "gone.git"))
    with pytest.raises(TransientError, match="could not read the shard map"):
        ShardMapRef(clone, "main", "origin").read()


def _shards(*argv: str) -> int:
    return main(["shards", *argv])


def test_changing_n_hands_over_with_no_overlap_and_no_gap(
    gitrepos: GitRepos, remote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two shards of 2 run; the operator asks for 3; the old ones stop, then the new act."""
    old_home, new_home = gitrepos.clone(remote, "old"), gitrepos.clone(remote, "new")

    def fence(home: Path, k: int, n: int) -> ShardFence:
        return ShardFence(ShardMapRef(home, "main", "origin"), Shard(k, n))

    old = [fence(old_home, k, 2) for k in range(2)]
    new = [fence(new_home, k, 3) for k in range(3)]
    assert [f.check().act for f in old] == [True, True]
    refused = new[0].check()
    assert not refused.act and "offerctl shards --set 3" in refused.reason

    where = ("--repo", str(new_home), "--remote", "origin", "--branch", "main")
    assert _shards(*where, "--set", "3") == 0
    assert "2 shards, changing to 3" in capsys.readouterr().out

    assert "waiting for shards 0/2, 1/2" in new[0].check().reason
    assert not old[0].check().act  # its last pass ended: it stops
    assert not new[1].check().act
    old[1].release()  # SIGTERM: the pod is replaced
    assert [f.check().act for f in new] == [True, True, True]
    assert not old[0].check().act  # an old pod not yet replaced stays idle
    assert _shards(*where) == 0
    assert capsys.readouterr().out.strip() == "origin:refs/offerctl/shards/main: 3 shards"


def test_force_records_a_count_when_an_old_shard_died_without_saying(
    gitrepos: GitRepos, remote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = gitrepos.clone(remote, "c")
    dead = ShardFence(ShardMapRef(home, "main", "origin"), Shard(0, 1))
    assert dead.check().act  # then SIGKILL: it never records that it stopped
    where = ("--repo", str(home), "--remote", "origin", "--branch", "main")
    assert _shards(*where, "--set", "2") == 0
    waiting = ShardFence(ShardMapRef(home, "main", "origin"), Shard(1, 2))
    assert not waiting.check().act
    assert _shards(*where, "--set", "2", "--force") == 0
    assert waiting.check().act
    assert "2 shards" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [(("--force",), "--force goes with --set"), (("--set", "0"), "--set must be between")],
)
def test_shards_usage_errors_exit_2(
    gitrepos: GitRepos, argv: tuple[str, ...], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = gitrepos.init(files={"a": "1"})
    assert _shards("--repo", str(repo), *argv) == 2
    assert complaint in capsys.readouterr().err


def test_a_shard_that_may_not_act_runs_no_pass(gitrepos: GitRepos) -> None:
    repo = gitrepos.init(files={"a": "1"})
    ShardMapRef(repo, "main").write(ShardMap(3), None)
    never: Any = None  # the reconciler: touching it would raise
    adapter = ReconcilerPass(
        never,
        never,
        in_flight_poll=60.0,
        fence=ShardFence(ShardMapRef(repo, "main"), Shard(0, 2)),
        fence_retry=7.0,
    )
    with pytest.raises(TransientError, match="not reconciling: the recorded shard count is 3") as e:
        adapter(None)
    assert e.value.retry_after == 7.0
