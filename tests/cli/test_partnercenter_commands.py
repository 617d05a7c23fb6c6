"""`offerctl import` and `offerctl diff` against the Partner Center emulator, as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pc_helpers import TOKEN, Emulator, client, emulator, file_server

from controller.core.model import Target
from controller.marketplace.api import OfferPayload

pytestmark = pytest.mark.slow(budget=60)

ROOT = Path(__file__).resolve().parents[2]
OFFER = "fabrikam-case-triage"
LEADS_KEY = "leads-key-for-the-test"


def shipped(offer: str, package_url: str) -> OfferPayload:
    folder = ROOT / "offers" / offer
    spec = yaml.safe_load((folder / "offer.yaml").read_text(encoding="utf-8"))["spec"]
    spec["technicalConfiguration"]["packageLocationUrl"] = package_url
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
             if p.is_file() and p.name not in ("status.yaml", "signoff.yaml")}  # fmt: skip
    return OfferPayload(spec=spec, files=files)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The shipped fabrikam offer, made and submitted in Partner Center (not by offerctl)."""
    package = next((ROOT / "offers" / OFFER / "package").glob("*.zip")).read_bytes()
    where = tmp_path_factory.mktemp("pc-portal")
    with emulator(where) as emu, file_server({"p.zip": package}) as files:
        pc = client(emu, where, env={"FABRIKAM_LEADS_APP_KEY": LEADS_KEY},
                    state="portal.json")  # fmt: skip
        pc.submit(OFFER, "sha256:p", Target.PREVIEW, shipped(OFFER, f"{files}/p.zip"), "portal")
        pc.close()
        yield emu


@pytest.fixture
def published(portal: Emulator, tmp_path: Path) -> tuple[Emulator, Path]:
    """The portal's emulator and an empty git repository to import into."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return portal, repo


def offerctl(emu: Emulator, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OFFERCTL_PARTNERCENTER_TOKEN=TOKEN,
               OFFERCTL_PARTNERCENTER_STATE=str(repo.parent / "cli-state.json"))  # fmt: skip
    env.pop("OFFERCTL_MARKETPLACE", None)
    return subprocess.run(
        [sys.executable, "-m", "controller", *args, "--repo", str(repo),
         "--marketplace", f"partnercenter+{emu.url}"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_import_then_validate_then_diff_round_trips(published: tuple[Emulator, Path]) -> None:
    emu, repo = published
    imported = offerctl(emu, repo, "import", OFFER)
    assert imported.returncode == 0, imported.stderr
    folder = repo / "offers" / OFFER
    doc = yaml.safe_load((folder / "offer.yaml").read_text(encoding="utf-8"))
    assert doc["metadata"]["name"] == OFFER and doc["spec"]["target"] == "draft"
    assert (folder / doc["spec"]["technicalConfiguration"]["packageFile"]).is_file()
    logos = doc["spec"]["listings"]["en-us"]["logos"]
    assert all((folder / path).is_file() for path in logos.values())
    assert TOKEN not in imported.stdout + imported.stderr
    validated = subprocess.run([sys.executable, "-m", "controller", "validate",
                                str(folder / "offer.yaml")], cwd=repo, capture_output=True,
                               text=True, check=False)  # fmt: skip
    assert validated.returncode == 0, validated.stdout + validated.stderr
    same = offerctl(emu, repo, "diff", OFFER)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "agree" in same.stdout
    assert offerctl(emu, repo, "import", OFFER).returncode == 1  # never overwrites by default


def test_diff_names_each_differing_field(published: tuple[Emulator, Path]) -> None:
    emu, repo = published
    assert offerctl(emu, repo, "import", OFFER).returncode == 0
    manifest = repo / "offers" / OFFER / "offer.yaml"
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    doc["spec"]["properties"]["appVersion"] = "7.0"
    doc["spec"]["listings"]["en-us"]["name"] = "Renamed"
    manifest.write_text(yaml.safe_dump(doc), encoding="utf-8")
    changed = offerctl(emu, repo, "diff", OFFER, "-o", "json")
    assert changed.returncode == 1, changed.stderr
    report = yaml.safe_load(changed.stdout)["differences"]["draft"]
    fields = {row["field"]: row for row in report}
    assert fields["Property.appVersion"]["manifest"] == "7.0"
    assert fields["Listing.en-us.title"]["marketplace"] != "Renamed"
    assert offerctl(emu, repo, "diff", OFFER, "--against", "live").stdout.startswith(
        f"{OFFER}: no live"
    )


def test_import_then_validate_then_plan_has_nothing_to_submit(
    published: tuple[Emulator, Path],
) -> None:
    emu, repo = published
    assert offerctl(emu, repo, "import", OFFER).returncode == 0
    folder = repo / "offers" / OFFER
    validated = subprocess.run([sys.executable, "-m", "controller", "validate",
                                str(folder / "offer.yaml")], cwd=repo, capture_output=True,
                               text=True, check=False)  # fmt: skip
    assert validated.returncode == 0, validated.stdout + validated.stderr
    for args in (["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.test",
                                 "commit", "-qm", "import"]):  # fmt: skip
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    planned = offerctl(emu, repo, "plan", "--detailed-exitcode", "-o", "json")
    # Exit 2: the first pass would record the offer's status.yaml; that is its only change.
    assert planned.returncode == 2, planned.stdout + planned.stderr
    (offer,) = json.loads(planned.stdout)["offers"]
    assert offer["offer"] == OFFER and offer["to"] == "Draft", offer
    assert offer["actions"] == [], offer  # nothing to submit, cancel, promote or withdraw
    assert offer["writesStatus"] is True
