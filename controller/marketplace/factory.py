"""Choosing and opening a marketplace from a URL: the one place that knows the URL forms.

- None, "" or "sim": the simulated marketplace in the repository's git
  directory, `<git-dir>/offerctl/marketplace.sqlite3` (never committed; shared
  by every worktree of the repository and by `offerctl marketplace serve`).
- "sqlite://PATH": the simulated marketplace in PATH (`sqlite:///tmp/m.db` is
  `/tmp/m.db`; `sqlite://m.db` is relative to the working directory).
- "http://..." or "https://...": a marketplace REST API (`HttpMarketplace`),
  with a bearer token from `OFFERCTL_MARKETPLACE_TOKEN` when set.
- "partnercenter": Microsoft Partner Center's ingestion API v1;
  "partnercenter+https://HOST/PATH" another endpoint speaking it
  ("partnercenter+http://" only for loopback hosts, i.e. emulators). Its
  state lives in `<git-dir>/offerctl/partnercenter.json`; tokens and the
  package storage come from the environment (see `partnercenter/__init__.py`).
  `--poll-interval` / `OFFERCTL_POLL_INTERVAL` (default 60 s) bound how often
  an in-flight submission is read.

Time scale (simulated only): the argument, else `OFFERCTL_TIME_SCALE`, else 1.
`OFFERCTL_FAULTS` (e.g. `error=0.1,throttle=0.05`) and `OFFERCTL_SIM_SEED`
configure the simulated marketplace's fault injection and duration seed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from controller.core.errors import FatalError, TransientError, UsageError

from .api import Marketplace, MarketplaceError
from .faults import FaultConfig, FaultConfigError
from .http_client import HttpMarketplace
from .simulated import SimulatedMarketplace

ENV_TIME_SCALE = "OFFERCTL_TIME_SCALE"
ENV_FAULTS = "OFFERCTL_FAULTS"
ENV_SEED = "OFFERCTL_SIM_SEED"
ENV_TOKEN = "OFFERCTL_MARKETPLACE_TOKEN"  # noqa: S105 - the variable's name, not a secret
DB_RELATIVE = Path("offerctl") / "marketplace.sqlite3"
SIM_NAMES = frozenset({"", "sim", "simulated"})
PARTNERCENTER = "partnercenter"


def open_marketplace(
    url: str | None,
    *,
    repo_git_dir: Path | None,
    time_scale: float | None,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] | None = None,
    poll_interval: float | None = None,
) -> Marketplace:
    """The marketplace `url` names; raises UsageError for anything malformed."""
    env = os.environ if env is None else env
    url = (url or "").strip()
    if url.lower() == PARTNERCENTER or url.lower().startswith(PARTNERCENTER + "+"):
        if time_scale is not None:
            raise UsageError("--time-scale applies to the simulated marketplace only")
        from .partnercenter import open_partnercenter  # noqa: PLC0415 - azure libs load lazily

        return open_partnercenter(
            url, repo_git_dir=repo_git_dir, env=env, poll_interval=poll_interval, clock=clock
        )
    if url.lower().startswith(("http://", "https://")):
        if time_scale is not None:
            raise UsageError(
                "--time-scale applies to the simulated marketplace only; "
                "give it to `offerctl marketplace serve` instead"
            )
        try:
            return HttpMarketplace(url, token=env.get(ENV_TOKEN) or None)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if url.lower() in SIM_NAMES:
        if repo_git_dir is None:
            raise UsageError(
                "the simulated marketplace keeps its state in the repository's .git directory, "
                "and this is not a git repository; pass --marketplace sqlite:///PATH"
            )
        path = default_db_path(repo_git_dir)
    elif url.startswith("sqlite://"):
        raw = url.removeprefix("sqlite://")
        if not raw:
            raise UsageError("sqlite:// needs a file path, e.g. sqlite:///tmp/marketplace.db")
        path = Path(raw)
    else:
        raise UsageError(
            f"unknown marketplace {url!r}; use sim, sqlite:///PATH, an http(s):// URL, "
            "partnercenter or partnercenter+https://HOST/PATH"
        )
    scale = resolve_time_scale(time_scale, env)
    try:
        faults = FaultConfig.parse(env.get(ENV_FAULTS, ""))
        seed = int(env.get(ENV_SEED, "0") or 0)
    except (FaultConfigError, ValueError) as exc:
        raise UsageError(f"{ENV_FAULTS}/{ENV_SEED}: {exc}") from None
    try:
        return SimulatedMarketplace(
            path,
            time_scale=scale,
            clock=clock,
            seed=seed,
            faults=faults if faults.enabled else None,
        )
    except MarketplaceError as exc:  # the store, not the command line: never exit 2
        raise (TransientError if exc.transient else FatalError)(str(exc)) from None


def default_db_path(git_dir: Path) -> Path:
    return git_dir / DB_RELATIVE


def parse_time_scale(text: str) -> float:
    """A time scale from text (`1e6`, `1_000_000`); ValueError unless finite and > 0."""
    value = float(text.strip())
    check_time_scale(value)
    return value


def check_time_scale(value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"time scale must be a finite number greater than 0, not {value!r}")


def resolve_time_scale(value: float | None, env: Mapping[str, str] | None = None) -> float:
    """The argument, else OFFERCTL_TIME_SCALE, else 1; UsageError when invalid."""
    env = os.environ if env is None else env
    if value is not None:
        try:
            check_time_scale(value)
        except ValueError as exc:
            raise UsageError(f"--time-scale: {exc}") from None
        return float(value)
    raw = env.get(ENV_TIME_SCALE, "").strip()
    if not raw:
        return 1.0
    try:
        return parse_time_scale(raw)
    except ValueError:
        raise UsageError(
            f"{ENV_TIME_SCALE}={raw!r}: expected a number greater than 0, such as 1000000"
        ) from None


def find_git_dir(repo_dir: Path) -> Path | None:
    """The git directory shared by a repository's worktrees, or None if `repo_dir` has none.

    Reads the files git itself reads (`.git` directory or `gitdir:` file, then
    `commondir`), so no git process is needed.
    """
    dot_git = repo_dir / ".git"
    if dot_git.is_dir():
        git_dir = dot_git
    elif dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if not text.startswith("gitdir:"):
            return None
        git_dir = Path(text.removeprefix("gitdir:").strip())
        if not git_dir.is_absolute():
            git_dir = repo_dir / git_dir
    elif (repo_dir / "HEAD").is_file() and (repo_dir / "objects").is_dir():
        git_dir = repo_dir  # a bare repository
    else:
        return None
    common = git_dir / "commondir"
    if common.is_file():
        shared = Path(common.read_text(encoding="utf-8", errors="replace").strip())
        git_dir = shared if shared.is_absolute() else git_dir / shared
    return git_dir.resolve()
