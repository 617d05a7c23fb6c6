"""A pull request cannot make an offer reuse a validation verdict its content did not earn.

The verdict cache (`controller.reconcile.reuse`) keeps each offer's verdict with
the answers validation got from the tree (a path's kind, a read file's mode,
blob id and size). Every attack here first lets the real reconciler
(`build_reconciler`, with its cache, against the simulated marketplace) store a
good verdict for an offer, then commits a change meant to keep the old verdict
alive while the content is no longer what was validated: an asset turned into a
symlink or a submodule entry with the very same blob id, a folder renamed or
copied under another id, an asset reached through another spelling of its
path, a pull request planned in the controller's own clone (its verdict lands
in the same store, under the same offer id), a schema file in the repository.
The store itself must stay bounded and survive a crash's truncation. Each pass
must give what validating afresh gives.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from example_offers import offer_files
from git_helpers import GitRepos, git
from market_helpers import Clock
from status_world import offerctl

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile import reuse
from controller.reconcile.reconciler import Watch, build_reconciler
from controller.reconcile.reuse import CACHE_DIR, DB_NAME

OFFER = "victim-offer"
FOLDER = f"offers/{OFFER}"
PACKAGE = f"{FOLDER}/package/fabrikam-case-triage.zip"
LOGO = f"{FOLDER}/media/logo-48.png"


def _png() -> bytes:
    """The example's own small logo: valid bytes to fix a broken one with."""
    return offer_files(OFFER, "draft")[LOGO]


class World:
    """One offers repository reconciled in place by the real reconciler and its cache."""

    def __init__(self, gitrepos: GitRepos, tmp_path: Path, files: dict[str, bytes]) -> None:
        self.gitrepos = gitrepos
        self.repo = gitrepos.init("offers-repo", files)
        self.market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=Clock())
        self.cache = self.repo / ".git" / "offerctl" / CACHE_DIR / DB_NAME

    def reconcile(self) -> None:
        with GitRepo(self.repo) as repo:
            build_reconciler(repo, self.market, Watch(), clock=Clock()).run_pass(full=True)

    def status(self, offer: str = OFFER) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(
            git(self.repo, "show", f"HEAD:offers/{offer}/status.yaml")
        )
        return data

    def codes(self, offer: str = OFFER) -> set[str]:
        return {f["code"] for f in self.status(offer).get("feedback") or ()}

    def commit(self, files: dict[str, bytes | None]) -> None:
        self.gitrepos.commit(self.repo, files, "Pull request")

    def set_entry(self, path: str, mode: str, oid: str) -> None:
        """Commit `path` as a tree entry of `mode` pointing at `oid` (what a PR can push)."""
        git(self.repo, "update-index", "--add", "--cacheinfo", f"{mode},{oid},{path}")
        git(self.repo, "commit", "-q", "-m", f"Make {path} a {mode} entry")

    def oid(self, path: str) -> str:
        return git(self.repo, "rev-parse", f"HEAD:{path}").strip()

    def body(self) -> str:
        with sqlite3.connect(self.cache) as db:
            (body,) = db.execute("SELECT body FROM verdicts WHERE offer = ?", (OFFER,)).fetchone()
        return str(body)

    def rows(self) -> int:
        with sqlite3.connect(self.cache) as db:
            (count,) = db.execute("SELECT count(*) FROM verdicts").fetchone()
        return int(count)


@pytest.fixture
def world(gitrepos: GitRepos, tmp_path: Path) -> Iterator[World]:
    made = World(gitrepos, tmp_path, offer_files(OFFER, "draft"))
    made.reconcile()
    assert made.status()["phase"] == "Draft", made.status()
    assert made.rows() == 1, "the good verdict is stored: the attacks start from a warm cache"
    yield made
    made.market.close()


@pytest.mark.parametrize(
    ("path", "mode", "code"),
    [
        pytest.param(PACKAGE, "120000", "AssetSymlink", id="package-to-symlink"),
        pytest.param(LOGO, "120000", "AssetSymlink", id="logo-to-symlink"),
        pytest.param(PACKAGE, "160000", "AssetNotAFile", id="package-to-submodule"),
    ],
)
def test_an_asset_turned_into_a_link_with_the_same_blob_id_is_validated_again(
    world: World, path: str, mode: str, code: str
) -> None:
    # Same blob id, same size: only the entry's mode says it is no longer a file.
    world.set_entry(path, mode, world.oid(path))
    world.reconcile()
    assert world.status()["phase"] == "Invalid"
    assert code in world.codes()


def test_an_executable_bit_alone_keeps_the_offer_valid(world: World) -> None:
    # A mode change that is still a regular file changes nothing validation says.
    world.set_entry(PACKAGE, "100755", world.oid(PACKAGE))
    world.reconcile()
    assert world.status()["phase"] == "Draft"


