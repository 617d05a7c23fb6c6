"""The command line's shape: every verb's name, help and options, importing nothing heavy.

`controller.cli.build_parser()` builds the whole parser from `VERBS` without
importing any verb's implementation: each verb names its `run(args) -> int`
as "module:function" and `Command` imports it only when that verb runs. So
`offerctl --version`, `--help` and the reference generator never load git,
the daemon, prometheus, watchdog, rich, holidays, jsonschema or the HTTP
client. Keep this module's imports to the standard library: a test imports
`controller.cli` in a fresh interpreter and checks `sys.modules`.

Shared options: `--repo DIR` (default: the current directory) names the
checkout; `--remote NAME --branch NAME` the branch a pass reads and pushes.
`--marketplace URL` (default: the simulated marketplace in the repository's
`.git/`; also env `OFFERCTL_MARKETPLACE`) and `--time-scale N` (simulated
only; also env `OFFERCTL_TIME_SCALE`). Precedence: flag, environment, then
(time scale only) `publishing.yaml`, then the built-in default. Where the
marketplace is, like where the GitHub API is (`--github-api-url`, env
`OFFERCTL_GITHUB_API_URL`) and the Azure DevOps server (`--azure-devops-url`,
env `OFFERCTL_AZURE_DEVOPS_URL`), is the operator's choice alone: the repository
is written by whoever opens a pull request, and must not pick the host a
token is sent to.

Defaults that other modules also name (listen addresses, body limit, colour
and data-format choices) are spelled out here so the parser need not import
those modules; tests/cli/test_parser_registry.py keeps the copies equal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.marketplace.api import Marketplace

ENV_MARKETPLACE = "OFFERCTL_MARKETPLACE"
ENV_TIME_SCALE = "OFFERCTL_TIME_SCALE"  # = controller.marketplace.factory.ENV_TIME_SCALE
ENV_GITHUB_API_URL = "OFFERCTL_GITHUB_API_URL"  # = controller.signoff.operator.ENV_GITHUB_API_URL
ENV_GITHUB_TOKEN = "OFFERCTL_GITHUB_TOKEN"  # noqa: S105 - = signoff.operator.ENV_GITHUB_TOKEN
ENV_GITHUB_STATUS_REPO = "OFFERCTL_GITHUB_STATUS_REPO"  # = controller.commands.run's
ENV_NOTIFY = "OFFERCTL_NOTIFY"  # = controller.notify.sender.ENV_NOTIFY
ENV_NOTIFY_RATE = "OFFERCTL_NOTIFY_RATE"  # = controller.notify.sender.ENV_NOTIFY_RATE
NOTIFY_RATE = "20/minute"  # = controller.notify.sender.DEFAULT_RATE
DEFAULT_GITHUB_API_URL = "https://api.github.com"  # = signoff.operator.DEFAULT_GITHUB_API_URL
ENV_AZURE_DEVOPS_URL = "OFFERCTL_AZURE_DEVOPS_URL"  # = signoff.operator.ENV_AZURE_DEVOPS_URL
ENV_AZURE_DEVOPS_TOKEN = "OFFERCTL_AZURE_DEVOPS_TOKEN"  # noqa: S105 - = signoff.operator's
DEFAULT_AZURE_DEVOPS_URL = "https://dev.azure.com"  # = signoff.operator.DEFAULT_AZURE_DEVOPS_URL
COLOR_CHOICES = ("auto", "always", "never")  # = controller.present.console.COLOR_CHOICES
DATA_FORMATS = ("json", "yaml")  # = controller.present.data.DATA_FORMATS
DAEMON_LISTEN = "127.0.0.1:9464"  # = controller.daemon.http.DEFAULT_LISTEN
WEBHOOK_SECRET_ENV = "OFFERCTL_WEBHOOK_SECRET"  # noqa: S105 - = daemon.webhook.DEFAULT_SECRET_ENV
MARKETPLACE_LISTEN = "127.0.0.1:8765"
MAX_BODY = 64 * 1024 * 1024  # = controller.marketplace.server.DEFAULT_MAX_BODY
STATUS_OUTPUTS = ("table", *DATA_FORMATS)
STATUS_INTERVAL = 2.0  # seconds between `status --watch` refreshes
WAIT_TIMEOUT = "10m"  # `offerctl wait` gives up after this long unless told otherwise
WAIT_INTERVAL = "10s"
# Tuned so that the shipped offers' whole pipeline (a week of certification and four days
# of going live, as the simulator draws them) takes about a minute of wall time.
DEMO_TIME_SCALE = 10_000.0
DEMO_TIMEOUT = 180.0


@dataclass(frozen=True)
class Command:
    """A verb's `run(args) -> int` named as "module:function", imported when it is called."""

    target: str

    def __call__(self, args: argparse.Namespace) -> int:
        module, _, name = self.target.partition(":")
        function: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(module), name
        )
        return int(function(args))


