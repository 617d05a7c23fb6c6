"""offerctl installed the ways publishers install it, and used outside its own checkout.

The first test always runs: the schemas inside the package are the ones in the
repository's schemas/. The others build the wheel, install it into clean
virtual environments (with its dependencies from the package index) and run
the real `pre-commit try-repo` against .pre-commit-hooks.yaml. They need the
network and a minute or two, so they run from `make install-check` (which
.ci/run calls) and are skipped otherwise: set OFFERCTL_INSTALL_TESTS=1 to run
them by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from controller.core.errors import FatalError
from controller.validation import schemas

ROOT = Path(__file__).resolve().parents[1]
GOOD_OFFER = "contoso-field-insights"
# Read before the session fixtures point HOME at a temporary directory, so the
# installs below reuse the developer's (or CI's) pip cache instead of downloading again.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")

needs_install = pytest.mark.skipif(
    os.environ.get("OFFERCTL_INSTALL_TESTS") != "1",
    reason="builds and installs the wheel from the package index: run `make install-check`",
)


def test_packaged_schemas_are_the_repository_schemas() -> None:
    """controller/schemas/ (what the wheel ships) is a byte-for-byte copy of schemas/."""
    source = {p.name: p.read_bytes() for p in (ROOT / "schemas").glob("*.schema.json")}
    packaged = {
        p.name: p.read_bytes() for p in (ROOT / "controller" / "schemas").glob("*.schema.json")
    }
    assert "offer.schema.json" in source
    stale = sorted(n for n in source.keys() | packaged.keys() if source.get(n) != packaged.get(n))
    assert not stale, f"controller/schemas/ differs from schemas/ in {stale}: run `make schemas`"


def test_every_packaged_schema_is_valid_against_its_metaschema() -> None:
    """The check offerctl no longer runs at every start: a broken schema fails here instead."""
    names = schemas.names()
    assert {
        "offer.schema.json",
        "publishing.schema.json",
        "signoff.schema.json",
        "status.schema.json",
    } <= set(names)
    for name in names:
        document = schemas.schema(name)
        validator_for(document, default=Draft202012Validator).check_schema(document)


def test_a_schema_that_is_not_shipped_is_a_clear_error() -> None:
    with pytest.raises(FatalError, match=r"schema nosuch\.schema\.json is not installed"):
        schemas.schema("nosuch")


# ------------------------------------------------------------------ helpers


def _env(**extra: str) -> dict[str, str]:
    """The test's pinned environment, without this checkout's venv or source on any path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir)
    env["PIP_CACHE_DIR"] = PIP_CACHE
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def _run(
    argv: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        env=dict(env) if env is not None else _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(argv: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    done = _run(argv, cwd, env)
    assert done.returncode == 0, f"{argv[:3]} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _break(offer_yaml: Path) -> None:
    """Make an offer invalid the way a typo does: an apiVersion the schema does not know."""
    text = offer_yaml.read_text(encoding="utf-8")
    assert "apiVersion: offers.marketplace/v1\n" in text
    offer_yaml.write_text(text.replace("offers.marketplace/v1", "offers.marketplace/v0", 1))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel .` builds from this checkout, as pipx and pip from git build it."""
    out = tmp_path_factory.mktemp("dist")
    _ok([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)], out)
    (built,) = out.glob("offerctl-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A clean virtual environment with the wheel and its dependencies installed (not editable)."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home / "venv", with_pip=True, symlinks=True)
    bindir = home / "venv" / "bin"
    _ok([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)], home)
    yield bindir
    shutil.rmtree(home, ignore_errors=True)


# ------------------------------------------------------------------ the wheel


@needs_install
def test_wheel_ships_schemas_inside_the_package_and_nothing_at_top_level(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for schema in ("offer", "publishing", "signoff", "status"):
        assert f"controller/schemas/{schema}.schema.json" in names
    stray = [n for n in names if not n.startswith(("controller/", "offerctl-"))]
    assert not stray, f"files outside the package would land in site-packages: {stray}"


@needs_install
def test_installed_offerctl_validates_shipped_offers_from_an_unrelated_directory(
    installed: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _ok(
        [str(installed / "python"), "-c", "import controller; print(controller.__file__)"],
        elsewhere,
    )
    assert Path(where.strip()).is_relative_to(installed.parent), "imported the checkout"
    assert _ok([str(installed / "offerctl"), "--version"], elsewhere).startswith("offerctl ")
    out = _ok([str(installed / "offerctl"), "validate", str(ROOT / "offers")], elsewhere)
    assert "4 offers valid" in out


@needs_install
def test_installed_offerctl_reports_a_broken_offer_with_exit_1(
    installed: Path, tmp_path: Path
) -> None:
    offer = tmp_path / "offers" / GOOD_OFFER
    shutil.copytree(ROOT / "offers" / GOOD_OFFER, offer)
    _break(offer / "offer.yaml")
    done = _run([str(installed / "offerctl"), "validate", "--repo", str(tmp_path)], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"offers/{GOOD_OFFER}/offer.yaml:" in done.stdout
    assert "error:" in done.stdout
    assert "not found" not in done.stdout + done.stderr


# ------------------------------------------------------------------ pre-commit


def _git(repo: Path, *args: str) -> None:
    _ok(["git", *args], repo)


@pytest.fixture(scope="module")
def pre_commit() -> list[str]:
    """pre-commit from this project's dev tools, with its hook environments in a temp dir."""
    tool = Path(sys.executable).parent / "pre-commit"
    assert tool.is_file(), "pre-commit is a dev dependency: run `make setup`"
    return [str(tool)]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")  # shared: the hook env is built once


def _offers_repo(root: Path) -> Path:
    repo = root / "offers-repo"
    shutil.copytree(ROOT / "offers" / GOOD_OFFER, repo / "offers" / GOOD_OFFER)
    _git(repo.parent, "init", "-q", str(repo))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Add an offer")
    return repo


def _try_repo(pre_commit: list[str], home: Path, repo: Path) -> subprocess.CompletedProcess[str]:
    argv = [*pre_commit, "try-repo", str(ROOT), "offerctl-validate", "--all-files", "--color=never"]
    return _run(argv, repo, _env(PRE_COMMIT_HOME=str(home)), timeout=900)


@needs_install
def test_pre_commit_hook_passes_a_good_offer_and_fails_a_broken_one(
    pre_commit: list[str], pre_commit_home: Path, tmp_path: Path
) -> None:
    repo = _offers_repo(tmp_path)
    good = _try_repo(pre_commit, pre_commit_home, repo)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "offerctl validate" in good.stdout and "Passed" in good.stdout

    _break(repo / "offers" / GOOD_OFFER / "offer.yaml")
    _git(repo, "add", "-A")
    broken = _try_repo(pre_commit, pre_commit_home, repo)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Failed" in broken.stdout
    assert f"offers/{GOOD_OFFER}/offer.yaml:" in broken.stdout
    assert "schema offer.schema.json not found" not in broken.stdout
