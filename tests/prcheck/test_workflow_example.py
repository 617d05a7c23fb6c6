"""The example workflow's pr-check job: the permissions it needs, the token handed over."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from controller.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[2] / "docs" / "github-actions" / "validate.yml"


def test_the_pr_check_job_may_post_checks_and_hands_over_its_token_by_name() -> None:
    job = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["pr-check"]
    assert job["permissions"] == {"contents": "read", "checks": "write", "statuses": "write"}
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"]["fetch-depth"] == 0  # the base branch must be there
    step = next(s for s in steps if "offerctl pr-check" in s.get("run", ""))
    assert step["env"]["OFFERCTL_GITHUB_TOKEN"] == "${{ github.token }}"
    assert step["env"]["OFFERCTL_GITHUB_API_URL"] == "${{ github.api_url }}"
    argv = shlex.split(step["run"])
    assert argv[:2] == ["offerctl", "pr-check"]
    build_parser().parse_args(argv[1:])  # every flag it passes exists
