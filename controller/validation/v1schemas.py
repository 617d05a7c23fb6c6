"""The Partner Center v1 JSON Schemas in `schemas/partnercenter/`: loaded once, formats checked.

Each file is self-contained (nested models under `$defs`), so no registry or
`$ref` retrieval is involved. The emulator checks the request bodies it
receives against them; tests check both directions.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

from controller.core.errors import FatalError

from .schemas import SCHEMA_DIR

V1_SCHEMA_DIR = SCHEMA_DIR / "partnercenter"
SUFFIX = ".schema.json"


def documents() -> list[str]:
    """The names of every v1 document with a schema (`AzureListing`, `SubmissionCollection`...)."""
    return sorted(
        p.name.removesuffix(SUFFIX) for p in V1_SCHEMA_DIR.iterdir() if p.name.endswith(SUFFIX)
    )


@functools.cache
def _validator(document: str) -> Validator:
    path = V1_SCHEMA_DIR / f"{document}{SUFFIX}"
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FatalError(f"cannot load the v1 schema {path}: {exc}") from None
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    checker: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return checker


def v1_errors(document: str, instance: Any) -> list[str]:
    """Every way `instance` breaks the v1 document's schema, as `path: message` lines."""
    found = sorted(_validator(document).iter_errors(instance), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in found]
