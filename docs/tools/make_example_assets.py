"""Generate the binary assets of the example offers under offers/.

Writes small but real PNG files of the exact pixel sizes the listing rules ask
for (216x216, 90x90, 48x48 logos; 1280x720 screenshots and video thumbnails)
and each offer's technical package: a well-formed AppSource package
(`[Content_Types].xml`, `input.xml` naming the inner `package.zip`, a 32x32
logo and the terms file; the inner package holds its own content types, the
deployer assembly and the managed solution). The outputs are committed; this
script exists so they can be regenerated or changed on purpose.

tailspin-quote-builder passes precheck but its solution requires another
solution (`TailspinPricingEngine`) that neither the package nor the
marketplace's clean test environment has: only the simulated deployment test
finds that, so certification rejects it (`make demo` shows Rejected).

Output is byte-for-byte reproducible (fixed zip timestamps, fixed zlib level):
the files are part of each offer's generation digest, so a re-run must not
make new generations.

    python docs/tools/make_example_assets.py [--root DIR]
"""

from __future__ import annotations

import argparse
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

Rgb = tuple[int, int, int]
Rect = tuple[int, int, int, int, int]  # x, y, width, height, palette index

WHITE: Rgb = (255, 255, 255)
PAPER: Rgb = (243, 242, 241)
INK: Rgb = (50, 49, 48)
GREY: Rgb = (200, 198, 196)

# Zip entries carry a timestamp; a fixed one keeps the archive reproducible.
ZIP_TIME = (2025, 1, 6, 9, 0, 0)


# ---------------------------------------------------------------- PNG writing


def png(width: int, height: int, palette: Sequence[Rgb], rects: Sequence[Rect]) -> bytes:
    """An 8-bit palette PNG: palette index 0 fills the canvas, rects paint over it in order."""
    rows = [bytearray(width) for _ in range(height)]
    for x, y, w, h, colour in rects:
        for row in rows[max(y, 0) : min(y + h, height)]:
            row[max(x, 0) : min(x + w, width)] = bytes([colour]) * (min(x + w, width) - max(x, 0))
    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", b"".join(bytes(c) for c in palette))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def logo(size: int, brand: Rgb, accent: Rgb) -> bytes:
    """A brand-coloured tile with a stepped mark, scaled to `size`."""
    u = size / 12
    mark = [
        (round(3 * u), round(3 * u), round(6 * u), round(2 * u), 2),
        (round(3 * u), round(5 * u), round(2 * u), round(4 * u), 2),
        (round(6 * u), round(6 * u), round(3 * u), round(3 * u), 3),
    ]
    return png(size, size, [brand, brand, WHITE, accent], mark)


def screenshot(variant: int, brand: Rgb, accent: Rgb) -> bytes:
    """A 1280x720 sketch of an app page: top bar, navigation, cards and a bar chart."""
    palette = [PAPER, brand, WHITE, accent, INK, GREY]
    rects: list[Rect] = [(0, 0, 1280, 56, 1), (0, 56, 220, 664, 2), (24, 18, 140, 20, 2)]
    rects += [(24, 96 + 44 * i, 160, 16, 5) for i in range(6)]
    rects += [(24, 96 + 44 * (variant % 6), 160, 16, 3)]  # the selected navigation item
    for i in range(3):
        rects += [(252 + 340 * i, 88, 316, 140, 2), (276 + 340 * i, 112, 120, 14, 5)]
        rects += [(276 + 340 * i, 150, 80 + 40 * ((i + variant) % 3), 40, 4)]
    rects += [(252, 260, 996, 420, 2)]
    for i in range(12):
        height = 40 + ((i * 7 + variant * 5) % 11) * 30
        rects += [(300 + 78 * i, 640 - height, 44, height, 3 if i % 4 == variant % 4 else 1)]
    return png(1280, 720, palette, rects)


def video_thumbnail(brand: Rgb) -> bytes:
    """A 1280x720 dark frame with a play button."""
    rects: list[Rect] = [(0, 620, 1280, 100, 1), (540, 260, 200, 200, 2)]
    rects += [(610, 310 + y, 2 + y if y < 50 else 102 - y, 1, 1) for y in range(100)]
    return png(1280, 720, [INK, brand, WHITE], rects)


