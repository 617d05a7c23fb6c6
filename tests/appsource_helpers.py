"""Builders for tests: real PNG headers and well-formed AppSource packages, piece by piece.

`appsource_package()` is the smallest package precheck accepts (Partner
Center's structure: `[Content_Types].xml`, `input.xml` naming `package.zip`,
a 32x32 logo and a terms file); every argument swaps one piece so a test can
break exactly one rule.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="xml" ContentType="application/octet-stream" />'
    b'<Default Extension="zip" ContentType="application/octet-stream" />'
    b'<Default Extension="png" ContentType="application/octet-stream" />'
    b'<Default Extension="html" ContentType="application/octet-stream" />'
    b'<Default Extension="dll" ContentType="application/octet-stream" />'
    b"</Types>\n"
)


def png(width: int, height: int) -> bytes:
    """A PNG signature, IHDR and IEND: enough for a header check (never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def make_zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def solution_zip(unique_name: str = "ContosoApp", requires: tuple[str, ...] = ()) -> bytes:
    """A managed solution; `requires` lists solutions its MissingDependencies name."""
    deps = "".join(
        f'<MissingDependency><Required type="1" schemaName="x_{i}" solution="{name} (1.0.0.0)" />'
        "</MissingDependency>"
        for i, name in enumerate(requires)
    )
    manifest = (
        f"<ImportExportXml><SolutionManifest><UniqueName>{unique_name}</UniqueName>"
        f"<Version>1.0.0.0</Version><Managed>1</Managed>"
        f"<MissingDependencies>{deps}</MissingDependencies>"
        "</SolutionManifest></ImportExportXml>"
    ).encode()
    return make_zip(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "solution.xml": manifest,
            "customizations.xml": b"<ImportExportXml><Entities/></ImportExportXml>",
        }
    )


def input_xml(
    package: str = "package.zip",
    logo: str = "logo32x32.png",
    terms: str = "TermsOfUse.html",
    anchor: str = "ContosoApp_managed.zip",
) -> bytes:
    return (
        "<PvsPackageData><ProviderName>Contoso</ProviderName>"
        f"<PackageFile>{package}</PackageFile>"
        f"<SolutionAnchorName>{anchor}</SolutionAnchorName>"
        "<StartDate>01/01/2026</StartDate><EndDate>01/01/2031</EndDate>"
        "<SupportedCountries>US,CA</SupportedCountries>"
        "<LearnMoreLink>https://contoso.example</LearnMoreLink>"
        '<Locales><PackageLocale Code="1033" IsDefault="true">'
        f"<Logo>{logo}</Logo>"
        f'<Terms><PackageTerm File="{terms}" /></Terms></PackageLocale></Locales>'
        "</PvsPackageData>"
    ).encode()


def inner_package(solution: bytes | None = None) -> bytes:
    """The Package Deployer package: its own content types, assembly and solution folder."""
    return make_zip(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "ContosoAppPackage.dll": b"MZ\x90\x00" + b"\x00" * 60,
            "PkgFolder/ImportConfig.xml": b"<configdatastorage />",
            "PkgFolder/ContosoApp_managed.zip": solution or solution_zip(),
        }
    )


def appsource_package(
    *,
    extra: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    replace: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A well-formed package; `extra` adds members, `drop` removes, `replace` swaps bytes."""
    members = {
        "[Content_Types].xml": CONTENT_TYPES,
        "input.xml": input_xml(),
        "package.zip": inner_package(),
        "logo32x32.png": png(32, 32),
        "TermsOfUse.html": b"<html><body><p>Terms of use.</p></body></html>",
    }
    members |= replace or {}
    members |= extra or {}
    for name in drop:
        members.pop(name, None)
    return make_zip(members, compression=compression)
