"""Precheck: certification's rules run in `offerctl validate`, on real files through the CLI.

Each test writes a real offer folder (manifest, PNGs, AppSource package) into
a tmp repository, changes one thing, and runs `offerctl validate` through
`cli.main`. The same offer is handed to the simulated marketplace's
certification where the point is that the two agree.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from appsource_helpers import appsource_package, input_xml, make_zip, png, solution_zip
from cases import sub
from offer_helpers import BASE, OFFER_ID, WriteOffer

from controller.cli import main
from controller.marketplace.api import OfferPayload
from controller.marketplace.certify import certify
from controller.validation.engine import validate_offer
from controller.validation.files import WorktreeFiles
from controller.validation.precheck import precheck
from controller.validation.zipscan import EICAR, ScanLimits, scan_bytes

MANIFEST = f"offers/{OFFER_ID}/offer.yaml"
PACKAGE = f"offers/{OFFER_ID}/package/{OFFER_ID}.zip"
PACKAGE_LINE = 63  # `packageFile:` in base_offer.yaml


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["validate", *argv])
    out, _ = capsys.readouterr()
    return code, out.splitlines()


def rejected_offer() -> str:
    """The issue's offer: EICAR in the package, TODO in the description, Lorem ipsum in a
    caption and an http:// link in the description's HTML."""
    text = BASE.replace(
        "<p>Journeys in Dynamics 365 Marketing",
        "<p>TODO: pricing. Docs at http://northwindtraders.com/docs</p><p>Journeys in Dynamics"
        " 365 Marketing",
    )
    return text.replace(
        "caption: A member's points, tier and rewards", "caption: Lorem ipsum dolor sit amet"
    )


def write_package(root: Path, data: bytes) -> None:
    (root / PACKAGE).write_bytes(data)


