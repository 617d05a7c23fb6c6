"""The Partner Center v1 contract for tests: which schema each request and response follows.

The route table is `controller.marketplace.pcemu.contract` and the checker
`controller.validation.v1schemas` (the emulator uses both); this module only
turns their findings into assertions. Contract tests of the emulator (its
responses) and of the client (its requests) both use `check`.
"""

from __future__ import annotations

from typing import Any

from controller.marketplace.pcemu.contract import (
    UnknownRoute,
    api_path,
    request_document,
    response_document,
    route,
)
from controller.validation.v1schemas import V1_SCHEMA_DIR, documents, v1_errors

SCHEMA_DIR = V1_SCHEMA_DIR

__all__ = [
    "SCHEMA_DIR",
    "UnknownRoute",
    "api_path",
    "check",
    "documents",
    "errors",
    "request_document",
    "response_document",
    "route",
]


def errors(document: str, instance: Any) -> list[str]:
    """Every way `instance` breaks the schema, as `path: message` lines."""
    return v1_errors(document, instance)


def check(document: str, instance: Any) -> None:
    problems = errors(document, instance)
    assert not problems, f"{document}:\n  " + "\n  ".join(problems)
