"""The install instructions users copy: the README, the pre-commit hook and the example workflow.

They must install offerctl the way a user does (pip or pipx, not editable, at
a pinned commit rather than a tag that does not exist), and the workflow must
pass a GitHub Actions workflow linter: check-jsonschema with the workflow
schema it vendors, which needs no network.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "github-actions" / "validate.yml"
SNIPPETS = (ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml", WORKFLOW)
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def _lint_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_example_workflow_passes_the_workflow_linter_and_a_broken_one_does_not(
    tmp_path: Path,
) -> None:
    good = _lint_workflow(WORKFLOW)
    assert good.returncode == 0, good.stdout + good.stderr

    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "run-on:"))
    failed = _lint_workflow(broken)
    assert failed.returncode == 1
    assert "run-on" in failed.stdout + failed.stderr


def test_snippets_pin_offerctl_by_commit_not_by_a_tag_that_does_not_exist() -> None:
    for path in SNIPPETS:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"offerctl@v\d|rev: v\d", text), f"{path.name} pins a tag"
        assert "<commit>" in text, f"{path.name} does not say to pin a commit"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "### Pinning offerctl" in readme
    assert "git ls-remote https://github.com/<org>/offerctl refs/heads/main" in readme


def test_example_workflow_installs_offerctl_as_a_user_does() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["validate"]["steps"]
    (install,) = [step for step in steps if step.get("name") == "Install offerctl"]
    assert install["run"] == (
        'python -m pip install "offerctl @ git+https://github.com/<org>/offerctl@${OFFERCTL_COMMIT}"'
    )
    assert install["env"]["OFFERCTL_COMMIT"] == "<commit>"
    names = [step.get("name") or step.get("uses") for step in steps]
    assert names.index("Install offerctl") < names.index("Validate offers")


def test_readme_tour_says_how_to_put_offerctl_on_path_before_its_first_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme[readme.index("## Five-minute tour") :]
    before_first_command = tour[: tour.index("```sh")]
    assert "`pipx install ./offerctl`" in before_first_command
    assert "`. offerctl/.venv/bin/activate`" in before_first_command


def test_readme_install_section_uses_pipx_or_pip_from_git() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme[readme.index("## Install") : readme.index("## Five-minute tour")]
    assert 'pipx install "git+https://github.com/<org>/offerctl@<commit>"' in install
    assert 'pip install "offerctl @ git+https://github.com/<org>/offerctl@<commit>"' in install
    assert "pip install -e" not in install
