"""The AppSource package of a Dynamics 365 offer, checked for the structure certification wants.

Pure: package bytes in, problems out. The outer zip holds `[Content_Types].xml`,
`input.xml` (Partner Center also writes `Input.xml`), the Package Deployer
package that input.xml names in `PackageFile` (itself a zip with its own
`[Content_Types].xml`, the deployer assembly and the solution named by
`SolutionAnchorName`), a 32x32 logo and the license-terms files the locales
name. XML is parsed with defusedxml: no DTD, no entity expansion, no external
references. Reads are capped by the same `ScanLimits` as the virus scan.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from controller.validation.png import NotPngError, png_size
from controller.validation.zipscan import (
    DEFAULT_LIMITS,
    READ_ERRORS,
    ScanLimits,
    ScanProblem,
    capped,
    is_zip,
    open_zip,
    read_member,
    shown_name,
)

CONTENT_TYPES = "[Content_Types].xml"
INPUT_XML = "input.xml"  # matched without regard to case
LOGO_SIZE = (32, 32)
XML_LIMIT = 1024 * 1024  # input.xml and solution.xml are a few kB
_DATE = re.compile(r"^(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])/\d{4}$")


@dataclass(frozen=True, slots=True)
class Solution:
    """The solution the package deploys: its anchor zip's name and its solution.xml root."""

    anchor: str
    manifest: Element | None  # None when solution.xml is missing or does not parse


def check_package(data: bytes, limits: ScanLimits = DEFAULT_LIMITS) -> list[ScanProblem]:
    """Every structural problem of an AppSource package (empty when it is well formed)."""
    if not is_zip(data):
        return [ScanProblem("PackageNotZip", "the technical package is not a zip archive")]
    try:
        with open_zip(data, limits) as archive:
            # Names below come from the archive and input.xml: shown cut, and counted
            # past MAX_PROBLEMS (input.xml may list thousands of locales).
            return capped(list(_check_outer(archive, limits)), "the package")
    except READ_ERRORS:
        return []  # the virus scan reports an unreadable archive (PackageCorrupt) once


def _check_outer(archive: zipfile.ZipFile, limits: ScanLimits) -> Iterator[ScanProblem]:
    members = {
        info.filename: info for info in archive.infolist() if not info.filename.endswith("/")
    }
    if CONTENT_TYPES not in members:
        yield _error(
            "PackageContentTypesMissing", f"the package has no {CONTENT_TYPES} at its root"
        )
    input_name = next((n for n in members if n.lower() == INPUT_XML), None)
    if input_name is None:
        yield _error("PackageInputMissing", "the package has no input.xml at its root")
        return
    root, problem = _parse(archive, members[input_name], input_name)
    if root is None:
        yield _error("PackageInputInvalid", problem)
        return
    if root.tag != "PvsPackageData":
        yield _error(
            "PackageInputInvalid",
            f"{input_name}: the root element is <{root.tag[:40]}>; expected <PvsPackageData>",
        )
        return
    yield from _check_fields(root, input_name)
    yield from _check_inner(archive, members, root, input_name, limits)
    yield from _check_locales(archive, members, root, input_name)


def _check_fields(root: Element, input_name: str) -> Iterator[ScanProblem]:
    countries = root.findtext("SupportedCountries")
    if countries is not None and re.search(r"\s", countries):
        yield _error(
            "PackageInputInvalid",
            f"{input_name}: SupportedCountries must not contain spaces or newlines",
        )
    for tag in ("StartDate", "EndDate"):
        value = root.findtext(tag)
        if value is not None and not _DATE.match(value.strip()):
            yield _error(
                "PackageInputInvalid",
                f"{input_name}: {tag} {value.strip()[:20]!r} is not a date in MM/DD/YYYY form",
            )


def _check_inner(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    root: Element,
    input_name: str,
    limits: ScanLimits,
) -> Iterator[ScanProblem]:
    package = (root.findtext("PackageFile") or "").strip()
    if not package:
        yield _error("PackageInputInvalid", f"{input_name} names no PackageFile")
        return
    if package not in members:
        yield _error(
            "PackageFileMissing",
            f"{input_name} names PackageFile {shown_name(package)!r}, which is not in the package",
        )
        return
    inner = read_member(archive, members[package], limits.max_total_bytes)
    if inner is None or not is_zip(inner):
        yield _error(
            "PackageInnerNotZip",
            f"{shown_name(package)}: the Package Deployer package is not a zip",
        )
        return
    try:
        with open_zip(inner, limits) as nested:
            names = [i.filename for i in nested.infolist() if not i.filename.endswith("/")]
    except READ_ERRORS:
        yield _error(
            "PackageInnerNotZip",
            f"{shown_name(package)}: the Package Deployer package is unreadable",
        )
        return
    if CONTENT_TYPES not in names:
        yield _error(
            "PackageInnerInvalid", f"{shown_name(package)}: it has no {CONTENT_TYPES} of its own"
        )
    if not any(n.lower().endswith(".dll") for n in names):
        yield _warning(
            "PackageInnerNoAssembly",
            f"{shown_name(package)}: it holds no package assembly (.dll); "
            "Package Deployer may not run it",
        )
    anchor = (root.findtext("SolutionAnchorName") or "").strip()
    if anchor and not any(n.rsplit("/", 1)[-1] == anchor for n in names):
        yield _error(
            "PackageSolutionMissing",
            f"{input_name} names SolutionAnchorName {shown_name(anchor)!r}, "
            f"which is not in {shown_name(package)}",
        )


