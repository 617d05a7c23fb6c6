"""`offerctl validate`: exit codes, output formats and PATH handling, through cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cases import sub
from offer_helpers import OFFER_ID, WriteOffer

from controller.cli import main

MANIFEST = f"offers/{OFFER_ID}/offer.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_repository_exits_0(
    write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_offer()
    assert run(capsys, "--repo", str(root)) == (0, "1 offer valid\n", "")


def test_invalid_offer_exits_1_with_file_line_col_lines(
    write_offer: WriteOffer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_offer(sub("[US, CA, MX]", "[US, CA, XZ]"))
    monkeypatch.chdir(root)
    code, out, _ = run(capsys)
    assert code == 1
    assert out.splitlines() == [
        f"{MANIFEST}:48:23: error: 'XZ' is not an ISO 3166-1 alpha-2 country code"
        " (at $.spec.availability.markets[2])",
        "1 of 1 offer invalid: 1 error, 0 warnings",
    ]


@pytest.mark.parametrize("form", ["file", "folder", "offers"])
def test_paths_may_be_a_manifest_an_offer_folder_or_the_offers_folder(
    write_offer: WriteOffer, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    root = write_offer(sub("helpLink: https://", "helpLink: http://"))
    path = {
        "file": root / MANIFEST,
        "folder": root / "offers" / OFFER_ID,
        "offers": root / "offers",
    }[form]
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert "InsecureLink" not in out  # codes are for machines; text shows the message
    assert "uses http://; use https://" in out


def test_json_output_for_machines(
    write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_offer(sub("  target: draft\n", ""))
    code, out, _ = run(capsys, "--repo", str(root), "-o", "json")
    assert code == 1
    document = json.loads(out)
    assert document["valid"] is False
    [offer] = document["offers"]
    assert offer["offer"] == OFFER_ID
    assert offer["findings"][0] == {
        "file": str(root / MANIFEST),
        "line": 5,
        "column": 1,
        "severity": "error",
        "code": "SchemaRequired",
        "message": "missing required property 'target'",
        "path": "$.spec",
    }


def test_github_annotations(write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_offer(sub("[US, CA, MX]", "[US, CA, XZ]"))
    code, out, _ = run(capsys, "--repo", str(root), "--format", "github")
    assert code == 1
    assert out.splitlines()[0] == (
        f"::error file={MANIFEST},line=48,col=23,title=UnknownMarket::"
        "'XZ' is not an ISO 3166-1 alpha-2 country code (at $.spec.availability.markets[2])"
    )


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope"))
    assert code == 2
    assert err == f"offerctl: error: {tmp_path / 'nope'}: no such file or directory\n"


def test_repo_without_offers_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--repo", str(tmp_path))
    assert code == 2
    assert "no offers/ folder" in err


def test_bad_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-o", "xml")[0] == 2


def test_hostile_file_gives_one_line_and_no_traceback(
    write_offer: WriteOffer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_offer(b"[" * 500_000)
    code, out, err = run(capsys, "--repo", str(root))
    assert code == 1
    assert "Traceback" not in out + err
    assert out.splitlines()[0].endswith("error: nesting is deeper than 64 levels (at $)")
