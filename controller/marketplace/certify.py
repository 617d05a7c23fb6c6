"""What the simulated marketplace's Validation and Certification stages find in a payload.

Pure: an `OfferPayload` goes in, `Finding`s come out, each naming the stage
that reports it (`Validation` or `Certification`), a stable CamelCase code, a
message a publisher can act on and a JSON path into the manifest
(``$.spec.listings.en-us.description``). No I/O, no clock.

Validation checks that the offer is complete enough to look at (required
fields, referenced files present). Certification runs precheck
(`controller.validation.precheck`, the very rules `offerctl validate` runs, so
the two never disagree: virus scan, package structure, PNG sizes, links,
placeholders, privacy policy, help link) and then what only the marketplace
can do: the deployment test (`deployment_findings`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeGuard

from controller.core.model import Finding, Stage
from controller.validation import appsource
from controller.validation.issues import json_path
from controller.validation.precheck import precheck
from controller.validation.scanmemo import memo
from controller.validation.zipscan import (
    DEFAULT_LIMITS,
    EICAR,
    ScanLimits,
    ScanProblem,
    scan_bytes,
)

from .api import OfferPayload

SUPPORTED_TYPES = frozenset({"dynamics-365-customer-engagement"})

# Solutions the simulated test environment has installed: the platform and the
# first-party Dynamics 365 apps. A package whose solution requires anything
# else (and does not bring it) fails the deployment test.
TEST_ENVIRONMENT_SOLUTIONS = frozenset(
    {
        "System",
        "Active",
        "Basic",
        "msdynce_Sales",
        "msdynce_Service",
        "msdynce_FieldService",
        "msdynce_Marketing",
        "msdyn_ProjectOperations",
        "PowerAppsChecker",
    }
)


def certify(payload: OfferPayload, limits: ScanLimits = DEFAULT_LIMITS) -> tuple[Finding, ...]:
    """Every finding for this payload: Validation-stage ones first, then Certification's."""
    return tuple(validation_findings(payload)) + tuple(certification_findings(payload, limits))


def failing_stage(findings: Sequence[Finding]) -> Stage | None:
    """The first stage with an error finding: where the pipeline stops."""
    for stage in (Stage.VALIDATION, Stage.CERTIFICATION):
        if any(f.stage == stage and f.severity == "error" for f in findings):
            return stage
    return None


# --- Validation ---------------------------------------------------------------------------


def validation_findings(payload: OfferPayload) -> Iterator[Finding]:
    spec = payload.spec
    if not isinstance(spec, Mapping):
        yield _validation("SpecNotAnObject", "the submitted spec is not an object", "$.spec")
        return
    offer_type = spec.get("type")
    if offer_type not in SUPPORTED_TYPES:
        yield _validation(
            "UnsupportedOfferType",
            f"offer type {offer_type!r} is not supported; "
            f"expected one of {', '.join(sorted(SUPPORTED_TYPES))}",
            "$.spec.type",
        )
    listings = spec.get("listings")
    if not isinstance(listings, Mapping) or not isinstance(listings.get("en-us"), Mapping):
        yield _validation("ListingMissing", "an en-us listing is required", "$.spec.listings.en-us")
        listings = listings if isinstance(listings, Mapping) else {}
    for lang, listing in listings.items():
        if not isinstance(listing, Mapping):
            continue
        for field in ("name", "searchResultsSummary", "description"):
            if not _text(listing.get(field)):
                yield _validation(
                    "ListingFieldMissing",
                    f"listing {lang}: {field} is required",
                    _path("spec", "listings", lang, field),
                )
    yield from _missing_files(spec, payload.files)


def _missing_files(spec: Mapping[str, Any], files: Mapping[str, bytes]) -> Iterator[Finding]:
    tech = spec.get("technicalConfiguration")
    package = tech.get("packageFile") if isinstance(tech, Mapping) else None
    if not _text(package):
        yield _validation(
            "PackageMissing",
            "technicalConfiguration.packageFile is required: certification scans the package",
            "$.spec.technicalConfiguration.packageFile",
        )
    for path, ref in _file_refs(spec):
        if ref not in files:
            yield _validation(
                "FileMissing", f"{ref} is referenced but was not submitted", _path(*path)
            )