class TestTheCertificationRejectionFromIssue11:
    """The offer certification rejected on day 3 now fails the gate, with the same findings."""

    def test_validate_reports_exactly_the_four_errors_certification_would(
        self,
        write_offer: WriteOffer,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        root = write_offer(rejected_offer())
        write_package(root, appsource_package(extra={"WebResources/selftest.txt": EICAR}))
        monkeypatch.chdir(root)
        code, lines = run(capsys)
        assert code == 1
        assert lines == [
            f"{MANIFEST}:25:20: error: link 'http://northwindtraders.com/docs' uses http://;"
            " use https:// (at $.spec.listings.en-us.description)",
            f"{MANIFEST}:25:20: error: listing text still contains placeholder text ('TODO');"
            " certification rejects it (at $.spec.listings.en-us.description)",
            f"{MANIFEST}:46:20: error: listing text still contains placeholder text"
            " ('Lorem ipsum'); certification rejects it"
            " (at $.spec.listings.en-us.screenshots[0].caption)",
            f"{MANIFEST}:{PACKAGE_LINE}:18: error: package/{OFFER_ID}.zip!"
            "WebResources/selftest.txt: the virus scan found the EICAR-Test-File signature"
            " (at $.spec.technicalConfiguration.packageFile)",
            "1 of 1 offer invalid: 4 errors, 0 warnings",
        ]

    def test_certification_finds_the_same_four_problems(self, write_offer: WriteOffer) -> None:
        root = write_offer(rejected_offer())
        write_package(root, appsource_package(extra={"WebResources/selftest.txt": EICAR}))
        local = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
        assert local.manifest is not None
        remote = certify(OfferPayload(local.manifest["spec"], local.referenced_files))
        assert sorted((f.code, f.path, f.message) for f in local.findings) == sorted(
            (f.code, f.path, f.message) for f in remote
        )
        assert {f.stage for f in remote} == {"Certification"}


@pytest.mark.parametrize(
    ("old", "new", "package"),
    [
        ("helpLink: https://", "helpLink: ftp://", None),
        ("caption: A member's", "caption: TBD A member's", None),
        ("large: media/logo-216.png", "large: media/logo-90.png", None),
        (
            "helpLink: https://northwindtraders.com/loyalty-hub/help",
            "helpLink: https://northwindtraders.com/support",
            None,
        ),
        ("<p>Journeys", "<p>Journeys", b"not a zip"),
        ("<p>Journeys", "<p>Journeys", appsource_package(replace={"logo32x32.png": png(16, 16)})),
    ],
    ids=["ftp-link", "tbd-caption", "png-size", "help-is-support", "not-zip", "package-logo"],
)
def test_validate_and_certification_report_the_same_findings(
    write_offer: WriteOffer, old: str, new: str, package: bytes | None
) -> None:
    root = write_offer(sub(old, new))
    if package is not None:
        write_package(root, package)
    local = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
    assert local.manifest is not None
    assert local.findings, "the variant must break a rule"
    remote = certify(OfferPayload(local.manifest["spec"], local.referenced_files))
    assert sorted((f.code, f.path, f.message, f.severity) for f in local.findings) == sorted(
        (f.code, f.path, f.message, f.severity) for f in remote
    )


class TestPackageStructure:
    """The AppSource package must be what Partner Center's certification expects."""

    @pytest.mark.parametrize(
        ("package", "code", "member"),
        [
            (b"just some text, not a zip", "PackageNotZip", "not a zip archive"),
            (appsource_package(drop=("[Content_Types].xml",)), "PackageContentTypesMissing", ""),
            (appsource_package(drop=("input.xml",)), "PackageInputMissing", ""),
            (
                appsource_package(replace={"input.xml": input_xml(package="pkg.zip")}),
                "PackageFileMissing",
                "'pkg.zip'",
            ),
            (
                appsource_package(replace={"package.zip": b"not a zip"}),
                "PackageInnerNotZip",
                "package.zip",
            ),
            (
                appsource_package(replace={"logo32x32.png": png(48, 48)}),
                "PackageLogoSize",
                "logo32x32.png",
            ),
            (appsource_package(drop=("logo32x32.png",)), "PackageLogoMissing", "logo32x32.png"),
            (appsource_package(drop=("TermsOfUse.html",)), "PackageTermsMissing", "TermsOfUse"),
            (
                appsource_package(replace={"input.xml": input_xml(anchor="Other_managed.zip")}),
                "PackageSolutionMissing",
                "Other_managed.zip",
            ),
        ],
        ids=lambda v: v if isinstance(v, str) else "",
    )
    def test_broken_package_is_an_error_on_the_package_line(
        self,
        write_offer: WriteOffer,
        capsys: pytest.CaptureFixture[str],
        package: bytes,
        code: str,
        member: str,
    ) -> None:
        root = write_offer()
        write_package(root, package)
        result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
        assert [(f.code, f.line, str(f.severity)) for f in result.findings] == [
            (code, PACKAGE_LINE, "error")
        ]
        assert member in result.findings[0].message
        assert main(["validate", "--repo", str(root)]) == 1
        capsys.readouterr()

    def test_input_xml_with_an_entity_bomb_is_refused_unexpanded(
        self, write_offer: WriteOffer
    ) -> None:
        bomb = (
            b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><PvsPackageData>&b;</PvsPackageData>'
        )
        root = write_offer()
        write_package(root, appsource_package(replace={"input.xml": bomb}))
        result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
        assert [f.code for f in result.findings] == ["PackageInputInvalid"]
        assert "DTDs and entity declarations are not allowed" in result.findings[0].message

    @pytest.mark.parametrize(
        "text",
        [
            b'<?xml version="1.0" encoding="bogus"?><PvsPackageData/>',
            b"<PvsPackageData>&undefined;</PvsPackageData>",
            b"",
        ],
        ids=["unknown-encoding", "undefined-entity", "empty"],
    )
    def test_input_xml_that_does_not_parse_is_one_finding(
        self, write_offer: WriteOffer, text: bytes
    ) -> None:
        root = write_offer()
        write_package(root, appsource_package(replace={"input.xml": text}))
        result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
        assert [f.code for f in result.findings] == ["PackageInputInvalid"]
        assert "does not parse as XML" in result.findings[0].message

    def test_a_well_formed_package_has_no_findings(self, write_offer: WriteOffer) -> None:
        root = write_offer()
        assert validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root)).findings == ()


