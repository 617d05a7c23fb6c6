"""The JSON Schemas shipped inside the package (`controller/schemas/`), loaded and compiled once.

The schemas are package data read through `importlib.resources`, so they are
found wherever offerctl is installed (a wheel in site-packages, pipx, the
environment pre-commit builds for its hook), not only in a checkout. The
repository's top-level `schemas/` is where they are edited and where
publishers' editor modelines point; `make schemas` copies them into the
package and tests/test_install.py fails when the two differ.

Each schema is registered under its `$id` in one `referencing.Registry` that
has no retrieval function: a `$ref` to anything not shipped fails instead of
reaching the network. Formats are checked (jsonschema ignores `format`
without a FormatChecker). The schemas are checked against their metaschema
by the test suite (tests/test_schemas.py), not on every start: that check
alone took longer than validating an offer.

jsonschema itself is imported only to explain an invalid document (or for a
schema the compiler does not handle): its import is about half the start-up
of `offerctl validate`. The compiled predicate checks formats through
`LazyFormats`, which answers the formats our schemas use exactly as
jsonschema's FORMAT_CHECKER does and loads jsonschema for any other.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any, cast

from controller.core.errors import FatalError
from controller.validation.compiled import Unsupported, compile_schema

if TYPE_CHECKING:
    import referencing
    from jsonschema import FormatChecker
    from jsonschema.protocols import Validator

SCHEMA_DIR: Traversable = files("controller") / "schemas"
SUFFIX = ".schema.json"


def names() -> list[str]:
    """The shipped schema files' names, sorted: offer.schema.json, publishing.schema.json..."""
    return sorted(item.name for item in SCHEMA_DIR.iterdir() if item.name.endswith(SUFFIX))


def file_name(name: str) -> str:
    """`offer` or `offer.schema.json` -> offer.schema.json."""
    return name if name.endswith(SUFFIX) else name + SUFFIX


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """One shipped schema as a JSON object (read once per process)."""
    file = file_name(name)
    resource = SCHEMA_DIR / file
    if not resource.is_file():
        raise FatalError(f"schema {file} is not installed with offerctl (looked in {SCHEMA_DIR})")
    try:
        loaded = json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FatalError(f"cannot load schema {file}: {exc}") from None
    if not isinstance(loaded, dict):
        raise FatalError(f"schema {file} is not a JSON object")
    return loaded


@functools.cache
def _registry() -> referencing.Registry[Any]:
    import referencing  # noqa: PLC0415 - lazy: see the module docstring
    import referencing.jsonschema  # noqa: PLC0415

    resources = []
    for file in names():
        document = schema(file)
        resource = referencing.jsonschema.DRAFT202012.create_resource(document)
        resources.append((document.get("$id", file), resource))
        resources.append((file, resource))  # relative refs between sibling files
    return referencing.Registry().with_resources(resources).crawl()


def _validator_class(document: dict[str, Any]) -> type[Validator]:
    import jsonschema  # noqa: PLC0415 - lazy: see the module docstring

    cls: type[Validator] = jsonschema.validators.validator_for(
        document, default=jsonschema.Draft202012Validator
    )
    return cls


DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


class LazyFormats:
    """jsonschema's FORMAT_CHECKER for a draft 2020-12 schema, loaded only when needed.

    `checkers` and `conforms` are what the compiled predicate uses. The answers
    for `email`, `idn-email` and `uri` copy jsonschema's: it checks an email
    for an "@" and checks `uri` only when rfc3987 or rfc3986-validator is
    installed. tests/test_install_startup.py holds them to jsonschema's own.
    """

    _EMAIL = frozenset({"email", "idn-email"})
    _URI_LIBRARIES = ("rfc3987", "rfc3986_validator")

    def __init__(self, load: Callable[[], FormatChecker]) -> None:
        self._load = load

    @property
    def checkers(self) -> LazyFormats:
        return self  # a container of the format names that are checked

    def __contains__(self, name: object) -> bool:
        if name in self._EMAIL:
            return True
        if name == "uri":
            return any(importlib.util.find_spec(lib) is not None for lib in self._URI_LIBRARIES)
        return name in self._load().checkers

    def conforms(self, instance: object, format: str) -> bool:
        if format in self._EMAIL:
            return not isinstance(instance, str) or "@" in instance
        return self._load().conforms(instance, format)


def _format_checker(document: dict[str, Any]) -> FormatChecker:
    def load() -> FormatChecker:
        return _validator_class(document).FORMAT_CHECKER

    if document.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        return load()
    return cast("FormatChecker", LazyFormats(functools.cache(load)))


@functools.cache
def validator(name: str) -> Validator:
    """jsonschema's validator for one schema (cached: built once per process)."""
    document = schema(name)
    cls = _validator_class(document)
    return cls(document, registry=_registry(), format_checker=cls.FORMAT_CHECKER)


@functools.cache
def is_valid(name: str) -> Callable[[Any], bool]:
    """A fast validity predicate for one schema: compiled closures, else jsonschema's own.

    Built from the schema alone: jsonschema's validator (and its registry of
    every schema) is only built when a document is invalid and needs explaining.
    """
    document = schema(name)
    try:
        return compile_schema(document, _format_checker(document))
    except Unsupported:
        return validator(name).is_valid
