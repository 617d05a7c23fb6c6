"""Manifest → Partner Center v1 documents, and v1 submission reads → offerctl's view.

Pure: no I/O, no clock. Names, casing and enums follow the v1 models
(v1-models.txt). Each `*_document` returns only the fields offerctl manages;
the client merges them into the resource it read (keeping `id`,
`@odata.etag` and fields it does not manage) and compares managed fields
only, so a field set in the portal that the manifest does not cover is left
alone.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.core.model import Finding, Severity, Stage, StageState
from controller.marketplace.api import StageProgress, SubmissionResult

PRODUCT_TYPE = "AzureDynamics365ForCustomerEngagement"
OFFER_ID_TYPE = "AzureOfferId"
PACKAGE_CONFIGURATION = "Dynamics365CustomerEngagementPackageConfiguration"
KEY_PROPERTY = "offerctlIdempotencyKey"

# Modules whose draft instance every submission names (ResellerConfiguration
# is required too: "Resell-20007 ResellerConfiguration module is missing").
MODULES: tuple[str, ...] = ("Property", "Listing", "Availability", "Package")

# Workflow step name (as Partner Center reports it) → offerctl stage.
STEP_STAGE: dict[str, Stage] = {
    "automated validation": Stage.VALIDATION,
    "certification": Stage.CERTIFICATION,
    "preview creation": Stage.PACKAGING,
    "publisher signoff": Stage.SIGNOFF,
    "publish": Stage.PUBLISHING,
}

_STEP_STATE: dict[str, StageState] = {
    "notstarted": StageState.PENDING,
    "inprogress": StageState.RUNNING,
    "success": StageState.SUCCEEDED,
    "succeeded": StageState.SUCCEEDED,
    "skipped": StageState.SKIPPED,
}

_LOGO_TYPES = {"large": "AzureLogoLarge", "medium": "AzureLogoMedium", "small": "AzureLogoSmall",
               "wide": "AzureLogoWide"}  # fmt: skip
_CALL_TO_ACTION = {"free": "free", "contactMe": "contact-me", "marketplace": "free-trial"}
_LICENSE_MODEL = {"user": "User", "resource": "Resource"}


class MappingError(ValueError):
    """The manifest cannot be expressed in v1 documents (the message says which field)."""


# --- manifest → documents --------------------------------------------------------------------


def product_document(offer: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    alias = _get(spec, "offerSetup", "alias") or offer
    return {
        "resourceType": PRODUCT_TYPE,
        "name": str(alias),
        "externalIDs": [{"type": OFFER_ID_TYPE, "value": offer}],
        "isModularPublishing": True,
    }


def setup_document(spec: Mapping[str, Any]) -> dict[str, Any]:
    model = str(_get(spec, "availability", "pricing", "model") or "free")
    return {
        "resourceType": "AzureProductSetup",
        "sellingOption": "ListAndSell" if model == "marketplace" else "ListingOnly",
        "callToAction": _CALL_TO_ACTION.get(model, "free"),
        "trialUri": "",
        "enableTestDrive": False,
        "channelStates": [{"type": "Reseller", "value": "Disabled"}],
    }


def property_document(spec: Mapping[str, Any]) -> dict[str, Any]:
    props = _map(spec.get("properties"))
    legal = _map(props.get("legal"))
    standard = legal.get("useStandardContract") is True
    return {
        "resourceType": "AzureProperty",
        "categories": [str(c) for c in _list(props.get("categories"))],
        "industries": [str(i) for i in _list(props.get("industries"))],
        "appVersion": str(props.get("appVersion", "")),
        "useEnterpriseContract": standard,
        "termsOfUse": "" if standard else str(legal.get("termsOfUseUrl", "")),
    }


def listing_document(language: str, listing: Mapping[str, Any],
                     spec: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    legal = _map(_get(spec, "properties", "legal"))
    uris: list[dict[str, str]] = []
    if legal.get("privacyPolicyUrl"):
        uris.append(_uri("PrivacyUri", "", str(legal["privacyPolicyUrl"])))
    if listing.get("helpLink"):
        uris.append(_uri("HelpUri", "", str(listing["helpLink"])))
    for link in _list(listing.get("usefulLinks")):
        item = _map(link)
        uris.append(_uri("UsefulLink", str(item.get("name", "")), str(item.get("url", ""))))
    contacts: list[dict[str, str]] = []
    people = _map(listing.get("contacts"))
    for key, kind in (("support", "CustomerSupport"), ("engineering", "Engineering")):
        person = _map(people.get(key))
        if person:
            contacts.append(
                {
                    "type": kind,
                    "name": str(person.get("name", "")),
                    "email": str(person.get("email", "")),
                    "phone": str(person.get("phone", "")),
                    "uri": str(person.get("url", "")),
                }
            )
    return {
        "resourceType": "AzureListing",
        "languageCode": language.lower(),
        "title": str(listing.get("name", "")),
        "summary": str(listing.get("searchResultsSummary", "")),
        "description": str(listing.get("description", "")),
        "gettingStartedInstructions": str(listing.get("gettingStartedInstructions", "")),
        "keywords": [str(k) for k in _list(listing.get("searchKeywords"))],
        "listingUris": uris,
        "listingContacts": contacts,
    }


@dataclass(frozen=True, slots=True)
class Media:
    """One listing image, document or video thumbnail and the file it comes from.

    `file_name` carries a prefix of the content digest, so a changed file has
    another name and "re-upload only when content changed" is a name compare.
    """

    collection: str  # "images" | "assets" | "videos"
    type: str  # AzureLogoLarge, AzureLogoScreenshot, PdfDocument, ... ("" for videos)
    path: str  # offer-folder-relative file
    file_name: str
    order: int = 0
    description: str = ""
    streaming_uri: str = ""  # videos only

    def document(self) -> dict[str, Any]:
        if self.collection == "videos":
            return {
                "resourceType": "ListingVideo",
                "fileName": self.file_name,
                "streamingUri": self.streaming_uri,
                "state": "PendingUpload",
                "thumbnail": {"fileName": self.file_name, "title": self.description,
                              "description": self.description, "state": "PendingUpload"},
            }  # fmt: skip
        kind = "ListingImage" if self.collection == "images" else "ListingAsset"
        doc: dict[str, Any] = {
            "resourceType": kind,
            "fileName": self.file_name,
            "type": self.type,
            "description": self.description,
            "state": "PendingUpload",
        }
        if self.collection == "images":
            doc["order"] = self.order
        return doc

    def identity(self) -> tuple[str, str, str, int, str]:
        """What must match for an uploaded item to count as this one."""
        return (self.collection, self.type, self.file_name, self.order, self.description)


def media_of(listing: Mapping[str, Any], files: Mapping[str, bytes]) -> tuple[Media, ...]:
    """The listing's logos, screenshots and video thumbnails, named by content digest."""
    found: list[Media] = []
    logos = _map(listing.get("logos"))
    for key, kind in _LOGO_TYPES.items():
        if logos.get(key):
            found.append(_media("images", kind, str(logos[key]), files))
    for order, shot in enumerate(_list(listing.get("screenshots"))):
        item = _map(shot)
        found.append(_media("images", "AzureLogoScreenshot", str(item.get("path", "")), files,
                            order=order, description=str(item.get("caption", ""))))  # fmt: skip
    for video in _list(listing.get("videos")):
        item = _map(video)
        found.append(_media("videos", "", str(item.get("thumbnail", "")), files,
                            description=str(item.get("name", "")),
                            streaming_uri=str(item.get("url", ""))))  # fmt: skip
    return tuple(found)


