"""PNG dimensions from the signature and IHDR chunk only: untrusted images are never decoded."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# After the signature: the IHDR chunk's length and type, width, height, the five one-byte
# fields (not read), and the chunk's CRC (over the type and the 13 data bytes): 25 bytes.
_IHDR = struct.Struct(">I4sII5xI")
_IHDR_END = len(SIGNATURE) + _IHDR.size


class NotPngError(ValueError):
    """The bytes are not a PNG file (or its header is damaged)."""


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, or `NotPngError` saying what is wrong."""
    if not data.startswith(SIGNATURE):
        raise NotPngError("it does not start with the PNG signature")
    if len(data) < _IHDR_END:
        raise NotPngError("it ends before its IHDR header")
    # One unpack of the whole header: an image is checked for every slot it fills.
    length, kind, width, height, crc = _IHDR.unpack_from(data, len(SIGNATURE))
    if kind != b"IHDR" or length != 13:
        raise NotPngError("its first chunk is not a valid IHDR header")
    if zlib.crc32(data[len(SIGNATURE) + 4 : _IHDR_END - 4]) != crc:
        raise NotPngError("its IHDR header is corrupt (CRC mismatch)")
    if width == 0 or height == 0:
        raise NotPngError("its IHDR header gives a zero width or height")
    return width, height
