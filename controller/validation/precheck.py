"""Precheck: the certification rules that can be checked before submission, in one place.

`offerctl validate` and the simulated marketplace's Certification stage both
call `precheck`, so the gate and the marketplace can never disagree about
them. Pure: a spec (the manifest's `spec` mapping) and the bytes of the files
it refers to go in; `Issue`s with JSON paths from the manifest root come out.
No I/O, no clock.

Rules: a virus scan of every file (the EICAR test signature, in raw bytes, in
zip members at any nesting depth and in members hidden from the central
directory, with caps against bombs); the AppSource package structure (see
`appsource`); PNG sizes from the header against the slot's required size;
links that are not https anywhere in the text, HTML included; placeholder text
(lorem ipsum, TODO, TBD, "coming soon", ...) anywhere in listing text and
captions; a missing privacy policy; a help link equal to the support link.

An `ERROR` is something certification rejects; a `WARNING` is a risk it may
flag (`validate --strict` makes warnings errors). A finding inside a package
sits on the manifest line that names the package and names the member in its
message.
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from controller.core import digests
from controller.core.model import Severity
from controller.files.yamlio import show_text
from controller.validation.appsource import check_package
from controller.validation.issues import Issue, Path
from controller.validation.png import NotPngError, png_size
from controller.validation.scanmemo import memo_list
from controller.validation.semantic import AssetRef, asset_refs
from controller.validation.strings import NOT_TEXT, Strings, walk_strings
from controller.validation.zipscan import DEFAULT_LIMITS, ScanLimits, ScanProblem, scan_bytes

PACKAGE_PATH: Path = ("spec", "technicalConfiguration", "packageFile")

_PLACEHOLDER = re.compile(
    r"lorem\s+ipsum|\b(?:TODO|TBD|FIXME|XXX)\b|\bplaceholder\b|\bcoming\s+soon\b"
    r"|\[insert[^\]]*\]",
    re.IGNORECASE,
)
# A cheap pre-test: every placeholder contains one of these, in lower case.
_MARKERS = ("lorem", "todo", "tbd", "fixme", "xxx", "placeholder", "coming", "[insert")
# Uppercase-only markers: "todo" in prose ("a to-do app") is not a placeholder.
_CASE_SENSITIVE = frozenset({"TODO", "TBD", "FIXME", "XXX"})
_USERINFO = re.compile(r"://[^/@]*@")
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://[^\s\"'<>]+")


def precheck(
    spec: Mapping[str, Any],
    files: Mapping[str, bytes],
    limits: ScanLimits = DEFAULT_LIMITS,
    *,
    strings: Strings | None = None,
    refs: list[AssetRef] | None = None,
) -> list[Issue]:
    """Every precheck finding for `spec` and the files it refers to (offer-relative paths).

    A caller that has walked the manifest holding `spec` already passes what it
    found: `strings` (`Strings.of(manifest)`) and `refs` (`asset_refs(manifest)`);
    without them precheck works them out from `spec`, with the same findings.
    """
    question = _question(spec, files)
    if question is None:  # not plain data: asked afresh each time
        return _precheck(spec, files, limits, strings, refs)
    return memo_list(
        "precheck",
        question,
        (limits,),
        partial(_precheck, spec, files, limits, strings, refs),
        shared=False,
    )


def _question(spec: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes | None:
    """Everything precheck reads, as bytes that differ whenever its answer could: the key
    of the answer kept in `scanmemo`, so the simulated marketplace's certification of a
    payload the reconciler has just validated is not worked out twice.

    The spec is marshalled: version 2 (no back-references, so equal data gives equal
    bytes whatever objects it shares) writes exact built-in types, every dict's order
    included, and raises for anything else (a subclass, a Mapping that is no dict, a
    date: then there is no question and no memo). It writes a bytes-like object as bytes
    of the same content; precheck reads no bytes in a spec. The files are named with the
    SHA-256 of their bytes, in their order (`scanmemo` keys scans so too; a bytes object
    is hashed once: `core.digests`). `strings` and `refs` are not in the question: they
    are what `spec` gives (see `precheck`), so they change how the answer is found, not
    what it is.
    """
    if type(files) is not dict:
        return None
    try:
        named = [(name, digests.sha256(data)) for name, data in files.items()]
        asked: Any = (spec, named)  # any object: marshal raises for what it cannot write
        return marshal.dumps(asked, 2)
    except (ValueError, TypeError):  # unmarshallable, nested too deep, a file not bytes
        return None


def _precheck(
    spec: Mapping[str, Any],
    files: Mapping[str, bytes],
    limits: ScanLimits,
    strings: Strings | None,
    refs: list[AssetRef] | None,
) -> list[Issue]:
    if strings is None:
        strings = Strings.of_spec(spec)
    try:
        issues = file_issues(spec, files, limits, refs)
    except Exception as exc:  # hostile bytes must never stop the other offers
        issues = [
            Issue(
                "PackageUnscannable",
                f"the offer's files could not be checked ({type(exc).__name__}); "
                "certification rejects what it cannot scan",
                PACKAGE_PATH,
            )
        ]
    issues += insecure_links(spec, strings)
    issues += placeholders(spec, strings)
    issues += privacy_policy(spec)
    issues += help_links(spec)
    return issues


def file_issues(
    spec: Mapping[str, Any],
    files: Mapping[str, bytes],
    limits: ScanLimits = DEFAULT_LIMITS,
    refs: list[AssetRef] | None = None,
) -> list[Issue]:
    """`check_files`, its answer kept in `scanmemo` by what it reads (`_files_question`).

    Offers made from one template, and copies, name the same files in the same slots
    while their texts differ: their specs are other questions for precheck, but the
    files' findings are worked out once (a scan memo hit per file and a PNG header
    per slot cost more than asking once)."""
    if refs is None:
        refs = asset_refs({"spec": spec}) if isinstance(spec, dict) else []
    question = _files_question(refs, files)
    compute = partial(check_files, spec, files, limits, refs)
    if question is None:
        return list(compute())
    return memo_list("files", question, (limits,), lambda: list(compute()), shared=False)


def _files_question(refs: list[AssetRef], files: Mapping[str, bytes]) -> bytes | None:
    """All `check_files` reads, given `refs`: each ref's fields and each file's name and
    SHA-256, marshalled (exact types, in order: see `_question`); None when marshal
    cannot write them (then there is no memo)."""
    if type(files) is not dict:
        return None
    try:
        asked: Any = (
            [(ref.path, ref.file, ref.what, ref.png_size) for ref in refs],
            [(name, digests.sha256(data)) for name, data in files.items()],
        )
        return marshal.dumps(asked, 2)
    except (ValueError, TypeError):  # not built-in data, a file not bytes
        return None


def check_files(
    spec: Mapping[str, Any],
    files: Mapping[str, bytes],
    limits: ScanLimits = DEFAULT_LIMITS,
    refs: list[AssetRef] | None = None,
) -> Iterator[Issue]:
    """The virus scan of every file, the package's structure and every image's PNG size.

    `refs` is `asset_refs` of the manifest holding `spec`, when the caller has it."""
    if refs is None:
        refs = asset_refs({"spec": spec}) if isinstance(spec, dict) else []
    by_file: dict[str, AssetRef] = {}
    for ref in refs:
        by_file.setdefault(ref.file, ref)
    package = next((ref.file for ref in refs if ref.path == PACKAGE_PATH), None)
    for name in sorted(files):
        data = files[name]
        named = by_file.get(name)
        path: Path = named.path if named is not None else ("spec",)
        # Identical bytes (shared packages, a settle pass) are scanned once (`scanmemo`).
        problems = memo_list("scan", data, (name, limits), partial(scan_bytes, name, data, limits))
        if name == package:
            structure = memo_list("package", data, (limits,), partial(check_package, data, limits))
            problems += [_in(name, p) for p in structure]
        yield from (_issue(p, path) for p in problems)
    for ref in refs:
        image = files.get(ref.file)
        if ref.png_size is not None and image is not None:
            yield from _png(ref, image)


def _in(package: str, problem: ScanProblem) -> ScanProblem:
    """Prefix a structure problem with the package's name, as scan problems are."""
    return ScanProblem(problem.code, f"{package}: {problem.message}", problem.warning)