def availability_document(spec: Mapping[str, Any], *, stop_selling: bool) -> dict[str, Any]:
    markets = sorted({str(m).upper() for m in _list(_get(spec, "availability", "markets"))})
    state = "StopSelling" if stop_selling else "Enabled"
    return {
        "resourceType": "FeatureAvailability",
        "visibility": "Public",
        "marketStates": [{"marketCode": m, "state": state} for m in markets],
    }


def package_document(spec: Mapping[str, Any], package_uri: str) -> dict[str, Any]:
    tech = _map(spec.get("technicalConfiguration"))
    model = str(tech.get("baseLicenseModel", "user")).lower()
    if model not in _LICENSE_MODEL:
        raise MappingError(
            f"technicalConfiguration.baseLicenseModel {model!r}: use user or resource"
        )
    return {
        "resourceType": PACKAGE_CONFIGURATION,
        "baseLicenseModel": _LICENSE_MODEL[model],
        "requireS2SOutboundAndCrmSecureStoreAccess":
            tech.get("requireS2SOutboundAndCrmSecureStoreAccess") is True,
        "packageLocationUri": package_uri,
        "packageRegionAvailabilities": [
            {"region": str(r), "isAvailable": True, "applicationConfigurationUri": ""}
            for r in _list(tech.get("regions"))
        ],
        "multiplePackagesInPackageFile": False,
    }  # fmt: skip


