"""`offerctl validate` covers the whole repository: publishing.yaml, signoff.yaml, CODEOWNERS.

Real files in a tmp repository, through `cli.main`; every finding is
FILE:LINE:COL like a manifest's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from offer_helpers import OFFER_ID, WriteOffer

from controller.cli import main

GENERATION = "sha256:" + "a" * 64


def run(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, list[str]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # files are shown relative to the current directory
        code = main(["validate", "--repo", str(root)])
    out, _ = capsys.readouterr()
    return code, out.splitlines()


class TestPublishingYaml:
    """publishing.yaml is checked against its schema, with a suggestion for a typo."""

    def test_misspelt_key_and_kind_are_errors_at_their_lines(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / "publishing.yaml").write_text(
            "apiVersion: offers.marketplace/v1\nkind: Publishin\nsignoff:\n  aprovers: []\n"
        )
        code, lines = run(capsys, root)
        assert code == 1
        assert lines == [
            "publishing.yaml:2:7: error: must be 'Publishing', not 'Publishin' (at $.kind)",
            "publishing.yaml:4:3: error: unknown property 'aprovers'; did you mean 'approvers'?"
            " (at $.signoff.aprovers)",
            "1 offer valid, 1 of 1 repository file invalid: 2 errors, 0 warnings",
        ]

    def test_valid_publishing_yaml_is_counted_as_a_repository_file(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / "publishing.yaml").write_text(
            "apiVersion: offers.marketplace/v1\nkind: Publishing\n"
        )
        assert run(capsys, root) == (0, ["1 offer valid, 1 repository file valid"])

    def test_a_huge_number_in_publishing_yaml_is_a_positioned_error(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / "publishing.yaml").write_text(
            "apiVersion: offers.marketplace/v1\nprune: " + "9" * 5000
        )
        code, lines = run(capsys, root)
        assert code == 1
        assert lines[0].startswith("publishing.yaml:2:8: error: a number of 5,000 characters")


class TestSignoffYaml:
    """Each offer's signoff.yaml is checked against its schema and its folder."""

    def test_signoff_with_an_unknown_key_and_a_bad_generation_fails(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / "offers" / OFFER_ID / "signoff.yaml").write_text(
            f"apiVersion: offers.marketplace/v1\nkind: SignOff\noffer: {OFFER_ID}\n"
            "generation: sha256:abc\ngenration: x\n"
        )
        code, lines = run(capsys, root)
        assert code == 1
        file = f"offers/{OFFER_ID}/signoff.yaml"
        assert [line.split(" error: ")[0] for line in lines[:-1]] == [
            f"{file}:4:13:",
            f"{file}:5:1:",
        ]
        assert "did you mean 'generation'?" in lines[1]

    def test_signoff_naming_another_offer_fails(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / "offers" / OFFER_ID / "signoff.yaml").write_text(
            "apiVersion: offers.marketplace/v1\nkind: SignOff\noffer: other-offer\n"
            f"generation: {GENERATION}\n"
        )
        code, lines = run(capsys, root)
        assert code == 1
        assert lines[0] == (
            f"offers/{OFFER_ID}/signoff.yaml:3:1: error: offer 'other-offer' must equal the"
            f" folder name '{OFFER_ID}' (at $.offer)"
        )

    def test_valid_signoff_passes(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / "offers" / OFFER_ID / "signoff.yaml").write_text(
            f"apiVersion: offers.marketplace/v1\nkind: SignOff\noffer: {OFFER_ID}\n"
            f"generation: {GENERATION}\n"
        )
        assert run(capsys, root) == (0, ["1 offer valid"])


class TestCodeOwners:
    """CODEOWNERS lines the sign-off code would skip are errors, each naming why."""

    def test_unsupported_patterns_and_bad_owners_are_named(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / ".github").mkdir()
        (root / ".github" / "CODEOWNERS").write_text(
            "# owners\n* @contoso/publishers\n!docs/ @a\n/offers/[a-b]*/ @b\n/offers/ owner\n"
        )
        code, lines = run(capsys, root)
        assert code == 1
        assert lines[:-1] == [
            ".github/CODEOWNERS:3:1: error: negation ('!docs/') is not supported in CODEOWNERS;"
            " line skipped",
            ".github/CODEOWNERS:4:1: error: character ranges ('/offers/[a-b]*/') are not"
            " supported in CODEOWNERS; line skipped",
            ".github/CODEOWNERS:5:1: error: 'owner' is not an @login, @org/team or email",
            ".github/CODEOWNERS:5:1: error: no valid owner; line skipped",
        ]

    def test_valid_codeowners_passes(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / "CODEOWNERS").write_text("/offers/ @contoso/publishers ops@contoso.example\n")
        assert run(capsys, root) == (0, ["1 offer valid, 1 repository file valid"])


