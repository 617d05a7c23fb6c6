"""Which v1 document each route offerctl uses carries, in its request and in its 2xx answer.

Pure data and matching: the emulator checks request bodies with it, and the
client's and the emulator's contract tests check both directions. Paths are
relative to the API base (`/v1.0/ingestion`); literal words match
case-insensitively, as v1 itself mixes `featureAvailabilities` and
`featureavailabilities`.
"""

from __future__ import annotations

import re

API_PREFIX = "/v1.0/ingestion"
_P = r"/products/[^/()]+"
_I = r"[^/()]+"

# (method, path pattern, request document, response document for 2xx; None: no body)
ROUTES: tuple[tuple[str, str, str | None, str | None], ...] = (
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
    ("DELETE", rf"{_P}/listings/{_I}/(images|assets|videos)/{_I}", None, None),
    ("GET", rf"{_P}/listings/{_I}", None, "AzureListing"),
    ("PUT", rf"{_P}/listings/{_I}", "AzureListing", "AzureListing"),
    ("DELETE", rf"{_P}/listings/{_I}", None, None),
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
    ("POST", rf"{_P}/submissions/{_I}/promote", None, "WorkflowDetail"),
    ("GET", rf"{_P}/submissions/{_I}/workflowdetails", None, "WorkflowDetailCollection"),
    ("GET", rf"{_P}/submissions/{_I}/validations", None, "ValidationItemCollection"),
    ("GET", rf"{_P}/submissions/{_I}/reports", None, "CertificationReportCollection"),
)
_COMPILED = tuple(
    (method, re.compile(f"^{pattern}$", re.IGNORECASE), request, response)
    for method, pattern, request, response in ROUTES
)


class UnknownRoute(ValueError):
    """A method and path that is not one of the v1 routes offerctl uses."""


def api_path(path: str) -> str:
    """`/products/...` from a URL, a path with the API prefix, or an API path; no query."""
    path = path.split("?", 1)[0]
    at = path.find(API_PREFIX)
    return (path[at + len(API_PREFIX) :] if at >= 0 else path).rstrip("/") or "/"


def route(method: str, path: str) -> tuple[str | None, str | None]:
    """(request document, 2xx response document) of a route; UnknownRoute if not one of ours."""
    api = api_path(path)
    for allowed, pattern, request, response in _COMPILED:
        if allowed == method.upper() and pattern.match(api):
            return request, response
    raise UnknownRoute(f"{method} {api} is not a v1 route offerctl uses")


def request_document(method: str, path: str) -> str | None:
    """The document a request body on this route must be (None: no body)."""
    return route(method, path)[0]


def response_document(method: str, path: str, status: int) -> str | None:
    """The document of an answer: the route's for 2xx (None for 204), `Error` otherwise."""
    if status == 204:
        return None
    if 200 <= status < 300:
        return route(method, path)[1]
    return "Error"