def lead_document(spec: Mapping[str, Any],
                  secret: Callable[[str], str]) -> dict[str, Any] | None:  # fmt: skip
    """The lead configuration (None for `none`); `secret(NAME)` reads a *SecretRef variable."""
    leads = _map(_get(spec, "offerSetup", "customerLeads"))
    destination = str(leads.get("leadDestination", "none"))
    block = _map(leads.get(destination))
    if destination == "none":
        return None
    if destination == "httpsEndpoint":
        return {"resourceType": "HttpsEndpointLeadConfiguration",
                "httpsEndpointUri": str(block.get("url", ""))}  # fmt: skip
    if destination == "azureTable":
        ref = str(block.get("connectionStringSecretRef", ""))
        return {"resourceType": "AzureTableLeadConfiguration", "connectionString": secret(ref)}
    if destination == "dynamics":
        auth = _map(block.get("authentication"))
        doc = {
            "resourceType": "DynamicsCustomerRelationshipManagementLeadConfiguration",
            "uri": str(block.get("instanceUrl", "")),
            "authentication": "AzureAD" if auth.get("type") == "azureAD" else "Office365",
        }
        if auth.get("type") == "azureAD":
            doc["applicationID"] = str(auth.get("applicationId", ""))
            doc["directoryID"] = str(auth.get("directoryId", ""))
            doc["applicationKey"] = secret(str(auth.get("applicationKeySecretRef", "")))
        else:
            doc["userName"] = str(auth.get("userName", ""))
            doc["password"] = secret(str(auth.get("passwordSecretRef", "")))
        return doc
    if destination == "salesforce":
        return {"resourceType": "SalesForceLeadConfiguration",
                "objectIdentifier": str(block.get("organizationId", ""))}  # fmt: skip
    if destination == "marketo":
        return {"resourceType": "MarketoLeadConfiguration",
                "munchkinAccountID": str(block.get("munchkinId", "")),
                "formID": str(block.get("formId", ""))}  # fmt: skip
    raise MappingError(f"offerSetup.customerLeads.leadDestination {destination!r} is not known")


# Lead fields that carry a secret: never compared, logged or shown.
LEAD_SECRETS = frozenset({"connectionString", "applicationKey", "password"})


def submission_request(resources: Mapping[str, str], key: str) -> dict[str, Any]:
    """The SubmissionCreationRequest: preview scope, every module's draft instance."""
    return {
        "resourceType": "SubmissionCreationRequest",
        "targets": [{"type": "Scope", "value": "preview"}],
        "resources": [{"type": k, "value": v} for k, v in resources.items()],
        "publishOption": {"isManualPublish": True, "isAutoPromote": False},
        "extendedProperties": [{"type": KEY_PROPERTY, "value": key}],
    }