# ------------------------------------------------------------------ shared options


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
    from controller.marketplace.factory import parse_time_scale  # noqa: PLC0415 - lazy

    try:
        return parse_time_scale(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number greater than 0 (e.g. 1000000 makes a week 0.6 s)"
        ) from None


def seconds_arg(text: str) -> float:
    """argparse type for intervals: a number of seconds above 0 and below a week."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 86400 * 7:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number of seconds above 0")
    return value


def add_marketplace_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("marketplace")
    group.add_argument(
        "--marketplace",
        metavar="URL",
        default=None,
        help="sim (default: simulated, state in .git/offerctl/), sqlite:///PATH, "
        "an http(s):// marketplace API, partnercenter or partnercenter+https://HOST/PATH "
        f"(env {ENV_MARKETPLACE})",
    )
    group.add_argument(
        "--time-scale",
        metavar="N",
        type=time_scale_arg,
        default=None,
        help="simulated marketplace only: run N times faster than real time; "
        f"1000000 makes a week 0.6 s (env {ENV_TIME_SCALE}; default 1)",
    )
    group.add_argument(
        "--poll-interval",
        metavar="SECONDS",
        type=float,
        default=None,
        help="Partner Center: read an in-flight submission at most this often "
        "(env OFFERCTL_POLL_INTERVAL; default 60)",
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
    signoff.add_argument(
        "--azure-devops-url",
        metavar="URL",
        default=None,
        help="Azure DevOps server for the azuredevops sign-off provider (env "
        f"{ENV_AZURE_DEVOPS_URL}; default {DEFAULT_AZURE_DEVOPS_URL}; Azure DevOps Server: "
        f"https://HOST/tfs); the token {ENV_AZURE_DEVOPS_TOKEN} is sent only there",
    )


def add_notify_options(parser: argparse.ArgumentParser) -> None:
    """Where notifications go: the operator's apprise URLs, never the repository's."""
    parser.add_argument(
        "--notify",
        metavar="URL",
        action="append",
        default=None,
        help=f"send notifications to this apprise URL (mailto://, json://, slack://, "
        f"msteams://, ...); repeatable; also env {ENV_NOTIFY}, URLs separated by spaces",
    )
    parser.add_argument(
        "--notify-rate",
        metavar="LIMIT",
        default=None,
        help=f"per-target rate limit, e.g. 5/minute;100/hour (default: {NOTIFY_RATE}; "
        f"also env {ENV_NOTIFY_RATE})",
    )


def add_color_options(parser: argparse.ArgumentParser) -> None:
    """`--color WHEN` and `--no-color`, shared by the commands that draw tables."""
    parser.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default="auto",
        help="colour: auto (on a terminal, unless NO_COLOR is set), always, never",
    )
    parser.add_argument(
        "--no-color",
        dest="color",
        action="store_const",
        const="never",
        help="same as --color never",
    )


def marketplace_from_args(
    args: object,  # an argparse.Namespace or wiring.PassOptions: read with getattr
    repo_dir: Path,
    *,
    default_time_scale: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Marketplace:
    """Open the marketplace the command line or the environment names (never a repo file)."""
    from controller.marketplace.factory import (  # noqa: PLC0415 - lazy, see the docstring
        find_git_dir,
        open_marketplace,
    )

    env = os.environ if env is None else env
    url = getattr(args, "marketplace", None) or env.get(ENV_MARKETPLACE)
    scale = getattr(args, "time_scale", None)
    if scale is None and not env.get(ENV_TIME_SCALE) and not _is_http(url):
        scale = default_time_scale
    return open_marketplace(
        url,
        repo_git_dir=find_git_dir(repo_dir),
        time_scale=scale,
        env=env,
        poll_interval=getattr(args, "poll_interval", None),
    )


def _is_http(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("http://", "https://", "partnercenter"))


# ------------------------------------------------------------------ the verbs


@dataclass(frozen=True)
class Verb:
    """One `offerctl` verb: what --help says about it, its options, and what runs it."""

    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: str | None  # "module:function"; None when `arguments` sets `func` itself


def _validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="offer.yaml files, offer folders or folders of offers (default: offers/ of --repo)",
    )
    add_repo_option(parser)
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format"
    )
    parser.add_argument(
        "--format",
        choices=("text", "github"),
        default="text",
        help="text lines, or GitHub Actions ::error annotations",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, metavar="N", default=None, help="worker processes"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (risks certification may flag) as errors",
    )


def _reconcile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "offers",
        nargs="*",
        metavar="OFFER",
        help="evaluate and act on only these offers; the others are left untouched",
    )
    add_repo_option(parser)
    add_branch_options(parser)
    parser.add_argument(
        "--full", action="store_true", help="evaluate every offer, not only the changed ones"
    )
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="summary format"
    )
    add_marketplace_options(parser)
    add_notify_options(parser)


def _run(parser: argparse.ArgumentParser) -> None:
    add_repo_option(parser)
    add_branch_options(parser)
    parser.add_argument(
        "--interval",
        metavar="S",
        type=seconds_arg,
        default=30.0,
        help="seconds between polls of the remote (default: 30)",
    )
    parser.add_argument(
        "--resync",
        metavar="S",
        type=seconds_arg,
        default=300.0,
        help="shortest time between full passes over every offer; longer when passes are "
        "long (default: 300)",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=DAEMON_LISTEN,
        help=f"address for the HTTP endpoints (default: {DAEMON_LISTEN})",
    )
    parser.add_argument(
        "--shard",
        metavar="K/N",
        default=None,
        help="reconcile only offers with sha256(id) %% N == K; K may be `ordinal`: the "
        "host name's trailing -<number> (a StatefulSet pod's index)",
    )
    parser.add_argument(
        "--webhook-secret-env",
        metavar="NAME",
        default=WEBHOOK_SECRET_ENV,
        help="environment variable holding the webhook secret "
        f"(default: {WEBHOOK_SECRET_ENV}; unset: webhook disabled)",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "text"),
        default="auto",
        help="log lines as JSON or text (default: text on a terminal)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_marketplace_options(parser)
    add_notify_options(parser)
    parser.add_argument(
        "--github-status-repo",
        metavar="OWNER/NAME",
        default=None,
        help="after each pass, post a commit status (context offerctl/daemon) on the "
        f"reconciled commit of this GitHub repository; also env {ENV_GITHUB_STATUS_REPO}; "
        f"API from --github-api-url, token from {ENV_GITHUB_TOKEN}",
    )
    parser.add_argument(
        "--status-url",
        metavar="URL",
        default=None,
        help="https link the commit status points to (e.g. where the timeline page is served)",
    )


def _status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("offer", nargs="?", metavar="OFFER", help="one offer id: detailed view")
    add_repo_option(parser)
    parser.add_argument(
        "--rev",
        metavar="REV",
        default="HEAD",
        help="commit or branch to read status from (default: HEAD)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=STATUS_OUTPUTS,
        default="table",
        help="table (default), or the status data as json or yaml",
    )
    parser.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="keep refreshing (in place on a terminal) until interrupted",
    )
    parser.add_argument(
        "--interval",
        metavar="SECONDS",
        type=float,
        default=STATUS_INTERVAL,
        help=f"seconds between refreshes with --watch (default: {STATUS_INTERVAL:g})",
    )
    add_color_options(parser)


def _plan(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("offers", nargs="*", metavar="OFFER", help="show only these offers")
    add_repo_option(parser)
    parser.add_argument(
        "--rev",
        metavar="REV",
        default=None,
        help="commit to plan against (default: HEAD; with --remote, the fetched branch tip)",
    )
    add_branch_options(
        parser,
        remote_help="configured remote to fetch first",
        branch_help="branch a pass would reconcile",
    )
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing would change, 2 when changes are pending, 1 on errors",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", *DATA_FORMATS),
        default="text",
        help="text (default), json or yaml",
    )
    add_color_options(parser)
    add_marketplace_options(parser)


def _pr_check(parser: argparse.ArgumentParser) -> None:
    add_repo_option(parser)
    parser.add_argument(
        "--github-repo",
        metavar="OWNER/NAME",
        default=None,
        help="GitHub repository to post the check to (default: env GITHUB_REPOSITORY)",
    )
    parser.add_argument(
        "--sha",
        metavar="SHA",
        default=None,
        help="commit to post the check on (default: the pull request's head from "
        "GITHUB_EVENT_PATH, else GITHUB_SHA, else HEAD)",
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        default=None,
        help="the pull request's base: its committed statuses are the plan's observations, "
        "and signoff.yaml files added since are reported (default: origin/$GITHUB_BASE_REF)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("markdown", "json"),
        default="markdown",
        help="print the Markdown summary (default) or the requests posted, as JSON",
    )
    parser.add_argument(
        "--no-post", action="store_true", help="do not post to GitHub, even with a token"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (risks certification may flag) as errors, as validate --strict",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, metavar="N", default=None, help="validation worker processes"
    )
    add_marketplace_options(parser)


def _signoff(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("offer", metavar="OFFER", help="offer id (its folder under offers/)")
    add_repo_option(parser)
    parser.add_argument(
        "--from",
        dest="base",
        metavar="REV",
        default="HEAD",
        help="commit to read status from and branch off (default: HEAD)",
    )
    parser.add_argument(
        "--remote",
        metavar="NAME",
        default="origin",
        help="remote named in the printed push command (default: origin)",
    )
    parser.add_argument(
        "--note",
        metavar="TEXT",
        default="",
        help="note for reviewers, stored in signoff.yaml (what you checked)",
    )
    parser.add_argument(
        "--sign",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sign the commit with your git signing key (default: whenever publishing.yaml's "
        "git provider counts only signed approvals, else as commit.gpgSign says)",
    )


def _suspend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("offer", metavar="OFFER", help="offer id (its folder under offers/)")
    add_repo_option(parser)
    parser.add_argument(
        "--branch",
        metavar="NAME",
        default=None,
        help="commit on a new branch NAME off HEAD, for a pull request (default: commit "
        "directly on the checked-out branch)",
    )
    parser.add_argument(
        "--reason", metavar="TEXT", default="", help="why, recorded in the commit message"
    )
    parser.add_argument("--push", action="store_true", help="push the branch to --remote")
    parser.add_argument(
        "--remote", metavar="NAME", default="origin", help="remote for --push (default: origin)"
    )
    parser.add_argument(
        "--sign",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sign the commit with your git signing key (default: as commit.gpgSign says)",
    )


def _wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("offer", metavar="OFFER", help="offer id (its folder under offers/)")
    parser.add_argument(
        "--for",
        dest="condition",
        metavar="CONDITION",
        required=True,
        help="phase=PHASE, condition=TYPE[=STATUS] (default True) or stage=STAGE[=STATE] "
        "(default Succeeded), e.g. phase=Live, condition=Ready, stage=Certification",
    )
    parser.add_argument(
        "--timeout",
        metavar="DURATION",
        default=WAIT_TIMEOUT,
        help=f"give up (exit 1) after this long: 30s, 10m, 2h, 10d (default: {WAIT_TIMEOUT})",
    )
    parser.add_argument(
        "--interval",
        metavar="DURATION",
        default=WAIT_INTERVAL,
        help=f"time between reads of the branch (default: {WAIT_INTERVAL})",
    )
    add_repo_option(parser)
    parser.add_argument(
        "--rev",
        metavar="REV",
        default=None,
        help="commit or branch to read status from, again at each poll (default: HEAD)",
    )
    add_branch_options(
        parser,
        remote_help="fetch this remote at each poll and read --branch from it",
        branch_help="the remote branch the controller writes status to",
    )
    parser.add_argument(
        "--allowed-signers",
        metavar="FILE",
        default=None,
        help="ssh allowed_signers file naming the key the controller signs status commits "
        "with (OFFERCTL_STATUS_SIGNING_KEY); a status it did not sign is ignored "
        "(default: $OFFERCTL_STATUS_ALLOWED_SIGNERS)",
    )
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="believe any committed status.yaml, which anyone who can commit could have "
        "written; every answer says so",
    )


def _history(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("offer", metavar="OFFER", help="offer id (its folder under offers/)")
    add_repo_option(parser)
    parser.add_argument(
        "--rev", metavar="REV", default="HEAD", help="commit to read history from (default: HEAD)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every status commit, also those that did not change the phase",
    )
    parser.add_argument(
        "-n", "--limit", metavar="N", type=int, default=None, help="only the last N entries"
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", *DATA_FORMATS),
        default="table",
        help="table (default), json or yaml",
    )
    add_color_options(parser)


def _shards(parser: argparse.ArgumentParser) -> None:
    add_repo_option(parser)
    add_branch_options(
        parser,
        remote_help="configured remote whose shard map to read or change",
        branch_help="the watched branch (default: the one checked out)",
    )
    parser.add_argument(
        "--set", metavar="N", type=int, default=None, help="ask for N shards (a handover)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --set: record N at once; only when no daemon of the old count runs",
    )


def _import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("offer", metavar="OFFER-ID", help="the offer id in Partner Center")
    parser.add_argument("--force", action="store_true", help="overwrite an existing offer.yaml")
    add_repo_option(parser)
    add_marketplace_options(parser)


def _diff(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("offer", metavar="OFFER", help="offer id (its folder under offers/)")
    parser.add_argument(
        "--against",
        choices=("draft", "preview", "live", "all"),
        default="draft",
        help="which version to compare with (default: draft)",
    )
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format"
    )
    add_repo_option(parser)
    add_marketplace_options(parser)


def _marketplace(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="marketplace_command", metavar="VERB")
    serve = verbs.add_parser(
        "serve",
        help="serve the simulated marketplace as a REST API until SIGTERM/SIGINT",
        description="Serve the simulated marketplace as a JSON REST API; "
        "other commands reach it with --marketplace http://HOST:PORT.",
    )
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=MARKETPLACE_LISTEN,
        help=f"address to bind (default {MARKETPLACE_LISTEN}; port 0 picks a free one)",
    )
    add_repo_option(serve)
    serve.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help="state file (default: <repo>/.git/offerctl/marketplace.sqlite3)",
    )
    serve.add_argument(
        "--time-scale",
        metavar="N",
        type=time_scale_arg,
        default=None,
        help="run N times faster than real time (env OFFERCTL_TIME_SCALE; default 1)",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed for stage durations (default 0)")
    serve.add_argument(
        "--fault-rate",
        "--fault",
        dest="faults",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="inject faults: error=, timeout=, throttle=, reset= rates in [0, 1]; "
        "retry_after=SECONDS, timeout_delay=SECONDS, seed=N (repeatable)",
    )
    serve.add_argument(
        "--max-body",
        metavar="BYTES",
        type=int,
        default=MAX_BODY,
        help=f"largest request body accepted (default {MAX_BODY})",
    )
    serve.add_argument("--quiet", action="store_true", help="do not log requests")
    serve.add_argument(
        "--api",
        choices=("offerctl", "partnercenter"),
        default="offerctl",
        help="offerctl: offerctl's own REST API (default); partnercenter: the Partner Center "
        "ingestion API v1 under /v1.0/ingestion, with an admin API under /_emulator/",
    )
    serve.add_argument(
        "--token",
        metavar="TOKEN",
        default=None,
        help="partnercenter: accept only this bearer token (default: any non-empty one)",
    )
    serve.add_argument(
        "--publisher-id",
        metavar="ID",
        default=None,
        help="partnercenter: require the header x-ms-publisherId with this value",
    )
    serve.add_argument(
        "--no-contract-check",
        dest="contract_check",
        action="store_false",
        help="partnercenter: accept request bodies that break the v1 JSON Schemas "
        "(default: refuse them with 400 and count them in /_emulator/stats)",
    )
    serve.add_argument(
        "--certification-after-signoff",
        action="store_true",
        help="partnercenter: report the Certification step in the live push, after sign-off",
    )
    serve.set_defaults(func=Command("controller.commands.marketplace:run_serve"))
    parser.set_defaults(func=_MissingVerb(parser))


@dataclass(frozen=True)
class _MissingVerb:
    """`offerctl marketplace` alone: print its help, then fail as a usage error."""

    parser: argparse.ArgumentParser

    def __call__(self, args: argparse.Namespace) -> int:
        from controller.core.errors import UsageError  # noqa: PLC0415 - lazy

        self.parser.print_help(sys.stderr)
        raise UsageError("say what to do with the marketplace, e.g. `offerctl marketplace serve`")


def _demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        type=Path,
        help="scratch directory to create (must not exist or be empty; default: a new temp "
        "dir, removed afterwards unless --keep)",
    )
    parser.add_argument(
        "--time-scale",
        metavar="N",
        type=time_scale_arg,
        default=DEMO_TIME_SCALE,
        help=f"simulated marketplace speed-up (default: {DEMO_TIME_SCALE:g}, about a minute)",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=DEMO_TIMEOUT,
        help=f"give up when the offers have not settled after S seconds "
        f"(default: {DEMO_TIMEOUT:g})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        type=Path,
        help="save headless-Chromium screenshots of the daemon's timeline page (`/` on its "
        "--listen): PNG once every offer has settled, and PNG's name with -signoff as the "
        "first offer awaits sign-off (needs Playwright and Chromium: `make setup`)",
    )


# In the order `offerctl --help` lists them; each runs from controller/commands/<verb>.py.
VERBS: tuple[Verb, ...] = (
    Verb(
        "validate",
        help="check offer manifests against the schema and the marketplace's rules",
        description=(
            "Validate offer.yaml files: safe YAML, the JSON Schema, then checks a schema "
            "cannot express (folder name, unique ids, assets, markets, HTML, secrets) and "
            "precheck, the certification rules the marketplace runs (virus scan, AppSource "
            "package structure, image sizes, links, placeholder text). Without PATHs the "
            "whole repository: publishing.yaml, each signoff.yaml, CODEOWNERS and misnamed "
            "files too. Errors read FILE:LINE:COL: error: MESSAGE (at JSON-PATH)."
        ),
        arguments=_validate,
        run="controller.commands.validate:run",
    ),
    Verb(
        "reconcile",
        help="one reconcile pass: validate, drive offers through the marketplace, commit status",
        description=(
            "Read offers from a commit (the remote branch's tip with --remote, else HEAD of "
            "the checked-out branch), move each toward its target, and commit status.yaml "
            "changes in one commit (pushed with --remote). With OFFER ids, only those offers "
            "are evaluated and acted upon; the others' status is not rewritten."
        ),
        arguments=_reconcile,
        run="controller.commands.reconcile:run",
    ),
    Verb(
        "run",
        help="the daemon: watch the repository, reconcile, write status, until SIGTERM",
        description=(
            "Reconcile whenever something changes: a commit on the watched branch, an edit "
            "under offers/, a push reported by webhook or seen by polling the remote, or an "
            "offer's next stage coming due. Serves the read-only timeline page at /, "
            "/healthz, /readyz, /metrics and POST /hooks/git on --listen."
        ),
        arguments=_run,
        run="controller.commands.run:run",
    ),
    Verb(
        "shards",
        help="the shard count the `run --shard K/N` daemons act under; change it",
        description=(
            "Show the shard map of the watched branch (refs/offerctl/shards/BRANCH, on "
            "--remote when given), or ask for N shards with --set N: daemons of the old "
            "count stop after their pass, and those of N take over once all have stopped."
        ),
        arguments=_shards,
        run="controller.commands.shards:run",
    ),
    Verb(
        "status",
        help="table of offers: phase, stage progress, time in phase, ETA, Ready",
        description=(
            "Show where offers stand, from the status.yaml files committed at HEAD (or --rev): "
            "what the controller last wrote, not the working tree. Needs no marketplace "
            "access. With OFFER, a detailed view: stages, conditions, feedback with the "
            "manifest paths it points at, sign-off and recent history."
        ),
        arguments=_status,
        run="controller.commands.status:run",
    ),
    Verb(
        "wait",
        help="block until an offer's committed status meets a condition (exit 0), or not (1)",
        description=(
            "Poll the status committed at HEAD (or --rev; or a remote branch, fetched each "
            "time) until the offer meets --for: phase=PHASE, condition=TYPE[=STATUS] or "
            "stage=STAGE[=STATE]. Only a status written for the manifest at that commit "
            "counts. Exit 0 when met; 1 on timeout or as soon as the offer cannot get there "
            "without a change (e.g. certification rejected while waiting for Live); 2 on "
            "usage errors."
        ),
        arguments=_wait,
        run="controller.commands.wait:run",
    ),
    Verb(
        "plan",
        help="what the next reconcile pass would do per offer, and why; changes nothing",
        description=(
            "Validate every offer, ask the marketplace where each stands, and decide as a "
            "reconcile pass would, then stop: nothing is submitted, cancelled or committed. "
            "Each offer shows its phase now and next, the marketplace calls the pass would "
            "make (submit, cancel, go live, withdraw) or what it waits for, and why."
        ),
        arguments=_plan,
        run="controller.commands.plan:run",
    ),
    Verb(
        "pr-check",
        help="for CI: validate and plan a pull request; post a GitHub check and job summary",
        description=(
            "Validate the checkout and plan its HEAD (observations from the committed statuses "
            "of --base), then post a check run named offerctl (findings as annotations, the "
            "plan per offer, the estimated live dates; for a pull request adding signoff.yaml, "
            "the generation it signs off and the preview) to the GitHub API the operator names "
            "(--github-api-url, token only from OFFERCTL_GITHUB_TOKEN), or a commit status when "
            "the token may not create check runs. Writes the Markdown summary, with a Mermaid "
            "gantt of each offer's stages against the documented maximums, to stdout and to "
            "$GITHUB_STEP_SUMMARY. Exit 1 when validation finds an error."
        ),
        arguments=_pr_check,
        run="controller.commands.pr_check:run",
    ),
    Verb(
        "signoff",
        help="branch with signoff.yaml for the generation awaiting sign-off",
        description="Write offers/OFFER/signoff.yaml for the generation awaiting sign-off "
        "onto a new branch signoff/OFFER-<generation>, ready to push and open as a pull "
        "request. Your working tree is not touched.",
        arguments=_signoff,
        run="controller.commands.signoff:run",
    ),
    Verb(
        "suspend",
        help="commit spec.suspend: true for an offer: observe it, send nothing",
        description="Set spec.suspend: true in offers/OFFER/offer.yaml as committed at HEAD, "
        "changing that one line, and commit it with your git identity: directly on the "
        "checked-out branch, or with --branch on a new branch for a pull request. A "
        "suspended offer keeps its status up to date but offerctl sends nothing to the "
        "marketplace for it. Refused while offer.yaml has uncommitted changes.",
        arguments=_suspend,
        run="controller.commands.suspend:run",
    ),
    Verb(
        "resume",
        help="commit spec.suspend: false for a suspended offer",
        description="Set spec.suspend: false in offers/OFFER/offer.yaml as committed at HEAD, "
        "changing that one line, and commit it as `offerctl suspend` does; offerctl then "
        "drives the offer toward its target again.",
        arguments=_suspend,
        run="controller.commands.resume:run",
    ),
    Verb(
        "history",
        help="an offer's phase transitions, from the git log of its status.yaml",
        description=(
            "List when an offer moved from phase to phase, with the commit that recorded "
            "each move, from the first-parent git history of offers/OFFER/status.yaml at "
            "HEAD (or --rev). Oldest first."
        ),
        arguments=_history,
        run="controller.commands.history:run",
    ),
    Verb(
        "import",
        help="write offers/<id>/ from an offer that exists in the marketplace",
        description="Read an offer from Partner Center (its draft) and write "
        "offers/OFFER-ID/offer.yaml with its media and package.",
        arguments=_import,
        run="controller.commands.import_:run",
    ),
    Verb(
        "diff",
        help="manifest vs the marketplace's draft/preview/live, field by field",
        description="Compare offers/OFFER/offer.yaml with what Partner Center holds for the "
        "offer: its draft (default), its latest preview or its live version.",
        arguments=_diff,
        run="controller.commands.diff:run",
    ),
    Verb(
        "marketplace",
        help="the simulated marketplace (serve it over HTTP)",
        description="Work with the simulated marketplace.",
        arguments=_marketplace,
        run=None,
    ),
    Verb(
        "demo",
        help="run the daemon on a scratch copy of the example offers, sign-off included",
        description=(
            "Copy the shipped example offers into a scratch repository with a bare origin, "
            "run `offerctl run` on it against the simulated marketplace (time compressed so "
            "the whole pipeline takes about a minute), sign off the offer that awaits it as a "
            "reviewed merge, and print the status table once every offer has settled."
        ),
        arguments=_demo,
        run="controller.commands.demo:run",
    ),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add every verb's parser; each parser's `func` imports its verb only when run."""
    for verb in VERBS:
        parser = subparsers.add_parser(verb.name, help=verb.help, description=verb.description)
        verb.arguments(parser)
        if verb.run is not None:
            parser.set_defaults(func=Command(verb.run))
