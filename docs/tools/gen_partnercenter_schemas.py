"""Generate schemas/partnercenter/*.schema.json from the v1 model listing.

The Partner Center ingestion API v1 publishes one OpenAPI document; its models,
flattened one field a line (`name : type [enum[...]]`), are the input here
(`v1-models.txt`, kept beside the adapter's research notes). Each document
offerctl sends or receives gets one self-contained JSON Schema with its nested
models under `$defs`, so contract tests need no `$ref` resolution across files.

Decisions:
- Names, casing and enums are copied exactly; `additionalProperties: false`
  everywhere, so a field spelled `externalIds` where v1 says `externalIDs`
  fails a contract test instead of being ignored by the real service.
- Every field may be `null` (the service returns nulls for unset fields),
  except `resourceType`, which is required where the model fixes it.
- `packageRegionAvailabilities[].region` carries no enum: Microsoft's own CE
  template uses regions the swagger's enum lacks, so that enum is stale.
- Collections of a polymorphic base model list the concrete model a
  Dynamics 365 for Customer Engagement offer returns.

Usage: python docs/tools/gen_partnercenter_schemas.py PATH/TO/v1-models.txt
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "schemas" / "partnercenter"
BASE_ID = "https://offerctl.dev/schemas/partnercenter/"

# document name -> v1 model (without the `Models.` prefix)
DOCUMENTS = {
    "AzureProduct": "Products.AzureProduct",
    "AzureProductSetup": "Products.AzureProductSetup",
    "Branch": "Branches.Branch",
    "AzureProperty": "Properties.AzureProperty",
    "AzureListing": "Listings.AzureListing",
    "ListingImage": "Listings.ListingImage",
    "ListingAsset": "Listings.ListingAsset",
    "ListingVideo": "Listings.ListingVideo",
    "FeatureAvailability": "Availabilities.FeatureAvailability",
    "ProductAvailability": "Availabilities.ProductAvailability",
    "Dynamics365CustomerEngagementPackageConfiguration": (
        "Packages.Dynamics365CustomerEngagementPackageConfiguration"
    ),
    "Submission": "Submissions.Submission",
    "SubmissionCreationRequest": "Submissions.SubmissionCreationRequest",
    "WorkflowDetail": "Submissions.WorkflowDetail",
    "ValidationItem": "Submissions.ValidationItem",
    "CertificationReport": "Submissions.CertificationReport",
    "ResellerConfiguration": "Reseller.ResellerConfiguration",
    "AzureSkuVariant": "Variants.AzureSkuVariant",
}
LEAD_CONFIGURATIONS = [
    "LeadManagement.AzureTableLeadConfiguration",
    "LeadManagement.AzureBlobLeadConfiguration",
    "LeadManagement.DynamicsCustomerRelationshipManagementLeadConfiguration",
    "LeadManagement.HttpsEndpointLeadConfiguration",
    "LeadManagement.MarketoLeadConfiguration",
    "LeadManagement.SalesForceLeadConfiguration",
]
# collection document -> the document its `value` items follow
COLLECTIONS = {
    "ProductCollection": "AzureProduct",
    "BranchCollection": "Branch",
    "PropertyCollection": "AzureProperty",
    "ListingCollection": "AzureListing",
    "ListingImageCollection": "ListingImage",
    "ListingAssetCollection": "ListingAsset",
    "ListingVideoCollection": "ListingVideo",
    "FeatureAvailabilityCollection": "FeatureAvailability",
    "ProductAvailabilityCollection": "ProductAvailability",
    "PackageConfigurationCollection": "Dynamics365CustomerEngagementPackageConfiguration",
    "SubmissionCollection": "Submission",
    "WorkflowDetailCollection": "WorkflowDetail",
    "ValidationItemCollection": "ValidationItem",
    "CertificationReportCollection": "CertificationReport",
    "VariantCollection": "AzureSkuVariant",
}
NO_ENUM = {("Packages.PackageRegionAvailability", "region")}

_FIELD = re.compile(r"^\s+(\S+) : (\S+?)(?: enum\[(.*?)\])?\s*(?:#.*)?$")
_SCALARS = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "integer(int32)": {"type": "integer"},
    "number(decimal)": {"type": "number"},
    "number(double)": {"type": "number"},
    "number(long)": {"type": "integer"},
    "string(date-time)": {"type": "string", "format": "date-time"},
}


def parse(text: str) -> dict[str, list[tuple[str, str, list[str] | None]]]:
    models: dict[str, list[tuple[str, str, list[str] | None]]] = {}
    current: list[tuple[str, str, list[str] | None]] | None = None
    for line in text.splitlines():
        if line.startswith("== "):
            name = line[3:].strip()
            for prefix in ("Models.", "DataModel."):
                if name.startswith(prefix):
                    name = name[len(prefix) :]
            current = models.setdefault(name, [])
        elif current is not None and (m := _FIELD.match(line)):
            enum = json.loads(f"[{m[3]}]") if m[3] is not None else None
            current.append((m[1], m[2], enum))
    return models


def _short(model: str) -> str:
    return model.rsplit(".", 1)[-1]


def _type(  # noqa: PLR0917 - a small recursive helper of a one-off generator
    models: dict[str, Any],
    owner: str,
    field: str,
    kind: str,
    enum: list[str] | None,
    defs: dict[str, Any],
) -> dict[str, Any]:
    if kind.startswith("array<"):
        inner = kind[len("array<") : -1]
        return {"type": ["array", "null"], "items": _item(models, owner, field, inner, defs)}
    if kind in _SCALARS:
        schema = dict(_SCALARS[kind])
        if enum is not None and (owner, field) not in NO_ENUM:
            schema["enum"] = [*enum, None]
        schema["type"] = [schema["type"], "null"]
        return schema
    return {"anyOf": [_item(models, owner, field, kind, defs), {"type": "null"}]}


def _item(
    models: dict[str, Any], owner: str, field: str, kind: str, defs: dict[str, Any]
) -> dict[str, Any]:
    if kind in _SCALARS:
        return dict(_SCALARS[kind])
    name = kind.removeprefix("Models.").removeprefix("DataModel.")
    if name not in models:
        raise SystemExit(f"{owner}.{field}: unknown model {kind}")
    short = _short(name)
    if short not in defs:
        defs[short] = {}  # placeholder first: models may refer to themselves
        defs[short] = _object(models, name, defs)
    return {"$ref": f"#/$defs/{short}"}


def _object(models: dict[str, Any], name: str, defs: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for field, kind, enum in models[name]:
        if field == "resourceType" and enum is not None:
            props[field] = {"type": "string", "enum": [e for e in enum if e] or enum}
            required.append(field)
            continue
        props[field] = _type(models, name, field, kind, enum, defs)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        schema["required"] = required
    return schema


def document(models: dict[str, Any], title: str, model: str) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    body = _object(models, model, defs)
    return _wrap(title, f"Partner Center ingestion API v1 model {model}", body, defs)


def _wrap(
    title: str, description: str, body: dict[str, Any], defs: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE_ID}{title}.schema.json",
        "title": title,
        "description": description,
        **body,
    }
    if defs:
        out["$defs"] = dict(sorted(defs.items()))
    return out


def collection(docs: dict[str, dict[str, Any]], title: str, item: str) -> dict[str, Any]:
    inner = docs[item]
    defs = dict(inner.get("$defs", {}))
    defs[item] = {
        k: v
        for k, v in inner.items()
        if k not in ("$schema", "$id", "title", "description", "$defs")
    }
    body = {
        "type": "object",
        "additionalProperties": False,
        "required": ["value"],
        "properties": {
            "value": {"type": "array", "items": {"$ref": f"#/$defs/{item}"}},
            "@odata.nextLink": {"type": ["string", "null"]},
        },
    }
    return _wrap(title, f"A page of {item} documents (v1 PagedCollection)", body, defs)


def lead_configuration(models: dict[str, Any]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    choices = [_item(models, "lead", "configuration", m, defs) for m in LEAD_CONFIGURATIONS]
    return _wrap(
        "LeadConfiguration", "One of the v1 LeadManagement configurations", {"oneOf": choices}, defs
    )


def error_document() -> dict[str, Any]:
    detail = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "target": {"type": ["string", "null"]},
        },
    }
    error = {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "target": {"type": ["string", "null"]},
                    "details": {"type": "array", "items": detail},
                },
            }
        },
    }
    problem = {
        "type": "object",
        "required": ["title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "traceId": {"type": "string"},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    }
    return _wrap(
        "Error",
        "An error answer: {error:{code,message,details}}, or the RFC 9110 "
        "problem document v1 returns for a missing x-ms-publisherId",
        {"oneOf": [error, problem]},
        {},
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    models = parse(Path(argv[1]).read_text(encoding="utf-8"))
    docs = {title: document(models, title, model) for title, model in DOCUMENTS.items()}
    docs["LeadConfiguration"] = lead_configuration(models)
    for title, item in COLLECTIONS.items():
        docs[title] = collection(docs, title, item)
    docs["Error"] = error_document()
    OUT.mkdir(parents=True, exist_ok=True)
    for title, schema in docs.items():
        path = OUT / f"{title}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(docs)} schemas to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