def managed_differences(desired: Mapping[str, Any], actual: Mapping[str, Any],
                        prefix: str = "") -> list[str]:  # fmt: skip
    """Dotted names of the managed fields whose values differ (order of lists counts)."""
    differing: list[str] = []
    for name, want in desired.items():
        if name in ("state", "@odata.etag", "id"):
            continue
        have = actual.get(name)
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            differing.extend(managed_differences(want, have, f"{prefix}{name}."))
        elif _normal(want) != _normal(have):
            differing.append(prefix + name)
    return differing


# --- v1 reads → offerctl's view ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    result: SubmissionResult
    stages: tuple[StageProgress, ...]
    awaiting_promote: bool  # Published/ReadyToPublish: the preview exists, Go Live is possible
    in_progress: bool  # state InProgress: a DELETE would still cancel it


def progress_of(submission: Mapping[str, Any], workflows: Sequence[Mapping[str, Any]],
                ) -> Progress:  # fmt: skip
    """Stages from the reported workflow steps and their states, in the order reported.

    Certification may come before preview creation or after sign-off; a stage
    is whatever the step says, never inferred from a fixed order. Publishing a
    submission to Live (substate InStore) completes every stage.
    """
    state = str(submission.get("state", ""))
    substate = str(submission.get("substate", ""))
    seen: dict[Stage, StageProgress] = {}
    for workflow in workflows:
        for step in _list(workflow.get("workflowSteps")):
            item = _map(step)
            stage = STEP_STAGE.get(str(item.get("name", "")).strip().lower())
            if stage is None:
                continue
            progress = StageProgress(
                stage,
                _STEP_STATE.get(str(item.get("state", "")).replace(" ", "").lower(),
                                StageState.FAILED),
                _time(item.get("startDateTimeInUtc")),
                _time(item.get("completeDateTimeInUtc")),
            )  # fmt: skip
            earlier = seen.get(stage)
            if earlier is None or _rank(progress.state) >= _rank(earlier.state):
                seen[stage] = progress
    ready = state == "Published" and substate == "ReadyToPublish"
    live = substate == "InStore"
    publishing = substate in ("Publishing", "Published")
    if ready:
        for stage in (Stage.VALIDATION, Stage.PACKAGING):
            if stage not in seen or seen[stage].state is StageState.PENDING:
                seen[stage] = StageProgress(stage, StageState.SUCCEEDED)
        sign = seen.get(Stage.SIGNOFF)
        if sign is None or sign.state is not StageState.SUCCEEDED:
            seen[Stage.SIGNOFF] = StageProgress(Stage.SIGNOFF, StageState.RUNNING,
                                                sign.started_at if sign else None)  # fmt: skip
    if publishing or live:
        sign = seen.get(Stage.SIGNOFF)
        seen[Stage.SIGNOFF] = StageProgress(
            Stage.SIGNOFF, StageState.SUCCEEDED, sign.started_at if sign else None,
            sign.finished_at if sign else None)  # fmt: skip
    if live:
        for stage in (Stage.VALIDATION, Stage.CERTIFICATION, Stage.PACKAGING, Stage.PUBLISHING):
            old = seen.get(stage)
            seen[stage] = StageProgress(stage, StageState.SUCCEEDED,
                                        old.started_at if old else None,
                                        old.finished_at if old else None)  # fmt: skip
        seen[Stage.LIVE] = StageProgress(Stage.LIVE, StageState.SUCCEEDED)
    elif publishing and (seen.get(Stage.PUBLISHING) is None
                         or seen[Stage.PUBLISHING].state is StageState.PENDING):  # fmt: skip
        seen[Stage.PUBLISHING] = StageProgress(Stage.PUBLISHING, StageState.RUNNING)
    failed = substate in ("Failed", "FailedInCertification") or any(
        p.state is StageState.FAILED for p in seen.values()
    )
    if substate == "FailedInCertification":
        cert = seen.get(Stage.CERTIFICATION)
        seen[Stage.CERTIFICATION] = StageProgress(Stage.CERTIFICATION, StageState.FAILED,
                                                  cert.started_at if cert else None,
                                                  cert.finished_at if cert else None)  # fmt: skip
    if failed:
        result = SubmissionResult.FAILED
    elif live:
        result = SubmissionResult.SUCCEEDED
    else:
        result = SubmissionResult.PENDING
    stages = tuple(seen.get(s, StageProgress(s, StageState.PENDING)) for s in Stage)
    return Progress(result, stages, ready, state == "InProgress" and not failed)


