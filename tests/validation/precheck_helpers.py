"""What the precheck memo tests share: a counter of real work, a clean memo, an offer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from example_offers import offer_files

from controller.validation import precheck as precheck_module
from controller.validation import scanmemo
from controller.validation.precheck import precheck

LOGO = "media/logo-48.png"


class Counted:
    """Counts the calls of precheck's function `name`: the times it is really worked out,
    not answered from the memo."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.count = 0
        real: Callable[..., Any] = getattr(precheck_module, name)

        def counting(*args: Any) -> Any:
            self.count += 1
            return real(*args)

        monkeypatch.setattr(precheck_module, name, counting)


def offer() -> tuple[dict[str, Any], dict[str, bytes]]:
    """The example offer's spec and its files by offer-relative path."""
    files = offer_files("alpha-offer")
    spec: dict[str, Any] = yaml.safe_load(files["offers/alpha-offer/offer.yaml"])["spec"]
    assets = {k.split("/", 2)[2]: v for k, v in files.items() if not k.endswith("offer.yaml")}
    return spec, assets


def afresh(spec: Any, files: dict[str, bytes]) -> list[Any]:
    """Precheck's answer with nothing kept."""
    scanmemo.clear()
    return precheck(spec, files)
