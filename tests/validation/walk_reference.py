"""The validation checks as they were before they shared one walk of a manifest's strings.

Copied unchanged from controller/validation (semantic, precheck, engine) at the
commit before `strings.Strings`: each check walked the document itself. The
property tests in test_shared_strings.py hold the shared-walk code to exactly
these findings (codes, messages, paths, severities, order). Not used by the
product; keep it as it is, it is the reference.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from controller.files.yamlio import show_text
from controller.validation import schemas
from controller.validation.appsource import check_package
from controller.validation.issues import Issue, Path
from controller.validation.precheck import (
    _CASE_SENSITIVE,
    _MARKERS,
    _PLACEHOLDER,
    _URL,
    _USERINFO,
    PACKAGE_PATH,
    _in,
    _issue,
    _png,
    help_links,
    privacy_policy,
)
from controller.validation.scanmemo import memo_list
from controller.validation.schema_errors import schema_issues
from controller.validation.secrets import secret_kind
from controller.validation.semantic import (
    AssetRef,
    asset_refs,
    check_listings,
    check_markets,
    check_offer_id,
)
from controller.validation.strings import NOT_TEXT
from controller.validation.zipscan import DEFAULT_LIMITS, ScanLimits, scan_bytes

_SUPERSEDED = frozenset({"SchemaPattern", "SchemaFormat"})
_SCHEMA_EXPLAINS = frozenset({"PrivacyPolicyMissing"})


def walk_strings(
    document: Any, skip: frozenset[str] = frozenset()
) -> Iterator[tuple[Path, str, str]]:
    stack: list[tuple[Path, str, Any]] = [((), "", document)]
    push, pop = stack.append, stack.pop
    while stack:
        path, key, value = pop()
        if isinstance(value, str):
            yield path, key, value
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and k not in skip:
                    push(((*path, k), k, v))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                push(((*path, i), key, v))


# -- semantic ---------------------------------------------------------------------------


def check_manifest(manifest: dict[str, Any], offer_id: str) -> list[Issue]:
    issues: list[Issue] = []
    issues += check_offer_id(manifest, offer_id)
    issues += check_strings(manifest)
    issues += check_markets(manifest)
    issues += check_listings(manifest)
    return issues


def check_strings(manifest: dict[str, Any]) -> list[Issue]:
    issues = []
    for path, key, value in walk_strings(manifest):
        what = secret_kind(value, key)
        if what:
            field = key or "this value"
            hint = "; use a ...SecretRef field naming an environment variable"
            if key.endswith("SecretRef"):
                hint = "; write the name of the environment variable that holds it"
            if key == "packageLocationUrl":
                hint = (
                    "; drop the query string and name the SAS token's variable in sasTokenSecretRef"
                )
            issues.append(
                Issue("InlineSecret", f"{field} holds {what} (value not shown){hint}", path)
            )
    return issues


def secret_paths(manifest: Any) -> frozenset[Path]:
    return frozenset(path for path, key, value in walk_strings(manifest) if secret_kind(value, key))


# -- precheck ---------------------------------------------------------------------------


def precheck(
    spec: Mapping[str, Any], files: Mapping[str, bytes], limits: ScanLimits = DEFAULT_LIMITS
) -> list[Issue]:
    try:
        issues = list(check_files(spec, files, limits))
    except Exception as exc:
        issues = [
            Issue(
                "PackageUnscannable",
                f"the offer's files could not be checked ({type(exc).__name__}); "
                "certification rejects what it cannot scan",
                PACKAGE_PATH,
            )
        ]
    issues += insecure_links(spec)
    issues += placeholders(spec)
    issues += privacy_policy(spec)
    issues += help_links(spec)
    return issues


def check_files(
    spec: Mapping[str, Any], files: Mapping[str, bytes], limits: ScanLimits = DEFAULT_LIMITS
) -> Iterator[Issue]:
    refs = asset_refs({"spec": spec}) if isinstance(spec, dict) else []
    by_file: dict[str, AssetRef] = {}
    for ref in refs:
        by_file.setdefault(ref.file, ref)
    package = next((ref.file for ref in refs if ref.path == PACKAGE_PATH), None)
    for name in sorted(files):
        data = files[name]
        named = by_file.get(name)
        path: Path = named.path if named is not None else ("spec",)
        problems = memo_list("scan", data, (name, limits), partial(scan_bytes, name, data, limits))
        if name == package:
            structure = memo_list("package", data, (limits,), partial(check_package, data, limits))
            problems += [_in(name, p) for p in structure]
        yield from (_issue(p, path) for p in problems)
    for ref in refs:
        image = files.get(ref.file)
        if ref.png_size is not None and image is not None:
            yield from _png(ref, image)


def insecure_links(spec: Mapping[str, Any]) -> Iterator[Issue]:
    for path, key, text in walk_strings(spec):
        if "://" not in text or secret_kind(text, key):
            continue
        bad = [m for m in _URL.finditer(text) if m.group(1).lower() != "https"]
        if bad:
            link = _USERINFO.sub("://", bad[0].group(0).split("?", 1)[0].split("#", 1)[0])
            scheme = bad[0].group(1).lower()
            yield Issue(
                "InsecureLink",
                f"link {show_text(link)} uses {scheme}://; use https://",
                ("spec", *path),
            )


def placeholders(spec: Mapping[str, Any]) -> Iterator[Issue]:
    listings = spec.get("listings")
    if not isinstance(listings, Mapping):
        return
    for lang, listing in listings.items():
        for path, _, text in walk_strings(listing, skip=NOT_TEXT):
            word = placeholder_in(text)
            if word:
                yield Issue(
                    "PlaceholderText",
                    f"listing text still contains placeholder text ({show_text(word)}); "
                    "certification rejects it",
                    ("spec", "listings", lang, *path),
                )


def placeholder_in(text: str) -> str:
    lowered = text.lower()
    if not any(marker in lowered for marker in _MARKERS):
        return ""
    for match in _PLACEHOLDER.finditer(text):
        word = match.group(0)
        if word.upper() in _CASE_SENSITIVE and word != word.upper():
            continue
        return word
    return ""


# -- engine -----------------------------------------------------------------------------


def manifest_issues(
    manifest: dict[str, Any], offer_id: str, content_issues: list[Issue]
) -> list[Issue]:
    semantic = check_manifest(manifest, offer_id) + content_issues
    if schemas.is_valid("offer")(manifest):
        return semantic
    semantic = [i for i in semantic if i.code not in _SCHEMA_EXPLAINS]
    validator = schemas.validator("offer")
    secrets = secret_paths(manifest)
    found = schema_issues(validator.iter_errors(manifest), validator.schema, secrets)
    semantic_paths = {issue.path for issue in semantic}
    found = [i for i in found if not (i.code in _SUPERSEDED and i.path in semantic_paths)]
    return found + semantic
