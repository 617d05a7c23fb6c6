"""A PNG's size from its header in one unpack: the answers of the field-by-field reading."""

from __future__ import annotations

import struct
import zlib

import pytest
from appsource_helpers import png
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.validation.png import SIGNATURE, NotPngError, png_size


def reference_png_size(data: bytes) -> tuple[int, int]:
    """The reading png_size replaced: slice by slice, field by field."""
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


def _answer(read: object, data: bytes) -> tuple[int, int] | str:
    try:
        return read(data)  # type: ignore[operator, no-any-return]
    except NotPngError as exc:
        return str(exc)


VALID = [png(1280, 720), png(48, 48), png(0, 5), png(2**32 - 1, 1)]


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), max_size=3),
    st.integers(0, 60),
)
def test_every_header_gets_the_reference_answer(
    base: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    """Valid headers, damaged ones (a byte changed in the signature, length, type, size,
    fields or CRC) and cut ones (ending anywhere in the header)."""
    data = bytearray(base)
    for index, value in edits:
        if index < len(data):
            data[index] = value
    for candidate in (bytes(data), bytes(data[:cut])):
        assert _answer(png_size, candidate) == _answer(reference_png_size, candidate)


@pytest.mark.parametrize("data", [*VALID, b"", SIGNATURE, b"GIF89a" + b"\0" * 40])
def test_known_headers(data: bytes) -> None:
    assert _answer(png_size, data) == _answer(reference_png_size, data)
