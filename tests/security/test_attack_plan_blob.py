"""A pull request's giant status.yaml is not read into `offerctl plan`'s memory.

plan compares each offer's committed status.yaml with the one it would
write, and read the blob whole: 200 MB of zeros (a few hundred KB once git
compresses it) cost 200 MB of a CI runner's memory per offer. `history`
read every past version the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from git_helpers import GitRepos
from status_world import offer_files

pytestmark = pytest.mark.slow  # two commits of a 200 MB file

SIZE = 200 * 1024 * 1024


def _max_rss_mib(*argv: str) -> tuple[int, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERCTL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024  # KiB on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
@pytest.mark.parametrize("verb", ["plan", "history"])
def test_a_giant_status_file_is_not_read(gitrepos: GitRepos, verb: str) -> None:
    repo = gitrepos.init("ci-clone", offer_files("victim-offer", "draft"))
    gitrepos.run(repo, "checkout", "-q", "-b", "pr")
    status = repo / "offers" / "victim-offer" / "status.yaml"
    with status.open("wb") as fh:
        fh.truncate(SIZE)
    gitrepos.run(repo, "add", "--", str(status))
    gitrepos.run(repo, "commit", "-q", "-m", "Big status")
    status.unlink()
    argv = (
        ["plan", "--repo", str(repo)]
        if verb == "plan"
        else ["history", "--repo", str(repo), "victim-offer"]
    )
    code, rss = _max_rss_mib(*argv)
    assert code in (0, 1), code
    assert rss < SIZE / (1024 * 1024) * 0.6, f"{verb} peaked at {rss:.0f} MiB"
