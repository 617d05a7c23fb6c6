"""A forged committed status cannot make `offerctl plan` crash on a time.

In a clone that is not the controller's, plan reads the committed statuses
as the last observation, and any pull request can edit them. A stage that
"started" on 9999-12-31 overflowed the deadline plan computes from it: the
offer's plan failed with a traceback and plan exited 1.
"""

from __future__ import annotations

import shutil

import pytest
import yaml
from git_helpers import GitRepos
from status_world import offer_files, offerctl

STATUS = "offers/victim-offer/status.yaml"


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00"])
def test_plan_survives_a_status_at_the_ends_of_the_calendar(
    gitrepos: GitRepos, moment: str
) -> None:
    repo = gitrepos.init("ci-clone", offer_files("victim-offer", "live"))
    code, out, err = offerctl("reconcile", "--repo", str(repo), "--time-scale", "1000000")
    assert code == 0, out + err
    shutil.rmtree(repo / ".git" / "offerctl")  # a CI runner's clone: no controller state
    status = yaml.safe_load(gitrepos.show(repo, "HEAD", STATUS))
    status["stages"] = [{"name": "Validation", "state": "Running", "startedAt": moment}]
    gitrepos.run(repo, "checkout", "-q", "-b", "pr")
    gitrepos.commit(repo, {STATUS: yaml.safe_dump(status)}, "Hand edit")

    code, out, err = offerctl("plan", "--repo", str(repo))

    assert code == 0, out + err
    assert "Traceback" not in out + err
    assert "victim-offer" in out
