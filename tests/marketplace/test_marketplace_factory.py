"""Opening a marketplace from --marketplace / --time-scale / the environment."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest
from marketplace_helpers import payload

from controller.commands.options import add_marketplace_options, marketplace_from_args
from controller.core.errors import UsageError
from controller.core.model import Target
from controller.marketplace.api import idempotency_key
from controller.marketplace.factory import (
    find_git_dir,
    open_marketplace,
    resolve_time_scale,
)
from controller.marketplace.http_client import HttpMarketplace
from controller.marketplace.simulated import SimulatedMarketplace


def git_init(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_marketplace_options(parser)
    return parser.parse_args(argv)


class TestOpenMarketplace:
    """Each URL form opens the right marketplace, in the right place."""

    def test_default_is_the_simulated_marketplace_inside_dot_git(self, tmp_path: Path) -> None:
        repo = git_init(tmp_path / "repo")
        market = open_marketplace(None, repo_git_dir=find_git_dir(repo), time_scale=None, env={})
        assert isinstance(market, SimulatedMarketplace)
        assert market.db_path == (repo / ".git" / "offerctl" / "marketplace.sqlite3").resolve()
        assert market.db_path.is_file()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert status.stdout == ""  # nothing to commit, nothing untracked

    def test_sim_without_a_git_repository_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError, match="sqlite:///"):
            open_marketplace("sim", repo_git_dir=None, time_scale=None, env={})

    def test_sqlite_url_names_the_file(self, tmp_path: Path) -> None:
        db = tmp_path / "x" / "m.db"
        market = open_marketplace(f"sqlite://{db}", repo_git_dir=None, time_scale=2.0, env={})
        assert isinstance(market, SimulatedMarketplace)
        assert market.db_path == db
        assert market.time_scale == 2.0

    def test_http_url_opens_the_http_client(self) -> None:
        market = open_marketplace(
            "http://127.0.0.1:8765/api", repo_git_dir=None, time_scale=None, env={}
        )
        assert isinstance(market, HttpMarketplace)
        assert market.base_url == "http://127.0.0.1:8765/api"

    def test_time_scale_with_an_http_marketplace_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError, match="simulated marketplace only"):
            open_marketplace("https://m.example", repo_git_dir=None, time_scale=10, env={})

    @pytest.mark.parametrize("url", ["ftp://x", "sqlite://", "mysql://db", "http://u:p@h/"])
    def test_bad_urls_are_usage_errors(self, url: str) -> None:
        with pytest.raises(UsageError):
            open_marketplace(url, repo_git_dir=None, time_scale=None, env={})

    def test_faults_and_seed_come_from_the_environment(self, tmp_path: Path) -> None:
        env = {"OFFERCTL_FAULTS": "error=1", "OFFERCTL_SIM_SEED": "4"}
        market = open_marketplace(
            f"sqlite://{tmp_path}/m.db", repo_git_dir=None, time_scale=None, env=env
        )
        assert isinstance(market, SimulatedMarketplace)
        assert market.seed == 4
        with pytest.raises(Exception, match="injected"):
            market.listing("x")

    def test_bad_fault_environment_is_a_usage_error(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="OFFERCTL_FAULTS"):
            open_marketplace(
                f"sqlite://{tmp_path}/m.db",
                repo_git_dir=None,
                time_scale=None,
                env={"OFFERCTL_FAULTS": "error=7"},
            )


class TestTimeScale:
    """--time-scale, then OFFERCTL_TIME_SCALE, then 1."""

    def test_argument_wins_over_environment(self) -> None:
        assert resolve_time_scale(5.0, {"OFFERCTL_TIME_SCALE": "7"}) == 5.0

    def test_environment_is_used_without_an_argument(self) -> None:
        assert resolve_time_scale(None, {"OFFERCTL_TIME_SCALE": "1_000_000"}) == 1e6

    def test_default_is_real_time(self) -> None:
        assert resolve_time_scale(None, {}) == 1.0

    @pytest.mark.parametrize("raw", ["0", "-5", "fast", "inf", "nan"])
    def test_bad_environment_value_is_a_usage_error(self, raw: str) -> None:
        with pytest.raises(UsageError, match="OFFERCTL_TIME_SCALE"):
            resolve_time_scale(None, {"OFFERCTL_TIME_SCALE": raw})

    @pytest.mark.parametrize("raw", ["0", "-1", "x", "nan"])
    def test_bad_flag_value_exits_with_usage(self, raw: str) -> None:
        with pytest.raises(SystemExit) as caught:
            parse("--time-scale", raw)
        assert caught.value.code == 2

    def test_flag_parses_scientific_notation(self) -> None:
        assert parse("--time-scale", "1e6").time_scale == 1e6


class TestMarketplaceFromArgs:
    """The shared command-line options open the marketplace a command talks to."""

    def test_defaults_open_the_repositorys_simulated_marketplace(self, tmp_path: Path) -> None:
        repo = git_init(tmp_path / "repo")
        market = marketplace_from_args(parse(), repo, env={})
        assert isinstance(market, SimulatedMarketplace)
        assert market.db_path.parent == (repo / ".git" / "offerctl").resolve()
        assert market.time_scale == 1.0

    def test_flags_choose_file_and_time_scale(self, tmp_path: Path) -> None:
        args = parse("--marketplace", f"sqlite://{tmp_path}/m.db", "--time-scale", "1e6")
        market = marketplace_from_args(args, tmp_path, env={})
        assert isinstance(market, SimulatedMarketplace)
        assert market.time_scale == 1e6

    def test_policy_defaults_apply_only_without_flags_or_environment(self, tmp_path: Path) -> None:
        repo = git_init(tmp_path / "repo")
        market = marketplace_from_args(parse(), repo, default_time_scale=50.0, env={})
        assert isinstance(market, SimulatedMarketplace)
        assert market.time_scale == 50.0
        env = {"OFFERCTL_TIME_SCALE": "3"}
        market = marketplace_from_args(parse(), repo, default_time_scale=50.0, env=env)
        assert isinstance(market, SimulatedMarketplace)
        assert market.time_scale == 3.0

    def test_environment_names_the_marketplace(self, tmp_path: Path) -> None:
        env = {"OFFERCTL_MARKETPLACE": "http://127.0.0.1:1"}
        market = marketplace_from_args(parse(), tmp_path, default_time_scale=9.0, env=env)
        assert isinstance(market, HttpMarketplace)

    def test_worktrees_share_the_main_repositorys_marketplace(self, tmp_path: Path) -> None:
        repo = git_init(tmp_path / "repo")
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "init"], check=True
        )
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "-q", str(tmp_path / "wt")], check=True
        )
        key = idempotency_key("o", "g")
        main = marketplace_from_args(parse(), repo, env={})
        made = main.submit("o", "g", Target.PREVIEW, payload(), key)
        found = marketplace_from_args(parse(), tmp_path / "wt", env={}).find(key)
        assert found is not None
        assert found.id == made.id

    def test_a_plain_directory_is_not_a_git_repository(self, tmp_path: Path) -> None:
        assert find_git_dir(tmp_path) is None
        with pytest.raises(UsageError):
            marketplace_from_args(parse(), tmp_path, env={})
