"""PNG dimensions from the signature and IHDR chunk only: untrusted images are never decoded."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class NotPngError(ValueError):
    """The bytes are not a PNG file (or its header is damaged)."""


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, or `NotPngError` saying what is wrong."""
    if not data.startswith(SIGNATURE):
        raise NotPngError("it does not start with the PNG signature")
    header = data[8:33]
    if len(header) < 25:
        raise NotPngError("it ends before its IHDR header")
    length, kind = struct.unpack(">I4s", header[:8])
    if kind != b"IHDR" or length != 13:
        raise NotPngError("its first chunk is not a valid IHDR header")
    body = header[4:21]
    (crc,) = struct.unpack(">I", header[21:25])
    if zlib.crc32(body) != crc:
        raise NotPngError("its IHDR header is corrupt (CRC mismatch)")
    width, height = struct.unpack(">II", body[4:12])
    if width == 0 or height == 0:
        raise NotPngError("its IHDR header gives a zero width or height")
    return width, height
