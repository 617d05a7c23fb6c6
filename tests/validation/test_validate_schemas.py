"""The compiled schemas and check_instance, as status, policy and sign-off code use them."""

from __future__ import annotations

from controller.validation import schemas
from controller.validation.engine import check_document, check_instance


def test_every_shipped_schema_builds_one_validator() -> None:
    names = schemas.names()
    assert {"offer.schema.json", "status.schema.json", "publishing.schema.json"} <= set(names)
    for name in names:
        assert schemas.validator(name) is schemas.validator(name)  # compiled once


def test_valid_signoff_has_no_findings() -> None:
    signoff = {
        "apiVersion": "offers.marketplace/v1",
        "kind": "SignOff",
        "offer": "contoso-field-insights",
        "generation": "sha256:" + "a" * 64,
    }
    assert check_instance("signoff", signoff) == []


def test_invalid_signoff_findings_name_the_path() -> None:
    findings = check_instance("signoff", {"apiVersion": "offers.marketplace/v1", "kind": "SignOff"})
    assert {(f.code, f.path) for f in findings} >= {("SchemaRequired", "$")}
    assert all(f.line == 0 and f.file == "" for f in findings)


def test_unknown_status_field_is_named_with_its_path() -> None:
    findings = check_instance("status", {"offer": "x", "phase": "Draft", "colour": "red"})
    assert [(f.code, f.path, f.message) for f in findings] == [
        ("UnknownProperty", "$.colour", "unknown property 'colour'")
    ]


def test_check_document_places_findings_on_lines() -> None:
    data = b"apiVersion: offers.marketplace/v1\nkind: Publishing\nprune: maybe\n"
    document, findings = check_document("publishing", data, file="publishing.yaml")
    assert document["prune"] == "maybe"
    assert [(f.code, f.line, f.column, f.file) for f in findings] == [
        ("SchemaType", 3, 8, "publishing.yaml")
    ]


def test_check_document_reports_yaml_errors_as_findings() -> None:
    document, findings = check_document("publishing", b"a: [\n", file="publishing.yaml")
    assert document is None
    assert [f.code for f in findings] == ["YamlSyntax"]