def hide_member(archive: bytes, name: str, data: bytes) -> bytes:
    """Prepend a deflated local file header that the central directory never lists."""
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = body.compress(data) + body.flush()
    raw_name = name.encode()
    header = struct.pack(
        "<4s5H3I2H",
        b"PK\x03\x04",
        20,
        0,
        8,
        0,
        0,
        zlib.crc32(data),
        len(packed),
        len(data),
        len(raw_name),
        0,
    )
    # zipfile finds members through the central directory, whose offsets are relative
    # to where the archive starts: bytes before it shift nothing zipfile reads.
    return header + raw_name + packed + archive


class TestVirusScan:
    """The scan sees members wherever they hide."""

    def test_deflated_member_hidden_from_the_central_directory_is_found(self) -> None:
        package = hide_member(appsource_package(), "hidden.txt", EICAR * 3)
        assert EICAR not in package  # only inflating the hidden member reveals it
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            assert "hidden.txt" not in archive.namelist()
        codes = [(p.code, p.warning) for p in scan_bytes("p.zip", package)]
        assert ("VirusFound", False) in codes
        assert ("PackageHiddenMember", True) in codes

    def test_eicar_three_zips_deep_is_found(self) -> None:
        solution = make_zip({"solution.xml": b"<x/>", "WebResources/t.txt": EICAR})
        package = appsource_package(
            replace={
                "package.zip": make_zip(
                    {
                        "[Content_Types].xml": b"<Types/>",
                        "PkgFolder/ContosoApp_managed.zip": solution,
                    }
                )
            }
        )
        problems = scan_bytes("p.zip", package)
        assert [p.code for p in problems] == ["VirusFound"]
        assert "p.zip!package.zip!PkgFolder/ContosoApp_managed.zip!WebResources/t.txt" in (
            problems[0].message
        )

    def test_corrupt_deflate_data_is_a_finding_not_a_crash(self) -> None:
        # zipfile raises zlib.error for a broken deflate stream, which is no OSError or
        # ValueError: it used to escape the scan and crash the whole command.
        name = "solution.xml"
        data = bytearray(make_zip({name: b"<x>" + b"data " * 200 + b"</x>"}))
        data[30 + len(name)] = 0xFF  # the first deflate block now has an invalid type
        problems = scan_bytes("p.zip", bytes(data))
        assert [p.code for p in problems] == ["PackageCorrupt"]
        assert "invalid block type" in problems[0].message

    def test_a_member_with_an_empty_name_is_scanned_not_a_crash(self) -> None:
        # zipfile's own ZipInfo.is_dir() raises IndexError for an empty name.
        buffer = io.BytesIO()
        info = zipfile.ZipInfo("")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(info, EICAR)
        assert EICAR not in buffer.getvalue()
        assert [p.code for p in scan_bytes("p.zip", buffer.getvalue())] == ["VirusFound"]

    def test_bomb_caps_still_apply_to_hidden_members(self) -> None:
        package = hide_member(appsource_package(), "zeros.bin", b"\0" * (4 * 1024 * 1024))
        codes = [p.code for p in scan_bytes("p.zip", package, ScanLimits(max_ratio=50))]
        assert "PackageBomb" in codes