def _issue(problem: ScanProblem, path: Path) -> Issue:
    severity = Severity.WARNING if problem.warning else Severity.ERROR
    return Issue(problem.code, problem.message, path, severity)


def _png(ref: AssetRef, data: bytes) -> Iterator[Issue]:
    try:
        size = png_size(data)
    except NotPngError as exc:
        shown = show_text(ref.file)
        yield Issue("NotPng", f"{ref.what} {shown} is not a PNG image: {exc}", ref.path)
        return
    if ref.png_size is not None and size != ref.png_size:
        want = "x".join(map(str, ref.png_size))
        yield Issue(
            "PngSize",
            f"{ref.what} {show_text(ref.file)} is {size[0]}x{size[1]} pixels; it must be {want}",
            ref.path,
        )


def insecure_links(spec: Mapping[str, Any], strings: Strings | None = None) -> Iterator[Issue]:
    """Links whose scheme is not https, in any string of the spec (HTML text included).

    `strings` is the walk of the manifest holding `spec` (or `Strings.of_spec(spec)`)."""
    if strings is None:
        strings = Strings.of_spec(spec)
    # `links` holds no secret: validation reports one as InlineSecret, never echoed.
    for path, text in strings.links:
        if text.startswith("https://") and text.count("://") == 1:
            continue  # the common link: its one match (if any) is https
        bad = [m for m in _URL.finditer(text) if m.group(1).lower() != "https"]
        if bad:
            # Echo no query string and no user:password@ (either may carry a secret).
            link = _USERINFO.sub("://", bad[0].group(0).split("?", 1)[0].split("#", 1)[0])
            scheme = bad[0].group(1).lower()
            yield Issue(
                "InsecureLink",
                f"link {show_text(link)} uses {scheme}://; use https://",
                path,
            )