def _check_locales(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], root: Element, input_name: str
) -> Iterator[ScanProblem]:
    locales = root.findall("Locales/PackageLocale")
    if not locales:
        yield _error("PackageInputInvalid", f"{input_name} declares no Locales/PackageLocale")
    for locale in locales:
        code = locale.get("Code", "?")[:10]
        logo = (locale.findtext("Logo") or "").strip()
        if not logo:
            yield _error("PackageLogoMissing", f"{input_name}: locale {code} names no Logo")
        elif logo not in members:
            yield _error(
                "PackageLogoMissing",
                f"{input_name}: locale {code} names Logo {shown_name(logo)!r}, "
                "which is not in the package",
            )
        else:
            yield from _check_logo(archive, members[logo], logo)
        terms = locale.findall("Terms/PackageTerm")
        if not terms:
            yield _error("PackageTermsMissing", f"{input_name}: locale {code} names no terms file")
        for term in terms:
            name = (term.get("File") or "").strip()
            if name not in members:
                yield _error(
                    "PackageTermsMissing",
                    f"{input_name}: locale {code} names terms file {shown_name(name)!r}, "
                    "which is not in the package",
                )


def _check_logo(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, logo: str
) -> Iterator[ScanProblem]:
    data = read_member(archive, info, XML_LIMIT) or b""
    if data[:3] == b"\xff\xd8\xff":
        yield _warning(
            "PackageLogoUnchecked",
            f"{shown_name(logo)}: a JPEG logo; only a PNG's size can be checked",
        )
        return
    try:
        size = png_size(data)
    except NotPngError as exc:
        yield _error(
            "PackageLogoNotPng", f"{shown_name(logo)}: the package logo is not a PNG image: {exc}"
        )
        return
    if size != LOGO_SIZE:
        yield _error(
            "PackageLogoSize",
            f"{shown_name(logo)}: the package logo is {size[0]}x{size[1]}; it must be 32x32",
        )


def solution(data: bytes, limits: ScanLimits = DEFAULT_LIMITS) -> Solution | None:
    """The solution a well-formed package deploys (for the marketplace's deployment test)."""
    try:
        with open_zip(data, limits) as archive:
            members = {i.filename: i for i in archive.infolist() if not i.filename.endswith("/")}
            input_name = next((n for n in members if n.lower() == INPUT_XML), None)
            if input_name is None:
                return None
            root, _ = _parse(archive, members[input_name], input_name)
            package = (root.findtext("PackageFile") or "").strip() if root is not None else ""
            anchor = (root.findtext("SolutionAnchorName") or "").strip() if root is not None else ""
            if package not in members or not anchor:
                return None
            inner = read_member(archive, members[package], limits.max_total_bytes)
        with open_zip(inner or b"", limits) as nested:
            found = [i for i in nested.infolist() if i.filename.rsplit("/", 1)[-1] == anchor]
            anchor_zip = read_member(nested, found[0], limits.max_total_bytes) if found else None
        with open_zip(anchor_zip or b"", limits) as solution_zip:
            infos = {i.filename: i for i in solution_zip.infolist()}
            if "solution.xml" not in infos:
                return Solution(anchor, None)
            manifest, _ = _parse(solution_zip, infos["solution.xml"], "solution.xml")
            return Solution(anchor, manifest)
    except READ_ERRORS:
        return None


def _parse(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str
) -> tuple[Element | None, str]:
    """(root element, "") or (None, why it cannot be used)."""
    data = read_member(archive, info, XML_LIMIT)
    if data is None:
        return None, f"{shown_name(name)}: larger than {XML_LIMIT:,} bytes or encrypted"
    try:
        return fromstring(data, forbid_dtd=True), ""
    except DefusedXmlException:
        return None, f"{shown_name(name)}: DTDs and entity declarations are not allowed"
    except (ParseError, LookupError, ValueError) as exc:  # LookupError: unknown encoding
        return None, f"{shown_name(name)} does not parse as XML ({str(exc)[:120]})"


def _error(code: str, message: str) -> ScanProblem:
    return ScanProblem(code, message)


def _warning(code: str, message: str) -> ScanProblem:
    return ScanProblem(code, message, warning=True)
