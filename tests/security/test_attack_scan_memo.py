"""One offer's package scan is never answered with another offer's.

`controller.validation.scanmemo` keeps scan answers for the life of the
process, keyed by the bytes' SHA-256 and length, the file's name and the scan
limits. A pull request controls all of these but the digest: here it adds an
offer whose file has the same name and the same length as a clean offer's, but
carries the EICAR signature, and one whose infected file is byte for byte
another offer's under another name. Every pass runs the real reconciler
(`build_reconciler`) against the simulated marketplace, both offers in one
process, in both orders, so whichever is scanned first fills the memo.
"""

from __future__ import annotations

import gc
import io
import json
import re
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pycountry
import pytest
import yaml
from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock

from controller.core import pipeline
from controller.core.model import Finding, Severity
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Watch, build_reconciler
from controller.validation import scanmemo, zipscan
from controller.validation.precheck import precheck
from controller.validation.zipscan import EICAR

LOGO = "media/logo-48.png"
STATUS_SCHEMA = jsonschema.Draft202012Validator(
    json.loads((Path(__file__).resolve().parents[2] / "schemas/status.schema.json").read_text())
)


def _reconcile(gitrepos: GitRepos, tmp_path: Path, files: dict[str, bytes]) -> Path:
    repo = gitrepos.init("offers-repo", files)
    market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=Clock())
    try:
        with GitRepo(repo) as handle:
            build_reconciler(handle, market, Watch(), clock=Clock()).run_pass(full=True)
    finally:
        market.close()
    return repo