def _file_refs(spec: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(JSON path, offer-relative file) for every asset the spec refers to."""
    tech = spec.get("technicalConfiguration")
    if isinstance(tech, Mapping) and _text(tech.get("packageFile")):
        yield ("spec", "technicalConfiguration", "packageFile"), str(tech["packageFile"])
    for lang, listing in _listings(spec):
        base: tuple[str | int, ...] = ("spec", "listings", lang)
        logos = listing.get("logos")
        if isinstance(logos, Mapping):
            for size, ref in logos.items():
                if _text(ref):
                    yield (*base, "logos", size), str(ref)
        for key, field in (("screenshots", "path"), ("videos", "thumbnail")):
            items = listing.get(key)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    if isinstance(item, Mapping) and _text(item.get(field)):
                        yield (*base, key, i, field), str(item[field])


# --- Certification ------------------------------------------------------------------------


def certification_findings(
    payload: OfferPayload, limits: ScanLimits = DEFAULT_LIMITS
) -> Iterator[Finding]:
    """Precheck (the rules `offerctl validate` runs too), then what only the marketplace can do."""
    spec = payload.spec
    if not isinstance(spec, Mapping):
        return
    for issue in precheck(spec, payload.files, limits):
        yield Finding(
            code=issue.code,
            message=issue.message,
            path=json_path(issue.path),
            stage=Stage.CERTIFICATION.value,
            severity=issue.severity,
        )
    yield from deployment_findings(spec, payload.files, limits)


def deployment_findings(
    spec: Mapping[str, Any], files: Mapping[str, bytes], limits: ScanLimits = DEFAULT_LIMITS
) -> Iterator[Finding]:
    """The simulated deployment test: import the package's solution into a clean environment.

    Only the marketplace can run it: whether the import succeeds depends on
    what its test environment has installed, which a publisher cannot see. The
    simulated environment holds the first-party solutions in
    `TEST_ENVIRONMENT_SOLUTIONS`; a solution.xml whose `MissingDependencies`
    require a solution outside that set (and outside the package itself) fails
    to import, as it would in Package Deployer.
    """
    tech = spec.get("technicalConfiguration")
    package = tech.get("packageFile") if isinstance(tech, Mapping) else None
    data = files.get(package) if isinstance(package, str) else None
    if data is None:
        return
    # The same package bytes give the same import: tested once (`scanmemo`).
    needs = memo("deployment", data, (limits,), partial(_deployment_needs, data, limits))
    if needs is None:
        return
    own, missing = needs
    if missing:
        yield _cert(
            "DeploymentFailed",
            f"the deployment test failed: importing solution {own[:60]!r} into a clean "
            f"test environment needs {', '.join(repr(m[:60]) for m in missing[:5])}, which "
            "the environment does not have and the package does not bring; ship the "
            "dependency in the package or drop it",
            "$.spec.technicalConfiguration.packageFile",
        )


def _deployment_needs(data: bytes, limits: ScanLimits) -> tuple[str, tuple[str, ...]] | None:
    """The package's solution and what it needs that the test environment lacks."""
    found = appsource.solution(data, limits)
    if found is None or found.manifest is None:
        return None
    own = found.manifest.findtext("SolutionManifest/UniqueName") or found.anchor
    missing = sorted(
        {
            name
            for required in found.manifest.iterfind(
                "SolutionManifest/MissingDependencies/MissingDependency/Required"
            )
            if (name := _solution_name(required.get("solution", "")))
            and name not in TEST_ENVIRONMENT_SOLUTIONS
            and name != own
        }
    )
    return own, tuple(missing)


def _solution_name(text: str) -> str:
    """'TailspinPricing (1.2.0.0)' -> 'TailspinPricing'."""
    return text.split("(", 1)[0].strip()


# --- helpers ------------------------------------------------------------------------------


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _path(*parts: str | int) -> str:
    """A JSON path: `$.spec.listings.en-us.usefulLinks[0].url`; odd keys in brackets."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


def _text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def _validation(code: str, message: str, path: str) -> Finding:
    return Finding(code=code, message=message, path=path, stage=Stage.VALIDATION.value)


def _cert(code: str, message: str, path: str) -> Finding:
    return Finding(code=code, message=message, path=path, stage=Stage.CERTIFICATION.value)


def _listings(spec: Mapping[str, Any]) -> Iterator[tuple[Any, Mapping[str, Any]]]:
    """Each (language, listing) of the spec that is a mapping; nothing when there are none."""
    listings = spec.get("listings")
    if not isinstance(listings, Mapping):
        return
    for lang, listing in listings.items():
        if isinstance(listing, Mapping):
            yield lang, listing


__all__ = [
    "DEFAULT_LIMITS",
    "EICAR",
    "TEST_ENVIRONMENT_SOLUTIONS",
    "ScanLimits",
    "ScanProblem",
    "certification_findings",
    "certify",
    "deployment_findings",
    "failing_stage",
    "scan_bytes",
    "validation_findings",
]
