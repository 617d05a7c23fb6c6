"""A controller upgrade never reuses a verdict the old controller stored.

Verdicts are kept under the validator's identity (`reuse.validator_identity`).
It digested only `controller.validation`, three listed modules and the top-level
schemas, while validation's verdicts also come from `controller.files.source`
(which asset paths are refused, the package size cap), `controller.git.tree`
(what a tree entry is), `controller.core.model`, the Partner Center schemas and
the libraries that parse and check a manifest. An upgrade that changed any of
those kept the old identity, and every unchanged offer kept the verdict the old
code gave: an asset path the new code refuses would stay accepted until the
offer was edited.

Each case installs a copy of the package, changes one file of it (or gives
PyYAML another version), and asks a fresh interpreter for the identity.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import controller

PACKAGE = Path(controller.__file__).resolve().parent

# Prints the identity, then again after each named file of the installed copy is changed.
PROBE = """
import sys
from pathlib import Path
import controller
from controller.reconcile import reuse
here = Path(controller.__file__).resolve().parent
assert here == Path(sys.argv[1]).resolve(), here
print(reuse.validator_identity())
for name in sys.argv[2:]:
    path = Path(sys.argv[1], name)
    path.write_bytes(path.read_bytes() + b"\\n# upgraded\\n")
    reuse.validator_identity.cache_clear()
    print(reuse.validator_identity())
"""

# Files a verdict depends on, outside what the identity used to digest.
UPGRADED = [
    "files/source.py",  # is_safe_relative: which asset paths stay inside the offer
    "git/tree.py",  # GitTreeFiles: what a symlink or a submodule entry is
    "core/model.py",  # Finding and Severity, which every verdict is made of
    "repo/layout.py",  # the manifest's file name
    "schemas/partnercenter/AzureProduct.schema.json",
    "validation/engine.py",  # digested before too: the probe itself must see a change
]


def _identities(root: Path, *changed: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERCTL_")}
    env["PYTHONPATH"] = str(root)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(root / "controller"), *changed],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,  # not the checkout: `-c` puts the working directory first on sys.path
        check=True,
        timeout=60,
    ).stdout
    return out.split()


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(PACKAGE, root / "controller", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_change_to_any_file_validation_depends_on_changes_the_identity(installed: Path) -> None:
    before, *after = _identities(installed, *UPGRADED)
    assert len(after) == len(UPGRADED)
    for name, identity in zip(UPGRADED, after, strict=True):
        assert identity != before, f"an upgrade of {name} kept the validator's identity"
        before = identity


def test_another_yaml_loader_version_changes_the_identity(installed: Path) -> None:
    (before,) = _identities(installed)
    meta = installed / "PyYAML-99.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: PyYAML\nVersion: 99.0\n")
    (after,) = _identities(installed)
    assert after != before, "an upgraded YAML loader kept the validator's identity"
