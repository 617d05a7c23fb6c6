"""Certification and validation rules of the simulated marketplace, on real zips and specs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from marketplace_helpers import (
    PACKAGE,
    clean_package,
    eicar_package,
    make_zip,
    payload,
    spec,
)

from controller.core.model import Stage
from controller.marketplace.api import OfferPayload
from controller.marketplace.certify import (
    EICAR,
    ScanLimits,
    certify,
    failing_stage,
    scan_bytes,
)

REPO = Path(__file__).resolve().parents[2]


def codes(found: Any) -> set[tuple[str, str, str]]:
    return {(f.stage, f.code, f.path) for f in found}


class TestCleanOffer:
    """A complete, clean offer passes both stages."""

    def test_clean_payload_has_no_findings(self) -> None:
        assert certify(payload()) == ()
        assert failing_stage(certify(payload())) is None


class TestVirusScan:
    """The EICAR test signature is found wherever it hides in the package."""

    package_path = "$.spec.technicalConfiguration.packageFile"

    def test_eicar_stored_uncompressed_is_found(self) -> None:
        found = certify(payload(package=eicar_package(compression=zipfile.ZIP_STORED)))
        assert ("Certification", "VirusFound", self.package_path) in codes(found)
        assert failing_stage(found) == Stage.CERTIFICATION

    def test_eicar_in_a_deflated_member_is_found(self) -> None:
        data = eicar_package(compression=zipfile.ZIP_DEFLATED)
        assert EICAR not in data  # only decompression reveals it
        found = certify(payload(package=data))
        assert ("Certification", "VirusFound", self.package_path) in codes(found)
        assert any("tests/selftest.txt" in f.message for f in found)

    def test_eicar_in_a_zip_inside_the_zip_is_found(self) -> None:
        inner = eicar_package()
        outer = make_zip({"inner/bundle.zip": inner, "readme.txt": b"hello"})
        problems = scan_bytes("pkg.zip", outer)
        assert [p.code for p in problems] == ["VirusFound"]
        assert "inner/bundle.zip!tests/selftest.txt" in problems[0].message

    def test_eicar_across_chunk_borders_is_found(self) -> None:
        limits = ScanLimits(chunk=16)
        data = make_zip({"big.bin": b"a" * 1000 + EICAR + b"b" * 1000})
        assert [p.code for p in scan_bytes("p.zip", data, limits)] == ["VirusFound"]

    def test_eicar_in_a_logo_is_found_and_points_at_the_logo(self) -> None:
        p = payload()
        files = dict(p.files) | {"media/logo-216.png": b"\x89PNG" + EICAR}
        found = certify(OfferPayload(p.spec, files))
        assert ("Certification", "VirusFound", "$.spec.listings.en-us.logos.large") in codes(found)

    def test_zip_bomb_is_rejected_without_unpacking_it(self) -> None:
        # 32 MiB of zeros deflates to about 32 kB; the scan must stop long before the end.
        buf = io.BytesIO()
        with (
            zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive,
            archive.open("zeros.bin", "w") as member,
        ):
            chunk = b"\0" * (1024 * 1024)
            for _ in range(32):
                member.write(chunk)
        problems = scan_bytes("bomb.zip", buf.getvalue())
        assert [p.code for p in problems] == ["PackageBomb"]

    def test_total_decompressed_bytes_are_capped(self) -> None:
        members = {f"f{i}.bin": bytes(range(256)) * 64 for i in range(20)}  # 20 x 16 KiB
        limits = ScanLimits(max_total_bytes=100_000, max_ratio=10_000)
        problems = scan_bytes("big.zip", make_zip(members), limits)
        assert [p.code for p in problems] == ["PackageTooLarge"]

    def test_member_count_is_capped(self) -> None:
        members = {f"f{i}.txt": b"x" for i in range(30)}
        problems = scan_bytes("many.zip", make_zip(members), ScanLimits(max_members=10))
        assert [p.code for p in problems] == ["PackageTooManyFiles"]

    def test_nesting_depth_is_capped(self) -> None:
        data = make_zip({"a.txt": b"x"})
        for i in range(5):
            data = make_zip({f"level{i}.zip": data})
        problems = scan_bytes("deep.zip", data, ScanLimits(max_depth=3))
        assert [p.code for p in problems] == ["PackageTooDeep"]

    def test_corrupt_zip_is_rejected(self) -> None:
        data = clean_package()
        broken = data[:30] + b"\xff" * 40 + data[70:]
        found = certify(payload(package=broken))
        assert "PackageCorrupt" in {f.code for f in found}

    def test_truncated_zip_is_rejected(self) -> None:
        found = certify(payload(package=clean_package()[:-30]))
        assert "PackageCorrupt" in {f.code for f in found}

    def test_package_that_is_not_a_zip_is_rejected(self) -> None:
        found = certify(payload(package=b"just some text"))
        assert ("Certification", "PackageNotZip", self.package_path) in codes(found)


class TestListingContent:
    """Links, placeholders, privacy policy and help link, each with its JSON path."""

    def test_http_link_is_reported_at_its_path(self) -> None:
        s = spec({"listings.en-us.usefulLinks": [{"name": "Docs", "url": "http://x.example"}]})
        found = certify(payload(s))
        assert (
            "Certification",
            "InsecureLink",
            "$.spec.listings.en-us.usefulLinks[0].url",
        ) in codes(found)

    def test_http_link_inside_description_html_is_reported(self) -> None:
        s = spec({"listings.en-us.description": '<p><a href="http://x.example/a">a</a></p>'})
        assert ("Certification", "InsecureLink", "$.spec.listings.en-us.description") in codes(
            certify(payload(s))
        )

    def test_ftp_link_is_reported(self) -> None:
        s = spec({"offerSetup.customerLeads": {"leadDestination": "x", "u": "ftp://x.example"}})
        assert "InsecureLink" in {f.code for f in certify(payload(s))}

    def test_email_addresses_are_not_links(self) -> None:
        assert certify(payload(spec())) == ()

    @pytest.mark.parametrize(
        ("field", "text"),
        [
            ("description", "<p>Lorem ipsum dolor sit amet</p>"),
            ("description", "<p>LOREM  IPSUM</p>"),
            ("searchResultsSummary", "TODO write this"),
            ("gettingStartedInstructions", "Steps: TBD"),
            ("name", "Placeholder name"),
        ],
    )
    def test_placeholder_text_is_reported(self, field: str, text: str) -> None:
        s = spec({f"listings.en-us.{field}": text})
        assert ("Certification", "PlaceholderText", f"$.spec.listings.en-us.{field}") in codes(
            certify(payload(s))
        )

    def test_placeholder_in_a_screenshot_caption_is_reported(self) -> None:
        s = spec({"listings.en-us.screenshots": [{"path": "media/screen-1.png", "caption": "TBD"}]})
        assert (
            "Certification",
            "PlaceholderText",
            "$.spec.listings.en-us.screenshots[0].caption",
        ) in codes(certify(payload(s)))

    def test_lowercase_todo_in_prose_is_not_a_placeholder(self) -> None:
        s = spec({"listings.en-us.description": "<p>Turn every email into a todo item.</p>"})
        assert certify(payload(s)) == ()

    def test_missing_privacy_policy_is_reported(self) -> None:
        s = spec({"properties.legal.privacyPolicyUrl": None})
        found = certify(payload(s))
        assert (
            "Certification",
            "PrivacyPolicyMissing",
            "$.spec.properties.legal.privacyPolicyUrl",
        ) in codes(found)
        assert failing_stage(found) == Stage.CERTIFICATION

    def test_help_link_equal_to_support_link_is_reported(self) -> None:
        s = spec({"listings.en-us.helpLink": "https://CONTOSO.example/support/"})
        assert (
            "Certification",
            "HelpLinkSameAsSupport",
            "$.spec.listings.en-us.helpLink",
        ) in codes(certify(payload(s)))

    def test_every_problem_is_reported_not_only_the_first(self) -> None:
        s = spec(
            {
                "listings.en-us.description": "<p>lorem ipsum http://a.example</p>",
                "properties.legal.privacyPolicyUrl": None,
            }
        )
        found = {f.code for f in certify(payload(s, package=eicar_package()))}
        assert {"VirusFound", "InsecureLink", "PlaceholderText", "PrivacyPolicyMissing"} <= found


class TestValidationStage:
    """Incomplete offers fail at Validation, before certification looks at content."""

    def test_missing_en_us_listing_fails_validation(self) -> None:
        s = spec({"listings": {"de-de": spec()["listings"]["en-us"]}})
        found = certify(payload(s))
        assert ("Validation", "ListingMissing", "$.spec.listings.en-us") in codes(found)
        assert failing_stage(found) == Stage.VALIDATION

    def test_missing_listing_description_fails_validation(self) -> None:
        s = spec({"listings.en-us.description": "  "})
        assert ("Validation", "ListingFieldMissing", "$.spec.listings.en-us.description") in codes(
            certify(payload(s))
        )

    def test_unsupported_type_fails_validation(self) -> None:
        assert ("Validation", "UnsupportedOfferType", "$.spec.type") in codes(
            certify(payload(spec({"type": "saas"})))
        )

    def test_referenced_file_not_submitted_fails_validation(self) -> None:
        p = payload()
        files = {k: v for k, v in p.files.items() if k != PACKAGE}
        found = certify(OfferPayload(p.spec, files))
        assert (
            "Validation",
            "FileMissing",
            "$.spec.technicalConfiguration.packageFile",
        ) in codes(found)

    def test_spec_that_is_not_an_object_fails_validation(self) -> None:
        found = certify(OfferPayload(spec=[1, 2], files={}))  # type: ignore[arg-type]
        assert [f.code for f in found] == ["SpecNotAnObject"]

    def test_deeply_nested_spec_does_not_crash(self) -> None:
        deep: Any = "http://x.example"
        for _ in range(5000):
            deep = [deep]
        s = spec({"extra": deep})
        certify(payload(s))  # bounded walk: no RecursionError


class TestShippedExamples:
    """The example offers in offers/ certify as their comments promise."""

    @staticmethod
    def load(offer: str) -> OfferPayload:
        folder = REPO / "offers" / offer
        manifest = yaml.safe_load((folder / "offer.yaml").read_text(encoding="utf-8"))
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file() and p.name not in ("offer.yaml", "status.yaml", "signoff.yaml")
        }
        return OfferPayload(spec=manifest["spec"], files=files)

    @pytest.mark.parametrize(
        "offer", ["contoso-field-insights", "fabrikam-case-triage", "northwind-loyalty-hub"]
    )
    def test_example_offer_passes(self, offer: str) -> None:
        if not (REPO / "offers" / offer).is_dir():
            pytest.skip(f"example {offer} not shipped")
        assert certify(self.load(offer)) == ()

    def test_tailspin_example_is_rejected_only_by_the_deployment_test(self) -> None:
        if not (REPO / "offers" / "tailspin-quote-builder").is_dir():
            pytest.skip("example not shipped")
        found = certify(self.load("tailspin-quote-builder"))
        # Precheck finds nothing (validate passes it); only the marketplace's deployment
        # test, which knows what the clean test environment has installed, rejects it.
        assert [(f.stage, f.code) for f in found] == [("Certification", "DeploymentFailed")]
        assert "TailspinPricingEngine" in found[0].message
        assert failing_stage(found) == Stage.CERTIFICATION
