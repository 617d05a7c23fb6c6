"""What the simulated marketplace's Validation and Certification stages find in a payload.

Pure: an `OfferPayload` goes in, `Finding`s come out, each naming the stage
that reports it (`Validation` or `Certification`), a stable CamelCase code, a
message a publisher can act on and a JSON path into the manifest
(``$.spec.listings.en-us.description``). No I/O, no clock.

Validation checks that the offer is complete enough to look at (required
fields, referenced files present). Certification inspects content the way the
real one is reported to: a virus scan of every file (the EICAR test signature,
also inside zip members, with hard caps so a zip bomb cannot exhaust memory or
time), links that are not HTTPS, placeholder text in the listing, a missing
privacy policy, a help link equal to the support link, a technical package
that is not a readable zip.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from controller.model import Finding, Stage

from .api import OfferPayload

# The EICAR anti-virus test string, assembled at import so that this source
# file itself does not carry the signature (scanners would flag our repo).
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-" + b"TEST-FILE!$H+H*"

SUPPORTED_TYPES = frozenset({"dynamics-365-customer-engagement"})


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """Bounds on how much the virus scan unpacks; past them the package is rejected, not scanned."""

    max_members: int = 2_000  # entries per archive (nested archives included)
    max_total_bytes: int = 64 * 1024 * 1024  # decompressed bytes over the whole package
    max_ratio: int = 200  # decompressed/compressed per member: beyond this it is a bomb
    max_depth: int = 3  # zip inside zip inside zip
    chunk: int = 64 * 1024


DEFAULT_LIMITS = ScanLimits()

_PLACEHOLDER = re.compile(
    r"lorem\s+ipsum|\b(?:TODO|TBD|FIXME|XXX)\b|\bplaceholder\b|\[insert[^\]]*\]",
    re.IGNORECASE,
)
# Uppercase-only markers: "todo" in prose ("a to-do app") is not a placeholder.
_CASE_SENSITIVE = frozenset({"TODO", "TBD", "FIXME", "XXX"})
_URL_IN_TEXT = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://[^\s\"'<>]+")
_ALLOWED_SCHEMES = frozenset({"https"})

# Listing fields that are shown to customers and therefore must not carry placeholders.
_LISTING_TEXT = ("name", "searchResultsSummary", "description", "gettingStartedInstructions")


def certify(payload: OfferPayload, limits: ScanLimits = DEFAULT_LIMITS) -> tuple[Finding, ...]:
    """Every finding for this payload: Validation-stage ones first, then Certification's."""
    return tuple(validation_findings(payload)) + tuple(certification_findings(payload, limits))


def failing_stage(findings: Sequence[Finding]) -> Stage | None:
    """The first stage with an error finding: where the pipeline stops."""
    for stage in (Stage.VALIDATION, Stage.CERTIFICATION):
        if any(f.stage == stage and f.severity == "error" for f in findings):
            return stage
    return None


# --- Validation ---------------------------------------------------------------------------


def validation_findings(payload: OfferPayload) -> Iterator[Finding]:
    spec = payload.spec
    if not isinstance(spec, Mapping):
        yield _validation("SpecNotAnObject", "the submitted spec is not an object", "$.spec")
        return
    offer_type = spec.get("type")
    if offer_type not in SUPPORTED_TYPES:
        yield _validation(
            "UnsupportedOfferType",
            f"offer type {offer_type!r} is not supported; "
            f"expected one of {', '.join(sorted(SUPPORTED_TYPES))}",
            "$.spec.type",
        )
    listings = spec.get("listings")
    if not isinstance(listings, Mapping) or not isinstance(listings.get("en-us"), Mapping):
        yield _validation("ListingMissing", "an en-us listing is required", "$.spec.listings.en-us")
        listings = listings if isinstance(listings, Mapping) else {}
    for lang, listing in listings.items():
        if not isinstance(listing, Mapping):
            continue
        for field in ("name", "searchResultsSummary", "description"):
            if not _text(listing.get(field)):
                yield _validation(
                    "ListingFieldMissing",
                    f"listing {lang}: {field} is required",
                    _path("spec", "listings", lang, field),
                )
    yield from _missing_files(spec, payload.files)


def _missing_files(spec: Mapping[str, Any], files: Mapping[str, bytes]) -> Iterator[Finding]:
    tech = spec.get("technicalConfiguration")
    package = tech.get("packageFile") if isinstance(tech, Mapping) else None
    if not _text(package):
        yield _validation(
            "PackageMissing",
            "technicalConfiguration.packageFile is required: certification scans the package",
            "$.spec.technicalConfiguration.packageFile",
        )
    for path, ref in _file_refs(spec):
        if ref not in files:
            yield _validation(
                "FileMissing", f"{ref} is referenced but was not submitted", _path(*path)
            )