def test_a_folder_renamed_does_not_carry_the_old_ids_verdict(world: World) -> None:
    files = offer_files(OFFER, "draft")
    moved = {path.replace(FOLDER, "offers/other-offer", 1): data for path, data in files.items()}
    world.commit({**dict.fromkeys(files), **moved})  # metadata.name still says victim-offer
    world.reconcile()
    other = world.status("other-offer")
    assert other["phase"] == "Invalid", other
    assert world.codes("other-offer"), "the name mismatch is reported, not a reused Draft"


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("../other-offer/media/logo-48.png", id="climbs-out"),
        pytest.param("media/../../other-offer/media/logo-48.png", id="climbs-out-midway"),
        pytest.param("/offers/other-offer/media/logo-48.png", id="absolute"),
    ],
)
def test_an_asset_reached_outside_the_folder_is_refused_after_a_hit(
    world: World, spelling: str
) -> None:
    manifest = f"{FOLDER}/offer.yaml"
    text = offer_files(OFFER, "draft")[manifest].decode()
    world.commit(
        {
            **offer_files("other-offer", "draft"),
            manifest: text.replace("small: media/logo-48.png", f"small: {spelling}").encode(),
        }
    )
    world.reconcile()
    assert world.status()["phase"] == "Invalid"
    assert "AssetOutsideOffer" in world.codes()


def test_an_asset_removed_then_restored_follows_the_tree_both_ways(world: World) -> None:
    data = (world.repo / PACKAGE).read_bytes()
    world.commit({PACKAGE: None})
    world.reconcile()
    assert world.status()["phase"] == "Invalid"
    assert "AssetMissing" in world.codes()
    world.commit({PACKAGE: data})
    world.reconcile()
    assert world.status()["phase"] == "Draft"


def test_the_same_bytes_under_the_asset_name_of_a_bad_file_are_caught(world: World) -> None:
    # The logo's bytes replaced by the package's: same kind, another blob id.
    world.commit({LOGO: (world.repo / PACKAGE).read_bytes()})
    world.reconcile()
    assert world.status()["phase"] == "Invalid"
    assert world.codes() & {"NotPng", "FileTooLarge"}


def test_a_truncated_store_costs_a_validation_never_a_wrong_verdict(world: World) -> None:
    world.commit({LOGO: b"not a png"})
    data = world.cache.read_bytes()
    world.cache.write_bytes(data[: len(data) // 2])  # a crash half-way through a write
    world.reconcile()
    assert world.status()["phase"] == "Invalid"
    assert "NotPng" in world.codes()


def test_many_offer_folders_do_not_grow_the_store_without_bound(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reuse, "MAX_ENTRIES", 3, raising=False)
    files: dict[str, bytes | None] = {}
    for n in range(6):
        files.update(offer_files(f"spam-offer-{n}", "draft"))
    world.commit(files)
    world.reconcile()
    assert world.rows() <= 3
    assert world.status("spam-offer-5")["phase"] == "Draft"


def test_a_manifest_padded_to_its_cap_is_not_kept(world: World) -> None:
    manifest = f"{FOLDER}/offer.yaml"
    text = offer_files(OFFER, "draft")[manifest].decode()
    padding = "x" * (600 * 1024)  # under the manifest's 1 MiB cap, in the stored spec
    world.commit({manifest: text.replace("spec:\n", f"spec:\n  pad: {padding}\n", 1).encode()})
    world.reconcile()
    assert world.status()["phase"] == "Invalid"  # `pad` is not in the schema
    with sqlite3.connect(world.cache) as db:
        sizes = [n for (n,) in db.execute("SELECT length(body) FROM verdicts")]
    assert all(n < len(padding) for n in sizes), sizes


@pytest.mark.parametrize("broken_on", ["pull-request", "branch"])
def test_a_pull_request_planned_in_the_controllers_clone_leaves_no_verdict_for_the_branch(
    world: World, broken_on: str
) -> None:
    # `plan --rev pr` shares the controller's store: the pull request's verdict for the
    # victim is written under the same offer id the branch's pass then looks up.
    if broken_on == "branch":
        world.commit({LOGO: b"not a png"})
        world.reconcile()
        assert world.status()["phase"] == "Invalid"
    git(world.repo, "checkout", "-q", "-b", "pr")
    world.commit({LOGO: b"not a png either"} if broken_on == "pull-request" else {LOGO: _png()})
    git(world.repo, "checkout", "-q", "main")
    code, out, err = offerctl("plan", "--repo", str(world.repo), "--rev", "pr")
    assert code == 0, out + err
    pr_logo = git(world.repo, "rev-parse", f"pr:{LOGO}").strip()
    assert pr_logo in world.body(), "plan stored the pull request's verdict"
    world.reconcile()
    assert world.status()["phase"] == ("Draft" if broken_on == "pull-request" else "Invalid")


def test_a_schema_file_in_the_repository_decides_nothing(world: World) -> None:
    # The offers repository's schemas/ is where editors look; validation uses the schemas
    # installed with offerctl, so a pull request cannot loosen them for itself.
    manifest = f"{FOLDER}/offer.yaml"
    text = offer_files(OFFER, "draft")[manifest].decode()
    world.commit(
        {
            "schemas/offer.schema.json": b"{}",
            "controller/schemas/offer.schema.json": b"{}",
            manifest: text.replace("spec:\n", "spec:\n  unknownField: 1\n", 1).encode(),
        }
    )
    world.reconcile()
    assert world.status()["phase"] == "Invalid"


def test_an_asset_renamed_only_in_letter_case_is_missing(world: World) -> None:
    # On a case-insensitive checkout the manifest would still find it; the commit does not.
    git(world.repo, "mv", LOGO, LOGO.replace("logo-48", "Logo-48"))
    git(world.repo, "commit", "-q", "-m", "Rename the logo")
    world.reconcile()
    assert world.status()["phase"] == "Invalid"
    assert "AssetMissing" in world.codes()
