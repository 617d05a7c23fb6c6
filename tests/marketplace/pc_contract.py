"""The Partner Center v1 contract: which JSON Schema each request and response follows.

Schemas are `schemas/partnercenter/<Document>.schema.json` (generated from
Microsoft's v1 models by docs/tools/gen_partnercenter_schemas.py). Contract
tests of the emulator (its responses) and of the client (its requests) both
use `check` with `request_document` / `response_document`.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "partnercenter"
PREFIX = "/v1.0/ingestion"

_P = r"/products/[^/()]+"
_I = r"[^/()]+"
# (method, path pattern, request document, response document for 2xx)
ROUTES: list[tuple[str, str, str | None, str | None]] = [
    ("GET", r"/products", None, "ProductCollection"),
    ("POST", r"/products", "AzureProduct", "AzureProduct"),
    ("GET", rf"{_P}", None, "AzureProduct"),
    ("GET", rf"{_P}/setup", None, "AzureProductSetup"),
    ("POST", rf"{_P}/setup", "AzureProductSetup", "AzureProductSetup"),
    ("GET", rf"{_P}/branches/getByModule\(module={_I}\)", None, "BranchCollection"),
    ("GET", rf"{_P}/properties/getByInstanceID\(instanceID={_I}\)", None, "PropertyCollection"),
    ("GET", rf"{_P}/properties/{_I}", None, "AzureProperty"),
    ("PUT", rf"{_P}/properties/{_I}", "AzureProperty", "AzureProperty"),
    ("GET", rf"{_P}/listings/getByInstanceID\(instanceID={_I}\)", None, "ListingCollection"),
    (
        "POST",
        rf"{_P}/listings/createWithInstanceID\(instanceID={_I}\)",
        "AzureListing",
        "AzureListing",
    ),
    ("GET", rf"{_P}/listings/{_I}/images", None, "ListingImageCollection"),
    ("POST", rf"{_P}/listings/{_I}/images", "ListingImage", "ListingImage"),
    ("GET", rf"{_P}/listings/{_I}/images/{_I}", None, "ListingImage"),
    ("PUT", rf"{_P}/listings/{_I}/images/{_I}", "ListingImage", "ListingImage"),
    ("GET", rf"{_P}/listings/{_I}/assets", None, "ListingAssetCollection"),
    ("POST", rf"{_P}/listings/{_I}/assets", "ListingAsset", "ListingAsset"),
    ("GET", rf"{_P}/listings/{_I}/assets/{_I}", None, "ListingAsset"),
    ("PUT", rf"{_P}/listings/{_I}/assets/{_I}", "ListingAsset", "ListingAsset"),
    ("GET", rf"{_P}/listings/{_I}/videos", None, "ListingVideoCollection"),
    ("POST", rf"{_P}/listings/{_I}/videos", "ListingVideo", "ListingVideo"),
    ("GET", rf"{_P}/listings/{_I}/videos/{_I}", None, "ListingVideo"),
    ("PUT", rf"{_P}/listings/{_I}/videos/{_I}", "ListingVideo", "ListingVideo"),
    ("GET", rf"{_P}/listings/{_I}", None, "AzureListing"),
    ("PUT", rf"{_P}/listings/{_I}", "AzureListing", "AzureListing"),
    (
        "GET",
        rf"{_P}/featureAvailabilities/getByInstanceID\(instanceID={_I}\)",
        None,
        "FeatureAvailabilityCollection",
    ),
    ("GET", rf"{_P}/featureavailabilities/{_I}", None, "FeatureAvailability"),
    ("PUT", rf"{_P}/featureavailabilities/{_I}", "FeatureAvailability", "FeatureAvailability"),
    (
        "GET",
        rf"{_P}/packageConfigurations/getByInstanceID\(instanceID={_I}\)",
        None,
        "PackageConfigurationCollection",
    ),
    (
        "GET",
        rf"{_P}/packageconfigurations/{_I}",
        None,
        "Dynamics365CustomerEngagementPackageConfiguration",
    ),
    (
        "PUT",
        rf"{_P}/packageconfigurations/{_I}",
        "Dynamics365CustomerEngagementPackageConfiguration",
        "Dynamics365CustomerEngagementPackageConfiguration",
    ),
    ("GET", rf"{_P}/leadconfiguration", None, "LeadConfiguration"),
    ("POST", rf"{_P}/leadconfiguration", "LeadConfiguration", "LeadConfiguration"),
    ("GET", rf"{_P}/resellerConfiguration", None, "ResellerConfiguration"),
    ("POST", rf"{_P}/resellerConfiguration", "ResellerConfiguration", "ResellerConfiguration"),
    ("GET", rf"{_P}/submissions", None, "SubmissionCollection"),
    ("POST", rf"{_P}/submissions", "SubmissionCreationRequest", "Submission"),
    ("GET", rf"{_P}/submissions/{_I}", None, "Submission"),
    ("DELETE", rf"{_P}/submissions/{_I}", None, None),
    ("DELETE", rf"{_P}/listings/{_I}/(images|assets|videos)/{_I}", None, None),
    ("DELETE", rf"{_P}/listings/{_I}", None, None),
    ("POST", rf"{_P}/submissions/{_I}/promote", None, "WorkflowDetail"),
    ("GET", rf"{_P}/submissions/{_I}/workflowdetails", None, "WorkflowDetailCollection"),
    ("GET", rf"{_P}/submissions/{_I}/validations", None, "ValidationItemCollection"),
    ("GET", rf"{_P}/submissions/{_I}/reports", None, "CertificationReportCollection"),
]
_COMPILED = [(m, re.compile(f"^{p}$", re.IGNORECASE), req, resp) for m, p, req, resp in ROUTES]


def _api_path(path: str) -> str:
    path = path.split("?", 1)[0]
    at = path.find(PREFIX)
    return path[at + len(PREFIX) :] if at >= 0 else path


def _route(method: str, path: str) -> tuple[str | None, str | None]:
    api = _api_path(path).rstrip("/")
    for m, pattern, req, resp in _COMPILED:
        if m == method.upper() and pattern.match(api):
            return req, resp
    raise AssertionError(f"{method} {api} is not a v1 route offerctl uses")


def request_document(method: str, path: str) -> str | None:
    """The schema a request body on this route must follow (None: no body)."""
    return _route(method, path)[0]


def response_document(method: str, path: str, status: int) -> str | None:
    """The schema of a response: the route's document for 2xx (None for 204), Error otherwise."""
    if status == 204:
        return None
    if 200 <= status < 300:
        return _route(method, path)[1]
    return "Error"


@functools.cache
def _validator(document: str) -> Validator:
    schema = json.loads((SCHEMA_DIR / f"{document}.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    # The schemas themselves are checked once, in test_pc_schemas (metaschema checks are slow).
    validator: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def errors(document: str, instance: Any) -> list[str]:
    """Every way `instance` breaks the schema, as `path: message` lines."""
    found = sorted(_validator(document).iter_errors(instance), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in found]


def check(document: str, instance: Any) -> None:
    problems = errors(document, instance)
    assert not problems, f"{document}:\n  " + "\n  ".join(problems)


def documents() -> list[str]:
    return sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json"))
