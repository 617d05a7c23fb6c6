"""CODEOWNERS patterns and precedence behave as GitHub documents them."""

from __future__ import annotations

import pytest

from controller.repo import codeowners
from controller.signoff import approvers

# (pattern, path, matches): GitHub's documented examples and gitignore rules.
CASES: list[tuple[str, str, bool]] = [
    # a bare name matches a file or directory of that name at any depth
    ("offers", "offers/a/signoff.yaml", True),
    ("offers", "x/offers/a/signoff.yaml", True),
    ("offers", "offers.yaml", False),
    ("signoff.yaml", "offers/a/signoff.yaml", True),
    # a leading slash anchors at the root
    ("/offers", "offers/a/signoff.yaml", True),
    ("/offers", "x/offers/a/signoff.yaml", False),
    ("/offers", "offerstuff", False),
    # a slash in the middle anchors too
    ("offers/a", "offers/a/signoff.yaml", True),
    ("offers/a", "x/offers/a/signoff.yaml", False),
    ("offers/a", "offers/ab/signoff.yaml", False),
    # a trailing slash matches only a directory's contents
    ("a/", "offers/a/signoff.yaml", True),
    ("a/", "offers/a", False),
    ("/offers/a/", "offers/a/media/logo.png", True),
    ("/offers/a/", "offers/a", False),
    # * stays inside one segment
    ("*", "offers/a/signoff.yaml", True),
    ("*.yaml", "offers/a/signoff.yaml", True),
    ("*.yaml", "offers/a/logo.png", False),
    ("/*", "publishing.yaml", True),
    ("/*", "offers/a/signoff.yaml", False),
    ("offers/*", "offers/a", True),
    ("offers/*", "offers/a/signoff.yaml", False),  # GitHub: not further nested files
    ("offers/*.yaml", "offers/x.yaml", True),
    ("offers/*.yaml", "offers/a/x.yaml", False),
    ("offers/*/signoff.yaml", "offers/a/signoff.yaml", True),
    ("offers/*/signoff.yaml", "offers/a/b/signoff.yaml", False),
    ("/o*", "offers/a/signoff.yaml", True),
    ("o*/", "offers/a/signoff.yaml", True),
    ("o*/", "offers", False),
    ("/*/", "offers/a", True),
    ("/*/", "offers", False),
    # ? is one character, never a slash
    ("offers/?/x", "offers/a/x", True),
    ("offers/?/x", "offers/ab/x", False),
    # ** spans segments
    ("**/signoff.yaml", "offers/a/signoff.yaml", True),
    ("**/signoff.yaml", "signoff.yaml", True),
    ("**/a/signoff.yaml", "offers/a/signoff.yaml", True),
    ("**/a/signoff.yaml", "offers/b/signoff.yaml", False),
    ("offers/**", "offers/a/signoff.yaml", True),
    ("offers/**", "offers", False),
    ("offers/**/signoff.yaml", "offers/signoff.yaml", True),
    ("offers/**/signoff.yaml", "offers/a/b/signoff.yaml", True),
    ("offers/**/signoff.yaml", "other/offers/a/signoff.yaml", False),
    ("**", "anything/at/all", True),
    # backslash escapes a wildcard
    (r"f\*o", "f*o", True),
    (r"f\*o", "foo", False),
    # case-sensitive, as on GitHub
    ("/Offers/", "offers/a/signoff.yaml", False),
]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"), CASES, ids=[f"{p} ~ {q}" for p, q, _ in CASES]
)
def test_pattern_matches_like_github(pattern: str, path: str, expected: bool) -> None:
    glob, error = codeowners.compile_pattern(pattern)
    assert glob is not None, error
    assert glob.matches(path) is expected


@pytest.mark.parametrize("pattern", ["!offers/", "offers/[ab]/", "/"])
def test_unsupported_syntax_is_an_error_line_that_is_skipped(pattern: str) -> None:
    owners = codeowners.parse(f"* @everyone\n{pattern} @special\n")

    assert owners.owners_of("offers/a/signoff.yaml") == ("@everyone",)
    assert any("CODEOWNERS:2" in p for p in owners.problems)


def test_last_matching_rule_wins() -> None:
    owners = codeowners.parse(
        "# global\n"
        "*                      @global\n"
        "/offers/               @offers-team ana@contoso.com  # inline comment\n"
        "/offers/other/         @other-team\n"
    )

    rule = owners.rule_for("offers/demo/signoff.yaml")
    assert rule is not None
    assert rule.owners == ("@offers-team", "ana@contoso.com")
    assert rule.line == 3
    assert owners.owners_of("offers/other/signoff.yaml") == ("@other-team",)
    assert owners.owners_of("README.md") == ("@global",)


def test_a_later_rule_without_owners_unassigns() -> None:
    owners = codeowners.parse("/offers/ @team\n/offers/demo/\n")

    rule = owners.rule_for("offers/demo/signoff.yaml")
    assert rule is not None and rule.owners == ()
    authorization = approvers.from_codeowners(owners, "demo")
    assert not authorization.configured
    assert "unassigns" in authorization.problem


def test_invalid_owner_is_dropped_and_reported() -> None:
    owners = codeowners.parse("/offers/ @ok not-an-owner\n/docs/ bad\n")

    assert owners.owners_of("offers/x/signoff.yaml") == ("@ok",)
    assert owners.owners_of("docs/x") == ()  # the all-invalid line is skipped entirely
    assert len(owners.problems) == 3


def test_escaped_hash_is_a_pattern_not_a_comment() -> None:
    owners = codeowners.parse("\\#notes @team\n#comment @nobody\n")

    assert owners.owners_of("#notes") == ("@team",)
    assert len(owners.rules) == 1


def test_owners_become_an_authorization_by_kind() -> None:
    owners = codeowners.parse("/offers/demo/ @Ana ANA@contoso.com @contoso/release\n")

    authorization = approvers.from_codeowners(owners, "demo")

    assert authorization.logins == {"ana"}
    assert authorization.emails == {"ana@contoso.com"}
    assert authorization.teams == {"contoso/release"}
    assert authorization.source == "CODEOWNERS:1 (/offers/demo/)"


def test_github_location_order_is_dot_github_root_docs() -> None:
    assert codeowners.first_present(["docs/CODEOWNERS", "CODEOWNERS"]) == "CODEOWNERS"
    assert codeowners.first_present(["CODEOWNERS", ".github/CODEOWNERS"]) == ".github/CODEOWNERS"
    assert codeowners.first_present(["README.md"]) is None