class TestMisnamedFiles:
    """A file offerctl would silently ignore because of its name is an error."""

    @pytest.mark.parametrize("name", ["offer.yml", "Offer.yaml", "OFFER.YML"])
    def test_misnamed_manifest_alone_in_its_folder_fails(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str], name: str
    ) -> None:
        root = write_offer()
        folder = root / "offers" / "contoso-app"
        folder.mkdir()
        (folder / name).write_text("apiVersion: offers.marketplace/v1\n")
        code, lines = run(capsys, root)
        assert code == 1
        assert lines == [
            f"offers/contoso-app/{name}:1:1: error: '{name}' is not read by offerctl;"
            " rename it to offer.yaml",
            "1 of 2 offers invalid: 1 error, 0 warnings",
        ]

    def test_misnamed_signoff_next_to_a_manifest_fails(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        (root / "offers" / OFFER_ID / "signoff.yml").write_text("kind: SignOff\n")
        code, lines = run(capsys, root)
        assert code == 1
        assert lines[0] == (
            f"offers/{OFFER_ID}/signoff.yml:1:1: error: 'signoff.yml' is not read by offerctl;"
            " rename it to signoff.yaml"
        )

    def test_an_offers_folder_with_only_a_misnamed_manifest_is_not_zero_offers_valid(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (tmp_path / "offers" / "x").mkdir(parents=True)
        (tmp_path / "offers" / "x" / "offer.yml").write_text("kind: Offer\n")
        code, lines = run(capsys, tmp_path)
        assert code == 1
        assert lines[-1] == "1 of 1 offer invalid: 1 error, 0 warnings"


def test_a_misnamed_manifest_given_as_path_is_a_usage_error_naming_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "offers" / "x").mkdir(parents=True)
    (tmp_path / "offers" / "x" / "Offer.yaml").write_text("kind: Offer\n")
    assert main(["validate", str(tmp_path / "offers" / "x" / "Offer.yaml")]) == 2
    _, err = capsys.readouterr()
    assert "offerctl reads only offer.yaml; rename the file" in err


CASES = Path(__file__).resolve().parents[1] / "schema_cases"


@pytest.mark.parametrize(
    ("case", "expected"),
    [(p, 0) for p in sorted((CASES / "positive" / "publishing").glob("*.yaml"))]
    + [(p, 1) for p in sorted((CASES / "negative" / "publishing").glob("*.yaml"))],
    ids=lambda v: f"{v.parent.parent.name}-{v.stem}" if isinstance(v, Path) else "",
)
def test_validate_judges_publishing_yaml_by_the_schema_file(
    write_offer: WriteOffer, capsys: pytest.CaptureFixture[str], case: Path, expected: int
) -> None:
    # validate reads schemas/publishing.schema.json, so a change to the schema file
    # (and to these cases) changes what validate accepts, with no code change.
    root = write_offer()
    (root / "publishing.yaml").write_bytes(case.read_bytes())
    code, lines = run(capsys, root)
    assert code == expected, lines
    if expected:
        assert all(line.startswith("publishing.yaml:") for line in lines[:-1])


@pytest.mark.parametrize(
    ("case", "expected"),
    [(p, 0) for p in sorted((CASES / "positive" / "signoff").glob("*.yaml"))]
    + [(p, 1) for p in sorted((CASES / "negative" / "signoff").glob("*.yaml"))],
    ids=lambda v: f"{v.parent.parent.name}-{v.stem}" if isinstance(v, Path) else "",
)
def test_validate_judges_signoff_yaml_by_the_schema_file(
    write_offer: WriteOffer, capsys: pytest.CaptureFixture[str], case: Path, expected: int
) -> None:
    text = case.read_text("utf-8")
    offer = yaml.safe_load(text).get("offer")
    root = write_offer(offer_id=offer) if isinstance(offer, str) else write_offer()
    folder = offer if isinstance(offer, str) else OFFER_ID
    (root / "offers" / folder / "signoff.yaml").write_text(text, "utf-8")
    _, lines = run(capsys, root)
    signoff_lines = [line for line in lines if "/signoff.yaml:" in line]
    assert bool(signoff_lines) == bool(expected), lines
