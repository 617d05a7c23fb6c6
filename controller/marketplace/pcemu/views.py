"""Pure translations between the simulated marketplace's engine and v1 documents.

- `submission_state`: an engine `Submission` as v1 `state`/`substate`.
- `workflow_details`: its stages as the v1 workflow steps ("Automated
  validation", "Certification", "Preview Creation", "Publisher Signoff",
  "Publish") in a Preview and a Live `WorkflowDetail`. Where "Certification" is
  reported (before preview, or in the live push after sign-off) is a
  parameter: real offers differ, and clients must not assume an order.
- `validation_items`, `certification_reports`: engine findings as v1
  `ValidationItem`s and `CertificationReport`s.
- `certification_spec`: the v1 draft documents as the manifest-shaped spec the
  engine's certification reads, so its findings carry manifest JSON paths.

No I/O, no clock: `now` and documents are parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from controller.core.model import Finding, Severity, Stage, StageState

from ..api import StageProgress, Submission, SubmissionResult

# v1 workflow step names (BcContainerHelper polls exactly these).
STEP_VALIDATION = "Automated validation"
STEP_CERTIFICATION = "Certification"
STEP_PREVIEW = "Preview Creation"
STEP_SIGNOFF = "Publisher Signoff"
STEP_PUBLISH = "Publish"

_STEP_STATE = {
    StageState.PENDING: "NotStarted",
    StageState.RUNNING: "InProgress",
    StageState.SUCCEEDED: "Success",
    StageState.FAILED: "Failed",
    StageState.SKIPPED: "NotStarted",  # never ran: an earlier step failed
}
_SEVERITY = {Severity.ERROR: "Error", Severity.WARNING: "Warning", Severity.INFO: "Informational"}
IMAGE_LOGOS = {
    "AzureLogoSmall": "small",
    "AzureLogoMedium": "medium",
    "AzureLogoLarge": "large",
    "AzureLogoWide": "wide",
}
IMAGE_SCREENSHOT = "AzureLogoScreenshot"
PACKAGE_FILE = "package/package.zip"


def v1_time(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with a `Z`, as v1 writes `...TimeInUtc` fields."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def submission_state(sub: Submission) -> tuple[str, str]:
    """(state, substate) of an engine submission in v1's enums."""
    states = {p.name: p.state for p in sub.stages}
    if sub.result == SubmissionResult.FAILED:
        if states[Stage.CERTIFICATION] == StageState.FAILED:
            return "InProgress", "FailedInCertification"
        return "InProgress", "Failed"
    if sub.result == SubmissionResult.SUCCEEDED:
        return "Published", "InStore"
    if states[Stage.SIGNOFF] == StageState.RUNNING:
        return "Published", "ReadyToPublish"
    if states[Stage.SIGNOFF] == StageState.SUCCEEDED:
        return "Published", "Publishing"
    return "InProgress", "Submitted"


def _step(name: str, progress: StageProgress) -> dict[str, Any]:
    return {
        "name": name,
        "state": _STEP_STATE[progress.state],
        "startDateTimeInUtc": v1_time(progress.started_at),
        "completeDateTimeInUtc": v1_time(progress.finished_at),
    }


def _merge(name: str, parts: Sequence[StageProgress]) -> dict[str, Any]:
    """One v1 step made of several engine stages run back to back (Publish = Publishing + Live)."""
    states = [p.state for p in parts]
    if StageState.FAILED in states:
        state = StageState.FAILED
    elif all(s == StageState.SUCCEEDED for s in states):
        state = StageState.SUCCEEDED
    elif any(s in (StageState.RUNNING, StageState.SUCCEEDED) for s in states):
        state = StageState.RUNNING
    else:
        state = StageState.PENDING
    finished = parts[-1].finished_at if state == StageState.SUCCEEDED else None
    return _step(name, StageProgress(parts[0].name, state, parts[0].started_at, finished))


