"""The JSON Schemas in schemas/ and the example offers shipped in offers/.

The schemas are the user-facing contract, so these tests pin both directions:
every valid document passes, and each rule rejects what it should with the
keyword and JSON path a user would be shown. They use jsonschema directly, the
way an editor or a CI job would, not offerctl's validation engine.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import io
import json
import re
import struct
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from controller.core import model
from controller.validation.appsource import check_package
from controller.validation.zipscan import scan_bytes

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
OFFERS = ROOT / "offers"
CASES = Path(__file__).resolve().parent / "schema_cases"
SCHEMA_NAMES = ("offer", "signoff", "status", "publishing")
MODELINE = "# yaml-language-server: $schema=../../schemas/offer.schema.json"
# Assembled from halves so this test file is not itself flagged by scanners.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
REJECTED_EXAMPLE = "tailspin-quote-builder"

Failure = tuple[str, str]  # (JSON Schema keyword, JSON path)


# ------------------------------------------------------------------ helpers


@functools.cache
def schema(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text("utf-8"))
    return result


@functools.cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def json_path(error: ValidationError) -> str:
    """The error's location as offerctl prints it: $.spec.listings.en-us.name, $.a[0]."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def failures(name: str, instance: Any) -> set[Failure]:
    return {(str(e.validator), json_path(e)) for e in validator(name).iter_errors(instance)}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def case_files(kind: str) -> list[Any]:
    return [
        pytest.param(name, path, id=f"{name}/{path.stem}")
        for name in SCHEMA_NAMES
        for path in sorted((CASES / kind / name).glob("*.yaml"))
    ]


def shipped_offers() -> list[Path]:
    return sorted(OFFERS.glob("*/offer.yaml"))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR", "PNG does not start with IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def referenced_files(spec: dict[str, Any]) -> dict[str, tuple[int, int] | None]:
    """Offer-relative path -> required PNG size (None: not an image) for every file spec names."""
    sizes = {"large": (216, 216), "medium": (90, 90), "small": (48, 48)}
    files: dict[str, tuple[int, int] | None] = {spec["technicalConfiguration"]["packageFile"]: None}
    for listing in spec["listings"].values():
        for role, path in listing["logos"].items():
            files[path] = sizes[role]
        for shot in listing["screenshots"]:
            files[shot["path"]] = (1280, 720)
        for video in listing.get("videos", []):
            files[video["thumbnail"]] = (1280, 720)
    return files


# --------------------------------------------------------- schema structure


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_against_the_2020_12_metaschema(name: str) -> None:
    Draft202012Validator.check_schema(schema(name))
    assert schema(name)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema(name)["$id"] == f"https://offerctl.dev/schemas/{name}.schema.json"