# ----------------------------------------------------------- package writing


# Every extension [Content_Types].xml must declare (Partner Center's list).
CONTENT_EXTENSIONS = (
    "xml", "xaml", "dll", "zip", "jpg", "gif", "png", "htm", "html", "db", "css", "json", "msapp",
)  # fmt: skip


def content_types() -> bytes:
    defaults = "".join(
        f'  <Default Extension="{ext}" ContentType="application/octet-stream" />\n'
        for ext in CONTENT_EXTENSIONS
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\n'
        f"{defaults}</Types>\n"
    ).encode()


def solution_files(
    unique_name: str,
    display: str,
    publisher: str,
    prefix: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
) -> dict[str, bytes]:
    """The files of a (tiny) managed Dynamics 365 solution; `requires` are missing dependencies."""
    dependencies = "".join(
        "      <MissingDependency>\n"
        f'        <Required type="1" schemaName="{prefix}_pricelist" displayName="Price list" '
        f'solution="{name} (1.2.0.0)" />\n'
        f'        <Dependent type="1" schemaName="{prefix}_quote" displayName="Quote" />\n'
        "      </MissingDependency>\n"
        for name in requires
    )
    solution = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<ImportExportXml version="9.2.0.0" SolutionPackageVersion="9.2" languagecode="1033">\n'
        "  <SolutionManifest>\n"
        f"    <UniqueName>{unique_name}</UniqueName>\n"
        "    <LocalizedNames>\n"
        f'      <LocalizedName description="{display}" languagecode="1033" />\n'
        "    </LocalizedNames>\n"
        f"    <Version>{version}</Version>\n"
        "    <Managed>1</Managed>\n"
        "    <Publisher>\n"
        f"      <UniqueName>{publisher.lower().replace(' ', '')}</UniqueName>\n"
        "      <LocalizedNames>\n"
        f'        <LocalizedName description="{publisher}" languagecode="1033" />\n'
        "      </LocalizedNames>\n"
        f"      <CustomizationPrefix>{prefix}</CustomizationPrefix>\n"
        "    </Publisher>\n"
        "    <RootComponents />\n"
        f"    <MissingDependencies>\n{dependencies}    </MissingDependencies>\n"
        "  </SolutionManifest>\n"
        "</ImportExportXml>\n"
    )
    customizations = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<ImportExportXml xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        "  <Entities />\n  <Roles />\n  <Workflows />\n  <WebResources />\n"
        "  <Languages><Language>1033</Language></Languages>\n"
        "</ImportExportXml>\n"
    )
    return {
        "[Content_Types].xml": content_types(),
        "solution.xml": solution.encode(),
        "customizations.xml": customizations.encode(),
    }


