"""Azurite, the Azure Storage emulator, for tests: one per test session, on a free port, over HTTPS.

`make setup` installs it from npm into the project's `node_modules/` (pinned in
package.json / package-lock.json), so a fresh machine with Node.js runs the
same tests as a developer's. HTTPS matters: a package SAS offerctl signs is
https-only, and Azurite refuses such a SAS over plain HTTP, as Azure does. The
session fixture makes a throwaway self-signed certificate for 127.0.0.1; a
process that talks to Azurite trusts it through `SSL_CERT_FILE` (httpx) and
`REQUESTS_CA_BUNDLE` (the Azure SDK), both in `Azurite.env()`.
"""

from __future__ import annotations

import datetime
import ipaddress
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[1]
AZURITE_BLOB = ROOT / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key: public, documented, accepted by Azurite only.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
STARTUP_SECONDS = 90.0  # node starts slowly on a loaded 2-core machine
READY = "successfully listens on "


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service."""

    blob_endpoint: str  # https://127.0.0.1:PORT/devstoreaccount1
    ca_file: Path  # the self-signed certificate it serves, to trust

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=https;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def container_url(self, container: str) -> str:
        return f"{self.blob_endpoint}/{container}"

    def env(self, container: str = "packages") -> dict[str, str]:
        """What a process needs to upload packages here and to trust the certificate."""
        return {
            "OFFERCTL_PACKAGE_STORAGE": self.container_url(container),
            "AZURE_STORAGE_CONNECTION_STRING": self.connection_string,
            "SSL_CERT_FILE": str(self.ca_file),
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
        }


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "offerctl test Azurite")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "azurite-cert.pem", directory / "azurite-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class AzuriteProcess:
    proc: subprocess.Popen[str]
    azurite: Azurite
    output: list[str]
    pump: threading.Thread

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.pump.join(timeout=10)  # it ends at EOF; then the pipe can be closed
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_azurite(directory: Path) -> AzuriteProcess:
    """Start Azurite's blob service on a free loopback port; raise if it does not come up."""
    if not AZURITE_BLOB.exists():
        raise RuntimeError(
            f"{AZURITE_BLOB.relative_to(ROOT)} is missing: run `make setup` "
            "(it installs Azurite from npm into node_modules/; Node.js is required)"
        )
    cert_file, key_file = make_certificate(directory)
    argv = [
        str(AZURITE_BLOB),
        "--blobHost", "127.0.0.1",
        "--blobPort", "0",  # Azurite prints the port it got
        "--cert", str(cert_file),
        "--key", str(key_file),
        "--inMemoryPersistence",
        "--extentMemoryLimit", "256",
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=directory
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, name="azurite-output", daemon=True)
    reader.start()
    output: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        output.append(line)
        if READY in line:
            url = line.split(READY, 1)[1].strip()
            azurite = Azurite(f"{url}/{ACCOUNT}", cert_file)
            return AzuriteProcess(proc, azurite, output, reader)
    AzuriteProcess(proc, Azurite("", cert_file), output, reader).stop()
    raise RuntimeError("Azurite did not start:\n" + "".join(output[-20:]))


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's blob service over HTTPS for the whole session (one per xdist worker)."""
    running = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield running.azurite
    finally:
        running.stop()