def property_schemas(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """Every schema that defines a property, array item, map value or $defs entry.

    `if`, `then`, `else` and `not` only constrain properties declared beside
    them, so they are not walked.
    """
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from property_schemas(item, f"{where}/{index}")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = f"{where}/{key}"
        if key in {"if", "then", "else", "not", "const", "enum", "default", "examples"}:
            continue
        if key in {"properties", "patternProperties", "$defs"}:
            for name, sub in value.items():
                yield f"{here}/{name}", sub
                yield from property_schemas(sub, f"{here}/{name}")
        elif key in {"items", "additionalProperties"} and isinstance(value, dict):
            yield here, value
            yield from property_schemas(value, here)
        else:
            yield from property_schemas(value, here)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_has_a_title_and_a_description(name: str) -> None:
    missing = [
        where
        for where, sub in property_schemas(schema(name))
        if not (isinstance(sub, dict) and sub.get("title") and sub.get("description"))
    ]
    assert missing == []


def test_the_walk_sees_the_nested_listing_fields() -> None:
    walked = {where for where, _ in property_schemas(schema("offer"))}
    assert "#/$defs/listing/properties/searchResultsSummary" in walked
    assert "#/$defs/listing/properties/screenshots/items" in walked
    assert len(walked) > 120


def all_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_refs(item)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_ref_points_to_a_local_definition(name: str) -> None:
    defs = schema(name).get("$defs", {})
    for ref in all_refs(schema(name)):
        assert ref.startswith("#/$defs/"), f"non-local $ref {ref}"
        assert ref.removeprefix("#/$defs/") in defs, f"dangling $ref {ref}"


def test_each_offer_type_selects_a_closed_definition_of_its_own() -> None:
    offer = schema("offer")
    types = offer["$defs"]["offerType"]["enum"]
    branches = {
        rule["if"]["properties"]["type"]["const"]: rule["then"]["$ref"]
        for rule in offer["$defs"]["spec"]["allOf"]
    }
    assert sorted(branches) == sorted(types)
    for offer_type, ref in branches.items():
        definition = offer["$defs"][ref.removeprefix("#/$defs/")]
        assert definition["properties"]["type"]["const"] == offer_type
        assert definition["additionalProperties"] is False
        assert {"type", "target"} <= set(definition["required"])


@pytest.mark.parametrize(
    ("name", "pointer", "names"),
    [
        ("offer", "#/$defs/target", model.Target),
        ("status", "#/$defs/target", model.Target),
        ("status", "#/properties/phase", model.Phase),
        ("status", "#/$defs/stageName", model.Stage),
        ("status", "#/$defs/stage/properties/state", model.StageState),
        ("status", "#/$defs/condition/properties/type", model.ConditionType),
        ("status", "#/$defs/condition/properties/status", model.ConditionStatus),
        ("status", "#/$defs/finding/properties/severity", model.Severity),
    ],
)
def test_schema_enums_match_the_names_in_controller_model(
    name: str, pointer: str, names: type[Any]
) -> None:
    node: Any = schema(name)
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    assert node["enum"] == [member.value for member in names]


def test_validating_every_shipped_offer_is_fast() -> None:
    documents = [load_yaml(path) for path in shipped_offers()]
    fresh = Draft202012Validator(
        schema("offer"), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    started = time.perf_counter()
    for document in documents:
        assert not list(fresh.iter_errors(document))
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "text",
    ["<p" * 1500, "<p>" + "a " * 1500 + "<", " " * 3000 + "<x", "<" + "/" * 3000],
    ids=["open-tags", "trailing-lt", "spaces", "slashes"],
)
def test_text_patterns_reject_adversarial_descriptions_quickly(text: str) -> None:
    offer = load_yaml(CASES / "positive/offer/minimal.yaml")
    offer["spec"]["listings"]["en-us"]["description"] = text
    offer["spec"]["listings"]["en-us"]["name"] = text
    started = time.perf_counter()
    found = failures("offer", offer)
    assert time.perf_counter() - started < 0.5
    assert ("pattern", "$.spec.listings.en-us.description") in found


# ------------------------------------------------------------ positive cases


@pytest.mark.parametrize("path", shipped_offers(), ids=lambda p: p.parent.name)
def test_shipped_offer_passes_the_schema(path: Path) -> None:
    assert failures("offer", load_yaml(path)) == set()


@pytest.mark.parametrize(("name", "path"), case_files("positive"))
def test_valid_document_passes_its_schema(name: str, path: Path) -> None:
    assert failures(name, load_yaml(path)) == set()


# ------------------------------------------------------------ negative cases

LISTING = "spec/listings/en-us"
LEADS = "spec/offerSetup/customerLeads"
LEGAL = "spec/properties/legal"
PRICING = "spec/availability/pricing"
TECH = "spec/technicalConfiguration"
VALID_DYNAMICS = {
    "instanceUrl": "https://contoso.crm.dynamics.com",
    "authentication": {
        "type": "office365",
        "userName": "a@contoso.example",
        "passwordSecretRef": "PW",
    },
}
INLINE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=https;AccountName=litware;AccountKey=bm90YXNlY3JldA=="
)
PLAN = {
    "id": "basic",
    "name": "Basic",
    "price": {"currency": "USD", "amount": "10.00"},
    "billingTerm": "month",
}

Edit = Callable[[dict[str, Any]], None]


def _walk_to(doc: Any, path: str) -> tuple[Any, str | int]:
    *parents, last = path.split("/")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, int(last) if isinstance(node, list) else last