class TestWarningsAndStrict:
    """A risk certification may flag is a warning; --strict makes it an error."""

    def test_hidden_harmless_member_is_a_warning_that_strict_turns_into_an_error(
        self, write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_offer()
        write_package(root, hide_member(appsource_package(), "notes.txt", b"harmless"))
        assert main(["validate", "--repo", str(root)]) == 0
        out, _ = capsys.readouterr()
        assert "warning: package/" in out
        assert "notes.txt" in out
        assert main(["validate", "--strict", "--repo", str(root)]) == 1
        out, _ = capsys.readouterr()
        assert "error: package/" in out


class TestListingText:
    """Placeholders and insecure links anywhere in listing text, captions included."""

    @pytest.mark.parametrize(
        ("old", "new", "path"),
        [
            (
                "caption: A member's points, tier and rewards",
                "caption: Rewards screen coming soon",
                "$.spec.listings.en-us.screenshots[0].caption",
            ),
            (
                "name: Northwind Loyalty Hub",
                "name: Northwind Loyalty Hub TBD",
                "$.spec.listings.en-us.name",
            ),
            (
                "[loyalty, rewards, retail]",
                "[loyalty, TODO, retail]",
                "$.spec.listings.en-us.searchKeywords[1]",
            ),
        ],
    )
    def test_placeholder_is_an_error_at_its_path(
        self, write_offer: WriteOffer, old: str, new: str, path: str
    ) -> None:
        root = write_offer(sub(old, new))
        result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
        assert [(f.code, f.path, str(f.severity)) for f in result.findings] == [
            ("PlaceholderText", path, "error")
        ]

    def test_an_insecure_link_is_echoed_without_credentials_or_query(
        self, write_offer: WriteOffer
    ) -> None:
        link = "http://admin:hunter2@northwindtraders.com/docs?page=2"
        root = write_offer(sub("<p>Journeys", f"<p>See {link}. Journeys"))
        result = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
        assert [f.message for f in result.findings] == [
            "link 'http://northwindtraders.com/docs' uses http://; use https://"
        ]

    def test_lowercase_todo_in_prose_is_not_a_placeholder(self, write_offer: WriteOffer) -> None:
        root = write_offer(sub("<p>Journeys", "<p>Turn every visit into a todo item. Journeys"))
        assert validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root)).findings == ()


class TestShippedExamples:
    """Every shipped example passes validate, precheck included, even with --strict."""

    def test_shipped_examples_pass_strict_validate(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        repo = Path(__file__).resolve().parents[2]
        assert main(["validate", "--strict", "--repo", str(repo)]) == 0
        out, _ = capsys.readouterr()
        assert out.strip().endswith("offers valid")
        assert "warning" not in out


def test_deployment_test_is_the_only_thing_precheck_leaves_to_the_marketplace(
    write_offer: WriteOffer,
) -> None:
    # A solution that needs a solution the package does not bring passes precheck,
    # and only the marketplace's deployment test, which knows its test environment,
    # rejects it: the mechanism behind the shipped tailspin example.
    inner = make_zip(
        {
            "[Content_Types].xml": b"<Types/>",
            "ContosoAppPackage.dll": b"MZ",
            "PkgFolder/ContosoApp_managed.zip": solution_zip(requires=("ContosoPricing",)),
        }
    )
    root = write_offer()
    write_package(root, appsource_package(replace={"package.zip": inner}))
    local = validate_offer(f"offers/{OFFER_ID}", WorktreeFiles(root))
    assert local.findings == ()
    assert local.manifest is not None
    remote = certify(OfferPayload(local.manifest["spec"], local.referenced_files))
    assert [(f.code, f.path) for f in remote] == [
        ("DeploymentFailed", "$.spec.technicalConfiguration.packageFile")
    ]
    assert "ContosoPricing" in remote[0].message


def test_files_precheck_cannot_read_are_one_finding_not_an_exception() -> None:
    # The safety net for hostile bytes no rule anticipated: here a value that is not
    # bytes at all, as a broken caller or wire decoder could hand over.
    spec = {"technicalConfiguration": {"packageFile": "package/p.zip"}}
    issues = precheck(spec, {"package/p.zip": None})  # type: ignore[dict-item]
    assert [(i.code, i.path) for i in issues if i.code.startswith("Package")] == [
        ("PackageUnscannable", ("spec", "technicalConfiguration", "packageFile"))
    ]