def _detail(environment: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    states = [s["state"] for s in steps]
    if "Failed" in states:
        state = "Failed"
    elif all(s == "Success" for s in states):
        state = "Success"
    elif all(s == "NotStarted" for s in states):
        state = "NotStarted"
    else:
        state = "InProgress"
    starts = [s["startDateTimeInUtc"] for s in steps if s["startDateTimeInUtc"]]
    return {
        "type": "Push",
        "state": state,
        "targetEnvironment": environment,
        "workflowSteps": steps,
        "startDateTimeInUtc": starts[0] if starts else None,
        "completeDateTimeInUtc": steps[-1]["completeDateTimeInUtc"] if state == "Success" else None,
    }


def workflow_details(sub: Submission, *, certification_after_signoff: bool) -> list[dict[str, Any]]:
    """The Preview and the Live `WorkflowDetail` of a submission."""
    cert = _step(STEP_CERTIFICATION, sub.stage(Stage.CERTIFICATION))
    preview = [_step(STEP_VALIDATION, sub.stage(Stage.VALIDATION))]
    if not certification_after_signoff:
        preview.append(cert)
    preview += [
        _step(STEP_PREVIEW, sub.stage(Stage.PACKAGING)),
        _step(STEP_SIGNOFF, sub.stage(Stage.SIGNOFF)),
    ]
    live = [cert] if certification_after_signoff else []
    live.append(_merge(STEP_PUBLISH, [sub.stage(Stage.PUBLISHING), sub.stage(Stage.LIVE)]))
    return [_detail("Preview", preview), _detail("Live", live)]


def validation_items(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Validation-stage findings; `resource` is the manifest JSON path the finding is about."""
    return [
        {
            "errorCode": f.code,
            "severity": _SEVERITY.get(f.severity, "Error"),
            "message": f.message,
            "resource": f.path,
        }
        for f in findings
        if f.stage == Stage.VALIDATION.value
    ]


def certification_reports(sub: Submission, report_uri: str) -> list[dict[str, Any]]:
    """One report once certification has started: Pending, then Passed/PassedWithNotes/Failed."""
    progress = sub.stage(Stage.CERTIFICATION)
    if progress.state == StageState.RUNNING:
        return [
            {"reportTimeInUtc": v1_time(progress.started_at), "status": "Pending", "fileUri": None}
        ]
    if progress.state == StageState.FAILED:
        status = "Failed"
    elif progress.state == StageState.SUCCEEDED:
        notes = any(f.stage == Stage.CERTIFICATION.value for f in sub.feedback)
        status = "PassedWithNotes" if notes else "Passed"
    else:
        return []
    return [
        {"reportTimeInUtc": v1_time(progress.finished_at), "status": status, "fileUri": report_uri}
    ]


def certification_findings(sub: Submission) -> list[dict[str, Any]]:
    """The body of the report behind `fileUri`: what certification found, with manifest paths."""
    return [
        {
            "code": f.code,
            "severity": _SEVERITY.get(f.severity, "Error"),
            "message": f.message,
            "path": f.path,
        }
        for f in sub.feedback
        if f.stage == Stage.CERTIFICATION.value
    ]


# --- v1 drafts -> the spec certification reads ------------------------------------------------


def certification_spec(
    product: Mapping[str, Any],
    prop: Mapping[str, Any],
    listings: Sequence[Mapping[str, Any]],
    *,
    images: Mapping[str, Sequence[Mapping[str, Any]]],
    package: Mapping[str, Any],
    has_package: bool,
) -> dict[str, Any]:
    """A manifest-shaped spec: only the fields the engine's certification inspects.

    `images` maps a listing id to its images; their files are named
    `media/<listing language>/<fileName>` (see `image_file`).
    """
    offer_type = ""
    if product.get("resourceType") == "AzureDynamics365ForCustomerEngagement":
        offer_type = "dynamics-365-customer-engagement"
    spec: dict[str, Any] = {"type": offer_type, "listings": {}}
    privacy = ""
    for listing in listings:
        lang = str(listing.get("languageCode") or "").lower()
        uris = [u for u in listing.get("listingUris") or [] if isinstance(u, Mapping)]
        entry: dict[str, Any] = {
            "name": listing.get("title") or "",
            "searchResultsSummary": listing.get("summary") or "",
            "description": listing.get("description") or "",
        }
        if listing.get("gettingStartedInstructions"):
            entry["gettingStartedInstructions"] = listing["gettingStartedInstructions"]
        links = []
        for uri in uris:
            kind = str(uri.get("type") or "")
            if kind == "PrivacyUri" and lang == "en-us":
                privacy = str(uri.get("uri") or "")
            elif kind == "HelpUri":
                entry["helpLink"] = uri.get("uri") or ""
            else:
                links.append({"name": uri.get("displayText") or "", "url": uri.get("uri") or ""})
        if links:
            entry["usefulLinks"] = links
        for contact in listing.get("listingContacts") or []:
            if isinstance(contact, Mapping) and contact.get("type") == "CustomerSupport":
                entry["contacts"] = {"support": {"url": contact.get("uri") or ""}}
        logos: dict[str, str] = {}
        shots: list[dict[str, str]] = []
        for image in images.get(str(listing.get("id")), ()):
            name = image_file(lang, image)
            if image.get("type") in IMAGE_LOGOS:
                logos[IMAGE_LOGOS[str(image["type"])]] = name
            elif image.get("type") == IMAGE_SCREENSHOT:
                shots.append({"path": name})
        if logos:
            entry["logos"] = logos
        if shots:
            entry["screenshots"] = shots
        spec["listings"][lang] = entry
    legal: dict[str, Any] = {}
    if privacy:
        legal["privacyPolicyUrl"] = privacy
    if prop.get("termsOfUse"):
        legal["termsOfUse"] = prop["termsOfUse"]
    spec["properties"] = {"legal": legal}
    if has_package:
        spec["technicalConfiguration"] = {"packageFile": PACKAGE_FILE}
    if package.get("applicationConfigurationUri"):
        spec.setdefault("technicalConfiguration", {})["applicationConfigurationUrl"] = package[
            "applicationConfigurationUri"
        ]
    return spec


def image_file(lang: str, image: Mapping[str, Any]) -> str:
    return f"media/{lang}/{image.get('fileName') or image.get('id')}"
