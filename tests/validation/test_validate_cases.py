"""Every hostile or invalid manifest in cases.py gives its exact finding, fast, no traceback."""

from __future__ import annotations

import time

import pytest
from cases import CASES
from offer_helpers import OFFER_ID, WriteOffer

from controller.validation.engine import validate_offer
from controller.validation.files import WorktreeFiles

# Problems that stop before the schema: the file as a whole is unusable, so they come alone.
ALONE = {
    "EmptyDocument",
    "NotAMapping",
    "YamlSyntax",
    "DuplicateKey",
    "ForbiddenTag",
    "AliasLimit",
    "TooDeep",
    "FileTooLarge",
    "NotUtf8",
    "NulByte",
    "TabIndentation",
    "MultipleDocuments",
}


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [pytest.param(case, id=case[0]) for case in CASES])
def test_invalid_manifest_reports_its_exact_finding(
    write_offer: WriteOffer, case: tuple[str, bytes, str, int, int, str]
) -> None:
    _, manifest, code, line, column, message = case
    root = write_offer(manifest)
    started = time.monotonic()
    result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
    assert time.monotonic() - started < 2.0
    assert not result.ok
    found = [(f.code, f.line, f.column, f.message) for f in result.findings]
    assert (code, line, column, message) in found
    assert all(f.file == f"offers/{OFFER_ID}/offer.yaml" for f in result.findings)
    if code in ALONE:
        assert len(found) == 1
        assert result.manifest is None


def test_base_manifest_is_valid(write_offer: WriteOffer) -> None:
    root = write_offer()
    result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
    assert result.findings == ()
    assert result.ok
    assert result.manifest is not None
    assert sorted(result.referenced_files) == [
        "media/logo-216.png",
        "media/screen-1.png",
        f"package/{OFFER_ID}.zip",
    ]


def test_every_error_of_a_file_is_reported_in_line_order(write_offer: WriteOffer) -> None:
    from cases import sub

    text = sub("    alias:", "    alais:").decode().replace("[US, CA, MX]", "[US, XZ]")
    text = text.replace("helpLink: https://", "helpLink: http://")
    root = write_offer(text)
    result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
    codes = [f.code for f in result.findings]
    assert codes == ["SchemaRequired", "UnknownProperty", "InsecureLink", "UnknownMarket"]
    lines = [f.line for f in result.findings]
    assert lines == sorted(lines)


def test_a_secret_is_never_echoed_in_any_message(write_offer: WriteOffer) -> None:
    from cases import sub

    secret = "DefaultEndpointsProtocol=https;AccountName=nw;AccountKey=c2VjcmV0=="
    root = write_offer(sub("NORTHWIND_LEADS_TABLE_CONN", secret))
    result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
    assert [f.code for f in result.findings] == ["InlineSecret"]
    assert all("c2VjcmV0" not in f.message for f in result.findings)


def test_placeholder_text_is_an_error_because_certification_rejects_it(
    write_offer: WriteOffer,
) -> None:
    # Was a warning; issue 11: certification rejects it, so the gate must too.
    from cases import sub

    root = write_offer(sub("<p>Journeys", "<p>Lorem ipsum dolor sit amet. Journeys"))
    result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
    assert not result.ok
    assert [(f.code, str(f.severity)) for f in result.findings] == [("PlaceholderText", "error")]