def _file_refs(spec: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(JSON path, offer-relative file) for every asset the spec refers to."""
    tech = spec.get("technicalConfiguration")
    if isinstance(tech, Mapping) and _text(tech.get("packageFile")):
        yield ("spec", "technicalConfiguration", "packageFile"), str(tech["packageFile"])
    for lang, listing in _listings(spec):
        base: tuple[str | int, ...] = ("spec", "listings", lang)
        logos = listing.get("logos")
        if isinstance(logos, Mapping):
            for size, ref in logos.items():
                if _text(ref):
                    yield (*base, "logos", size), str(ref)
        for key, field in (("screenshots", "path"), ("videos", "thumbnail")):
            items = listing.get(key)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    if isinstance(item, Mapping) and _text(item.get(field)):
                        yield (*base, key, i, field), str(item[field])


# --- Certification ------------------------------------------------------------------------


def certification_findings(
    payload: OfferPayload, limits: ScanLimits = DEFAULT_LIMITS
) -> Iterator[Finding]:
    spec = payload.spec
    if not isinstance(spec, Mapping):
        return
    yield from _scan_files(spec, payload.files, limits)
    yield from _insecure_links(spec)
    yield from _placeholders(spec)
    yield from _legal(spec)
    yield from _help_links(spec)


def _scan_files(
    spec: Mapping[str, Any], files: Mapping[str, bytes], limits: ScanLimits
) -> Iterator[Finding]:
    refs = {ref: path for path, ref in _file_refs(spec)}
    tech = spec.get("technicalConfiguration")
    package = str(tech.get("packageFile")) if isinstance(tech, Mapping) else ""
    for name in sorted(files):
        data = files[name]
        where = _path(*refs[name]) if name in refs else "$.spec"
        if name == package and not _is_zip(data):
            yield _cert(
                "PackageNotZip",
                f"{name}: the technical package is not a zip archive",
                where,
            )
        for problem in scan_bytes(name, data, limits):
            yield _cert(problem.code, problem.message, where)


@dataclass(frozen=True, slots=True)
class ScanProblem:
    code: str
    message: str


def scan_bytes(name: str, data: bytes, limits: ScanLimits = DEFAULT_LIMITS) -> list[ScanProblem]:
    """Virus-scan one file: its raw bytes, and the members of a zip (recursively, bounded)."""
    scan = _Scan(limits)
    scan.file(name, data, depth=0)
    return scan.problems


class _Scan:
    """One bounded scan: the budgets are shared by every nested archive of the file."""

    def __init__(self, limits: ScanLimits) -> None:
        self.limits = limits
        self.members_left = limits.max_members
        self.bytes_left = limits.max_total_bytes
        self.stopped = False  # a bomb or an exhausted budget: the rest is not scanned
        self.problems: list[ScanProblem] = []

    def problem(self, code: str, message: str) -> None:
        self.problems.append(ScanProblem(code, message))

    def file(self, name: str, data: bytes, depth: int) -> None:
        if EICAR in data:
            self.problems.append(_virus(name))
            return
        if not _is_zip(data):
            return
        if depth >= self.limits.max_depth:
            self.problem("PackageTooDeep", f"{name}: archives nested more than {depth} deep")
            return
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                self.archive(name, archive, depth)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
            # zipfile raises ValueError/OSError/EOFError for broken headers and data too.
            self.problem("PackageCorrupt", f"{name}: cannot read the archive ({exc})")
        except NotImplementedError as exc:  # a compression method zipfile lacks
            self.problem("PackageUnscannable", f"{name}: {exc}")

    def archive(self, name: str, archive: zipfile.ZipFile, depth: int) -> None:
        for info in archive.infolist():
            if self.stopped:
                return
            if info.is_dir():
                continue
            member = f"{name}!{info.filename}"
            self.members_left -= 1
            if self.members_left < 0:
                self.stopped = True
                self.problem(
                    "PackageTooManyFiles",
                    f"{name}: more than {self.limits.max_members} files; the package is "
                    "not scanned",
                )
                return
            if info.flag_bits & 0x1:
                self.problem("PackageEncrypted", f"{member}: encrypted members cannot be scanned")
                continue
            nested = self.member(archive, info, member, depth)
            if nested is not None:
                self.file(member, nested, depth + 1)

    def member(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, depth: int
    ) -> bytes | None:
        """Stream one member through the scanner; its bytes only when it is itself a zip.

        Sizes declared in the archive can lie, so only bytes actually read count.
        """
        limits = self.limits
        # A floor, so a tiny text file that compresses well is not called a bomb.
        ratio_cap = max(limits.max_ratio * max(info.compress_size, 1), 1024 * 1024)
        keep: bytearray | None = None
        tail = b""
        total = 0
        with archive.open(info) as stream:
            while chunk := stream.read(limits.chunk):
                if total == 0 and _is_zip(chunk) and depth + 1 <= limits.max_depth:
                    keep = bytearray()
                total += len(chunk)
                self.bytes_left -= len(chunk)
                if self.bytes_left < 0:
                    mib = limits.max_total_bytes // (1024 * 1024)
                    self.stop("PackageTooLarge", f"{member}: expands beyond {mib} MiB")
                    return None
                if total > ratio_cap:
                    self.stop(
                        "PackageBomb",
                        f"{member}: expands more than {limits.max_ratio} times its "
                        "compressed size (zip bomb)",
                    )
                    return None
                if keep is not None:
                    keep += chunk
                    continue
                # Keep a signature-sized tail so a match across chunk borders is seen.
                window = tail + chunk
                if EICAR in window:
                    self.problems.append(_virus(member))
                    return None
                tail = window[-len(EICAR) :]
        return bytes(keep) if keep is not None else None

    def stop(self, code: str, message: str) -> None:
        self.stopped = True
        self.problem(code, message + "; the package is not scanned further")


def _virus(name: str) -> ScanProblem:
    return ScanProblem("VirusFound", f"{name}: the virus scan found the EICAR-Test-File signature")


def _is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _insecure_links(spec: Mapping[str, Any]) -> Iterator[Finding]:
    for path, text in _strings(spec, ("spec",)):
        schemes = sorted({m.group(1).lower() for m in _URL_IN_TEXT.finditer(text)})
        bad = [s for s in schemes if s not in _ALLOWED_SCHEMES]
        if bad:
            yield _cert(
                "InsecureLink",
                f"links must use https; found {', '.join(s + '://' for s in bad)}",
                _path(*path),
            )


def _placeholders(spec: Mapping[str, Any]) -> Iterator[Finding]:
    for lang, listing in _listings(spec):
        for path, text in _strings(listing, ("spec", "listings", lang)):
            if not _is_listing_text(path):
                continue
            word = _placeholder_in(text)
            if word:
                yield _cert(
                    "PlaceholderText",
                    f"listing text still contains placeholder text ({word!r})",
                    _path(*path),
                )


def _is_listing_text(path: tuple[str | int, ...]) -> bool:
    field = path[3] if len(path) > 3 else ""
    last = path[-1]
    return (
        field in _LISTING_TEXT
        or field == "searchKeywords"
        or (field in ("screenshots",) and last == "caption")
        or (field in ("usefulLinks", "videos") and last == "name")
    )


def _placeholder_in(text: str) -> str:
    for match in _PLACEHOLDER.finditer(text):
        word = match.group(0)
        if word.upper() in _CASE_SENSITIVE and word != word.upper():
            continue
        return word
    return ""


def _legal(spec: Mapping[str, Any]) -> Iterator[Finding]:
    props = spec.get("properties")
    legal = props.get("legal") if isinstance(props, Mapping) else None
    privacy = legal.get("privacyPolicyUrl") if isinstance(legal, Mapping) else None
    if not _text(privacy):
        yield _cert(
            "PrivacyPolicyMissing",
            "a privacy policy URL is required",
            "$.spec.properties.legal.privacyPolicyUrl",
        )


def _help_links(spec: Mapping[str, Any]) -> Iterator[Finding]:
    for lang, listing in _listings(spec):
        contacts = listing.get("contacts")
        support = contacts.get("support") if isinstance(contacts, Mapping) else None
        support_url = support.get("url") if isinstance(support, Mapping) else None
        help_link = listing.get("helpLink")
        if _text(help_link) and _text(support_url) and _same_url(help_link, support_url):
            yield _cert(
                "HelpLinkSameAsSupport",
                "the help link must differ from the support contact's URL",
                _path("spec", "listings", lang, "helpLink"),
            )


def _same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


# --- helpers ------------------------------------------------------------------------------


def _strings(
    value: Any, path: tuple[str | int, ...], depth: int = 0
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string leaf with its path; depth-bounded so a hostile spec cannot recurse forever."""
    if depth > 64:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i), depth + 1)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _path(*parts: str | int) -> str:
    """A JSON path: `$.spec.listings.en-us.usefulLinks[0].url`; odd keys in brackets."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


def _text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def _validation(code: str, message: str, path: str) -> Finding:
    return Finding(code=code, message=message, path=path, stage=Stage.VALIDATION.value)


def _cert(code: str, message: str, path: str) -> Finding:
    return Finding(code=code, message=message, path=path, stage=Stage.CERTIFICATION.value)


def _listings(spec: Mapping[str, Any]) -> Iterator[tuple[Any, Mapping[str, Any]]]:
    """Each (language, listing) of the spec that is a mapping; nothing when there are none."""
    listings = spec.get("listings")
    if not isinstance(listings, Mapping):
        return
    for lang, listing in listings.items():
        if isinstance(listing, Mapping):
            yield lang, listing
