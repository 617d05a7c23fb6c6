"""The Partner Center marketplace adapter (ingestion API v1, Dynamics 365 CE offers).

Modules: `mapping` (pure: manifest → v1 documents, v1 reads → stages and
findings), `v1` (the API calls), `client` (the Marketplace), `auth` (tokens),
`package` (the package SAS, azure-storage-blob), `state` (what this client
submitted, outside the working tree), `adopt` (pure: which submissions Partner
Center lists as offerctl's own, for a checkout without their record).

Everything that chooses an endpoint or a credential comes from the operator:
- `--marketplace partnercenter` (https://api.partner.microsoft.com/v1.0/ingestion)
  or `partnercenter+https://HOST/PATH`; `partnercenter+http://` for loopback only;
- `OFFERCTL_PARTNERCENTER_TOKEN`, else azure-identity's credential chain;
- `OFFERCTL_PARTNERCENTER_SELLER_ID` → `x-ms-publisherId`;
- `OFFERCTL_PACKAGE_STORAGE` (+ `AZURE_STORAGE_CONNECTION_STRING` or an identity);
- `--poll-interval` / `OFFERCTL_POLL_INTERVAL` (default 60 s);
- `OFFERCTL_DRIFT_INTERVAL` (default 3600 s): how often a resting offer's draft is
  compared with the last generation submitted (docs/DESIGN.md §7).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from controller.core.errors import UsageError
from controller.http import RetryPolicy, check_base_url

from .auth import seller_id, token_source
from .client import DEFAULT_DRIFT_INTERVAL, DEFAULT_POLL_INTERVAL, PartnerCenterMarketplace
from .package import BlobPackageStore, store_from_env
from .state import ClientState
from .v1 import V1Api

PRODUCTION_URL = "https://api.partner.microsoft.com/v1.0/ingestion"
ENV_POLL_INTERVAL = "OFFERCTL_POLL_INTERVAL"
ENV_DRIFT_INTERVAL = "OFFERCTL_DRIFT_INTERVAL"
STATE_RELATIVE = Path("offerctl") / "partnercenter.json"
ENV_STATE = "OFFERCTL_PARTNERCENTER_STATE"

__all__ = ["PRODUCTION_URL", "PartnerCenterMarketplace", "open_partnercenter", "parse_url"]


def parse_url(url: str) -> tuple[str, bool]:
    """The API base URL of `partnercenter[+URL]` and whether plain http is allowed (loopback)."""
    _, plus, rest = url.partition("+")
    if not plus:
        return PRODUCTION_URL, False
    try:
        parsed = check_base_url(rest, allow_http=False)
    except ValueError as exc:
        raise UsageError(f"--marketplace partnercenter+URL: {exc}") from None
    return rest.rstrip("/"), parsed.scheme == "http"


def resolve_poll_interval(value: float | None, env: Mapping[str, str]) -> float:
    return _seconds(value, env, ENV_POLL_INTERVAL, DEFAULT_POLL_INTERVAL, "poll interval")


def resolve_drift_interval(env: Mapping[str, str]) -> float:
    return _seconds(None, env, ENV_DRIFT_INTERVAL, DEFAULT_DRIFT_INTERVAL, "drift interval")


def _seconds(value: float | None, env: Mapping[str, str], name: str, default: float,
             what: str) -> float:  # fmt: skip
    raw: object = value
    if raw is None:
        raw = env.get(name, "").strip() or default
    try:
        seconds = float(str(raw))
    except ValueError:
        raise UsageError(f"{name}={raw!r}: expected seconds, such as {default:g}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"{what} must be a number of seconds >= 0, not {raw!r}")
    return seconds


def open_partnercenter(
    url: str,
    *,
    repo_git_dir: Path | None,
    env: Mapping[str, str] | None = None,
    poll_interval: float | None = None,
    clock: Callable[[], datetime] | None = None,
    policy: RetryPolicy | None = None,
    package_store: BlobPackageStore | None = None,
) -> PartnerCenterMarketplace:
    """A Partner Center marketplace configured from the operator's URL and environment."""
    env = os.environ if env is None else env
    base, allow_http = parse_url(url)
    try:
        seller = seller_id(env)
        store = package_store or store_from_env(env)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    state_path: Path | None
    if env.get(ENV_STATE):
        state_path = Path(env[ENV_STATE])
    elif repo_git_dir is not None:
        state_path = repo_git_dir / STATE_RELATIVE
    else:
        raise UsageError(
            "the Partner Center adapter keeps its record of submissions in the repository's "
            f".git directory, and this is not a git repository; set {ENV_STATE}=PATH"
        )
    tokens = token_source(env)
    api = V1Api(base, token=tokens.token, seller_id=seller, policy=policy, allow_http=allow_http)
    return PartnerCenterMarketplace(
        api,
        state=ClientState(state_path),
        env=env,
        package_store=store,
        poll_interval=resolve_poll_interval(poll_interval, env),
        drift_interval=resolve_drift_interval(env),
        clock=clock,
    )
