"""Bearer tokens for Partner Center, from the operator's environment only.

Order: `OFFERCTL_PARTNERCENTER_TOKEN` (a token the operator already has, e.g.
from `az account get-access-token --resource https://api.partner.microsoft.com`),
else azure-identity's `DefaultAzureCredential` (client secret from
AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload identity for
GitHub Actions OIDC, managed identity, Azure CLI) with the Partner Center
scope. Tokens are cached until shortly before they expire. A token never
appears in a message: errors name the variable, not its value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from controller.marketplace.api import MarketplaceError

ENV_TOKEN = "OFFERCTL_PARTNERCENTER_TOKEN"  # noqa: S105 - the variable's name, not a secret
ENV_SELLER_ID = "OFFERCTL_PARTNERCENTER_SELLER_ID"
SCOPE = "https://api.partner.microsoft.com/.default"
REFRESH_MARGIN = 300.0  # renew this many seconds before expiry


class TokenSource(Protocol):
    def token(self) -> str: ...


class StaticToken:
    """A token the operator handed us; used as is."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"


class CredentialToken:
    """azure-identity's credential chain, cached until REFRESH_MARGIN before expiry."""

    def __init__(
        self, credential_factory: Callable[[], object] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self._factory = credential_factory
        self._credential: object | None = None
        self._token = ""
        self._expires = 0.0
        self._now = now

    def token(self) -> str:
        if self._token and self._now() < self._expires - REFRESH_MARGIN:
            return self._token
        try:
            from azure.core.exceptions import ClientAuthenticationError  # noqa: PLC0415
            from azure.identity import DefaultAzureCredential  # noqa: PLC0415
        except ImportError:  # pragma: no cover - a declared dependency
            raise MarketplaceError("azure-identity is not installed", transient=False) from None
        if self._credential is None:
            self._credential = (self._factory or DefaultAzureCredential)()
        try:
            access = self._credential.get_token(SCOPE)  # type: ignore[attr-defined]
        except ClientAuthenticationError:
            raise MarketplaceError(
                f"no Partner Center credential: set {ENV_TOKEN}, or AZURE_TENANT_ID, "
                "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or sign in with `az login`",
                transient=False,
            ) from None
        self._token = str(access.token)
        self._expires = float(access.expires_on)
        return self._token

    def __repr__(self) -> str:
        return "CredentialToken()"


def token_source(env: Mapping[str, str]) -> TokenSource:
    """The operator's token if set, else the azure-identity chain."""
    given = env.get(ENV_TOKEN, "").strip()
    if given:
        return StaticToken(given)
    return CredentialToken()


def seller_id(env: Mapping[str, str]) -> str:
    """The numeric seller id for `x-ms-publisherId`, or ''; ValueError if not a positive number."""
    raw = env.get(ENV_SELLER_ID, "").strip()
    if raw and (not raw.isdigit() or int(raw) <= 0):
        raise ValueError(f"{ENV_SELLER_ID} must be a positive number: the Partner Center seller id")
    return raw