def findings_of(validations: Iterable[Mapping[str, Any]],
                reports: Iterable[Mapping[str, Any]]) -> tuple[Finding, ...]:  # fmt: skip
    """Validation items and certification reports as findings; report links included."""
    found: list[Finding] = []
    for item in validations:
        severity = str(item.get("severity", "")).lower()
        found.append(Finding(
            code=_camel(str(item.get("errorCode", "") or "ValidationItem")),
            message=str(item.get("message", ""))[:2000]
            + (f" (resource {item['resource']})" if item.get("resource") else ""),
            stage=str(Stage.VALIDATION),
            severity=Severity.ERROR if severity == "error" else Severity.WARNING,
        ))  # fmt: skip
    for report in reports:
        status = str(report.get("status", ""))
        if status in ("Passed", "Pending"):
            continue
        link = str(report.get("fileUri", ""))
        found.append(Finding(
            code=f"Certification{status or 'Unknown'}",
            message=f"certification report ({status or 'Unknown'}): {link}".rstrip(": "),
            stage=str(Stage.CERTIFICATION),
            severity=Severity.ERROR if status == "Failed" else Severity.WARNING,
        ))  # fmt: skip
    return tuple(found)


# --- helpers ---------------------------------------------------------------------------------


def _media(collection: str, kind: str, path: str, files: Mapping[str, bytes], *, order: int = 0,
           description: str = "", streaming_uri: str = "") -> Media:  # fmt: skip
    content = files.get(path)
    if content is None:
        raise MappingError(f"listing media {path!r} is not among the offer's files")
    digest = hashlib.sha256(content).hexdigest()[:16]
    name = f"{digest}-{posixpath.basename(path)}"
    return Media(collection, kind, path, name, order, description, streaming_uri)


def _uri(kind: str, text: str, uri: str) -> dict[str, str]:
    return {"type": kind, "subtype": "", "displayText": text, "uri": uri}


def _rank(state: StageState) -> int:
    order = (StageState.PENDING, StageState.SKIPPED, StageState.RUNNING, StageState.SUCCEEDED,
             StageState.FAILED)  # fmt: skip
    return order.index(state)


