"""Builders shared by the marketplace tests: a clean offer payload, zips, a steppable clock."""

from __future__ import annotations

import copy
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from appsource_helpers import appsource_package, make_zip, png

from controller.marketplace.api import OfferPayload
from controller.marketplace.certify import EICAR

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PACKAGE = "package/app.zip"


class StepClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def clean_package() -> bytes:
    """A well-formed AppSource package: precheck and certification find nothing in it."""
    return appsource_package()


def eicar_package(*, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A well-formed package that also carries the EICAR test file as a member."""
    return appsource_package(extra={"tests/selftest.txt": EICAR}, compression=compression)


__all__ = ["make_zip"]


CLEAN_SPEC: dict[str, Any] = {
    "type": "dynamics-365-customer-engagement",
    "target": "live",
    "offerSetup": {"alias": "Contoso App", "customerLeads": {"leadDestination": "none"}},
    "properties": {
        "categories": ["sales"],
        "legal": {
            "privacyPolicyUrl": "https://contoso.example/privacy",
            "useStandardContract": True,
        },
    },
    "listings": {
        "en-us": {
            "name": "Contoso App",
            "searchResultsSummary": "Sales insights for Dynamics 365.",
            "description": '<p>See <a href="https://contoso.example/docs">the docs</a>.</p>',
            "gettingStartedInstructions": "Install the solution, then open the app.",
            "searchKeywords": ["sales", "insights"],
            "usefulLinks": [{"name": "Docs", "url": "https://contoso.example/docs"}],
            "helpLink": "https://contoso.example/help",
            "contacts": {
                "support": {
                    "name": "Support",
                    "email": "support@contoso.example",
                    "phone": "+1 425 555 0100",
                    "url": "https://contoso.example/support",
                },
                "engineering": {
                    "name": "Eng",
                    "email": "eng@contoso.example",
                    "phone": "+1 425 555 0101",
                },
            },
            "logos": {"large": "media/logo-216.png"},
            "screenshots": [{"path": "media/screen-1.png", "caption": "The dashboard"}],
        }
    },
    "availability": {"markets": ["US"], "pricing": {"model": "free"}},
    "technicalConfiguration": {
        "packageFile": PACKAGE,
        "packageLocationUrl": "https://contoso.blob.core.windows.net/packages/app.zip",
        "packageVersion": "1.0.0.0",
        "regions": ["NorthAmerica"],
        "baseLicenseModel": "user",
    },
}


def spec(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A deep copy of the clean spec; `changes` maps dotted paths to new values (None deletes)."""
    out = copy.deepcopy(CLEAN_SPEC)
    for dotted, value in (changes or {}).items():
        parts = dotted.split(".")
        node: Any = out
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[parts[-1]]
        else:
            node[parts[-1]] = value
    return out


def payload(spec_: dict[str, Any] | None = None, package: bytes | None = None) -> OfferPayload:
    files = {
        PACKAGE: clean_package() if package is None else package,
        "media/logo-216.png": png(216, 216),
        "media/screen-1.png": png(1280, 720),
    }
    return OfferPayload(spec=CLEAN_SPEC if spec_ is None else spec_, files=files)
