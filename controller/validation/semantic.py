"""The checks a JSON Schema cannot express, on a parsed manifest: pure functions, no I/O.

Folder name versus `metadata.name`, ISO 3166 markets, the description's
HTML subset, inline secrets, and which asset files the manifest refers to
(read by `assets`). Links, placeholders and the help link are certification
rules and live in `precheck`, shared with the simulated marketplace. Every
function tolerates a manifest that failed the schema: a value of the wrong
type is skipped here, because the schema already reported it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import pycountry

from controller.files.yamlio import show_text
from controller.repo import layout
from controller.validation import html
from controller.validation.issues import Issue, Path
from controller.validation.strings import Strings

OFFER_ID = layout.OFFER_ID

# Pixel sizes the marketplace requires, per logo slot.
LOGO_SIZES: dict[str, tuple[int, int]] = {
    "large": (216, 216),
    "medium": (90, 90),
    "small": (48, 48),
}
SCREEN_SIZE = (1280, 720)


@dataclass(frozen=True, slots=True)
class AssetRef:
    """A file the manifest names, relative to the offer folder."""

    path: Path  # JSON path of the string naming it
    file: str
    what: str  # for messages: "large logo", "screenshot", ...
    png_size: tuple[int, int] | None  # required PNG size; None for a non-image


def check_manifest(
    manifest: dict[str, Any], offer_id: str, strings: Strings | None = None
) -> list[Issue]:
    """Every semantic problem of one manifest whose folder is `offer_id`.

    `strings` is `Strings.of(manifest)` when the caller has it already (see `strings`)."""
    issues: list[Issue] = []
    issues += check_offer_id(manifest, offer_id)
    issues += check_strings(manifest, strings)
    issues += check_markets(manifest)
    issues += check_listings(manifest)
    return issues


def check_offer_id(manifest: dict[str, Any], offer_id: str) -> list[Issue]:
    issues = []
    if not layout.is_offer_id(offer_id):
        issues.append(
            Issue(
                "InvalidOfferId",
                f"offer folder name {show_text(offer_id)} is not a valid offer id: "
                "use 3-50 lowercase letters, digits and hyphens" + _invisible_note(offer_id),
            )
        )
    metadata = manifest.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if isinstance(name, str) and name != offer_id:
        issues.append(
            Issue(
                "NameMismatch",
                f"metadata.name {show_text(name)} must equal the offer's folder name "
                f"{show_text(offer_id)}" + _invisible_note(name),
                ("metadata", "name"),
            )
        )
    return issues


def _invisible_note(text: str) -> str:
    hidden = [c for c in text if unicodedata.category(c) in ("Cf", "Cc", "Zs") and c != " "]
    if hidden:
        return (
            f" (it contains invisible or bidirectional characters such as U+{ord(hidden[0]):04X})"
        )
    if not text.isascii():
        return " (it contains non-ASCII characters that may look like ASCII ones)"
    return ""


def check_strings(manifest: dict[str, Any], strings: Strings | None = None) -> list[Issue]:
    """Inline secrets, wherever they are (`strings`: the manifest's, when already walked)."""
    issues = []
    walked = Strings.of(manifest) if strings is None else strings
    for path, key, what in walked.all_secrets():
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


def secret_paths(manifest: Any, strings: Strings | None = None) -> frozenset[Path]:
    """JSON paths of string values that look like secrets: never echo them in a message."""
    return (Strings.of(manifest) if strings is None else strings).secret_paths()


_TWO_LETTERS = re.compile(r"[A-Z]{2}")


@functools.cache
def _country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def check_markets(manifest: dict[str, Any]) -> list[Issue]:
    markets = _get(manifest, "spec", "availability", "markets")
    if not isinstance(markets, list):
        return []
    issues = []
    for index, code in enumerate(markets):
        if isinstance(code, str) and _TWO_LETTERS.fullmatch(code) and code not in _country_codes():
            issues.append(
                Issue(
                    "UnknownMarket",
                    f"{show_text(code)} is not an ISO 3166-1 alpha-2 country code",
                    ("spec", "availability", "markets", index),
                )
            )
    return issues


def check_listings(manifest: dict[str, Any]) -> list[Issue]:
    listings = _get(manifest, "spec", "listings")
    if not isinstance(listings, dict):
        return []
    issues = []
    for lang, listing in listings.items():
        if not isinstance(listing, dict):
            continue
        base: Path = ("spec", "listings", lang)
        description = listing.get("description")
        if isinstance(description, str):
            issues += [
                Issue("HtmlTagNotAllowed", problem, (*base, "description"))
                for problem in html.html_problems(description)
            ]
    return issues


def asset_refs(manifest: dict[str, Any]) -> list[AssetRef]:
    """The files a manifest refers to, where it refers to them, and the PNG size each must have."""
    refs: list[AssetRef] = []
    listings = _get(manifest, "spec", "listings")
    for lang, listing in listings.items() if isinstance(listings, dict) else ():
        if not isinstance(listing, dict):
            continue
        base: Path = ("spec", "listings", lang)
        logos = listing.get("logos")
        for slot, size in LOGO_SIZES.items():
            if isinstance(logos, dict) and isinstance(logos.get(slot), str):
                refs.append(AssetRef((*base, "logos", slot), logos[slot], f"{slot} logo", size))
        for field, key, what in (
            ("screenshots", "path", "screenshot"),
            ("videos", "thumbnail", "video thumbnail"),
        ):
            items = listing.get(field)
            for index, item in enumerate(items if isinstance(items, list) else ()):
                if isinstance(item, dict) and isinstance(item.get(key), str):
                    refs.append(AssetRef((*base, field, index, key), item[key], what, SCREEN_SIZE))
    package = _get(manifest, "spec", "technicalConfiguration", "packageFile")
    if isinstance(package, str):
        refs.append(
            AssetRef(("spec", "technicalConfiguration", "packageFile"), package, "package", None)
        )
    return refs


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