def _camel(code: str) -> str:
    parts = [p for p in code.replace("_", "-").split("-") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "ValidationItem"


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # .NET writes 7 fractional digits; Python takes at most 6
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.year < 1900:  # "0001-01-01T00:00:00": not set
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _normal(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


def _get(data: Mapping[str, Any], *path: str) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


# --- comparison and import (v1 documents → manifest) -----------------------------------------

# Fields a diff does not compare: the SAS changes with every renewal.
_NOT_COMPARED = frozenset({"packageLocationUri"})


def desired_documents(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The managed documents a manifest asks for, by module (`Listing.<lang>` per language)."""
    docs: dict[str, dict[str, Any]] = {
        "Property": property_document(spec),
        "Availability": availability_document(spec, stop_selling=False),
        "Package": {k: v for k, v in package_document(spec, "").items() if k not in _NOT_COMPARED},
    }
    listings = spec.get("listings")
    for language, listing in (listings if isinstance(listings, Mapping) else {}).items():
        docs[f"Listing.{str(language).lower()}"] = listing_document(str(language), listing, spec)
    return docs


def differences(desired: Mapping[str, Mapping[str, Any]],
                remote: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Any, Any]]:  # fmt: skip
    """(module.field, manifest value, marketplace value) for every managed field that differs."""
    found: list[tuple[str, Any, Any]] = []
    for module in sorted(set(desired) | set(remote)):
        want, have = desired.get(module), remote.get(module)
        if want is None or have is None:
            found.append((module, "present" if want else "absent", "present" if have else "absent"))
            continue
        for name in managed_differences(want, have):
            found.append((f"{module}.{name}", _dotted(want, name), _dotted(have, name)))
    return found


def spec_from_documents(
    *,
    product: Mapping[str, Any],
    setup: Mapping[str, Any],
    prop: Mapping[str, Any],
    listings: Mapping[str, tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    availability: Mapping[str, Any],
    package: Mapping[str, Any],
    leads: Mapping[str, Any] | None,
    package_file: str,
    secret_prefix: str,
) -> dict[str, Any]:
    """An offer.yaml `spec` that maps back onto these documents (import from Partner Center).

    `listings` maps a language to its AzureListing and its media items;
    media land in `media/<name>` (the content-digest prefix offerctl adds is
    dropped). Fields v1 does not carry (azureAdApplicationId, packageVersion)
    get placeholders the importer tells the user to review.
    """
    first = next(iter(listings.values()), ({}, []))[0]
    uris = {str(u.get("type")): str(u.get("uri", "")) for u in _list(first.get("listingUris"))
            if isinstance(u, Mapping)}  # fmt: skip
    standard = prop.get("useEnterpriseContract") is True
    legal: dict[str, Any] = {"privacyPolicyUrl": uris.get("PrivacyUri", "")}
    if standard:
        legal["useStandardContract"] = True
    else:
        legal["termsOfUseUrl"] = str(prop.get("termsOfUse") or "")
    properties: dict[str, Any] = {"categories": list(_list(prop.get("categories")))}
    if _list(prop.get("industries")):
        properties["industries"] = list(_list(prop.get("industries")))
    properties["appVersion"] = str(prop.get("appVersion") or "")
    properties["legal"] = legal
    call = str(setup.get("callToAction") or "free")
    model = {v: k for k, v in _CALL_TO_ACTION.items()}.get(call, "free")
    if model == "marketplace":
        model = "contactMe"  # plans are not read through v1 for this offer type
    states = [m for m in _list(availability.get("marketStates")) if isinstance(m, Mapping)]
    markets = sorted(str(m.get("marketCode")) for m in states if m.get("state") == "Enabled")
    model_name = str(package.get("baseLicenseModel") or "User").lower()
    regions = [r for r in _list(package.get("packageRegionAvailabilities"))
               if isinstance(r, Mapping)]  # fmt: skip
    return {
        "type": "dynamics-365-customer-engagement",
        "target": "draft",
        "offerSetup": {
            "alias": str(product.get("name") or "")[:50],
            "customerLeads": _leads_spec(leads, secret_prefix),
        },
        "properties": properties,
        "listings": {lang: _listing_spec(doc, media) for lang, (doc, media) in listings.items()},
        "availability": {"markets": markets, "pricing": {"model": model}},
        "technicalConfiguration": {
            "packageFile": package_file,
            "azureAdApplicationId": "00000000-0000-0000-0000-000000000000",
            "regions": [str(r.get("region")) for r in regions if r.get("isAvailable")],
            "packageVersion": "1.0.0.0",
            "baseLicenseModel": model_name if model_name in _LICENSE_MODEL else "user",
            "requireS2SOutboundAndCrmSecureStoreAccess": package.get(
                "requireS2SOutboundAndCrmSecureStoreAccess"
            )
            is True,
        },
    }


def media_file(item: Mapping[str, Any]) -> str:
    """Where an imported media item goes in the offer folder."""
    name = str(item.get("fileName") or "file")
    head, sep, tail = name.partition("-")
    if sep and len(head) == 16 and all(c in "0123456789abcdef" for c in head):
        name = tail  # drop offerctl's content-digest prefix
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in posixpath.basename(name))
    return f"media/{safe.lstrip('.') or 'file'}"


def _listing_spec(doc: Mapping[str, Any], media: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": str(doc.get("title") or ""),
        "searchResultsSummary": str(doc.get("summary") or ""),
        "description": str(doc.get("description") or ""),
    }
    if doc.get("gettingStartedInstructions"):
        out["gettingStartedInstructions"] = str(doc["gettingStartedInstructions"])
    if _list(doc.get("keywords")):
        out["searchKeywords"] = [str(k) for k in _list(doc.get("keywords"))]
    links = [{"name": str(u.get("displayText") or ""), "url": str(u.get("uri") or "")}
             for u in _list(doc.get("listingUris"))
             if isinstance(u, Mapping) and u.get("type") == "UsefulLink"]  # fmt: skip
    if links:
        out["usefulLinks"] = links
    for u in _list(doc.get("listingUris")):
        if isinstance(u, Mapping) and u.get("type") == "HelpUri":
            out["helpLink"] = str(u.get("uri") or "")
    contacts: dict[str, Any] = {}
    for c in _list(doc.get("listingContacts")):
        if not isinstance(c, Mapping):
            continue
        key = {"CustomerSupport": "support", "Engineering": "engineering"}.get(str(c.get("type")))
        if key:
            person = {k: str(c.get(k) or "") for k in ("name", "email", "phone")}
            if c.get("uri"):
                person["url"] = str(c["uri"])
            contacts[key] = person
    out["contacts"] = contacts
    kinds = {v: k for k, v in _LOGO_TYPES.items()}
    images = [m for m in media if m.get("resourceType") != "ListingVideo"]
    logos = {kinds[str(m.get("type"))]: media_file(m)
             for m in images if str(m.get("type")) in kinds}  # fmt: skip
    if logos:
        out["logos"] = logos
    shots = sorted((m for m in media if m.get("type") == "AzureLogoScreenshot"),
                   key=lambda m: int(m.get("order") or 0))  # fmt: skip
    if shots:
        out["screenshots"] = [{"path": media_file(m), "caption": str(m.get("description") or "")}
                              for m in shots]  # fmt: skip
    videos = [m for m in media if m.get("resourceType") == "ListingVideo"]
    if videos:
        out["videos"] = [{"name": str(_map(v.get("thumbnail")).get("title") or ""),
                          "url": str(v.get("streamingUri") or ""),
                          "thumbnail": media_file(v)} for v in videos]  # fmt: skip
    return out


def _leads_spec(leads: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    kind = str((leads or {}).get("resourceType") or "")
    lead = leads or {}
    if kind == "HttpsEndpointLeadConfiguration":
        return {"leadDestination": "httpsEndpoint",
                "httpsEndpoint": {"url": str(lead.get("httpsEndpointUri") or "")}}  # fmt: skip
    if kind == "AzureTableLeadConfiguration":
        ref = f"{prefix}_LEADS_CONNECTION"
        return {"leadDestination": "azureTable", "azureTable": {"connectionStringSecretRef": ref}}
    if kind == "SalesForceLeadConfiguration":
        org = str(lead.get("objectIdentifier") or "")
        return {"leadDestination": "salesforce", "salesforce": {"organizationId": org}}
    if kind == "MarketoLeadConfiguration":
        return {"leadDestination": "marketo",
                "marketo": {"munchkinId": str(lead.get("munchkinAccountID") or ""),
                            "formId": str(lead.get("formID") or "")}}  # fmt: skip
    if kind == "DynamicsCustomerRelationshipManagementLeadConfiguration":
        auth: dict[str, Any]
        if str(lead.get("authentication")) == "AzureAD":
            auth = {"type": "azureAD", "applicationId": str(lead.get("applicationID") or ""),
                    "directoryId": str(lead.get("directoryID") or ""),
                    "applicationKeySecretRef": f"{prefix}_LEADS_APP_KEY"}  # fmt: skip
        else:
            auth = {"type": "office365", "userName": str(lead.get("userName") or ""),
                    "passwordSecretRef": f"{prefix}_LEADS_PASSWORD"}  # fmt: skip
        dynamics = {"instanceUrl": str(lead.get("uri") or ""), "authentication": auth}
        return {"leadDestination": "dynamics", "dynamics": dynamics}
    return {"leadDestination": "none"}


def _dotted(doc: Mapping[str, Any], name: str) -> Any:
    node: Any = doc
    for part in name.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node
