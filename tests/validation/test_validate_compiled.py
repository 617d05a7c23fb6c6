"""The compiled fast path answers exactly as jsonschema does, on every document we can find."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from cases import CASES
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from controller.files.yamlio import YamlError, load_yaml
from controller.validation import compiled, schemas
from controller.validation.compiled import Unsupported, compile_schema

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent


def _documents() -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []
    for path in sorted((TESTS / "schema_cases").glob("*/*/*.yaml")):
        try:
            found.append(
                (
                    path.parent.name,
                    str(path.relative_to(TESTS)),
                    load_yaml(path.read_bytes(), name="x").document,
                )
            )
        except YamlError:
            continue
    for path in sorted((REPO / "offers").glob("*/offer.yaml")):
        found.append(
            ("offer", str(path.relative_to(REPO)), load_yaml(path.read_bytes(), name="x").document)
        )
    for case_id, data, *_ in CASES:
        try:
            found.append(("offer", case_id, load_yaml(data, name="x").document))
        except YamlError:
            continue
    return found


DOCUMENTS = _documents()


@pytest.mark.parametrize("schema", ["offer", "status", "publishing", "signoff"])
def test_every_shipped_schema_compiles(schema: str) -> None:
    assert schemas.is_valid(schema) is not schemas.validator(schema).is_valid


@pytest.mark.parametrize(
    ("schema", "document"), [pytest.param(s, d, id=i) for s, i, d in DOCUMENTS]
)
def test_compiled_and_jsonschema_agree(schema: str, document: Any) -> None:
    assert schemas.is_valid(schema)(document) == schemas.validator(schema).is_valid(document)


def _mutations(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _mutations(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _mutations(item, (*path, index))
    return paths


OFFER = load_yaml(
    (REPO / "offers" / "contoso-field-insights" / "offer.yaml").read_bytes(), name="x"
).document
PATHS = _mutations(OFFER)[1:]
REPLACEMENTS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
    st.sampled_from(["", "https://x.example.com", "US", "none", "marketplace", "USD", "1.0.0.0"]),
    st.lists(st.sampled_from(["US", "US", "sales"]), max_size=3), st.just({}), st.just({"zz": 1}),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), REPLACEMENTS), min_size=1, max_size=3))
def test_compiled_and_jsonschema_agree_on_mutated_offers(
    edits: list[tuple[tuple[Any, ...], Any]],
) -> None:
    document = copy.deepcopy(OFFER)
    for path, replacement in edits:
        target = document
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = replacement
        except (KeyError, IndexError, TypeError):
            continue
    assert schemas.is_valid("offer")(document) == schemas.validator("offer").is_valid(document)


def test_unsupported_keywords_fall_back() -> None:
    with pytest.raises(Unsupported):
        compile_schema({"unevaluatedProperties": False}, None)
    with pytest.raises(Unsupported):
        compile_schema({"$ref": "https://example.com/remote.json"}, None)


def test_booleans_are_not_numbers_and_integral_floats_are_integers() -> None:
    check = compile_schema({"type": "integer"}, None)
    assert check(1.0)
    assert not check(True)
    assert not compile_schema({"enum": [1]}, None)(True)
    assert compile_schema({"const": 1}, None)(1.0)


TREE = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z]+$"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                "first": {"$ref": "#/$defs/node"},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        "leaf": {"type": "string", "maxLength": 3},
        "pair": {"allOf": [{"$ref": "#/$defs/leaf"}, {"$ref": "#/$defs/leaf"}]},
    },
    "type": "object",
    "properties": {"root": {"$ref": "#/$defs/node"}, "tags": {"items": {"$ref": "#/$defs/pair"}}},
    "patternProperties": {"^x-": {"$ref": "#/$defs/leaf"}, "^x-y": {"type": "string"}},
}
TREES = st.recursive(
    st.sampled_from(["ab", "AB", "", 1, None]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.fixed_dictionaries(
            {"name": st.sampled_from(["ab", "AB"])},
            optional={"children": st.lists(inner, max_size=3), "first": inner, "zz": inner},
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "root": TREES,
            "tags": st.lists(st.sampled_from(["ab", "abcd", 1]), max_size=3),
            "x-a": st.sampled_from(["ab", "abcd", 1]),
            "x-yz": st.sampled_from(["ab", "abcd", 1]),
        },
    )
)
def test_recursive_and_shared_refs_agree_with_jsonschema(document: Any) -> None:
    """A $ref met again calls the compiled target directly; one met inside its own target
    (recursion) goes through its slot: both must answer as jsonschema does."""
    assert compile_schema(TREE, None)(document) == Draft202012Validator(TREE).is_valid(document)


GROUPS = {
    "type": "object",
    "properties": {
        "closed": {
            "type": "object",
            "additionalProperties": False,
            "required": ["a"],
            "properties": {"a": {"type": "string", "pattern": "^x"}, "b": {"type": "integer"}},
        },
        "open": {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 2, "maxLength": 3},
            "required": [],
            "properties": {"a": {"type": "string", "enum": ["x", "y"]}},
            "allOf": [{"required": ["a"]}],
        },
        "sized": {"type": "string", "maxLength": 3, "pattern": "^[a-z]*$", "minLength": 1},
        "short": {"type": "string", "maxLength": 2},
        "plain": {"type": "string"},
        "mixed": {"type": "string", "enum": ["x", 1]},
    },
}
SCALARS = st.sampled_from(["", "x", "xy", "xyz", "xyzw", "X", "é", 1, 1.0, True, None])
GROUP_MEMBERS = st.dictionaries(st.sampled_from(["a", "b", "c"]), SCALARS, max_size=3)


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["closed", "open", "sized", "short", "plain", "mixed"]),
        GROUP_MEMBERS | SCALARS,
        max_size=6,
    )
)
def test_keyword_groups_checked_as_one_agree_with_jsonschema(document: Any) -> None:
    """Objects (type, additionalProperties, required, properties) and strings (type with
    pattern, lengths or an enum) compiled as one check each answer as jsonschema does."""
    assert compile_schema(GROUPS, None)(document) == Draft202012Validator(GROUPS).is_valid(document)


ARRAYS = {
    "type": "object",
    "properties": {
        "unique": {"type": "array", "uniqueItems": True},
        "bounded": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "uniqueItems": True,
            "items": {"type": ["object", "string", "integer"]},
        },
        "short": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        "loose": {"type": "array", "uniqueItems": False, "minItems": 2},
        "late": {"type": "array", "items": {"type": "integer"}, "maxItems": 2},  # after items
        "text": {"const": "none"},
        "yes": {"const": True},
        "no": {"const": False},
        "number": {"const": 1},
        "members": {  # properties and required without a type, in both orders
            "if": {"properties": {"a": {"const": "none"}}, "required": ["a"]},
            "then": {"required": ["b"], "properties": {"b": False}},
            "else": {"properties": {"b": {"const": True}, "a": {"type": "string"}}, "required": []},
        },
    },
}
# JSON values that Python's == and hash() and JSON's equality tell apart differently:
# 1, 1.0 and True; 0 and False; "1" and 1; [] and {}; nested ones of each. (NaN: below.)
LEAVES = [1, 1.0, True, 0, 0.0, False, None, "1", "none", ""]
JSON_VALUES = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner),
    max_leaves=8,
)


MEMBERS = st.dictionaries(st.sampled_from("abc"), st.sampled_from(["none", "x", True, 1]))


@settings(max_examples=800, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "unique",
                "bounded",
                "short",
                "loose",
                "late",
                "text",
                "yes",
                "no",
                "number",
                "members",
            ]
        ),
        JSON_VALUES | st.lists(JSON_VALUES, max_size=4) | MEMBERS,
        max_size=4,
    )
)
def test_arrays_unique_items_and_consts_agree_with_jsonschema(document: Any) -> None:
    """Arrays (type with item counts, uniqueItems and items) checked as one, uniqueItems
    answered through hashable stand-ins, text or boolean consts compared directly, and
    properties with required (no type) checked as one answer as jsonschema does, on the
    values Python and JSON compare differently."""
    assert compile_schema(ARRAYS, None)(document) == Draft202012Validator(ARRAYS).is_valid(document)


@settings(max_examples=500, deadline=None)
@given(st.lists(JSON_VALUES, max_size=5))
def test_unique_items_agree_with_jsonschema(items: list[Any]) -> None:
    schema = {"uniqueItems": True}
    assert compile_schema(schema, None)(items) == Draft202012Validator(schema).is_valid(items)


NAN = float("nan")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.recursive(
            st.sampled_from([*LEAVES, NAN]) | st.just(float("nan")),  # one NaN object, or new ones
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner)
            ),
            max_leaves=8,
        ),
        max_size=5,
    )
)
def test_unique_items_answer_as_comparing_every_pair(items: list[Any]) -> None:
    """The reference is `_equal` on every pair, as before the stand-ins: NaN included
    (never equal to itself there; jsonschema's `is` test finds one NaN object twice a
    duplicate, a difference the stand-ins neither add nor remove)."""
    pairwise = not any(
        compiled._equal(items[i], items[j]) for i in range(len(items)) for j in range(i)
    )
    assert compiled._unique(items) == pairwise


def test_unique_items_of_mappings_and_lists_agree_with_jsonschema() -> None:
    check = compile_schema({"uniqueItems": True}, None)
    validator = Draft202012Validator({"uniqueItems": True})
    for items in (
        [{"a": "x", "b": "y"}, {"b": "y", "a": "x"}],  # equal whatever the key order
        [{"a": "x"}, {"a": "y"}],
        [["x", 1], ["x", 1]],
        [["x", 1], ["x", "1"]],
        [{"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}],
        [{"a": 1}, {"a": True}],  # a bool: compared pairwise
        [[1], [1.0]],  # a float: compared pairwise
        [{}, []],
    ):
        assert check(items) == validator.is_valid(items), items
