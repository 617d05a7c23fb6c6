"""Start-up of `offerctl validate`: a valid offer is checked without importing jsonschema.

jsonschema's import is about half of the command's start; it is loaded only to
explain an invalid document. The compiled predicate's format checks go through
`schemas.LazyFormats`, which must answer exactly as jsonschema's own
FORMAT_CHECKER does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from controller.validation import schemas

ROOT = Path(__file__).resolve().parents[1]
OFFER = ROOT / "offers" / "contoso-field-insights"
JSONSCHEMA_FAMILY = ("jsonschema", "referencing", "jsonschema_specifications", "rpds")


def _validate_in_fresh_interpreter(target: Path) -> tuple[int, str, list[str]]:
    script = (
        "import contextlib, io, json, sys\n"
        "from controller.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    code = main(['validate', {str(target)!r}])\n"
        "print(json.dumps([code, out.getvalue(), sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    code, out, modules = json.loads(done.stdout.splitlines()[-1])
    loaded = sorted(m for m in modules if m.split(".")[0] in JSONSCHEMA_FAMILY)
    return code, out, loaded


def test_a_valid_offer_is_validated_without_importing_jsonschema() -> None:
    code, out, loaded = _validate_in_fresh_interpreter(OFFER / "offer.yaml")
    assert (code, out.strip()) == (0, "1 offer valid")
    assert loaded == []


def test_an_invalid_offer_is_explained_with_jsonschema(tmp_path: Path) -> None:
    offer = tmp_path / "offers" / OFFER.name
    shutil.copytree(OFFER, offer)
    text = (offer / "offer.yaml").read_text(encoding="utf-8")
    (offer / "offer.yaml").write_text(text.replace("offers.marketplace/v1", "offers/v0", 1))
    code, out, loaded = _validate_in_fresh_interpreter(offer / "offer.yaml")
    assert code == 1
    assert "offer.yaml:5:" in out and "error:" in out and "$.apiVersion" in out
    assert "jsonschema" in loaded


def _formats(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("format"), str):
            yield node["format"]
        for value in node.values():
            yield from _formats(value)
    elif isinstance(node, list):
        for value in node:
            yield from _formats(value)


def test_every_format_the_shipped_schemas_use_is_answered_without_jsonschema() -> None:
    used = {name for file in schemas.names() for name in _formats(schemas.schema(file))}
    assert used, "the schemas use formats; this test guards their start-up cost"
    answered = {"email", "idn-email", "uri"}  # LazyFormats' own answers
    assert used <= answered, (
        f"format(s) {sorted(used - answered)} make offerctl import jsonschema at every "
        "validate: teach schemas.LazyFormats jsonschema's answer for them"
    )


def _unloaded() -> FormatChecker:
    raise AssertionError("LazyFormats loaded jsonschema for a format it answers itself")


@pytest.mark.parametrize("name", ["email", "idn-email", "uri"])
def test_lazy_formats_answer_as_jsonschema_does_without_loading_it(name: str) -> None:
    real = Draft202012Validator.FORMAT_CHECKER
    lazy = schemas.LazyFormats(_unloaded)
    assert (name in lazy.checkers) == (name in real.checkers)
    if name not in real.checkers:
        return
    for value in ["rita@contoso.com", "no-at-sign", "@", "", 3, None, ["a@b"]]:
        assert lazy.conforms(value, name) == real.conforms(value, name), (name, value)


@pytest.mark.parametrize("name", ["date", "ipv4", "regex", "hostname", "no-such-format"])
def test_lazy_formats_hand_other_formats_to_jsonschema(name: str) -> None:
    real = Draft202012Validator.FORMAT_CHECKER
    lazy = schemas.LazyFormats(lambda: real)
    assert (name in lazy.checkers) == (name in real.checkers)
    for value in ["2024-02-30", "2024-02-28", "10.0.0.1", "[", "example.com", 7]:
        if name in real.checkers:
            assert lazy.conforms(value, name) == real.conforms(value, name), (name, value)
