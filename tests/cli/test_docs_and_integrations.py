"""The generated reference, the README and the integration files say what the code does."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import yaml

from controller.cli import build_parser
from controller.present.stages import STAGE_NAMES

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_reference", ROOT / "docs/tools/gen_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_reference", module)
    spec.loader.exec_module(module)
    return module


def test_committed_reference_equals_the_generated_one() -> None:
    committed = (ROOT / "docs/reference.md").read_text(encoding="utf-8")
    assert committed == _generator().render(), (
        "docs/reference.md is stale: run .venv/bin/python docs/tools/gen_reference.py"
    )


def test_reference_covers_every_command_and_every_publishing_field() -> None:
    page = (ROOT / "docs/reference.md").read_text(encoding="utf-8")
    for action in build_parser()._actions:
        for name in getattr(action, "choices", None) or ():
            assert f"### offerctl {name}\n" in page
    for field in (
        "controller.email",
        "signoff.requiredApprovals",
        "signoff.github.tokenEnv",
        "marketplace.timeScale",
        "holidays.country",
        "prune",
    ):
        assert f"| `{field}` |" in page


def test_readme_keeps_the_setup_commands_and_shows_modeline_tour_and_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^make (\w+)", readme, flags=re.MULTILINE)
    assert commands[:2] == ["demo", "test"]
    assert "# yaml-language-server: $schema=../../schemas/offer.schema.json" in readme
    assert "(docs/reference.md)" in readme
    for step in (
        "offerctl validate",
        "offerctl reconcile",
        "offerctl signoff",
        "offerctl status",
        "offerctl plan",
        "offerctl history",
    ):
        assert step in readme


def test_readme_stage_table_matches_the_stage_names_in_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for names in STAGE_NAMES:
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{names.stage}`"))
        assert names.partner_center in row
        assert names.cpp_step.strip("()") in row


def test_pre_commit_hook_runs_offerctl_validate_over_the_whole_repository() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["entry"] == "offerctl validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert re.search(hook["files"], "offers/contoso/media/logo.png")
    assert re.search(hook["files"], "publishing.yaml")
    assert not re.search(hook["files"], "README.md")
    assert "offerctl" in (ROOT / "pyproject.toml").read_text()  # the console script it calls


def test_example_workflow_validates_with_annotations_and_runs_plan() -> None:
    text = (ROOT / "docs/github-actions/validate.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    steps = workflow["jobs"]["validate"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "offerctl validate --format github" in runs
    assert "offerctl plan --detailed-exitcode" in runs
    validate_choices = _option_choices("validate", "--format")
    assert "github" in validate_choices


def _option_choices(command: str, option: str) -> list[str]:
    for action in build_parser()._actions:
        sub = (getattr(action, "choices", None) or {}).get(command)
        if sub is not None:
            for inner in sub._actions:
                if option in inner.option_strings:
                    return list(inner.choices or [])
    return []
