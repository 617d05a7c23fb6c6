"""controller.files.yamlio: safe loading, positions for JSON paths, and dumping."""

from __future__ import annotations

import time

import pytest

from controller.core.errors import UserError
from controller.files.yamlio import YamlError, dump_yaml, load_mapping, load_yaml


class TestLoad:
    """load_yaml turns bytes into plain data or one YamlError."""

    def test_timestamps_stay_strings_like_check_jsonschema(self) -> None:
        doc = load_yaml(b"d: 2024-01-31\nt: 2024-01-31T10:00:00Z\n", name="x").document
        assert doc == {"d": "2024-01-31", "t": "2024-01-31T10:00:00Z"}

    def test_yaml_1_1_scalars_resolve_as_pyyaml_does(self) -> None:
        doc = load_yaml(b"a: no\nb: 010\nc: 1.50\nd: on\n", name="x").document
        assert doc == {"a": False, "b": 8, "c": 1.5, "d": True}

    def test_utf8_bom_is_accepted(self) -> None:
        assert load_yaml(b"\xef\xbb\xbfa: 1\n", name="x").document == {"a": 1}

    def test_shared_aliases_within_the_limit_load(self) -> None:
        doc = load_yaml(b"a: &c {n: 1}\nb: *c\n", name="x").document
        assert doc == {"a": {"n": 1}, "b": {"n": 1}}

    def test_merge_keys_are_not_duplicate_keys(self) -> None:
        doc = load_yaml(b"base: &b {x: 1}\nover:\n  <<: *b\n  x: 2\n", name="x").document
        assert doc["over"] == {"x": 2}

    def test_yaml_error_is_a_user_error_with_position_in_its_text(self) -> None:
        with pytest.raises(YamlError) as caught:
            load_yaml(b"a: 1\na: 2\n", name="f.yaml")
        assert isinstance(caught.value, UserError)
        assert (caught.value.code, caught.value.line, caught.value.column) == ("DuplicateKey", 2, 1)
        assert str(caught.value) == "f.yaml:2:1: duplicate key 'a' (first defined on line 1)"

    def test_size_limit_is_configurable(self) -> None:
        with pytest.raises(YamlError, match="limit is 10"):
            load_yaml(b"a: 123456789\n", name="x", max_bytes=10)

    @pytest.mark.parametrize(
        "data",
        [
            b"[" * 500_000,
            b"{a: " * 200_000,
            b"- " * 400_000 + b"x",
            "".join(" " * i + "k:\n" for i in range(300)).encode(),
        ],
        ids=["flow", "flow-mapping", "block", "indented"],
    )
    def test_pathological_nesting_never_crashes_and_is_quick(self, data: bytes) -> None:
        started = time.monotonic()
        try:
            load_yaml(data, name="x")
        except YamlError as exc:
            assert exc.code in ("TooDeep", "YamlSyntax")
        assert time.monotonic() - started < 2.0

    def test_nesting_just_under_the_limit_loads(self) -> None:
        assert load_yaml(b"[" * 63 + b"]" * 63, name="x").document is not None

    def test_load_mapping_refuses_lists(self) -> None:
        with pytest.raises(YamlError) as caught:
            load_mapping(b"[1]\n", name="x")
        assert caught.value.code == "NotAMapping"


class TestLocate:
    """LoadedYaml.locate finds the line and column of a JSON path's node."""

    TEXT = b"a:\n  b: [1, 2]\n  c: no\nd:\n  - x\n  - {k: v}\n"

    @pytest.mark.parametrize(
        ("path", "where"),
        [
            (("a", "b", 1), (2, 10)),
            (("a", "c"), (3, 6)),
            (("a",), (1, 1)),  # a mapping value is reported at its key
            (("d", 1, "k"), (6, 9)),
            (("a", "missing"), (1, 1)),  # nearest existing ancestor
            ((), (1, 1)),
        ],
    )
    def test_locate(self, path: tuple[str | int, ...], where: tuple[int, int]) -> None:
        location = load_yaml(self.TEXT, name="x").locate(path)
        assert (location.line, location.column) == where

    def test_plain_scalar_text_is_kept_for_hints(self) -> None:
        assert load_yaml(self.TEXT, name="x").locate(("a", "c")).plain_scalar == "no"

    def test_locate_key_points_at_the_key(self) -> None:
        location = load_yaml(self.TEXT, name="x").locate_key(("a", "c"))
        assert (location.line, location.column) == (3, 3)


class TestDump:
    """dump_yaml writes block-style YAML that loads back to the same data."""

    def test_round_trip_keeps_order_unicode_and_multiline(self) -> None:
        data = {"z": 1, "name": "Außendienst", "text": "one\ntwo", "items": [{"k": None}]}
        text = dump_yaml(data)
        assert text.splitlines()[0] == "z: 1"
        assert "Außendienst" in text
        assert "text: |-" in text
        assert load_yaml(text.encode(), name="x").document == data


class TestBoundedNumbers:
    """Integers longer than Python's int-string limit are a positioned YamlError, not a crash."""

    @pytest.mark.parametrize(
        ("text", "line", "column"),
        [
            (b"a:\n  b: " + b"9" * 5000 + b"\n", 2, 6),
            (b"a: [1, " + b"-" + b"7" * 5000 + b"]\n", 1, 8),
            (b"base: &n {x: " + b"1" * 200 + b"}\nc:\n  <<: *n\n", 1, 14),
        ],
        ids=["block", "flow-negative", "through-a-merge-key"],
    )
    def test_long_integer_is_refused_where_it_stands(
        self, text: bytes, line: int, column: int
    ) -> None:
        with pytest.raises(YamlError) as caught:
            load_yaml(text, name="f.yaml")
        assert (caught.value.code, caught.value.line, caught.value.column) == (
            "NumberTooLong",
            line,
            column,
        )

    def test_the_same_digits_quoted_are_text(self) -> None:
        assert load_yaml(b'a: "' + b"9" * 5000 + b'"\n', name="f").document == {"a": "9" * 5000}

    def test_ordinary_integers_still_load(self) -> None:
        assert load_yaml(b"a: 12\nb: 0x1f\nc: -3\n", name="f").document == {
            "a": 12,
            "b": 31,
            "c": -3,
        }


@pytest.mark.parametrize(
    ("text", "line", "shown"),
    [
        (b"a: 1\nNO: x\n", 2, "key 'NO' reads as a boolean"),
        (b"a:\n  - {3: x}\n", 2, "key '3' reads as a number"),
        (b"a: &m {null: x}\nb:\n  <<: *m\n", 1, "key 'null' reads as null"),
        (b"base: &m {k: v}\nb:\n  <<: *m\n  1.5: x\n", 4, "key '1.5' reads as a number"),
    ],
)
def test_a_key_yaml_reads_as_anything_but_text_is_refused(
    text: bytes, line: int, shown: str
) -> None:
    """JSON, and every schema and check of an offer file, has text keys only; a key read
    as null or a boolean made the schema's key patterns raise TypeError."""
    with pytest.raises(YamlError) as caught:
        load_mapping(text, name="offer.yaml")
    assert caught.value.code == "KeyNotText"
    assert caught.value.line == line
    assert shown in str(caught.value)


def test_quoted_and_date_like_keys_stay_text() -> None:
    loaded = load_mapping(b"'NO': x\n'~': y\n2026-01-01: z\n", name="offer.yaml").document
    assert loaded == {"NO": "x", "~": "y", "2026-01-01": "z"}
