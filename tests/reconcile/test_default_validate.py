"""`default_validate`: the validation engine's verdict on one offer folder, with its generation.

The generation is `generation` of the files' `file_digest`s: each file's SHA-256
comes from `core.digests` (each bytes object hashed once, the same bytes precheck
has just hashed), whichever objects the bytes come in, and a changed byte moves it.
A manifest's odd values are findings, never a crash.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from appsource_helpers import png
from example_offers import offer_files

from controller.core import digests
from controller.core.generation import file_digest, generation
from controller.reconcile.evaluate import default_validate
from controller.validation.files import WorktreeFiles

OFFER = "alpha-offer"


def _write(root: Path, files: dict[str, bytes]) -> WorktreeFiles:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return WorktreeFiles(root)


def _defined(files: dict[str, bytes]) -> str:
    spec = yaml.safe_load(files[f"offers/{OFFER}/offer.yaml"])["spec"]
    prefix = f"offers/{OFFER}/"
    assets = {
        name.removeprefix(prefix): file_digest(data)
        for name, data in files.items()
        if not name.endswith("offer.yaml")
    }
    return generation(spec, assets, offer=OFFER)


def test_the_generation_is_the_defined_one_and_follows_the_bytes(tmp_path: Path) -> None:
    files = offer_files(OFFER)
    check = default_validate(_write(tmp_path / "a", files), OFFER)
    assert check.findings == () and check.generation == _defined(files)
    assert default_validate(_write(tmp_path / "a", files), OFFER).generation == check.generation
    logo = next(name for name in files if name.endswith("logo-48.png"))
    changed = {**files, logo: png(48, 48) + b"\0"}  # still a 48x48 PNG; other bytes
    digests.sha256(files[logo])  # the old bytes' digest is kept: it must not answer
    again = default_validate(_write(tmp_path / "b", changed), OFFER)
    assert again.generation == _defined(changed) != check.generation


def test_a_target_that_is_not_text_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    files = offer_files(OFFER)
    manifest = f"offers/{OFFER}/offer.yaml"
    for n, odd in enumerate(["[preview]", "{live: true}"]):
        text = files[manifest].decode().replace("  target: preview", f"  target: {odd}", 1)
        check = default_validate(
            _write(tmp_path / str(n), {**files, manifest: text.encode()}), OFFER
        )
        assert check.target is None
        assert any(f.path == "$.spec.target" for f in check.findings), check.findings