def put(path: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        parent, key = _walk_to(doc, path)
        parent[key] = copy.deepcopy(value)

    return edit


def drop(path: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        parent, key = _walk_to(doc, path)
        del parent[key]

    return edit


def listing_copy(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = copy.deepcopy(doc["spec"]["listings"]["en-us"])
    return result


def rename_listing(old: str, new: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        listings = doc["spec"]["listings"]
        listings[new] = listings.pop(old)

    return edit


def add_listing(key: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc["spec"]["listings"][key] = listing_copy(doc)

    return edit


def at(keyword: str, path: str) -> Failure:
    """A failure of `keyword` at a slash path (the edits' notation), as a JSON path."""
    parts = path.split("/") if path else []
    return keyword, "$" + "".join(f"[{x}]" if x.isdigit() else f".{x}" for x in parts)


def case(name: str, edits: list[Edit], *expected: Failure) -> Any:
    return pytest.param(edits, set(expected), id=name)


NEGATIVE_OFFERS = [
    case(
        "name-longer-than-50",
        [put(f"{LISTING}/name", "N" * 51)],
        at("maxLength", f"{LISTING}/name"),
    ),
    case(
        "four-search-keywords",
        [put(f"{LISTING}/searchKeywords", ["a", "b", "c", "d"])],
        at("maxItems", f"{LISTING}/searchKeywords"),
    ),
    case(
        "repeated-search-keyword",
        [put(f"{LISTING}/searchKeywords", ["crm", "crm"])],
        at("uniqueItems", f"{LISTING}/searchKeywords"),
    ),
    case(
        "summary-longer-than-100",
        [put(f"{LISTING}/searchResultsSummary", "s" * 101)],
        at("maxLength", f"{LISTING}/searchResultsSummary"),
    ),
    case(
        "summary-on-two-lines",
        [put(f"{LISTING}/searchResultsSummary", "two\nlines")],
        at("pattern", f"{LISTING}/searchResultsSummary"),
    ),
    case(
        "html-in-name",
        [put(f"{LISTING}/name", "<b>Litware</b>")],
        at("pattern", f"{LISTING}/name"),
    ),
    case(
        "trailing-space-in-name",
        [put(f"{LISTING}/name", "Litware ")],
        at("pattern", f"{LISTING}/name"),
    ),
    case(
        "script-tag-in-description",
        [put(f"{LISTING}/description", "<p>Hi</p><script>alert(1)</script>")],
        at("pattern", f"{LISTING}/description"),
    ),
    case(
        "attribute-in-description",
        [put(f"{LISTING}/description", '<p class="lead">Hi</p>')],
        at("pattern", f"{LISTING}/description"),
    ),
    case(
        "description-longer-than-3000",
        [put(f"{LISTING}/description", "<p>" + "a" * 3000 + "</p>")],
        at("maxLength", f"{LISTING}/description"),
    ),
    case(
        "instructions-longer-than-4000",
        [put(f"{LISTING}/gettingStartedInstructions", "x" * 4001)],
        at("maxLength", f"{LISTING}/gettingStartedInstructions"),
    ),
    case(
        "misspelled-listing-field",
        [put(f"{LISTING}/serchKeywords", ["crm"])],
        at("additionalProperties", LISTING),
    ),
    case(
        "http-help-link",
        [put(f"{LISTING}/helpLink", "http://litware.example/help")],
        at("pattern", f"{LISTING}/helpLink"),
    ),
    case(
        "credentials-in-url",
        [put(f"{LISTING}/helpLink", "https://user:secret@litware.example/help")],
        at("pattern", f"{LISTING}/helpLink"),
    ),
    case(
        "email-without-domain",
        [put(f"{LISTING}/contacts/support/email", "support")],
        at("format", f"{LISTING}/contacts/support/email"),
        at("pattern", f"{LISTING}/contacts/support/email"),
    ),
    case(
        "phone-with-letters",
        [put(f"{LISTING}/contacts/engineering/phone", "call us")],
        at("pattern", f"{LISTING}/contacts/engineering/phone"),
    ),
    case(
        "missing-engineering-contact",
        [drop(f"{LISTING}/contacts/engineering")],
        at("required", f"{LISTING}/contacts"),
    ),
    case(
        "missing-large-logo",
        [put(f"{LISTING}/logos", {"small": "media/logo-48.png"})],
        at("required", f"{LISTING}/logos"),
    ),
    case(
        "logo-path-leaves-the-offer-folder",
        [put(f"{LISTING}/logos/large", "../shared/logo.png")],
        at("pattern", f"{LISTING}/logos/large"),
    ),
    case(
        "logo-not-png",
        [put(f"{LISTING}/logos/large", "media/logo.svg")],
        at("pattern", f"{LISTING}/logos/large"),
    ),
    case(
        "no-screenshots",
        [put(f"{LISTING}/screenshots", [])],
        at("minItems", f"{LISTING}/screenshots"),
    ),
    case(
        "six-screenshots",
        [
            put(
                f"{LISTING}/screenshots",
                [{"path": f"media/s{i}.png", "caption": f"S{i}"} for i in range(6)],
            )
        ],
        at("maxItems", f"{LISTING}/screenshots"),
    ),
    case(
        "caption-longer-than-100",
        [put(f"{LISTING}/screenshots/0/caption", "c" * 101)],
        at("maxLength", f"{LISTING}/screenshots/0/caption"),
    ),
    case(
        "jpeg-video-thumbnail",
        [
            put(
                f"{LISTING}/videos",
                [{"name": "Tour", "url": "https://youtu.be/x", "thumbnail": "media/t.jpg"}],
            )
        ],
        at("pattern", f"{LISTING}/videos/0/thumbnail"),
    ),
    case(
        "five-videos",
        [
            put(
                f"{LISTING}/videos",
                [
                    {"name": f"V{i}", "url": "https://youtu.be/x", "thumbnail": "media/t.png"}
                    for i in range(5)
                ],
            )
        ],
        at("maxItems", f"{LISTING}/videos"),
    ),
    case(
        "ftp-useful-link",
        [put(f"{LISTING}/usefulLinks", [{"name": "Docs", "url": "ftp://litware.example/docs"}])],
        at("pattern", f"{LISTING}/usefulLinks/0/url"),
    ),
    case(
        "missing-en-us-listing",
        [rename_listing("en-us", "de-de")],
        at("required", "spec/listings"),
    ),
    case(
        "uppercase-language-tag",
        [add_listing("EN-GB")],
        at("additionalProperties", "spec/listings"),
    ),
    case(
        "lead-block-does-not-match-destination",
        [
            put(
                LEADS,
                {
                    "leadDestination": "httpsEndpoint",
                    "azureTable": {"connectionStringSecretRef": "LEADS"},
                },
            )
        ],
        at("required", LEADS),
        at("not", f"{LEADS}/azureTable"),
    ),
    case(
        "second-lead-block",
        [
            put(
                LEADS,
                {
                    "leadDestination": "httpsEndpoint",
                    "httpsEndpoint": {"url": "https://leads.example/in"},
                    "dynamics": VALID_DYNAMICS,
                },
            )
        ],
        at("not", f"{LEADS}/dynamics"),
    ),
    case(
        "lead-block-with-destination-none",
        [
            put(
                LEADS,
                {"leadDestination": "none", "salesforce": {"organizationId": "00D5e000000AbCd"}},
            )
        ],
        at("not", f"{LEADS}/salesforce"),
    ),
    case(
        "unknown-lead-destination",
        [put(LEADS, {"leadDestination": "email"})],
        at("enum", f"{LEADS}/leadDestination"),
    ),
    case(
        "inline-connection-string-instead-of-secret-ref",
        [
            put(
                LEADS,
                {
                    "leadDestination": "azureTable",
                    "azureTable": {"connectionStringSecretRef": INLINE_CONNECTION_STRING},
                },
            )
        ],
        at("pattern", f"{LEADS}/azureTable/connectionStringSecretRef"),
    ),
    case(
        "http-lead-endpoint",
        [
            put(
                LEADS,
                {
                    "leadDestination": "httpsEndpoint",
                    "httpsEndpoint": {"url": "http://leads.example/in"},
                },
            )
        ],
        at("pattern", f"{LEADS}/httpsEndpoint/url"),
    ),
    case(
        "dynamics-instance-not-on-dynamics-com",
        [
            put(
                LEADS,
                {
                    "leadDestination": "dynamics",
                    "dynamics": {**VALID_DYNAMICS, "instanceUrl": "https://crm.litware.example"},
                },
            )
        ],
        at("pattern", f"{LEADS}/dynamics/instanceUrl"),
    ),
    case(
        "azuread-authentication-with-a-password",
        [
            put(
                LEADS,
                {
                    "leadDestination": "dynamics",
                    "dynamics": {
                        **VALID_DYNAMICS,
                        "authentication": {
                            "type": "azureAD",
                            "applicationId": "11111111-2222-4333-8444-555555555555",
                            "directoryId": "11111111-2222-4333-8444-555555555555",
                            "applicationKeySecretRef": "KEY",
                            "passwordSecretRef": "PW",
                        },
                    },
                },
            )
        ],
        at("not", f"{LEADS}/dynamics/authentication/passwordSecretRef"),
    ),
    case(
        "office365-authentication-without-password",
        [
            put(
                LEADS,
                {
                    "leadDestination": "dynamics",
                    "dynamics": {
                        **VALID_DYNAMICS,
                        "authentication": {"type": "office365", "userName": "a@litware.example"},
                    },
                },
            )
        ],
        at("required", f"{LEADS}/dynamics/authentication"),
    ),
    case(
        "salesforce-org-id-of-14-characters",
        [
            put(
                LEADS,
                {
                    "leadDestination": "salesforce",
                    "salesforce": {"organizationId": "00D5e000000AbC"},
                },
            )
        ],
        at("pattern", f"{LEADS}/salesforce/organizationId"),
    ),
    case(
        "unquoted-marketo-form-id",
        [
            put(
                LEADS,
                {
                    "leadDestination": "marketo",
                    "marketo": {"munchkinId": "123-ABC-456", "formId": 1234},
                },
            )
        ],
        at("type", f"{LEADS}/marketo/formId"),
    ),
    case(
        "munchkin-id-without-hyphens",
        [
            put(
                LEADS,
                {
                    "leadDestination": "marketo",
                    "marketo": {"munchkinId": "123ABC456", "formId": "1234"},
                },
            )
        ],
        at("pattern", f"{LEADS}/marketo/munchkinId"),
    ),
    case(
        "http-privacy-policy-url",
        [put(f"{LEGAL}/privacyPolicyUrl", "http://litware.example/privacy")],
        at("pattern", f"{LEGAL}/privacyPolicyUrl"),
    ),
    case(
        "missing-privacy-policy-url",
        [drop(f"{LEGAL}/privacyPolicyUrl")],
        at("required", LEGAL),
    ),
    case(
        "standard-contract-and-terms-url",
        [put(f"{LEGAL}/termsOfUseUrl", "https://litware.example/terms")],
        at("not", f"{LEGAL}/termsOfUseUrl"),
    ),
    case(
        "neither-standard-contract-nor-terms-url",
        [drop(f"{LEGAL}/useStandardContract")],
        at("required", LEGAL),
    ),
    case(
        "three-categories",
        [put("spec/properties/categories", ["sales", "marketing", "finance"])],
        at("maxItems", "spec/properties/categories"),
    ),
    case(
        "unknown-category",
        [put("spec/properties/categories", ["games"])],
        at("enum", "spec/properties/categories/0"),
    ),
    case(
        "three-industries",
        [put("spec/properties/industries", ["retail", "education", "government"])],
        at("maxItems", "spec/properties/industries"),
    ),
    case(
        "app-version-read-as-a-number",
        [put("spec/properties/appVersion", 2.4)],
        at("type", "spec/properties/appVersion"),
    ),
    case(
        "market-not-an-alpha-2-code",
        [put("spec/availability/markets", ["US", "usa"])],
        at("pattern", "spec/availability/markets/1"),
    ),
    case(
        "market-listed-twice",
        [put("spec/availability/markets", ["US", "US"])],
        at("uniqueItems", "spec/availability/markets"),
    ),
    case(
        "norway-unquoted-is-false-in-yaml",
        [put("spec/availability/markets", yaml.safe_load("[NO]"))],
        at("type", "spec/availability/markets/0"),
    ),
    case(
        "no-markets",
        [put("spec/availability/markets", [])],
        at("minItems", "spec/availability/markets"),
    ),
    case(
        "marketplace-pricing-without-plans",
        [put(PRICING, {"model": "marketplace"})],
        at("required", PRICING),
    ),
    case(
        "free-pricing-with-plans",
        [put(PRICING, {"model": "free", "plans": [PLAN]})],
        at("not", f"{PRICING}/plans"),
    ),
    case(
        "price-as-a-float",
        [
            put(
                PRICING,
                {
                    "model": "marketplace",
                    "plans": [{**PLAN, "price": {"currency": "USD", "amount": 10.0}}],
                },
            )
        ],
        at("type", f"{PRICING}/plans/0/price/amount"),
    ),
    case(
        "unknown-currency",
        [
            put(
                PRICING,
                {
                    "model": "marketplace",
                    "plans": [{**PLAN, "price": {"currency": "XYZ", "amount": "10.00"}}],
                },
            )
        ],
        at("enum", f"{PRICING}/plans/0/price/currency"),
    ),
    case(
        "weekly-billing-term",
        [put(PRICING, {"model": "marketplace", "plans": [{**PLAN, "billingTerm": "week"}]})],
        at("enum", f"{PRICING}/plans/0/billingTerm"),
    ),
    case(
        "absolute-package-path",
        [put(f"{TECH}/packageFile", "/etc/package.zip")],
        at("pattern", f"{TECH}/packageFile"),
    ),
    case(
        "sas-token-in-package-url",
        [
            put(
                f"{TECH}/packageLocationUrl",
                "https://litware.blob.core.windows.net/p/a.zip?sv=2022-11-02&sig=abc",
            )
        ],
        at("pattern", f"{TECH}/packageLocationUrl"),
    ),
    case(
        "sas-token-ref-without-package-url",
        [put(f"{TECH}/sasTokenSecretRef", "PACKAGE_SAS")],
        at("dependentRequired", TECH),
    ),
    case(
        "inline-sas-token",
        [
            put(f"{TECH}/sasTokenSecretRef", "sv=2022-11-02&sig=abc"),
            put(f"{TECH}/packageLocationUrl", "https://x.blob.core.windows.net/p/a.zip"),
        ],
        at("pattern", f"{TECH}/sasTokenSecretRef"),
    ),
    case(
        "three-part-package-version",
        [put(f"{TECH}/packageVersion", "1.0.0")],
        at("pattern", f"{TECH}/packageVersion"),
    ),
    case(
        "unknown-region",
        [put(f"{TECH}/regions", ["Antarctica"])],
        at("enum", f"{TECH}/regions/0"),
    ),
    case(
        "malformed-guid",
        [put(f"{TECH}/azureAdApplicationId", "not-a-guid")],
        at("pattern", f"{TECH}/azureAdApplicationId"),
    ),
    case(
        "unknown-license-model",
        [put(f"{TECH}/baseLicenseModel", "tenant")],
        at("enum", f"{TECH}/baseLicenseModel"),
    ),
    case(
        "unknown-spec-type-reports-only-the-type",
        [put("spec/type", "saas")],
        at("enum", "spec/type"),
    ),
    case(
        "missing-spec-type",
        [drop("spec/type")],
        at("required", "spec"),
    ),
    case(
        "missing-technical-configuration",
        [drop(TECH)],
        at("required", "spec"),
    ),
    case(
        "unknown-target",
        [put("spec/target", "published")],
        at("enum", "spec/target"),
    ),
    case(
        "suspend-as-a-string",
        [put("spec/suspend", "yes")],
        at("type", "spec/suspend"),
    ),
    case(
        "unknown-top-level-key",
        [put("status", {"phase": "Live"})],
        at("additionalProperties", ""),
    ),
    case(
        "wrong-api-version",
        [put("apiVersion", "offers.marketplace/v2")],
        at("const", "apiVersion"),
    ),
    case(
        "uppercase-offer-id",
        [put("metadata/name", "Litware-Notes")],
        at("pattern", "metadata/name"),
    ),
    case(
        "offer-id-ending-in-hyphen",
        [put("metadata/name", "litware-")],
        at("pattern", "metadata/name"),
    ),
    case(
        "offer-id-longer-than-50",
        [put("metadata/name", "a" * 51)],
        at("maxLength", "metadata/name"),
        at("pattern", "metadata/name"),
    ),
    case(
        "label-value-longer-than-63",
        [put("metadata/labels", {"team": "x" * 64})],
        at("maxLength", "metadata/labels/team"),
    ),
]


@pytest.mark.parametrize(("edits", "expected"), NEGATIVE_OFFERS)
def test_invalid_offer_fails_with_keyword_at_path(
    edits: list[Edit], expected: set[Failure]
) -> None:
    offer = load_yaml(CASES / "positive/offer/minimal.yaml")
    for edit in edits:
        edit(offer)
    assert failures("offer", offer) == expected


@pytest.mark.parametrize(
    ("document", "path"),
    [(None, "$"), ([], "$"), ("offer", "$"), ({"spec": None}, "$.spec"), ({"spec": []}, "$.spec")],
    ids=["empty-file", "list", "string", "null-spec", "list-spec"],
)
def test_a_document_of_the_wrong_shape_is_reported_once(document: Any, path: str) -> None:
    if isinstance(document, dict):
        document = {**load_yaml(CASES / "positive/offer/minimal.yaml"), **document}
    errors = list(validator("offer").iter_errors(document))
    assert [(e.validator, json_path(e)) for e in errors] == [("type", path)]


def expectations(path: Path) -> set[Failure]:
    """`# expect: KEYWORD at PATH` header lines of a negative case file."""
    found = re.findall(r"^# expect: (\S+) at (\S+)$", path.read_text("utf-8"), flags=re.MULTILINE)
    assert found, f"{path} has no '# expect:' line"
    return set(found)


@pytest.mark.parametrize(("name", "path"), case_files("negative"))
def test_invalid_document_fails_with_the_expected_keyword_at_path(name: str, path: Path) -> None:
    assert failures(name, load_yaml(path)) == expectations(path)


def test_there_are_enough_negative_cases() -> None:
    assert len(NEGATIVE_OFFERS) + len(case_files("negative")) >= 20


# ----------------------------------------------------------- shipped offers


@pytest.mark.parametrize("path", shipped_offers(), ids=lambda p: p.parent.name)
def test_shipped_offer_starts_with_the_schema_modeline(path: Path) -> None:
    assert path.read_text("utf-8").splitlines()[0] == MODELINE


@pytest.mark.parametrize("path", shipped_offers(), ids=lambda p: p.parent.name)
def test_shipped_offer_name_equals_its_folder(path: Path) -> None:
    assert load_yaml(path)["metadata"]["name"] == path.parent.name


def test_shipped_offers_cover_every_kind_of_example() -> None:
    targets = sorted(load_yaml(path)["spec"]["target"] for path in shipped_offers())
    assert len(targets) >= 4
    assert {"draft", "preview", "live"} <= set(targets)


@pytest.mark.parametrize("path", shipped_offers(), ids=lambda p: p.parent.name)
def test_shipped_offer_folder_holds_every_file_it_refers_to(path: Path) -> None:
    folder = path.parent
    for relative, size in referenced_files(load_yaml(path)["spec"]).items():
        data = (folder / relative).read_bytes()
        if size is not None:
            assert png_size(data) == size, relative
            assert len(data) < 5 * 1024, f"{relative} is {len(data)} bytes"


@pytest.mark.parametrize("path", shipped_offers(), ids=lambda p: p.parent.name)
def test_shipped_technical_package_is_an_appsource_package(path: Path) -> None:
    package = path.parent / load_yaml(path)["spec"]["technicalConfiguration"]["packageFile"]
    with zipfile.ZipFile(package) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert {"[Content_Types].xml", "input.xml", "package.zip"} <= names
        assert {"logo32x32.png", "TermsOfUse.html"} <= names
        with zipfile.ZipFile(io.BytesIO(archive.read("package.zip"))) as inner:
            assert "[Content_Types].xml" in inner.namelist()
    assert check_package(package.read_bytes()) == []


@pytest.mark.parametrize("path", shipped_offers(), ids=lambda p: p.parent.name)
def test_no_example_carries_the_eicar_signature(path: Path) -> None:
    # The rejection example is rejected by the deployment test, not by precheck.
    package = path.parent / load_yaml(path)["spec"]["technicalConfiguration"]["packageFile"]
    assert EICAR not in package.read_bytes()
    assert scan_bytes(package.name, package.read_bytes()) == []


def test_rejection_example_says_why_in_its_header() -> None:
    path = OFFERS / REJECTED_EXAMPLE / "offer.yaml"
    header = path.read_text("utf-8").split("apiVersion:")[0]
    assert "deployment test" in header
    assert "TailspinPricingEngine" in header


@pytest.mark.parametrize("path", shipped_offers(), ids=lambda p: p.parent.name)
def test_no_example_has_placeholder_text(path: Path) -> None:
    assert "lorem ipsum" not in path.read_text("utf-8").lower()


def load_generator(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import docs/tools/make_example_assets.py, which is a script, not part of the package."""
    source = ROOT / "docs/tools/make_example_assets.py"
    spec = importlib.util.spec_from_file_location("make_example_assets", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve string annotations through sys.modules.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_asset_generator_reproduces_the_committed_files_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generator = load_generator(monkeypatch)
    for example in generator.EXAMPLES:
        for relative, data in generator.assets(example).items():
            on_disk = (OFFERS / example.offer / relative).read_bytes()
            assert on_disk == data, f"{example.offer}/{relative} differs from the generator"
