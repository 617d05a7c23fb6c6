"""Helpers for validation tests: a known-good offer written into a tmp repository.

BASE is a complete valid manifest with fixed line numbers (tests name lines
in it); `write_offer` puts it, or a variant, into `offers/<id>/` next to
real PNG headers and a package, and returns the repo root.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from appsource_helpers import appsource_package

BASE = (Path(__file__).parent / "base_offer.yaml").read_text(encoding="utf-8")
OFFER_ID = "northwind-loyalty-hub"


def png(width: int, height: int) -> bytes:
    """A PNG signature, IHDR and IEND: enough for a header check (never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def write_assets(folder: Path) -> None:
    (folder / "media").mkdir(parents=True, exist_ok=True)
    (folder / "package").mkdir(parents=True, exist_ok=True)
    (folder / "media" / "logo-216.png").write_bytes(png(216, 216))
    (folder / "media" / "logo-90.png").write_bytes(png(90, 90))
    (folder / "media" / "screen-1.png").write_bytes(png(1280, 720))
    (folder / "package" / f"{OFFER_ID}.zip").write_bytes(appsource_package())


WriteOffer = Callable[..., Path]


@pytest.fixture
def write_offer(tmp_path: Path) -> WriteOffer:
    def write(manifest: str | bytes = BASE, offer_id: str = OFFER_ID) -> Path:
        folder = tmp_path / "offers" / offer_id
        write_assets(folder)
        data = manifest.encode("utf-8") if isinstance(manifest, str) else manifest
        (folder / "offer.yaml").write_bytes(data)
        return tmp_path

    return write
