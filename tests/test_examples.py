"""Every offer shipped under offers/ validates without errors, through the library and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.cli import main
from controller.validation.engine import discover_offers, validate_offer
from controller.validation.files import WorktreeFiles

REPO = Path(__file__).resolve().parent.parent
SHIPPED = discover_offers(WorktreeFiles(REPO))


def test_the_project_ships_example_offers() -> None:
    assert len(SHIPPED) >= 3


@pytest.mark.parametrize("offer_dir", SHIPPED)
def test_shipped_offer_validates_without_errors(offer_dir: str) -> None:
    result = validate_offer(offer_dir, WorktreeFiles(REPO))
    assert result.errors == (), [f"{f.line}: {f.message}" for f in result.errors]
    assert result.manifest is not None
    assert result.manifest["metadata"]["name"] == offer_dir.rsplit("/", 1)[-1]
    assert result.referenced_files  # logos, screenshots and the package were all read


def test_offerctl_validate_exits_0_on_the_shipped_offers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["validate"]) == 0
    assert "valid" in capsys.readouterr().out
