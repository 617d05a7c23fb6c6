"""`nul_fields` reads git's -z output one field at a time, exactly as `split(b"\\0")` would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from controller.git.read import nul_fields


@given(st.lists(st.binary(max_size=8).map(lambda b: b.replace(b"\x00", b"")), max_size=8))
def test_fields_are_those_split_gives(parts: list[bytes]) -> None:
    data = b"\x00".join(parts)
    assert list(nul_fields(data)) == data.split(b"\x00")


def test_a_trailing_nul_gives_a_last_empty_field() -> None:
    assert list(nul_fields(b"a\x00b\x00")) == [b"a", b"b", b""]
