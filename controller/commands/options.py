"""Command-line options shared between verbs: the repository, the watched branch, the marketplace.

`--repo DIR` (default: the current directory) names the checkout; `--remote
NAME --branch NAME` the branch a pass reads and pushes.

`--marketplace URL` (default: the simulated marketplace in the repository's
`.git/`; also env `OFFERCTL_MARKETPLACE`) and `--time-scale N` (simulated
only; also env `OFFERCTL_TIME_SCALE`). Precedence: flag, environment, then
(time scale only) `publishing.yaml`, then the built-in default. Where the
marketplace is, like where the GitHub API is (`--github-api-url`, env
`OFFERCTL_GITHUB_API_URL`), is the operator's choice alone: the repository
is written by whoever opens a pull request, and must not pick the host a
token is sent to.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from controller.marketplace.api import Marketplace
from controller.marketplace.factory import (
    ENV_TIME_SCALE,
    find_git_dir,
    open_marketplace,
    parse_time_scale,
)
from controller.signoff.operator import (
    DEFAULT_GITHUB_API_URL,
    ENV_GITHUB_API_URL,
    ENV_GITHUB_TOKEN,
)

ENV_MARKETPLACE = "OFFERCTL_MARKETPLACE"


def add_repo_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", metavar="DIR", default=".", help="repository (default: .)")


def add_branch_options(
    parser: argparse.ArgumentParser,
    *,
    remote_help: str = "configured remote to fetch and push",
    branch_help: str = "branch to reconcile",
) -> None:
    parser.add_argument("--remote", metavar="NAME", help=remote_help)
    parser.add_argument("--branch", metavar="NAME", help=branch_help)


def time_scale_arg(text: str) -> float:
    """argparse type for --time-scale: a bad value is a usage error (exit 2)."""
    try:
        return parse_time_scale(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number greater than 0 (e.g. 1000000 makes a week 0.6 s)"
        ) from None


def add_marketplace_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("marketplace")
    group.add_argument(
        "--marketplace",
        metavar="URL",
        default=None,
        help="sim (default: simulated, state in .git/offerctl/), sqlite:///PATH, "
        f"or an http(s):// marketplace API (env {ENV_MARKETPLACE})",
    )
    group.add_argument(
        "--time-scale",
        metavar="N",
        type=time_scale_arg,
        default=None,
        help="simulated marketplace only: run N times faster than real time; "
        f"1000000 makes a week 0.6 s (env {ENV_TIME_SCALE}; default 1)",
    )
    signoff = parser.add_argument_group("sign-off evidence")
    signoff.add_argument(
        "--github-api-url",
        metavar="URL",
        default=None,
        help="GitHub REST API for the github sign-off provider (env "
        f"{ENV_GITHUB_API_URL}; default {DEFAULT_GITHUB_API_URL}); the token "
        f"{ENV_GITHUB_TOKEN} is sent only there",
    )


def marketplace_from_args(
    args: argparse.Namespace,
    repo_dir: Path,
    *,
    default_time_scale: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Marketplace:
    """Open the marketplace the command line (or environment, or repo policy) names."""
    env = os.environ if env is None else env
    url = getattr(args, "marketplace", None) or env.get(ENV_MARKETPLACE)
    scale = getattr(args, "time_scale", None)
    if scale is None and not env.get(ENV_TIME_SCALE) and not _is_http(url):
        scale = default_time_scale
    return open_marketplace(url, repo_git_dir=find_git_dir(repo_dir), time_scale=scale, env=env)


def _is_http(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("http://", "https://"))
