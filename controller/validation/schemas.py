"""The JSON Schemas in the repository's top-level `schemas/` folder, loaded and compiled once.

Every schema file is checked against its metaschema, then registered under its
`$id` in one `referencing.Registry` that has no retrieval function: a `$ref`
to anything not in `schemas/` fails instead of reaching the network. Formats
are checked (jsonschema ignores `format` without a FormatChecker).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.exceptions
import referencing
import referencing.jsonschema
from jsonschema.protocols import Validator

import controller
from controller.errors import FatalError
from controller.validation.compiled import Unsupported, compile_schema

SCHEMA_DIR = Path(controller.__file__).parent.parent / "schemas"
SUFFIX = ".schema.json"


def schema_path(name: str) -> Path:
    """`offer`, `offer.schema.json` -> schemas/offer.schema.json."""
    file = name if name.endswith(SUFFIX) else name + SUFFIX
    return SCHEMA_DIR / file


@functools.cache
def _registry() -> referencing.Registry[Any]:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*" + SUFFIX)):
        schema = _read(path)
        resource = referencing.jsonschema.DRAFT202012.create_resource(schema)
        resources.append((schema.get("$id", path.name), resource))
        resources.append((path.name, resource))  # relative refs between sibling files
    return referencing.Registry().with_resources(resources).crawl()


@functools.cache
def validator(name: str) -> Validator:
    """The compiled validator for one schema (cached: built once per process)."""
    path = schema_path(name)
    if not path.is_file():
        raise FatalError(f"schema {path.name} not found in {SCHEMA_DIR}")
    schema = _read(path)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise FatalError(f"schema {path.name} is not a valid JSON Schema: {exc.message}") from None
    return cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)


@functools.cache
def is_valid(name: str) -> Callable[[Any], bool]:
    """A fast validity predicate for one schema: compiled closures, else jsonschema's own."""
    checker = validator(name)
    if not isinstance(checker.schema, dict):
        return checker.is_valid
    try:
        return compile_schema(checker.schema, checker.FORMAT_CHECKER)
    except Unsupported:
        return checker.is_valid


def _read(path: Path) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FatalError(f"cannot load schema {path}: {exc}") from None
    if not isinstance(schema, dict):
        raise FatalError(f"schema {path} is not a JSON object")
    return schema