def placeholders(spec: Mapping[str, Any], strings: Strings | None = None) -> Iterator[Issue]:
    """Placeholder text anywhere in a listing's text: names, descriptions, captions, keywords.

    `strings` is the walk of the manifest holding `spec` (or `Strings.of_spec(spec)`)."""
    listings = spec.get("listings")
    if not isinstance(listings, Mapping):
        return
    if strings is None:
        strings = Strings.of_spec(spec)
    walked = strings.texts if isinstance(spec, dict) and isinstance(listings, dict) else {}
    found: list[list[tuple[Path, str]]] = []
    for lang, listing in listings.items():
        texts = walked.get(lang) if isinstance(lang, str) else None
        if texts is None:  # not in the walk (a key that is not text, a mapping that is no dict)
            texts = [
                (("spec", "listings", lang, *path), text)
                for path, _, text in walk_strings(listing, skip=NOT_TEXT)
            ]
        found.append(texts)
    # One pre-test over every text at once: lowering is per character and no marker holds
    # the NUL joining them, so it finds a marker exactly when some text's own test would.
    if not _has_marker("\0".join(text for texts in found for _, text in texts)):
        return
    for texts in found:
        for path, text in texts:
            word = placeholder_in(text)
            if word:
                yield Issue(
                    "PlaceholderText",
                    f"listing text still contains placeholder text ({show_text(word)}); "
                    "certification rejects it",
                    path,
                )


def _has_marker(text: str) -> bool:
    """The pre-test: whether `text`, lowered, holds any of `_MARKERS`.

    A substring test per marker, not one regex alternation: `in` skips through a
    listing's long description several times faster than the regex steps through it."""
    lowered = text.lower()
    for marker in _MARKERS:  # noqa: SIM110 - a loop: any() would make a generator per call
        if marker in lowered:
            return True
    return False


def placeholder_in(text: str) -> str:
    """The first placeholder marker in `text`, or ""."""
    if not _has_marker(text):
        return ""  # the common case, without running the regex
    for match in _PLACEHOLDER.finditer(text):
        word = match.group(0)
        if word.upper() in _CASE_SENSITIVE and word != word.upper():
            continue
        return word
    return ""


def privacy_policy(spec: Mapping[str, Any]) -> Iterator[Issue]:
    legal = _get(spec, "properties", "legal")
    privacy = legal.get("privacyPolicyUrl") if isinstance(legal, Mapping) else None
    if not (isinstance(privacy, str) and privacy.strip()):
        yield Issue(
            "PrivacyPolicyMissing",
            "a privacy policy URL is required",
            ("spec", "properties", "legal", "privacyPolicyUrl"),
        )


def help_links(spec: Mapping[str, Any]) -> Iterator[Issue]:
    listings = spec.get("listings")
    if not isinstance(listings, Mapping):
        return
    for lang, listing in listings.items():
        help_link = _get(listing, "helpLink")
        support = _get(listing, "contacts", "support", "url")
        if isinstance(help_link, str) and isinstance(support, str) and _same(help_link, support):
            yield Issue(
                "HelpLinkSameAsSupport",
                "helpLink must differ from contacts.support.url",
                ("spec", "listings", lang, "helpLink"),
            )


def _same(a: str, b: str) -> bool:
    return bool(a.strip()) and a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
