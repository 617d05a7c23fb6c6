"""Where the AppSource package zip lives, as the SAS URL Partner Center reads it from.

- `technicalConfiguration.packageLocationUrl` (+ `sasTokenSecretRef`, the name
  of the environment variable holding the SAS query): used as given.
- only `packageFile`: the zip is uploaded, named by its content hash, to the
  operator's container (`OFFERCTL_PACKAGE_STORAGE=https://ACCOUNT.blob.core.windows.net/C`,
  credentials from `AZURE_STORAGE_CONNECTION_STRING` or azure-identity), and
  a read-only, https-only SAS valid SAS_DAYS days is handed out. A SAS with
  less than RENEW_DAYS left is replaced by a fresh one.

Only this module touches azure-storage-blob. A SAS never appears in an error
message: errors name the blob and the variable, not the URL's query.
"""

from __future__ import annotations

import contextlib
import hashlib
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.marketplace.api import MarketplaceError

ENV_STORAGE = "OFFERCTL_PACKAGE_STORAGE"
ENV_CONNECTION = "AZURE_STORAGE_CONNECTION_STRING"
SAS_DAYS = 45
RENEW_DAYS = 30
# Variables a manifest may never name as its SAS: the controller's own credentials.
_FORBIDDEN_PREFIXES = ("OFFERCTL_", "AZURE_", "GITHUB_", "ACTIONS_", "ARM_")


class PackageError(MarketplaceError):
    """The package location cannot be produced; the message says what to set."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message, transient=transient)


def sas_expiry(uri: str) -> datetime | None:
    """The `se` (signed expiry) of a SAS URL, or None when absent or unreadable."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
    values = query.get("se")
    if not values:
        return None
    try:
        when = datetime.fromisoformat(values[0].replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def needs_renewal(uri: str, now: datetime) -> bool:
    expiry = sas_expiry(uri)
    return expiry is None or expiry - now < timedelta(days=RENEW_DAYS)


def secret_from_env(name: str, env: Mapping[str, str]) -> str:
    """The value of a manifest's `*SecretRef` variable; never one of the controller's own."""
    if not name:
        raise PackageError("a secret reference (…SecretRef) is empty")
    if name.upper().startswith(_FORBIDDEN_PREFIXES):
        raise PackageError(
            f"the secret reference {name!r} names one of the controller's own credential "
            "variables; give the offer a variable of its own"
        )
    value = env.get(name, "").strip()
    if not value:
        raise PackageError(f"the secret variable {name} (named in offer.yaml) is not set in the "
                           "controller's environment")  # fmt: skip
    return value


def given_location(tech: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    """packageLocationUrl with its SAS from the named variable; None if the manifest has none."""
    url = tech.get("packageLocationUrl")
    if not url:
        return None
    ref = str(tech.get("sasTokenSecretRef", "") or "")
    if not ref:
        return str(url)
    if ref.upper().startswith(_FORBIDDEN_PREFIXES):
        raise PackageError(
            f"technicalConfiguration.sasTokenSecretRef {ref!r} names one of the controller's "
            "own credential variables; use a variable of its own for the package SAS"
        )
    sas = env.get(ref, "").strip().lstrip("?")
    if not sas:
        raise PackageError(
            f"the package SAS variable {ref} (technicalConfiguration.sasTokenSecretRef) is not "
            "set in the controller's environment"
        )
    return f"{url}?{sas}"


class BlobPackageStore:
    """The operator's blob container: upload by content hash, hand out read-only SAS URLs."""

    def __init__(
        self,
        container_url: str,
        *,
        connection_string: str = "",
        credential: Any = None,
        now: Callable[[], datetime] | None = None,
        sas_days: int = SAS_DAYS,
    ) -> None:
        parts = urllib.parse.urlsplit(container_url)
        segments = [s for s in parts.path.split("/") if s]
        if parts.scheme not in ("https", "http") or not parts.hostname or not segments:
            raise ValueError(
                f"{ENV_STORAGE} must be https://ACCOUNT.blob.core.windows.net/CONTAINER"
            )
        if parts.query:
            raise ValueError(f"{ENV_STORAGE} must not carry a query; give credentials separately")
        self.container_url = container_url.rstrip("/")
        self.container = segments[-1]
        self._connection_string = connection_string
        self._credential = credential
        self._now = now or (lambda: datetime.now(UTC))
        self.sas_days = sas_days
        self.uploads = 0  # for tests and benchmarks

    def location(self, content: bytes) -> str:
        """A SAS URL for `content`, uploading it first when the container lacks it."""
        from azure.core.exceptions import (  # noqa: PLC0415
            AzureError,
            ResourceExistsError,
            ResourceNotFoundError,
        )
        from azure.storage.blob import (  # noqa: PLC0415
            BlobSasPermissions,
            BlobServiceClient,
            ContainerClient,
            generate_blob_sas,
        )

        name = hashlib.sha256(content).hexdigest() + ".zip"
        try:
            if self._connection_string:
                service = BlobServiceClient.from_connection_string(self._connection_string)
                container = service.get_container_client(self.container)
            else:
                container = ContainerClient.from_container_url(
                    self.container_url, credential=self._credential or _default_credential()
                )
                service = BlobServiceClient(
                    container.primary_endpoint.rsplit("/", 1)[0],
                    credential=self._credential or _default_credential(),
                )
            blob = container.get_blob_client(name)
            if not blob.exists():
                try:
                    blob.upload_blob(content, overwrite=False)
                except ResourceNotFoundError:
                    # A fresh container name: make it (private), then upload once more.
                    with contextlib.suppress(ResourceExistsError):
                        container.create_container()
                    blob.upload_blob(content, overwrite=False)
                    self.uploads += 1
                except ResourceExistsError:
                    pass  # uploaded meanwhile: same name, same content
                else:
                    self.uploads += 1
            now = self._now()
            start = now - timedelta(minutes=5)  # clock skew
            expiry = now + timedelta(days=self.sas_days)
            permission = BlobSasPermissions(read=True)
            account_key = getattr(service.credential, "account_key", None)
            # Signed with the account key when we hold one, else a user delegation key.
            signer: dict[str, Any] = (
                {"account_key": account_key}
                if account_key
                else {"user_delegation_key": service.get_user_delegation_key(start, expiry)}
            )
            sas = generate_blob_sas(
                account_name=service.account_name or "",
                container_name=self.container,
                blob_name=name,
                permission=permission,
                start=start,
                expiry=expiry,
                protocol="https",
                **signer,
            )
        except AzureError as exc:
            status = getattr(exc, "status_code", None)
            raise PackageError(
                f"package storage: cannot upload or sign blob {name} in container "
                f"{self.container}: {type(exc).__name__}" + (f" (HTTP {status})" if status else ""),
                transient=status is None or status >= 500 or status == 429,
            ) from None
        return f"{blob.url}?{sas}"


def _default_credential() -> Any:
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415

    return DefaultAzureCredential()


def store_from_env(env: Mapping[str, str]) -> BlobPackageStore | None:
    """The operator's package container, or None when OFFERCTL_PACKAGE_STORAGE is unset."""
    url = env.get(ENV_STORAGE, "").strip()
    if not url:
        return None
    return BlobPackageStore(url, connection_string=env.get(ENV_CONNECTION, "").strip())