def _status(repo: Path, offer: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(git(repo, "show", f"HEAD:offers/{offer}/status.yaml"))
    return data


def _infected(data: bytes) -> bytes:
    """`data` with its last bytes overwritten by the EICAR string: same length, same header."""
    return data[: -len(EICAR)] + EICAR


@pytest.fixture(autouse=True)
def _cold_memo() -> None:
    scanmemo.clear()  # what an earlier test scanned must not answer for this one


@pytest.mark.parametrize(
    ("clean", "infected"),
    [("alpha-offer", "beta-offer"), ("beta-offer", "alpha-offer")],
    ids=["clean-scanned-first", "infected-scanned-first"],
)
def test_same_name_and_length_other_bytes_get_their_own_scan(
    gitrepos: GitRepos, tmp_path: Path, clean: str, infected: str
) -> None:
    files = {**offer_files(clean, "draft"), **offer_files(infected, "draft")}
    logo = f"offers/{infected}/{LOGO}"
    files[logo] = _infected(files[logo])
    assert len(files[logo]) == len(files[f"offers/{clean}/{LOGO}"])

    repo = _reconcile(gitrepos, tmp_path, files)

    bad = _status(repo, infected)
    assert bad["phase"] == "Invalid", bad
    assert any(f["code"] == "VirusFound" for f in bad["feedback"]), bad["feedback"]
    good = _status(repo, clean)
    assert good["phase"] == "Draft", good.get("feedback")


def test_the_same_infected_bytes_under_another_name_name_their_own_file(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    files = {**offer_files("alpha-offer", "draft"), **offer_files("beta-offer", "draft")}
    infected = _infected(files[f"offers/alpha-offer/{LOGO}"])
    files[f"offers/alpha-offer/{LOGO}"] = infected
    files["offers/beta-offer/media/logo-216.png"] = infected  # beta's large logo slot

    repo = _reconcile(gitrepos, tmp_path, files)

    for offer, name in (("alpha-offer", LOGO), ("beta-offer", "media/logo-216.png")):
        found = [f for f in _status(repo, offer)["feedback"] if f["code"] == "VirusFound"]
        assert found, offer
        assert all(f["message"].startswith(f"{name}:") for f in found), (offer, found)


def _loud_package(name_bytes: int, salt: int) -> bytes:
    """A small package whose scan says a lot: 200 infected members in a folder with a long
    name; every finding repeats the name. `salt` makes the bytes (the memo's key) differ."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(200):
            archive.writestr(f"m{n}", EICAR)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{salt}{'a' * name_bytes}.zip", inner.getvalue())
    return outer.getvalue()


def _retained_by_scanning(packages: list[bytes]) -> int:
    """Bytes still allocated after precheck scanned each package once (and let go of it)."""
    spec = {"technicalConfiguration": {"packageFile": "package/p.zip"}}
    gc.collect()
    tracemalloc.start()
    try:
        for data in packages:
            issues = precheck(spec, {"package/p.zip": data})
            assert any(i.code == "VirusFound" for i in issues)
            del issues
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_answers_a_package_makes_huge_are_not_kept() -> None:
    # Each package is ~60 KB; its answer is ~10 MB of messages.
    packages = [_loud_package(50_000, salt) for salt in range(4)]
    retained = _retained_by_scanning(packages)
    assert retained < 8 * 1024 * 1024, f"the memo kept {retained / 2**20:.0f} MiB"


def test_the_answers_kept_are_bounded_in_bytes_not_only_in_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scanmemo, "MAX_WEIGHT", 4 * 1024 * 1024, raising=False)
    # Each answer is ~0.9 MB: under the one-answer cap, kept until the total is reached.
    packages = [_loud_package(4_500, salt) for salt in range(10)]
    retained = _retained_by_scanning(packages)
    assert retained < 6 * 1024 * 1024, f"the memo kept {retained / 2**20:.0f} MiB"


def test_a_small_package_does_not_make_a_huge_status_file(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    files = offer_files("victim-offer", "draft")
    files["offers/victim-offer/package/fabrikam-case-triage.zip"] = _loud_package(5_000, 0)
    package = len(files["offers/victim-offer/package/fabrikam-case-triage.zip"])

    repo = _reconcile(gitrepos, tmp_path, files)

    status = git(repo, "show", "HEAD:offers/victim-offer/status.yaml")
    assert "VirusFound" in status
    # 40 KB of package gives 1 MB of status (200 findings, each with the 5 KB name); with
    # 1,990 members in a folder with a 20 KB name, 220 KB gave a 40 MB status.yaml.
    assert len(status) < 64 * 1024, f"a {package:,} byte package wrote {len(status):,} bytes"
    data = yaml.safe_load(status)
    STATUS_SCHEMA.validate(data)
    codes = [f["code"] for f in data["feedback"]]
    assert codes.count("VirusFound") == zipscan.MAX_PROBLEMS, codes
    assert "PackageMoreProblems" in codes  # the rest are counted, not dropped silently


def test_a_package_and_a_manifest_that_each_say_a_lot_still_make_a_bounded_status(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    files = offer_files("victim-offer", "draft")
    files["offers/victim-offer/package/fabrikam-case-triage.zip"] = _loud_package(5_000, 0)
    # 200 well-formed market codes that are no country: one UnknownMarket finding each.
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    known = {country.alpha_2 for country in pycountry.countries}
    markets = [a + b for a in letters for b in letters if a + b not in known][:200]
    manifest = files["offers/victim-offer/offer.yaml"].decode()
    manifest = re.sub(r"markets: \[[^]]*\]", f"markets: [{', '.join(markets)}]", manifest)
    files["offers/victim-offer/offer.yaml"] = manifest.encode()

    repo = _reconcile(gitrepos, tmp_path, files)

    status = git(repo, "show", "HEAD:offers/victim-offer/status.yaml")
    assert len(status) < 64 * 1024, f"{len(status):,} bytes of status"
    data = yaml.safe_load(status)
    STATUS_SCHEMA.validate(data)
    assert data["phase"] == "Invalid"
    feedback = data["feedback"]
    assert len(feedback) == pipeline.MAX_FEEDBACK + 1, len(feedback)
    last = feedback[-1]
    assert last["code"] == pipeline.FEEDBACK_OMITTED, last
    assert last["severity"] == "error"
    assert "more findings" in last["message"]


def test_status_keeps_every_error_when_warnings_overflow_it() -> None:
    warnings = [Finding("W", f"w{n}", severity=Severity.WARNING) for n in range(150)]
    errors = [Finding("E", f"e{n}") for n in range(10)]
    shown = pipeline.shown_feedback((*warnings, *errors))
    assert [f.message for f in shown[:-1]] == [
        *(f"w{n}" for n in range(90)),
        *(f"e{n}" for n in range(10)),
    ]
    assert shown[-1].code == pipeline.FEEDBACK_OMITTED
    assert shown[-1].severity is Severity.WARNING  # only warnings were left out
    assert shown[-1].message.startswith("60 more findings (0 of them errors)")


def test_status_cuts_a_finding_of_any_length() -> None:
    long = "x" * 1_000_000
    [shown] = pipeline.shown_feedback((Finding("E", long, path=long, file=long),))
    assert len(shown.message) == len(shown.path) == len(shown.file) == pipeline.FEEDBACK_TEXT_CHARS
    assert shown.message.endswith("…")
