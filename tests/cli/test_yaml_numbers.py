"""A YAML integer of 5,000 digits is a positioned error, never a crash (issue 11).

Python refuses to convert a decimal string longer than 4,300 digits; before
the loader bounded numbers, that ValueError escaped it and crashed validate,
whole reconcile passes and plan. Real CLI, real git repositories.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from cli_helpers import env, offerctl
from git_helpers import GitRepos, git

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
FAST = ("--time-scale", "1000000")
HUGE = "9" * 5000
BROKEN = "contoso-field-insights"
HEALTHY = "northwind-loyalty-hub"


def _repo(gitrepos: GitRepos) -> Path:
    repo = gitrepos.init("numbers-repo")
    for offer in (BROKEN, HEALTHY):
        shutil.copytree(EXAMPLES / offer, repo / "offers" / offer)
    manifest = repo / "offers" / BROKEN / "offer.yaml"
    text = manifest.read_text("utf-8")
    manifest.write_text(text.replace("    team: ", f"    size: {HUGE}\n    team: ", 1), "utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "offers")
    return repo


def _line_of_huge(repo: Path) -> int:
    lines = (repo / "offers" / BROKEN / "offer.yaml").read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if HUGE in line)


def test_validate_reports_the_number_at_its_line_and_checks_the_other_offers(
    gitrepos: GitRepos,
) -> None:
    repo = _repo(gitrepos)
    ran = offerctl("validate", "--repo", str(repo))
    assert ran.code == 1, ran.err
    line = _line_of_huge(repo)
    assert (
        f"offers/{BROKEN}/offer.yaml:{line}:11: error: a number of 5,000 characters is longer"
        " than the limit of 100; quote it if it is text (at $)"
    ) in ran.out
    assert "1 of 2 offers invalid" in ran.out
    assert "Traceback" not in ran.err


def test_reconcile_marks_the_offer_invalid_and_still_writes_the_others_status(
    gitrepos: GitRepos,
) -> None:
    repo = _repo(gitrepos)
    with env(OFFERCTL_MARKETPLACE=None, OFFERCTL_TIME_SCALE=None):
        ran = offerctl("reconcile", "--repo", str(repo), *FAST)
        planned = offerctl("plan", "--repo", str(repo), *FAST)
    assert "Traceback" not in ran.err + planned.err
    assert planned.code in (0, 1, 2), planned.err
    broken = yaml.safe_load((repo / "offers" / BROKEN / "status.yaml").read_text("utf-8"))
    healthy = yaml.safe_load((repo / "offers" / HEALTHY / "status.yaml").read_text("utf-8"))
    assert broken["phase"] == "Invalid"
    assert any(f["code"] == "NumberTooLong" for f in broken["feedback"])
    assert healthy["phase"] == "Draft"
