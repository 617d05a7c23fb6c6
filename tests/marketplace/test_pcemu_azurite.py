"""The emulator fetches packages from Azurite through a read-only, https-only SAS (as PC does)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobClient, BlobSasPermissions, BlobServiceClient, generate_blob_sas
from azurite_helpers import ACCOUNT, ACCOUNT_KEY, Azurite
from marketplace_helpers import StepClock, clean_package, eicar_package
from pcemu_helpers import V1, create_product, submission_request

from controller.marketplace.pcemu import running_emulator
from controller.marketplace.simulated import SimulatedMarketplace


def _upload(azurite: Azurite, name: str, data: bytes, *, expires_in: timedelta) -> str:
    """Upload to the `packages` container; return an https-only, read-only SAS URL."""
    service = BlobServiceClient.from_connection_string(
        azurite.connection_string, connection_verify=str(azurite.ca_file)
    )
    container = service.get_container_client("packages")
    if not container.exists():
        container.create_container()
    container.upload_blob(name, data, overwrite=True)
    sas = generate_blob_sas(
        ACCOUNT,
        "packages",
        name,
        account_key=ACCOUNT_KEY,
        permission=BlobSasPermissions(read=True),
        start=datetime.now(UTC) - timedelta(minutes=5),
        expiry=datetime.now(UTC) + expires_in,
        protocol="https",
    )
    return f"{azurite.container_url('packages')}/{name}?{sas}"


def test_a_read_only_https_sas_reads_the_package_and_cannot_write(azurite: Azurite) -> None:
    package = clean_package()
    url = _upload(azurite, "read-only.zip", package, expires_in=timedelta(days=45))
    trust = ssl.create_default_context(cafile=str(azurite.ca_file))
    with httpx.Client(verify=trust, timeout=30) as http:
        assert http.get(url).content == package
    with pytest.raises(HttpResponseError):
        BlobClient.from_blob_url(url, connection_verify=str(azurite.ca_file)).upload_blob(
            b"overwritten", overwrite=True
        )


@pytest.mark.parametrize(
    "case",
    [
        (clean_package(), timedelta(days=45), ("Published", "ReadyToPublish")),
        (eicar_package(), timedelta(days=45), ("InProgress", "FailedInCertification")),
        (clean_package(), timedelta(seconds=-60), ("InProgress", "Failed")),
    ],
    ids=["clean-package-reaches-preview", "virus-fails-certification", "expired-sas-fails"],
)
def test_the_emulator_certifies_the_package_behind_the_sas(
    azurite: Azurite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[bytes, timedelta, tuple[str, str]],
) -> None:
    package, expires_in, expected = case
    monkeypatch.setenv("SSL_CERT_FILE", str(azurite.ca_file))  # the emulator trusts Azurite
    url = _upload(azurite, f"{tmp_path.name}.zip", package, expires_in=expires_in)
    clock = StepClock()
    engine = SimulatedMarketplace(tmp_path / "engine.sqlite3", clock=clock)
    with running_emulator(engine) as server:
        v1 = V1(server.url)
        ids = create_product(v1, "contoso-app", package_uri=url)
        sub = v1.call(
            "POST", f"/products/{ids.pid}/submissions", submission_request(ids), expect=201
        )
        clock.advance(days=9)
        answer = v1.call("GET", f"/products/{ids.pid}/submissions/{sub['id']}", expect=200)
    assert (answer["state"], answer["substate"]) == expected
