"""controller.repo.layout: the one statement of the repository contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.repo import layout

SCHEMAS = Path(__file__).resolve().parents[2] / "controller" / "schemas"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("contoso-field-insights", True),
        ("abc", True),
        ("a" * 50, True),
        ("ab", False),  # too short
        ("a" * 51, False),
        ("-abc", False),
        ("abc-", False),
        ("Abc", False),
        ("abc\n", False),  # `re.match` with `$` let a trailing newline through
        ("ab_c", False),
        (None, False),
    ],
)
def test_offer_id_rule(value: object, ok: bool) -> None:
    assert layout.is_offer_id(value) is ok


def test_the_schemas_carry_the_same_offer_id_pattern() -> None:
    offer = json.loads((SCHEMAS / "offer.schema.json").read_text(encoding="utf-8"))
    signoff = json.loads((SCHEMAS / "signoff.schema.json").read_text(encoding="utf-8"))
    found = {
        node["pattern"]
        for doc in (offer, signoff)
        for node in _walk(doc)
        if isinstance(node, dict) and "1,48" in str(node.get("pattern", ""))
    }
    assert found == {layout.OFFER_ID_PATTERN}


def _walk(node: object) -> list[object]:
    out = [node]
    if isinstance(node, dict):
        for value in node.values():
            out.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_walk(value))
    return out


def test_paths_and_policy_files_as_github_reads_them() -> None:
    assert layout.status_path("abc") == "offers/abc/status.yaml"
    assert layout.manifest_path("abc") == "offers/abc/offer.yaml"
    assert layout.signoff_path("abc") == "offers/abc/signoff.yaml"
    assert layout.CODEOWNERS_PATHS == (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
    assert all(layout.is_policy_path(p) for p in ("publishing.yaml", "docs/CODEOWNERS"))
    assert not layout.is_policy_path("offers/abc/CODEOWNERS")
    assert layout.offer_of("offers/abc/media/logo.png") == "abc"
    assert layout.offer_of("offers/../x") is None
    assert layout.offer_of("offers/abc") is None  # the folder itself, not a path inside it
    assert layout.is_status_path("offers/abc/status.yaml")
    assert not layout.is_status_path("offers/abc/sub/status.yaml")