def input_xml(provider: str, anchor: str) -> bytes:
    """Partner Center's input.xml: the inner package, the solution anchor, logo and terms."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        "<PvsPackageData>\n"
        f"  <ProviderName>{provider}</ProviderName>\n"
        "  <PackageFile>package.zip</PackageFile>\n"
        f"  <SolutionAnchorName>{anchor}</SolutionAnchorName>\n"
        "  <StartDate>01/06/2025</StartDate>\n"
        "  <EndDate>01/01/2031</EndDate>\n"
        "  <SupportedCountries>US,CA,GB,DE</SupportedCountries>\n"
        "  <LearnMoreLink>https://learn.microsoft.com/dynamics365/</LearnMoreLink>\n"
        "  <Locales>\n"
        '    <PackageLocale Code="1033" IsDefault="true">\n'
        "      <Logo>logo32x32.png</Logo>\n"
        '      <Terms><PackageTerm File="TermsOfUse.html" /></Terms>\n'
        "    </PackageLocale>\n"
        "  </Locales>\n"
        "</PvsPackageData>\n"
    ).encode()


def terms_of_use(provider: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html><head><title>Terms of use</title></head><body>\n"
        f"<p>{provider} licenses this app under the Microsoft standard contract for "
        "AppSource.</p>\n</body></html>\n"
    ).encode()


def appsource_package(example: Example) -> bytes:
    """The AppSource package zip: outer files, and the Package Deployer package inside."""
    unique, _, publisher, _, _ = example.solution
    anchor = f"{unique}_managed.zip"
    deployer = zip_bytes(
        {
            "[Content_Types].xml": content_types(),
            # Not a real assembly: a PE header is enough for the structure check.
            f"{unique}Package.dll": b"MZ\x90\x00" + b"\x00" * 60,
            "PkgFolder/ImportConfig.xml": (
                '<?xml version="1.0" encoding="utf-16"?>\n<configdatastorage>'
                f'<solutions><configsolutionfile solutionpackagefilename="{anchor}" />'
                "</solutions></configdatastorage>\n"
            ).encode(),
            f"PkgFolder/{anchor}": zip_bytes(
                solution_files(*example.solution, requires=example.requires)
            ),
        }
    )
    return zip_bytes(
        {
            "[Content_Types].xml": content_types(),
            "input.xml": input_xml(publisher, anchor),
            "package.zip": deployer,
            "logo32x32.png": logo(32, example.brand, example.accent),
            "TermsOfUse.html": terms_of_use(publisher),
        }
    )


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A reproducible zip: fixed timestamps and permissions, deflate level 9."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


# ------------------------------------------------------------------ offers


@dataclass(frozen=True)
class Example:
    offer: str
    brand: Rgb
    accent: Rgb
    logo_sizes: tuple[int, ...]
    screenshots: int
    video: bool
    package: str
    solution: tuple[
        str, str, str, str, str
    ]  # unique name, display name, publisher, prefix, version
    requires: tuple[str, ...] = ()  # solutions the package needs but does not bring


EXAMPLES = (
    Example(
        "contoso-field-insights",
        (0, 120, 212),
        (255, 185, 0),
        (216, 90, 48),
        3,
        True,
        "package/contoso-field-insights.zip",
        ("ContosoFieldInsights", "Contoso Field Insights", "Contoso Ltd", "cfi", "2.4.1.0"),
    ),
    Example(
        "fabrikam-case-triage",
        (135, 100, 184),
        (0, 183, 195),
        (216, 48),
        2,
        False,
        "package/fabrikam-case-triage.zip",
        ("FabrikamCaseTriage", "Fabrikam Case Triage", "Fabrikam Inc", "fct", "1.2.0.0"),
    ),
    Example(
        "northwind-loyalty-hub",
        (16, 124, 16),
        (255, 140, 0),
        (216,),
        1,
        False,
        "package/northwind-loyalty-hub.zip",
        ("NorthwindLoyaltyHub", "Northwind Loyalty Hub", "Northwind Traders", "nlh", "0.9.0.0"),
    ),
    Example(
        "tailspin-quote-builder",
        (202, 80, 16),
        (0, 99, 177),
        (216, 48),
        2,
        False,
        "package/tailspin-quote-builder.zip",
        ("TailspinQuoteBuilder", "Tailspin Quote Builder", "Tailspin Toys", "tqb", "1.0.0.0"),
        requires=("TailspinPricingEngine",),
    ),
)


def assets(example: Example) -> dict[str, bytes]:
    """Offer-folder-relative path -> bytes of every asset the example offer refers to."""
    out = {
        f"media/logo-{size}.png": logo(size, example.brand, example.accent)
        for size in example.logo_sizes
    }
    for i in range(example.screenshots):
        out[f"media/screen-{i + 1}.png"] = screenshot(i, example.brand, example.accent)
    if example.video:
        out["media/video-thumb.png"] = video_thumbnail(example.brand)
    out[example.package] = appsource_package(example)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parents[2], help="repository root"
    )
    args = parser.parse_args(argv)
    for example in EXAMPLES:
        folder = args.root / "offers" / example.offer
        for relative, data in assets(example).items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"{target.relative_to(args.root)}  {len(data)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
