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
from controller.validation import schemas
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
