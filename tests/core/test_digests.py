"""A bytes object's SHA-256 is worked out once while it is held, and is always its own."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core import digests


@pytest.fixture(autouse=True)
def _empty() -> Iterator[None]:
    digests.clear()
    yield
    digests.clear()


class _CountingSha:
    """Counts the SHA-256 computations `digests` asks hashlib for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashed: list[bytes] = []

        def sha256(data: Any) -> Any:
            self.hashed.append(bytes(data))
            return hashlib.sha256(data)

        class Hashlib:
            pass

        stub = Hashlib()
        stub.sha256 = sha256  # type: ignore[attr-defined]
        monkeypatch.setattr(digests, "hashlib", stub)


@given(st.binary(max_size=300))
def test_the_digest_is_hashlibs(data: bytes) -> None:
    expected = hashlib.sha256(data).digest()
    assert digests.sha256(data) == expected
    assert digests.sha256(data) == expected  # kept: the same answer
    assert digests.sha256(bytearray(data)) == expected
    assert digests.sha256(memoryview(data)) == expected


def test_what_is_not_bytes_like_raises_as_hashlib_does() -> None:
    with pytest.raises(TypeError):
        digests.sha256("text")  # type: ignore[arg-type]


def test_one_object_is_hashed_once_and_equal_bytes_of_another_object_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted = _CountingSha(monkeypatch)
    data = b"logo" * 100
    for _ in range(3):
        digests.sha256(data)
    assert len(counted.hashed) == 1
    other = bytes(bytearray(data))  # equal bytes, another object: asked afresh
    assert other is not data
    assert digests.sha256(other) == digests.sha256(data)
    assert len(counted.hashed) == 2


def test_mutable_buffers_are_never_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = bytearray(b"before")
    first = digests.sha256(buffer)
    buffer[:] = b"after!"
    assert digests.sha256(buffer) == hashlib.sha256(b"after!").digest() != first
    assert digests.held() == (0, 0)


def test_an_object_under_a_kept_id_that_is_not_the_one_kept_is_hashed() -> None:
    """The id is only a place to look: the object found there must be the one asked about
    (it always is while the memo holds it; this stands in for a memo that did not)."""
    data, impostor = b"asked about", b"kept under its id"
    digests._kept[id(data)] = (impostor, hashlib.sha256(impostor).digest())
    assert digests.sha256(data) == hashlib.sha256(data).digest()


def test_the_memo_holds_at_most_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digests, "MAX_ENTRIES", 3)
    monkeypatch.setattr(digests, "MAX_WEIGHT", 100)
    monkeypatch.setattr(digests, "MAX_OBJECT_BYTES", 60)
    objects = [bytes([n]) * 10 for n in range(5)]
    for data in objects:
        digests.sha256(data)
    assert digests.held() == (3, 30)  # the three newest
    digests.sha256(b"x" * 61)  # over MAX_OBJECT_BYTES: hashed, not held
    assert digests.held() == (3, 30)
    digests.sha256(b"y" * 60)
    digests.sha256(b"z" * 50)  # 60 + 50 > 100: the older goes
    assert digests.held() == (1, 50)
    counted = _CountingSha(monkeypatch)
    digests.sha256(objects[0])  # pushed out long ago: hashed again, right
    assert counted.hashed == [objects[0]]


def test_threads_each_get_the_digest_of_their_own_bytes() -> None:
    objects = [bytes([n % 256]) * (n + 1) for n in range(400)]
    wrong: list[int] = []

    def work(offset: int) -> None:
        for index in range(offset, offset + 400):
            data = objects[index % 400]
            if digests.sha256(data) != hashlib.sha256(data).digest():
                wrong.append(index)

    threads = [threading.Thread(target=work, args=(n * 37,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    count, weight = digests.held()
    assert count <= digests.MAX_ENTRIES and weight <= digests.MAX_WEIGHT
